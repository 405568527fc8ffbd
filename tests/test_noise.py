"""Noise-aware checking: a noisy function's own noise is measured (its table of higher-order
differences) and allowed for; a smooth function's check is exactly what it was.

The noisy functions are our own: an adaptive ODE integrator (step-size control with rejected
steps and an implicit corrector iterated to a tolerance, whose discrete decisions flip as x
moves) and a smooth function with injected float noise. Their right gradients come from
independent means (the sensitivity equations integrated by a fine fixed-step RK4; calculus)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from gradref.checks.api import check_gradients
from gradref.checks.noise import Noise, measure_noise, noisy_precision, table_level
from gradref.checks.tolerances import NOISE_EXCESS, fd_tolerances

EPS = float(np.finfo(np.float64).eps)


# --------------------------------------------------------------------------- our noisy functions
#: The end of the integration.
ODE_END = 1.0


def _rhs(x, t, y):
    return -x[0] * y + x[1] * math.sin(5.0 * t) + 0.1 * x[2] * math.cos(y)


def ode_solve(x, tol=1e-8, end=ODE_END):
    x = [float(v) for v in x]
    """y(end) of y' = -x0 y + x1 sin 5t + 0.1 x2 cos y, y(0) = 1: adaptive steps (Euler against an
    implicit trapezoid corrected by fixed-point iteration to a tolerance), rejected when the
    local error estimate exceeds tol: thousands of discrete decisions, some of which flip
    whenever x moves, so the result is noisy at every scale."""
    t, y, h = 0.0, 1.0, 1e-2
    while t < end:
        h = min(h, end - t)
        k1 = _rhs(x, t, y)
        z = y + h * k1
        for _ in range(50):
            z_new = y + 0.5 * h * (k1 + _rhs(x, t + h, z))
            converged = abs(z_new - z) <= 1e-3 * tol
            z = z_new
            if converged:
                break
        err = abs(z - (y + h * k1))
        if err <= tol:
            t, y = t + h, z
        h *= min(4.0, max(0.1, 0.9 * math.sqrt(tol / max(err, 1e-300))))
    return y


def ode_gradient(x, n=200, end=ODE_END):
    """dy(end)/dx from the sensitivity equations s' = (df/dy) s + df/dx, by fixed-step RK4."""
    def field(t, u):
        y, s = float(u[0]), u[1:]
        dfdy = -x[0] - 0.1 * x[2] * np.sin(y)
        dfdx = np.array([-y, np.sin(5.0 * t), 0.1 * np.cos(y)])
        return np.concatenate([[_rhs(x, t, y)], dfdy * s + dfdx])
    u, h = np.array([1.0, 0.0, 0.0, 0.0]), end / n
    for i in range(n):
        t = i * h
        k1 = field(t, u)
        k2 = field(t + h / 2, u + h / 2 * k1)
        k3 = field(t + h / 2, u + h / 2 * k2)
        k4 = field(t + h, u + h * k3)
        u = u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return u[1:]


def _hash_noise(x) -> float:
    """A deterministic 'random' number in [-1, 1) of x's bytes (float noise of a computation
    whose rounding depends on x in no smooth way)."""
    digest = hashlib.blake2b(np.ascontiguousarray(x, np.float64).tobytes(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") / 2.0 ** 63 - 1.0


def smooth(x):
    return float(np.sum(np.sin(3 * x)) + np.exp(0.3 * x[0] * x[1]))


def smooth_gradient(x):
    e = np.exp(0.3 * x[0] * x[1])
    g = 3 * np.cos(3 * x)
    g[0] += 0.3 * x[1] * e
    g[1] += 0.3 * x[0] * e
    return g


def noisy(level):
    return lambda x: smooth(x) + level * _hash_noise(x)


# --------------------------------------------------------------------------- the table
def test_the_table_reads_the_level_of_pure_noise_and_nothing_from_a_smooth_trend():
    rng = np.random.default_rng(0)
    levels = [table_level(1e-6 * rng.standard_normal(9))[0] for _ in range(200)]
    found = np.array([v for v in levels if math.isfinite(v)])
    assert found.size >= 150 and 0.5 < np.median(found) / 1e-6 < 1.5
    t = np.linspace(-4, 4, 9) * 1e-5
    level, order = table_level(np.exp(t) + 1e-9 * rng.standard_normal(9))
    assert order >= 2 and 0.3e-9 < level < 3e-9       # the trend's low orders are skipped
    assert table_level(np.zeros(9)) == (0.0, 1)
    assert math.isnan(table_level(np.array([1.0, np.nan, 2.0, 3.0, 4.0]))[0])
    assert math.isnan(table_level(np.ones(3))[0])


def test_noisy_precision_only_above_the_rounding_model():
    assert noisy_precision(Noise(NOISE_EXCESS * EPS * 0.99, 3, 3, 24), EPS, 1.0) is None
    assert noisy_precision(Noise(3e-8, 3, 3, 24), EPS, 2.0) == pytest.approx(1.5e-8)
    assert noisy_precision(Noise(math.nan, 0, 3, 24), EPS, 1.0) is None
    assert noisy_precision(Noise(1.0, 1, 3, 24), EPS, 0.0) is None
    with pytest.raises(ValueError, match="non-empty flat vector"):
        measure_noise(smooth, np.zeros((2, 2)), np.ones(4), np.random.default_rng(0))


# --------------------------------------------------------------------------- smooth: unchanged
SMOOTH = {
    "sin": lambda x: np.sum(np.sin(7 * x)),
    "exp": lambda x: np.exp(np.sum(x)),
    "quadratic": lambda x: float(x @ np.outer(np.arange(1, x.size + 1), np.ones(x.size)) @ x),
    "var": np.var,
    "logsumexp": lambda x: np.log(np.sum(np.exp(x))),
    "quartic": lambda x: 1e3 * np.sum(x ** 4),
    "near a root": lambda x: np.sum(x) - 1.0,
    "product": np.prod,
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_a_smooth_functions_check_is_exactly_what_it_was(name):
    f = SMOOTH[name]
    for seed in range(8):
        x = np.random.default_rng(seed).uniform(-2, 2, 1 + seed % 5)
        grad = np.zeros_like(x)          # the tolerances do not depend on the gradient's values
        on = check_gradients(f, grad, x, seed=seed)
        off = check_gradients(f, grad, x, seed=seed, noise=False)
        assert not any("noisy" in n for n in on.notes), on.notes
        assert on.tolerances == off.tolerances == fd_tolerances(np.float64)
        assert [a.max_tol for a in on.arrays] == [a.max_tol for a in off.arrays]
        assert [a.step for a in on.arrays] == [a.step for a in off.arrays]


@pytest.mark.parametrize("offset", [1e-12, 1e-9, -1e-9, 1e-7])
@pytest.mark.parametrize("level", [0.0, 100.0])
def test_a_kink_is_never_taken_for_noise(offset, level):
    # |x| near 0: the table straddles the kink, its differences sit on the entries beside it
    def f(x):
        return level + float(np.sum(np.abs(x)) + np.sum(np.maximum(x - 0.5, 0.0)))
    x = np.array([offset, 0.5 + offset, 1.3])
    res = check_gradients(f, np.zeros(3), x)
    assert not any("noisy" in n for n in res.notes), res.notes
    assert res.tolerances == fd_tolerances(np.float64)


# --------------------------------------------------------------------------- noisy: allowed for
@pytest.mark.parametrize("mode", ["full", "directional"])
@pytest.mark.parametrize("seed", range(2))
def test_an_adaptive_integrators_right_gradient_passes_and_a_wrong_one_fails(seed, mode):
    x = np.random.default_rng(seed).uniform(0.5, 2.0, 3)
    g = ode_gradient(x)
    strict = check_gradients(ode_solve, g, x, mode=mode, noise=False)
    right = check_gradients(ode_solve, g, x, mode=mode)
    wrong = check_gradients(ode_solve, g * 1.001, x, mode=mode)
    if mode == "full":
        assert not strict.passed           # before: a false alarm, ~100 times the tolerance
    assert right.passed, right
    note = next(n for n in right.notes if n.startswith("f is noisy at the level"))
    assert "the check allows for it" in note
    assert not wrong.passed, wrong


@pytest.mark.parametrize("level", [1e-12, 1e-10, 3e-8])
def test_injected_float_noise_right_gradient_passes_and_a_wrong_element_fails(level):
    f = noisy(level)
    for seed in range(4):
        x = np.random.default_rng(seed).uniform(-1, 1, 5)
        right = check_gradients(f, smooth_gradient, x, seed=seed)
        assert right.passed, (level, seed, right)
        assert any(n.startswith("f is noisy at the level") for n in right.notes)

        def wrong(z, seed=seed):
            g = smooth_gradient(z)
            return g + np.eye(5)[seed] * 1e-3 * np.abs(g).max()
        for mode in ("full", "directional"):
            assert not check_gradients(f, wrong, x, seed=seed, mode=mode).passed, (level, seed)


def test_noise_is_an_explicit_switch():
    with pytest.raises(TypeError, match="noise must be True or False, got 'yes'"):
        check_gradients(smooth, smooth_gradient, np.ones(3), noise="yes")
