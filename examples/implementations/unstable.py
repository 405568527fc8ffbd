"""Right derivatives computed in unstable or approximate forms (expected verdicts: the
mechanism named each time; ``gradients`` gets "right where finite; unstable at saturation").

A sigmoid → sigmoid network with binary cross-entropy, column-major. ``gradients`` takes the
textbook chain rule without fusing the sigmoid into the loss::

    dA = −(Y/A − (1−Y)/(1−A)),   dZ = dA · σ'(Z)

which is exactly right until σ(z) rounds to 0 or 1 (|z| ≳ 37), where it divides by zero::

    gradref validate examples/implementations/unstable.py:gradients \\
        --layers 3,6,1 --activations sigmoid,sigmoid --loss bce
    # UNSTABLE: right where finite; unstable at saturation (exit 4)

Variants: ``gradients_epsilon`` adds ε = 1e-8 to the denominators (a near miss of size ε),
``gradients_clip`` clips A to [1e-7, 1 − 1e-7] first (vanishing gradients where σ rounds),
``gradients_table`` reads σ from a 4096-entry lookup table on [−8, 8] (errors ~1e-3
everywhere), and ``tanh_gradients`` (a tanh hidden layer computed as (e^{2x}−1)/(e^{2x}+1), the output
fused) overflows to NaN on ``--data normal,extreme``.
"""

import numpy as np

_GRID = np.linspace(-8.0, 8.0, 4096)


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _table_sigmoid(z):
    i = np.clip(np.rint((z + 8.0) / 16.0 * 4095).astype(int), 0, 4095)
    return _sigmoid(_GRID[i])


def _naive_tanh(z):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(2.0 * z)
        return (e - 1.0) / (e + 1.0)


def _backprop(params, X, Y, sigma=_sigmoid, hidden=None, eps=0.0, clip=None, fused=False):
    hidden = hidden or (sigma, lambda a: a * (1.0 - a))
    m = X.shape[1]
    Z1 = params["W1"] @ X + params["b1"]
    A1 = hidden[0](Z1)
    A2 = sigma(params["W2"] @ A1 + params["b2"])
    P = A2 if clip is None else np.clip(A2, clip, 1.0 - clip)
    with np.errstate(divide="ignore", invalid="ignore"):
        dA2 = -(Y / (P + eps) - (1.0 - Y) / (1.0 - P + eps))
        dZ2 = A2 - Y if fused else dA2 * A2 * (1.0 - A2)
    dZ1 = (params["W2"].T @ dZ2) * hidden[1](A1)
    return {"dW1": dZ1 @ X.T / m, "db1": dZ1.sum(axis=1, keepdims=True) / m,
            "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(axis=1, keepdims=True) / m}


def gradients(params, X, Y):
    return _backprop(params, X, Y)


def gradients_epsilon(params, X, Y):
    return _backprop(params, X, Y, eps=1e-8)


def gradients_clip(params, X, Y):
    return _backprop(params, X, Y, clip=1e-7)


def gradients_table(params, X, Y):
    return _backprop(params, X, Y, sigma=_table_sigmoid)


def tanh_gradients(params, X, Y):
    return _backprop(params, X, Y, hidden=(_naive_tanh, lambda a: 1.0 - a * a), fused=True)
