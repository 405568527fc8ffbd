"""The documented tolerance model, term by term, on functions whose finite differences are
known in closed form (steps that are powers of two, polynomials): the error estimates and
tolerances equal the formulas of checks/tolerances.py and checks/kinks.py, not merely something
that happens to pass."""

import numpy as np
import pytest
from gradref.checks.api import check_gradients
from gradref.checks.finite_diff import central_differences, judge
from gradref.checks.tolerances import fd_tolerances

EPS = float(np.finfo(np.float64).eps)


def test_second_order_truncation_estimate_is_four_thirds_of_the_difference():
    """f = x^3 at 1: D(h) = 3 + h^2, so 4/3 |D(h) - D(h/2)| = h^2."""
    h = 2.0 ** -10
    tol = fd_tolerances(overrides={"step": h})
    est = central_differences(lambda t: float(t[0] ** 3), np.array([1.0]), tolerances=tol)
    rounding = 2.0 * EPS * 1.0 / h
    assert est.numeric[0] == pytest.approx(3 + h ** 2, rel=1e-12, abs=0)
    assert est.error[0] == pytest.approx(h ** 2 + rounding, rel=1e-6, abs=0)
    assert est.step[0] == h


def test_fourth_order_estimate_and_its_error():
    """f = x^5 at 1: D(h) = 5 + 10h^2 + h^4, R(h) = 5 - h^4/4, 16/15 |R(h) - R(h/2)| = h^4/4."""
    h = 2.0 ** -4
    tol = fd_tolerances(overrides={"step_richardson": h})
    est = central_differences(lambda t: float(t[0] ** 5), np.array([1.0]), order=4,
                              tolerances=tol)
    rounding = 2.0 * EPS * 1.0 / h
    assert est.numeric[0] == pytest.approx(5 - h ** 4 / 4, rel=1e-12, abs=0)
    assert est.error[0] == pytest.approx(h ** 4 / 4 + 3 * rounding, rel=1e-6, abs=0)


def test_rounding_term_and_the_tolerance():
    """f = x with f_scale S: no truncation at all; error = 2 eps S / h and
    tol = 8 error + 64 eps max(|g|, G) + atol."""
    h = 2.0 ** -10
    S = 1e6
    tol = fd_tolerances(overrides={"step": h, "atol": 0.25})
    x = np.array([1.0, 0.5])
    est = central_differences(lambda t: float(t[0] + 3 * t[1]), x, tolerances=tol, f_scale=S)
    assert est.numeric.tolist() == [1.0, 3.0]
    assert est.error == pytest.approx([2 * EPS * S / h] * 2, rel=1e-12, abs=0)
    v = judge(np.array([1.0, 3.0]), est, tol)
    expected = 8 * 2 * EPS * S / h + 64 * EPS * 3.0 + 0.25
    assert v.tol == pytest.approx([expected, expected], rel=1e-12, abs=0)
    assert not v.failed.any()
    w = judge(np.array([1.0 + 1.01 * expected, 3.0 - 0.99 * expected]), est, tol)
    assert w.failed.tolist() == [True, False]
    assert w.err == pytest.approx([1.01 * expected, 0.99 * expected], rel=1e-9, abs=0)


@pytest.mark.parametrize("c,S", [(0.0, 1.0), (1.0, 2.0), (-1.0, 2.0)])
def test_without_f_scale_the_rounding_scale_is_the_largest_value_f_took(c, S):
    """f = t + c·h at 0 (exact in floats; θ·D = 0): f takes c·h, c·h ± h and c·h ± h/2, so the
    rounding scale is S·h = max(|f(θ)|, max |f(θ ± h_s)|), and error = 2 eps S h / h."""
    h = 2.0 ** -10
    tol = fd_tolerances(overrides={"step": h})
    est = central_differences(lambda t: float(t[0] + c * h), np.array([0.0]), tolerances=tol)
    assert est.numeric[0] == 1.0 and not est.kink[0]
    assert est.error[0] == pytest.approx(2 * EPS * S, rel=1e-12, abs=0)


def test_at_a_root_the_rounding_scale_is_the_sum_of_the_linear_terms():
    """f = t_0 − 3 t_1 at (3, 1): f(θ) = 0, but f sums the terms 3 and −3; without f_scale
    S = Σ |θ_i D_i| = 3·1 + 1·3 = 6, so error = 2 eps 6 / h (steps 3h and h)."""
    h = 2.0 ** -10
    tol = fd_tolerances(overrides={"step": h})
    est = central_differences(lambda t: float(t[0] - 3.0 * t[1]), np.array([3.0, 1.0]),
                              tolerances=tol)
    assert est.numeric.tolist() == [1.0, -3.0] and not est.kink.any()
    assert est.error == pytest.approx([2 * EPS * 6 / (3 * h), 2 * EPS * 6 / h], rel=1e-12, abs=0)
    given = central_differences(lambda t: float(t[0] - 3.0 * t[1]), np.array([3.0, 1.0]),
                                tolerances=tol, f_scale=0.5)
    assert given.error == pytest.approx([2 * EPS * 0.5 / (3 * h), 2 * EPS * 0.5 / h], rel=1e-12,
                                        abs=0)


def test_a_function_of_tiny_scale_is_checked_at_its_own_scale():
    """f = 1e-12 Σ sin(x): its rounding is ~1e-28, so a gradient 1% off is caught."""
    x = np.array([0.3, -1.2, 0.7])

    def f(t):
        return 1e-12 * float(np.sum(np.sin(t)))

    assert check_gradients(f, lambda t: 1e-12 * np.cos(t), x)
    wrong = check_gradients(f, lambda t: 1.01e-12 * np.cos(t), x)
    assert not wrong and wrong.array("x", "fd").failed == 3


def test_steps_are_relative_above_one():
    tol = fd_tolerances(overrides={"step": 2.0 ** -10})
    est = central_differences(lambda t: float(np.sum(t ** 2)), np.array([0.5, -8.0, 4.0]),
                              tolerances=tol)
    assert est.step.tolist() == [2.0 ** -10, 8 * 2.0 ** -10, 4 * 2.0 ** -10]
    assert est.evaluations == 1 + 4 * 3


def test_kink_interval_and_its_allowance():
    """relu-like sum at exact zeros, powers-of-two steps: the one-sided slopes are exact, the
    interval is [0, w], its error 20 x the rounding of a central difference."""
    h = 2.0 ** -10
    S = 1e3
    tol = fd_tolerances(overrides={"step": h})
    w = np.array([1.0, 0.5, -2.0])
    f = lambda t: float(np.sum(w * np.maximum(t, 0.0)))  # noqa: E731
    est = central_differences(f, np.zeros(3), tolerances=tol, f_scale=S)
    assert est.kink.all()
    assert est.lower.tolist() == [0.0, 0.0, -2.0]
    assert est.upper.tolist() == [1.0, 0.5, 0.0]
    assert est.numeric.tolist() == [0.5, 0.25, -1.0]
    rounding = 2 * EPS * S / h
    assert est.error == pytest.approx([20 * rounding] * 3, rel=1e-12, abs=0)
    a = np.array([1.0, 0.0, -2.0])
    v = judge(a, est, tol)
    allowance = 8 * 20 * rounding + 64 * EPS * 2.0
    assert v.tol == pytest.approx([allowance] * 3, rel=1e-12, abs=0)
    assert not v.failed.any() and v.kink_accepted.all()
    outside = judge(a + np.array([1.5 * allowance, -1.5 * allowance, 0.5 * allowance]), est, tol)
    assert outside.failed.tolist() == [True, True, False]
    assert outside.err[0] == pytest.approx(1.5 * allowance, rel=1e-9, abs=0)


def test_curved_sides_are_extrapolated():
    """f = relu(t) - c t^2: the raw one-sided slopes (1 - c h, c h, ...) exclude both true
    one-sided derivatives 0 and 1; the extrapolated slopes 2 D(h/2) - D(h) recover them."""
    c = 50.0
    f = lambda t: float(np.maximum(t[0], 0.0) - c * t[0] ** 2)  # noqa: E731
    x = np.zeros(1)
    est = central_differences(f, x)
    assert est.kink[0]
    assert est.lower[0] <= 0.0 and est.upper[0] >= 1.0
    assert est.lower[0] > -1e-6 and est.upper[0] < 1 + 1e-6
    assert est.numeric[0] == 0.5 * (est.lower[0] + est.upper[0])     # the interval's middle
    for sub in (0.0, 1.0, 0.5):
        assert check_gradients(f, lambda t, s=sub: np.array([s]), x), sub
    for wrong in (1.01, -0.01):
        assert not check_gradients(f, lambda t, s=wrong: np.array([s]), x), wrong


def test_a_smooth_point_whose_gap_shrinks_like_a_kink_is_explained_by_its_truncation():
    """f = x^4 - a x^2 near its inflection, with f'' = -0.15 f'''' h^2: the one-sided gap
    does not halve with h (as at a kink), but f''' is large there and the central
    difference's measured truncation accounts for the jump: no kink. (A step of 2^-6 makes
    the effect larger than rounding.)"""
    h = 2.0 ** -6
    tol = fd_tolerances(overrides={"step": h})
    x0 = 1.0
    a = 6 * x0 ** 2 + 0.15 * 12 * h ** 2      # f''(x0) = 12 x0^2 - 2a = -0.15 * 24 h^2
    f = lambda t: float(t[0] ** 4 - a * t[0] ** 2)  # noqa: E731
    est = central_differences(f, np.array([x0]), tolerances=tol)
    right = (f([x0 + h]) - f([x0])) / h, (f([x0 + h / 2]) - f([x0])) / (h / 2)
    left = (f([x0]) - f([x0 - h])) / h, (f([x0]) - f([x0 - h / 2])) / (h / 2)
    gap = right[0] - left[0], right[1] - left[1]
    assert gap[1] / gap[0] > 0.75               # kink-like by the ratio alone
    assert not est.kink[0]
    assert check_gradients(f, lambda t: np.array([4 * t[0] ** 3 - 2 * a * t[0]]),
                           np.array([x0]), eps=h)


def _jumps(gap_or_curve, h=2.0 ** -10, rounding=0.0, safety=8.0):
    """one_sided_jumps on differences built from one-sided slopes given per level."""
    from gradref.checks.kinks import one_sided_jumps

    hs = np.array([[h], [h / 2]])
    plus, minus = gap_or_curve(hs)
    return bool(one_sided_jumps(plus, minus, hs, hs, np.array([rounding]), safety)[0])


@pytest.mark.parametrize("factor, kink", [(0.9, True), (1.1, False)])
def test_kink_threshold_against_the_measured_truncation(factor, kink):
    """f = J relu(t) + c t^3 at 0: gap J at every step, jump J, 4/3 |D(h) - D(h/2)| = c h^2;
    a kink exactly when J > 8 c h^2."""
    J, h = 1.0, 2.0 ** -10
    c = factor * J / (8 * h ** 2)
    assert _jumps(lambda hs: (J * hs + c * hs ** 3, c * hs ** 3), h) is kink
    # the same jump downwards (a concave kink) is found the same way
    assert _jumps(lambda hs: (-J * hs + c * hs ** 3, c * hs ** 3), h) is kink


@pytest.mark.parametrize("factor, kink", [(0.9, True), (1.1, False)])
def test_kink_threshold_against_rounding(factor, kink):
    """A jump J is a kink exactly when J > 8 * 20 * r (r: the rounding of a central
    difference)."""
    J = 1.0
    r = factor * J / (8 * 20)
    assert _jumps(lambda hs: (J * hs, 0 * hs), rounding=r) is kink


@pytest.mark.parametrize("ratio, kink", [(0.76, True), (0.75, False), (0.74, False),
                                         (0.5, False), (1.0, True), (-0.2, False)])
def test_kink_needs_a_gap_that_does_not_shrink_like_curvature(ratio, kink):
    """Δ(h/2) = ratio Δ(h): kink iff 2 Δ(h/2) - Δ(h) > Δ(h)/2, i.e. ratio > 3/4 (a small
    safety factor so that the truncation does not decide)."""
    def sides(hs):
        gaps = np.array([[1.0], [ratio]])
        return gaps * hs, 0 * hs
    assert _jumps(sides, safety=0.01) is kink
    assert _jumps(lambda hs: (-sides(hs)[0], 0 * hs), safety=0.01) is kink


def test_a_gap_that_appears_only_at_the_half_step_is_no_kink():
    """Δ(h) = 0, Δ(h/2) = 1: no gap at h means no jump of the derivative at the point."""
    assert _jumps(lambda hs: (np.array([[0.0], [1.0]]) * hs, 0 * hs), safety=0.01) is False


def test_estimate_containers_and_argument_checks():
    from gradref.checks.finite_diff import Estimate, Packer, levels, magnitude

    e = Estimate.empty()
    assert e.index.size == e.numeric.size == e.kink.size == 0
    assert (e.evaluations, e.seconds, e.order) == (0, 0.0, 2)
    assert Estimate.empty(order=4).order == 4
    c = Estimate.concatenate([])
    assert c.index.size == 0 and c.order == 2
    one = central_differences(lambda t: float(np.sum(t ** 2)), np.ones(2), order=4)
    both = Estimate.concatenate([one, one])
    assert both.order == 4 and both.evaluations == 2 * one.evaluations
    assert both.index.tolist() == [0, 1, 0, 1]
    assert Estimate.concatenate([one]).order == 4
    assert Packer.of({}).pack({}).size == 0
    assert levels(2) == 2 and levels(4) == 3
    with pytest.raises(ValueError, match="order must be 2 .* got 3"):
        levels(3)
    with pytest.raises(ValueError, match=r"theta must be a flat vector, got shape \(2, 2\)"):
        central_differences(lambda t: 0.0, np.zeros((2, 2)))
    assert magnitude(np.array([0.25, -0.5, np.nan])) == 0.5
    assert magnitude(np.array([np.inf])) == 0.0 and magnitude(np.zeros(0)) == 0.0
    assert 0.0 <= one.seconds < 60.0


def test_non_finite_analytic_values_always_fail():
    est = central_differences(lambda t: float(t[0]), np.ones(1))
    v = judge(np.array([np.inf]), est, fd_tolerances())
    assert v.failed[0]
    assert judge(np.array([np.nan]), est, fd_tolerances()).failed[0]


def test_small_gradients_get_a_small_allowance():
    """rtol max(|g_i|, G) with G the array's largest |g|, not at least 1."""
    h = 2.0 ** -10
    tol = fd_tolerances(overrides={"step": h})
    est = central_differences(lambda t: float(1e-3 * t[0]), np.ones(1), tolerances=tol,
                              f_scale=0.0)
    v = judge(np.array([1e-3]), est, tol)
    assert v.tol[0] == pytest.approx(8 * est.error[0] + 64 * EPS * 1e-3, rel=1e-12, abs=0)


def test_fourth_order_rounding_and_kink_cost():
    h = 2.0 ** -4
    tol = fd_tolerances(overrides={"step_richardson": h})
    S = 1e9
    est = central_differences(lambda t: float(t[0] ** 5), np.array([1.0]), order=4,
                              tolerances=tol, f_scale=S)
    assert est.error[0] == pytest.approx(h ** 4 / 4 + 3 * 2 * EPS * S / h, rel=1e-6, abs=0)
    kinked = central_differences(lambda t: float(abs(t[0])), np.zeros(1), order=4)
    assert kinked.kink[0] and kinked.evaluations == 1 + 2 * 3     # h/4 is already there
    assert kinked.numeric[0] == 0.5 * (kinked.lower[0] + kinked.upper[0])


def test_a_kink_elements_estimate_is_the_middle_of_its_interval():
    """relu(t) + c t^3 at 0: the central difference 0.5 + c h^2 is no estimate at a kink; the
    element carries the middle of its one-sided interval [-c h^2/4, 1 + c h^2] instead."""
    h, c = 2.0 ** -7, 100.0
    tol = fd_tolerances(overrides={"step": h})
    est = central_differences(lambda t: float(max(t[0], 0.0) + c * t[0] ** 3), np.zeros(1),
                              tolerances=tol)
    q = c * h ** 2
    assert est.kink[0]
    assert est.lower[0] == pytest.approx(-q / 4, rel=1e-9, abs=0)
    assert est.numeric[0] == pytest.approx(0.5 + 3 * q / 8, rel=1e-9, abs=0)


def test_kink_rounding_threshold_uses_the_central_step():
    """Through central_differences: a jump J is a kink when J > 8 * 20 * 2 eps S / h, with h
    the step itself (not twice it)."""
    from gradref.checks.finite_diff import Estimate

    h = 2.0 ** -10
    tol = fd_tolerances(overrides={"step": h})
    J = 1.0
    for factor, kink in ((0.9, True), (1.1, False)):
        S = factor * J * h / (8 * 20 * 2 * EPS)
        est = central_differences(lambda t: float(J * max(t[0], 0.0)), np.zeros(1),
                                  tolerances=tol, f_scale=S)
        assert bool(est.kink[0]) is kink, factor
    z = np.zeros(1)
    assert Estimate(np.zeros(1, np.intp), z, z, z, z > 0, z, z, z > 0).order == 2
