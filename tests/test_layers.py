"""Dropout, batch and layer normalisation: every backward against autograd, and the adapters.

The oracle is :func:`gradref.checks.oracle.oracle_normalize` / ``oracle_dropout`` (the layers
restated by other means in autograd.numpy); gradients are autograd's vector-Jacobian products
for a random upstream gradient. Batch norm's backward must agree to NETWORK_RTOL = 1e-10
relative, also for tiny variances (far below ε) and large means (1e6 over a spread of 1e-3).
"""

from fractions import Fraction

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from gradref.checks.oracle import oracle_dropout, oracle_normalize
from gradref.checks.tolerances import NETWORK_ATOL, NETWORK_RTOL
from gradref.reference import dropout as drop
from gradref.reference import normalization as norm
from gradref.reference import rowmajor
from hypothesis import given, note
from hypothesis import strategies as st


def assert_close(name, actual, expected):
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    err = float(np.max(np.abs(actual - expected)))
    bound = NETWORK_RTOL * float(np.max(np.abs(expected))) + NETWORK_ATOL
    assert err <= bound, f"{name}: max abs error {err:.3g} > {bound:.3g}"


def oracle_vjp(fn, args, dout):
    """autograd's gradients of sum(fn(*args) * dout) with respect to every argument."""
    return autograd.grad(lambda t: anp.sum(fn(*t) * dout))(tuple(args))


@st.composite
def norm_cases(draw, max_n=6, max_m=12, min_m=1):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(min_m, max_m))
    seed = draw(st.integers(0, 2**32 - 1))
    centre = draw(st.sampled_from([0.0, 3.0, -1e3, 1e6]))
    spread = draw(st.sampled_from([1e-8, 1e-3, 1.0, 30.0]))
    eps = draw(st.sampled_from([1e-5, 1e-12, 0.1]))
    rng = np.random.default_rng(seed)
    Z = centre + spread * rng.standard_normal((n, m))
    gamma = rng.standard_normal((n, 1))
    beta = rng.standard_normal((n, 1))
    dout = rng.standard_normal((n, m))
    note(f"n={n} m={m} centre={centre} spread={spread} eps={eps}")
    return Z, gamma, beta, dout, eps


@given(norm_cases())
def test_batchnorm_train_backward_matches_autograd(case):
    """Train mode: dZ, dgamma, dbeta (and the output) against autograd, to 1e-10 relative."""
    Z, gamma, beta, dout, eps = case
    out, cache, _ = norm.batchnorm_forward(Z, gamma, beta, eps=eps)
    dZ, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    oZ, og, ob = oracle_vjp(lambda z, g, b: oracle_normalize(z, g, b, eps, 1), (Z, gamma, beta), dout)
    assert_close("out", out, oracle_normalize(Z, gamma, beta, eps, 1))
    assert_close("dZ", dZ, oZ)
    assert_close("dgamma", dgamma, og)
    assert_close("dbeta", dbeta, ob)


@given(norm_cases())
def test_batchnorm_test_mode_uses_running_statistics(case):
    """Test mode normalises by the running statistics, held constant in the backward."""
    Z, gamma, beta, dout, eps = case
    rng = np.random.default_rng(int(abs(Z[0, 0]) * 1e3) % 2**32)
    rm = rng.standard_normal((Z.shape[0], 1))
    rv = rng.random((Z.shape[0], 1)) + 0.01
    out, cache, running = norm.batchnorm_forward(Z, gamma, beta, mode="test", eps=eps,
                                                 running_mean=rm, running_var=rv)
    assert running[0] is rm and running[1] is rv
    dZ, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    fn = lambda z, g, b: oracle_normalize(z, g, b, eps, 1, stats=(rm, rv))  # noqa: E731
    oZ, og, ob = oracle_vjp(fn, (Z, gamma, beta), dout)
    assert_close("out", out, fn(Z, gamma, beta))
    assert_close("dZ", dZ, oZ)
    assert_close("dgamma", dgamma, og)
    assert_close("dbeta", dbeta, ob)


@given(norm_cases())
def test_layernorm_backward_matches_autograd(case):
    """Layer norm normalises each column over its features; backward against autograd."""
    Z, gamma, beta, dout, eps = case
    out, cache = norm.layernorm_forward(Z, gamma, beta, eps=eps)
    dZ, dgamma, dbeta = norm.layernorm_backward(dout, cache)
    oZ, og, ob = oracle_vjp(lambda z, g, b: oracle_normalize(z, g, b, eps, 0), (Z, gamma, beta), dout)
    assert_close("out", out, oracle_normalize(Z, gamma, beta, eps, 0))
    assert_close("dZ", dZ, oZ)
    assert_close("dgamma", dgamma, og)
    assert_close("dbeta", dbeta, ob)
    assert cache["mu"].shape == (1, Z.shape[1])


def test_batchnorm_statistics_and_running_update(rng):
    """Biased variance (np.var, ddof=0), the course's momentum update, ε inside the root."""
    Z = rng.standard_normal((3, 7)) * 2 + 5
    rm0, rv0 = rng.standard_normal((3, 1)), rng.random((3, 1))
    out, cache, (rm, rv) = norm.batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)),
                                                  momentum=0.8, eps=0.5,
                                                  running_mean=rm0, running_var=rv0)
    mean, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)
    np.testing.assert_allclose(cache["var"], var, rtol=1e-13)
    np.testing.assert_allclose(rm, 0.8 * rm0 + 0.2 * mean, rtol=1e-13)
    np.testing.assert_allclose(rv, 0.8 * rv0 + 0.2 * var, rtol=1e-13)
    np.testing.assert_allclose(out, (Z - mean) / np.sqrt(var + 0.5), rtol=1e-12)
    # defaults: running statistics start at zero; momentum 0.9
    _, _, (rm, rv) = norm.batchnorm_forward(Z, np.ones((3, 1)), np.zeros((3, 1)))
    np.testing.assert_allclose(rm, 0.1 * mean, rtol=1e-13)
    np.testing.assert_allclose(rv, 0.1 * var, rtol=1e-13)


def test_batchnorm_inputs_not_modified(rng):
    Z, g, b = rng.standard_normal((2, 5)), rng.standard_normal((2, 1)), rng.standard_normal((2, 1))
    rm, rv = np.zeros((2, 1)), np.ones((2, 1))
    copies = [a.copy() for a in (Z, g, b, rm, rv)]
    norm.batchnorm_forward(Z, g, b, running_mean=rm, running_var=rv)
    for a, c in zip((Z, g, b, rm, rv), copies, strict=True):
        np.testing.assert_array_equal(a, c)


def test_single_example_batch_is_handled_or_refused(rng):
    """m = 1: Z - mu = 0, so out = beta and dZ = dgamma = 0 (autograd agrees); min_batch=2
    refuses it."""
    Z, g, b = rng.standard_normal((4, 1)), rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
    out, cache, _ = norm.batchnorm_forward(Z, g, b)
    np.testing.assert_array_equal(out, b)
    dZ, dgamma, _ = norm.batchnorm_backward(np.ones((4, 1)), cache)
    assert not dZ.any() and not dgamma.any()
    with pytest.raises(ValueError, match=r"m = 1 .*min_batch = 2"):
        norm.batchnorm_forward(Z, g, b, min_batch=2)


def test_momentum_one_keeps_the_running_averages(rng):
    """momentum = 1 is allowed (the averages never move), as is 0 (the batch's own)."""
    Z = rng.standard_normal((2, 5))
    rm, rv = rng.standard_normal((2, 1)), rng.random((2, 1))
    ones, zeros = np.ones((2, 1)), np.zeros((2, 1))
    _, _, (rm1, rv1) = norm.batchnorm_forward(Z, ones, zeros, momentum=1.0, running_mean=rm,
                                              running_var=rv)
    np.testing.assert_array_equal(rm1, rm)
    np.testing.assert_array_equal(rv1, rv)
    _, cache, (rm0, _) = norm.batchnorm_forward(Z, ones, zeros, momentum=0, running_mean=rm)
    np.testing.assert_array_equal(rm0, cache["mu"])


def test_large_mean_keeps_the_spread(rng):
    """1e8 + 1e-3·u: Z - mu to the spread's rounding, against exact rational arithmetic."""
    Z = 1e8 + 1e-3 * rng.standard_normal((1, 7))
    _, cache, _ = norm.batchnorm_forward(Z, np.ones((1, 1)), np.zeros((1, 1)), eps=1e-12)
    values = [Fraction(float(z)) for z in Z.ravel()]
    mean = sum(values) / len(values)
    exact = np.array([float(v - mean) for v in values])
    centred = cache["Zhat"] * np.sqrt(cache["var"] + 1e-12)
    np.testing.assert_allclose(centred.ravel(), exact, rtol=1e-12, atol=1e-19)
    # the mean itself to one ulp of 1e8 (the first pass alone is off by several)
    assert abs(Fraction(float(cache["mu"][0, 0])) - mean) <= Fraction(np.spacing(1e8))


# ---------------------------------------------------------------------------- dropout
@given(st.integers(1, 5), st.integers(1, 9), st.sampled_from([0.2, 0.5, 0.8, 1.0]),
       st.integers(0, 2**32 - 1))
def test_dropout_backward_matches_autograd(n, m, p, seed):
    rng = np.random.default_rng(seed)
    A, dout = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    mask = rng.random((n, m)) < p
    out, cache = drop.dropout_forward(A, p, mask=mask.astype(int))
    assert_close("out", out, oracle_dropout(A, mask, p))
    (oA,) = oracle_vjp(lambda a: oracle_dropout(a, mask, p), (A,), dout)
    assert_close("dA", drop.dropout_backward(dout, cache), oA)


def test_dropout_mask_from_generator_is_reproducible():
    A = np.ones((40, 50))
    out1, c1 = drop.dropout_forward(A, 0.7, rng=np.random.default_rng(5))
    out2, c2 = drop.dropout_forward(A, 0.7, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(c1["mask"], c2["mask"])
    np.testing.assert_array_equal(c1["mask"], np.random.default_rng(5).random((40, 50)) < 0.7)
    kept = c1["mask"].mean()
    assert abs(kept - 0.7) < 5 * np.sqrt(0.7 * 0.3 / 2000)
    np.testing.assert_allclose(out1[c1["mask"]], 1 / 0.7)
    assert not out1[~c1["mask"]].any()


def test_dropout_test_mode_is_identity(rng):
    A = rng.standard_normal((3, 4))
    out, cache = drop.dropout_forward(A, 0.5, mode="test")
    np.testing.assert_array_equal(out, A)
    assert cache["mask"] is None
    d = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(drop.dropout_backward(d, cache), d)


# ---------------------------------------------------------------------------- row-major adapters
def test_rowmajor_batchnorm_is_the_transposed_core(rng):
    x = rng.standard_normal((6, 3)) * 4 - 2
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    bn_param = {"mode": "train", "momentum": 0.5}
    out, cache = rowmajor.batchnorm_forward(x, gamma, beta, bn_param)
    expect = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta
    np.testing.assert_allclose(out, expect, rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_mean"], 0.5 * x.mean(0), rtol=1e-13)
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * x.var(0), rtol=1e-13)
    dout = rng.standard_normal((6, 3))
    dx, dgamma, dbeta = rowmajor.batchnorm_backward(dout, cache)
    fn = lambda x_, g, b: oracle_normalize(x_.T, g.reshape(3, 1), b.reshape(3, 1), 1e-5, 1).T  # noqa: E731
    ox, og, ob = oracle_vjp(fn, (x, gamma, beta), dout)
    for name, a, o in (("dx", dx, ox), ("dgamma", dgamma, og), ("dbeta", dbeta, ob)):
        assert_close(name, a, o)
    assert rowmajor.batchnorm_backward_alt(dout, cache)[0].shape == (6, 3)
    bn_param["mode"] = "test"
    out, _ = rowmajor.batchnorm_forward(x, gamma, beta, bn_param)
    expect = gamma * (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + 1e-5) + beta
    np.testing.assert_allclose(out, expect, rtol=1e-12)


def test_rowmajor_layernorm(rng):
    x = rng.standard_normal((4, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    out, cache = rowmajor.layernorm_forward(x, gamma, beta, {"eps": 1e-3, "mode": "train"})
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    np.testing.assert_allclose(out, gamma * (x - mu) / np.sqrt(var + 1e-3) + beta, rtol=1e-12)
    dout = rng.standard_normal((4, 5))
    dx, dgamma, dbeta = rowmajor.layernorm_backward(dout, cache)
    fn = lambda x_, g, b: oracle_normalize(x_.T, g.reshape(5, 1), b.reshape(5, 1), 1e-3, 0).T  # noqa: E731
    ox, og, ob = oracle_vjp(fn, (x, gamma, beta), dout)
    for name, a, o in (("dx", dx, ox), ("dgamma", dgamma, og), ("dbeta", dbeta, ob)):
        assert_close(name, a, o)


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_rowmajor_dropout_seed_bounds_are_accepted(seed):
    _, (_, mask) = rowmajor.dropout_forward(np.ones((3, 4)), {"p": 0.5, "mode": "train",
                                                              "seed": seed})
    np.testing.assert_array_equal(mask, np.random.RandomState(seed).rand(3, 4) < 0.5)


def test_rowmajor_dropout_seed_follows_the_course_stream():
    """{'seed': s} reseeds every call, as np.random.seed(s); np.random.rand(N, D) < p does."""
    state = np.random.get_state()
    try:
        np.random.seed(123)
        expected = np.random.rand(30, 20) < 0.6
    finally:
        np.random.set_state(state)
    x = np.arange(600.0).reshape(30, 20)
    param = {"p": 0.6, "mode": "train", "seed": 123}
    out, (_, mask) = rowmajor.dropout_forward(x, param)
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_allclose(out, np.where(expected, x / 0.6, 0.0))
    np.testing.assert_array_equal(rowmajor.dropout_forward(x, param)[1][1], expected)
    dout = np.ones((30, 20))
    np.testing.assert_allclose(rowmajor.dropout_backward(dout, (param, mask)), expected / 0.6)
    out, cache = rowmajor.dropout_forward(x, {"p": 0.6, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(rowmajor.dropout_backward(dout, cache), dout)
    explicit = rowmajor.dropout_forward(x, {"p": 0.6, "mode": "train", "mask": expected})[1][1]
    np.testing.assert_array_equal(explicit, expected)
    drawn = rowmajor.dropout_forward(x, {"p": 0.6, "mode": "train",
                                         "rng": np.random.default_rng(1)})[1][1]
    np.testing.assert_array_equal(drawn, np.random.default_rng(1).random((30, 20)) < 0.6)


# ---------------------------------------------------------------------------- bad input
Z3 = np.ones((3, 4))
V3 = np.ones((3, 1))
X43 = np.ones((4, 3))
F3 = np.ones(3)
BAD = {
    "bn eps 0": (lambda: norm.batchnorm_forward(Z3, V3, V3, eps=0.0), ValueError, "eps", "0"),
    "bn eps nan": (lambda: norm.batchnorm_forward(Z3, V3, V3, eps=float("nan")), ValueError,
                   "eps", "nan"),
    "bn momentum 1.5": (lambda: norm.batchnorm_forward(Z3, V3, V3, momentum=1.5), ValueError,
                        "momentum", "1.5"),
    "bn mode": (lambda: norm.batchnorm_forward(Z3, V3, V3, mode="eval"), ValueError, "mode", "eval"),
    "bn gamma flat": (lambda: norm.batchnorm_forward(Z3, F3, V3), ValueError, "gamma", "(3,)"),
    "bn beta shape": (lambda: norm.batchnorm_forward(Z3, V3, np.ones((4, 1))), ValueError, "beta",
                      "(4, 1)"),
    "bn Z 1-D": (lambda: norm.batchnorm_forward(F3, V3, V3), ValueError, "Z", "(3,)"),
    "bn Z nan": (lambda: norm.batchnorm_forward(np.full((3, 4), np.nan), V3, V3), ValueError, "Z",
                 "nan"),
    "bn running_var<0": (lambda: norm.batchnorm_forward(Z3, V3, V3, running_var=-V3), ValueError,
                         "running_var", "-1.0"),
    "bn dout shape": (lambda: norm.batchnorm_backward(np.ones((3, 5)),
                                                      norm.batchnorm_forward(Z3, V3, V3)[1]),
                      ValueError, "dout", "(3, 5)"),
    "bn cache": (lambda: norm.batchnorm_backward(Z3, None), TypeError, "cache", "None"),
    "bn one running_var<0": (lambda: norm.batchnorm_forward(
        Z3, V3, V3, running_var=np.array([[1.0], [-0.5], [2.0]])), ValueError, "running_var",
        "-0.5"),
    "dropout cache no keep_prob": (lambda: drop.dropout_backward(Z3, {"mask": None}), TypeError,
                                   "cache", "'mask'"),
    "dropout cache no mask": (lambda: drop.dropout_backward(Z3, {"keep_prob": 0.5}), TypeError,
                              "cache", "'keep_prob'"),
    "dropout mask one 2": (lambda: drop.dropout_forward(
        Z3, 0.5, mask=np.array([[1, 0, 1, 1], [1, 3, 0, 2], [1, 1, 1, 1]])), ValueError,
        "mask", "3.0 at index (1, 1)"),
    "dropout mask empty": (lambda: drop.dropout_forward(Z3, 0.5, mask=[]), ValueError, "mask",
                           "has shape (0,)"),
    "ln gamma": (lambda: norm.layernorm_forward(Z3, np.ones((2, 1)), V3), ValueError, "gamma",
                 "(2, 1)"),
    "ln eps -1": (lambda: norm.layernorm_forward(Z3, V3, V3, eps=-1), ValueError, "eps", "-1"),
    "dropout p 0": (lambda: drop.dropout_forward(Z3, 0.0, mask=Z3), ValueError, "keep_prob", "0"),
    "dropout p 1.2": (lambda: drop.dropout_forward(Z3, 1.2, mask=Z3), ValueError, "keep_prob",
                      "1.2"),
    "dropout p str": (lambda: drop.dropout_forward(Z3, "0.5", mask=Z3), TypeError, "keep_prob",
                      "'0.5'"),
    "dropout no source": (lambda: drop.dropout_forward(Z3, 0.5), ValueError, "mask", "None"),
    "dropout both": (lambda: drop.dropout_forward(Z3, 0.5, mask=Z3, rng=np.random.default_rng()),
                     ValueError, "rng", "Generator"),
    "dropout mask 2": (lambda: drop.dropout_forward(Z3, 0.5, mask=2 * Z3), ValueError, "mask",
                       "2.0"),
    "dropout mask shape": (lambda: drop.dropout_forward(Z3, 0.5, mask=np.ones((4, 3))), ValueError,
                           "mask", "(4, 3)"),
    "dropout rng seed": (lambda: drop.dropout_forward(Z3, 0.5, rng=3), TypeError, "rng", "3"),
    "dropout test+mask": (lambda: drop.dropout_forward(Z3, 0.5, mask=Z3, mode="test"), ValueError,
                          "mask", "array"),
    "dropout dout shape": (lambda: drop.dropout_backward(np.ones((2, 2)),
                                                         drop.dropout_forward(Z3, 0.5, mask=Z3)[1]),
                           ValueError, "dout", "(2, 2)"),
    "rows bn_param mode missing": (lambda: rowmajor.batchnorm_forward(X43, F3, F3, {}), ValueError,
                                   "bn_param", "'mode'"),
    "rows bn_param typo": (lambda: rowmajor.batchnorm_forward(X43, F3, F3, {"mode": "train",
                                                                            "epsilon": 1}),
                           ValueError, "bn_param", "'epsilon'"),
    "rows bn_param mode": (lambda: rowmajor.batchnorm_forward(X43, F3, F3, {"mode": "Train"}),
                           ValueError, "bn_param['mode']", "'Train'"),
    "rows bn gamma column": (lambda: rowmajor.batchnorm_forward(X43, V3, F3, {"mode": "train"}),
                             ValueError, "gamma", "(3, 1)"),
    "rows bn running_mean": (lambda: rowmajor.batchnorm_forward(
        X43, F3, F3, {"mode": "test", "running_mean": np.ones(4)}), ValueError,
        "bn_param['running_mean']", "(4,)"),
    "rows ln_param list": (lambda: rowmajor.layernorm_forward(X43, F3, F3, []), TypeError,
                           "ln_param", "[]"),
    "rows dropout p": (lambda: rowmajor.dropout_forward(X43, {"p": 2, "mode": "train", "seed": 1}),
                       ValueError, "dropout_param['p']", "2"),
    "rows dropout no source": (lambda: rowmajor.dropout_forward(X43, {"p": 0.5, "mode": "train"}),
                               ValueError, "dropout_param", "none"),
    "rows dropout seed": (lambda: rowmajor.dropout_forward(X43, {"p": 0.5, "mode": "train",
                                                                 "seed": -1}),
                          ValueError, "dropout_param['seed']", "-1"),
    "rows dropout seed 2**32": (lambda: rowmajor.dropout_forward(
        X43, {"p": 0.5, "mode": "train", "seed": 2**32}), ValueError, "dropout_param['seed']",
        "4294967296"),
    "rows dropout_param typo": (lambda: rowmajor.dropout_forward(
        X43, {"p": 0.5, "mode": "train", "seed": 1, "keep_prob": 0.5}), ValueError,
        "dropout_param", "'keep_prob'"),
    "rows dropout mask": (lambda: rowmajor.dropout_forward(X43, {"p": 0.5, "mode": "train",
                                                                 "mask": Z3}),
                          ValueError, "dropout_param['mask']", "(3, 4)"),
    "rows dropout cache": (lambda: rowmajor.dropout_backward(X43, None), TypeError, "cache", "None"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_input_names_argument_and_value(case):
    call, exc, name, value = case
    with pytest.raises(exc) as info:
        call()
    text = str(info.value)
    assert name in text and value in text, text
