"""Biases as a weight on a constant input of −1 (expected verdict: matches with --bias-sign -1).

Some textbooks (and perceptron-era code) treat the bias as the weight θ of an extra input fixed
at −1: Z = W·A − θ. The function then receives θ = −b and returns ∂J/∂θ = −∂J/∂b. Column
layout, sigmoid hidden layer, sigmoid output, binary cross-entropy, mean over the batch.

    gradref validate examples/implementations/bias_input.py:gradients --bias-sign -1 \
        --layers 2,5,1 --activations sigmoid,sigmoid --loss bce

``gradients_bug`` treats the −1 input as +1 in the backward pass only (it returns +∂J/∂b).
"""

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def gradients(params, X, Y, bias_input=-1.0):
    m = X.shape[1]
    A1 = _sigmoid(params["W1"] @ X - params["b1"])
    A2 = _sigmoid(params["W2"] @ A1 - params["b2"])
    dZ2 = A2 - Y
    dZ1 = (params["W2"].T @ dZ2) * A1 * (1.0 - A1)
    return {"dW1": dZ1 @ X.T / m, "db1": bias_input * dZ1.sum(axis=1, keepdims=True) / m,
            "dW2": dZ2 @ A1.T / m, "db2": bias_input * dZ2.sum(axis=1, keepdims=True) / m}


def gradients_bug(params, X, Y):
    return gradients(params, X, Y, bias_input=1.0)
