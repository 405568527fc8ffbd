"""What a diagnosis returns: :class:`Finding` and its :data:`KINDS`, and how gradient keys read.

A finding names the arrays it concerns, a stable ``kind`` (one of :data:`KINDS`) and one or two
sentences for a student; its ``details`` hold the numbers behind the sentence (JSON-ready).
Gradient keys are ``d`` + ``W``, ``b``, ``Z`` or ``A`` + a layer index (``"dW2"``); the helpers
here parse them, tell the gradients of parameters from the per-example intermediates, and sort
them in the order findings are told: keys without a layer index first, then from the output
layer down, each layer's dZ, dW and db, then the dA it passes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Finding", "KINDS", "_parse", "_sort_key", "_role", "_layer_of"]


#: Every kind a :class:`Finding` can have, with what it means.
KINDS: dict[str, str] = {
    "missing": "the array is missing from the analytic gradients",
    "type": "the value is not a real numeric array",
    "nonfinite": "the array contains NaN or infinity",
    "shape": "the shape is wrong (and no simpler shape mistake fits)",
    "transpose": "the array is the transpose of the expected one",
    "keepdims": "the values are right but a singleton axis was lost or added (keepdims)",
    "wrong_axis": "a sum ran over the wrong axis (one entry per example, or one number)",
    "zero": "the array is all zeros where it should not be",
    "sign": "the array is the negative of the expected one",
    "times_m": "the array is m times too large (missing 1/m)",
    "over_m": "the array is m times too small (1/m applied twice, or to a per-example array)",
    "times_2": "the array is 2 times too large",
    "half": "the array is half the expected value",
    "m_or_2": "a factor 2 with m = 2: missing 1/m and a factor 2 cannot be told apart",
    "scale": "a constant factor that is not a recognised one",
    "l2_missing": "the L2 term λ/m·W is missing",
    "l2_wrong": "the L2 term has the wrong factor or sign",
    "l2_bias": "an L2 term was added to a bias gradient",
    "activation_derivative": "an activation derivative is wrong (a candidate formula matches)",
    "loss_derivative": "the derivative of the loss with respect to the output is wrong",
    "dA_prev": "dA_prev (the gradient passed back to the previous layer) is computed wrongly",
    "a_prev": "dW uses the wrong activation in place of A_prev",
    "bias": "db is computed from the wrong quantity or over the wrong entries",
    "dropout": "a dropout backward step is wrong (the mask or the 1/p scaling is missing)",
    "normalization": "a batch- or layer-norm backward step is wrong (a candidate formula "
                     "matches)",
    "near_miss": "a single element or a tiny relative error",
    "lower_layers": "lower layers are wrong by a mistake of their own that no candidate names "
                    "(what the layers above pass back is right, or accounted for)",
    "propagated": "lower layers are wrong, probably as a consequence of an upper layer",
    "mismatch": "no recognised pattern: the relative error and the worst element",
    "initialization": "a weight initialisation with the wrong scale, distribution, seed, draw "
                      "order or zeros (checks/grading/curricula/initialization.py)",
    "threshold": "predictions thresholded the wrong way (>= for >, or another cut)",
    "training": "a training loop that runs the wrong number of steps or never updates",
    "forward": "a forward pass with another activation or without a term (a bias, the output's)",
}
# Optimiser steps (checks/diagnosis/optimizers.py).
KINDS.update({
    "step_mistake": "an optimiser step with one known mistake (details: variant)",
    "step_state": "an optimiser step whose update is right but whose returned state is not",
    "step_mismatch": "an optimiser step that matches no known mistake",
})
# Mini-batches and learning-rate schedules (checks/diagnosis/minibatches.py, schedules.py).
KINDS.update({
    "mini_batches": "mini-batches with a recognised mistake (remainder, shuffle, X and Y apart)",
    "schedule": "a learning-rate schedule that matches a known wrong formula",
})
# An assignment's own catalogue (checks/diagnosis/mistakes.py).
KINDS["named_mistake"] = "the answer is one of the assignment's named mistakes, replayed on the case"


# --------------------------------------------------------------------------- the finding
@dataclass(frozen=True)
class Finding:
    """One diagnosed mistake.

    Attributes
    ----------
    names : tuple of str
        The gradient keys it concerns, e.g. ``("dW2", "db2")``.
    kind : str
        A stable short identifier, one of :data:`KINDS`.
    message : str
        One or two sentences for a student.
    details : dict
        Numbers behind the message (ratio, candidate id, worst element, …); JSON-ready.
    """

    names: tuple[str, ...]
    kind: str
    message: str
    details: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if isinstance(self.names, str) or not all(isinstance(n, str) for n in self.names):
            raise TypeError(f"names must be a sequence of str, got {self.names!r}")
        object.__setattr__(self, "names", tuple(self.names))
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    def to_dict(self) -> dict:
        """``{"names": [...], "kind": ..., "message": ..., "details": {...}}``."""
        return {"names": list(self.names), "kind": self.kind, "message": self.message,
                "details": dict(self.details)}


# --------------------------------------------------------------------------- gradient keys
_KEY = re.compile(r"^d([WbZA])(\d+)$")
_TYPE_ORDER = {"Z": 0, "W": 1, "b": 2, "A": 3}


def _parse(name: str) -> tuple[str, int] | None:
    """``"dW2" -> ("W", 2)``; None for keys without a layer index."""
    match = _KEY.match(name)
    return (match.group(1), int(match.group(2))) if match else None


def _sort_key(name: str):
    parsed = _parse(name)
    if parsed is None:
        return (0, 0, 0, name)
    kind, l = parsed
    layer = l if kind != "A" else l + 0.5  # dA_{l} is passed back by layer l+1
    return (1, -layer, _TYPE_ORDER[kind], name)


def _role(name: str) -> str:
    """"param" (dW, db and unindexed gradients of parameters), "inter" (dZ, dA), or "other"."""
    bare = name[1:] if name.startswith("d") and len(name) > 1 else ""
    if bare[:1] in ("W", "b"):
        return "param"
    if bare[:1] in ("Z", "A"):
        return "inter"
    return "other"


def _layer_of(key: str) -> int | None:
    parsed = _parse(key)
    return parsed[1] if parsed else None
