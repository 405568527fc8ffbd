"""A buggy column-major implementation (expected verdict: failure, exit code 1).

The two bugs, on purpose:

1. ``db`` is ``rowSum(dZ)`` without the 1/m: every bias gradient is m times too large
   (alone in the output layer, where nothing else is wrong);
2. the relu backward multiplies by relu(Z) (the activation's value) instead of masking with
   [Z > 0], so the hidden layers' gradients are wrong too.

The forward pass (``cost``) is right, so ``--forward buggy.py:cost`` tells you the mistake is in
the backward pass. Network: relu hidden layers, a sigmoid output and binary cross-entropy.
"""

import numpy as np


def _forward(params, X):
    L = len([k for k in params if k.startswith("W")])
    As, Zs = [X], [None]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ As[-1] + params[f"b{l}"]
        Zs.append(Z)
        As.append(np.maximum(Z, 0.0) if l < L else 1.0 / (1.0 + np.exp(-Z)))
    return As, Zs


def cost(params, X, Y):
    A = _forward(params, X)[0][-1]
    return float(-np.mean(np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=0)))


def gradients(params, X, Y):
    As, Zs = _forward(params, X)
    L, m = len(As) - 1, X.shape[1]
    dZ = As[L] - Y
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ As[l - 1].T / m
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)  # BUG 1: missing / m
        if l > 1:
            dA = params[f"W{l}"].T @ dZ
            dZ = dA * np.maximum(Zs[l - 1], 0.0)  # BUG 2: relu(Z), not the mask (Z > 0)
    return grads
