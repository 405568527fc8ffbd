"""A sigmoid derivative that is wrong only in saturation (expected verdict: fails with the
default options, on the saturated data; it passes on normal data alone).

``gradients`` guards σ'(z) against overflow by returning a constant once |z| > 25, but the
constant is 1 (the slope of the linear part of a hard sigmoid) instead of 0. N(0, 1) data never
reaches |z| > 25; ``--data saturated`` (in the default) does.

    gradref validate examples/implementations/saturation.py:gradients \
        --layers 3,6,1 --activations sigmoid,sigmoid --loss bce
    # DIFFERS: the failing cases are the "saturated data" ones

``gradients_fixed`` returns 0 there, which is right.
"""

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_prime(z, far=1.0):
    s = _sigmoid(z)
    return np.where(np.abs(z) > 25, far, s * (1.0 - s))


def gradients(params, X, Y, far=1.0):
    m = X.shape[1]
    Z1 = params["W1"] @ X + params["b1"]
    A1 = _sigmoid(Z1)
    A2 = _sigmoid(params["W2"] @ A1 + params["b2"])
    dZ2 = A2 - Y
    dZ1 = (params["W2"].T @ dZ2) * _sigmoid_prime(Z1, far)
    return {"dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1, keepdims=True) / m,
            "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m}


def gradients_fixed(params, X, Y):
    return gradients(params, X, Y, far=0.0)
