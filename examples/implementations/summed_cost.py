"""A batch implementation whose cost is summed, not averaged (expected verdict: matches with
--reduction sum).

J = Σ_i ℓ(a_i, y_i) + (λ/2)·Σ_l ‖W_l‖², so every gradient is m times the mean-cost one (and
the L2 term is λ·W). Tanh hidden layers, a sigmoid output, binary cross-entropy from the logits.
``gradients(params, X, Y, lam=0.1)`` with X (n_0, m), W (n_l, n_{l-1}), b (n_l, 1).

    gradref validate examples/implementations/summed_cost.py:gradients --reduction sum \
        --layers 3,6,4,1 --activations tanh,tanh,sigmoid --loss bce --l2 0.1 \
        --forward examples/implementations/summed_cost.py:cost

``gradients_bug`` uses λ = 0.2 in the L2 term instead of the λ = 0.1 of the cost.
"""

import numpy as np

LAMBDA = 0.1


def _forward(params, X):
    L = len(params) // 2
    A, cache = X, [(None, X)]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A + params[f"b{l}"]
        A = np.tanh(Z) if l < L else 0.5 * (1.0 + np.tanh(0.5 * Z))
        cache.append((Z, A))
    return cache


def cost(params, X, Y, lam=LAMBDA):
    Z = _forward(params, X)[-1][0]
    data = np.sum(np.logaddexp(0.0, Z) - Y * Z)  # bce from the logits, summed
    return float(data + lam / 2 * sum(np.sum(W ** 2) for k, W in params.items() if k[0] == "W"))


def gradients(params, X, Y, lam=LAMBDA):
    cache = _forward(params, X)
    L = len(params) // 2
    dZ = cache[L][1] - Y
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ cache[l - 1][1].T + lam * params[f"W{l}"]
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dZ = (params[f"W{l}"].T @ dZ) * (1.0 - cache[l - 1][1] ** 2)
    return grads


def gradients_bug(params, X, Y):
    return gradients(params, X, Y, lam=2 * LAMBDA)
