"""A correct row-major network with batch norm and dropout (expected verdict: every gradient matches).

The CS231n arrangement {affine - batchnorm - relu - dropout} x (L - 1) - affine - sigmoid, with the
binary cross-entropy averaged over the batch. Layout "rows" with flat biases: X is (m, n_0), W_l is
(n_{l-1}, n_l), b_l, gamma_l and beta_l are (n_l,). The dropout keep masks come from the
``arch`` argument (``arch["masks"]["D1"]``, shape (m, n_1)); the keep probability from
``arch["dropout"]``. Validate it with::

    gradref validate examples/implementations/rows_batchnorm_dropout.py:gradients \\
        --layers 4,6,5,1 --activations relu,relu,sigmoid --loss bce \\
        --layout rows --bias flat --normalization batchnorm --dropout 0.8
"""

import numpy as np

EPS = 1e-5


def _bn_forward(x, gamma, beta):
    mean = x.mean(axis=0)
    centred = x - mean
    var = (centred ** 2).mean(axis=0)
    inv = 1.0 / np.sqrt(var + EPS)
    xhat = centred * inv
    return gamma * xhat + beta, (xhat, inv, gamma)


def _bn_backward(dout, cache):
    """Closed form: dx = inv/N * (N*g - sum(g) - xhat * sum(g * xhat)), g = gamma * dout."""
    xhat, inv, gamma = cache
    n = dout.shape[0]
    g = dout * gamma
    dx = inv / n * (n * g - g.sum(axis=0) - xhat * (g * xhat).sum(axis=0))
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def gradients(params, X, Y, arch):
    """Mean-cost gradients {"dW1", "db1", "dgamma1", "dbeta1", …} in the row layout."""
    L = len(arch["layer_sizes"]) - 1
    keep = arch["dropout"]
    masks = arch.get("masks", {})
    m = X.shape[0]
    caches, A = [], X
    for l in range(1, L):
        Z = A @ params[f"W{l}"] + params[f"b{l}"]
        U, bn = _bn_forward(Z, params[f"gamma{l}"], params[f"beta{l}"])
        H = np.maximum(U, 0.0)
        D = masks.get(f"D{l}")
        p = keep[l - 1]
        out = H * D / p if D is not None else H
        caches.append((A, U, bn, D, p))
        A = out
    Z = A @ params[f"W{L}"] + params[f"b{L}"]
    S = 1.0 / (1.0 + np.exp(-Z))
    grads = {}
    dZ = (S - Y) / m                          # bce after sigmoid, averaged over the batch
    grads[f"dW{L}"] = A.T @ dZ
    grads[f"db{L}"] = dZ.sum(axis=0)
    dA = dZ @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        A_prev, U, bn, D, p = caches[l - 1]
        if D is not None:
            dA = dA * D / p
        dU = dA * (U > 0)
        dZ, dgamma, dbeta = _bn_backward(dU, bn)
        grads[f"dgamma{l}"], grads[f"dbeta{l}"] = dgamma, dbeta
        grads[f"dW{l}"] = A_prev.T @ dZ
        grads[f"db{l}"] = dZ.sum(axis=0)
        dA = dZ @ params[f"W{l}"].T
    return grads
