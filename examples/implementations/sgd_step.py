"""Code that trains rather than reports gradients (expected verdict: matches with --returns
update --lr 0.5).

Three common shapes of one SGD step, for a relu → sigmoid network with binary cross-entropy
(X (n_0, m), W (n_l, n_{l-1}), b (n_l, 1)), learning rate ``LR``:

* ``step(params, X, Y)`` returns the new parameters ``{"W1", "b1", …}``;
* ``update(params, X, Y)`` returns the steps ``[ΔW1, Δb1, ΔW2, …]`` = −lr·gradient;
* ``train_in_place(params, X, Y)`` subtracts lr·gradient from the arrays it was given and
  returns None (gradref compares the parameters before and after the call).

    gradref validate examples/implementations/sgd_step.py:step --returns update --lr 0.5 \
        --layers 2,8,1 --activations relu,sigmoid --loss bce

``step_bug`` adds the gradient instead of subtracting it (gradient ascent).
"""

import numpy as np

LR = 0.5


def _gradients(params, X, Y):
    m = X.shape[1]
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.maximum(Z1, 0.0)
    Z2 = params["W2"] @ A1 + params["b2"]
    A2 = 0.5 * (1.0 + np.tanh(0.5 * Z2))
    dZ2 = A2 - Y
    dZ1 = (params["W2"].T @ dZ2) * (Z1 > 0)
    return {"W1": dZ1 @ X.T / m, "b1": dZ1.sum(axis=1, keepdims=True) / m,
            "W2": dZ2 @ A1.T / m, "b2": dZ2.sum(axis=1, keepdims=True) / m}


def step(params, X, Y, sign=-1.0):
    g = _gradients(params, X, Y)
    return {k: params[k] + sign * LR * g[k] for k in params}


def update(params, X, Y):
    g = _gradients(params, X, Y)
    return [-LR * g[k] for k in ("W1", "b1", "W2", "b2")]


def train_in_place(params, X, Y):
    g = _gradients(params, X, Y)
    for k in params:
        params[k] -= LR * g[k]


def step_bug(params, X, Y):
    return step(params, X, Y, sign=+1.0)
