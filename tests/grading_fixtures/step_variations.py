"""Correct, but written differently from the usual solution: every variation must keep full marks.

- the @ operator instead of np.dot; np.mean for db; a relu mask written Z > 0 (the other side of
  the kink); the cost as a (1, 1) array from a matrix product, never squeezed;
- initialisation with a new-style Generator and /sqrt(n_prev) instead of seed 3 and x0.01;
- the unfused derivative computed from the cached Z in a single helper with a dict dispatch;
- update_parameters updating the dict it was given in place (and returning it);
- prints and a module-level smoke test with its own random numbers.
"""
import numpy as np

print("loading my submission")
_rng = np.random.default_rng()


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


_DERIVATIVE = {
    "sigmoid": lambda Z: _sigmoid(Z) * (1.0 - _sigmoid(Z)),
    "relu": lambda Z: (Z > 0).astype(float),
}


def initialize_parameters_deep(layer_dims):
    params = {}
    for l in range(1, len(layer_dims)):
        shape = (layer_dims[l], layer_dims[l - 1])
        params[f"W{l}"] = _rng.standard_normal(shape) / np.sqrt(layer_dims[l - 1])
        params[f"b{l}"] = np.zeros((layer_dims[l], 1))
    return params


def linear_forward(A, W, b):
    return W @ A + b, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A = _sigmoid(Z) if activation == "sigmoid" else np.where(Z > 0, Z, 0.0)
    return A, (linear_cache, Z)


def L_model_forward(X, parameters):
    L = len(parameters) // 2
    caches, A = [], X
    for l in range(1, L + 1):
        A, cache = linear_activation_forward(A, parameters[f"W{l}"], parameters[f"b{l}"],
                                             "sigmoid" if l == L else "relu")
        caches.append(cache)
    return A, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    return -(Y @ np.log(AL).T + (1 - Y) @ np.log(1 - AL).T) / m


def linear_backward(dZ, cache):
    A_prev, W, _ = cache
    dW = dZ @ A_prev.T / A_prev.shape[1]
    db = np.mean(dZ, axis=1, keepdims=True)
    return W.T @ dZ, dW, db


def linear_activation_backward(dA, cache, activation):
    linear_cache, Z = cache
    return linear_backward(dA * _DERIVATIVE[activation](Z), linear_cache)


def L_model_backward(AL, Y, caches):
    L = len(caches)
    grads = {}
    dA = (1 - Y) / (1 - AL) - Y / AL
    for l in range(L, 0, -1):
        dA, grads[f"dW{l}"], grads[f"db{l}"] = linear_activation_backward(
            dA, caches[l - 1], "sigmoid" if l == L else "relu")
        grads[f"dA{l - 1}"] = dA
    return grads


def update_parameters(params, grads, learning_rate):
    for key in list(params):
        params[key] -= learning_rate * grads["d" + key]
    return params


_p = initialize_parameters_deep([3, 2, 1])
_AL, _caches = L_model_forward(_rng.standard_normal((3, 4)), _p)
print("smoke test cost:", compute_cost(_AL, np.ones((1, 4))))
