"""The tables of known mistakes that the diagnosis replays on the network.

Each entry is one wrong formula with the texts that name it in a message (``wrong``, the
``right`` formula and an ``explanation``; ``{l}`` is the layer, ``{p}`` = l − 1):

- :data:`DERIVATIVE_CANDIDATES`: a wrong activation derivative, dZ_l from dA_l;
- :data:`LOSS_CANDIDATES`: a wrong output gradient dℓ/dA_L;
- :data:`STEP_CANDIDATES`: a wrong linear backward step (dW, its L2 term, db, or the dA_prev
  passed back); those marked ``fallback`` are scale slips (a missing 1/m, …), better named array
  by array;
- :data:`LAYER_CANDIDATES`: a wrong dropout or normalisation backward step (a hidden layer's
  mask or 1/p forgotten; a batch-norm dZ without the terms through the mean or the variance,
  with the unbiased variance or ε outside the root; layer norm over the wrong axis).

:data:`DERIVATIVE_TEXT` and :data:`NOTATION` say how the right derivatives read in messages.
A new entry is picked up by the whole-network replay (:mod:`gradref.checks.diagnosis.replay`) and
the layer search (:mod:`gradref.checks.diagnosis.layer_search`) alike.

Conventions (as in :mod:`gradref.reference.network`): ``dW_l = (1/m) dZ_l A_{l-1}ᵀ + (λ/m) W_l``,
``db_l = (1/m) rowSum(dZ_l)``, ``dA_{l-1} = W_lᵀ dZ_l``, ``dZ_l = dA_l ⊙ g_l'(Z_l)``; ``dZ`` and
``dA`` are per-example (not divided by m).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from gradref.reference.activations import Activation, get_activation

__all__ = [
    "DERIVATIVE_TEXT", "NOTATION", "DerivativeCandidate", "LossCandidate", "StepCandidate",
    "DERIVATIVE_CANDIDATES", "LOSS_CANDIDATES", "STEP_CANDIDATES", "LayerCandidate",
    "LAYER_CANDIDATES",
]


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


# --------------------------------------------------------------------------- activation derivatives
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
    DerivativeCandidate("sigmoid_formula_on_tanh", ("tanh",), "A{l}·(1−A{l})",
                        "that is the sigmoid's derivative formula s·(1 − s) applied to the tanh "
                        "output; the tanh derivative is 1 − A{l}²",
                        factor=lambda Z, A, act: A * (1.0 - A)),
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


# --------------------------------------------------------------------------- output gradients
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


# --------------------------------------------------------------------------- linear steps
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


# --------------------------------------------------------------------------- optional layers
@dataclass(frozen=True)
class LayerCandidate:
    """A wrong backward step of a hidden layer's dropout (``step`` "dropout": ``fn(model, k,
    dA)`` returns the wrong dA before the activation) or normalisation (``step`` "norm":
    ``fn(model, k, dZtilde)`` returns the wrong dZ_k), for the layers with ``layer`` ("dropout",
    "batchnorm" or "layernorm"). Texts may use ``{l}``."""

    id: str
    step: str
    layer: str
    kind: str
    wrong: str
    right: str
    explanation: str
    fn: Callable

    def applies(self, net, l: int) -> bool:
        if self.layer == "dropout":
            return bool(net.keep_probs[l - 1])
        return net.normalization[l - 1] == self.layer


def _centred(md, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Z_k − μ_k and its variance, from the cache (the statistics the forward pass used)."""
    c = md.cache
    xc = c[f"Zhat{k}"] / c[f"inv_std{k}"]
    return xc, c[f"var{k}"]


def _bn_parts(md, k: int, dU: np.ndarray):
    """G = γ ⊙ dZ̃, Ẑ and 1/√(σ² + ε) from the cache (for the wrong formulas below)."""
    c = md.cache
    return md.params[f"gamma{k}"] * dU, c[f"Zhat{k}"], c[f"inv_std{k}"]


def _no_mean_terms(md, k, dU):
    G, Zhat, inv = _bn_parts(md, k, dU)
    return inv * (G - Zhat * np.mean(G * Zhat, axis=1, keepdims=True))


def _no_var_terms(md, k, dU):
    G, _, inv = _bn_parts(md, k, dU)
    return inv * (G - np.mean(G, axis=1, keepdims=True))


def _unbiased(md, k, dU):
    """The backward derived for σ² = Σ(x − μ)²/(m − 1) (None for m = 1)."""
    m = dU.shape[1]
    if m < 2:
        return None
    G = md.params[f"gamma{k}"] * dU
    xc, var = _centred(md, k)
    var_u = var * m / (m - 1)
    inv = 1.0 / np.sqrt(var_u + md.net.eps)
    return inv * (G - np.mean(G, axis=1, keepdims=True)) - xc * inv ** 3 * np.sum(
        G * xc, axis=1, keepdims=True) / (m - 1)


def _unbiased_grad(md, k, dU):
    """The variance's derivative taken with 1/(m − 1), the forward pass biased."""
    m = dU.shape[1]
    if m < 2:
        return None
    G, Zhat, inv = _bn_parts(md, k, dU)
    return inv * (G - np.mean(G, axis=1, keepdims=True)
                  - Zhat * np.sum(G * Zhat, axis=1, keepdims=True) / (m - 1))


def _eps_outside(md, k, dU):
    """The backward of (x − μ)/(σ + ε)."""
    G = md.params[f"gamma{k}"] * dU
    xc, var = _centred(md, k)
    sigma = np.sqrt(var)
    if np.any(sigma == 0):
        return None
    s = sigma + md.net.eps
    return (G - np.mean(G, axis=1, keepdims=True)) / s - xc / (sigma * s * s) * np.mean(
        G * xc, axis=1, keepdims=True)


def _ln_over_batch(md, k, dU):
    """The batch-norm backward pasted into a layer-norm layer: statistics of Z_k and means
    over the examples (axis 1)."""
    Z = md.cache[f"Z{k}"]
    mu = np.mean(Z, axis=1, keepdims=True)
    var = np.mean((Z - mu) ** 2, axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(var + md.net.eps)
    Zhat = (Z - mu) * inv
    G = md.params[f"gamma{k}"] * dU
    return inv * (G - np.mean(G, axis=1, keepdims=True)
                  - Zhat * np.mean(G * Zhat, axis=1, keepdims=True))


_BN_RIGHT = "(1/σ̂)·(G − mean(G) − Ẑ{l}·mean(G⊙Ẑ{l})) with G = γ{l}⊙dZ̃{l} (σ̂ = √(σ² + ε))"
_LN_RIGHT = ("(1/σ̂)·(G − mean(G) − Ẑ{l}·mean(G⊙Ẑ{l})) with the means over the features of "
             "each example")

#: Wrong dropout and normalisation backward steps.
LAYER_CANDIDATES: tuple[LayerCandidate, ...] = (
    LayerCandidate("dropout_no_mask", "dropout", "dropout", "dropout", "dA{l}/p",
                   "dA{l}⊙D{l}/p", "the dropout backward forgot the mask D{l}: the dropped "
                   "units must get no gradient",
                   lambda md, k, dA: dA / md.net.keep_probs[k - 1]),
    LayerCandidate("dropout_no_scale", "dropout", "dropout", "dropout", "dA{l}⊙D{l}",
                   "dA{l}⊙D{l}/p", "the dropout backward forgot the 1/p scaling (keep_prob) "
                   "that the forward pass applied (inverted dropout)",
                   lambda md, k, dA: dA * md.cache[f"D{k}"]),
    LayerCandidate("bn_no_mean_terms", "norm", "batchnorm", "normalization",
                   "(1/σ̂)·(G − Ẑ{l}·mean(G⊙Ẑ{l}))", _BN_RIGHT,
                   "dZ{l} is missing the terms through the batch mean: μ depends on every "
                   "example, so −mean(G)/σ̂ belongs in dZ{l}", _no_mean_terms),
    LayerCandidate("bn_no_var_terms", "norm", "batchnorm", "normalization",
                   "(1/σ̂)·(G − mean(G))", _BN_RIGHT,
                   "dZ{l} is missing the terms through the batch variance: σ² depends on every "
                   "example, so −Ẑ{l}·mean(G⊙Ẑ{l})/σ̂ belongs in dZ{l}", _no_var_terms),
    LayerCandidate("bn_unbiased_variance", "norm", "batchnorm", "normalization",
                   "the backward of the unbiased variance Σ(x − μ)²/(m − 1)", _BN_RIGHT,
                   "batch norm normalises with the biased variance (divided by m, as np.var "
                   "does), not the unbiased one (m − 1)", _unbiased),
    LayerCandidate("bn_unbiased_variance_grad", "norm", "batchnorm", "normalization",
                   "(1/σ̂)·(G − mean(G) − Ẑ{l}·Σ(G⊙Ẑ{l})/(m − 1))", _BN_RIGHT,
                   "the derivative of the variance has 1/(m − 1): batch norm uses the biased "
                   "variance (divided by m, as np.var does) in both passes, not the unbiased "
                   "one", _unbiased_grad),
    LayerCandidate("bn_eps_outside_root", "norm", "batchnorm", "normalization",
                   "the backward of (x − μ)/(√σ² + ε)", _BN_RIGHT,
                   "ε goes inside the square root: x̂ = (x − μ)/√(σ² + ε)", _eps_outside),
    LayerCandidate("ln_wrong_axis", "norm", "layernorm", "normalization",
                   "the batch-norm backward (means over the examples)", _LN_RIGHT,
                   "layer norm normalises each example over its features: the means in dZ{l} "
                   "run over axis 0 (the units), not over the batch", _ln_over_batch),
)
