"""Tolerance tables keyed by dtype, the ``eps``/``atol``/``rtol`` keywords, truthiness and
``raise_exception``: the checker as users of other gradient checkers call it."""

import math

import numpy as np
import pytest
from gradref.checks.api import check_gradients, check_network
from gradref.checks.result import GradientCheckError
from gradref.checks.tolerances import (
    COMPARISON_KEYS,
    FD_TOLERANCES,
    FUNCTION_KEYS,
    keyword_tolerances,
    least_precise,
    tolerances_for,
)
from gradref.reference import Network

DTYPES = [np.float64, np.float32, np.float16]


# --------------------------------------------------------------------------- the tables
def test_every_numpy_float_dtype_has_a_table_with_every_name():
    assert set(FD_TOLERANCES) == {np.dtype(d) for d in DTYPES}
    names = set(FUNCTION_KEYS) | set(COMPARISON_KEYS)
    for table in FD_TOLERANCES.values():
        assert set(table) == names


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
def test_steps_and_rounding_allowance_follow_the_dtypes_eps(dtype):
    eps = float(np.finfo(dtype).eps)
    t = tolerances_for(dtype)
    assert t["eps"] == eps
    assert t["step"] == pytest.approx(eps ** (1 / 3), rel=1e-12, abs=0)
    assert t["step_richardson"] == pytest.approx(eps ** (1 / 5), rel=1e-12, abs=0)
    assert t["rtol"] == pytest.approx(64 * eps, rel=1e-12, abs=0)


def test_lower_precision_never_gets_tighter_tolerances():
    t64, t32, t16 = (tolerances_for(d) for d in DTYPES)
    for name in ("step", "rtol", "autograd_rtol", "autograd_atol", "cost_rtol"):
        assert t64[name] < t32[name] < t16[name], name


def test_a_float32_gradient_of_a_float64_function_mixes_the_two_tables():
    t = tolerances_for(np.float32, function_dtype=np.float64)
    t64, t32 = tolerances_for(np.float64), tolerances_for(np.float32)
    assert all(t[k] == t64[k] for k in FUNCTION_KEYS) and t["eps"] == t64["eps"]
    assert all(t[k] == t32[k] for k in COMPARISON_KEYS)


def test_the_float32_autograd_tolerance_catches_an_error_of_one_in_a_thousand():
    # the requirement: a float32 gradient wrong by 1e-3 relative still fails
    assert tolerances_for(np.float32)["autograd_rtol"] < 1e-3 / 2


@pytest.mark.parametrize("values, expected", [
    ((), np.float64),
    ((np.zeros(2), np.zeros(2, np.float32)), np.float32),
    ((np.float16, np.zeros(1, np.float32)), np.float16),
    ((np.zeros(2, np.int64), [1.0, 2.0], 3.0, None), np.float64),
    ((np.float32(1.0),), np.float32),
    ((np.zeros(1, np.longdouble),), np.float64),
    ((np.dtype(np.complex64),), np.float64),
], ids=["none", "f64+f32", "f16", "ints-lists-scalars", "numpy-scalar", "longdouble",
        "complex"])
def test_least_precise(values, expected):
    assert least_precise(*values) == np.dtype(expected)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dtype=np.int32), ValueError, "no tolerance table for dtype int32"),
    (dict(dtype=np.float32, function_dtype="banana"), TypeError,
     "function_dtype must be a NumPy floating dtype"),
    (dict(function_dtype=np.complex128), ValueError, "no tolerance table for function_dtype"),
], ids=["int", "not-a-dtype", "complex"])
def test_bad_dtypes(kwargs, error, match):
    with pytest.raises(error, match=match):
        tolerances_for(**kwargs)


# --------------------------------------------------------------------------- keywords
def test_keywords_map_onto_the_model():
    assert keyword_tolerances() == {}
    assert keyword_tolerances(eps=1e-4, atol=1e-9, rtol=1e-3) == {
        "step": 1e-4, "step_richardson": 1e-4, "atol": 1e-9, "rtol": 1e-3,
        "autograd_rtol": 1e-3}


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(eps=0.0), ValueError, "eps must be a finite number > 0, got 0.0"),
    (dict(atol=-1.0), ValueError, "atol must be a finite number >= 0, got -1.0"),
    (dict(rtol=math.nan), ValueError, "rtol must be a finite number >= 0, got nan"),
    (dict(eps="1e-6"), TypeError, "eps must be a number, got '1e-6'"),
    (dict(atol=True), TypeError, "atol must be a number, got True"),
], ids=["zero-eps", "negative-atol", "nan-rtol", "string-eps", "bool-atol"])
def test_bad_keywords_name_the_keyword(kwargs, error, match):
    with pytest.raises(error, match=match):
        check_gradients(_sq, _sq_grad, np.ones(2), **kwargs)


def test_a_keyword_and_the_same_entry_in_tolerances_is_an_error():
    with pytest.raises(ValueError, match="both set atol"):
        check_gradients(_sq, _sq_grad, np.ones(2), tolerances={"atol": 1e-3}, atol=1e-2)


def _sq(x):
    return float(np.sum(np.sin(x) * x ** 2))


def _sq_grad(x):
    return np.cos(x) * x ** 2 + 2 * x * np.sin(x)


def test_eps_is_the_step():
    x = np.array([0.3, -2.0])
    res = check_gradients(_sq, _sq_grad, x, eps=1e-4)
    assert res.passed and res.tolerances["step"] == 1e-4
    assert res.array("x", "fd").step == pytest.approx(np.median(1e-4 * np.array([1.0, 2.0])))


def test_atol_loosens_and_never_tightens():
    x = np.array([0.3, -2.0, 1.1])
    delta = 1e-4
    wrong = lambda x: _sq_grad(x) + delta  # noqa: E731
    assert not check_gradients(_sq, wrong, x)
    assert check_gradients(_sq, wrong, x, atol=2 * delta)
    assert not check_gradients(_sq, wrong, x, atol=0.5 * delta)
    base = check_gradients(_sq, _sq_grad, x).array("x", "fd").max_tol
    looser = check_gradients(_sq, _sq_grad, x, atol=1e-3).array("x", "fd").max_tol
    assert looser == pytest.approx(base + 1e-3, rel=1e-9)


def test_rtol_is_a_relative_allowance():
    x = np.array([0.3, -2.0, 1.1])
    wrong = lambda x: _sq_grad(x) * (1 + 1e-4)  # noqa: E731
    assert not check_gradients(_sq, wrong, x)
    assert check_gradients(_sq, wrong, x, rtol=2e-4)
    assert not check_gradients(_sq, wrong, x, rtol=0.5e-4)


def test_rtol_and_atol_reach_the_autograd_comparison(rng):
    net = Network([3, 4, 2], "tanh,sigmoid", "bce")
    params = net.init_params(seed=rng)
    X, Y = rng.standard_normal((3, 5)), (rng.random((2, 5)) < 0.5) * 1.0

    def off(p, X, Y):
        g = net.gradients(p, X, Y)[1]
        return {k: v * (1 + 1e-6) for k, v in g.items() if k[1] in "Wb"}

    assert not check_network(off, net, params, X, Y, oracle="autograd", explain=False)
    assert check_network(off, net, params, X, Y, oracle="autograd", rtol=1e-5)
    scale = max(float(np.max(np.abs(v))) for v in net.gradients(params, X, Y)[1].values())
    assert check_network(off, net, params, X, Y, oracle="autograd", atol=1e-5 * scale)


# --------------------------------------------------------------------------- truthiness
def test_a_result_is_truthy_exactly_when_it_passed():
    x = np.array([0.3, -2.0])
    good = check_gradients(_sq, _sq_grad, x)
    bad = check_gradients(_sq, lambda x: 2 * _sq_grad(x), x)
    assert bool(good) is True and good.passed
    assert bool(bad) is False and not bad.passed
    with pytest.raises(AssertionError):
        assert check_gradients(_sq, lambda x: 2 * _sq_grad(x), x)


def test_raise_exception_raises_the_failing_part_of_the_report():
    x = np.array([0.3, -2.0])
    with pytest.raises(GradientCheckError) as info:
        check_gradients(_sq, lambda x: _sq_grad(x) * np.array([1.0, 2.0]), x,
                        raise_exception=True)
    msg = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert msg.startswith("gradient check FAILED")
    assert "x[1] vs fd" in msg and "x[0]" not in msg
    assert "sensitivity" not in msg and "cost:" not in msg
    assert not info.value.result.passed and info.value.result.failure_text() == msg
    assert check_gradients(_sq, _sq_grad, x, raise_exception=True).passed


def test_raise_exception_on_a_problem_and_in_check_network(rng):
    with pytest.raises(GradientCheckError, match="grad raised ZeroDivisionError"):
        check_gradients(_sq, lambda x: 1 / 0, np.ones(2), raise_exception=True)
    net = Network([3, 2, 1], "tanh,sigmoid", "bce")
    params = net.init_params(seed=rng)
    X, Y = rng.standard_normal((3, 4)), np.array([[0.0, 1.0, 1.0, 0.0]])
    with pytest.raises(GradientCheckError, match="dW1 is missing"):
        check_network(lambda p, X, Y: {"db1": 0}, net, params, X, Y, raise_exception=True,
                      explain=False)
    assert check_network(net, net, params, X, Y, raise_exception=True).passed


def test_a_non_finite_value_of_f_is_a_problem_not_a_crash():
    res = check_gradients(lambda x: math.inf if x[0] > 100 else float(np.sum(x)),
                          lambda x: np.ones(2), np.array([1e3, 0.0]))
    assert not res and "is not finite" in res.problems[0]


# --------------------------------------------------------------------------- float32
def _softplus_problem(rng, dtype):
    n = int(rng.integers(1, 30))
    A = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    x = (rng.standard_normal(n) * rng.choice([0.1, 1.0, 10.0])).astype(dtype)

    def f(x):
        return np.sum(np.logaddexp(0, A @ x + b)) + 0.5 * x @ x

    def grad32(x):
        A32, b32, x32 = A.astype(np.float32), b.astype(np.float32), x.astype(np.float32)
        z = A32 @ x32 + b32
        return A32.T @ (np.float32(0.5) * (1 + np.tanh(z / np.float32(2)))) + x32

    return f, grad32, x


def test_a_right_float32_gradient_passes_without_flags(rng):
    for _ in range(40):
        f, g, x = _softplus_problem(rng, np.float32)
        res = check_gradients(f, g, x)
        assert res.passed, res.to_text()
        assert res.dtypes == {"gradient": "float32", "function": "float32"}
        assert not res.notes and all(a.kinks == a.unverified == 0 for a in res.arrays)


def test_a_float32_gradient_of_a_float64_function_wrong_by_1e_3_fails(rng):
    for _ in range(40):
        f, g, x = _softplus_problem(rng, np.float64)
        right = check_gradients(f, g, x)
        assert right.passed, right.to_text()
        assert right.dtypes == {"gradient": "float32", "function": "float64"}
        assert not check_gradients(f, lambda x, g=g: g(x) * np.float32(1.001), x)


def _float32_backprop(factor):
    def grads(params, X, Y):
        p = {k: v.astype(np.float32) for k, v in params.items()}
        X, Y = X.astype(np.float32), Y.astype(np.float32)
        m = np.float32(X.shape[1])
        A1 = np.tanh(p["W1"] @ X + p["b1"])
        A2 = 1 / (1 + np.exp(-(p["W2"] @ A1 + p["b2"])))
        dZ2 = A2 - Y
        dZ1 = (p["W2"].T @ dZ2) * (1 - A1 ** 2)
        g = {"dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(1, keepdims=True) / m,
             "dW1": dZ1 @ X.T / m, "db1": dZ1.sum(1, keepdims=True) / m}
        return {k: v * np.float32(factor) for k, v in g.items()}
    return grads


@pytest.mark.parametrize("seed", range(4))
def test_check_network_judges_a_float32_implementation_by_the_float32_table(seed):
    rng = np.random.default_rng(seed)
    net = Network([5, 16, 1], "tanh,sigmoid", "bce")
    params = net.init_params(seed=seed)
    X, Y = rng.standard_normal((5, 40)), (rng.random((1, 40)) < 0.5) * 1.0
    right = check_network(_float32_backprop(1.0), net, params, X, Y, explain=False)
    assert right.passed, right.to_text()
    assert right.dtypes == {"gradient": "float32", "function": "float64"}
    assert right.tolerances["autograd_rtol"] == FD_TOLERANCES[np.dtype(np.float32)][
        "autograd_rtol"]
    wrong = check_network(_float32_backprop(1.001), net, params, X, Y, explain=False)
    assert not wrong.passed
    assert {a.oracle for a in wrong.failures} == {"fd", "autograd"}


def test_the_tables_hold_the_documented_values():
    """The values docs/checker.md and TOLERANCES_API promise (other modules rely on them)."""
    from gradref.checks import tolerances as t

    expected = {np.float64: (1e-10, 1e-12, 1e-10), np.float32: (1e-4, 1e-5, 1e-5),
                np.float16: (5e-2, 5e-3, 2e-2)}
    for dtype, (rtol, atol, cost) in expected.items():
        table = FD_TOLERANCES[np.dtype(dtype)]
        assert (table["autograd_rtol"], table["autograd_atol"], table["cost_rtol"]) == \
            (rtol, atol, cost)
        assert (table["safety"], table["rounding"], table["atol"]) == (8.0, 2.0, 0.0)
    assert (t.ELEMENTWISE_RTOL, t.ELEMENTWISE_ATOL) == (1e-12, 1e-15)
    assert (t.NETWORK_RTOL, t.NETWORK_ATOL) == (1e-10, 1e-14)
    assert t.KINK_JUMP_RATIO == 0.5


def test_zero_is_a_valid_atol_and_rtol():
    assert keyword_tolerances(atol=0, rtol=0.0) == {"atol": 0, "rtol": 0.0,
                                                    "autograd_rtol": 0.0}
    t = tolerances_for(np.float64, overrides={"atol": 0.0, "rtol": 0, "cost_rtol": 0.0})
    assert t["atol"] == 0.0 and t["rtol"] == 0.0
    assert check_gradients(_sq, _sq_grad, np.array([0.3, 1.0]), atol=0.0, rtol=0.0)
