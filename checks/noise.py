r"""The noise of a function, measured from its table of higher-order differences.

An adaptive integrator or ODE solver returns :math:`f(x) = f_s(x) + \epsilon(x)`: a smooth
:math:`f_s` plus a noise :math:`\epsilon` far above rounding (its step selection changes with x).
Finite differences of such an f scatter by :math:`\sigma/h`, where the rounding model expects
:math:`\varepsilon S/h`, and a right gradient fails. This module measures :math:`\sigma`, in the
manner of Moré & Wild's ECnoise (*Estimating computational noise*, SIAM J. Sci. Comput. 33,
2011), written here from the mathematics:

Along a direction :math:`p` take :math:`y_t = f(x + t\,\delta\odot p)`, :math:`t = -k \dots k`
(:data:`~gradref.checks.tolerances.NOISE_POINTS` points, :math:`\delta` the finite-difference
step). The :math:`j`-th forward differences :math:`\Delta^j y` of a smooth part are
:math:`O(\delta^j)` and vanish quickly with j; those of independent noise of variance
:math:`\sigma^2` have :math:`E[(\Delta^j y)^2] = \binom{2j}{j}\sigma^2`. Hence

.. math::

    \sigma_j = \Big(\gamma_j \,\overline{(\Delta^j y)^2}\Big)^{1/2}, \qquad
    \gamma_j = \frac{(j!)^2}{(2j)!},

estimates :math:`\sigma` once j is large enough for the smooth part to have vanished. The level
is :math:`\sigma_j` at the first order j whose estimates :math:`\sigma_j, \sigma_{j+1},
\sigma_{j+2}` agree within :data:`~gradref.checks.tolerances.NOISE_AGREEMENT` and whose
differences :math:`\Delta^j y` change sign (a smooth trend keeps one sign) and, at each of
the three orders, are all of some size (:data:`~gradref.checks.tolerances.NOISE_SPREAD`: a
kink or a jump puts its differences on the few entries that straddle it, noise on all of
them). The largest level
over :data:`~gradref.checks.tolerances.NOISE_DIRECTIONS` random ±1 directions is returned.

A smooth function measures about :math:`\varepsilon|f|`, its rounding; only a level above
:data:`~gradref.checks.tolerances.NOISE_EXCESS` times the rounding model counts as noise
(:func:`noisy_precision`), so a smooth function's check is never loosened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .finite_diff import scalar_value
from .tolerances import (
    NOISE_AGREEMENT,
    NOISE_DIRECTIONS,
    NOISE_EXCESS,
    NOISE_MAX_ORDER,
    NOISE_POINTS,
    NOISE_SPREAD,
)

__all__ = ["Noise", "table_level", "measure_noise", "noisy_precision"]


@dataclass(frozen=True)
class Noise:
    """The measured noise of f at x: ``level`` (an absolute :math:`\\sigma`, NaN when no
    direction showed one), the difference ``order`` it was read at, ``directions`` measured,
    ``evaluations`` of f spent."""

    level: float
    order: int
    directions: int
    evaluations: int


def _gamma(j: int) -> float:
    return math.factorial(j) ** 2 / math.factorial(2 * j)


def table_level(values: np.ndarray) -> tuple[float, int]:
    """``(sigma, order)`` from function values at equally spaced points (module docstring);
    ``(nan, 0)`` when no order shows noise (too few points, non-finite values, a smooth trend
    all the way)."""
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1 or y.size < 4 or not np.all(np.isfinite(y)):
        return math.nan, 0
    top = min(NOISE_MAX_ORDER, y.size - 2)
    sigmas, diffs = [], []
    d = y
    for j in range(1, top + 1):
        d = np.diff(d)
        diffs.append(d)
        sigmas.append(math.sqrt(_gamma(j) * float(np.mean(d * d))))
    for j in range(len(sigmas) - 2):
        group = sigmas[j:j + 3]
        if min(group) == 0.0:
            if max(group) == 0.0:
                return 0.0, j + 1          # exactly reproducible values: no noise at all
            continue
        signs = np.sign(diffs[j][diffs[j] != 0])
        spread = all(bool(np.all(np.abs(d) > NOISE_SPREAD * math.sqrt(float(np.mean(d * d)))))
                     for d in diffs[j:j + 3])
        if max(group) / min(group) <= NOISE_AGREEMENT and signs.size and \
                np.any(signs != signs[0]) and spread:
            return group[0], j + 1
    return math.nan, 0


def measure_noise(f: Callable[[np.ndarray], float], theta: np.ndarray, step: np.ndarray,
                  rng: np.random.Generator, f0: float | None = None) -> Noise:
    """The noise of the scalar ``f`` at the flat vector ``theta``, along
    :data:`~gradref.checks.tolerances.NOISE_DIRECTIONS` random ±1 directions scaled by
    ``step`` (per element), :data:`~gradref.checks.tolerances.NOISE_POINTS` points each."""
    theta = np.asarray(theta)
    if theta.ndim != 1 or theta.size == 0:
        raise ValueError(f"theta must be a non-empty flat vector, got shape {theta.shape}")
    k = NOISE_POINTS // 2
    levels, orders, evaluations = [], [], 0
    for _ in range(NOISE_DIRECTIONS):
        p = rng.integers(0, 2, size=theta.size).astype(np.float64) * 2.0 - 1.0
        values = []
        for t in range(-k, k + 1):
            if t == 0 and f0 is not None:
                values.append(float(f0))
                continue
            point = (theta + t * np.asarray(step) * p).astype(theta.dtype)
            try:
                values.append(scalar_value(f, point))
            except (ArithmeticError, ValueError):   # outside f's domain: no table this way
                values.append(math.nan)
            evaluations += 1
        level, order = table_level(np.array(values))
        if math.isfinite(level):
            levels.append(level)
            orders.append(order)
    if not levels:
        return Noise(math.nan, 0, NOISE_DIRECTIONS, evaluations)
    i = int(np.argmax(levels))
    return Noise(float(levels[i]), int(orders[i]), NOISE_DIRECTIONS, evaluations)


def noisy_precision(noise: Noise, eps: float, scale: float) -> float | None:
    """The relative precision :math:`\\sigma / S` to check f with, when the measured noise
    exceeds :data:`~gradref.checks.tolerances.NOISE_EXCESS` times the rounding model
    :math:`\\varepsilon S`; None (keep the dtype's ε) otherwise."""
    if not (math.isfinite(noise.level) and scale > 0 and math.isfinite(scale)):
        return None
    if noise.level <= NOISE_EXCESS * eps * scale:
        return None
    return noise.level / scale
