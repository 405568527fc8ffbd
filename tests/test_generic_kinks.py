"""Kinks in any function: ``check_gradients`` finds them from the one-sided differences alone,
accepts subgradients inside the one-sided slopes, fails values outside them, and never calls a
smooth function with large curvature kinked."""

import numpy as np
import pytest
from gradref.checks.api import check_gradients
from gradref.checks.finite_diff import central_differences
from gradref.checks.kinks import one_sided_jumps
from gradref.checks.tolerances import fd_tolerances
from hypothesis import given, note
from hypothesis import strategies as st

TOL = fd_tolerances()
W = np.array([1.0, -2.0, 0.5, 3.0])
X0 = np.array([0.0, 1.3, 0.0, -0.7])       # exact zeros at 0 and 2


def relu_sum(x):
    return float(np.sum(W * np.maximum(x, 0.0)))


def relu_sum_grad(conv):
    """The gradient with relu'(0) = ``conv``."""
    return lambda x: W * np.where(x > 0, 1.0, np.where(x == 0, conv, 0.0))


# --------------------------------------------------------------------------- the case
@pytest.mark.parametrize("conv", [0.0, 1.0, 0.25])
def test_relu_sum_with_exact_zeros_passes_with_the_kink_reported(conv):
    res = check_gradients(relu_sum, relu_sum_grad(conv), X0)
    assert res.passed, res.to_text()
    chk = res.array("x", "fd")
    assert chk.kinks == 2 and chk.failed == 0
    assert any("2 element(s) of x are at a kink" in n for n in res.notes)


@pytest.mark.parametrize("conv", [2.0, -0.5])
def test_a_subgradient_outside_the_one_sided_slopes_fails(conv):
    res = check_gradients(relu_sum, relu_sum_grad(conv), X0)
    assert not res
    chk = res.array("x", "fd")
    assert chk.failed == 2
    text = res.to_text()
    assert "x[0] vs fd (at a kink)" in text and "outside the one-sided interval [0, 1]" in text
    assert "x[2] vs fd (at a kink)" in text and "[0, 0.5]" in text


def test_the_interval_is_the_two_one_sided_slopes():
    est = central_differences(relu_sum, X0)
    assert est.kink.tolist() == [True, False, True, False]
    assert est.lower[0] == pytest.approx(0.0, abs=1e-9)
    assert est.upper[0] == pytest.approx(1.0, rel=1e-9)
    assert est.lower[2] == pytest.approx(0.0, abs=1e-9)
    assert est.upper[2] == pytest.approx(0.5, rel=1e-9)
    assert np.isnan(est.lower[1]) and est.numeric[1] == pytest.approx(-2.0, rel=1e-9)
    # the h/4 step is taken only for the two kink elements: 1 + 4*4 + 2*2
    assert est.evaluations == 21


def test_without_detection_the_same_check_fails():
    """What the checker did before: a central difference mixes the slopes."""
    est = central_differences(relu_sum, X0, detect_kinks=False)
    assert not est.kink.any()
    assert est.numeric[0] == pytest.approx(0.5)


# --------------------------------------------------------------------------- other kinks
def _abs_sum(x):
    return float(np.sum(np.abs(x)))


@pytest.mark.parametrize("sub, ok", [(0.0, True), (1.0, True), (-1.0, True), (0.3, True),
                                     (1.5, False), (-1.2, False)])
def test_abs_at_zero(sub, ok):
    x = np.array([0.0, 2.0])
    res = check_gradients(_abs_sum, lambda x: np.where(x == 0, sub, np.sign(x)), x)
    assert res.passed is ok, res.to_text()
    assert res.array("x", "fd").kinks == (1 if ok else 0)


@pytest.mark.parametrize("offset, kink", [(1e-12, True), (1e-9, True), (1e-3, False),
                                          (-1e-9, True), (-0.5, False)])
def test_near_a_kink_the_true_slope_passes_and_a_wrong_one_fails(offset, kink):
    """Close to the kink (within a fraction of the step) the element is judged by its
    one-sided slopes [-1, 1]; far from it by the ordinary central difference. Either way the
    true derivative passes and a value outside the slopes fails; inside them, only far from
    the kink is a wrong value caught."""
    x = np.array([offset])
    est = central_differences(_abs_sum, x)
    assert bool(est.kink[0]) is kink
    assert check_gradients(_abs_sum, np.sign, x), "the true derivative"
    assert not check_gradients(_abs_sum, lambda x: np.sign(x) * 1.5, x)
    assert not check_gradients(_abs_sum, lambda x: np.sign(x) + 3.0, x)
    assert bool(check_gradients(_abs_sum, lambda x: np.sign(x) * 0.5, x)) is kink


C = np.array([0.5, 2.25, -1.75])       # kinks away from zero, exactly representable
S = np.array([[0.5, 2.0], [-1.0, 1.0], [3.0, 0.0]])   # slopes left and right of each kink


def piecewise(x):
    """A piecewise-linear function with one kink per coordinate, at C (not at 0)."""
    return float(np.sum(np.where(x < C, S[:, 0] * (x - C), S[:, 1] * (x - C))))


def piecewise_grad(at_kink):
    return lambda x: np.where(x < C, S[:, 0], np.where(x > C, S[:, 1], at_kink))


def test_piecewise_linear_with_kinks_away_from_zero():
    x = C.copy()
    est = central_differences(piecewise, x)
    assert est.kink.all()
    assert est.lower == pytest.approx(S.min(axis=1), abs=1e-9)
    assert est.upper == pytest.approx(S.max(axis=1), abs=1e-9)
    assert check_gradients(piecewise, piecewise_grad(S[:, 0]), x)     # left slopes
    assert check_gradients(piecewise, piecewise_grad(S[:, 1]), x)     # right slopes
    assert check_gradients(piecewise, piecewise_grad(S.mean(axis=1)), x)
    res = check_gradients(piecewise, piecewise_grad(S.max(axis=1) + 0.1), x)
    assert not res and res.array("x", "fd").failed == 3
    # near the kinks (inside a fraction of the step) and far from them
    for dx in (1e-10, -1e-10, 0.1, -0.1):
        assert check_gradients(piecewise, piecewise_grad(np.nan), x + dx)
        assert not check_gradients(piecewise, lambda x: piecewise_grad(np.nan)(x) + 0.05, x + dx)


def _maxpool(x):
    """Max over windows of two: ties give a kink in both arguments."""
    return float(np.sum(np.max(x.reshape(-1, 2), axis=1)))


def _maxpool_grad(x):
    w = x.reshape(-1, 2)
    out = np.zeros_like(w)
    out[np.arange(len(w)), np.argmax(w, axis=1)] = 1.0   # the first maximum, as frameworks do
    return out.ravel()


def test_max_pooling_with_ties():
    x = np.array([1.0, 1.0, 0.5, -2.0, 3.0, 3.0])
    res = check_gradients(_maxpool, _maxpool_grad, x)
    assert res.passed, res.to_text()
    assert res.array("x", "fd").kinks == 4
    # routing the gradient to both tied inputs is outside the slopes of neither, but 1 + 1
    # for one input is
    res = check_gradients(_maxpool, lambda x: _maxpool_grad(x) * 2, x)
    assert not res and res.array("x", "fd").failed == 3


def test_hinge_loss_at_the_margin():
    X = np.array([[1.0, 2.0], [0.0, 1.0], [2.0, -1.0], [1.0, 1.0]])
    y = np.array([1.0, -1.0, 1.0, 1.0])
    w = np.array([1.0, 0.0])                 # margins y * (X w): 1, 0, 2, 1 (two exactly 1)

    def loss(w):
        return float(np.mean(np.maximum(0.0, 1.0 - y * (X @ w))))

    def grad(w, at_margin=0.0):
        active = np.where(1.0 - y * (X @ w) > 0, 1.0, 0.0)
        active[1.0 - y * (X @ w) == 0] = at_margin
        return -(active * y) @ X / len(y)

    for conv in (0.0, 1.0):
        res = check_gradients(loss, lambda w, c=conv: grad(w, c), w)
        assert res.passed, res.to_text()
        assert res.array("x", "fd").kinks >= 1
    assert not check_gradients(loss, lambda w: grad(w, 3.0), w)


# --------------------------------------------------------------------------- modes
def test_sampled_mode_judges_kinks_the_same_way():
    x = np.zeros(40)
    x[1::2] = np.linspace(-1, 1, 20)
    w = np.linspace(0.5, 2.0, 40)
    f = lambda x: float(np.sum(w * np.maximum(x, 0)))  # noqa: E731
    right = check_gradients(f, lambda x: w * (x > 0), x, mode="sampled", samples=20)
    assert right.passed and right.array("x", "fd").kinks > 0
    wrong = check_gradients(f, lambda x: w * (x >= 0) * 1.5, x, mode="sampled", samples=20)
    assert not wrong


def test_directional_mode_localises_to_a_kink_and_judges_it_there():
    right = check_gradients(relu_sum, relu_sum_grad(0.0), X0, mode="directional", draws=6)
    assert right.passed, right.to_text()
    assert all(d.kink for d in right.draws)
    wrong = check_gradients(relu_sum, relu_sum_grad(2.0), X0, mode="directional", draws=6)
    assert not wrong
    loc = wrong.localisations[0]
    assert loc.failed and loc.index in ((0,), (2,)) and loc.interval is not None
    assert "at a kink, one-sided slopes [0, " in wrong.to_text()


def test_directional_draw_across_opposite_kinks_is_settled_by_the_element():
    """f = relu(t) - relu(-t) = t along x = (t, t): smooth, yet relu'(0) = 0 gives 0 for both
    coordinates. No one-sided interval along v bounds that convention; bisection lands on an
    element whose own check accepts it, so the draw is unverified, not failed."""
    f = lambda x: float(np.maximum(x[0], 0) - np.maximum(-x[1], 0))  # noqa: E731
    g = lambda x: np.array([float(x[0] > 0), float(x[1] < 0)])  # noqa: E731
    res = check_gradients(f, g, np.zeros(2), mode="directional", draws=8, seed=3)
    assert res.passed, res.to_text()
    assert any(d.unverified for d in res.draws) or all(not d.failed for d in res.draws)


# --------------------------------------------------------------------------- no false alarms
@st.composite
def smooth_functions(draw):
    """Sums of sines of frequency up to 1e3 (curvature up to 1e6), exponentials, quartics
    and a quadratic form, at points up to 10 in size (k * h <= 0.06: resolved by the step)."""
    n = draw(st.integers(1, 4))
    floats = lambda lo, hi: st.floats(lo, hi, allow_nan=False)  # noqa: E731
    k = np.array(draw(st.lists(floats(-1e3, 1e3), min_size=n, max_size=n)))
    ph = np.array(draw(st.lists(floats(0, 6.3), min_size=n, max_size=n)))
    c = np.array(draw(st.lists(floats(-5, 5), min_size=n, max_size=n)))
    d = draw(floats(-1e4, 1e4))
    q = draw(floats(-10, 10))
    x = np.array(draw(st.lists(st.one_of(st.just(0.0), floats(-10, 10)), min_size=n,
                               max_size=n)))

    def f(x):
        return float(np.sum(np.sin(k * x + ph)) + np.sum(np.exp(c * x)) / 1e3
                     + d * np.sum(x ** 4) + q * np.sum(x) ** 2)

    def grad(x):
        return k * np.cos(k * x + ph) + c * np.exp(c * x) / 1e3 + 4 * d * x ** 3 \
            + 2 * q * np.sum(x)

    # the size of the terms f adds up (they may cancel: f(0) can be ~0 with terms ~1), which
    # sets the rounding of f; |f(x)| alone would underestimate it
    scale = float(np.sum(np.abs(np.sin(k * x + ph))) + np.sum(np.exp(c * x)) / 1e3
                  + abs(d) * np.sum(x ** 4) + abs(q) * np.sum(x) ** 2)
    return f, grad, x, scale, (k, ph, c, d, q)


@given(smooth_functions())
def test_smooth_functions_with_large_curvature_are_not_kinks(case):
    f, grad, x, scale, coefficients = case
    note(repr((x, coefficients)))
    est = central_differences(f, x)
    assert not est.kink.any(), (est.kink, est.step)
    res = check_gradients(f, grad, x, f_scale=scale)
    assert res.passed, res.to_text()


def test_one_sided_jumps_on_hand_made_differences():
    h = np.array([[1e-3], [5e-4]])
    # a kink of size 1: right slope 1, left slope 0
    assert one_sided_jumps(h * 1.0, h * 0.0, h, h, np.array([1e-13]), 8.0).tolist() == [True]
    # curvature 1: f = t^2/2, gaps h and h/2
    assert one_sided_jumps(h ** 2 / 2, -(h ** 2) / 2 + 0.0, h, h, np.array([1e-13]),
                           8.0).tolist() == [False]
    # a kink of size 1e-10 drowned in rounding 1e-11 (20 * 8 * 1e-11 > 1e-10)
    assert one_sided_jumps(h * 1e-10, h * 0.0, h, h, np.array([1e-11]), 8.0).tolist() == [False]
