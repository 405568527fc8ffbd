r"""Batch and layer normalisation in the canonical column-major layout, forward and backward.

``Z`` is (n, m): one row per feature (unit), one column per example; ``gamma``, ``beta`` and the
running statistics are (n, 1).

Batch normalisation normalises each feature over the batch (axis 1, the examples); layer
normalisation normalises each example over its features (axis 0). Both then scale and shift:

.. math::

    \mu = \tfrac1k \textstyle\sum Z, \qquad \sigma^2 = \tfrac1k \sum (Z - \mu)^2 \;\text{(biased)},
    \qquad \hat Z = \frac{Z - \mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad
    \text{out} = \gamma \odot \hat Z + \beta,

with the sums over the k = m examples (batch norm) or the k = n features (layer norm) and ε
*inside* the square root. Backward, for an upstream gradient ``dout`` = ∂ℓ/∂out and
:math:`G = \gamma \odot dout`, in closed form:

.. math::

    dZ = \frac{1}{\sqrt{\sigma^2+\varepsilon}}\Big(G - \overline{G} - \hat Z\,\overline{G\odot\hat Z}\Big),
    \qquad d\gamma = \textstyle\sum_{i} dout_i \odot \hat Z_i, \qquad d\beta = \sum_i dout_i,

where the bars are the means over the normalised axis and the sums for dγ, dβ run over the
examples (axis 1) in both cases. The second term is the path through μ, the third the path
through σ².

Batch norm in test mode uses the running statistics instead of the batch's, so it is an affine
map per feature: :math:`dZ = \gamma\, dout / \sqrt{\sigma^2_{run} + \varepsilon}`. In train
mode the running averages are updated as the courses do,
:math:`r \leftarrow \text{momentum}\cdot r + (1 - \text{momentum})\cdot \text{batch}`, with the
biased batch variance, and returned (never modified in place).

Degenerate sizes: with one example (batch norm, m = 1) or one feature (layer norm, n = 1),
:math:`Z - \mu = 0` exactly, so :math:`\hat Z = 0`, out = β, and dZ = 0, dγ = 0: the function is
constant in Z. They are computed, not refused; :func:`batchnorm_forward` with ``min_batch=2``
refuses them instead.

The mean is computed in two passes and :math:`Z - \mu` is formed as
:math:`(Z - \mu_1) - \overline{(Z - \mu_1)}` from the first pass's :math:`\mu_1`, so a feature
with a large mean and a small spread keeps its residuals to the rounding of the spread, not of
the mean.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._validate import as_float_array, check_real, describe

__all__ = ["BN_EPS", "BN_MOMENTUM", "BN_MODES", "batchnorm_forward", "batchnorm_backward",
           "layernorm_forward", "layernorm_backward", "check_eps", "check_momentum",
           "check_mode"]

#: The courses' defaults (CS231n ``bn_param``/``ln_param``).
BN_EPS = 1e-5
BN_MOMENTUM = 0.9
BN_MODES = ("train", "test")


def check_eps(eps: object, name: str = "eps") -> float:
    """ε > 0 and finite (it keeps the square root away from zero)."""
    return check_real(name, eps, low=0.0, low_open=True)


def check_momentum(momentum: object, name: str = "momentum") -> float:
    """The running-average momentum in [0, 1]."""
    return check_real(name, momentum, low=0.0, high=1.0, high_open=False)


def check_mode(mode: object, name: str = "mode") -> str:
    """``"train"`` or ``"test"``."""
    if mode not in BN_MODES:
        raise ValueError(f"{name} must be 'train' or 'test', got {describe(mode)}")
    return str(mode)


def _check_vector(name: str, value: object, n: int) -> np.ndarray:
    arr = as_float_array(name, value, ndim=2)
    if arr.shape != (n, 1):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n}, 1) = (n, 1), one entry "
                         f"per feature (row) of Z")
    return arr


def _moments(Z: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean (two passes), the biased variance along ``axis`` (keepdims) and the residuals
    Z - mean, formed as (Z - m1) - mean(Z - m1): m1 is the plain mean, Z - m1 is exact for
    data near m1, and the correction is never rounded to the precision of the mean itself."""
    m1 = np.mean(Z, axis=axis, keepdims=True)
    d = Z - m1
    c = np.mean(d, axis=axis, keepdims=True)
    centred = d - c
    return m1 + c, np.mean(centred ** 2, axis=axis, keepdims=True), centred


def _normalize(centred: np.ndarray, var: np.ndarray, eps: float):
    inv_std = 1.0 / np.sqrt(var + eps)
    return centred * inv_std, inv_std


def _backward(dout: np.ndarray, cache: Mapping, axis: int | None):
    """The closed form of the module docstring; ``axis=None``: statistics held fixed."""
    Zhat, inv_std, gamma = cache["Zhat"], cache["inv_std"], cache["gamma"]
    G = gamma * dout
    if axis is None:
        dZ = G * inv_std
    else:
        dZ = inv_std * (G - np.mean(G, axis=axis, keepdims=True)
                        - Zhat * np.mean(G * Zhat, axis=axis, keepdims=True))
    dgamma = np.sum(dout * Zhat, axis=1, keepdims=True)
    dbeta = np.sum(dout, axis=1, keepdims=True)
    return dZ, dgamma, dbeta


def _check_dout(dout: object, cache: object) -> np.ndarray:
    if not isinstance(cache, Mapping) or "Zhat" not in cache:
        raise TypeError(f"cache must be the dict returned by the forward pass, got "
                        f"{describe(cache)}")
    arr = as_float_array("dout", dout, ndim=2)
    if arr.shape != cache["Zhat"].shape:
        raise ValueError(f"dout has shape {arr.shape}, expected {cache['Zhat'].shape}, the shape "
                         f"of the forward pass's output")
    return arr


def batchnorm_forward(Z: object, gamma: object, beta: object, *, mode: str = "train",
                      eps: float = BN_EPS, momentum: float = BN_MOMENTUM,
                      running_mean: object = None, running_var: object = None,
                      min_batch: int = 1):
    r"""Batch normalisation of ``Z`` (n, m) per feature over the m examples.

    Train mode: batch mean and biased variance; returns the updated running statistics
    :math:`r' = \text{momentum}\cdot r + (1-\text{momentum})\cdot\text{batch}` (the inputs are
    not modified). Test mode: the running statistics normalise, and are returned unchanged.
    ``running_mean``/``running_var`` default to zeros (n, 1), as in the courses (so a test-mode
    call without them normalises by :math:`\sqrt{\varepsilon}`). ``min_batch=2`` refuses a
    train-mode batch of one example (whose output is β whatever Z).

    Returns ``(out, cache, (running_mean, running_var))``; ``cache`` holds ``"Zhat"``,
    ``"mu"``, ``"var"`` (the statistics used), ``"inv_std"`` = 1/√(var + ε), ``"gamma"``,
    ``"eps"`` and ``"mode"``.
    """
    mode = check_mode(mode)
    eps = check_eps(eps)
    momentum = check_momentum(momentum)
    Z = as_float_array("Z", Z, ndim=2)
    n, m = Z.shape
    gamma = _check_vector("gamma", gamma, n)
    beta = _check_vector("beta", beta, n)
    rm = np.zeros((n, 1)) if running_mean is None else _check_vector("running_mean", running_mean, n)
    rv = np.zeros((n, 1)) if running_var is None else _check_vector("running_var", running_var, n)
    if np.any(rv < 0):
        raise ValueError(f"running_var must be >= 0, got a minimum of {float(np.min(rv))!r}")
    if mode == "train":
        if m < min_batch:
            raise ValueError(f"Z has m = {m} example(s) (shape {Z.shape}); batch normalisation in "
                             f"train mode needs at least min_batch = {min_batch}")
        mu, var, centred = _moments(Z, axis=1)
        rm = momentum * rm + (1.0 - momentum) * mu
        rv = momentum * rv + (1.0 - momentum) * var
    else:
        mu, var, centred = rm, rv, Z - rm
    Zhat, inv_std = _normalize(centred, var, eps)
    cache = {"Zhat": Zhat, "mu": mu, "var": var, "inv_std": inv_std, "gamma": gamma,
             "eps": eps, "mode": mode}
    return gamma * Zhat + beta, cache, (rm, rv)


def batchnorm_backward(dout: object, cache: Mapping):
    """``(dZ, dgamma, dbeta)`` from the forward cache, in closed form (module docstring);
    test mode treats the running statistics as constants."""
    dout = _check_dout(dout, cache)
    return _backward(dout, cache, 1 if cache.get("mode", "train") == "train" else None)


def layernorm_forward(Z: object, gamma: object, beta: object, *, eps: float = BN_EPS):
    r"""Layer normalisation of ``Z`` (n, m): each example (column) over its n features, then
    :math:`\gamma\odot\hat Z + \beta` with ``gamma``/``beta`` (n, 1). No mode, no running
    statistics. Returns ``(out, cache)``; the cache holds ``"Zhat"``, ``"mu"`` and ``"var"``
    (each (1, m)), ``"inv_std"``, ``"gamma"`` and ``"eps"``."""
    eps = check_eps(eps)
    Z = as_float_array("Z", Z, ndim=2)
    n = Z.shape[0]
    gamma = _check_vector("gamma", gamma, n)
    beta = _check_vector("beta", beta, n)
    mu, var, centred = _moments(Z, axis=0)
    Zhat, inv_std = _normalize(centred, var, eps)
    cache = {"Zhat": Zhat, "mu": mu, "var": var, "inv_std": inv_std, "gamma": gamma, "eps": eps}
    return gamma * Zhat + beta, cache


def layernorm_backward(dout: object, cache: Mapping):
    """``(dZ, dgamma, dbeta)`` from the forward cache: the closed form with the means over the
    features (axis 0)."""
    return _backward(_check_dout(dout, cache), cache, 0)
