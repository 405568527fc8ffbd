r"""Directional checks, and bisection that localises a failing one down to the element.

For a direction :math:`v \in \mathbb R^P` (Rademacher :math:`v_i = \pm1`, or Gaussian
:math:`v_i \sim N(0,1)`), with the steps actually taken :math:`d_\pm = \mathrm{fl}(\theta \pm
h v) - \theta`:

.. math::

    D(h) = \frac{J(\theta + d_+) - J(\theta - d_-)}{2h}
    \quad\text{against}\quad a\cdot\frac{d_+ + d_-}{2h} \approx \nabla J\cdot v,

with :math:`h = s\max(1, \lVert\theta\rVert_\infty)/\lVert v\rVert_\infty` (no coordinate
moves by more than its elementwise step), the error estimate of :mod:`gradref.checks.finite_diff`
(:math:`\tfrac43|D(h)-D(h/2)|` plus rounding) and kink detection — for a network on every
pre-activation, for any other function from the one-sided differences along v — with the
one-sided intervals of :mod:`gradref.checks.kinks`. A draw costs 4 evaluations (6 when a kink
is crossed). Along v a function of unknown structure may cross several kinks at once, whose
conventions no one-sided interval bounds; such a draw, when outside its interval, is settled by
the element bisection lands on: a wrong element fails it, an element within its tolerance (or
at a kink, inside its one-sided slopes) leaves it *unverified*.

Localisation. If a draw fails, its discrepancy :math:`\Delta = a\cdot v - D(h)` is split over
parameter blocks: first whole arrays (``W1``, ``b1``, …; a block spanning several arrays is cut
at the array boundary nearest its middle), then halves of an array's elements. For a block
:math:`B` with :math:`v_B` (v restricted to B, zero elsewhere) the restricted discrepancy
:math:`\Delta_B = a\cdot v_B - D_B(h)` costs two evaluations; the other half's is
:math:`\Delta - \Delta_B` (directional derivatives are linear in v). Following the larger half
reaches one element in :math:`\lceil\log_2 P\rceil` levels, :math:`2\lceil\log_2 P\rceil`
evaluations, where an elementwise check confirms it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from .finite_diff import Estimate, Packer, combine, judge, scalar_value
from .kinks import crosses, one_sided_jumps
from .result import Draw, Localisation

__all__ = ["DIRECTIONS", "direction", "directions", "FunctionObjective", "NetworkObjective", "check_draw",
           "localise"]

#: The direction distributions.
DIRECTIONS = ("rademacher", "gaussian")


def direction(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """One direction of ``size`` entries: Rademacher (±1) or standard Gaussian."""
    if kind == "rademacher":
        return rng.integers(0, 2, size=size).astype(np.float64) * 2.0 - 1.0
    if kind == "gaussian":
        return rng.standard_normal(size)
    raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {kind!r}")


#: Up to this size the first directions are also made linearly independent (a rank test on a
#: small matrix); beyond it a Rademacher draw repeats up to sign with probability 2^(1-P).
INDEPENDENT_UP_TO = 64
#: Rejected draws per direction before the deterministic fallback (Sylvester-Hadamard rows).
_TRIES = 64


def _hadamard_rows(size: int) -> np.ndarray:
    """The rows of the Sylvester-Hadamard matrix of order 2^k >= size, cut to ``size``
    columns: pairwise orthogonal before the cut, so they hold a basis of R^size after it."""
    h = np.ones((1, 1))
    while h.shape[0] < size:
        h = np.block([[h, h], [h, -h]])
    return h[:, :size]


def _key(v: np.ndarray) -> bytes:
    """The same bytes for v and -v (directions equal up to sign check the same thing)."""
    return (v if v[0] > 0 else -v).tobytes()


def directions(rng: np.random.Generator, size: int, count: int, kind: str) -> np.ndarray:
    r"""``count`` directions of ``size`` entries, as rows, that span what they can.

    Gaussian: independent :math:`N(0, I)` draws (linearly independent with probability 1; the
    sensitivity statement of :func:`~gradref.checks.tolerances.sensitivity` assumes exactly
    these). Rademacher (:math:`\pm1`): no direction repeats another up to sign while distinct
    ones remain (:math:`2^{P-1}` of them: a repetition checks nothing new), and for
    :math:`P \le` :data:`INDEPENDENT_UP_TO` the first :math:`\min(P, 	ext{count})` are linearly
    independent - for :math:`P \le 	ext{count}` a basis of :math:`\mathbb R^P`, so every
    nonzero gradient error has a direction that sees it (a 3-element error summing to zero
    is invisible along (1, 1, 1) only). Random signs are drawn and rejected when they break
    this; after :data:`_TRIES` rejections the rows of a Sylvester-Hadamard matrix, in random
    order and with random signs, are taken (they contain a basis). A draw that breaks nothing
    is kept, so for large P the directions are those of :func:`direction` in sequence."""
    if kind == "gaussian":
        return np.stack([direction(rng, size, kind) for _ in range(count)]) if count else \
            np.zeros((0, size))
    if kind != "rademacher":
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {kind!r}")
    distinct = 2 ** (size - 1) if size <= 62 else math.inf
    independent = min(size, count) if size <= INDEPENDENT_UP_TO else 0
    rows: list[np.ndarray] = []
    seen: set[bytes] = set()

    def acceptable(v: np.ndarray) -> bool:
        if len(seen) < distinct and _key(v) in seen:
            return False
        if len(rows) < independent:
            return np.linalg.matrix_rank(np.vstack([*rows, v])) == len(rows) + 1
        return True

    for _ in range(count):
        for _try in range(_TRIES):
            v = direction(rng, size, kind)
            if acceptable(v):
                break
        else:
            if size > INDEPENDENT_UP_TO:      # 64 repeats of 2^(P-1) choices: not reached
                rows.append(v)
                seen.add(_key(v))
                continue
            order = rng.permutation(_hadamard_rows(size).shape[0])
            candidates = _hadamard_rows(size)[order] * rng.choice([-1.0, 1.0], size=size)
            v = next((c for c in candidates if acceptable(c)), v)
        rows.append(v)
        seen.add(_key(v))
    return np.stack(rows) if rows else np.zeros((0, size))


class FunctionObjective:
    r"""A scalar function of a flat vector: ``obj(theta) -> (f(theta) - f(theta0), None,
    None)`` (no per-example split, no kink information).

    The rounding scale S is ``f_scale`` when given; otherwise the larger of :math:`|f(\theta)|`
    and :math:`|\sum_i |\theta_i| s_i g_i|`, measured (two evaluations) as the derivative along
    :math:`u = |\theta| \odot s` with ``signs`` s those of the gradient under test. It is at most
    :math:`\sum_i |\theta_i g_i|`, the terms of f's linear part that a root of f cancels: wrong
    signs can only make it smaller, so the gradient under test never loosens its own check.
    """

    def __init__(self, f: Callable[[np.ndarray], float], theta: np.ndarray, eps: float,
                 f_scale: float | None = None, signs: np.ndarray | None = None) -> None:
        self.f = f
        self.f0 = scalar_value(f, theta.copy())
        self.evaluations = 1
        scale = abs(self.f0) if f_scale is None else float(f_scale)
        if f_scale is None and signs is not None:
            scale = max(scale, self._linear_terms(theta, signs, eps))
        self.noise = eps * scale

    def _linear_terms(self, theta: np.ndarray, signs: np.ndarray, eps: float) -> float:
        t = eps ** (1.0 / 3.0)
        u = np.abs(theta) * np.asarray(signs, dtype=theta.dtype)
        plus, minus = theta + t * u, theta - t * u
        self.evaluations += 2
        with np.errstate(all="ignore"):
            d = abs(scalar_value(self.f, plus) - scalar_value(self.f, minus)) / (2.0 * t)
        return d if math.isfinite(d) else 0.0

    def __call__(self, theta: np.ndarray):
        self.evaluations += 1
        return scalar_value(self.f, theta) - self.f0, None, None


class NetworkObjective:
    r"""A network's cost as a function of its flat parameter vector: ``obj(theta)`` returns
    :math:`J(\theta) - J(\theta_0)`, the per-example parts
    :math:`(\ell_i(\theta) - \ell_i(\theta_0))/m` and, per layer with kinks, which units
    changed branch (boolean (n_l, m) arrays)."""

    def __init__(self, net, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
                 packer: Packer, eps: float, gains: Mapping[str, np.ndarray] | None = None
                 ) -> None:
        from .network_fd import noise_scale

        self.net, self.X, self.Y, self.packer = net, X, Y, packer
        P = packer.unpack(packer.pack(params))
        _, self.cache0 = net._forward(P, X)
        self.m = X.shape[1]
        self.losses0 = net._losses(self.cache0, Y)
        self.f0 = net._cost(P, self.cache0, Y)
        l2 = sum(float(np.sum(P[f"W{l}"] ** 2)) for l in range(1, net.L + 1)) if net.l2 else 0.0
        self.noise = eps * (float(np.mean(noise_scale(net, P, self.cache0, Y, gains)))
                            + net.l2 / (2.0 * self.m) * l2)
        self.kinks = {l: a.kinks for l, a in enumerate(net.activations, start=1) if a.kinks}
        self.evaluations = 1

    def __call__(self, theta: np.ndarray):
        self.evaluations += 1
        P = self.packer.unpack(theta)
        _, cache = self.net._forward(P, self.X)
        J = self.net._cost(P, cache, self.Y)
        ex = (self.net._losses(cache, self.Y) - self.losses0) / self.m
        keys = {l: self.net.activation_input(l) for l in self.kinks}
        crossed = [crosses(cache[keys[l]], self.cache0[keys[l]], k) for l, k in self.kinks.items()]
        return J - self.f0, ex, crossed


def _sweep(obj, theta: np.ndarray, v: np.ndarray, h: float, levels: list[int]):
    """Evaluate at θ ± h v / 2^s for s in ``levels``; returns per level the differences, the
    effective half-displacements, per-example parts and the union of kink crossings."""
    out = []
    for s in levels:
        t = h / 2.0 ** s
        plus, minus = theta + t * v, theta - t * v
        fp, ep, cp = obj(plus)
        fm, em, cm = obj(minus)
        out.append((fp, -fm, plus - theta, theta - minus, ep, None if em is None else -em,
                    cp, cm))
    return out


def check_draw(obj, theta: np.ndarray, analytic: np.ndarray, v: np.ndarray, index: int,
               tol: Mapping[str, float]) -> tuple[Draw, float]:
    r"""Compare :math:`a\cdot v` with the central difference along ``v``. Returns the
    :class:`~gradref.checks.result.Draw` and the step h used."""
    vmax = float(np.max(np.abs(v))) if v.size else 1.0
    h = tol["step"] * max(1.0, float(np.max(np.abs(theta))) if theta.size else 1.0) / vmax
    rows = _sweep(obj, theta, v, h, [0, 1])
    union = _union([r[6] for r in rows] + [r[7] for r in rows])
    kink = union is not None and any(np.any(u) for u in union)
    if union is None:   # a function of unknown structure: the one-sided differences tell
        hs = np.array([[h], [h / 2.0]])
        kink = bool(one_sided_jumps(np.array([[r[0]] for r in rows]),
                                    np.array([[r[1]] for r in rows]), hs, hs,
                                    np.array([tol["rounding"] * obj.noise / h]),
                                    tol["safety"])[0])
    if kink:
        rows += _sweep(obj, theta, v, h, [2])
        union = _union([union] + [r[6] for r in rows[2:]] + [r[7] for r in rows[2:]])
    dplus = np.array([[r[0]] for r in rows])
    dminus = np.array([[r[1]] for r in rows])
    hplus = np.full((len(rows), 1), h) / (2.0 ** np.arange(len(rows)))[:, None]
    examples = None
    if kink and rows[0][4] is not None:
        counts = sum(np.sum(u, axis=0) for u in union) if union else np.zeros(len(rows[0][4]))
        examples = (np.array([r[4] for r in rows])[:, None, :],
                    np.array([r[5] for r in rows])[:, None, :],
                    np.asarray(counts, dtype=np.int64)[None, :])
    numeric, error, _, lower, upper, unverified = combine(
        dplus, dminus, hplus, hplus.copy(), obj.noise, np.array([kink]), tol, 2, examples)
    disp = rows[0][2] + rows[0][3]
    a_dir = float(np.dot(analytic, disp) / (2.0 * h))
    scale = float(np.dot(np.abs(analytic), np.abs(disp)) / (2.0 * h))
    est = Estimate(np.zeros(1, dtype=np.intp), numeric, error, np.array([h]), np.array([kink]),
                   lower, upper, unverified)
    verdict = judge(np.array([a_dir]), est, {**tol, "rtol": 0.0})
    bound = float(verdict.tol[0]) + tol["rtol"] * scale
    err = float(verdict.err[0])
    failed = bool(not (err <= bound)) and not bool(verdict.unverified[0])
    return Draw(index, a_dir, float(numeric[0]), err, bound, kink=bool(kink),
                unverified=bool(verdict.unverified[0]),
                lower=float(lower[0]) if kink else None,
                upper=float(upper[0]) if kink else None, failed=failed), h


def _union(masks):
    masks = [m for m in masks if m is not None]
    if not masks or masks[0] is None:
        return None
    if isinstance(masks[0], list):
        out = [np.array(x, copy=True) for x in masks[0]]
        for mm in masks[1:]:
            for i, x in enumerate(mm):
                out[i] |= x
        return out
    return masks


def _split(lo: int, hi: int, boundaries: list[int]) -> int:
    inside = [b for b in boundaries if lo < b < hi]
    if inside:
        mid = 0.5 * (lo + hi)
        return min(inside, key=lambda b: (abs(b - mid), b))
    return (lo + hi) // 2


def _block_name(packer: Packer, lo: int, hi: int) -> str:
    first, _ = packer.locate(lo)
    last, _ = packer.locate(hi - 1)
    if first != last:
        return f"{first}..{last}"
    off = packer.offsets[packer.names.index(first)]
    return f"{first}[{lo - off}:{hi - off}]"


def localise(obj, theta: np.ndarray, analytic: np.ndarray, v: np.ndarray, h: float,
             draw: Draw, packer: Packer,
             element_check: Callable[[int], tuple[float, float, bool]]) -> Localisation:
    r"""Bisect the discrepancy of a failing ``draw`` over parameter blocks (module
    docstring) and check the element it ends on with ``element_check(flat_index) ->
    (numeric, tol, failed)`` or ``(numeric, tol, failed, (lower, upper))`` when the element is
    at a kink."""
    start = obj.evaluations
    delta = draw.analytic - draw.numeric
    lo, hi = 0, theta.size
    boundaries = [*packer.offsets[1:], packer.size]
    path = [_block_name(packer, lo, hi)]
    while hi - lo > 1:
        cut = _split(lo, hi, boundaries)
        vb = np.zeros_like(v)
        vb[lo:cut] = v[lo:cut]
        fp, _, _ = obj(theta + h * vb)
        fm, _, _ = obj(theta - h * vb)
        disp = (theta + h * vb) - (theta - h * vb)
        left = float(np.dot(analytic, disp) / (2.0 * h)) - (fp - fm) / (2.0 * h)
        right = delta - left
        if abs(left) >= abs(right):
            hi, delta = cut, left
        else:
            lo, delta = cut, right
        path.append(_block_name(packer, lo, hi))
    evaluations = obj.evaluations - start
    checked = element_check(lo)
    numeric, tol_i, failed = checked[:3]
    interval = checked[3] if len(checked) > 3 else None
    name, index = packer.locate(lo)
    return Localisation(draw.index, name, index, float(analytic[lo]), float(numeric),
                        float(tol_i), bool(failed), evaluations, path, interval=interval)
