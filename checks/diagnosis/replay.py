"""The backward pass replayed from the forward cache, with candidate mistakes planted in it.

:class:`_Model` recomputes every gradient (dZ_l, dW_l, db_l, dA_{l-1}) from the forward cache,
in the conventions of :mod:`gradref.checks.diagnosis.candidates`, with hooks that replace the
output gradient, a layer's activation derivative or a linear step. :func:`_build_hypotheses`
plants every candidate of the tables in every subset of the layers it applies to (for up to
``ALL_SUBSETS_UP_TO`` of them; beyond, in each single layer, all of them, all but the first and
all but the last) and keeps the gradients it gives as a :class:`_Hypothesis`. The other
one-sided derivative at pre-activations exactly on a kink (e.g. a relu mask ``Z >= 0``) is
planted too, marked ``acceptable``: it is not a mistake.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from gradref.reference import normalization as _norm
from gradref.reference.network import Network

from .candidates import (
    DERIVATIVE_CANDIDATES,
    DERIVATIVE_TEXT,
    LAYER_CANDIDATES,
    LOSS_CANDIDATES,
    STEP_CANDIDATES,
)

__all__ = ["ALL_SUBSETS_UP_TO", "_Model", "_Hypothesis", "_build_hypotheses"]


class _Model:
    """A network's backward pass from a forward cache, with hooks for planting a mistake."""

    def __init__(self, net: Network, params: dict, cache: dict, Y: np.ndarray) -> None:
        self.net, self.params, self.cache, self.Y = net, params, cache, Y
        self.L, self.m = net.L, Y.shape[1]
        self.acts = net.activations
        self.fused = net.loss.fused_with(net.activations[-1])
        self.lam = net.l2
        self.true = self.run()

    def W(self, l: int) -> np.ndarray:
        return self.params[f"W{l}"]

    def loss_dA(self) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.net.loss.derivative(self.cache[f"A{self.L}"], self.Y)

    def act_input(self, l: int) -> np.ndarray:
        """Layer l's activation input: Z_l, or γ·Ẑ_l + β after a normalisation."""
        return self.cache[self.net.activation_input(l)]

    def hidden_backward(self, k: int, dA: np.ndarray, act: Mapping, steps: Mapping,
                        grads: dict) -> np.ndarray | None:
        """dZ_k from dA_k through layer k's dropout, activation and normalisation, with the
        hooks ``steps[("dropout", k)](model, k, dA)`` and ``steps[("norm", k)](model, k, dU)``
        (the latter returns dZ_k; dγ, dβ are then the correct ones)."""
        c, net = self.cache, self.net
        G = c[f"A{k}"]
        if net.keep_probs[k - 1] and f"D{k}" in c:
            hook = steps.get(("dropout", k))
            dA = hook(self, k, dA) if hook else dA * c[f"D{k}"] / net.keep_probs[k - 1]
            G = c[f"G{k}"]
        U = self.act_input(k)
        dU = act[k](U, G, dA) if k in act else self.acts[k - 1].vjp(U, G, dA)
        kind = net.normalization[k - 1]
        if not kind:
            return dU
        local = {"Zhat": c[f"Zhat{k}"], "inv_std": c[f"inv_std{k}"],
                 "gamma": self.params[f"gamma{k}"]}
        dZ, dgamma, dbeta = _norm._backward(dU, local, 0 if kind == "layernorm" else 1)
        grads[f"dgamma{k}"] = dgamma / self.m
        grads[f"dbeta{k}"] = dbeta / self.m
        hook = steps.get(("norm", k))
        return hook(self, k, dU) if hook else dZ

    def run(self, act: Mapping | None = None, loss_dA: Callable | None = None,
            steps: Mapping | None = None) -> dict[str, np.ndarray]:
        """Gradients with ``act[l](Z, A, dA) -> dZ`` replacing layer l's backward activation
        step, ``loss_dA(A, Y)`` replacing dℓ/dA_L, and ``steps[(step, l)](model, l, dZ, dA)``
        replacing a linear backward step (or a dropout or normalisation step, see
        :meth:`hidden_backward`)."""
        act, steps = act or {}, steps or {}
        L, m, c = self.L, self.m, self.cache
        grads: dict[str, np.ndarray] = {}
        with np.errstate(all="ignore"):
            ZL, AL = c[f"Z{L}"], c[f"A{L}"]
            if loss_dA is None and L not in act and self.fused is not None:
                dA, dZ = None, self.fused.dz(ZL, AL, self.Y)
            else:
                dA = (loss_dA or self.net.loss.derivative)(AL, self.Y)
                dZ = act[L](ZL, AL, dA) if L in act else self.acts[-1].vjp(ZL, AL, dA)
            for l in range(L, 0, -1):
                if dA is None:
                    dA = self.loss_dA()
                W = self.W(l)
                grads[f"dZ{l}"] = dZ
                hook = steps.get(("dW", l))
                data = hook(self, l, dZ, dA) if hook else dZ @ c[f"A{l - 1}"].T / m
                if data is None:
                    return {}
                hook = steps.get(("l2", l))
                if hook:
                    term = hook(self, l, dZ, dA)
                    if term is None:
                        return {}
                    grads[f"dW{l}"] = data + term
                else:
                    grads[f"dW{l}"] = data + (self.lam / m) * W if self.lam else data
                hook = steps.get(("db", l))
                db = hook(self, l, dZ, dA) if hook else np.sum(dZ, axis=1, keepdims=True) / m
                if db is None:
                    return {}
                grads[f"db{l}"] = db
                hook = steps.get(("dA_prev", l))
                dA = hook(self, l, dZ, dA) if hook else W.T @ dZ
                if dA is None:
                    return {}
                grads[f"dA{l - 1}"] = dA
                if l > 1 and self.net.has_layers:
                    dZ = self.hidden_backward(l - 1, dA, act, steps, grads)
                    if dZ is None:
                        return {}
                elif l > 1:
                    Z, A = c[f"Z{l - 1}"], c[f"A{l - 1}"]
                    dZ = act[l - 1](Z, A, dA) if l - 1 in act else self.acts[l - 2].vjp(Z, A, dA)
        return grads


@dataclass
class _Hypothesis:
    id: str
    kind: str
    origin: tuple[int, ...]
    grads: dict
    wrong: str
    right: str
    explanation: str
    act: str = ""
    acceptable: bool = False
    fallback: bool = False


#: Up to this many eligible layers, a candidate is tried in every subset of them; beyond, in
#: each single layer, all of them, all but the first and all but the last.
ALL_SUBSETS_UP_TO = 3


def _subsets(layers: list[int]) -> list[tuple[int, ...]]:
    """The layer sets a candidate mistake is planted in, smallest first."""
    if len(layers) <= ALL_SUBSETS_UP_TO:
        return [c for r in range(1, len(layers) + 1) for c in itertools.combinations(layers, r)]
    out = [(l,) for l in layers]
    for group in (layers, layers[:-1], layers[1:]):
        if tuple(group) not in out:
            out.append(tuple(group))
    return out


def _build_hypotheses(md: _Model, observed: frozenset = frozenset()) -> list[_Hypothesis]:
    """Every candidate mistake planted in ``md``; ``observed`` (the keys under diagnosis) says
    whether layer 1's dA_prev, dA0, can be seen at all."""
    hyps: list[_Hypothesis] = []
    L = md.L

    def add(hid, kind, origin, run, wrong, right, explanation, act="", acceptable=False,
            fallback=False):
        try:
            grads = run()
        except (ValueError, TypeError):  # a candidate whose shapes cannot fit this network
            return
        if grads:  # a non-finite candidate never matches: no need to filter it
            hyps.append(_Hypothesis(hid, kind, origin, grads, wrong, right, explanation, act,
                                    acceptable, fallback))

    # Kinks: the other one-sided derivative at pre-activations exactly on a kink is acceptable.
    kinked = [l for l in range(1, L + 1) if md.acts[l - 1].kinks and md.acts[l - 1].elementwise
              and any(np.any(md.act_input(l) == k) for k in md.acts[l - 1].kinks)]
    combos = ([c for r in range(1, len(kinked) + 1) for c in itertools.combinations(kinked, r)]
              if len(kinked) <= 4 else _subsets(kinked))
    for combo in combos:
        overrides = {l: (lambda Z, A, dA, a=md.acts[l - 1]: dA * a.one_sided(Z)[1]) for l in combo}
        add("kink", "mismatch", combo, lambda o=overrides: md.run(act=o), "", "", "", acceptable=True)

    # Output gradients.
    for cand in LOSS_CANDIDATES:
        if md.net.loss.name in cand.losses:
            add(cand.id, cand.kind, (L,),
                lambda c=cand: md.run(loss_dA=lambda A, Y: c.dA(A, Y, md.net.loss)), cand.wrong, cand.right,
                cand.explanation, act=md.acts[-1].spec)

    # Activation derivatives, in one layer or in every layer with the same activation.
    for cand in DERIVATIVE_CANDIDATES:
        groups: dict[str, list[int]] = {}
        for l in range(1, L + 1):
            if cand.applies(md.acts[l - 1]):
                groups.setdefault(md.acts[l - 1].spec, []).append(l)
        for spec, layers in groups.items():
            for origin in _subsets(layers):
                overrides = {l: (lambda Z, A, dA, a=md.acts[l - 1], c=cand: c.dz(Z, A, dA, a))
                             for l in origin}
                right = DERIVATIVE_TEXT.get(md.acts[origin[0] - 1].name, "g'(Z{l})")
                add(cand.id, "activation_derivative", origin, lambda o=overrides: md.run(act=o), cand.wrong,
                    right, cand.explanation, act=spec)

    # Dropout and normalisation backward steps, in the layers that have them.
    for cand in LAYER_CANDIDATES:
        layers = [l for l in range(1, L) if cand.applies(md.net, l)]
        for origin in _subsets(layers):
            hooks = {(cand.step, l): cand.fn for l in origin}
            add(cand.id, cand.kind, origin, lambda h=hooks: md.run(steps=h), cand.wrong,
                cand.right, cand.explanation)

    # Linear backward steps.
    for cand in STEP_CANDIDATES:
        if cand.step == "l2" and not md.lam:
            continue
        first = 2 if cand.step == "dA_prev" and "dA0" not in observed else 1
        layers = list(range(first, L + 1))
        for origin in _subsets(layers):
            hooks = {(cand.step, l): cand.fn for l in origin}
            add(cand.id, cand.kind, origin, lambda h=hooks: md.run(steps=h), cand.wrong,
                cand.right, cand.explanation, fallback=cand.fallback)
    return hyps
