"""The parsed ``context`` of a diagnosis: m, and the network when it can be trusted.

``context`` is ``{"m", "net", "params", "cache", "X", "Y"}``, any entry absent or None; m is taken
from it, else from X, Y or the cache. The network is used only if it reproduces ``expected`` (to
``MODEL_RTOL``); its exact gradients then stand in for ``expected``, which may be a
finite-difference estimate. Without it (or without m) the recognisers that need it are skipped,
never guessed. The model and its hypotheses (:mod:`gradref.checks.diagnosis.replay`) are built
lazily, at most once per diagnosis.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from gradref.reference.network import Network

from .compare import _close_to_model
from .replay import _build_hypotheses, _Hypothesis, _Model

__all__ = ["_Ctx"]


class _Ctx:
    """The parsed ``context``: m, and (lazily) a model of the network with its hypotheses."""

    def __init__(self, context: Mapping | None, expected: Mapping | None = None) -> None:
        if context is None:
            context = {}
        if not isinstance(context, Mapping):
            raise TypeError(f"context must be a dict (keys m, net, params, cache, X, Y) or None, "
                            f"got {type(context).__name__}")
        self.raw = context
        self.expected = expected
        m = context.get("m")
        if m is not None:
            if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
                raise TypeError(f"context['m'] must be a positive int or None, got {m!r}")
            if m < 1:
                raise ValueError(f"context['m'] must be a positive int, got {m}")
            m = int(m)
        else:
            for key, axis in (("X", 1), ("Y", 1)):
                value = context.get(key)
                if isinstance(value, np.ndarray) and value.ndim == 2:
                    m = value.shape[axis]
                    break
            cache = context.get("cache")
            if m is None and isinstance(cache, Mapping) and isinstance(cache.get("A0"), np.ndarray):
                m = cache["A0"].shape[1] if cache["A0"].ndim == 2 else None
        self.m: int | None = m
        self._model: _Model | None | bool = False
        self._hyps: list[_Hypothesis] | None = None
        self.compared: dict[str, np.ndarray] | None = None
        self.observed: set[str] = set()  # the keys under diagnosis (set before any hypothesis)

    @property
    def model(self) -> _Model | None:
        if self._model is False:
            self._model = self._build_model()
        return self._model

    def _build_model(self) -> _Model | None:
        net, params, Y = (self.raw.get(k) for k in ("net", "params", "Y"))
        if not isinstance(net, Network) or params is None or Y is None:
            return None
        try:
            params = net.check_params(params)
            cache = self.raw.get("cache")
            if cache is None:
                X = self.raw.get("X")
                if X is None:
                    return None
                with np.errstate(all="ignore"):
                    _, cache = net._forward(params, net.check_X(X))
            else:
                cache = {k: np.asarray(v, dtype=np.float64) for k, v in cache.items()}
                m = cache["A0"].shape[1]
                for l in range(1, net.L + 1):
                    for p in "ZA":
                        if cache[f"{p}{l}"].shape != (net.layer_sizes[l], m):
                            return None
            Y = net.check_Y(Y, cache["A0"].shape[1])
            if self.m is not None and self.m != Y.shape[1]:
                return None
            model = _Model(net, params, cache, Y)
        except (TypeError, ValueError, KeyError, AttributeError):
            return None
        if self.expected is not None:  # the model must reproduce the expected gradients
            for key, value in self.expected.items():
                if key in model.true and not _close_to_model(model.true[key], value):
                    return None
        return model

    def model_for(self, name: str, expected: np.ndarray) -> _Model | None:
        md = self.model
        if md is None or name not in md.true or not _close_to_model(md.true[name], expected):
            return None
        return md

    @property
    def hypotheses(self) -> list[_Hypothesis]:
        if self._hyps is None:
            self._hyps = (_build_hypotheses(self.model, frozenset(self.observed))
                          if self.model is not None else [])
        return self._hyps

    def dZ(self, l: int) -> np.ndarray | None:
        key = f"dZ{l}"
        if self.expected is not None and key in self.expected:
            return self.expected[key]
        md = self.model
        return md.true.get(key) if md is not None else None
