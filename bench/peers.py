r"""The same cost and gradient written four more times: bare NumPy, PyTorch, HIPS autograd, JAX.

Every formulation computes, for an MLP with ReLU hidden layers and a sigmoid output,

.. math::

    Z_l = W_l A_{l-1} + b_l,\quad A_l = \max(Z_l, 0)\ (l < L),\qquad
    J = \frac1m \sum_{i,k} \big[\log(1 + e^{Z_L}) - Y \odot Z_L\big]_{ki}

(the mean binary cross-entropy computed stably from the logits :math:`Z_L`), and returns
``(J, [dW_1, db_1, …, dW_L, db_L])``: the cost and the gradient of every parameter, no
per-example intermediates and no gradient with respect to the input ``X``. That is exactly what
``Network.gradients(params, X, Y, intermediates=False)`` returns, so the reference and its
peers do the same work.

* **bare NumPy** (:func:`numpy_gradients`): the script one would write by hand: a forward loop
  keeping ``Z_l`` and ``A_l``, :math:`\sigma(Z_L) = \exp(-\log(1+e^{-Z_L}))`,
  :math:`dZ_L = \sigma(Z_L) - Y`, then :math:`dW_l = dZ_l A_{l-1}^\top/m`,
  :math:`db_l = \sum dZ_l/m`, :math:`dZ_{l-1} = (W_l^\top dZ_l)\odot[Z_{l-1} > 0]`.
* **PyTorch eager**: tensors with ``requires_grad``, ``binary_cross_entropy_with_logits``,
  ``torch.autograd.grad``.
* **HIPS autograd**: the cost in ``autograd.numpy``, ``autograd.value_and_grad``.
* **JAX**: the cost in ``jax.numpy``, ``jax.jit(jax.value_and_grad(cost))``, float64, result
  blocked on.

Each ``make_*`` function takes NumPy float64 ``params`` (a list ``[W1, b1, …]``), ``X`` and
``Y``, converts them once to the library's arrays (outside the timed call), and returns a
zero-argument callable for the timer. :func:`to_numpy` turns any result into NumPy for the
cross-check that all formulations agree. A missing library raises :class:`PeerUnavailable`
carrying the reason.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["PEERS", "PeerUnavailable", "numpy_gradients", "make_numpy", "make_torch",
           "make_autograd", "make_jax", "make_matmuls", "to_numpy", "peer_version", "matmul_flops",
           "init_mlp", "random_batch"]


class PeerUnavailable(RuntimeError):
    """A peer library is not installed (or not usable); the message says why."""


# --------------------------------------------------------------------------- problem
def init_mlp(layer_sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """He-initialised ``[W1, b1, …]`` with small random biases (so no ReLU sits at its kink)."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:], strict=True):
        params.append(rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in))
        params.append(rng.standard_normal((n_out, 1)) * 0.1)
    return params


def random_batch(layer_sizes: Sequence[int], m: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``X`` (n_0, m) standard normal and binary targets ``Y`` (n_L, m)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((layer_sizes[0], m))
    Y = (rng.random((layer_sizes[-1], m)) < 0.5).astype(np.float64)
    return X, Y


def matmul_flops(layer_sizes: Sequence[int], m: int, *, input_gradient: bool = False) -> int:
    r"""Floating-point operations of the matrix products of one gradient: :math:`2mn_ln_{l-1}`
    each for the forward :math:`W_lA_{l-1}`, for :math:`dZ_lA_{l-1}^\top` and for
    :math:`W_l^\top dZ_l` (l ≥ 2, or l ≥ 1 with ``input_gradient``). Elementwise work (a few
    operations per activation, under 1 % here) is not counted."""
    pairs = list(zip(layer_sizes[:-1], layer_sizes[1:], strict=True))
    total = 0
    for l, (n_in, n_out) in enumerate(pairs, start=1):
        total += 2 * (2 * m * n_in * n_out)
        if l > 1 or input_gradient:
            total += 2 * m * n_in * n_out
    return total


# --------------------------------------------------------------------------- bare NumPy
def numpy_gradients(params: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray):
    """The bare NumPy script: ``(J, [dW1, db1, …])`` for ReLU hidden layers, sigmoid + BCE."""
    L = len(params) // 2
    m = X.shape[1]
    Zs, As = [], [X]
    A = X
    for l in range(L - 1):
        Z = params[2 * l] @ A + params[2 * l + 1]
        A = np.maximum(Z, 0.0)
        Zs.append(Z)
        As.append(A)
    Z = params[-2] @ A + params[-1]
    J = float(np.sum(np.logaddexp(0.0, Z) - Y * Z)) / m
    dZ = np.exp(-np.logaddexp(0.0, -Z)) - Y
    grads = [None] * (2 * L)
    for l in range(L - 1, -1, -1):
        dW = dZ @ As[l].T
        dW *= 1.0 / m
        grads[2 * l] = dW
        grads[2 * l + 1] = np.sum(dZ, axis=1, keepdims=True) * (1.0 / m)
        if l:
            dZ = (params[2 * l].T @ dZ) * (Zs[l - 1] > 0)
    return J, grads


def make_numpy(params: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], object]:
    params = list(params)
    return lambda: numpy_gradients(params, X, Y)


# --------------------------------------------------------------------------- PyTorch
def _import(name: str):
    try:
        return __import__(name)
    except ImportError as exc:
        raise PeerUnavailable(f"{name} is not installed ({exc}); `make bench` installs the "
                              f"`bench` extra: pip install -e '.[bench]'") from None


def make_torch(params: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], object]:
    """PyTorch eager mode, one thread."""
    torch = _import("torch")
    import torch.nn.functional as F

    torch.set_num_threads(1)
    tp = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    tX, tY = torch.from_numpy(X), torch.from_numpy(Y)
    m = X.shape[1]
    L = len(tp) // 2

    def step():
        A = tX
        for l in range(L - 1):
            A = torch.relu(tp[2 * l] @ A + tp[2 * l + 1])
        Z = tp[-2] @ A + tp[-1]
        J = F.binary_cross_entropy_with_logits(Z, tY, reduction="sum") / m
        grads = torch.autograd.grad(J, tp)
        return J.item(), grads

    return step


# --------------------------------------------------------------------------- HIPS autograd
def make_autograd(params: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], object]:
    """HIPS autograd: reverse mode over the cost written in ``autograd.numpy``."""
    autograd = _import("autograd")
    import autograd.numpy as anp

    m = X.shape[1]
    L = len(params) // 2

    def cost(ps):
        A = X
        for l in range(L - 1):
            A = anp.maximum(ps[2 * l] @ A + ps[2 * l + 1], 0.0)
        Z = ps[-2] @ A + ps[-1]
        return anp.sum(anp.logaddexp(0.0, Z) - Y * Z) / m

    value_and_grad = autograd.value_and_grad(cost)
    ps = [p.copy() for p in params]
    return lambda: value_and_grad(ps)


# --------------------------------------------------------------------------- JAX
def make_jax(params: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray) -> Callable[[], object]:
    """JAX: ``jit(value_and_grad(cost))`` in float64 on the CPU; the call blocks on its result."""
    jax = _import("jax")
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    try:
        device = jax.devices("cpu")[0]
    except RuntimeError as exc:  # pragma: no cover - a broken jaxlib
        raise PeerUnavailable(f"jax has no CPU device: {exc}") from None
    m = X.shape[1]
    L = len(params) // 2

    def cost(ps, X, Y):
        A = X
        for l in range(L - 1):
            A = jax.nn.relu(ps[2 * l] @ A + ps[2 * l + 1])
        Z = ps[-2] @ A + ps[-1]
        return jnp.sum(jnp.logaddexp(0.0, Z) - Y * Z) / m

    f = jax.jit(jax.value_and_grad(cost))
    jp = [jax.device_put(jnp.asarray(p, dtype=jnp.float64), device) for p in params]
    jX = jax.device_put(jnp.asarray(X, dtype=jnp.float64), device)
    jY = jax.device_put(jnp.asarray(Y, dtype=jnp.float64), device)
    if jp[0].dtype != jnp.float64:  # pragma: no cover - x64 refused
        raise PeerUnavailable("jax refused float64 (jax_enable_x64 had no effect)")
    return lambda: jax.block_until_ready(f(jp, jX, jY))


# --------------------------------------------------------------------------- matrix products only
def make_matmuls(params: Sequence[np.ndarray], X: np.ndarray, Y: np.ndarray,
                 library: str = "numpy") -> Callable[[], object]:
    r"""Only the matrix products of one gradient (forward :math:`W_lA_{l-1}`, :math:`dZ_l
    A_{l-1}^\top`, :math:`W_l^\top dZ_l` for l ≥ 2), on the operands of a real gradient,
    each into a fresh array, in NumPy or in torch (its own BLAS). Not a gradient: it splits a
    gradient's time into BLAS and everything else."""
    L = len(params) // 2
    m = X.shape[1]
    As, Zs = [X], []
    for l in range(L):
        Z = params[2 * l] @ As[-1] + params[2 * l + 1]
        Zs.append(Z)
        As.append(np.maximum(Z, 0.0))
    dZs = [None] * L
    dZ = np.exp(-np.logaddexp(0.0, -Zs[-1])) - Y
    for l in range(L - 1, -1, -1):
        dZs[l] = dZ
        if l:
            dZ = (params[2 * l].T @ dZ) * (Zs[l - 1] > 0)
    Ws = [params[2 * l] for l in range(L)]
    if library == "torch":
        torch = _import("torch")
        torch.set_num_threads(1)
        Ws = [torch.from_numpy(w) for w in Ws]
        As = [torch.from_numpy(np.ascontiguousarray(a)) for a in As]
        dZs = [torch.from_numpy(d) for d in dZs]

    def products():
        for l in range(L):
            Ws[l] @ As[l]
        for l in range(L - 1, -1, -1):
            dZs[l] @ As[l].T
            if l:
                Ws[l].T @ dZs[l]
        return m

    return products


# --------------------------------------------------------------------------- helpers
#: name -> (factory, distribution whose version is reported)
PEERS: dict[str, tuple[Callable, str]] = {
    "numpy": (make_numpy, "numpy"),
    "torch": (make_torch, "torch"),
    "autograd": (make_autograd, "autograd"),
    "jax": (make_jax, "jax"),
}


def peer_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def to_numpy(result) -> tuple[float, list[np.ndarray]]:
    """``(J, grads)`` of any formulation as a float and a list of float64 arrays; a reference
    result (a dict ``{"dW1", "db1", …}``) comes out in the order ``[dW1, db1, …]``."""
    J, grads = result
    if isinstance(grads, dict):
        L = len(grads) // 2
        grads = [grads[f"{p}{l}"] for l in range(1, L + 1) for p in ("dW", "db")]
    out = []
    for g in grads:
        if hasattr(g, "detach"):  # torch
            g = g.detach().numpy()
        out.append(np.asarray(g, dtype=np.float64))
    return float(J), out
