"""Generic central differences and ``check_gradients``: functions with known gradients, the
measured error estimate against the true error, the tolerance table, bad calls."""

import numpy as np
import pytest
from gradref.checks.api import check_gradients
from gradref.checks.directional import FunctionObjective
from gradref.checks.finite_diff import Packer, central_differences, judge
from gradref.checks.tolerances import (
    FD_TOLERANCES,
    NOISE_DIRECTIONS,
    NOISE_POINTS,
    fd_tolerances,
)
from hypothesis import given
from hypothesis import strategies as st

A = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.5, -1.0, 4.0]])


def quad(x):
    return float(x @ A @ x)


def quad_grad(x):
    return (A + A.T) @ x


# --------------------------------------------------------------------------- known gradients
@pytest.mark.parametrize("order", [2, 4])
def test_quadratic_form_passes_and_estimate_is_honest(rng, order):
    x = rng.standard_normal(3)
    est = central_differences(quad, x, order=order)
    tol = fd_tolerances()
    v = judge(quad_grad(x), est, tol)
    assert not v.failed.any()
    # the estimate is accurate to a factor 2 (the tolerance is 8 times the estimate)
    assert np.all(np.abs(est.numeric - quad_grad(x)) <= 2 * est.error)
    assert est.evaluations == 1 + 2 * (2 if order == 2 else 3) * 3


@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.sampled_from([2, 4]))
def test_sum_of_sines_true_error_within_estimate(seed, n, order):
    """The error estimate tracks the true error: within a factor 2 (it is exact to leading
    order when truncation dominates), so the tolerance (8 x the estimate) is never exceeded."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-20, 20, size=n)
    est = central_differences(lambda t: float(np.sum(np.sin(t))), x, order=order)
    assert np.all(np.abs(est.numeric - np.cos(x)) <= 2 * est.error)
    assert not judge(np.cos(x), est, fd_tolerances()).failed.any()


@pytest.mark.parametrize("mode", ["full", "sampled", "directional"])
def test_one_element_off_by_1e4_is_caught(rng, mode):
    x = rng.standard_normal(3)
    wrong = quad_grad(x)
    wrong[1] *= 1.0 + 1e-4
    res = check_gradients(quad, lambda t: wrong, x, mode=mode, samples=3)
    assert not res.passed
    if mode == "directional":
        assert {loc.index for loc in res.localisations} == {(1,)}
    else:
        assert res.array("x", "fd").failed == 1
        assert res.array("x", "fd").worst[0].index == (1,)
    assert check_gradients(quad, quad_grad, x, mode=mode, samples=3).passed


def test_dict_of_arrays_and_precomputed_gradient(rng):
    x = {"a": rng.standard_normal((2, 3)), "b": rng.standard_normal(4)}

    def f(d):
        return float(np.sum(np.sin(d["a"])) + np.sum(d["b"] ** 3) + np.sum(d["a"]) * d["b"][0])

    def g(d):
        return {"a": np.cos(d["a"]) + d["b"][0],
                "b": 3 * d["b"] ** 2 + np.array([np.sum(d["a"]), 0, 0, 0])}

    assert check_gradients(f, g, x).passed
    assert check_gradients(f, g(x), x).passed          # already computed
    bad = g(x)
    bad["b"] = bad["b"][:3]
    res = check_gradients(f, bad, x)
    assert not res.passed and "shape (3,)" in res.array("b", "fd").problem


def test_float32_uses_its_own_table():
    x = np.linspace(-1, 1, 5).astype(np.float32)
    res = check_gradients(lambda t: np.sum(np.sin(t) * t), lambda t: np.sin(t) + t * np.cos(t), x)
    assert res.passed
    assert res.tolerances["eps"] == pytest.approx(float(np.finfo(np.float32).eps))
    assert res.tolerances["step"] > 1e-3  # eps32^(1/3)
    wrong = lambda t: (np.sin(t) + t * np.cos(t)) * np.array([1, 1, 1, 1.01, 1])  # noqa: E731
    assert not check_gradients(lambda t: np.sum(np.sin(t) * t), wrong, x).passed


def test_richardson_is_more_accurate_than_central_on_smooth_functions():
    x = np.array([0.7, 1.3, -2.1])
    f = lambda t: float(np.sum(np.exp(t) * np.sin(3 * t)))  # noqa: E731
    g = np.exp(x) * (np.sin(3 * x) + 3 * np.cos(3 * x))
    e2 = central_differences(f, x, order=2)
    e4 = central_differences(f, x, order=4)
    assert np.max(np.abs(e4.numeric - g)) < np.max(np.abs(e2.numeric - g))
    assert np.all(np.abs(e4.numeric - g) <= 2 * e4.error)


def test_steps_are_scaled_to_each_coordinate():
    x = np.array([0.0, 1e-3, 10.0, -1e4])
    est = central_differences(lambda t: float(np.sum(t ** 2)), x)
    s = fd_tolerances()["step"]
    # the step taken is the float difference (θ + h) − θ: h rounded to the ulp of θ, which is
    # eps/s ≈ 4e-11 of it
    assert est.step == pytest.approx(s * np.maximum(1, np.abs(x)), rel=1e-10, abs=0)
    assert np.all(np.abs(est.numeric - 2 * x) <= 2 * est.error)


def test_report_renders_as_text_and_json(rng):
    x = rng.standard_normal(3)
    res = check_gradients(quad, quad_grad, x)
    text = res.to_text()
    assert "PASSED" in text and "max abs err" in text and "sensitivity" in text
    d = res.to_dict()
    # 13 for the check, plus the noise measurement's table (8 new points along each direction)
    noise = NOISE_DIRECTIONS * (NOISE_POINTS - 1)
    assert d["passed"] and d["arrays"][0]["name"] == "x" and d["cost"]["evaluations"] == 13 + noise
    assert check_gradients(quad, quad_grad, x, noise=False).evaluations == 13


# --------------------------------------------------------------------------- the table
def test_tables_are_keyed_by_dtype_and_merge_overrides():
    assert set(FD_TOLERANCES) == {np.dtype(np.float64), np.dtype(np.float32),
                                  np.dtype(np.float16)}
    t = fd_tolerances(np.float64, {"safety": 20, "atol": 1e-12})
    assert t["safety"] == 20.0 and t["atol"] == 1e-12
    assert FD_TOLERANCES[np.dtype(np.float64)]["safety"] != 20.0  # the table is not modified
    assert t["eps"] == np.finfo(np.float64).eps


@pytest.mark.parametrize("dtype, overrides, error, match", [
    (np.float64, {"saftey": 2}, ValueError, "unknown tolerance name 'saftey'"),
    (np.float64, {"step": 0}, ValueError, "'step' must be a finite number > 0"),
    (np.float64, {"rtol": -1e-9}, ValueError, "'rtol' must be a finite number >= 0"),
    (np.float64, {"atol": float("nan")}, ValueError, "'atol'"),
    (np.float64, {"safety": "8"}, TypeError, "'safety' must be a number"),
    (np.float64, [("safety", 2)], TypeError, "tolerances must be a dict"),
    (np.int64, None, ValueError, "no tolerance table for dtype int64"),
    ("banana", None, TypeError, "dtype must be a NumPy floating dtype"),
], ids=["misspelt", "zero-step", "negative-rtol", "nan-atol", "string", "list", "int-dtype",
        "not-a-dtype"])
def test_bad_tolerance_overrides(dtype, overrides, error, match):
    with pytest.raises(error, match=match):
        fd_tolerances(dtype, overrides)


def _f(x):
    return float(np.sum(x ** 2))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(f=3, grad=None, x=np.ones(2)), TypeError, "f must be a callable"),
    (dict(f=_f, grad=None, x=np.ones(2), mode="exhaustive"), ValueError, "mode must be one of"),
    (dict(f=_f, grad=None, x=np.ones(2), order=3), ValueError, "order must be 2"),
    (dict(f=_f, grad=None, x=np.ones(2), seed=-1), ValueError, "seed must be a non-negative"),
    (dict(f=_f, grad=None, x=np.ones(2), samples=0), ValueError, "samples must be a positive"),
    (dict(f=_f, grad=None, x=np.ones(2), draws=1.5), ValueError, "draws must be a positive"),
    (dict(f=_f, grad=None, x=np.ones(2), direction_kind="uniform"), ValueError,
     "direction_kind must be one of"),
    (dict(f=_f, grad=None, x=np.array(["a"])), TypeError, r"x\['x'\] must be a real numeric"),
    (dict(f=_f, grad=None, x=np.array([1.0, np.inf])), ValueError, "non-finite"),
    (dict(f=lambda x: x, grad=None, x=np.ones(2)), TypeError, "f must return a real scalar"),
], ids=["f-not-callable", "mode", "order", "seed", "samples", "draws", "direction", "strings",
        "inf", "vector-valued"])
def test_bad_calls_to_check_gradients(kwargs, error, match):
    kwargs = dict(kwargs)
    if kwargs["grad"] is None:
        kwargs["grad"] = lambda x: 2 * x
    with pytest.raises(error, match=match):
        check_gradients(kwargs.pop("f"), kwargs.pop("grad"), kwargs.pop("x"), **kwargs)


def test_gradient_problems_are_reported_not_raised():
    x = np.ones(3)

    def boom(_):
        raise ZeroDivisionError("no")

    res = check_gradients(_f, boom, x)
    assert not res.passed and "grad raised ZeroDivisionError: no" in res.problems[0]
    res = check_gradients(_f, lambda t: np.array([2.0, np.nan, 2.0]), x)
    assert "non-finite" in res.array("x", "fd").problem
    res = check_gradients(_f, lambda t: "2x", x)
    assert not res.passed and "not a real numeric array" in res.array("x", "fd").problem


def test_packer_round_trip_and_locate():
    arrays = {"W1": np.arange(6.0).reshape(2, 3), "b1": np.array([[7.0], [8.0]])}
    p = Packer.of(arrays)
    flat = p.pack(arrays)
    assert flat.tolist() == [0, 1, 2, 3, 4, 5, 7, 8]
    assert p.locate(4) == ("W1", (1, 1)) and p.locate(7) == ("b1", (1, 0))
    assert all(np.array_equal(p.unpack(flat)[k], arrays[k]) for k in arrays)
    with pytest.raises(IndexError, match="outside"):
        p.locate(8)


@given(st.integers(0, 2**32 - 1), st.integers(2, 8), st.booleans(),
       st.sampled_from(["full", "directional"]))
def test_a_linear_function_at_its_root_is_no_false_alarm(seed, n, shifted, mode):
    """f(x) = w·x where it is 0, either at a point of its zero set or as w·x − w·x0 at x0:
    |f| ≈ 0 there while f sums terms of size 1. Before the rounding scale counted those terms,
    a right gradient failed about a third of the time in full mode and a fifth in directional
    mode; one wrong by 1e-3 must still fail."""
    rng = np.random.default_rng(seed)
    w, x = rng.standard_normal(n), rng.standard_normal(n)
    if shifted:
        c = float(w @ x)

        def f(t):
            return float(w @ t) - c
    else:
        x[-1] = -float(w[:-1] @ x[:-1]) / w[-1]

        def f(t):
            return float(w @ t)
    res = check_gradients(f, lambda t: w, x, mode=mode)
    assert res, res.to_text()
    off = w.copy()
    off[rng.integers(n)] *= 1 + 1e-3
    assert not check_gradients(f, off, x, mode=mode)


def test_the_directional_rounding_scale_is_never_set_by_a_wrong_gradient():
    """S = max(|f(θ)|, |Σ |θ_i| s_i g_i|), measured along |θ|⊙s with s the signs of the gradient
    under test: f = w·x has the terms −2, −2, 3 at x, so f(θ) = −1 and the right signs give
    Σ |θ_i g_i| = 7; any other signs give at most that."""
    w, x = np.array([1.0, -4.0, 1.0]), np.array([-2.0, 0.5, 3.0])
    eps = float(np.finfo(np.float64).eps)

    def f(t):
        return float(w @ t)

    right = FunctionObjective(f, x, eps, signs=np.sign(w))
    assert right.f0 == -1.0 and right.evaluations == 3
    assert right.noise == pytest.approx(eps * 7.0, rel=1e-9, abs=0)
    for signs, S in (([1.0, 1.0, 1.0], 3.0), ([-1.0, 1.0, -1.0], 7.0), ([0.0, 0.0, 0.0], 1.0)):
        other = FunctionObjective(f, x, eps, signs=np.array(signs))
        assert other.noise == pytest.approx(eps * S, rel=1e-9, abs=0), signs
    given = FunctionObjective(f, x, eps, f_scale=0.5, signs=np.sign(w))
    assert given.noise == eps * 0.5 and given.evaluations == 1
