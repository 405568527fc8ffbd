"""A correct column-major implementation with flat biases (expected verdict: every gradient matches).

Layout "columns" with ``--bias flat``: X is (n_0, m), W_l is (n_l, n_{l-1}), b_l is a 1-D
array of length n_l (broadcast as a column), and the gradients db_l are 1-D too.
Network: relu hidden layers, a sigmoid output and binary cross-entropy, any widths and depth.
"""

import numpy as np


def _layers(params):
    return len([k for k in params if k.startswith("W")])


def cost(params, X, Y):
    A = X
    L = _layers(params)
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A + params[f"b{l}"][:, None]
        A = np.maximum(Z, 0.0) if l < L else 1.0 / (1.0 + np.exp(-Z))
    return float(-np.mean(np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=0)))


def gradients(params, X, Y):
    L, m = _layers(params), X.shape[1]
    As, Zs = [X], [None]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ As[-1] + params[f"b{l}"][:, None]
        Zs.append(Z)
        As.append(np.maximum(Z, 0.0) if l < L else 1.0 / (1.0 + np.exp(-Z)))
    dZ = As[L] - Y
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ As[l - 1].T / m
        grads[f"db{l}"] = dZ.mean(axis=1)
        if l > 1:
            dZ = (params[f"W{l}"].T @ dZ) * (Zs[l - 1] > 0)
    return grads
