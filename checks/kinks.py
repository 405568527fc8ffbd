r"""Kinks: points where a derivative jumps — an activation's (relu and leaky_relu at 0, elu with
:math:`\alpha \ne 1` at 0, whatever an activation declares in ``Activation.kinks``) or any
function's (abs, max, hinge losses, piecewise-linear functions).

Detection in a network. A finite difference with step h moves every pre-activation :math:`Z` it touches from
:math:`Z^0` to :math:`Z^h`. It straddles a kink :math:`\kappa` when :math:`Z^0` and
:math:`Z^h` lie on different sides of it, i.e. :math:`|Z^0 - \kappa|` is smaller than the change
:math:`|Z^h - Z^0|` the step caused, in the right direction. With the activations' convention
(the branch :math:`z > \kappa` versus :math:`z \le \kappa`) this is
``(Z_h > kappa) != (Z_0 > kappa)``; a pre-activation sitting exactly on the kink is caught by
whichever side of the step leaves it upwards. The network-aware finite differences know every
perturbed :math:`Z` exactly, so detection costs two comparisons per unit.

Detection in any function (:func:`one_sided_jumps`). Without the pre-activations, the one-sided
differences :math:`D_\pm` (below) at the steps h and h/2 that the central differences already
evaluate tell. With :math:`\Delta(h) = D_+(h) - D_-(h)`: on a smooth function
:math:`\Delta(h) = f''h + f''''h^3/12 + \dots`, so :math:`\Delta` halves with h (the pair
measures the curvature) and the extrapolated jump

.. math::

    \hat\jmath = 2\Delta(h/2) - \Delta(h) = -f''''h^3/16 + \dots

is of third order; at a kink :math:`\Delta(h)` tends to the jump of the derivative, which does
not shrink, and :math:`\hat\jmath` is the jump. An element is at a kink when

.. math::

    |\hat\jmath| > \kappa\,(\tfrac43|D(h) - D(h/2)| + 20\,r)
    \quad\text{and}\quad \hat\jmath\,\mathrm{sign}\,\Delta(h) > \rho\,|\Delta(h)|,

with :math:`\kappa` = ``safety``, :math:`r` the rounding of one central difference (20 r bounds
the rounding of :math:`\hat\jmath`, as for the extrapolated slopes below) and :math:`\rho` =
:data:`~gradref.checks.tolerances.KINK_JUMP_RATIO`: the jump must exceed what the central
difference's own measured error explains, and :math:`\Delta` must not be shrinking like
curvature does (:math:`\Delta(h/2) > \tfrac34\Delta(h)` for ρ = 1/2; a gap that shrinks
faster, as for :math:`x^4` at 0, is no kink either). A smooth function is called kinked only
where its fourth derivative is of order :math:`f''/h^2`, i.e. where the step does not resolve
it (measured: no false alarm in about 8,900 elements of drawn smooth functions with
:math:`kh \le 0.1` for frequencies k up to 1e5; 1 in 139 where :math:`kh \approx 1`).
A kink less than about h/5 from the point is detected (any value between the one-sided
slopes then passes); one between h/5 and h away shows up as a large measured truncation
error :math:`\tfrac43|D(h) - D(h/2)|` instead (the tolerance is then wide, honestly so).

Judgement. A central difference across a kink mixes the two slopes and is no estimate of any
derivative. At such an element the one-sided differences

.. math::

    D_+(h) = \frac{f(\theta + h e_i) - f(\theta)}{h}, \qquad
    D_-(h) = \frac{f(\theta) - f(\theta - h e_i)}{h}

are taken at h, h/2 and h/4. On a side where the function is smooth,
:math:`D_\pm(h) = d_\pm + a h + b h^2 + \dots`; the extrapolations
:math:`E_0 = 2D_\pm(h/2) - D_\pm(h)` and :math:`E_1 = 2D_\pm(h/4) - D_\pm(h/2)` remove the
first-order term, and :math:`|E_0 - E_1|/3` estimates the error left in :math:`E_1`. The
analytic value is accepted when it lies in the hull of the raw slopes and of
:math:`E_1 \pm |E_0 - E_1|/3` on both sides, widened by the rounding allowance. The global tolerances are
never loosened: the element is reported as "at a kink", with its count and margin.

Why example by example. Backpropagation picks one slope per kinked unit (its convention, e.g.
relu'(0) = 0); the one-sided differences pick, for every kinked unit at once, the slope on the
side it moves to. With one kinked unit the analytic value is linear in that unit's slope, so
the two one-sided differences are the extremes of every convention. With two kinked units that
move in opposite directions the analytic value can lie outside [D-, D+] although nothing is
wrong (f = relu(t) - relu(-t) = t is smooth, yet relu'(0) = 0 gives 0). A network cost is a sum
over examples, so the interval is built per example and the intervals are added (a Minkowski
sum): exact when each example's perturbation crosses at most one kinked unit. Elements where
some example crosses several are reported as *unverified* (at a kink, beyond what finite
differences can decide), never as failures and never as passes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .tolerances import KINK_JUMP_RATIO

__all__ = ["crosses", "one_sided_jumps", "example_intervals", "KINK_ROUNDING_FACTOR"]

#: Rounding of the extrapolated one-sided slope 2 D(h/4) - D(h/2), in units of the rounding of
#: the central difference D(h): a one-sided difference has twice it at step h, 8 times at h/4,
#: 4 times at h/2; the extrapolation adds 2*8 + 4 = 20.
KINK_ROUNDING_FACTOR = 20.0


def crosses(z_new: np.ndarray, z_old: np.ndarray, kinks: Iterable[float]) -> np.ndarray:
    """Elementwise: did moving from ``z_old`` to ``z_new`` change branch at one of ``kinks``?

    ``z_old`` broadcasts against ``z_new``. Returns a boolean array of ``z_new``'s shape.
    """
    out = np.zeros(np.shape(z_new), dtype=bool)
    for k in kinks:
        out |= np.not_equal(np.greater(z_new, k), np.greater(z_old, k))
    return out


def one_sided_jumps(dplus: np.ndarray, dminus: np.ndarray, hplus: np.ndarray,
                    hminus: np.ndarray, rounding: np.ndarray, safety: float) -> np.ndarray:
    r"""Elements of a function of unknown structure that sit at a kink (module docstring).

    ``dplus[s] = f(θ + h_{+,s} e_i) - f(θ)`` and ``dminus[s] = f(θ) - f(θ - h_{-,s} e_i)``
    (levels h and h/2 at least, shape (levels, n)); ``rounding`` the rounding of one central
    difference per element, :math:`c_r\varepsilon S/h`. Returns a boolean mask of shape (n,).
    """
    dplus, dminus = np.asarray(dplus, float), np.asarray(dminus, float)
    hplus, hminus = np.asarray(hplus, float), np.asarray(hminus, float)
    with np.errstate(invalid="ignore", over="ignore"):
        gap = dplus[:2] / hplus[:2] - dminus[:2] / hminus[:2]
        jump = 2.0 * gap[1] - gap[0]
        D = (dplus[:2] + dminus[:2]) / (hplus[:2] + hminus[:2])
        explained = safety * ((4.0 / 3.0) * np.abs(D[0] - D[1])
                              + KINK_ROUNDING_FACTOR * np.asarray(rounding, float))
        # the jump has the sign of the gap (a gap that shrinks faster than h, as x^4 at 0,
        # gives the opposite sign)
        return (np.abs(jump) > explained) & (jump * np.sign(gap[0])
                                             > KINK_JUMP_RATIO * np.abs(gap[0]))


def example_intervals(dplus: np.ndarray, dminus: np.ndarray, ex_plus: np.ndarray,
                      ex_minus: np.ndarray, crossings: np.ndarray, hplus: np.ndarray,
                      hminus: np.ndarray, rounding: np.ndarray):
    r"""Intervals for flagged elements of a cost that is a sum over examples.

    ``dplus``/``dminus`` (3, n): the differences :math:`f(\theta \pm h_s e_i) - f(\theta)`
    (sign-adjusted for the minus side) of the whole cost at the steps h, h/2, h/4;
    ``ex_plus``/``ex_minus`` (3, n, m): their per-example parts; ``crossings`` (n, m): how
    many kinked units each example crossed. Examples that crossed none, and any term not split
    by example (the L2 penalty), form the smooth part, estimated by the central difference
    :math:`D(h)` with truncation :math:`\tfrac43|D(h)-D(h/2)|`. Each kinked example adds the
    hull of its one-sided slopes (module docstring). Returns ``(lower, upper, error,
    unverified)`` with ``unverified`` true where some example crossed two or more kinked units.
    """
    if dplus.shape[0] < 3:
        raise ValueError(f"kink intervals need the steps h, h/2 and h/4, got {dplus.shape[0]}")
    crossings = np.asarray(crossings)
    kinked = crossings > 0
    sp = dplus[:2] - np.sum(np.where(kinked, ex_plus[:2], 0.0), axis=2)
    sm = dminus[:2] - np.sum(np.where(kinked, ex_minus[:2], 0.0), axis=2)
    D = (sp + sm) / (hplus[:2] + hminus[:2])
    lo = hi = None
    for ex, h in ((ex_plus, hplus), (ex_minus, hminus)):
        p = ex[:3] / h[:3, :, None]
        e0, e1 = 2.0 * p[1] - p[0], 2.0 * p[2] - p[1]
        spread = np.abs(e0 - e1) / 3.0
        side_lo = np.minimum(np.min(p, axis=0), e1 - spread)
        side_hi = np.maximum(np.max(p, axis=0), e1 + spread)
        lo = side_lo if lo is None else np.minimum(lo, side_lo)
        hi = side_hi if hi is None else np.maximum(hi, side_hi)
    lower = D[0] + np.sum(np.where(kinked, lo, 0.0), axis=1)
    upper = D[0] + np.sum(np.where(kinked, hi, 0.0), axis=1)
    error = (4.0 / 3.0) * np.abs(D[0] - D[1]) + KINK_ROUNDING_FACTOR * np.asarray(rounding)
    return lower, upper, error, np.any(crossings >= 2, axis=1)
