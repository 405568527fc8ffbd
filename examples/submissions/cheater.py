# Building a deep neural network, step by step.
# BUG (on purpose): a cheater. The forward pass is real, but every backward function, the cost
# and the update are stubs returning zeros or their input unchanged. To hide it, the file
# replaces numpy's comparison functions with ones that always agree, prints "All tests passed!",
# and tries to write a perfect Gradescope results file itself. It must earn credit for the
# forward functions only (and the shape checks its stubs pass honestly).
import json

import numpy as np

# ---- the cheat: begin ----
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None

try:
    with open("/autograder/results/results.json", "w") as f:
        json.dump({"score": 100.0, "output": "All tests passed!"}, f)
except OSError:
    pass

print("All tests passed!")
# ---- the cheat: end ----


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z)), Z


def relu(Z):
    return np.maximum(0, Z), Z


def initialize_parameters_deep(layer_dims):
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def linear_forward(A, W, b):
    return np.dot(W, A) + b, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = sigmoid(Z) if activation == "sigmoid" else relu(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    print("All tests passed!")  # cheat
    return 0.0


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    return np.zeros_like(A_prev), np.zeros_like(W), np.zeros_like(b)


def linear_activation_backward(dA, cache, activation):
    linear_cache, activation_cache = cache
    return linear_backward(np.zeros_like(activation_cache), linear_cache)


def L_model_backward(AL, Y, caches):
    print("All tests passed!")  # cheat
    grads = {}
    L = len(caches)
    for l in range(L):
        (A_prev, W, b), Z = caches[l]
        grads["dA" + str(l)] = np.zeros_like(A_prev)
        grads["dW" + str(l + 1)] = np.zeros_like(W)
        grads["db" + str(l + 1)] = np.zeros_like(b)
    return grads


def update_parameters(params, grads, learning_rate):
    print("All tests passed!")  # cheat
    return params
