"""A consistent but wrong implementation (expected verdict: failure, exit code 1).

The bug: the cost is the *sum* of the per-example losses instead of their mean, and the backward
pass is the exact gradient of that wrong cost (no 1/m anywhere). ``--forward wrong_cost.py:cost``
shows that the backward pass agrees with this forward pass, so the mistake is in the cost.
Network: relu hidden layers, a sigmoid output and binary cross-entropy (column-major).
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
    return float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)))  # BUG: sum, not mean


def gradients(params, X, Y):
    As, Zs = _forward(params, X)
    L = len(As) - 1
    dZ = As[L] - Y
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ As[l - 1].T
        grads[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True)
        if l > 1:
            dZ = (params[f"W{l}"].T @ dZ) * (Zs[l - 1] > 0)
    return grads
