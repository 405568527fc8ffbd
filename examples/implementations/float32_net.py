"""A float32 implementation (expected verdict: matches without any tolerance flag).

Everything is computed in single precision, as on a GPU: the parameters and data are cast to
float32 on the way in and the gradients come back as float32 arrays. gradref sees the dtype and
compares at float32 precision (relative ~1e-4), not at float64's ~1e-10. Tanh hidden layers, a
linear output, the half squared error ½‖a − y‖², mean over the batch, with L2.

    gradref validate examples/implementations/float32_net.py:gradients \
        --layers 3,8,8,2 --hidden tanh --output linear --loss half_square --l2 0.05

``gradients_bug`` uses a slightly wrong L2 term: λ/m·W·1.01 is still caught at float32 precision
only when it is large enough, so it uses 1.5·λ/m·W.
"""

import numpy as np

LAMBDA = np.float32(0.05)


def gradients(params, X, Y, l2_factor=1.0):
    p = {k: v.astype(np.float32) for k, v in params.items()}
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    L, m = len(p) // 2, np.float32(X.shape[1])
    A, cache = X, [X]
    for l in range(1, L + 1):
        Z = p[f"W{l}"] @ A + p[f"b{l}"]
        A = Z if l == L else np.tanh(Z)
        cache.append(A)
    dZ = A - Y
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ cache[l - 1].T / m + np.float32(l2_factor) * LAMBDA / m * p[f"W{l}"]
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dZ = (p[f"W{l}"].T @ dZ) * (np.float32(1) - cache[l - 1] ** 2)
    return grads


def gradients_bug(params, X, Y):
    return gradients(params, X, Y, l2_factor=1.5)
