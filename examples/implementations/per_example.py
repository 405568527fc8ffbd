"""One example at a time, network.py style (expected verdict: matches with --per-example).

``backprop(params, x, y)`` takes one example as column vectors (x (n_0, 1), y (n_L, 1)) and
returns ``(nabla_b, nabla_w)``: two lists in layer order, the biases first, the gradient of that
example's quadratic cost ½‖a − y‖² for sigmoid layers. It knows nothing of batches: a trainer
would sum these over a mini-batch and scale by the learning rate.

    gradref validate examples/implementations/per_example.py:backprop --per-example \
        --layers 3,5,2 --activations sigmoid,sigmoid --loss half_square

``backprop_bug`` multiplies by σ(z) instead of σ'(z) = σ(z)(1 − σ(z)) in the hidden layer.
"""

import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # σ without overflow


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def _backprop(params, x, y, hidden_derivative=sigmoid_prime):
    L = len(params) // 2
    weights = [params[f"W{l}"] for l in range(1, L + 1)]
    biases = [params[f"b{l}"] for l in range(1, L + 1)]
    activation, activations, zs = x, [x], []
    for w, b in zip(weights, biases, strict=True):
        z = w @ activation + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
    nabla_b = [None] * L
    nabla_w = [None] * L
    nabla_b[-1], nabla_w[-1] = delta, delta @ activations[-2].T
    for l in range(2, L + 1):
        delta = (weights[-l + 1].T @ delta) * hidden_derivative(zs[-l])
        nabla_b[-l], nabla_w[-l] = delta, delta @ activations[-l - 1].T
    return nabla_b, nabla_w


def backprop(params, x, y):
    return _backprop(params, x, y)


def backprop_bug(params, x, y):
    return _backprop(params, x, y, hidden_derivative=sigmoid)
