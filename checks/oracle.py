r"""The autograd oracle: the network cost written again, independently, in ``autograd.numpy``.

Nothing here calls the reference's formulas. Each activation and loss is restated in autograd's
NumPy by other means wherever the mathematics allows: sigmoid in two branches where the
reference uses :math:`\exp(-\log(1+e^{-z}))`; :math:`\log(1+u)` by its artanh series where the
reference calls ``log1p`` (softplus, the fused bce, log-sum-exp); tanh from ``expm1``;
log-sum-exp by pairwise accumulation instead of one shifted sum; leaky relu as a line plus a
hinge; bce through the logit; cross-entropy as the log of a product; the squared losses by
``einsum``. Every derivative comes from reverse-mode differentiation, never from a hand-written
rule. The reference's hand-written derivatives are
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
           "oracle_cost", "oracle_gradients", "oracle_normalize", "oracle_dropout"]


def _log1p_series(u):
    r""":math:`\log(1+u)` for :math:`u \in [0, 1]` by the series
    :math:`2\,\mathrm{artanh}\,s = 2\sum_k s^{2k+1}/(2k+1)` with :math:`s = u/(2+u) \le 1/3`:
    20 terms leave :math:`3^{-41} \approx 10^{-20}` relative (not ``log1p``, which the
    reference uses)."""
    s = u / (2.0 + u)
    s2 = s * s
    term, total = s, s
    for k in range(1, 20):
        term = term * s2
        total = total + term / (2 * k + 1)
    return 2.0 * total


def _logaddexp(a, b):
    """log(e^a + e^b), pairwise, by the series above."""
    return anp.maximum(a, b) + _log1p_series(anp.exp(-anp.abs(a - b)))


def _lse(z):
    r"""Column-wise :math:`\log\sum_k e^{z_k}` by pairwise accumulation over the rows (the
    reference shifts the whole column by its maximum and sums once)."""
    acc = z[0:1]
    for k in range(1, z.shape[0]):
        acc = _logaddexp(acc, z[k:k + 1])
    return acc


_C = math.sqrt(2.0 / math.pi)


def _sigmoid(z):
    """sigma(z) as 1/(1 + e^-z) for z >= 0 and e^z/(1 + e^z) for z < 0; each branch sees a
    clamped copy of z, so no exp overflows and autograd's derivative keeps its precision."""
    pos = anp.where(z >= 0, z, 0.0)
    neg = anp.where(z < 0, z, 0.0)
    return anp.where(z >= 0, 1.0 / (1.0 + anp.exp(-pos)), anp.exp(neg) / (1.0 + anp.exp(neg)))


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log(1 + e^-|z|), the logarithm by its series."""
    return anp.maximum(z, 0.0) + _log1p_series(anp.exp(-anp.abs(z)))


def _tanh(z):
    """tanh by exponentials: tanh|z| = -t/(2 + t) with t = expm1(-2|z|), one branch per sign
    (each sees a clamped copy of z), instead of the reference's np.tanh."""
    pos = anp.where(z >= 0, z, 0.0)
    neg = anp.where(z < 0, z, 0.0)
    tp, tn = anp.expm1(-2.0 * pos), anp.expm1(2.0 * neg)
    return anp.where(z >= 0, -tp / (2.0 + tp), tn / (2.0 + tn))


def _leaky_relu(z, slope=0.01):
    """slope·z + (1 - slope)·relu(z): the line through 0 plus the hinge (same value at 0)."""
    return slope * z + (1.0 - slope) * anp.where(z > 0, z, 0.0 * z)


#: name -> f(z, **params), written in autograd.numpy.
ORACLE_ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": lambda z: anp.where(z > 0, z, 0.0 * z),
    "leaky_relu": _leaky_relu,
    "linear": lambda z: 1.0 * z,
    "softmax": lambda z: anp.exp(z - _lse(z)),
    "softplus": _softplus,
    "elu": lambda z, alpha=1.0: anp.where(z > 0, z, alpha * (anp.exp(z) - 1.0)),
    # (1 + tanh u)/2 = sigma(2u): the tanh-form GELU without autograd's overflowing tanh rule
    "gelu": lambda z: z * _sigmoid(2.0 * _C * (z + 0.044715 * z * z * z)),
    "silu": lambda z: z * _sigmoid(z),
}


def _bce(a, y):
    """Through the logit z = log a - log(1 - a): l = softplus(z) - y z (the reference sums
    y log a + (1 - y) log(1 - a))."""
    z = anp.log(a) - anp.log(1.0 - a)
    return anp.sum(_softplus(z) - y * z, axis=0)


def _cross_entropy(a, y):
    """-log of the product of a_k^y_k (the reference sums y_k log a_k, skipping y_k = 0)."""
    return -anp.log(anp.prod(a ** y, axis=0))


def _squared(a, y):
    d = a - y
    return anp.einsum("km,km->m", d, d)


#: name -> per-example loss l(a, y), shape (m,).
ORACLE_LOSSES: dict[str, Callable] = {
    "bce": _bce,
    "cross_entropy": _cross_entropy,
    "square": _squared,
    "half_square": lambda a, y: _squared(a, y) / 2.0,
}

#: (loss, output activation) -> per-example loss from the pre-activation z.
ORACLE_FUSED: dict[tuple[str, str], Callable] = {
    # -[y log sigma(z) + (1 - y) log sigma(-z)] with -log sigma(z) = softplus(-z)
    ("bce", "sigmoid"): lambda z, y: anp.sum(y * _softplus(-z) + (1.0 - y) * _softplus(z), axis=0),
    # LSE(z) sum_k y_k - sum_k y_k z_k (the reference sums y_k (LSE(z) - z_k))
    ("cross_entropy", "softmax"): lambda z, y: (_lse(z)[0] * anp.sum(y, axis=0)
                                                - anp.sum(y * z, axis=0)),
}


def oracle_normalize(Z, gamma, beta, eps, axis, stats=None):
    r"""Batch (``axis=1``) or layer (``axis=0``) normalisation restated: the data are shifted
    by their first slice along ``axis`` (:math:`d = Z - Z_0`, exact for nearby values), the
    mean is :math:`Z_0 + \overline{d}` and the biased variance
    :math:`\overline{d^2} - \overline{d}^2`; the root is a power (the reference centres by a
    two-pass mean, takes the mean of squared residuals and calls ``sqrt``). ``stats`` =
    (mean, var) fixes the statistics instead (test mode). Written in autograd.numpy."""
    if stats is not None:
        mu, var = stats
        return gamma * (Z - mu) * (var + eps) ** -0.5 + beta
    k = Z.shape[axis]
    first = Z[:, :1] if axis == 1 else Z[:1, :]
    d = Z - first
    s1 = anp.sum(d, axis=axis, keepdims=True) / k
    var = anp.sum(d * d, axis=axis, keepdims=True) / k - s1 * s1
    return gamma * (d - s1) * (var + eps) ** -0.5 + beta


def oracle_dropout(A, mask, keep_prob):
    """Inverted dropout restated as a choice: A/p where the mask keeps, 0 elsewhere."""
    return anp.where(np.asarray(mask, bool), A / keep_prob, 0.0 * A)


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


def _options(net, m: int):
    """The optional layers of ``net``: normalisations, keep probabilities, the fixed masks
    (a network with dropout must have them: ``net.with_masks``) and ε."""
    L = len(net.layer_sizes) - 1
    norms = list(getattr(net, "normalization", [None] * L))
    keeps = list(getattr(net, "keep_probs", [None] * L))
    masks = getattr(net, "masks", None) or {}
    for l in range(1, L + 1):
        if keeps[l - 1] and f"D{l}" not in masks:
            raise KeyError(f"the network has dropout in layer {l} but no fixed mask D{l}; use "
                           f"net.with_masks(masks)")
        if keeps[l - 1] and np.shape(masks[f"D{l}"])[1] != m:
            raise KeyError(f"the fixed mask D{l} has {np.shape(masks[f'D{l}'])[1]} columns, "
                           f"the data {m}")
    return norms, keeps, masks, getattr(net, "eps", 1e-5)


def _cost_fn(net, X: np.ndarray, Y: np.ndarray):
    sizes, acts, loss, l2 = _description(net)
    L, m = len(sizes) - 1, X.shape[1]
    fns = [oracle_activation(a) for a in acts]
    fused = ORACLE_FUSED.get((loss, acts[-1].name))
    if loss not in ORACLE_LOSSES:
        raise KeyError(f"the autograd oracle has no formulation of loss {loss!r}")

    norms, keeps, masks, eps = _options(net, m)

    def cost(params, pert):
        A = X + pert["A0"]
        for l in range(1, L + 1):
            Z = anp.dot(params[f"W{l}"], A) + params[f"b{l}"] + pert[f"Z{l}"]
            if l == L and fused is not None:
                losses = fused(Z, Y)
                break
            if norms[l - 1]:
                Z = oracle_normalize(Z, params[f"gamma{l}"], params[f"beta{l}"], eps,
                                     1 if norms[l - 1] == "batchnorm" else 0)
            A = fns[l - 1](Z)
            if keeps[l - 1]:
                A = oracle_dropout(A, masks[f"D{l}"], keeps[l - 1])
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
