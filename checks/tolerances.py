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
    \mathrm{tol}_i = \kappa\,\hat e_i + r\,\max(|g_i|, G) + a,

with :math:`s` = ``step`` (:math:`\varepsilon^{1/3}`, the step that balances the
:math:`O(h^2)` truncation against the :math:`O(\varepsilon/h)` rounding), :math:`S` the magnitude
of the quantities the cost is computed from (:math:`|J|` for a generic function), :math:`c_r` =
``rounding``, :math:`\kappa` = ``safety``, :math:`r` = ``rtol`` (the rounding of the analytic
gradient itself, relative to its own array's magnitude :math:`G = \max_j |g_j|`: a float32
element is off by about ε times the terms it sums, however small it is) and :math:`a` =
``atol`` (0 by default). For central differences
:math:`D(h) = g + c h^2 + O(h^4)`, so :math:`D(h) - D(h/2) \approx \tfrac34 c h^2` and
:math:`\tfrac43 |D(h) - D(h/2)|` estimates the truncation error of :math:`D(h)`.

Tables keyed by dtype
---------------------
:data:`FD_TOLERANCES` holds one table per floating dtype NumPy has: float64, float32 and float16
(bfloat16 is not a NumPy dtype; gradref does not depend on ``ml_dtypes``, so it has no table).
A check takes two dtypes into account:

* the **comparison dtype**, the least precise of the gradient under test (and the point x):
  it decides how closely the analytic values must agree (``rtol``, ``atol``, ``autograd_rtol``,
  ``autograd_atol``, ``cost_rtol``, ``safety``);
* the **function dtype**, the least precise of f's output (and the point x): it decides the
  steps and the rounding term of the finite differences (``step``, ``step_richardson``,
  ``rounding`` and ``eps``), since f(x ± h) is only as precise as the dtype f computes in.

:func:`tolerances_for` builds that merged table (a new dict) and applies overrides;
:func:`least_precise` finds the dtype of a group of arrays; :func:`keyword_tolerances` maps the
``eps``/``atol``/``rtol`` keywords users of other checkers expect onto the model:

``eps``
    the relative step :math:`s` (both ``step`` and ``step_richardson``): the absolute step for
    :math:`|\theta_i| \le 1`, :math:`s|\theta_i|` above;
``atol``
    ``atol``, an absolute term added to every tolerance (finite differences and autograd);
``rtol``
    ``rtol`` and ``autograd_rtol``: the allowance relative to :math:`|g_i|` (finite
    differences) and to :math:`|o_i|` (autograd). Setting it replaces the dtype's default.

The float32 and float16 autograd tolerances come from a measurement: tanh/sigmoid networks
(8-32-32-1, m = 64, 200 seeds) computed in that dtype against float64 need at most
1.8e-6 (float32, 15 ε) and 6.9e-3 (float16, 7 ε) for ``rtol`` with ``atol`` = rtol/10 × scale;
the tables keep a margin for larger sums.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["ELEMENTWISE_RTOL", "ELEMENTWISE_ATOL", "NETWORK_RTOL", "NETWORK_ATOL",
           "FD_TOLERANCES", "COMPARISON_KEYS", "FUNCTION_KEYS", "fd_tolerances",
           "tolerances_for", "least_precise", "keyword_tolerances", "KINK_JUMP_RATIO",
           "NOISE_POINTS", "NOISE_DIRECTIONS", "NOISE_MAX_ORDER", "NOISE_AGREEMENT",
           "NOISE_EXCESS", "NOISE_SPREAD",
           "Sensitivity",
           "sensitivity"]

#: Hand-written activation/loss derivatives against autograd's, elementwise: relative error,
#: plus an absolute floor of a few ulps of O(1) values for points where the derivative is ~0.
ELEMENTWISE_RTOL = 1e-12
ELEMENTWISE_ATOL = 1e-15

#: The reference's backward pass against autograd's gradient of the whole cost, per array:
#: ``max|analytic - oracle| <= NETWORK_RTOL * max|oracle| + NETWORK_ATOL``.
NETWORK_RTOL = 1e-10
NETWORK_ATOL = 1e-14


# --------------------------------------------------------------------------- noisy functions
# Measured noise of f (gradref.checks.noise): the table of differences of f at NOISE_POINTS
# equally spaced points along each of NOISE_DIRECTIONS random directions, orders 1 to
# NOISE_MAX_ORDER. A level is read where three consecutive orders agree within a factor of
# NOISE_AGREEMENT and the differences change sign (noise, not a smooth trend). f counts as noisy
# only when that level exceeds NOISE_EXCESS times the rounding model eps * S: a smooth function's
# table reads eps * S (at most 2.6 times it, measured over sums of sin(7x), exp, quadratic and
# quartic forms, var, log-sum-exp, products, at 300 points), so its check is never loosened.
#: Points of the difference table along one direction (orders up to NOISE_POINTS - 1).
NOISE_POINTS = 9
#: Random directions the noise is measured along (the largest level found counts).
NOISE_DIRECTIONS = 3
#: Highest difference order the table uses.
NOISE_MAX_ORDER = 6
#: Three consecutive orders' noise estimates agree when max / min is at most this.
NOISE_AGREEMENT = 4.0
#: Noise is everywhere: every difference of the order read must exceed NOISE_SPREAD times
#: their root mean square. A kink or a jump concentrates its differences on the few entries
#: whose stencil straddles it (the others are rounding), so it is never taken for noise.
NOISE_SPREAD = 1e-2
#: Measured noise above NOISE_EXCESS * eps * S: f is noisy, and the check allows for it.
NOISE_EXCESS = 100.0


def _table(eps: float, autograd_rtol: float, autograd_atol: float,
           cost_rtol: float) -> dict[str, float]:
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
        # absolute floor added to every tolerance (0: none)
        "atol": 0.0,
        # analytic gradient against the autograd oracle: |a - o| <= autograd_rtol * |o|
        #   + autograd_atol * (largest |o| over the group: parameters, or intermediates) + atol
        "autograd_rtol": autograd_rtol,
        "autograd_atol": autograd_atol,
        # a cost computed in this dtype against the float64 reference: |dJ| <= cost_rtol * |J|
        "cost_rtol": cost_rtol,
    }


def _eps(dtype: type) -> float:
    return float(np.finfo(dtype).eps)


#: dtype -> named finite-difference constants (see the module docstring for their roles).
FD_TOLERANCES: dict[np.dtype, dict[str, float]] = {
    np.dtype(np.float64): _table(_eps(np.float64), 1e-10, 1e-12, 1e-10),
    np.dtype(np.float32): _table(_eps(np.float32), 1e-4, 1e-5, 1e-5),
    np.dtype(np.float16): _table(_eps(np.float16), 5e-2, 5e-3, 2e-2),
}

#: The names that follow the dtype of the function's output (finite-difference steps and
#: rounding; ``eps`` is added by :func:`tolerances_for`) ...
FUNCTION_KEYS = ("step", "step_richardson", "rounding")
#: ... and those that follow the dtype of the gradient under test.
COMPARISON_KEYS = ("safety", "rtol", "atol", "autograd_rtol", "autograd_atol", "cost_rtol")

_POSITIVE = ("step", "step_richardson", "safety", "rounding")

#: Generic kink detection (:func:`gradref.checks.kinks.one_sided_jumps`): the extrapolated jump
#: of the one-sided slopes must exceed this fraction of their gap at step h. Smooth: the gap
#: halves with h and the jump is ~0; at a kink the jump is ~the gap; a kink δ from the point
#: gives a ratio (1 - 3δ/h)/(1 - δ/h), above 1/2 for δ < h/5.
KINK_JUMP_RATIO = 0.5


def _key(dtype: object, name: str) -> np.dtype:
    try:
        key = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a NumPy floating dtype, got {dtype!r}") from None
    if key not in FD_TOLERANCES:
        raise ValueError(f"no tolerance table for {name} {key}; available: "
                         f"{', '.join(str(k) for k in FD_TOLERANCES)}")
    return key


def least_precise(*values: object) -> np.dtype:
    """The least precise floating dtype among ``values`` (arrays, array-likes, scalars or
    dtypes): the one with the largest machine epsilon that has a table. Values that are not
    floating (integers, ``None``, Python floats, lists of them) do not count; float64 when
    none does. A dtype finer than float64 (longdouble) counts as float64."""
    found = np.dtype(np.float64)
    for v in values:
        if v is None:
            continue
        if isinstance(v, np.dtype) or (isinstance(v, type) and issubclass(v, np.generic)):
            dt = np.dtype(v)
        else:
            dt = getattr(v, "dtype", None)
            if not isinstance(dt, np.dtype):
                continue
        if not np.issubdtype(dt, np.floating) or dt not in FD_TOLERANCES:
            continue
        if np.finfo(dt).eps > np.finfo(found).eps:
            found = dt
    return found


def keyword_tolerances(*, eps: float | None = None, atol: float | None = None,
                       rtol: float | None = None) -> dict[str, float]:
    """The overrides that the ``eps``/``atol``/``rtol`` keywords stand for (module docstring);
    ``None`` leaves a name alone. Raises ``TypeError``/``ValueError`` naming the keyword for a
    value that is not a finite number (``eps`` > 0, the others >= 0)."""
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (name == "eps" and value == 0):
            raise ValueError(f"{name} must be a finite number {'> 0' if name == 'eps' else '>= 0'}"
                             f", got {value!r}")
    out: dict[str, float] = {}
    if eps is not None:
        out["step"] = out["step_richardson"] = eps
    if atol is not None:
        out["atol"] = atol
    if rtol is not None:
        out["rtol"] = out["autograd_rtol"] = rtol
    return out


def tolerances_for(dtype: object = np.float64, *, function_dtype: object = None,
                   overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The tolerance table for a gradient of ``dtype`` checked against finite differences of
    a function computing in ``function_dtype`` (default: ``dtype``), with ``overrides``
    merged in: a new dict holding every name of the table plus ``"eps"``, the machine epsilon
    of ``function_dtype``.

    Raises ``TypeError``/``ValueError`` for a dtype without a table, an unknown override name,
    or a value that is not a finite number (steps, safety and rounding must be > 0; the others
    >= 0).
    """
    key = _key(dtype, "dtype")
    fkey = key if function_dtype is None else _key(function_dtype, "function_dtype")
    merged = dict(FD_TOLERANCES[key])
    merged.update({k: FD_TOLERANCES[fkey][k] for k in FUNCTION_KEYS})
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
    merged["eps"] = _eps(fkey)
    return merged


def fd_tolerances(dtype: object = np.float64,
                  overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """:func:`tolerances_for` with one dtype for the gradient and the function."""
    return tolerances_for(dtype, overrides=overrides)


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
