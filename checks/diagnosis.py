r"""Diagnosis: say *which* mistake makes a gradient wrong, not only *that* it is wrong.

When a gradient check fails, :func:`diagnose` compares the gradients under test (``analytic``)
with the true ones (``expected``) and returns a list of :class:`Finding` objects, each naming the
arrays it concerns, a stable ``kind`` and a sentence a student understands, e.g.
"dW2 is m = 16 times too large: the 1/m averaging is missing".

Conventions (as in :mod:`reference.network`): ``dW_l = (1/m) dZ_l A_{l-1}ᵀ + (λ/m) W_l``,
``db_l = (1/m) rowSum(dZ_l)``, ``dA_{l-1} = W_lᵀ dZ_l``, ``dZ_l = dA_l ⊙ g_l'(Z_l)``; ``dZ`` and
``dA`` are per-example (not divided by m).

How a cause is recognised
-------------------------
Only patterns that fit the numbers to a tight tolerance are claimed; otherwise the fallback
reports the relative error and the worst element and invents nothing.

*One array* (:func:`diagnose_array`), with :math:`a` the analytic and :math:`e` the expected
array:

- shape: a missing key, a transpose (:math:`a^\top = e`), a lost ``keepdims`` (same values,
  shape (n,) instead of (n, 1)), a sum over the wrong axis (one entry per example), any other
  shape with the expected one;
- a constant factor: the least-squares ratio :math:`r = \langle a, e\rangle / \langle e,
  e\rangle` is accepted only if :math:`\max|a - r e| \le` ``SCALE_RTOL`` :math:`\max|r e|`;
  :math:`r` is then named when it equals m, 1/m, 2, ½ or −1 to within ``FACTOR_RTOL``
  (with m = 2, "m times" and "2 times" cannot be told apart: both are reported);
- a wrong L2 term: :math:`a = \alpha\,(e - \tfrac{\lambda}{m}W) + \beta W` fitted by least
  squares and accepted only for a tight fit; :math:`\beta` is then read against
  0, λ, 2λ/m, λ/(2m), −λ/m;
- a transpose of a square matrix; a near miss (a few elements, or a tiny relative error);
- with a network in ``context``: the candidate mistakes below, restricted to that array.

*Whole network* (:func:`diagnose`): every candidate mistake in the tables
:data:`DERIVATIVE_CANDIDATES`, :data:`LOSS_CANDIDATES` and :data:`STEP_CANDIDATES` is planted in
a backward pass recomputed from the forward cache (in every subset of the layers it applies to,
for up to ``ALL_SUBSETS_UP_TO`` of them), and the result compared with *all* the analytic
arrays. A candidate that reproduces every one of them (and differs from the truth) names the
mistake, the layers that are right, and the layers that are wrong only as a consequence; other
candidates that give the very same numbers are mentioned ("it fits equally well: …"). Scale
slips (a missing 1/m, …) are better named array by array, so as whole-network candidates they
are only tried for what the per-array pass leaves unexplained. Differences that only come from
the one-sided derivative chosen at an exact kink (e.g. a relu mask ``Z >= 0``) are not mistakes
and give no finding. Arrays that are all zeros (where the truth is not) are reported as such,
first, and no candidate that happens to give zeros too is claimed for them.

*Several mistakes* (:class:`_LayerSearch`): when no single candidate fits and the per-array pass
leaves a cause open (or names more causes than a set of slips that includes one passed back),
the layers are explained one at a time from the output down. Layer l receives the true dA_l, or
the dA_l that the mistakes already found above it pass back, and may have at most one slip per
step: the output gradient or the activation derivative, dW and db (a named factor or a step
candidate) and dA_prev — e.g. ``examples/implementations/buggy.py``: "db3, db2 and db1 are m = 8
times too large: the 1/m averaging is missing" and "dW2 and dW1 match the activation value
A = g(Z) instead of the mask [Z > 0] as the relu derivative in layers 1–2". The simplest
explanation that reproduces every compared array wins; when the layers are explained only down
to some layer k, the mistakes above k are named and layer k is said to have a further mistake
that no known slip explains.

Otherwise the per-array findings are merged ("dW1, dW2 and dW3 are m = 16 times too large") and
summarised by layer ("dW3 and db3 are right, layers 1–2 are wrong: look at how dA_prev is passed
back"). Lower layers are called wrong "as a consequence" of a mistake in layer ``top`` only when
layer ``top`` is seen to pass something wrong back (dW_top, or dZ_top or dA_{top-1} when given,
is wrong); a mistake in db_top alone is never passed back, so then they have one of their own.

The network in ``context`` is used only if it reproduces ``expected`` (to ``MODEL_RTOL``); its
exact gradients then stand in for ``expected``, which may be a finite-difference estimate.
Without it (or without m) the recognisers that need it are skipped, never guessed.

The tolerances are named constants of :mod:`checks.tolerances` (its "diagnosis" section, names
prefixed ``DIAGNOSIS_``), re-exported here without the prefix. ``MATCH_RTOL`` decides when a
pattern fits; it is looser than the checker's own rule (``FLAG_RTOL``, ``FLAG_ATOL``: the float64
autograd comparison), so an array the checker would flag by less than ``MATCH_RTOL`` still gets
a near-miss finding naming its worst element — a failing array is never passed over in silence.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from reference.activations import Activation, get_activation
from reference.network import Network

from .tolerances import DIAGNOSIS_COLLINEAR_COS as COLLINEAR_COS
from .tolerances import DIAGNOSIS_FACTOR_RTOL as FACTOR_RTOL
from .tolerances import DIAGNOSIS_FIT2_MIN_SIZE as FIT2_MIN_SIZE
from .tolerances import DIAGNOSIS_FLAG_ATOL as FLAG_ATOL
from .tolerances import DIAGNOSIS_FLAG_RTOL as FLAG_RTOL
from .tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from .tolerances import DIAGNOSIS_MATCH_RTOL as MATCH_RTOL
from .tolerances import DIAGNOSIS_MODEL_RTOL as MODEL_RTOL
from .tolerances import DIAGNOSIS_NEAR_MISS_MAX_ELEMENTS as NEAR_MISS_MAX_ELEMENTS
from .tolerances import DIAGNOSIS_NEAR_MISS_RTOL as NEAR_MISS_RTOL
from .tolerances import DIAGNOSIS_SCALE_MIN_SUPPORT as SCALE_MIN_SUPPORT
from .tolerances import DIAGNOSIS_SCALE_RTOL as SCALE_RTOL

__all__ = [
    "Finding", "diagnose", "diagnose_array", "KINDS",
    "DerivativeCandidate", "LossCandidate", "StepCandidate",
    "DERIVATIVE_CANDIDATES", "LOSS_CANDIDATES", "STEP_CANDIDATES", "DERIVATIVE_TEXT",
    "MATCH_RTOL", "MATCH_ATOL", "FLAG_RTOL", "FLAG_ATOL", "MODEL_RTOL", "SCALE_RTOL",
    "FACTOR_RTOL", "SCALE_MIN_SUPPORT", "NEAR_MISS_RTOL", "NEAR_MISS_MAX_ELEMENTS",
    "COLLINEAR_COS", "FIT2_MIN_SIZE", "ALL_SUBSETS_UP_TO", "MAX_ALTERNATIVES",
    "LAYER_SEARCH_BUDGET",
]

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
    "near_miss": "a single element or a tiny relative error",
    "lower_layers": "lower layers are wrong by a mistake of their own that no candidate names "
                    "(what the layers above pass back is right, or accounted for)",
    "propagated": "lower layers are wrong, probably as a consequence of an upper layer",
    "mismatch": "no recognised pattern: the relative error and the worst element",
}


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


# --------------------------------------------------------------------------- small helpers
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


def _join(names) -> str:
    names = list(names)
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _layers(ls) -> str:
    ls = sorted(set(ls))
    if len(ls) == 1:
        return f"layer {ls[0]}"
    if ls == list(range(ls[0], ls[-1] + 1)):
        return f"layers {ls[0]}–{ls[-1]}"
    return "layers " + _join(str(l) for l in ls)


def _verbs(n: int) -> dict[str, str]:
    one = n == 1
    return {"is": "is" if one else "are", "has": "has" if one else "have",
            "matches": "matches" if one else "match", "it": "it" if one else "them",
            "s": "s" if one else ""}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _ratio(r: float) -> str:
    """A ratio with enough digits to show how far it is from 1 (1.0001, 0.99999994)."""
    gap = abs(r - 1.0)
    digits = 6 if gap == 0 or gap >= 1e-4 else min(17, int(-math.log10(gap)) + 3)
    return f"{r:.{digits}g}"


def _index(name: str, idx: tuple) -> str:
    return name if not idx else f"{name}[{','.join(str(int(i)) for i in idx)}]"


def _esc(text: str) -> str:
    """Protect literal braces from the {what}/{is} template formatting."""
    return text.replace("{", "{{").replace("}", "}}")


def _absmax(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def _equal(a: np.ndarray, e: np.ndarray) -> bool:
    """Equal up to float rounding (``MATCH_RTOL`` of the largest expected entry)."""
    if a.shape != e.shape:
        return False
    if a.size == 0:
        return True
    with np.errstate(all="ignore"):
        diff = np.abs(a - e)
    if not np.all(np.isfinite(diff)):
        return False
    return float(np.max(diff)) <= MATCH_RTOL * _absmax(e) + MATCH_ATOL


def _close_to_model(true: np.ndarray, expected: np.ndarray) -> bool:
    """Whether the context's network reproduces ``expected`` (up to ``MODEL_RTOL``, so that an
    expected array estimated by finite differences still identifies the network)."""
    if true.shape != expected.shape:
        return False
    return float(np.max(np.abs(true - expected), initial=0.0)) <= (
        MODEL_RTOL * _absmax(expected) + MATCH_ATOL)


def _differing(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.abs(a - e) > MATCH_RTOL * _absmax(e) + MATCH_ATOL


def _flag_mask(a: np.ndarray, e: np.ndarray, scale: float | None = None) -> np.ndarray:
    """The elements the checker's autograd rule flags: ``|a - e| > FLAG_RTOL |e| + FLAG_ATOL
    scale`` (``scale``: the largest expected magnitude of the group; default, of ``e``)."""
    if scale is None:
        scale = _absmax(e)
    with np.errstate(all="ignore"):
        return ~(np.abs(a - e) <= FLAG_RTOL * np.abs(e) + FLAG_ATOL * scale)


def _flagged(a: np.ndarray, e: np.ndarray, scale: float | None = None) -> bool:
    """Whether the checker would call ``a`` wrong (same shape assumed)."""
    return a.size > 0 and bool(np.any(_flag_mask(a, e, scale)))


# --------------------------------------------------------------------------- candidate tables
#: How each activation's derivative reads in messages; ``{l}`` is the layer index.
DERIVATIVE_TEXT: dict[str, str] = {
    "sigmoid": "s·(1−s)",
    "tanh": "1−t²",
    "relu": "the mask [Z{l} > 0]",
    "leaky_relu": "1 for Z{l} > 0 and the slope otherwise",
    "linear": "1",
    "softmax": "the softmax Jacobian, A{l}⊙(dA{l} − Σ_k A{l}⊙dA{l})",
    "softplus": "σ(Z{l})",
    "elu": "1 for Z{l} > 0 and α·e^Z{l} otherwise",
    "gelu": "GELU'(Z{l})",
    "silu": "σ(Z{l}) + Z{l}·σ'(Z{l})",
}

#: The symbols the derivative texts use, per activation.
NOTATION: dict[str, str] = {
    "sigmoid": " (s = σ(Z{l}) = A{l})",
    "tanh": " (t = tanh(Z{l}) = A{l})",
}


@dataclass(frozen=True)
class DerivativeCandidate:
    r"""A wrong activation derivative, for recomputing what it would give.

    ``factor(Z, A, act)`` returns the wrong elementwise :math:`g'` (so ``dZ = dA * factor``);
    non-elementwise candidates give ``vjp(Z, A, dA, act)`` instead. ``activations`` lists the
    activation names it applies to (None: every elementwise activation), ``excludes`` the ones it
    does not. ``wrong`` and ``explanation`` are message templates (``{l}``: the layer).
    """

    id: str
    activations: tuple[str, ...] | None
    wrong: str
    explanation: str
    factor: Callable | None = None
    vjp: Callable | None = None
    excludes: tuple[str, ...] = ()

    def applies(self, act: Activation) -> bool:
        if act.name in self.excludes:
            return False
        if self.activations is None:
            return act.elementwise and self.factor is not None
        return act.name in self.activations

    def dz(self, Z, A, dA, act):
        if self.vjp is not None:
            return self.vjp(Z, A, dA, act)
        return dA * self.factor(Z, A, act)


def _other(name: str) -> DerivativeCandidate:
    other = get_activation(name)
    return DerivativeCandidate(
        f"derivative_of_{name}", None, f"{name}'s derivative ({DERIVATIVE_TEXT[name]})",
        f"this is the derivative of {name}, not of the layer's activation",
        factor=lambda Z, A, act, o=other: o.derivative(Z), excludes=(name,))


def _sigmoid(z):
    return get_activation("sigmoid").value(z)


#: Wrong activation derivatives, most specific first (the first matching one is reported).
DERIVATIVE_CANDIDATES: tuple[DerivativeCandidate, ...] = (
    DerivativeCandidate("sigmoid_missing_one_minus_s", ("sigmoid",), "s",
                        "the sigmoid derivative is missing a factor (1 − s)",
                        factor=lambda Z, A, act: A),
    DerivativeCandidate("sigmoid_missing_s", ("sigmoid",), "1−s",
                        "the sigmoid derivative is missing a factor s",
                        factor=lambda Z, A, act: 1.0 - A),
    DerivativeCandidate("sigmoid_of_z", ("sigmoid",), "Z{l}·(1−Z{l})",
                        "the formula s·(1−s) was applied to the pre-activation Z{l} instead of "
                        "to s = σ(Z{l})",
                        factor=lambda Z, A, act: Z * (1.0 - Z)),
    DerivativeCandidate("sigmoid_of_a", ("sigmoid",), "σ(A{l})·(1−σ(A{l}))",
                        "the sigmoid was applied twice: its derivative was evaluated at "
                        "A{l} = σ(Z{l}) instead of at Z{l}",
                        factor=lambda Z, A, act: _sigmoid(A) * (1.0 - _sigmoid(A))),
    DerivativeCandidate("tanh_not_squared", ("tanh",), "1−t",
                        "the tanh derivative is 1 − t², with t squared",
                        factor=lambda Z, A, act: 1.0 - A),
    DerivativeCandidate("tanh_of_z", ("tanh",), "1−Z{l}²",
                        "the formula 1 − t² was applied to the pre-activation Z{l} instead of "
                        "to t = tanh(Z{l})",
                        factor=lambda Z, A, act: 1.0 - Z ** 2),
    DerivativeCandidate("relu_inverted", ("relu",), "the mask [Z{l} ≤ 0]",
                        "the mask is inverted: the gradient must flow where Z{l} > 0 and be "
                        "zero elsewhere",
                        factor=lambda Z, A, act: (Z <= 0).astype(np.float64)),
    DerivativeCandidate("relu_times_z", ("relu",), "Z{l}",
                        "dA{l} was multiplied by Z{l} instead of masked with [Z{l} > 0]",
                        factor=lambda Z, A, act: Z),
    DerivativeCandidate("leaky_relu_inverted", ("leaky_relu",),
                        "the slope for Z{l} > 0 and 1 otherwise",
                        "the two branches are swapped",
                        factor=lambda Z, A, act: np.where(Z > 0, act.slope, 1.0)),
    *(DerivativeCandidate(f"leaky_relu_slope_{s:g}", ("leaky_relu",),
                          f"a negative-side slope of {s:g}",
                          "the negative-side slope must be the layer's own slope "
                          "(leaky_relu's parameter)",
                          factor=lambda Z, A, act, s=s: np.where(Z > 0, 1.0, s))
      for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)),
    DerivativeCandidate("softmax_elementwise", ("softmax",), "A{l}⊙(1−A{l})⊙dA{l}",
                        "softmax is not elementwise: its Jacobian a_k(δ_kj − a_j) also has "
                        "the off-diagonal terms −a_k·a_j",
                        vjp=lambda Z, A, dA, act: dA * A * (1.0 - A)),
    DerivativeCandidate("missing", ("softmax",), "dZ{l} = dA{l}",
                        "the softmax backward step is missing",
                        vjp=lambda Z, A, dA, act: dA),
    DerivativeCandidate("relu_mask_a_nonneg", ("relu",), "the mask [A{l} ≥ 0] (always 1)",
                        "A{l} = max(Z{l}, 0) is never negative, so the mask keeps everything "
                        "and the relu derivative is missing: mask with Z{l} > 0",
                        factor=lambda Z, A, act: np.ones_like(Z)),
    DerivativeCandidate("missing", None, "1 (dZ{l} = dA{l})",
                        "the activation derivative is missing",
                        factor=lambda Z, A, act: np.ones_like(Z), excludes=("linear",)),
    DerivativeCandidate("activation_value", None, "the activation value A{l} = g(Z{l})",
                        "the activation itself was used instead of its derivative",
                        factor=lambda Z, A, act: A),
    DerivativeCandidate("derivative_at_a", None, "g'(A{l})",
                        "the derivative was evaluated at the activation A{l} instead of the "
                        "pre-activation Z{l}",
                        factor=lambda Z, A, act: act.derivative(A)),
    *(_other(name) for name in ("sigmoid", "tanh", "relu", "softplus")),
)


@dataclass(frozen=True)
class LossCandidate:
    """A wrong derivative of the loss with respect to the output activation,
    ``dA(A, Y, loss)``, followed by the output activation's correct backward step."""

    id: str
    losses: tuple[str, ...]
    wrong: str
    right: str
    explanation: str
    dA: Callable
    kind: str = "loss_derivative"


#: Wrong output gradients.
LOSS_CANDIDATES: tuple[LossCandidate, ...] = (
    LossCandidate("a_minus_y_as_da", ("bce", "cross_entropy"), "dA = a − y", "the fused dZ = a − y",
                  "a − y is already dℓ/dZ (the output activation's derivative is included); "
                  "applying the output activation's derivative on top of it counts it twice",
                  lambda A, Y, loss: A - Y, kind="activation_derivative"),
    LossCandidate("output_sign", ("bce", "cross_entropy", "square", "half_square"), "−dℓ/da",
                  "dℓ/da", "the output gradient has the wrong sign, and so every gradient below "
                  "it: following them is gradient ascent instead of descent",
                  lambda A, Y, loss: -loss.derivative(A, Y), kind="sign"),
    LossCandidate("square_missing_2", ("square",), "a − y", "2(a − y)",
                  "a factor 2 is missing: the derivative of (a − y)² is 2(a − y)",
                  lambda A, Y, loss: A - Y, kind="half"),
    LossCandidate("half_square_extra_2", ("half_square",), "2(a − y)", "a − y",
                  "an extra factor 2: the derivative of ½(a − y)² is a − y",
                  lambda A, Y, loss: 2 * (A - Y), kind="times_2"),
    LossCandidate("bce_sign_term", ("bce",), "−(y/a + (1−y)/(1−a))", "−(y/a − (1−y)/(1−a))",
                  "a sign error in the bce derivative",
                  lambda A, Y, loss: -(Y / A + (1 - Y) / (1 - A))),
    LossCandidate("bce_for_softmax", ("cross_entropy",), "the bce derivative "
                  "−(y/a − (1−y)/(1−a))", "−y/a", "the binary cross-entropy derivative was used "
                  "for a categorical cross-entropy",
                  lambda A, Y, loss: -(Y / A - (1 - Y) / (1 - A))),
)


@dataclass(frozen=True)
class StepCandidate:
    """A wrong linear backward step at layer l: ``step`` is "dA_prev", "dW", "db" or "l2".

    ``fn(model, l, dZ, dA)`` returns the wrong value (for "dW": the data part, without the L2
    term; for "l2": the L2 term of dW), or None when it does not apply (e.g. a shape that
    cannot match). Texts may use ``{l}`` and ``{p}`` (= l − 1).
    """

    id: str
    step: str
    kind: str
    wrong: str
    right: str
    explanation: str
    fn: Callable
    fallback: bool = False


def _if_square(W, value: Callable):
    return value() if W.shape[0] == W.shape[1] else None


#: Wrong linear backward steps.
STEP_CANDIDATES: tuple[StepCandidate, ...] = (
    StepCandidate("no_transpose", "dA_prev", "dA_prev", "W{l}·dZ{l}", "W{l}ᵀ·dZ{l}",
                  "W{l} must be transposed",
                  lambda md, l, dZ, dA: _if_square(md.W(l), lambda: md.W(l) @ dZ)),
    StepCandidate("reshape_not_transpose", "dA_prev", "dA_prev", "reshape(W{l})·dZ{l}",
                  "W{l}ᵀ·dZ{l}", "W{l} must be transposed: a reshape to the transposed shape "
                  "keeps the entries in memory order; use W{l}.T, not W{l}.reshape",
                  lambda md, l, dZ, dA: (None if md.W(l).shape[0] == md.W(l).shape[1]
                                         else md.W(l).reshape(md.W(l).shape[::-1]) @ dZ)),
    StepCandidate("dA_prev_over_m", "dA_prev", "dA_prev", "W{l}ᵀ·dZ{l}/m", "W{l}ᵀ·dZ{l}",
                  "dA is a per-example gradient: the 1/m belongs only in dW and db",
                  lambda md, l, dZ, dA: md.W(l).T @ dZ / md.m),
    StepCandidate("dA_prev_from_dA", "dA_prev", "dA_prev", "W{l}ᵀ·dA{l}", "W{l}ᵀ·dZ{l}",
                  "the activation derivative was skipped when passing back",
                  lambda md, l, dZ, dA: md.W(l).T @ dA),
    StepCandidate("z_prev", "dW", "a_prev", "dZ{l}·Z{p}ᵀ/m", "dZ{l}·A{p}ᵀ/m",
                  "the pre-activation Z{p} was used instead of the activation A{p} = g(Z{p})",
                  lambda md, l, dZ, dA: dZ @ md.cache[f"Z{l - 1}"].T / md.m if l > 1 else None),
    StepCandidate("a_current", "dW", "a_prev", "dZ{l}·A{l}ᵀ/m", "dZ{l}·A{p}ᵀ/m",
                  "the layer's output A{l} was used instead of its input A{p}",
                  lambda md, l, dZ, dA: _if_square(md.W(l), lambda: dZ @ md.cache[f"A{l}"].T / md.m)),
    StepCandidate("x_input", "dW", "a_prev", "dZ{l}·Xᵀ/m", "dZ{l}·A{p}ᵀ/m",
                  "the network input X was used instead of the layer's input A{p}",
                  lambda md, l, dZ, dA: (dZ @ md.cache["A0"].T / md.m
                                         if l > 1 and md.W(l).shape[1] == md.cache["A0"].shape[0]
                                         else None)),
    *(StepCandidate(cid, "l2", kind, "dZ{l}·A{p}ᵀ/m" + term, "dZ{l}·A{p}ᵀ/m + λ/m·W{l}", expl,
                    lambda md, l, dZ, dA, c=c: c(md.lam, md.m) * md.W(l) if md.lam else None)
      for cid, kind, term, expl, c in (
          ("l2_missing", "l2_missing", " alone", "the L2 term λ/m·W{l} is missing",
           lambda lam, m: 0.0),
          ("l2_no_m", "l2_wrong", " + λ·W{l}", "the L2 term λ·W{l} must be divided by m too",
           lambda lam, m: lam),
          ("l2_double", "l2_wrong", " + 2λ/m·W{l}", "the derivative of λ/(2m)·‖W{l}‖² is "
           "λ/m·W{l}, not 2λ/m·W{l}", lambda lam, m: 2 * lam / m),
          ("l2_half", "l2_wrong", " + λ/(2m)·W{l}", "differentiating ‖W{l}‖² gives 2·W{l}, "
           "which cancels the ½ of λ/(2m)", lambda lam, m: lam / (2 * m)),
          ("l2_sign", "l2_wrong", " − λ/m·W{l}", "the L2 term has the wrong sign",
           lambda lam, m: -lam / m))),
    StepCandidate("l2_on_bias", "db", "l2_bias", "Σ_columns dZ{l}/m + λ/m·b{l}",
                  "Σ_columns dZ{l}/m", "biases are not regularised, only weights",
                  lambda md, l, dZ, dA: (np.sum(dZ, axis=1, keepdims=True) / md.m
                                         + md.lam / md.m * md.params[f"b{l}"]) if md.lam
                  else None),
    StepCandidate("dw_no_mean", "dW", "times_m", "dZ{l}·A{p}ᵀ", "dZ{l}·A{p}ᵀ/m",
                  "the 1/m averaging is missing",
                  lambda md, l, dZ, dA: dZ @ md.cache[f"A{l - 1}"].T, fallback=True),
    StepCandidate("dw_mean_twice", "dW", "over_m", "dZ{l}·A{p}ᵀ/m²", "dZ{l}·A{p}ᵀ/m",
                  "divided by m twice",
                  lambda md, l, dZ, dA: dZ @ md.cache[f"A{l - 1}"].T / md.m ** 2, fallback=True),
    StepCandidate("dw_sign", "dW", "sign", "−dZ{l}·A{p}ᵀ/m", "dZ{l}·A{p}ᵀ/m",
                  "the data part has the wrong sign: following it is gradient ascent",
                  lambda md, l, dZ, dA: -(dZ @ md.cache[f"A{l - 1}"].T) / md.m, fallback=True),
    StepCandidate("db_no_mean", "db", "times_m", "Σ_columns dZ{l}", "Σ_columns dZ{l}/m",
                  "the 1/m averaging is missing",
                  lambda md, l, dZ, dA: np.sum(dZ, axis=1, keepdims=True), fallback=True),
    StepCandidate("db_mean_twice", "db", "over_m", "Σ_columns dZ{l}/m²", "Σ_columns dZ{l}/m",
                  "divided by m twice",
                  lambda md, l, dZ, dA: np.sum(dZ, axis=1, keepdims=True) / md.m ** 2,
                  fallback=True),
    StepCandidate("db_from_dA", "db", "bias", "Σ_columns dA{l}/m", "Σ_columns dZ{l}/m",
                  "db must sum dZ{l} (after the activation derivative), not dA{l}",
                  lambda md, l, dZ, dA: np.sum(dA, axis=1, keepdims=True) / md.m),
    StepCandidate("db_sum_all", "db", "bias", "the sum of all entries of dZ{l}, over m",
                  "Σ_columns dZ{l}/m", "the sum must run over the examples only "
                  "(np.sum(dZ, axis=1, keepdims=True) / m), not over the units as well",
                  lambda md, l, dZ, dA: np.full((dZ.shape[0], 1), np.sum(dZ) / md.m)),
    StepCandidate("db_mean_all", "db", "bias", "the mean of all entries of dZ{l}",
                  "Σ_columns dZ{l}/m", "np.mean(dZ) averages over the units as well: use "
                  "np.sum(dZ, axis=1, keepdims=True) / m",
                  lambda md, l, dZ, dA: np.full((dZ.shape[0], 1), np.mean(dZ))),
)


# --------------------------------------------------------------------------- the model
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

    def run(self, act: Mapping | None = None, loss_dA: Callable | None = None,
            steps: Mapping | None = None) -> dict[str, np.ndarray]:
        """Gradients with ``act[l](Z, A, dA) -> dZ`` replacing layer l's backward activation
        step, ``loss_dA(A, Y)`` replacing dℓ/dA_L, and ``steps[(step, l)](model, l, dZ, dA)``
        replacing a linear backward step."""
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
                if l > 1:
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
              and any(np.any(md.cache[f"Z{l}"] == k) for k in md.acts[l - 1].kinks)]
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


# --------------------------------------------------------------------------- context
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


# --------------------------------------------------------------------------- observations
@dataclass
class _Obs:
    """A per-array finding before merging: ``template`` uses {what}, {is}, {has}, …"""

    kind: str
    names: list[str]
    template: str
    details: dict
    merge: tuple | None = None

    def finding(self) -> Finding:
        text = self.template.format(what=_join(self.names), **_verbs(len(self.names)))
        return Finding(tuple(self.names), self.kind, text, self.details)


def _m_note(m: int | None) -> str:
    if m == 1:
        return ("; note that with m = 1 a missing or doubled 1/m cannot show at all: check "
                "with m > 1 to rule it out")
    return ""


def _factor_text(kind: str, role: str, m: int | None, r: float) -> str:
    """The cause of a named factor, completing "{what} {is} …"."""
    if kind == "times_m":
        if role == "inter":
            return (f"m = {m} times too large: dZ and dA are per-example gradients, "
                    f"yet something multiplied {{it}} by m")
        return f"m = {m} times too large: the 1/m averaging is missing"
    if kind == "over_m":
        if role == "inter":
            return (f"m = {m} times too small: dZ and dA are per-example gradients, the 1/m "
                    f"belongs only in dW and db")
        return f"m = {m} times too small: divided by m twice"
    if kind == "times_2":
        return ("2 times too large: an extra factor 2, e.g. the square-loss derivative "
                "2(a − y) used for the half-square cost ½(a − y)²")
    if kind == "half":
        return ("half the expected value: a factor 2 is missing, e.g. the derivative of the "
                "square loss (a − y)² is 2(a − y), not a − y")
    if kind == "m_or_2":
        if r > 1:
            return ("2 times too large, and with m = 2 this is ambiguous: either the 1/m "
                    "averaging is missing or there is an extra factor 2 (square versus "
                    "half-square loss); run with another m to tell them apart")
        return ("half the expected value, and with m = 2 this is ambiguous: either it was "
                "divided by m twice or a factor 2 is missing (square versus half-square loss); "
                "run with another m to tell them apart")
    raise AssertionError(kind)


def _named_factor(r: float, m: int | None) -> tuple[str, float] | None:
    """(kind, factor) when |r| is m, 1/m, 2 or ½ to within FACTOR_RTOL."""
    table = [("times_2", 2.0), ("half", 0.5)]
    if m is not None and m > 1:
        table = [("times_m", float(m)), ("over_m", 1.0 / m)] + table
    hits = [(k, f) for k, f in table if abs(abs(r) / f - 1.0) <= FACTOR_RTOL]
    if not hits:
        return None
    if len(hits) > 1:  # m = 2: m and 2 (or 1/m and 1/2) coincide
        return "m_or_2", hits[0][1]
    return hits[0]


def _scale_obs(name: str, r: float, support: int, ctx: _Ctx, size: int = 2) -> _Obs | None:
    role, m = _role(name), ctx.m
    gradient = name.startswith("d")
    details = {"ratio": r, "m": m}
    if abs(r + 1.0) <= FACTOR_RTOL:
        ascent = (": following {it} is gradient ascent instead of descent" if gradient
                  else ": a minus sign is missing or extra")
        return _Obs("sign", [name], "{what} {has} the wrong sign" + ascent, details, ("sign",))
    if abs(r - 1.0) <= NEAR_MISS_RTOL:
        every = "every element of {what}" if size > 1 else "{what}, a single number,"
        text = (f"{every} is {_ratio(r)}× the expected value: a near miss, a tiny consistent "
                f"error (relative {abs(r - 1):.1e}), e.g. a slightly wrong constant, or a formula "
                f"that loses precision (such as 1 − tanh² near saturation)")
        return _Obs("near_miss", [name], text, details, ("near_miss", role, f"{r:.9g}"))
    named = _named_factor(r, m)
    if named is not None:
        kind, f = named
        text = "{what} {is} " + _factor_text(kind, role, m, r)
        if r < 0:
            text += "; also, the sign is wrong"
        return _Obs(kind, [name], text + _m_note(m), details, (kind, role, r < 0))
    if support < SCALE_MIN_SUPPORT:
        return None
    text = f"{{what}} {{is}} {_fmt(r)} times the expected value at every element: a constant factor"
    if m is None and r > 1 and abs(r - round(r)) <= FACTOR_RTOL * r:
        text += f" (if m = {round(r)}, the 1/m averaging is missing)"
    elif m is None and 0 < r < 1 and abs(1 / r - round(1 / r)) <= FACTOR_RTOL / r:
        text += f" (if m = {round(1 / r)}, it was divided by m twice)"
    else:
        text += " is off"
    return _Obs("scale", [name], text + _m_note(m), details, ("scale", role, f"{r:.9g}"))


def _fit_scale(a: np.ndarray, e: np.ndarray) -> float | None:
    ee = float(np.vdot(e, e))
    if ee == 0.0:
        return None
    r = float(np.vdot(a, e)) / ee
    re_ = r * e
    if float(np.max(np.abs(a - re_))) <= SCALE_RTOL * _absmax(re_) + MATCH_ATOL:
        return r
    return None


def _fit2(a, u, v) -> tuple[float, float] | None:
    """Least-squares a ≈ α u + β v, accepted only for a tight fit and non-collinear u, v."""
    if a.size < FIT2_MIN_SIZE:
        return None  # two unknowns: too few equations to test the fit
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0 or nv == 0 or abs(float(np.vdot(u, v))) / (nu * nv) > COLLINEAR_COS:
        return None
    M = np.stack([u.ravel(), v.ravel()], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(M, a.ravel(), rcond=None)
    fit = alpha * u + beta * v
    scale = max(_absmax(alpha * u), _absmax(beta * v))
    if float(np.max(np.abs(a - fit))) <= SCALE_RTOL * scale + MATCH_ATOL:
        return float(alpha), float(beta)
    return None


def _near(x: float, y: float) -> bool:
    return abs(x - y) <= FACTOR_RTOL * max(abs(y), 1e-300)


def _l2_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    parsed = _parse(name)
    if parsed is None or parsed[0] not in "Wb":
        return None
    md = ctx.model_for(name, e)
    if md is None or not md.lam:
        return None
    p, l = parsed
    lam, m = md.lam, md.m
    unit = lam / m
    if p == "b":
        b = md.params[f"b{l}"]
        fit = _fit2(a, e, b)
        if fit is None or not _near(fit[0], 1.0) or not _near(fit[1], unit):
            return None
        return _Obs("l2_bias", [name], f"{{what}} include{{s}} an L2 term λ/m·b{l}: biases are "
                    f"not regularised, only weights", {"lambda": lam, "m": m}, ("l2_bias",))
    W = md.W(l)
    data = e - unit * W
    fit = _fit2(a, data, W)
    if fit is None:
        return None
    alpha, beta = fit
    details = {"alpha": alpha, "beta": beta, "lambda": lam, "m": m}
    wrongs = [(0.0, "l2_missing", f"{{what}} {{is}} missing the L2 term λ/m·W{l} "
               f"(λ = {lam:g}, m = {m})"),
              (lam, "l2_wrong", f"the L2 term in {{what}} is λ·W{l} instead of λ/m·W{l}: "
               f"divide it by m = {m} too"),
              (2 * unit, "l2_wrong", f"the L2 term in {{what}} is 2λ/m·W{l} instead of "
               f"λ/m·W{l}: the derivative of λ/(2m)·‖W‖² is λ/m·W"),
              (unit / 2, "l2_wrong", f"the L2 term in {{what}} is λ/(2m)·W{l} instead of "
               f"λ/m·W{l}: differentiating ‖W‖² gives 2W, which cancels the ½"),
              (-unit, "l2_wrong", f"the L2 term in {{what}} has the wrong sign: it must add "
               f"+λ/m·W{l}")]
    l2_kind = l2_text = None
    if not _near(beta, unit):
        for value, kind, text in wrongs:
            if (value == 0.0 and abs(beta) <= FACTOR_RTOL * unit) or (value and _near(beta, value)):
                l2_kind, l2_text = kind, text
                break
        else:
            l2_kind, l2_text = "l2_wrong", (f"the L2 term in {{what}} is {beta / unit:.4g}·λ/m·"
                                            f"W{l} instead of λ/m·W{l}")
    data_text = None
    if not _near(alpha, 1.0):
        named = _named_factor(alpha, m)
        if named is None and not (abs(alpha + 1) <= FACTOR_RTOL):
            return None  # an unexplained factor on the data part: claim nothing about L2 here
        if named is None:
            data_kind, data_text = "sign", "the data part dZ·A_prevᵀ/m has the wrong sign"
        else:
            data_kind = named[0]
            data_text = ("the data part dZ·A_prevᵀ/m is "
                         + _factor_text(data_kind, "param", m, alpha).replace("{it}", "it"))
    if l2_kind is None and data_text is None:
        return None
    if l2_kind is None:
        return _Obs(data_kind, [name], "in {what}, " + data_text + " (the L2 term λ/m·W is "
                    "right)" + _m_note(m), details, (data_kind, "data", f"{alpha:.6g}"))
    text = l2_text + (f"; also, {data_text}" if data_text else "")
    return _Obs(l2_kind, [name], text, details, (l2_kind, f"{beta / unit:.6g}", data_text))


def _hyp_text(h: _Hypothesis, layers: tuple[int, ...]) -> tuple[str, str, str]:
    """The hypothesis' wrong/right/explanation texts for its origin layers."""
    if len(layers) == 1:
        fill = {"l": str(layers[0]), "p": str(layers[0] - 1)}
    else:
        fill = {"l": "", "p": "_prev"}
    return (h.wrong.format(**fill), h.right.format(**fill), h.explanation.format(**fill))


def _subject(h: _Hypothesis, keys) -> list[str]:
    """The analytic keys a hypothesis is described by (dZ if present, else dW and db)."""
    keys = set(keys)
    out = []
    for l in sorted(h.origin, reverse=True):
        if h.kind in ("a_prev", "l2_missing", "l2_wrong"):
            out += [f"dW{l}"]
        elif h.kind in ("bias", "l2_bias"):
            out += [f"db{l}"]
        elif f"dZ{l}" in keys:
            out += [f"dZ{l}"]
        else:
            out += [k for k in (f"dW{l}", f"db{l}") if k in keys]
    return [k for k in out if k in keys] or sorted(keys, key=_sort_key)[:1]


def _hyp_sentence(h: _Hypothesis, keys, single: str | None = None,
                  subject: list[str] | None = None) -> str:
    wrong, right, expl = _hyp_text(h, h.origin)
    if h.kind == "dA_prev":
        l = ",".join(str(o) for o in h.origin)
        prev = f"dA{h.origin[0] - 1}" if len(h.origin) == 1 else "dA_prev"
        where = f"in layer {l}" if len(h.origin) == 1 else f"in {_layers(h.origin)}"
        return (f"{prev} is computed as {wrong} instead of {right} {where} ({expl}): look at "
                f"how dA_prev is passed back")
    if subject is None:
        subject = [single] if single else _subject(h, keys)
    v = _verbs(len(subject))
    if h.kind == "activation_derivative" and h.id == "a_minus_y_as_da":
        return (f"{_join(subject)} {v['matches']} {wrong} followed by the {h.act} derivative "
                f"instead of {right}: {expl}")
    if h.kind == "activation_derivative":
        note = NOTATION.get(get_activation(h.act).name, "").format(
            l=str(h.origin[0]) if len(h.origin) == 1 else "")
        return (f"{_join(subject)} {v['matches']} {wrong} instead of {right} as the {h.act} "
                f"derivative in {_layers(h.origin)}{note}: {expl}")
    if h.kind == "loss_derivative":
        return (f"{_join(subject)} {v['matches']} the output gradient dA{h.origin[0]} = {wrong} "
                f"instead of {right}: {expl}")
    return f"{_join(subject)} {v['matches']} {wrong} instead of {right}: {expl}"


def _hyp_obs_single(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    md = ctx.model_for(name, e)
    if md is None:
        return None
    parsed = _parse(name)
    layer = parsed[1] if parsed else None
    # the other compared arrays of the same layer must agree with the candidate too
    peers = {k: v for k, v in (ctx.compared or {}).items()
             if k != name and _parse(k) and _parse(k)[0] in "ZWb" and _parse(k)[1] == layer}

    def fits(h):
        return (not h.acceptable and name in h.grads and h.grads[name].shape == a.shape
                and _equal(a, h.grads[name]) and not _equal(e, h.grads[name])
                and all(k in h.grads and _equal(v, h.grads[k]) for k, v in peers.items()))

    def here(h):  # dA_{l-1} is passed back by layer l
        return layer in h.origin or (h.kind == "dA_prev" and name.startswith("dA")
                                     and layer is not None and layer + 1 in h.origin)

    local = [h for h in ctx.hypotheses if here(h) and fits(h)]
    others = [h for h in ctx.hypotheses if not here(h) and fits(h)]
    matches = local + others
    if not matches:
        return None
    h = matches[0]
    text = _hyp_sentence(h, [name], single=name)
    if h.kind == "dA_prev" and not name.startswith("dA"):
        text = f"{name} is wrong because " + text
    elif not local:
        text = f"{name} is wrong as a consequence of a mistake in {_layers(h.origin)}: " + text
    text += "." + _alternatives(h, matches[1:])
    return _Obs(h.kind, [name], _esc(text), {"candidate": h.id, "layers": list(h.origin)},
                None)


def _near_miss_obs(name: str, a: np.ndarray, e: np.ndarray,
                   group: float | None = None) -> _Obs | None:
    bad = _differing(a, e)
    if not np.any(bad):  # below MATCH_RTOL: the elements the checker flags
        bad = _flag_mask(a, e, group)
    k, n = int(np.sum(bad)), a.size
    scale = _absmax(e)
    diff = np.abs(a - e)
    if 0 < k <= NEAR_MISS_MAX_ELEMENTS and k < n:
        parts = []
        for idx in map(tuple, np.argwhere(bad)):
            where = _index(name, idx)
            if e[idx] != 0:
                parts.append(f"{where} is {_ratio(a[idx] / e[idx])}× the expected value")
            else:
                parts.append(f"{where} is {a[idx]:.4g} where 0 is expected")
        verb = "differs" if k == 1 else "differ"
        text = f"{k} of {n} elements {verb}: " + "; ".join(parts)
        return _Obs("near_miss", [name], _esc(text),
                    {"count": k, "size": n, "elements": [list(map(int, i)) for i in
                                                         np.argwhere(bad)]}, None)
    if scale > 0 and float(np.max(diff)) <= NEAR_MISS_RTOL * scale:
        idx = tuple(np.unravel_index(int(np.argmax(diff)), a.shape))
        rel = float(np.max(diff)) / scale
        digits = min(17, max(8, 3 - int(math.floor(math.log10(rel))))) if rel > 0 else 8
        text = (f"{k} of {n} elements of {name} differ slightly: the largest difference is "
                f"{rel:.1e} of the largest entry, at {_index(name, idx)} ({a[idx]:.{digits}g} "
                f"instead of {e[idx]:.{digits}g}); a near miss, e.g. float32 arithmetic or a "
                f"rounded constant")
        return _Obs("near_miss", [name], _esc(text),
                    {"count": k, "size": n, "max_relative": rel}, None)
    return None


def _mismatch_obs(name: str, a: np.ndarray, e: np.ndarray) -> _Obs:
    diff = np.abs(a - e)
    idx = tuple(np.unravel_index(int(np.argmax(diff)), a.shape)) if a.ndim else ()
    norm_e = float(np.linalg.norm(e))
    rel = float(np.linalg.norm(a - e)) / norm_e if norm_e > 0 else math.inf
    rel_text = f"relative error {rel:.3g}" if math.isfinite(rel) else "expected all zeros"
    what = "gradient" if name.startswith("d") else "value"
    text = (f"{name} does not match the expected {what} ({rel_text}); the largest difference "
            f"is at {_index(name, idx)}: {a[idx]:.6g} instead of {e[idx]:.6g}. No simple pattern "
            f"(a factor, the sign, a transpose, a known slip) explains it")
    return _Obs("mismatch", [name], _esc(text),
                {"relative_error": rel if math.isfinite(rel) else None,
                 "worst": list(map(int, idx)), "analytic": float(a[idx]),
                 "expected": float(e[idx])}, None)


def _kink_only(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx, fine: bool = False) -> bool:
    """Whether ``a`` is the expected array with the other one-sided derivative at exact kinks
    (``fine``: to the checker's precision, else to ``MATCH_RTOL``)."""
    if ctx.model_for(name, e) is None:
        return False
    for h in ctx.hypotheses:
        if h.acceptable and name in h.grads and h.grads[name].shape == a.shape:
            if (not _flagged(a, h.grads[name]) if fine else _equal(a, h.grads[name])):
                return True
    return False


def _tiny_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx,
              scale: float | None = None) -> _Obs | None:
    """A difference below ``MATCH_RTOL`` that the checker still flags: a near miss (never
    silence), unless it is only the one-sided derivative at exact kinks."""
    if not _flagged(a, e, scale) or _kink_only(name, a, e, ctx, fine=True):
        return None
    return _near_miss_obs(name, a, e, scale) or _mismatch_obs(name, a, e)


def _value_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    """Diagnose two arrays of the same shape."""
    if _equal(a, e):
        return _tiny_obs(name, a, e, ctx)
    if _kink_only(name, a, e, ctx):  # the other one-sided derivative at exact kinks is fine
        return None
    if _absmax(a) <= MATCH_ATOL:
        return _Obs("zero", [name], "{what} {is} all zeros: nothing was computed or nothing "
                    "reached {it}", {}, ("zero",))
    r = _fit_scale(a, e)
    if r is not None:
        support = int(np.sum(np.abs(e) > 1e-3 * _absmax(e)))
        obs = _scale_obs(name, r, support, ctx, a.size)
        if obs is not None:
            return obs
    obs = _l2_obs(name, a, e, ctx)
    if obs is not None:
        return obs
    if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and _equal(a, e.T):
        return _Obs("transpose", [name], "{what} {is} the transpose of the expected gradient "
                    "(square, so the shape did not reveal it): e.g. dW = A_prev·dZᵀ/m instead "
                    "of dZ·A_prevᵀ/m", {}, ("transpose", "square"))
    obs = _hyp_obs_single(name, a, e, ctx)
    if obs is not None:
        return obs
    return _near_miss_obs(name, a, e) or _mismatch_obs(name, a, e)


def _shape_meaning(name: str, shape: tuple) -> str:
    parsed = _parse(name)
    if parsed is None:
        return ""
    p, l = parsed
    return {"W": f" = (n_{l}, n_{l - 1}), the shape of W{l}",
            "b": f" = (n_{l}, 1), the shape of b{l}",
            "Z": f" = (n_{l}, m), the shape of Z{l}",
            "A": f" = (n_{l}, m), the shape of A{l}"}[p]


def _per_example_sum(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    """A bias gradient with one entry per example: summed over the wrong axis.

    Claimed when its values are verified against dZ (sum or mean over axis 0), or, unverified,
    when only the shape says so (m entries, m different from n_l).
    """
    m = ctx.m
    column = (e.ndim == 2 and e.shape[1] == 1) or e.ndim == 1
    n = e.shape[0] if e.ndim else 1
    if not (column and m is not None and a.size == m and (a.ndim == 1 or 1 in a.shape)):
        return None
    details = {"shape": list(a.shape), "expected_shape": list(e.shape)}
    text = (f"{{what}} has shape {a.shape}, one entry per example (m = {m}), instead of "
            f"{e.shape}: the sum runs over the wrong axis; sum over the examples with "
            f"np.sum(dZ, axis=1, keepdims=True)")
    parsed = _parse(name)
    if parsed and parsed[0] == "b":
        dZ = ctx.dZ(parsed[1])
        if dZ is not None and dZ.shape[1] == m:
            for value, how in ((np.sum(dZ, axis=0) / m, "Σ over axis 0, over m"),
                               (np.sum(dZ, axis=0), "Σ over axis 0"),
                               (np.mean(dZ, axis=0), "the mean over axis 0")):
                if _equal(a.ravel(), value):
                    details["verified"] = how
                    return _Obs("wrong_axis", [name], text + f" (the values are {how} of "
                                f"dZ{parsed[1]})", details, None)
    if m == n:
        return None  # (1, n) could as well be a transposed column
    return _Obs("wrong_axis", [name], text, details, None)


def _shape_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs:
    details = {"shape": list(a.shape), "expected_shape": list(e.shape)}
    m = ctx.m
    per_example = _per_example_sum(name, a, e, ctx)
    same_values = a.size == e.size and (_equal(a.reshape(e.shape), e)
                                        or (a.ndim == 2 and _equal(a.T, e)))
    if per_example is not None and "verified" in per_example.details and not same_values:
        return per_example
    if a.size == e.size and a.ndim == 2 and e.ndim == 2 and a.shape == e.shape[::-1]:
        inner = _value_obs(name, a.T, e, ctx)
        if e.shape[1] == 1:
            text = (f"{{what}} is a row of shape {a.shape} instead of a column {e.shape}: sum "
                    f"over the examples with axis=1, keepdims=True")
        else:
            text = (f"{{what}} has the transposed shape {a.shape} instead of {e.shape}"
                    f"{_shape_meaning(name, e.shape)}: e.g. A_prev·dZᵀ instead of dZ·A_prevᵀ")
        if inner is None:
            text += " (its values are right once transposed)"
        else:
            text += "; even transposed, " + _esc(inner.finding().message)
            details["then"] = inner.kind
        return _Obs("transpose", [name], text, details, None)
    if a.size == e.size and [s for s in a.shape if s != 1] == [s for s in e.shape if s != 1]:
        inner = _value_obs(name, a.reshape(e.shape), e, ctx)
        text = (f"{{what}} has shape {a.shape} instead of {e.shape}: the singleton axis was "
                f"lost or added (use keepdims=True, or reshape)")
        if inner is None:
            text += "; the values are right"
        else:
            text += "; also, " + _esc(inner.finding().message)
            details["then"] = inner.kind
        return _Obs("keepdims", [name], text, details, None)
    if per_example is not None:
        return per_example
    parsed = _parse(name)
    column = (e.ndim == 2 and e.shape[1] == 1) or e.ndim == 1
    if a.size == 1 and e.size > 1 and column:
        text = (f"{{what}} is a single number instead of shape {e.shape}: the sum runs over all "
                f"entries instead of over the examples only; use np.sum(dZ, axis=1, "
                f"keepdims=True) / m")
        if parsed and parsed[0] == "b":
            dZ = ctx.dZ(parsed[1])
            if dZ is not None and m is not None:
                value = float(a.ravel()[0])
                for ref, how in ((np.sum(dZ) / m, "Σ of all of dZ, over m"),
                                 (np.mean(dZ), "the mean of all of dZ")):
                    if _equal(np.array([value]), np.array([ref])):
                        text += f" (the value is {how})"
                        details["verified"] = how
                        break
        return _Obs("wrong_axis", [name], text, details, None)
    text = f"{{what}} has shape {a.shape} but should be {e.shape}{_shape_meaning(name, e.shape)}"
    if parsed and parsed[0] == "W":
        l = parsed[1]
        if a.shape == (e.shape[0], e.shape[0]):
            text += f": it looks like A{l} (this layer's output) was used instead of A{l - 1}"
        elif m is not None and a.shape == (e.shape[0], m):
            text += (f": one column per example, so the product with A{l - 1}ᵀ (which sums over "
                     f"the examples) is missing")
    return _Obs("shape", [name], text, details, None)


def _as_array(value) -> tuple[np.ndarray | None, str | None]:
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            return None, type(value).__name__
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        return None, f"{type(value).__name__} of dtype {arr.dtype}"
    return arr.astype(np.float64), None


def _expected_array(name: str, value) -> np.ndarray:
    arr, problem = _as_array(value)
    if arr is None:
        raise TypeError(f"expected[{name!r}] must be a real numeric array, got {problem}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"expected[{name!r}] contains NaN or infinity; the true gradient must "
                         f"be finite")
    return arr


def _diagnose_one(name: str, analytic, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    if analytic is None:
        return _Obs("missing", [name], f"{{what}} {{is}} missing: expected an array of shape "
                    f"{e.shape}", {}, ("missing",))
    a, problem = _as_array(analytic)
    if a is None:
        return _Obs("type", [name], f"{{what}} is a {problem}, not a numeric array of shape "
                    f"{e.shape}", {}, None)
    bad = ~np.isfinite(a)
    if np.any(bad):
        first = tuple(np.argwhere(bad)[0]) if a.ndim else ()
        return _Obs("nonfinite", [name], f"{{what}} contains {int(np.sum(bad))} NaN or infinite "
                    f"value(s), first at {_index(name, first)}: look for a division by zero or "
                    f"a log of 0 (e.g. saturated sigmoid outputs)", {"count": int(np.sum(bad))},
                    None)
    if a.shape != e.shape:
        return _shape_obs(name, a, e, ctx)
    return _value_obs(name, a, e, ctx)


# --------------------------------------------------------------------------- public API
def diagnose_array(name: str, analytic, expected, context: Mapping | None = None
                   ) -> Finding | None:
    """Diagnose one array: None if ``analytic`` equals ``expected`` up to rounding.

    Parameters
    ----------
    name : str
        The array's key, e.g. ``"dW2"`` (a layer index enables the network-aware recognisers),
        ``"dW"``, ``"AL"`` or ``"cost"``.
    analytic : array-like or None
        The value under test (None: missing). Any shape or content is diagnosed.
    expected : array-like
        The true value: a real, finite array (else ``TypeError``/``ValueError``).
    context : dict or None
        ``{"m", "net", "params", "cache", "X", "Y"}``, any of them absent or None.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    e = _expected_array(name, expected)
    ctx = _Ctx(context)
    ctx.observed = {name}
    md = ctx.model_for(name, e)
    if md is not None:  # exact where the caller's truth may be an estimate
        e = md.true[name]
    obs = _diagnose_one(name, analytic, e, ctx)
    return obs.finding() if obs is not None else None


def diagnose(analytic: Mapping, expected: Mapping, context: Mapping | None = None
             ) -> list[Finding]:
    """Diagnose a whole set of gradients: an empty list when they are right.

    Parameters
    ----------
    analytic : dict
        The gradients under test: ``"dW1", "db1", …`` and optionally ``"dZ1", …, "dA0", …``
        (per-example). Keys may be missing and arrays may have any shape.
    expected : dict
        The true gradients with the same keys. ``dW``/``db`` keys (and keys without a layer
        index) missing from ``analytic`` are reported; ``dZ``/``dA`` keys are optional.
    context : dict or None
        ``{"m": int, "net": Network, "params": dict, "cache": dict, "X", "Y"}``; every entry
        may be None or absent. With a network, parameters, targets and a cache (or X), the
        candidate mistakes are recomputed and matched.

    Returns
    -------
    list of Finding
        Most important first: a whole-network explanation when one fits, else the per-array
        findings, merged where they share a cause, with a by-layer summary.
    """
    if not isinstance(analytic, Mapping):
        raise TypeError(f"analytic must be a dict of arrays {{'dW1', 'db1', …}}, "
                        f"got {type(analytic).__name__}")
    if not isinstance(expected, Mapping):
        raise TypeError(f"expected must be a dict of arrays {{'dW1', 'db1', …}}, "
                        f"got {type(expected).__name__}")
    exp = {k: _expected_array(k, v) for k, v in expected.items()}
    ctx = _Ctx(context, exp)
    if ctx.model is not None:  # exact where the caller's truth may be an estimate
        exp = {k: ctx.model.true.get(k, v) for k, v in exp.items()}
        ctx.expected = exp
    keys = sorted(exp, key=_sort_key)
    keys = [k for k in keys if k in analytic or not (_parse(k) and _parse(k)[0] in "ZA")]
    compared: dict[str, np.ndarray] = {}  # intermediates are optional: only if given
    for k in keys:
        a, _ = _as_array(analytic[k]) if k in analytic else (None, None)
        if a is not None and a.shape == exp[k].shape and np.all(np.isfinite(a)):
            compared[k] = a
    ctx.compared = compared
    ctx.observed = set(compared)
    wrong = {k for k in keys if k not in compared or not _equal(compared[k], exp[k])}
    # differences below MATCH_RTOL that the checker flags (its scale: the group's largest entry)
    group = {role: max((_absmax(exp[k]) for k in compared if _role(k) == role), default=0.0)
             for role in ("param", "inter", "other")}
    tiny = {k: o for k in compared if k not in wrong
            for o in [_tiny_obs(k, compared[k], exp[k], ctx, group[_role(k)])] if o is not None}
    findings = _diagnose_wrong(analytic, exp, keys, compared, wrong, ctx) if wrong else []
    named = {n for f in findings for n in f.names}
    findings += [o.finding() for k, o in tiny.items() if k not in named]
    return [f for f in findings if f.kind == "zero"] + [f for f in findings if f.kind != "zero"]


#: Per-array findings that leave the cause open: the layer-by-layer search for several mistakes
#: is tried when one of them remains.
_OPEN_KINDS = ("mismatch", "near_miss", "scale")


def _diagnose_wrong(analytic, exp, keys, compared, wrong, ctx: _Ctx) -> list[Finding]:
    """The findings for the ``wrong`` keys (see :func:`diagnose`)."""
    def per_array(ks):
        return {k: _diagnose_one(k, analytic.get(k), exp[k], ctx) if k in wrong else None
                for k in ks}

    def unseen(obs=None):
        """Findings for the keys that could not be compared (missing, shapes, values)."""
        obs = per_array([k for k in keys if k not in compared]) if obs is None else obs
        return [o.finding() for k, o in obs.items() if o is not None and k not in compared]

    # 0. all-zero arrays: "all zeros" is the finding, whatever candidate would give zeros too
    zeros = {k for k in wrong if k in compared and _absmax(compared[k]) <= MATCH_ATOL}
    only_zeros = bool(zeros) and zeros == wrong & set(compared)
    # 1. one candidate mistake (not a mere scale slip) that reproduces every compared array
    flags = {k: (k in wrong) or None for k in keys}
    match = _whole_network(flags, compared, exp, ctx, fallback=False)
    if match == []:
        return []  # only the one-sided derivative at exact kinks differs
    if match is not None and not only_zeros:
        zero_obs = per_array(sorted(zeros, key=_sort_key))
        return [o.finding() for o in _merge(zero_obs)] + match + unseen()
    # 2. per-array findings; scale slips as whole-network candidates only for what is left
    obs = per_array(keys)
    if not any(o is not None for o in obs.values()):
        return []
    if not only_zeros and any(o is not None and o.kind in ("mismatch", "near_miss")
                              for o in obs.values()):
        match = _whole_network(obs, compared, exp, ctx, fallback=True)
        if match is not None:
            return match + unseen(obs)
    # 3. several mistakes at once, named layer by layer: when the per-array pass leaves a cause
    #    open, or names more causes than a set of slips that includes one passed back
    open_ = any(o is not None and o.kind in _OPEN_KINDS and _layer_of(k) for k, o in obs.items())
    causes = len(_merge({k: o for k, o in obs.items() if k in compared}))
    if not only_zeros and (open_ or causes >= 2):
        several = _several_mistakes(obs, compared, exp, ctx, None if open_ else causes)
        if several is not None:
            return several + unseen(obs)
    return _merge_and_summarise(obs, compared, ctx)


def _layer_of(key: str) -> int | None:
    parsed = _parse(key)
    return parsed[1] if parsed else None


def _status(obs: Mapping[str, _Obs | None]) -> tuple[list[int], list[int]]:
    """(right layers, wrong layers) among the layer-indexed keys (dA_l counts for layer l)."""
    right, wrong = set(), set()
    for k, o in obs.items():
        l = _layer_of(k)
        if l is None or l == 0:
            continue
        (wrong if o is not None else right).add(l)
    return sorted(right - wrong), sorted(wrong)


def _right_phrase(layers: list[int], keys) -> str:
    if len(layers) == 1:
        names = [k for k in (f"dW{layers[0]}", f"db{layers[0]}") if k in keys]
        if names:
            return f"{_join(names)} {'is' if len(names) == 1 else 'are'} right"
    return f"{_layers(layers)} {'is' if len(layers) == 1 else 'are'} right"


def _whole_network(obs, compared, exp, ctx: _Ctx, fallback: bool) -> list[Finding] | None:
    """One candidate mistake that reproduces every compared array, as ``[finding]``; ``[]``
    when only the one-sided derivative at exact kinks differs; None when nothing fits.

    ``obs`` marks the wrong keys (any non-None value). ``fallback`` selects the scale-slip
    candidates, which the per-array pass names better and which are only tried for what it
    leaves unexplained (e.g. single-element arrays with an L2 term).
    """
    if ctx.model is None or not compared or not any(obs[k] is not None for k in compared):
        return None

    def reproduces(h):
        return (all(k in h.grads and h.grads[k].shape == a.shape for k, a in compared.items())
                and all(_equal(a, h.grads[k]) for k, a in compared.items()))

    if not fallback and any(h.acceptable and reproduces(h) for h in ctx.hypotheses):
        return []  # only the one-sided derivative at exact kinks differs
    matches = [h for h in ctx.hypotheses if not h.acceptable and h.fallback == fallback
               and reproduces(h) and any(not _equal(exp[k], h.grads[k]) for k in compared)]
    if not matches:
        return None
    match = matches[0]
    right, wrong = _status({k: obs[k] for k in compared})
    text = _hyp_sentence(match, compared.keys())
    if match.kind == "dA_prev":
        below = [l for l in wrong if l < max(match.origin)]
        above = [l for l in right if l >= max(match.origin)]
        head = []
        if above:
            head.append(_right_phrase(above, compared))
        if below:
            head.append(f"{_layers(below)} {'is' if len(below) == 1 else 'are'} wrong")
        text = (", ".join(head) + ": " if head else "") + text
    else:
        above = [l for l in right if l > max(match.origin)]
        below = [l for l in wrong if l < min(match.origin)]
        tail = []
        if above:
            tail.append(_right_phrase(above, compared))
        if below:
            tail.append(f"{_layers(below)} {'is' if len(below) == 1 else 'are'} wrong only as "
                        f"a consequence")
        if tail:
            text += "; " + ", and ".join(tail)
    names = tuple(k for k in sorted(compared, key=_sort_key) if obs[k] is not None)
    text += "." + _alternatives(match, matches[1:])
    finding = Finding(names, match.kind, text,
                      {"candidate": match.id, "layers": list(match.origin),
                       "right_layers": right, "wrong_layers": wrong,
                       "alternatives": [h.id for h in matches[1:]]})
    return [finding]


#: How many other candidates that fit equally well a message mentions.
MAX_ALTERNATIVES = 2


def _alternatives(first: _Hypothesis, others: list[_Hypothesis]) -> str:
    """" It fits equally well: …" for candidates that give the same numbers here."""
    seen, texts = {first.id}, []
    for h in others:
        if h.id in seen:
            continue
        seen.add(h.id)
        wrong, _, expl = _hyp_text(h, h.origin)
        texts.append(f"{wrong} ({expl})")
        if len(texts) == MAX_ALTERNATIVES:
            break
    return " It fits equally well: " + "; or ".join(texts) + "." if texts else ""


def _finding(o: _Obs, obs) -> Finding:
    """A merged observation as a finding; "all the gradients" when it covers every wrong key."""
    wrong = [k for k, v in obs.items() if v is not None]
    if len(o.names) >= 4 and sorted(o.names) == sorted(wrong) and len(wrong) == len(obs):
        text = o.template.format(what=f"all the gradients ({_join(o.names)})", **_verbs(2))
        return Finding(tuple(o.names), o.kind, text, o.details)
    return o.finding()


def _merge(obs) -> list[_Obs]:
    """The per-array observations, those with the same cause (``merge`` key) merged."""
    merged: list[_Obs] = []
    index: dict[tuple, _Obs] = {}
    for k, o in obs.items():
        if o is None:
            continue
        if o.merge is not None and o.merge in index:
            index[o.merge].names.append(k)
            continue
        o = _Obs(o.kind, list(o.names), o.template, dict(o.details), o.merge)
        merged.append(o)
        if o.merge is not None:
            index[o.merge] = o
    return merged


# --------------------------------------------------------------------------- several mistakes
#: The layer-by-layer search for several mistakes gives up (and claims nothing) after comparing
#: this many candidate arrays.
LAYER_SEARCH_BUDGET = 20000

#: The order in which the slips of one layer are told.
_SLOTS = ("output", "act", "dW", "db", "dA_prev")


@dataclass(frozen=True)
class _Slip:
    """One mistake of a layer-by-layer explanation, in ``slot`` of layer ``layer``: "output"
    (dℓ/dA_L), "act" (the activation derivative), "dW", "db" or "dA_prev" (the linear step).
    ``ratio`` is set for a constant factor on dW or db; ``acceptable`` marks the other one-sided
    derivative at exact kinks (no mistake)."""

    slot: str
    layer: int
    id: str
    kind: str
    wrong: str = ""
    right: str = ""
    explanation: str = ""
    act: str = ""
    ratio: float | None = None
    acceptable: bool = False


def _step_slip(cand: StepCandidate, l: int) -> _Slip:
    slot = "dW" if cand.step == "l2" else cand.step
    return _Slip(slot, l, cand.id, cand.kind, cand.wrong, cand.right, cand.explanation)


class _LayerSearch:
    r"""Several mistakes at once, named layer by layer from the output down.

    Layer l receives dA_l: the true one, or the one that the mistakes already found above it pass
    back. It is explained by at most one slip per step — the output gradient or the activation
    derivative (:data:`LOSS_CANDIDATES`, :data:`DERIVATIVE_CANDIDATES`), dW and db (a named
    constant factor m, 1/m, −1, 2, ½, or a :data:`STEP_CANDIDATES` entry) and the dA_{l-1} it
    passes down — and the choice must reproduce every compared array of the layer (dZ_l, dW_l,
    db_l, dA_{l-1}) to ``MATCH_RTOL``. The search is depth first, simplest choice first, and
    keeps the simplest complete explanation: the fewest distinct mistakes (one slip made in
    every layer is one mistake), then the fewest slips; a branch that cannot beat it is cut. The
    candidate tables are small, and the search stops after ``LAYER_SEARCH_BUDGET``
    comparisons (keeping the best explanation found until then: every one of them fits).
    """

    def __init__(self, md: _Model, compared: Mapping[str, np.ndarray]) -> None:
        self.md, self.compared, self.spent = md, compared, 0
        m = md.m
        ratios = [float(m), 1.0 / m] if m > 1 else []
        self.factors = [(r, "sign" if r == -1.0 else _named_factor(r, m)[0])
                        for r in dict.fromkeys(ratios + [-1.0, 2.0, 0.5])]

    def fits(self, key: str, value: np.ndarray | None) -> bool:
        """Whether ``value`` reproduces the compared array ``key`` (True when not compared)."""
        a = self.compared.get(key)
        if a is None:
            return True
        self.spent += 1
        return value is not None and value.shape == a.shape and _equal(a, value)

    def _run(self, fn: Callable, *args) -> np.ndarray | None:
        """A candidate's value, or None when it does not apply or is not finite."""
        try:
            with np.errstate(all="ignore"):
                value = fn(*args)
        except (ValueError, TypeError):
            return None
        if value is None:
            return None
        value = np.asarray(value, dtype=np.float64)
        return value if np.all(np.isfinite(value)) else None

    def dz_options(self, l: int, dA: np.ndarray | None):
        """``(dZ_l, dA_l, slips)`` for layer l receiving ``dA`` (None: the output layer)."""
        md = self.md
        act = md.acts[l - 1]
        Z, A = md.cache[f"Z{l}"], md.cache[f"A{l}"]
        if l == md.L:
            dA = md.loss_dA()
            fused = md.fused
            correct = self._run(lambda: fused.dz(Z, A, md.Y) if fused is not None
                                else act.vjp(Z, A, dA))
        else:
            correct = self._run(act.vjp, Z, A, dA)
        if correct is None:
            return
        yield correct, dA, ()
        options = []
        if act.kinks and act.elementwise and any(np.any(Z == k) for k in act.kinks):
            options.append((lambda: dA * act.one_sided(Z)[1], dA,
                            _Slip("act", l, "kink", "mismatch", acceptable=True)))
        if l == md.L:
            for c in LOSS_CANDIDATES:
                if md.net.loss.name in c.losses:
                    dA_c = self._run(c.dA, A, md.Y, md.net.loss)
                    if dA_c is not None:
                        options.append((lambda d=dA_c: act.vjp(Z, A, d), dA_c, _Slip(
                            "output", l, c.id, c.kind, c.wrong, c.right, c.explanation,
                            act=act.spec)))
        right = DERIVATIVE_TEXT.get(act.name, "g'(Z{l})")
        for c in DERIVATIVE_CANDIDATES:
            if c.applies(act):
                options.append((lambda c=c: c.dz(Z, A, dA, act), dA, _Slip(
                    "act", l, c.id, "activation_derivative", c.wrong, right, c.explanation,
                    act=act.spec)))
        for make, dA_used, slip in options:
            dZ = self._run(make)
            if dZ is not None and dZ.shape == correct.shape and not _equal(dZ, correct):
                yield dZ, dA_used, (slip,)

    def dw_fit(self, l: int, dZ: np.ndarray, dA: np.ndarray) -> tuple | None:
        """The slips (none or one) that make dW_l from ``dZ``; None when nothing fits."""
        key, md = f"dW{l}", self.md
        if key not in self.compared:
            return ()
        W = md.W(l)
        data = self._run(lambda: dZ @ md.cache[f"A{l - 1}"].T / md.m)
        if data is None:
            return None
        term = (md.lam / md.m) * W if md.lam else np.zeros_like(W)
        correct = data + term
        if self.fits(key, correct):
            return ()
        for r, kind in self.factors:
            if self.fits(key, r * correct):
                return (_Slip("dW", l, "factor", kind, ratio=r),)
        for cand in STEP_CANDIDATES:
            if cand.step not in ("dW", "l2") or (cand.step == "l2" and not md.lam):
                continue
            value = self._run(cand.fn, md, l, dZ, dA)
            if value is None or value.shape != W.shape:
                continue
            value = value + term if cand.step == "dW" else data + value
            if not _equal(value, correct) and self.fits(key, value):
                return (_step_slip(cand, l),)
        return None

    def db_fit(self, l: int, dZ: np.ndarray, dA: np.ndarray) -> tuple | None:
        """The slips (none or one) that make db_l from ``dZ``; None when nothing fits."""
        key, md = f"db{l}", self.md
        if key not in self.compared:
            return ()
        correct = self._run(lambda: np.sum(dZ, axis=1, keepdims=True) / md.m)
        if correct is None:
            return None
        if self.fits(key, correct):
            return ()
        for r, kind in self.factors:
            if self.fits(key, r * correct):
                return (_Slip("db", l, "factor", kind, ratio=r),)
        for cand in STEP_CANDIDATES:
            if cand.step != "db" or cand.fallback:  # the fallback ones are factors (above)
                continue
            value = self._run(cand.fn, md, l, dZ, dA)
            if (value is not None and value.shape == correct.shape
                    and not _equal(value, correct) and self.fits(key, value)):
                return (_step_slip(cand, l),)
        return None

    def da_options(self, l: int, dZ: np.ndarray, dA: np.ndarray):
        """``(dA_{l-1}, slips)``: what layer l passes down, right first."""
        W = self.md.W(l)
        correct = self._run(lambda: W.T @ dZ)
        if correct is None:
            return
        yield correct, ()
        if l == 1 and "dA0" not in self.compared:
            return  # nothing below to tell them apart
        seen = [correct]
        for cand in STEP_CANDIDATES:
            if cand.step != "dA_prev":
                continue
            value = self._run(cand.fn, self.md, l, dZ, dA)
            if (value is None or value.shape != correct.shape
                    or any(_equal(value, v) for v in seen)):
                continue
            seen.append(value)
            yield value, (_step_slip(cand, l),)

    def explain(self) -> tuple | None:
        """The simplest set of slips that reproduces every compared array, or None."""
        self.best: tuple | None = None
        self.best_cost: tuple[int, int] | None = None
        #: (k, slips): the deepest layer k no choice explains, and the slips found above it
        self.partial: tuple[int, tuple] | None = None
        self._search(self.md.L, None, ())
        return self.best

    def _worse(self, slips: tuple) -> bool:
        return self.best_cost is not None and _cost(slips) >= self.best_cost

    def _search(self, l: int, dA: np.ndarray | None, slips: tuple) -> None:
        """Complete ``slips`` (of the layers above l) with layers l, l−1, …, 1."""
        fitted = False
        for dZ, dA_used, act_slips in self.dz_options(l, dA):
            if self.spent > LAYER_SEARCH_BUDGET:
                return
            if self._worse(slips + act_slips) or not self.fits(f"dZ{l}", dZ):
                continue
            dw = self.dw_fit(l, dZ, dA_used)
            db = self.db_fit(l, dZ, dA_used) if dw is not None else None
            if db is None:
                continue
            here = slips + act_slips + dw + db
            for dA_prev, passed in self.da_options(l, dZ, dA_used):
                if self._worse(here + passed) or not self.fits(f"dA{l - 1}", dA_prev):
                    continue
                fitted = True
                if l > 1:
                    self._search(l - 1, dA_prev, here + passed)
                else:
                    self.best, self.best_cost = here + passed, _cost(here + passed)
        if not fitted and self.best is None and (
                self.partial is None or l < self.partial[0]
                or (l == self.partial[0] and _cost(slips) < _cost(self.partial[1]))):
            self.partial = (l, slips)


def _group(s: _Slip) -> tuple:
    """Slips that are one mistake made in several layers share a group."""
    return ("factor", s.kind, s.ratio < 0) if s.ratio is not None else (s.slot, s.id, s.act)


def _cost(slips) -> tuple[int, int]:
    """How complex an explanation is: distinct mistakes first, then slips counted per layer."""
    real = [s for s in slips if not s.acceptable]
    return len({_group(s) for s in real}), len(real)


def _several_mistakes(obs, compared, exp, ctx: _Ctx, most: int | None = None
                      ) -> list[Finding] | None:
    """Findings naming several mistakes that together reproduce every compared array, found
    layer by layer (:class:`_LayerSearch`); None when no such set of slips fits.

    With ``most`` (the number of causes the per-array pass names, none of them left open), the
    slips are preferred only if they include one that is passed back (the output gradient, an
    activation derivative, dA_prev: one place that explains the layers below, as a
    whole-network candidate is preferred to per-array slips) and name at most ``most`` causes.
    """
    md = ctx.model
    if md is None or not compared:
        return None
    L = md.L
    layer_keys = ({f"d{p}{l}" for l in range(1, L + 1) for p in "WbZ"}
                  | {f"dA{l}" for l in range(L)})
    if any(k not in layer_keys and obs.get(k) is not None for k in compared):
        return None  # a wrong array the layer steps do not produce
    search = _LayerSearch(md, {k: v for k, v in compared.items() if k in layer_keys})
    slips = search.explain()
    if slips is None:
        return _partly_explained(search.partial, obs, compared, md) if most is None else None
    slips = [s for s in slips if not s.acceptable]
    if not slips:
        return None
    findings = _several_findings(slips, obs, compared, md)
    if most is not None and (len(findings) > most or not any(
            s.slot in ("output", "act", "dA_prev") for s in slips)):
        return None
    return findings


def _partly_explained(partial, obs, compared, md: _Model) -> list[Finding] | None:
    """When no set of slips explains every layer: the mistakes found above the deepest layer k
    that nothing explains, and a finding for what is left from layer k down — used only if they
    explain an array above k that the per-array pass left open (otherwise it says as much)."""
    if partial is None:
        return None
    k, above = partial
    above = [s for s in above if not s.acceptable]

    def owner(n: str) -> int:  # the layer that computes n (dA_{l-1} is passed back by layer l)
        return (_layer_of(n) or 0) + (1 if n.startswith("dA") else 0)

    if not above or not any(o is not None and o.kind in _OPEN_KINDS and owner(n) > k
                            for n, o in obs.items() if n in compared):
        return None
    findings = _several_findings(above, obs, compared, md, lowest=k + 1)

    def wrong_keys(l: int) -> list[str]:
        return [n for n in (f"dZ{l}", f"dW{l}", f"db{l}", f"dA{l - 1}")
                if n in compared and obs.get(n) is not None]

    here = wrong_keys(k) or [n for n in (f"dW{k}", f"db{k}") if n in compared]
    below = [l for l in range(1, k) if wrong_keys(l)]
    v = _verbs(len(here))
    text = (f"{_join(here)} {v['is']} wrong beyond that: even with what layer {k + 1} passes "
            f"back (its mistake included), no known slip in layer {k} reproduces {v['it']}; "
            f"look at layer {k}'s activation derivative, at what it uses as A_prev and at how "
            f"it computes dW{k} and db{k}")
    if below:
        text += (f" ({_layers(below)} may be wrong only as a consequence)")
    names = tuple(here + [n for l in reversed(below) for n in wrong_keys(l)])
    return findings + [Finding(names, "lower_layers", text,
                               {"from_layer": k, "explained_layers": list(range(k + 1, md.L + 1))})]


def _several_findings(slips: list[_Slip], obs, compared, md: _Model, lowest: int = 1
                      ) -> list[Finding]:
    """One finding per mistake, merged over the layers it is made in, top layer first
    (``lowest``: the lowest layer the slips account for)."""
    m = md.m
    groups: dict[tuple, list[_Slip]] = {}
    for s in slips:
        groups.setdefault(_group(s), []).append(s)

    def dz_wrong(l: int) -> bool:  # whether layer l's own dZ_l is wrong (a slip at or above)
        return any((t.slot in ("output", "act") and t.layer >= l)
                   or (t.slot == "dA_prev" and t.layer > l) for t in slips)

    def wrong_keys(l: int) -> list[str]:
        return [k for k in (f"dZ{l}", f"dW{l}", f"db{l}", f"dA{l - 1}")
                if k in compared and obs.get(k) is not None]

    own = {s.layer for s in slips if s.slot != "dA_prev"}
    consequence = [l for l in range(lowest, md.L + 1) if l not in own and wrong_keys(l)]
    ordered = sorted(groups.values(), key=lambda g: (-max(s.layer for s in g),
                                                     _SLOTS.index(g[0].slot)))
    findings: list[Finding] = []
    told_consequence = False
    for group in ordered:
        first = group[0]
        layers = sorted({s.layer for s in group})
        details = {"candidate": first.id, "layers": layers, "several": True}
        if first.ratio is not None:
            names = sorted((f"{s.slot}{s.layer}" for s in group), key=_sort_key)
            if first.kind == "sign":
                text = "{what} {has} the wrong sign: following {it} is gradient ascent"
            else:
                text = "{what} {is} " + _factor_text(first.kind, "param", m, first.ratio)
                if first.ratio < 0:
                    text += "; also, the sign is wrong"
            onto = [n for n in names if dz_wrong(_layer_of(n))]
            if onto:
                dzs = [f"dZ{l}" for l in sorted({_layer_of(n) for n in onto}, reverse=True)]
                text += f" (in {_join(onto)} on top of the mistake in {_join(dzs)})"
            text += _m_note(m)
            details["ratio"] = first.ratio
            o = _Obs(first.kind, names, text, details)
            findings.append(o.finding())
            continue
        h = _Hypothesis(first.id, first.kind, tuple(layers), {}, first.wrong, first.right,
                        first.explanation, first.act)
        if first.slot in ("output", "act"):
            subject, names = [], []
            for l in reversed(layers):
                if f"dZ{l}" in compared:
                    subject.append(f"dZ{l}")
                else:
                    db_own = any(s.slot == "db" and s.layer == l for s in slips)
                    subject += [k for k in (f"dW{l}", f"db{l}") if k in compared
                                and not (k[1] == "b" and db_own)]
                names += wrong_keys(l)
            subject = subject or [f"dW{layers[-1]}"]
        elif first.slot == "dA_prev":
            subject = None
            names = [n for l in reversed(layers)
                     for n in ([f"dA{l - 1}"] if f"dA{l - 1}" in compared else wrong_keys(l - 1))]
        else:
            subject = [f"{first.slot}{l}" for l in reversed(layers)]
            names = list(subject)
        text = _hyp_sentence(h, compared, subject=subject)
        below = [l for l in consequence if l < min(layers)]
        if first.slot in ("output", "act", "dA_prev") and below and not told_consequence:
            text += (f"; {_layers(below)} {'is' if len(below) == 1 else 'are'} wrong only as a "
                     f"consequence")
            told_consequence = True
        findings.append(Finding(tuple(names or subject or [f"dW{layers[-1]}"]), first.kind,
                                text + ".", details))
    return findings


#: Kinds of a dW finding that leave its dZ right (the values are right up to the named slip in
#: the array itself): such a layer passes nothing wrong back.
_LOCAL_DW_KINDS = ("l2_missing", "l2_wrong")


def _passes_back_wrong(obs, top: int) -> bool:
    """Whether layer ``top`` is seen to pass something wrong back: dW_top wrong (dW = dZ·A_prevᵀ/m
    shows dZ), or dZ_top or dA_{top-1} wrong when they are given. db is never passed back."""
    for key in (f"dW{top}", f"dZ{top}", f"dA{top - 1}"):
        o = obs.get(key)
        if o is None:
            continue
        if key.startswith("dW") and (o.kind in _LOCAL_DW_KINDS or (
                o.kind in ("transpose", "keepdims") and "then" not in o.details)):
            continue  # a slip in dW itself; its dZ is right
        return True
    return False


def _merge_and_summarise(obs, compared, ctx: _Ctx) -> list[Finding]:
    merged = _merge(obs)
    right, wrong = _status(obs)
    unexplained = [o for o in merged if o.kind == "mismatch" and _layer_of(o.names[0])]
    if not (wrong and unexplained):
        return [_finding(o, obs) for o in merged]
    top = max(wrong)
    above = [l for l in right if l > top]
    top_keys = [k for k in (f"dW{top}", f"db{top}") if k in obs]
    passing_back = (wrong == list(range(1, top + 1))
                    and all(obs[k] is not None for k in top_keys))
    if above and passing_back:
        # The upper layers are right and nothing explains the lower ones: the mistake enters on
        # the way down (dA passed back, an activation derivative, or A_prev).
        names = [n for o in unexplained for n in o.names]
        worst = max(unexplained, key=lambda o: o.details.get("relative_error") or math.inf)
        text = (f"{_right_phrase(above, obs)}, {_layers(wrong)} "
                f"{'is' if len(wrong) == 1 else 'are'} wrong: look at how dA_prev is passed back "
                f"into layer {top} (dA{top} = W{top + 1}ᵀ·dZ{top + 1}), at layer {top}'s activation "
                f"derivative and at what it uses as A_prev; an error there propagates to every "
                f"layer below")
        summary = _Obs("lower_layers", names, _esc(text), {"right_layers": right,
                                                            "wrong_layers": wrong,
                                                            "worst": worst.details}, None)
        merged = [summary] + [o for o in merged if o not in unexplained]
    else:
        below = [o for o in unexplained if _layer_of(o.names[0]) < top]
        explained_top = any(o.kind != "mismatch" and _layer_of(o.names[0]) == top
                            for o in merged)
        if below and explained_top:
            names = [n for o in below for n in o.names]
            layers = sorted({_layer_of(n) for n in names})
            are = "is" if len(layers) == 1 else "are"
            if _passes_back_wrong(obs, top):
                text = (f"{_layers(layers)} {are} wrong too, probably only as a consequence of "
                        f"the mistake in layer {top} (errors propagate backwards): fix layer "
                        f"{top} first")
                summary = _Obs("propagated", names, text, {"from_layer": top}, None)
            else:
                seen = [k for k in (f"dW{top}", f"dZ{top}", f"dA{top - 1}") if k in obs]
                why = (f"{_join(seen)} {'is' if len(seen) == 1 else 'are'} right, so what layer "
                       f"{top} passes back (dA{top - 1} = W{top}ᵀ·dZ{top}) is not affected by its "
                       f"mistake" if seen else f"nothing shows that layer {top} passes back "
                       f"anything wrong")
                unnamed = ("that no known slip explains" if ctx.model is not None else
                           "(the diagnosis needs the network, its parameters, X and Y to try to "
                           "name it)")
                text = (f"{_layers(layers)} {are} wrong too, and not as a consequence of the "
                        f"mistake in layer {top}: {why} (db is never passed back). "
                        f"{_layers(layers).capitalize()} {'has' if len(layers) == 1 else 'have'} "
                        f"a mistake of {'its' if len(layers) == 1 else 'their'} own {unnamed}: "
                        f"look at how dA{top - 1} is passed back from layer {top}, at the "
                        f"activation derivatives and at what each layer uses as A_prev")
                summary = _Obs("lower_layers", names, _esc(text),
                               {"right_layers": right, "wrong_layers": wrong,
                                "from_layer": top}, None)
            merged = [o for o in merged if o not in below] + [summary]
    return [_finding(o, obs) for o in merged]
