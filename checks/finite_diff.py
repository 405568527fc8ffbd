r"""Generic central differences with a measured error estimate for every element.

For a scalar function :math:`f` of a flat vector :math:`\theta` and a coordinate :math:`i`,
with relative step :math:`s` (see :mod:`gradref.checks.tolerances`):

.. math::

    h = s \max(1, |\theta_i|), \qquad
    h_\pm = \mathrm{fl}(\theta_i \pm h) - \theta_i \quad\text{(the steps actually taken)},

    D(h) = \frac{f(\theta + h_+ e_i) - f(\theta - h_- e_i)}{h_+ + h_-} = g_i + c h^2 + O(h^4).

Second order (``order=2``): the estimate is :math:`D(h)`; its truncation error is measured as
:math:`\tfrac43|D(h) - D(h/2)|`. Fourth order (``order=4``, Richardson): with
:math:`R(h) = (4D(h/2) - D(h))/3 = g_i + O(h^4)` the estimate is :math:`R(h)` and its truncation
error :math:`\tfrac{16}{15}|R(h) - R(h/2)|` (steps h, h/2, h/4; the step is
:math:`\varepsilon^{1/5}`-scaled). The rounding error of :math:`D(h)` is
:math:`c_r\,\varepsilon S/h` (three times that for :math:`R`), with :math:`S` the magnitude of
the quantities :math:`f` is computed from.

Elements flagged as crossing a kink get an interval of one-sided slopes instead (see
:mod:`gradref.checks.kinks`).

The same combination (:func:`combine`) serves this generic loop and the network-aware fast
mode (:mod:`gradref.checks.network_fd`), which feed it differences :math:`f(\theta \pm h e_i) - f(\theta)`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .arraylike import to_numpy
from .kinks import example_intervals, one_sided_jumps
from .tolerances import fd_tolerances

__all__ = ["Estimate", "Packer", "levels", "relative_steps", "combine", "judge", "Judgement",
           "magnitude",
           "central_differences", "scalar_value"]


@dataclass
class Estimate:
    """Finite-difference estimates of ∂f/∂θ_i for the coordinates ``index`` (flat indices).

    ``numeric`` is the estimate, ``error`` the estimated |numeric - true| (truncation plus
    rounding, before the safety factor), ``step`` the step h used. For elements where a kink
    was crossed (``kink``), ``lower``/``upper`` bound the one-sided slopes and ``error`` is the
    rounding allowance of that interval; elsewhere they are NaN. ``unverified`` marks kink
    elements that finite differences cannot judge (several kinked units crossed within one
    example, so the one-sided slopes do not bound every subgradient convention).
    """

    index: np.ndarray
    numeric: np.ndarray
    error: np.ndarray
    step: np.ndarray
    kink: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    unverified: np.ndarray
    evaluations: int = 0
    seconds: float = 0.0
    order: int = 2

    @classmethod
    def concatenate(cls, parts: list[Estimate]) -> Estimate:
        """One estimate from several (e.g. chunks), in order."""
        if not parts:
            return cls.empty()
        cat = {name: np.concatenate([getattr(p, name) for p in parts])
               for name in ("index", "numeric", "error", "step", "kink", "lower", "upper",
                            "unverified")}
        return cls(**cat, evaluations=sum(p.evaluations for p in parts),
                   seconds=sum(p.seconds for p in parts), order=parts[0].order)

    @classmethod
    def empty(cls, order: int = 2) -> Estimate:
        z = np.zeros(0)
        b = np.zeros(0, dtype=bool)
        return cls(np.zeros(0, dtype=np.intp), z, z, z, b, z, z, b, order=order)


# --------------------------------------------------------------------------- flat vectors
@dataclass
class Packer:
    """Flattens a dict of arrays ``{"W1": …, "b1": …}`` (in its key order) to one vector.

    ``offsets[k]`` is where array ``names[k]`` starts in the flat vector.
    """

    names: list[str]
    shapes: list[tuple[int, ...]]
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.float64))

    @classmethod
    def of(cls, arrays: Mapping[str, np.ndarray]) -> Packer:
        arrays = dict(arrays)
        dtypes = [np.asarray(a).dtype for a in arrays.values()]
        dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
        if not np.issubdtype(dtype, np.floating):
            dtype = np.dtype(np.float64)
        return cls(list(arrays), [np.shape(a) for a in arrays.values()], np.dtype(dtype))

    @property
    def sizes(self) -> list[int]:
        return [int(np.prod(s, dtype=np.int64)) for s in self.shapes]

    @property
    def offsets(self) -> list[int]:
        return [0, *np.cumsum(self.sizes).tolist()][:-1]

    @property
    def size(self) -> int:
        return int(sum(self.sizes))

    def pack(self, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        if not self.names:
            return np.zeros(0, dtype=self.dtype)
        return np.concatenate([np.asarray(arrays[k], dtype=self.dtype).ravel()
                               for k in self.names])

    def unpack(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for name, shape, off, size in zip(self.names, self.shapes, self.offsets, self.sizes, strict=False):
            out[name] = flat[off:off + size].reshape(shape)
        return out

    def locate(self, flat_index: int) -> tuple[str, tuple[int, ...]]:
        """``(name, multi-index)`` of a flat index."""
        for name, shape, off, size in zip(self.names, self.shapes, self.offsets, self.sizes, strict=False):
            if off <= flat_index < off + size:
                return name, tuple(int(i) for i in np.unravel_index(flat_index - off, shape))
        raise IndexError(f"flat index {flat_index} outside [0, {self.size})")


# --------------------------------------------------------------------------- steps
def levels(order: int) -> int:
    """Number of step sizes h, h/2, … that ``order`` needs (2 for order 2, 3 for order 4)."""
    if order == 2:
        return 2
    if order == 4:
        return 3
    raise ValueError(f"order must be 2 (central) or 4 (Richardson), got {order!r}")


def relative_steps(theta: np.ndarray, tol: Mapping[str, float], order: int) -> np.ndarray:
    r""":math:`h_i = s\max(1, |\theta_i|)`, :math:`s` = ``step`` (order 2) or
    ``step_richardson`` (order 4)."""
    s = tol["step"] if order == 2 else tol["step_richardson"]
    return s * np.maximum(1.0, np.abs(np.asarray(theta, dtype=np.float64)))


# --------------------------------------------------------------------------- combination
def combine(dplus: np.ndarray, dminus: np.ndarray, hplus: np.ndarray, hminus: np.ndarray,
            noise: np.ndarray | float, kink: np.ndarray, tol: Mapping[str, float],
            order: int, examples: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
            ) -> tuple[np.ndarray, ...]:
    r"""Turn function differences into estimates.

    ``dplus[s] = f(θ + h_{+,s} e_i) - f(θ)`` and ``dminus[s] = f(θ) - f(θ - h_{-,s} e_i)``,
    shape (levels, n), with steps :math:`h_s = h/2^s`. ``noise`` is :math:`\varepsilon S`
    (scalar or per element). ``kink`` flags the elements whose perturbation crossed a kink.

    ``examples``, when f is a sum over examples (a network cost), is
    ``(ex_plus, ex_minus, crossings)`` for the kink elements only, in order: the per-example
    parts of their ``dplus``/``dminus``, shape (levels, n_kink, m), and the number of kinked
    units each example's perturbation crossed, shape (n_kink, m). Kink elements are then judged
    example by example
    (:func:`gradref.checks.kinks.example_intervals`); without it, the whole sum counts as one example
    with one kinked unit. Kink elements need three levels (h, h/2, h/4).

    Returns ``(numeric, error, step, lower, upper, unverified)``.
    """
    dplus, dminus = np.asarray(dplus, float), np.asarray(dminus, float)
    hplus, hminus = np.asarray(hplus, float), np.asarray(hminus, float)
    D = (dplus[:2 if order == 2 else 3] + dminus[:2 if order == 2 else 3]) / (
        hplus[:2 if order == 2 else 3] + hminus[:2 if order == 2 else 3])
    h0 = 0.5 * (hplus[0] + hminus[0])
    rounding = np.broadcast_to(tol["rounding"] * np.asarray(noise, float) / h0, h0.shape)
    if order == 2:
        numeric = D[0]
        error = (4.0 / 3.0) * np.abs(D[0] - D[1]) + rounding
    else:
        R0 = (4.0 * D[1] - D[0]) / 3.0
        R1 = (4.0 * D[2] - D[1]) / 3.0
        numeric = R0
        error = (16.0 / 15.0) * np.abs(R0 - R1) + 3.0 * rounding
    n = numeric.shape[0]
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    unverified = np.zeros(n, dtype=bool)
    kink = np.asarray(kink, bool)
    if np.any(kink):
        numeric, error = np.array(numeric, dtype=float), np.array(error, dtype=float)
        k = kink
        if examples is None:
            examples = (dplus[:, k, None], dminus[:, k, None],
                        np.ones((int(k.sum()), 1), dtype=int))
        ex_plus, ex_minus, crossings = examples
        lo, hi, err, unv = example_intervals(
            dplus[:, k], dminus[:, k], np.asarray(ex_plus), np.asarray(ex_minus),
            np.asarray(crossings), hplus[:, k], hminus[:, k], rounding[k])
        lower[k], upper[k], error[k], unverified[k] = lo, hi, err, unv
        numeric[k] = 0.5 * (lo + hi)
    return numeric, np.asarray(error, float), h0, lower, upper, unverified


@dataclass
class Judgement:
    """Per-element verdicts: ``err`` = |analytic - numeric| (for a kink element, the distance
    from the analytic value to the one-sided interval), ``tol`` its tolerance, ``failed``;
    ``kink_accepted`` (at a kink, inside the interval) and ``unverified`` (at a kink that finite
    differences cannot judge: neither failed nor accepted)."""

    err: np.ndarray
    tol: np.ndarray
    failed: np.ndarray
    kink_accepted: np.ndarray
    unverified: np.ndarray


def magnitude(values: np.ndarray) -> float:
    """The largest finite :math:`|v|` (0 when there is none)."""
    v = np.abs(np.asarray(values, dtype=np.float64))
    return float(np.max(v[np.isfinite(v)], initial=0.0))


def judge(analytic: np.ndarray, est: Estimate, tol: Mapping[str, float],
          scale: float | None = None) -> Judgement:
    r"""Compare analytic values with ``est``: element i fails when
    :math:`|a_i - n_i| > \kappa\,\hat e_i + r\max(|a_i|, G) + a` (at a kink: when
    :math:`a_i` lies farther than that from :math:`[\mathrm{lower}_i, \mathrm{upper}_i]`).
    :math:`G` = ``scale``, the magnitude of the array the elements belong to (default: the
    largest finite :math:`|a_i|` given): an element computed in a precision of relative
    rounding r is off by about r times the size of the terms it sums, not r times its own
    value, which can be ~0. Non-finite values always fail; unverifiable kink elements never
    do."""
    a = np.asarray(analytic, dtype=np.float64)
    G = magnitude(a) if scale is None else float(scale)
    with np.errstate(invalid="ignore", over="ignore"):
        bound = tol["safety"] * est.error + tol["rtol"] * np.maximum(np.abs(a), G) + tol["atol"]
        err = np.abs(a - est.numeric)
        if np.any(est.kink):
            k = est.kink
            outside = np.maximum(np.maximum(est.lower[k] - a[k], a[k] - est.upper[k]), 0.0)
            err = err.copy()
            err[k] = outside
        failed = ~(err <= bound)  # NaN compares False: non-finite fails
    failed |= ~np.isfinite(a) | ~np.isfinite(est.numeric)
    unverified = est.unverified & np.isfinite(a)
    failed &= ~unverified
    return Judgement(err=err, tol=bound, failed=failed,
                     kink_accepted=est.kink & ~failed & ~unverified, unverified=unverified)


# --------------------------------------------------------------------------- generic loop
def scalar_value(f: Callable, x: object, what: str = "f") -> float:
    """``float(f(x))``, refusing results that are not real scalars with an error naming f.
    Array-likes are read as :func:`gradref.checks.arraylike.to_numpy` does (a 0-d tensor)."""
    value = f(x)
    try:
        arr, _ = to_numpy(value, f"{what}(x)")
    except TypeError:
        arr = np.asarray(value, dtype=object)
    if arr.size != 1 or not (np.issubdtype(arr.dtype, np.floating)
                             or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{what} must return a real scalar, got {type(value).__name__} "
                        f"of shape {arr.shape} and dtype {arr.dtype}")
    return float(arr.reshape(()))


def central_differences(f: Callable[[np.ndarray], float], theta: np.ndarray, *,
                        indices: np.ndarray | None = None, order: int = 2,
                        tolerances: Mapping[str, float] | None = None,
                        f_scale: float | None = None, f0: float | None = None,
                        detect_kinks: bool = True) -> Estimate:
    r"""Central differences of a scalar ``f`` of the flat vector ``theta`` (float32 or
    float64), one coordinate at a time, with the error estimate of the module docstring.

    ``f`` receives a perturbed copy of ``theta``. ``indices``: the flat coordinates to
    estimate (default all). ``f_scale``: :math:`S`, the magnitude of the quantities f is
    computed from (default: the largest of :math:`|f(\theta)|`, the values f takes at the
    steps, and :math:`\sum_i |\theta_i D_i|` over the estimated coordinates, the terms of f's
    linear part, which is what a root of f cancels); raise it when f cancels larger terms
    (a loss minus its value at a reference point).
    ``f0``: :math:`f(\theta)` when the caller has it already (saves one evaluation).
    ``detect_kinks``: find the elements at a kink from the one-sided differences
    (:func:`gradref.checks.kinks.one_sided_jumps`) and judge them by the interval of one-sided
    slopes; they cost two more evaluations each (the step h/4) in second order.
    """
    theta = np.asarray(theta)
    if theta.ndim != 1:
        raise ValueError(f"theta must be a flat vector, got shape {theta.shape}")
    tol = fd_tolerances(theta.dtype) if tolerances is None else tolerances
    nlev = levels(order)
    start = time.perf_counter()
    idx = np.arange(theta.size) if indices is None else np.asarray(indices, dtype=np.intp)
    work = theta.copy()
    known = f0 is not None
    f0 = float(f0) if known else scalar_value(f, work)
    evaluations = 0 if known else 1
    scale = abs(f0) if f_scale is None else float(f_scale)
    if not math.isfinite(scale):
        scale = math.inf
    h = relative_steps(theta[idx], tol, order)
    dplus, dminus, hplus, hminus = (np.full((3, idx.size), np.nan) for _ in range(4))

    def sweep(columns, steps):
        for c in columns:
            i, xi = idx[c], work[idx[c]]
            for s in steps:
                hs = h[c] / 2.0 ** s
                work[i] = xi + hs
                hplus[s, c] = float(work[i]) - float(xi)
                dplus[s, c] = scalar_value(f, work) - f0
                work[i] = xi - hs
                hminus[s, c] = float(xi) - float(work[i])
                dminus[s, c] = f0 - scalar_value(f, work)
            work[i] = xi
        return 2 * len(steps) * len(columns)

    evaluations += sweep(range(idx.size), range(nlev))
    if f_scale is None and idx.size:
        # Near a root of f, |f(θ)| says nothing of the terms f sums. The θ_i ∂f/∂θ_i of the
        # estimated coordinates are such terms (a linear f is Σ θ_i g_i): S is at least their sum.
        with np.errstate(all="ignore"):
            terms = np.abs(theta[idx].astype(np.float64) * (dplus[0] + dminus[0])
                           / (hplus[0] + hminus[0]))
        scale = max(scale, float(np.sum(terms[np.isfinite(terms)])))
    kink = np.zeros(idx.size, bool)
    # rounding: eps times the largest of S and the values f took (|f(θ)| alone can be ~0)
    big = np.max(np.abs(np.concatenate([f0 + dplus[:nlev], f0 - dminus[:nlev]])), axis=0,
                 initial=0.0)
    noise = tol["eps"] * np.maximum(scale, np.where(np.isfinite(big), big, scale))
    if detect_kinks and idx.size:
        h0 = 0.5 * (hplus[0] + hminus[0])
        kink = one_sided_jumps(dplus, dminus, hplus, hminus, tol["rounding"] * noise / h0,
                               tol["safety"])
        if nlev < 3 and np.any(kink):
            evaluations += sweep(np.flatnonzero(kink), [2])
    numeric, error, step, lower, upper, unverified = combine(
        dplus, dminus, hplus, hminus, noise, kink, tol, order)
    return Estimate(idx, numeric, error, step, kink, lower, upper, unverified,
                    evaluations=evaluations, seconds=time.perf_counter() - start, order=order)
