r"""The autograd oracle: the network cost written again, independently, in ``autograd.numpy``.

Nothing here calls the reference's formulas. Each activation and loss is restated in autograd's
NumPy, often in a different but equivalent form (sigmoid in two branches where the reference uses
:math:`\exp(-\log(1+e^{-z}))`), and every derivative comes from reverse-mode
differentiation, never from a hand-written rule. The reference's hand-written derivatives are
then compared with these.

The oracle also returns the per-example intermediates: it adds a zero perturbation
:math:`E_l` to every :math:`Z_l` and :math:`A_l` and differentiates with respect to it, so
:math:`dZ_l = m\,\partial J/\partial E_l` comes from autograd too.

Layout as in :mod:`gradref.reference.network`: ``X`` (n_0, m), ``W_l`` (n_l, n_{l-1}), ``b_l`` (n_l, 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import autograd
import autograd.numpy as anp
import numpy as np

__all__ = ["ORACLE_ACTIVATIONS", "ORACLE_LOSSES", "ORACLE_FUSED", "oracle_activation",
           "oracle_cost", "oracle_gradients"]


def _lse(z):
    top = anp.max(z, axis=0, keepdims=True)
    return anp.log(anp.sum(anp.exp(z - top), axis=0, keepdims=True)) + top


_C = math.sqrt(2.0 / math.pi)


def _sigmoid(z):
    """sigma(z) as 1/(1 + e^-z) for z >= 0 and e^z/(1 + e^z) for z < 0; each branch sees a
    clamped copy of z, so no exp overflows and autograd's derivative keeps its precision."""
    pos = anp.where(z >= 0, z, 0.0)
    neg = anp.where(z < 0, z, 0.0)
    return anp.where(z >= 0, 1.0 / (1.0 + anp.exp(-pos)), anp.exp(neg) / (1.0 + anp.exp(neg)))


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log(1 + e^-|z|)."""
    return anp.maximum(z, 0.0) + anp.log1p(anp.exp(-anp.abs(z)))


#: name -> f(z, **params), written in autograd.numpy.
ORACLE_ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": _sigmoid,
    "tanh": lambda z: anp.tanh(z),
    "relu": lambda z: anp.where(z > 0, z, 0.0 * z),
    "leaky_relu": lambda z, slope=0.01: anp.where(z > 0, z, slope * z),
    "linear": lambda z: 1.0 * z,
    "softmax": lambda z: anp.exp(z - _lse(z)),
    "softplus": _softplus,
    "elu": lambda z, alpha=1.0: anp.where(z > 0, z, alpha * (anp.exp(z) - 1.0)),
    # (1 + tanh u)/2 = sigma(2u): the tanh-form GELU without autograd's overflowing tanh rule
    "gelu": lambda z: z * _sigmoid(2.0 * _C * (z + 0.044715 * z * z * z)),
    "silu": lambda z: z * _sigmoid(z),
}

#: name -> per-example loss l(a, y), shape (m,).
ORACLE_LOSSES: dict[str, Callable] = {
    "bce": lambda a, y: -anp.sum(y * anp.log(a) + (1.0 - y) * anp.log(1.0 - a), axis=0),
    "cross_entropy": lambda a, y: -anp.sum(y * anp.log(a), axis=0),
    "square": lambda a, y: anp.sum((a - y) * (a - y), axis=0),
    "half_square": lambda a, y: 0.5 * anp.sum((a - y) * (a - y), axis=0),
}

#: (loss, output activation) -> per-example loss from the pre-activation z.
ORACLE_FUSED: dict[tuple[str, str], Callable] = {
    # -[y log sigma(z) + (1 - y) log sigma(-z)] with -log sigma(z) = softplus(-z)
    ("bce", "sigmoid"): lambda z, y: anp.sum(y * _softplus(-z) + (1.0 - y) * _softplus(z), axis=0),
    ("cross_entropy", "softmax"): lambda z, y: anp.sum(y * (_lse(z) - z), axis=0),
}


def oracle_activation(spec) -> Callable:
    """The oracle's ``f(z)`` for a reference :class:`~gradref.reference.activations.Activation`."""
    if spec.name not in ORACLE_ACTIVATIONS:
        raise KeyError(f"the autograd oracle has no formulation of activation {spec.name!r}; "
                       f"add one to ORACLE_ACTIVATIONS")
    fn, params = ORACLE_ACTIVATIONS[spec.name], dict(spec.params)
    return lambda z: fn(z, **params)


def _description(net) -> tuple[list[int], list, str, float]:
    if hasattr(net, "describe"):
        return net.layer_sizes, net.activations, net.loss.name, net.l2
    raise TypeError(f"net must be a reference Network, got {type(net).__name__}")


def _cost_fn(net, X: np.ndarray, Y: np.ndarray):
    sizes, acts, loss, l2 = _description(net)
    L, m = len(sizes) - 1, X.shape[1]
    fns = [oracle_activation(a) for a in acts]
    fused = ORACLE_FUSED.get((loss, acts[-1].name))
    if loss not in ORACLE_LOSSES:
        raise KeyError(f"the autograd oracle has no formulation of loss {loss!r}")

    def cost(params, pert):
        A = X + pert["A0"]
        for l in range(1, L + 1):
            Z = anp.dot(params[f"W{l}"], A) + params[f"b{l}"] + pert[f"Z{l}"]
            if l == L and fused is not None:
                losses = fused(Z, Y)
                break
            A = fns[l - 1](Z)
            if l < L:
                A = A + pert[f"A{l}"]
        else:
            losses = ORACLE_LOSSES[loss](A, Y)
        J = anp.sum(losses) / m
        if l2:
            J = J + l2 / (2.0 * m) * sum(anp.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
        return J

    zeros = {"A0": np.zeros_like(X)}
    for l in range(1, L + 1):
        zeros[f"Z{l}"] = np.zeros((sizes[l], m))
        if l < L:
            zeros[f"A{l}"] = np.zeros((sizes[l], m))
    return cost, zeros


def oracle_cost(net, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """The cost J of ``net`` (a reference Network: only its description is read)."""
    cost, zeros = _cost_fn(net, np.asarray(X, float), np.asarray(Y, float))
    return float(cost({k: np.asarray(v, float) for k, v in params.items()}, zeros))


def oracle_gradients(net, params: Mapping[str, np.ndarray], X: np.ndarray,
                     Y: np.ndarray) -> dict[str, np.ndarray]:
    """Autograd's gradients, keyed like :meth:`gradref.reference.Network.backward`'s result.

    ``dW*``/``db*`` are gradients of J; ``dZ*``/``dA*`` are per-example (m × ∂J/∂Z).
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    cost, zeros = _cost_fn(net, X, Y)
    params = {k: np.asarray(v, float) for k, v in params.items()}
    both = autograd.grad(lambda t: cost(t["params"], t["pert"]))({"params": params, "pert": zeros})
    g_params, g_pert = both["params"], both["pert"]
    m = X.shape[1]
    out = {f"d{k}": v for k, v in g_params.items()}
    out.update({f"d{k}": v * m for k, v in g_pert.items()})
    return out
