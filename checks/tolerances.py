r"""Every tolerance and step constant of gradref, in one place.

(Owned jointly: the reference suite's oracle tolerances are at the top; the finite-difference
checker's steps and tolerances follow.)

Finite differences
------------------
The checker never uses one fixed ``atol``/``rtol`` for finite differences. For each checked
element it *measures* an error estimate and derives the element's tolerance from it:

.. math::

    h_i = s\,\max(1, |\theta_i|), \qquad
    D(h) = \frac{J(\theta + h e_i) - J(\theta - h e_i)}{2h},

    \hat e_i = \underbrace{\tfrac43\,|D(h) - D(h/2)|}_{\text{truncation, measured}}
             + \underbrace{c_r\,\varepsilon\,S / h_i}_{\text{rounding}}, \qquad
    \mathrm{tol}_i = \kappa\,\hat e_i + r\,|g_i| + a,

with :math:`s` = ``step`` (:math:`\varepsilon^{1/3}`, the step that balances the
:math:`O(h^2)` truncation against the :math:`O(\varepsilon/h)` rounding), :math:`S` the magnitude
of the quantities the cost is computed from (:math:`|J|` for a generic function), :math:`c_r` =
``rounding``, :math:`\kappa` = ``safety``, :math:`r` = ``rtol`` (the rounding of the analytic
gradient itself) and :math:`a` = ``atol`` (0 by default). For central differences
:math:`D(h) = g + c h^2 + O(h^4)`, so :math:`D(h) - D(h/2) \approx \tfrac34 c h^2` and
:math:`\tfrac43 |D(h) - D(h/2)|` estimates the truncation error of :math:`D(h)`.

The tables are keyed by dtype (float64, float32); :func:`fd_tolerances` merges overrides into a
copy, refusing unknown names and bad values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["ELEMENTWISE_RTOL", "ELEMENTWISE_ATOL", "NETWORK_RTOL", "NETWORK_ATOL",
           "FD_TOLERANCES", "fd_tolerances", "Sensitivity", "sensitivity"]

#: Hand-written activation/loss derivatives against autograd's, elementwise: relative error,
#: plus an absolute floor of a few ulps of O(1) values for points where the derivative is ~0.
ELEMENTWISE_RTOL = 1e-12
ELEMENTWISE_ATOL = 1e-15

#: The reference's backward pass against autograd's gradient of the whole cost, per array:
#: ``max|analytic - oracle| <= NETWORK_RTOL * max|oracle| + NETWORK_ATOL``.
NETWORK_RTOL = 1e-10
NETWORK_ATOL = 1e-14


def _table(eps: float) -> dict[str, float]:
    return {
        # relative step of second-order central differences: eps^(1/3)
        "step": eps ** (1.0 / 3.0),
        # relative step of the fourth-order (Richardson) form: eps^(1/5)
        "step_richardson": eps ** (1.0 / 5.0),
        # tolerance = safety x (measured truncation estimate + rounding estimate) + ...
        "safety": 8.0,
        # rounding estimate of one central difference: rounding * eps * S / h
        "rounding": 2.0,
        # allowance for the rounding of the analytic gradient, relative to |g_i|
        "rtol": 64.0 * eps,
        # absolute floor added to every finite-difference tolerance (0: none)
        "atol": 0.0,
        # analytic gradient against the autograd oracle: |a - o| <= autograd_rtol * |o|
        #   + autograd_atol * (largest |o| over the group: parameters, or intermediates)
        "autograd_rtol": 1e-10 if eps < 1e-10 else 1e-4,
        "autograd_atol": 1e-12 if eps < 1e-10 else 1e-5,
    }


#: dtype -> named finite-difference constants (see the module docstring for their roles).
FD_TOLERANCES: dict[np.dtype, dict[str, float]] = {
    np.dtype(np.float64): _table(float(np.finfo(np.float64).eps)),
    np.dtype(np.float32): _table(float(np.finfo(np.float32).eps)),
}

_POSITIVE = ("step", "step_richardson", "safety", "rounding")


def fd_tolerances(dtype: object = np.float64,
                  overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The finite-difference constants for ``dtype`` with ``overrides`` merged in (a new dict).

    The result also carries ``"eps"``, the machine epsilon of ``dtype``. Raises ``ValueError``
    for an unsupported dtype, an unknown override name, or a value that is not a finite number
    (steps, safety and rounding must be > 0; the others >= 0).
    """
    try:
        key = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy floating dtype, got {dtype!r}") from None
    if key not in FD_TOLERANCES:
        raise ValueError(f"no tolerance table for dtype {key}; available: "
                         f"{', '.join(str(k) for k in FD_TOLERANCES)}")
    merged = dict(FD_TOLERANCES[key])
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise TypeError(f"tolerances must be a dict of name -> number, got {overrides!r}")
    for name, value in overrides.items():
        if name not in merged:
            raise ValueError(f"unknown tolerance name {name!r}; valid names: "
                             f"{', '.join(merged)}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            raise TypeError(f"tolerance {name!r} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or value < 0 or (name in _POSITIVE and value == 0):
            bound = "> 0" if name in _POSITIVE else ">= 0"
            raise ValueError(f"tolerance {name!r} must be a finite number {bound}, got {value!r}")
        merged[name] = value
    merged["eps"] = float(np.finfo(key).eps)
    return merged


# --------------------------------------------------------------------------- sensitivity
@dataclass(frozen=True)
class Sensitivity:
    """What a check is able to catch: an error larger than ``threshold`` on one element is
    caught with probability at least ``probability`` (1.0: always)."""

    mode: str
    threshold: float
    probability: float
    statement: str

    def to_dict(self) -> dict:
        return {"mode": self.mode, "threshold": self.threshold,
                "probability": self.probability, "statement": self.statement}


def _erfinv(y: float) -> float:
    """Inverse of :func:`math.erf` on [0, 1), by bisection (60 halvings: full precision)."""
    lo, hi = 0.0, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.erf(mid) < y:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def sensitivity(mode: str, tol: object, *, checked: int | None = None,
                total: int | None = None, direction: str = "rademacher",
                confidence: float = 0.99) -> Sensitivity:
    r"""The smallest single-element gradient error a check is guaranteed (or, with a stated
    probability, expected) to catch.

    Let :math:`g` be the true gradient, :math:`a = g + e\,e_i` the analytic gradient with one
    wrong element, :math:`n` the finite-difference estimate and :math:`\delta = n - g` its error.
    The tolerance is honest when :math:`|\delta| \le \mathrm{tol}` (the tests check this against
    autograd). An element fails when :math:`|a - n| > \mathrm{tol}`; since
    :math:`|a - n| \ge |e| - |\delta|`, any :math:`|e| > 2\,\mathrm{tol}` fails.

    ``mode="full"``
        ``tol``: the per-element tolerances (array). Every element is checked: threshold
        :math:`2\max_i \mathrm{tol}_i`, probability 1 (per element: :math:`2\,\mathrm{tol}_i`).
    ``mode="sampled"``
        ``tol``: the tolerances of the sampled elements; ``checked`` = k of ``total`` = P
        elements (of one array, when sampling is stratified). An element is checked with
        probability k/P; if it is, the full-mode bound applies: threshold
        :math:`2\max \mathrm{tol}`, probability k/P.
    ``mode="directional"``
        ``tol``: one tolerance per direction :math:`v^{(d)}`, d = 1…n. The check compares
        :math:`a\cdot v` with a central difference along :math:`v`; a wrong element shifts
        :math:`a\cdot v` by :math:`e\,v_i`, caught in draw d when
        :math:`|e\,v_i| > 2\,\mathrm{tol}_d`.

        * Rademacher (:math:`v_i = \pm1`): threshold :math:`2\min_d \mathrm{tol}_d`,
          probability 1. (Several wrong elements can cancel in one draw, with probability
          about 1/2; independent draws make that unlikely.)
        * Gaussian (:math:`v_i \sim N(0,1)`): a draw misses when
          :math:`|v_i| \le s`, probability :math:`\mathrm{erf}(s/\sqrt2)`; all n draws miss
          with probability :math:`\mathrm{erf}(s/\sqrt2)^n`. With
          :math:`s = \sqrt2\,\mathrm{erf}^{-1}\big((1-q)^{1/n}\big)`, an error larger than
          :math:`2\max_d \mathrm{tol}_d / s` is caught with probability at least q =
          ``confidence``.

    Elements found at a kink are judged by an interval of one-sided slopes
    [lo, hi]; for them add the interval's width hi - lo to the threshold.
    """
    tols = np.atleast_1d(np.asarray(tol, dtype=np.float64))
    if tols.size == 0:
        return Sensitivity(mode, math.inf, 0.0, "nothing was checked: no error can be caught")
    if not np.all(np.isfinite(tols)) or np.any(tols < 0):
        raise ValueError(f"tol must hold finite non-negative tolerances, got {tols!r}")
    if mode == "full":
        thr = 2.0 * float(np.max(tols))
        return Sensitivity(mode, thr, 1.0,
                           f"every element is checked: a single-element error larger than "
                           f"2*tol_i (at most {thr:.3g}) is always caught")
    if mode == "sampled":
        for name, value in (("checked", checked), ("total", total)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"sampled sensitivity needs {name} as an int >= 0, "
                                 f"got {value!r}")
        if total == 0 or checked > total:
            raise ValueError(f"checked={checked} must lie in [0, total={total}], total > 0")
        thr, p = 2.0 * float(np.max(tols)), checked / total
        return Sensitivity(mode, thr, p,
                           f"{checked} of {total} elements are checked: a single-element error "
                           f"larger than {thr:.3g} is caught with probability {p:.3g}")
    if mode == "directional":
        n = tols.size
        if direction == "rademacher":
            thr = 2.0 * float(np.min(tols))
            return Sensitivity(mode, thr, 1.0,
                               f"{n} Rademacher direction(s): a single-element error larger "
                               f"than {thr:.3g} is always caught")
        if direction == "gaussian":
            if not 0.0 < confidence < 1.0:
                raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
            s = math.sqrt(2.0) * _erfinv((1.0 - confidence) ** (1.0 / n))
            thr = 2.0 * float(np.max(tols)) / s
            return Sensitivity(mode, thr, confidence,
                               f"{n} Gaussian direction(s): a single-element error larger than "
                               f"{thr:.3g} is caught with probability >= {confidence:g}")
        raise ValueError(f"direction must be 'rademacher' or 'gaussian', got {direction!r}")
    raise ValueError(f"mode must be 'full', 'sampled' or 'directional', got {mode!r}")


# --------------------------------------------------------------------------- diagnosis
# (Owned by checks/diagnosis/.) How tightly a numeric pattern must fit before the diagnosis
# names a cause. These decide what the diagnosis *says*, never whether a check passes: that is
# the checker's (the tables above). An array that the checker's autograd rule would flag always
# gets at least a near-miss or mismatch finding, even below DIAGNOSIS_MATCH_RTOL.
__all__ += ["DIAGNOSIS_MATCH_RTOL", "DIAGNOSIS_MATCH_ATOL", "DIAGNOSIS_FLAG_RTOL",
            "DIAGNOSIS_FLAG_ATOL", "DIAGNOSIS_MODEL_RTOL", "DIAGNOSIS_SCALE_RTOL",
            "DIAGNOSIS_FACTOR_RTOL", "DIAGNOSIS_SCALE_MIN_SUPPORT", "DIAGNOSIS_NEAR_MISS_RTOL",
            "DIAGNOSIS_NEAR_MISS_MAX_ELEMENTS", "DIAGNOSIS_FIT2_MIN_SIZE",
            "DIAGNOSIS_COLLINEAR_COS"]

#: Two arrays are equal for the diagnosis' pattern matching when
#: ``max|a - e| <= DIAGNOSIS_MATCH_RTOL * max|e| + DIAGNOSIS_MATCH_ATOL`` (float rounding of a
#: correct computation done in another order is ~1e-15 of the largest entry).
DIAGNOSIS_MATCH_RTOL = 1e-9
DIAGNOSIS_MATCH_ATOL = 1e-14
#: An element differs as the checker sees it (float64 autograd comparison) when
#: ``|a - e| > DIAGNOSIS_FLAG_RTOL * |e| + DIAGNOSIS_FLAG_ATOL * scale`` (scale: the largest
#: expected magnitude of the group, parameters or intermediates): such an array is never passed
#: over in silence.
DIAGNOSIS_FLAG_RTOL = FD_TOLERANCES[np.dtype(np.float64)]["autograd_rtol"]
DIAGNOSIS_FLAG_ATOL = FD_TOLERANCES[np.dtype(np.float64)]["autograd_atol"]
#: The context's network is trusted when it reproduces the expected arrays to this fraction of
#: their largest entry (finite-difference estimates are good to ~1e-7); its exact gradients then
#: replace the expected ones.
DIAGNOSIS_MODEL_RTOL = 1e-5
#: A constant factor r is claimed only if
#: ``max|a - r e| <= DIAGNOSIS_SCALE_RTOL * max|r e| + DIAGNOSIS_MATCH_ATOL``.
DIAGNOSIS_SCALE_RTOL = 1e-8
#: A fitted factor is named (m, 1/m, 2, ½, −1) when it is within this relative distance of it.
DIAGNOSIS_FACTOR_RTOL = 1e-6
#: An unnamed factor ("3.7 times") needs this many entries of non-negligible size as evidence.
DIAGNOSIS_SCALE_MIN_SUPPORT = 2
#: A near miss: every difference is at most this fraction of the largest expected entry ...
DIAGNOSIS_NEAR_MISS_RTOL = 1e-3
#: ... or at most this many elements differ (and all others are right).
DIAGNOSIS_NEAR_MISS_MAX_ELEMENTS = 3
#: The two-term L2 fit needs at least this many entries (two unknowns plus evidence).
DIAGNOSIS_FIT2_MIN_SIZE = 4
#: Two regressors (the data part and W) are too collinear for an L2 fit above this |cosine|.
DIAGNOSIS_COLLINEAR_COS = 1.0 - 1e-6
