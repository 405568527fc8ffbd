"""The network-aware elementwise finite differences.

Two independent oracles: the naive per-parameter loop (a full forward pass from the input for
every perturbed copy) must give the same numbers, and autograd's gradients must lie within the
finite differences' own tolerances — on random architectures, on integer data that puts
pre-activations exactly on the kinks, and on saturated units (|Z| of tens)."""

import numpy as np
import pytest
from gradref.checks.finite_diff import judge
from gradref.checks.network_fd import NetworkFD, naive_elementwise
from gradref.checks.oracle import oracle_gradients
from gradref.checks.strategies import architectures, make_targets, network_cases
from gradref.checks.tolerances import fd_tolerances
from gradref.reference import Network
from hypothesis import given, note
from hypothesis import strategies as st

TOL = fd_tolerances()


def integer_case(net: Network, seed: int):
    """Integer inputs, weights in {-1, 0, 1}, zero biases: many Z exactly 0."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 6))
    params = {}
    for k, shape in net.param_shapes().items():
        params[k] = (rng.integers(-1, 2, size=shape).astype(float) if k[0] == "W"
                     else np.zeros(shape))
    X = rng.integers(-2, 3, size=(net.layer_sizes[0], m)).astype(float)
    return params, X, make_targets(net, m, rng)


def keys(net: Network):
    return ([*net.param_shapes()] + [f"Z{l}" for l in range(1, net.L + 1)]
            + [f"A{l}" for l in range(net.L)])


def assert_autograd_within_tolerance(net, params, X, Y):
    fd = NetworkFD(net, params, X, Y)
    with np.errstate(all="ignore"):
        expected = oracle_gradients(net, params, X, Y)
    for key in keys(net):
        est = fd.parameter(key) if key in params else fd.intermediate(key)
        o = expected[f"d{key}"].ravel()[est.index]
        finite = np.isfinite(o)
        v = judge(o, est, TOL)
        bad = v.failed & finite
        assert not bad.any(), (f"{key}: autograd outside the finite-difference tolerance at "
                               f"{np.flatnonzero(bad)}: err {v.err[bad]}, tol {v.tol[bad]}")


@given(network_cases(max_depth=4, max_width=6, max_batch=6))
def test_autograd_lies_within_the_tolerance_on_random_networks(case):
    net, params, X, Y = case
    note(repr(net))
    assert_autograd_within_tolerance(net, params, X, Y)


@given(architectures(max_depth=4, max_width=5), st.integers(0, 2**32 - 1))
def test_autograd_lies_within_the_tolerance_on_integer_data(net, seed):
    note(repr(net))
    assert_autograd_within_tolerance(net, *integer_case(net, seed))


@given(network_cases(max_depth=3, max_width=5, max_batch=5, scale=15.0))
def test_autograd_lies_within_the_tolerance_with_saturated_units(case):
    net, params, X, Y = case
    note(repr(net))
    assert_autograd_within_tolerance(net, params, X, Y)


def test_saturated_units_really_saturate():
    net = Network([3, 4, 2], "sigmoid,softmax", "cross_entropy")
    rng = np.random.default_rng(3)
    params = {k: 15 * v for k, v in net.init_params("xavier", seed=rng).items()}
    X = rng.standard_normal((3, 5)) * 2
    _, cache = net.forward(params, X)
    assert np.max(np.abs(cache["Z1"])) > 20
    assert_autograd_within_tolerance(net, params, X, np.eye(2)[:, [0, 1, 0, 1, 1]])


# --------------------------------------------------------------------------- fast == naive
@given(architectures(max_depth=3, max_width=4, l2=(0.0, 0.5)), st.integers(0, 2**32 - 1),
       st.booleans(), st.sampled_from([1, 64, 2 ** 16]))
def test_fast_mode_equals_the_naive_loop(net, seed, integer, chunk):
    """Same steps, same estimate: the numbers agree to rounding (~1e-10 relative), and so do
    the kink intervals, whatever the chunk size.

    The kink flags agree too, except for a unit that sits within rounding distance of a kink
    (Z = 1e-17 where exact arithmetic gives 0): the two computations round differently and
    may disagree about whether a perturbation that moves it by less than the rounding crosses.
    The estimates must then still agree, which bounds that effect."""
    note(repr(net))
    if integer:
        params, X, Y = integer_case(net, seed)
    else:
        rng = np.random.default_rng(seed)
        m = int(rng.integers(1, 5))
        params = net.init_params("xavier", seed=rng)
        X = rng.standard_normal((net.layer_sizes[0], m))
        Y = make_targets(net, m, rng)
    fast = NetworkFD(net, params, X, Y, chunk_elements=chunk)
    naive = naive_elementwise(net, params, X, Y)
    _, cache = net._forward(params, X)
    fuzzy = any(np.any((np.abs(cache[f"Z{l}"]) < 1e-12) & (cache[f"Z{l}"] != 0))
                for l in range(1, net.L + 1) if net.activations[l - 1].kinks)
    for key in params:
        f, n = fast.parameter(key), naive[key]
        bound = np.maximum(f.error, n.error)
        both = f.kink & n.kink
        smooth = ~f.kink & ~n.kink
        assert np.all(np.abs(f.numeric - n.numeric) <= bound)
        # the naive loop differences whole costs: its rounding is eps |J| / h ~ 4e-11 |J|
        scale = np.maximum(max(1.0, abs(fast.J0)), np.abs(n.numeric[smooth]))
        assert np.all(np.abs(f.numeric - n.numeric)[smooth] <= 1e-9 * scale)
        assert np.all(np.abs(f.lower[both] - n.lower[both]) <= bound[both])
        assert np.all(np.abs(f.upper[both] - n.upper[both]) <= bound[both])
        if not fuzzy:
            assert np.array_equal(f.kink, n.kink)
            assert np.array_equal(f.unverified, n.unverified)
            assert f.evaluations == n.evaluations


def test_fourth_order_and_subsets(rng):
    net = Network([3, 4, 2], "tanh,sigmoid", "bce", l2=0.2)
    params = net.init_params("xavier", seed=1)
    X = rng.standard_normal((3, 4))
    Y = (rng.random((2, 4)) < 0.5).astype(float)
    expected = oracle_gradients(net, params, X, Y)
    fd4 = NetworkFD(net, params, X, Y, order=4)
    est = fd4.parameter("W1", [0, 5, 11])
    assert est.index.tolist() == [0, 5, 11] and est.evaluations == 3 * 6
    assert np.all(np.abs(est.numeric - expected["dW1"].ravel()[[0, 5, 11]]) <= 2 * est.error)
    naive = naive_elementwise(net, params, X, Y, names=["W1"], order=4,
                              indices={"W1": [0, 5, 11]})["W1"]
    assert np.allclose(est.numeric, naive.numeric, rtol=1e-9, atol=1e-12)


def test_intermediates_are_per_example(rng):
    net = Network([2, 3, 1], "relu,sigmoid", "bce")
    params = net.init_params("he", seed=2)
    X = rng.standard_normal((2, 7))
    Y = (rng.random((1, 7)) < 0.5).astype(float)
    fd = NetworkFD(net, params, X, Y)
    _, grads = net.gradients(params, X, Y)
    for key in ("Z1", "Z2", "A0", "A1"):
        est = fd.intermediate(key)
        assert not judge(grads[f"d{key}"].ravel(), est, TOL).failed.any()
    # dW = (1/m) dZ A_prev^T: the per-example dZ2 is m times the gradient of J
    assert np.allclose(fd.parameter("b2").numeric * 7, fd.intermediate("Z2").numeric.sum(),
                       rtol=1e-7)


def test_counters_and_steps(rng):
    net = Network([3, 2, 1], "tanh,linear", "square")
    params = net.init_params(seed=0)
    fd = NetworkFD(net, params, rng.standard_normal((3, 2)), rng.standard_normal((1, 2)))
    est = fd.parameter("W1")
    assert est.evaluations == 4 * 6 and fd.evaluations == 24
    w = params["W1"].ravel()
    assert est.step == pytest.approx(TOL["step"] * np.maximum(1, np.abs(w)), rel=1e-9, abs=0)


@pytest.mark.parametrize("call, error, match", [
    (lambda fd: fd.parameter("W9"), ValueError, "name must be one of W1, b1, W2, b2"),
    (lambda fd: fd.parameter("W1", [0, 6]), ValueError, r"must lie in \[0, 6\)"),
    (lambda fd: fd.parameter("W1", [-1, 2]), ValueError, r"must lie in \[0, 6\), got min -1"),
    (lambda fd: fd.parameter("W1", [[0]]), ValueError, "1-D sequence of flat integer"),
    (lambda fd: fd.intermediate("A2"), ValueError, "name must be one of Z1, Z2, A0, A1"),
], ids=["unknown-array", "out-of-range", "negative", "2-D-indices", "A_L-is-not-an-intermediate"])
def test_bad_calls(call, error, match):
    net = Network([3, 2, 1], "tanh,linear", "square")
    fd = NetworkFD(net, net.init_params(seed=0), np.ones((3, 2)), np.ones((1, 2)))
    with pytest.raises(error, match=match):
        call(fd)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(net="net"), TypeError, "net must be a reference Network"),
    (dict(order=3), ValueError, "order must be 2"),
    (dict(chunk_elements=0), ValueError, "chunk_elements must be a positive int"),
    (dict(X=np.ones((2, 2))), ValueError, r"X has shape \(2, 2\), expected \(3, m\)"),
], ids=["net", "order", "chunk", "X-shape"])
def test_bad_construction(kwargs, error, match):
    net = Network([3, 2, 1], "tanh,linear", "square")
    args = dict(net=net, params=net.init_params(seed=0), X=np.ones((3, 2)), Y=np.ones((1, 2)))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        NetworkFD(args.pop("net"), args.pop("params"), args.pop("X"), args.pop("Y"), **args)


def test_blas_threads_are_limited_and_restored():
    from gradref.checks.network_fd import _openblas_threads_api, blas_threads
    api = _openblas_threads_api()
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    if api is None:
        # only a NumPy built on another BLAS may leave it unfound
        assert "openblas" not in str(blas.get("name", "")).lower(), blas
        pytest.skip(f"NumPy's BLAS is {blas.get('name')!r}, not an OpenBLAS")
    get, put = api
    before = get()
    put(2)                 # a count that differs from the limit, whatever the machine's
    try:
        with blas_threads(1):
            assert get() == 1
        assert get() == 2
        with blas_threads(None):
            assert get() == 2
    finally:
        put(before)
    with pytest.raises(ValueError, match="threads must be a positive int or None"):
        NetworkFD(Network([2, 1], "linear", "square"), {"W1": np.ones((1, 2)),
                                                         "b1": np.zeros((1, 1))},
                  np.ones((2, 1)), np.ones((1, 1)), threads=0)


def test_rounding_allowance_covers_every_layer(rng):
    """GELU far left computes 0.5 z (1 + tanh u) with tanh u ~ -1: it loses eps|z| in a hidden
    layer, which the loss alone does not show; the allowance carries every layer's rounding
    by its sensitivity, from autograd or measured by finite differences."""
    net = Network([1, 1, 1], "gelu,tanh", "square")
    params = {"W1": np.array([[30.61378682]]), "b1": np.array([[0.04180988]]),
              "W2": np.array([[-38.33497547]]), "b2": np.array([[-0.05677696]])}
    X = np.array([[-0.45264929, -0.21559716]])
    Y = np.array([[0.4691543, -0.77265596]])
    loss_only = NetworkFD(net, params, X, Y, gains=None)
    oracle = NetworkFD(net, params, X, Y)
    measured = NetworkFD(net, params, X, Y, gains="measured")
    assert np.all(oracle.example_noise > 10 * loss_only.example_noise)
    assert np.allclose(measured.example_noise, oracle.example_noise, rtol=1e-3)
    assert_autograd_within_tolerance(net, params, X, Y)   # failed with the loss term only
    with pytest.raises(ValueError, match="gains must be 'autograd', 'measured'"):
        NetworkFD(net, params, X, Y, gains="backprop")
