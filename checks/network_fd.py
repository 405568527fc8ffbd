r"""Network-aware elementwise finite differences: every parameter, fast, and honest.

A naive check runs a forward pass from the input for each perturbed parameter: :math:`O(P)`
passes through the whole network. Here the cached forward pass is reused. Perturbing
:math:`W_l[j,k]` by :math:`h` changes only row j of :math:`Z_l`,

.. math::

    Z_l' = Z_l + e_j\,(h\,A_{l-1}[k,:]), \qquad
    A_l' = A_l + e_j\,\big(g_l(Z_l[j,:] + h A_{l-1}[k,:]) - A_l[j,:]\big),

    Z_{l+1}' = Z_{l+1} + W_{l+1}[:,j]\,\big(A_l'[j,:] - A_l[j,:]\big)
    \quad\text{(a rank-1 update)},

and :math:`b_l[j]` likewise with :math:`h\mathbf 1^\top`. The layers below are not recomputed,
layer l+1 costs a rank-1 update instead of a matrix product, and the layers above run once per
chunk of coordinates as batched matrix products (the chunk stacks the perturbed copies side by
side: :math:`(n, C\cdot m)` matrices, memory bounded by ``chunk_elements``). The cost is the
real one: the network's own activations (``activation.value``) and per-example losses
(``net._losses``) evaluated on the perturbed outputs, and

.. math::

    J(\theta \pm h e_i) - J(\theta) = \frac1m\sum_{i=1}^m \big(\ell_i^{\pm} - \ell_i\big)
    + \frac{\lambda}{2m}\big((w \pm h)^2 - w^2\big),

so nothing is linearised: this is a finite difference of :math:`J`, only computed without
redoing the unchanged work. Every coordinate gets the steps h and h/2 (and h/4 for order 4) of
:mod:`gradref.checks.finite_diff`, its error estimate, and kink detection on every perturbed
pre-activation (:mod:`gradref.checks.kinks`).

Intermediates are done the same way: :math:`dZ_l[j,i] = m\,\partial J/\partial E_l[j,i]` for an
additive perturbation :math:`E_l` of :math:`Z_l` (only example i changes: its loss difference,
not divided by m), and :math:`dA_l[j,i]` through :math:`Z_{l+1}' = Z_{l+1} + W_{l+1}[:,j]\,h
e_i^\top`.

:func:`naive_elementwise` is the plain per-parameter loop (a full forward pass per evaluation),
kept as the independent reference that the fast mode is tested and timed against.
"""

from __future__ import annotations

import ctypes
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np
from gradref.reference import Network

from .finite_diff import Estimate, combine, levels, relative_steps
from .kinks import crosses
from .tolerances import fd_tolerances

__all__ = ["NetworkFD", "naive_elementwise", "noise_scale", "blas_threads", "CHUNK_ELEMENTS"]

#: Upper bound on the number of float64 entries of one stacked pre-activation array
#: (n_l × chunk × m); 2**17 entries = 1 MiB, small enough to stay in cache.
CHUNK_ELEMENTS = 2 ** 17


_SETTERS: list = []


def _openblas_threads_api():
    """``(get, set)`` of the OpenBLAS that NumPy loaded, or None (another BLAS, or no
    ``/proc``): found by its exported ``*_get_num_threads``/``*_set_num_threads``."""
    if _SETTERS:
        return _SETTERS[0]
    found = None
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", fh.read())))
    except OSError:
        paths = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", "_64_", ""):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None and found is None:
                    found = (get, put)
    _SETTERS.append(found)
    return found


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Run the body with OpenBLAS limited to ``n`` threads (restored afterwards); a no-op for
    ``None`` or when NumPy's BLAS is not an OpenBLAS this can find.

    The stacked products here are many and mid-sized: OpenBLAS's thread start-up and spinning
    costs more than it saves on them, several times over when the cores are shared.
    """
    api = _openblas_threads_api() if n is not None else None
    if api is None:
        yield
        return
    get, put = api
    old = int(get())
    put(int(n))
    try:
        yield
    finally:
        put(old)


def noise_scale(net: Network, params: Mapping[str, np.ndarray], cache: Mapping[str, np.ndarray],
                Y: np.ndarray, gains: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    r"""Per-example magnitude :math:`s_i` of the rounding in :math:`\ell_i`, so that a
    recomputed loss is off by about :math:`\varepsilon s_i`.

    The loss itself:

    .. math::

        s_i^{\text{loss}} = |\ell_i| + \sum_k \big(|Z_L| + |A_L| + |Y|\big)_{ki}\,
              \max\big(1, |A_L - Y|_{ki}\big)

    (a fused loss such as :math:`\log\sum e^{z} - z_y` cancels terms of size :math:`|z|`; a
    squared error :math:`(a-y)^2` has rounding about :math:`2|a-y|\,\varepsilon(|a|+|y|)`).
    With ``gains``, the per-example sensitivities :math:`|\partial\ell_i/\partial Z_l|` and
    :math:`|\partial\ell_i/\partial A_l|` (keys ``"dZ1"`` …, ``"dA1"`` …, from any source:
    they only scale a rounding allowance), the rounding of every layer is added, carried to
    the loss by its sensitivity:

    .. math::

        s_i \mathrel{+}= \sum_l \sum_u |dZ_l|_{ui}\,\big(|W_l|\,|A_{l-1}| + |b_l|\big)_{ui}
              + |dA_l|_{ui}\,\big(|A_l| + |Z_l|\big)_{ui}

    (a matrix product rounds relative to the sum of the magnitudes it adds; an activation such
    as GELU, :math:`\tfrac12 z(1+\tanh u)`, loses :math:`\varepsilon|z|` when
    :math:`\tanh u \approx -1`).
    """
    L = net.L
    ZL, AL = cache[f"Z{L}"], cache[f"A{L}"]
    losses = net._losses(cache, Y)
    mag = (np.abs(ZL) + np.abs(AL) + np.abs(Y)) * np.maximum(1.0, np.abs(AL - Y))
    s = np.abs(losses) + np.sum(mag, axis=0)
    if gains is not None:
        for l in range(1, L + 1):
            dZ = gains.get(f"dZ{l}")
            if dZ is not None:
                terms = (np.abs(params[f"W{l}"]) @ np.abs(cache[f"A{l - 1}"])
                         + np.abs(params[f"b{l}"]))
                s = s + np.sum(np.abs(dZ) * terms, axis=0)
            dA = gains.get(f"dA{l}") if l < L else None
            if dA is not None:
                s = s + np.sum(np.abs(dA) * (np.abs(cache[f"A{l}"]) + np.abs(cache[f"Z{l}"])),
                               axis=0)
    return s


def _gains(net: Network, params, X, Y, gains) -> dict[str, np.ndarray] | str | None:
    """The sensitivities for :func:`noise_scale`: ``gains`` if given as a dict, else the
    autograd oracle's per-example intermediates (independent of the reference's backward);
    ``"measured"`` when the oracle cannot model the network or overflows (the caller then
    measures them by finite differences)."""
    if isinstance(gains, Mapping):
        return dict(gains)
    if gains is None or gains == "measured":
        return gains
    from .oracle import oracle_gradients

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            grads = oracle_gradients(net, params, X, Y)
    except (KeyError, TypeError):
        return "measured"
    out = {k: v for k, v in grads.items() if k[1] in "ZA"}
    return out if all(np.all(np.isfinite(v)) for v in out.values()) else "measured"


def _l2_sum(net: Network, params: Mapping[str, np.ndarray]) -> float:
    return sum(float(np.sum(params[f"W{l}"] ** 2)) for l in range(1, net.L + 1))


def _start(fd, net: Network, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray,
           order: int, tolerances: Mapping[str, float] | None, gains) -> None:
    r"""What :class:`NetworkFD` and :class:`~gradref.checks.layered_fd.LayeredFD` both start
    from, set on ``fd``: the checked ``order`` (``levels``, ``order``), the tolerances
    (float64's by default), copies of the validated ``params``, ``X``, ``Y`` (``m`` examples),
    the unperturbed forward pass (``cache``), its per-example losses ``losses0``, its cost
    ``J0`` and ``l2_sum`` (:math:`\sum_l \lVert W_l\rVert^2`, 0 without L2); ``gains`` is only
    checked here (a str must be "autograd" or "measured")."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a reference Network, got {type(net).__name__}")
    fd.levels = levels(order)
    fd.order = order
    fd.tol = fd_tolerances(np.float64) if tolerances is None else dict(tolerances)
    fd.net = net
    fd.params = {k: v.copy() for k, v in net.check_params(params).items()}
    fd.X = net.check_X(X).copy()
    fd.m = fd.X.shape[1]
    fd.Y = net.check_Y(Y, fd.m).copy()
    _, fd.cache = net._forward(fd.params, fd.X)
    fd.losses0 = net._losses(fd.cache, fd.Y)
    fd.J0 = net._cost(fd.params, fd.cache, fd.Y)
    fd.l2_sum = _l2_sum(net, fd.params) if net.l2 else 0.0
    if isinstance(gains, str) and gains not in ("autograd", "measured"):
        raise ValueError(f"gains must be 'autograd', 'measured', a dict of arrays or None, "
                         f"got {gains!r}")


def _cost_noise(fd) -> float:
    r"""The cost's rounding allowance from ``fd.example_noise`` (set by the caller): the mean
    of the per-example allowances plus :math:`\varepsilon\,\lambda/(2m)\sum_l\lVert
    W_l\rVert^2` for the L2 term."""
    return float(np.mean(fd.example_noise)) + fd.tol["eps"] * fd.net.l2 / (2.0 * fd.m) * fd.l2_sum


class NetworkFD:
    """Fast elementwise finite differences of a network's cost ``J(params)`` on ``(X, Y)``.

    ``net`` is a reference :class:`~gradref.reference.Network` (only its description and unchecked
    core are used: ``_forward``, ``_losses``, the activations' ``value``); ``params``, ``X``,
    ``Y`` are validated once. ``order`` is 2 (central, steps h and h/2) or 4 (Richardson,
    h, h/2, h/4). ``tolerances``: a dict from :func:`gradref.checks.tolerances.fd_tolerances`.
    ``threads``: OpenBLAS threads while estimating (:func:`blas_threads`; None: unchanged).
    ``gains``: the per-example sensitivities that scale the rounding allowance of every layer
    (:func:`noise_scale`): ``"autograd"`` (the oracle's, default; ``"measured"`` when the
    oracle cannot model the network), ``"measured"`` (finite differences of the
    intermediates, with the loss-only allowance), a dict ``{"dZ1": …, "dA1": …}``, or None
    (the loss's rounding only).

    The counters ``evaluations`` (cost evaluations, one per perturbed copy) and ``seconds``
    accumulate over calls.
    """

    def __init__(self, net: Network, params: Mapping[str, np.ndarray], X: np.ndarray,
                 Y: np.ndarray, *, order: int = 2,
                 tolerances: Mapping[str, float] | None = None,
                 chunk_elements: int = CHUNK_ELEMENTS, threads: int | None = 1,
                 gains: Mapping[str, np.ndarray] | str | None = "autograd") -> None:
        if isinstance(chunk_elements, bool) or not isinstance(chunk_elements, int) \
                or chunk_elements < 1:
            raise ValueError(f"chunk_elements must be a positive int, got {chunk_elements!r}")
        self.chunk_elements = chunk_elements
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                    or threads < 1):
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        self.threads = threads
        _start(self, net, params, X, Y, order, tolerances, gains)
        eps = self.tol["eps"]
        self.gains = _gains(net, self.params, self.X, self.Y, gains)
        measure = self.gains == "measured"
        if measure:
            self.gains = None
        self.example_noise = eps * noise_scale(net, self.params, self.cache, self.Y,
                                               self.gains)
        self._fused = net.loss.fused_with(net.activations[-1]) is not None
        self._buffers: dict[tuple[int, int, int], np.ndarray] = {}
        self._tiles: dict[int, np.ndarray] = {}
        # distance of every cached pre-activation to the nearest kink of its activation
        self._kink_distance = {
            l: np.min([np.abs(self.cache[f"Z{l}"] - k) for k in act.kinks], axis=0)
            for l, act in enumerate(net.activations, start=1) if act.kinks}
        self.evaluations = 0
        self.seconds = 0.0
        if measure:  # the sensitivities by finite differences, with the loss-only allowance
            self.gains = {f"d{k}": self.intermediate(k).numeric.reshape(self.cache[k].shape)
                          for k in [f"Z{l}" for l in range(1, net.L + 1)]
                          + [f"A{l}" for l in range(1, net.L)]}
            self.example_noise = eps * noise_scale(net, self.params, self.cache, self.Y,
                                                   self.gains)
        self.cost_noise = _cost_noise(self)

    # ------------------------------------------------------------------ public
    def parameter(self, name: str, indices: Iterable[int] | None = None) -> Estimate:
        """Estimates of ∂J/∂``name`` (``"W2"``, ``"b1"``, …) at the flat ``indices``
        (row-major into the array; default all)."""
        if name not in self.params:
            raise ValueError(f"name must be one of {', '.join(self.params)}, got {name!r}")
        arr = self.params[name]
        idx = self._indices("indices", indices, arr.size)
        l = int(name[1:])
        if name[0] == "W":
            rows, ks = np.divmod(idx, arr.shape[1])
            base = self.cache[f"A{l - 1}"][ks]                       # (C, m)
        else:
            rows, base = idx, np.ones((idx.size, self.m))
        weights = arr.ravel()[idx] if name[0] == "W" and self.net.l2 else None
        return self._estimate_all("Z", l, idx, arr.ravel()[idx], rows, base, None, weights)

    def intermediate(self, name: str, indices: Iterable[int] | None = None) -> Estimate:
        r"""Per-example gradients :math:`m\,\partial J/\partial` ``name`` for ``"Z1"`` …
        ``"ZL"`` and ``"A0"`` … ``"A{L-1}"`` (additive perturbation of the cached value), at
        flat ``indices`` into the (n, m) array (default all)."""
        valid = [f"Z{l}" for l in range(1, self.net.L + 1)] + [f"A{l}" for l in range(self.net.L)]
        if name not in valid:
            raise ValueError(f"name must be one of {', '.join(valid)}, got {name!r}")
        arr = self.cache[name]
        idx = self._indices("indices", indices, arr.size)
        rows, cols = np.divmod(idx, self.m)
        return self._estimate_all(name[0], int(name[1:]), idx, arr.ravel()[idx], rows,
                                  np.ones((idx.size, 1)), cols, None)

    def _estimate_all(self, kind, l, idx, values, rows, base, cols, weights) -> Estimate:
        start = time.perf_counter()
        evals0 = self.evaluations
        n, S = idx.size, self.levels
        h = relative_steps(values, self.tol, self.order)
        hplus, hminus = (np.full((3, n), np.nan) for _ in range(2))
        hplus[:S], hminus[:S] = self._steps(values, h, S)
        if S == 2:   # the h/4 step, used at kinks only
            hplus[2:], hminus[2:] = self._steps(values, h / 4.0, 1)
        dplus, dminus = (np.full((3, n), np.nan) for _ in range(2))
        kink = np.zeros(n, dtype=bool)
        kinked: list[tuple[np.ndarray, ...]] = []
        mp = 1 if cols is not None else self.m
        scale = 1.0 if cols is not None else 1.0 / self.m
        with blas_threads(self.threads):
            for sl in self._chunks(n, self._width_above(l, kind), mp):
                self._chunk(sl, kind, l, rows, base, cols, hplus, hminus, dplus, dminus, kink,
                            kinked, scale)
        if weights is not None:   # the L2 term, exactly: (lambda/2m)((w +- h)^2 - w^2)
            c2 = self.net.l2 / (2.0 * self.m)
            dplus = dplus + c2 * hplus * (2.0 * weights + hplus)
            dminus = dminus + c2 * hminus * (2.0 * weights - hminus)
        examples = None
        if kinked:
            examples = tuple(np.concatenate([x[i] for x in kinked], axis=1 if i < 2 else 0)
                             for i in range(3))
        noise = self.cost_noise if cols is None else self.example_noise[cols]
        numeric, error, step, lower, upper, unverified = combine(
            dplus, dminus, hplus, hminus, noise, kink, self.tol, self.order, examples)
        est = Estimate(idx, numeric, error, np.broadcast_to(step, numeric.shape).copy(), kink,
                       lower, upper, unverified, order=self.order)
        est.evaluations = self.evaluations - evals0
        est.seconds = time.perf_counter() - start
        self.seconds += est.seconds
        return est

    def _chunk(self, sl, kind, l, rows, base, cols, hplus, hminus, dplus, dminus, kink,
               kinked, scale) -> None:
        """Evaluate the coordinates ``sl`` and store their differences (and, for those that
        crossed a kink, the h/4 step and the per-example parts in ``kinked``)."""
        S = self.levels
        c = None if cols is None else cols[sl]
        ex_p, ex_m, counts = self._run(kind, l, rows[sl], base[sl], hplus[:S, sl],
                                       hminus[:S, sl], c)
        ex_p *= scale
        ex_m *= scale
        dplus[:S, sl], dminus[:S, sl] = ex_p.sum(axis=2), ex_m.sum(axis=2)
        k = np.flatnonzero(np.any(counts > 0, axis=1))
        if k.size:
            pos = sl.start + k
            kink[pos] = True
            ex_p, ex_m = ex_p[:, k], ex_m[:, k]
            if S == 2:  # one-sided slopes at h, h/2 and h/4
                e4p, e4m, c4 = self._run(kind, l, rows[pos], base[pos], hplus[2:, pos],
                                         hminus[2:, pos], None if c is None else c[k])
                e4p *= scale
                e4m *= scale
                dplus[2, pos], dminus[2, pos] = e4p.sum(axis=2)[0], e4m.sum(axis=2)[0]
                ex_p, ex_m = np.concatenate([ex_p, e4p]), np.concatenate([ex_m, e4m])
                counts[k] = np.maximum(counts[k], c4)
            kinked.append((ex_p, ex_m, counts[k]))

    @staticmethod
    def _indices(what: str, indices, size: int) -> np.ndarray:
        if indices is None:
            return np.arange(size, dtype=np.intp)
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"{what} must be a 1-D sequence of flat integer indices, "
                             f"got {idx!r}")
        idx = idx.astype(np.intp)
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            raise ValueError(f"{what} must lie in [0, {size}), got min {idx.min()}, "
                             f"max {idx.max()}")
        return idx

    @staticmethod
    def _steps(values: np.ndarray, h: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
        """Effective steps fl(v ± h/2^s) - v for s = 0 … levels-1, shape (levels, n)."""
        hs = h[None, :] / (2.0 ** np.arange(levels))[:, None]
        return (values + hs) - values, values - (values - hs)

    def _width_above(self, l: int, kind: str) -> int:
        """Widest stacked layer: from l+1 on (rank-1 entry), from l for a Z_l that is the
        output or feeds a non-elementwise activation (the whole of Z_l is stacked)."""
        sizes, L = self.net.layer_sizes, self.net.L
        first = l + 1
        if kind == "Z" and (l == L or not self.net.activations[l - 1].elementwise):
            first = l
        return max(sizes[first:]) if first <= L else sizes[-1]

    def _chunks(self, n: int, width: int, mp: int):
        per = max(1, self.chunk_elements // (2 * self.levels * max(1, width) * mp))
        for start in range(0, n, per):
            yield slice(start, min(n, start + per))

    def _base(self, key: str, cols: np.ndarray | None) -> np.ndarray:
        arr = self.cache[key]
        return arr[:, None, :] if cols is None else arr[:, cols][:, :, None]

    def _run(self, kind: str, l: int, rows: np.ndarray, base: np.ndarray, hplus: np.ndarray,
             hminus: np.ndarray, cols: np.ndarray | None):
        r"""Loss differences for 2·levels perturbed copies of each of C coordinates.

        Coordinate c perturbs row ``rows[c]`` of ``Z_l`` (kind "Z") or ``A_l`` (kind "A") by
        ``±h·base[c]`` (over all m columns when ``cols`` is None, else column ``cols[c]``).
        Returns the per-example loss differences :math:`\ell_i' - \ell_i` for the + and the
        - steps, ``ex_plus`` and ``ex_minus`` (sign-adjusted to :math:`\ell_i - \ell_i^-`),
        of shape (levels, C, m'), and the per-example count of kinked units crossed (C, m'),
        the largest over the steps.
        """
        C, S = rows.size, hplus.shape[0]
        signed = np.concatenate([np.stack([hplus[s], -hminus[s]]) for s in range(S)])  # (2S, C)
        deltas = (signed[:, :, None] * base[None, :, :]).reshape(2 * S * C, base.shape[1])
        R = np.tile(rows, 2 * S)
        cc = None if cols is None else np.tile(cols, 2 * S)
        diffs, counts = self._evaluate(kind, l, R, deltas, cc, C)
        self.evaluations += 2 * S * C
        diffs = diffs.reshape(2 * S, C, -1)
        return diffs[0::2], -diffs[1::2], counts

    def _evaluate(self, kind: str, l: int, rows: np.ndarray, deltas: np.ndarray,
                  cols: np.ndarray | None, C: int):
        """Per-example loss differences (K, m') of the K = E·C perturbed copies (E steps of C
        coordinates, step-major), and per coordinate and example the number of distinct
        kinked units that any of its E steps crossed (C, m')."""
        net, cache = self.net, self.cache
        K, mp = deltas.shape
        counts = np.zeros((C, mp), dtype=np.int64)
        if kind == "A":
            Zp = self._rank1(l + 1, rows, deltas, cols, counts)
            return self._propagate(l + 1, Zp, cols, counts, checked=True)
        act = net.activations[l - 1]
        Z0 = cache[f"Z{l}"]
        z0row = Z0[rows] if cols is None else Z0[rows, cols][:, None]
        zrow = z0row + deltas
        if l == net.L or not act.elementwise:
            Zp = np.repeat(self._base(f"Z{l}", cols), K if cols is None else 1, axis=1)
            Zp[rows, np.arange(K), :] = zrow
            return self._propagate(l, Zp, cols, counts, checked=False)
        if act.kinks:
            counts += crosses(zrow, z0row, act.kinks).reshape(-1, C, mp).any(axis=0)
        A0 = cache[f"A{l}"]
        a0row = A0[rows] if cols is None else A0[rows, cols][:, None]
        Zp = self._rank1(l + 1, rows, act.value(zrow) - a0row, cols, counts)
        return self._propagate(l + 1, Zp, cols, counts, checked=True)

    def _rank1(self, q: int, rows: np.ndarray, vec: np.ndarray, cols: np.ndarray | None,
               counts: np.ndarray) -> np.ndarray:
        r"""Stacked :math:`Z_q' = Z_q + W_q[:, r_k]\,v_k^\top` for the K copies, shape
        (n_q, K, m'), and the kink crossings of layer q added to ``counts``.

        Only units with :math:`|Z_q - \kappa| \le \max_k|W_q[u, r_k]|\,\max_k|v_{k,i}|`
        can cross a kink; the rank-1 form bounds the change exactly, so only those few units
        are compared (all of them when data put Z exactly on a kink).
        """
        Wr = self.params[f"W{q}"][:, rows]                          # (n, K)
        n, K, mp = Wr.shape[0], vec.shape[0], vec.shape[1]
        buf = self._buffers.get((n, K, mp))
        if buf is None:
            buf = self._buffers[(n, K, mp)] = np.empty((n, K, mp))
        if rows[0] == rows[-1] and np.all(rows == rows[0]):
            # one row for all copies (consecutive W_l[j, :] coordinates): an outer product
            # with long contiguous loops
            np.multiply(Wr[:, :1], vec.reshape(1, -1), out=buf.reshape(n, -1))
        else:
            np.multiply(Wr[:, :, None], vec[None, :, :], out=buf)
        np.add(buf, self._base(f"Z{q}", cols), out=buf)
        kinks = self.net.activations[q - 1].kinks
        if not kinks:
            return buf
        if cols is not None:
            crossed = crosses(buf, self._base(f"Z{q}", cols), kinks)
            counts += np.sum(crossed.reshape(n, -1, counts.shape[0], mp).any(axis=1), axis=0)
            return buf
        reach = np.max(np.abs(Wr), axis=1)[:, None] * np.max(np.abs(vec), axis=0)[None, :]
        units, examples = np.nonzero(self._kink_distance[q] <= reach * (1.0 + 1e-12))
        if units.size:
            near = buf[units, :, examples]                           # (N, K)
            z0 = self.cache[f"Z{q}"][units, examples][:, None]
            hit = crosses(near, z0, kinks).reshape(units.size, -1, counts.shape[0]).any(axis=1)
            onehot = np.zeros((units.size, mp), dtype=np.int64)
            onehot[np.arange(units.size), examples] = 1
            counts += hit.T.astype(np.int64) @ onehot
        return buf

    def _propagate(self, q: int, Zp: np.ndarray, cols: np.ndarray | None, counts: np.ndarray,
                   checked: bool):
        """Run layers q … L on the stacked copies; ``checked``: layer q's kinks are counted."""
        net, L = self.net, self.net.L
        K, mp = Zp.shape[1:]
        while True:
            act = net.activations[q - 1]
            n = Zp.shape[0]
            if act.kinks and not checked:
                crossed = crosses(Zp, self._base(f"Z{q}", cols), act.kinks)
                counts += np.sum(crossed.reshape(n, -1, counts.shape[0], mp).any(axis=1),
                                 axis=0)
            checked = False
            Z2 = Zp.reshape(n, K * mp)
            if q == L:
                A2 = None if self._fused else act.value(Z2)
                if cols is None:
                    Yt = self._tiles.get(K)
                    if Yt is None:
                        Yt = self._tiles[K] = np.tile(self.Y, (1, K))
                else:
                    Yt = self.Y[:, cols]
                losses = net._losses({f"Z{L}": Z2, f"A{L}": A2}, Yt).reshape(K, mp)
                break
            A2 = act.value(Z2)
            Zp = (self.params[f"W{q + 1}"] @ A2 + self.params[f"b{q + 1}"]).reshape(-1, K, mp)
            q += 1
        base = self.losses0[None, :] if cols is None else self.losses0[cols][:, None]
        return losses - base, counts


# --------------------------------------------------------------------------- naive loop
def naive_elementwise(net: Network, params: Mapping[str, np.ndarray], X: np.ndarray,
                      Y: np.ndarray, *, names: Iterable[str] | None = None, order: int = 2,
                      tolerances: Mapping[str, float] | None = None,
                      indices: Mapping[str, Iterable[int]] | None = None,
                      gains: Mapping[str, np.ndarray] | str | None = "autograd"
                      ) -> dict[str, Estimate]:
    r"""The plain loop: for every parameter element and every step, copy the parameters,
    perturb one entry and run ``net._forward`` from the input and ``net._cost``. The same
    steps and error estimate as :class:`NetworkFD`; kinks are detected by comparing every
    perturbed :math:`Z_l` with the unperturbed one. Returns ``{name: Estimate}``.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a reference Network, got {type(net).__name__}")
    tol = fd_tolerances(np.float64) if tolerances is None else dict(tolerances)
    nlev = levels(order)
    P = {k: v.copy() for k, v in net.check_params(params).items()}
    X = net.check_X(X)
    Y = net.check_Y(Y, X.shape[1])
    m = X.shape[1]
    _, cache0 = net._forward(P, X)
    J0 = net._cost(P, cache0, Y)
    losses0 = net._losses(cache0, Y)
    # the same rounding allowance as the fast mode (only the differences are computed apart)
    noise = NetworkFD(net, P, X, Y, tolerances=tol, gains=gains).cost_noise
    kinks = {l: net.activations[l - 1].kinks for l in range(1, net.L + 1)}
    out = {}
    for name in (list(P) if names is None else list(names)):
        start = time.perf_counter()
        flat = P[name].reshape(-1)  # a view: perturbs P[name] in place
        idx = (np.arange(flat.size) if indices is None or name not in indices
               else np.asarray(list(indices[name]), dtype=np.intp))
        h = relative_steps(flat[idx], tol, order)
        # levels h, h/2 (and h/4: always for order 4, for kink elements only for order 2)
        dp, dm, hp, hm = (np.full((3, idx.size), np.nan) for _ in range(4))
        ep, em = np.full((3, idx.size, m), np.nan), np.full((3, idx.size, m), np.nan)
        counts = np.zeros((idx.size, m), dtype=np.int64)
        for c, i in enumerate(idx):
            v = flat[i]
            crossed = {l: np.zeros(cache0[f"Z{l}"].shape, dtype=bool) for l in kinks if kinks[l]}
            for s in range(3):
                if s == 2 and nlev == 2 and not any(np.any(x) for x in crossed.values()):
                    break
                for sign, d, e, hh in ((1.0, dp, ep, hp), (-1.0, dm, em, hm)):
                    flat[i] = v + sign * h[c] / 2.0 ** s
                    hh[s, c] = sign * (flat[i] - v)
                    _, cache = net._forward(P, X)
                    d[s, c] = sign * (net._cost(P, cache, Y) - J0)
                    e[s, c] = sign * (net._losses(cache, Y) - losses0) / m
                    for l in crossed:
                        crossed[l] |= crosses(cache[f"Z{l}"], cache0[f"Z{l}"], kinks[l])
            counts[c] = sum((np.sum(x, axis=0) for x in crossed.values()), np.zeros(m, int))
            flat[i] = v
        kink = np.any(counts > 0, axis=1)
        numeric, error, step, lower, upper, unverified = combine(
            dp, dm, hp, hm, noise, kink, tol, order, (ep[:, kink], em[:, kink], counts[kink]))
        out[name] = Estimate(idx, numeric, error, np.broadcast_to(step, numeric.shape).copy(),
                             kink, lower, upper, unverified,
                             evaluations=int(np.sum(np.isfinite(dp)) * 2),
                             seconds=time.perf_counter() - start, order=order)
    return out
