r"""Elementwise finite differences of a network with normalisation or dropout layers.

:class:`~gradref.checks.network_fd.NetworkFD` reuses the cached forward pass and propagates
only what a perturbation changes, which relies on the plain network's structure (an example's
loss depends on its own column only; the activations follow the affine maps directly). Batch
normalisation couples the examples, and normalisation and dropout sit between the affine map
and the next layer, so here every perturbed copy runs the network's own forward pass from the
input (``net._forward``, with the network's fixed dropout masks) and its cost:

.. math::

    D_\pm = \pm\big(J(\theta \pm h e_i) - J(\theta)\big), \qquad
    dZ_l[j, i] \approx m\,\frac{J(E_l = +h e_{ji}) - J(E_l = -h e_{ji})}{2h}

for an additive perturbation :math:`E_l` of a cached ``Z{l}`` or ``A{l}`` (``perturb=`` of the
forward pass; through batch norm it changes every example's loss). The steps, the error estimate
and the kink screening (on every activation's input, ``net.activation_input(l)``) are those of
:mod:`gradref.checks.finite_diff`; the rounding allowance is
:func:`~gradref.checks.network_fd.noise_scale`'s. With batch norm the per-example parts of a
difference are not independent, so a kinked element is judged on the whole sum as one example
that crossed every kinked unit any example crossed (one crossing: its one-sided slopes; several:
unverified) instead of example by example.

The same public surface as ``NetworkFD`` (``parameter``, ``intermediate``, ``gains``,
``cost_noise``, ``evaluations``, ``seconds``), so :func:`gradref.checks.api.check_network` uses it
for every network with ``net.has_layers``. It also runs on plain networks, where it is tested
against ``NetworkFD``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

import numpy as np
from gradref.reference import Network

from .finite_diff import Estimate, combine, relative_steps
from .kinks import crosses
from .network_fd import _cost_noise, _gains, _start, noise_scale

__all__ = ["LayeredFD"]


class LayeredFD:
    """Finite differences of ``net``'s cost by full forward passes (module docstring).

    ``gains`` as for ``NetworkFD``: ``"autograd"`` (default), a dict of per-example
    sensitivities, ``"measured"`` or None (the loss's rounding only; "measured" falls back to
    it here).
    """

    def __init__(self, net: Network, params: Mapping[str, np.ndarray], X: np.ndarray,
                 Y: np.ndarray, *, order: int = 2, tolerances: Mapping[str, float] | None = None,
                 gains: Mapping[str, np.ndarray] | str | None = "autograd", **_ignored) -> None:
        _start(self, net, params, X, Y, order, tolerances, gains)
        g = _gains(net, self.params, self.X, self.Y, gains)
        self.gains = g if isinstance(g, dict) else None
        eps = self.tol["eps"]
        self.example_noise = eps * noise_scale(net, self.params, self.cache, self.Y, self.gains)
        self.cost_noise = _cost_noise(self)
        self._kinks = {l: act.kinks for l, act in enumerate(net.activations, start=1)
                       if act.kinks}
        self._coupled = "batchnorm" in net.normalization
        self.evaluations = 0
        self.seconds = 0.0

    # ------------------------------------------------------------------ public
    def parameter(self, name: str, indices: Iterable[int] | None = None) -> Estimate:
        """Estimates of ∂J/∂``name`` (``"W2"``, ``"gamma1"``, …) at flat ``indices``."""
        if name not in self.params:
            raise ValueError(f"name must be one of {', '.join(self.params)}, got {name!r}")
        flat = self.params[name].reshape(-1)   # a view: perturbed in place, restored

        def run(i: int, delta: float):
            v = flat[i]
            flat[i] = v + delta
            try:
                return flat[i] - v, self._evaluate(None)
            finally:
                flat[i] = v

        return self._estimate(flat, indices, run, scale=1.0)

    def intermediate(self, name: str, indices: Iterable[int] | None = None) -> Estimate:
        r""":math:`m\,\partial J/\partial` ``name`` for ``"Z1"`` … ``"ZL"``, ``"A0"`` …
        ``"A{L-1}"`` (additive perturbation of the cached value), at flat ``indices``."""
        L = self.net.L
        valid = [f"Z{l}" for l in range(1, L + 1)] + [f"A{l}" for l in range(L)]
        if name not in valid:
            raise ValueError(f"name must be one of {', '.join(valid)}, got {name!r}")
        base = self.cache[name]
        E = np.zeros_like(base)
        flatE = E.reshape(-1)

        def run(i: int, delta: float):
            flatE[i] = delta
            try:
                return delta, self._evaluate({name: E})
            finally:
                flatE[i] = 0.0

        return self._estimate(base.reshape(-1), indices, run, scale=float(self.m))

    # ------------------------------------------------------------------ core
    def _evaluate(self, perturb):
        """``(J, per-example losses, cache)`` at the current (perturbed) parameters."""
        _, cache = self.net._forward(self.params, self.X, perturb=perturb)
        return self.net._cost(self.params, cache, self.Y), self.net._losses(cache, self.Y), cache

    def _estimate(self, values: np.ndarray, indices, run, scale: float) -> Estimate:
        start = time.perf_counter()
        idx = (np.arange(values.size) if indices is None
               else np.asarray(list(indices), dtype=np.intp).reshape(-1))
        if idx.size and (idx.min() < 0 or idx.max() >= values.size):
            raise ValueError(f"indices must lie in [0, {values.size}), got {idx.tolist()[:8]}")
        n, m = idx.size, self.m
        h = relative_steps(values[idx], self.tol, self.order)
        dp, dm, hp, hm = (np.full((3, n), np.nan) for _ in range(4))
        ep, em = np.full((3, n, m), np.nan), np.full((3, n, m), np.nan)
        counts = np.zeros((n, m), dtype=np.int64)
        evaluations = 0
        for c, i in enumerate(idx):
            crossed = {l: False for l in self._kinks}
            for s in range(3):
                if s == self.levels and not any(np.any(x) for x in crossed.values()):
                    break   # order 2: the h/4 step only where a kink was crossed
                for sign, d, e, hh in ((1.0, dp, ep, hp), (-1.0, dm, em, hm)):
                    step, (J, losses, cache) = run(int(i), sign * h[c] / 2.0 ** s)
                    evaluations += 1
                    hh[s, c] = sign * step
                    d[s, c] = sign * scale * (J - self.J0)
                    e[s, c] = sign * scale * (losses - self.losses0) / m
                    for l, kinks in self._kinks.items():
                        key = self.net.activation_input(l)
                        crossed[l] = crossed[l] | crosses(cache[key], self.cache[key], kinks)
            counts[c] = sum((np.sum(x, axis=0) for x in crossed.values()), np.zeros(m, int))
        kink = np.any(counts > 0, axis=1)
        if self._coupled:   # one "example": the whole sum, with every crossing counted
            examples = (ep[:, kink].sum(axis=2, keepdims=True),
                        em[:, kink].sum(axis=2, keepdims=True),
                        counts[kink].sum(axis=1, keepdims=True))
        else:
            examples = (ep[:, kink], em[:, kink], counts[kink])
        numeric, error, step, lower, upper, unverified = combine(
            dp, dm, hp, hm, scale * self.cost_noise, kink, self.tol, self.order, examples)
        seconds = time.perf_counter() - start
        self.evaluations += evaluations
        self.seconds += seconds
        return Estimate(idx, numeric, error, np.broadcast_to(step, numeric.shape).copy(), kink,
                        lower, upper, unverified, evaluations=evaluations, seconds=seconds,
                        order=self.order)
