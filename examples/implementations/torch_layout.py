"""NumPy code in PyTorch's layout (expected verdict: matches with --layout torch).

As ``nn.Linear``: X is (m, n_0), one example per row; W_l is (n_l, n_{l-1}) (out, in); b_l is
flat (n_l,); Z = A·Wᵀ + b. Gradients come back under the parameters' own names (``W1``, ``b1``,
…), as ``p.grad`` would be. ReLU hidden layers, softmax output, cross-entropy, mean over the
batch.

    gradref validate examples/implementations/torch_layout.py:grads --layout torch \
        --layers 4,8,3 --hidden relu --output softmax --loss cross_entropy

``grads_bug`` divides the bias gradients by m twice (the 1/m is already in dz).

``mse_grads`` is the regression version: tanh hidden layers, a linear output and the squared
error averaged over the batch *and* the output units, as ``nn.MSELoss()`` does by default:

    gradref validate examples/implementations/torch_layout.py:mse_grads --layout torch \
        --reduction mean_all --layers 3,6,4 --hidden tanh --output linear --loss square
"""

import numpy as np


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _grads(params, X, Y, bias_scale=1.0):
    L = len(params) // 2
    m = X.shape[0]
    acts, pre = [X], []
    for l in range(1, L + 1):
        z = acts[-1] @ params[f"W{l}"].T + params[f"b{l}"]
        pre.append(z)
        acts.append(_softmax(z) if l == L else np.maximum(z, 0.0))
    dz = (acts[-1] - Y) / m
    out = {}
    for l in range(L, 0, -1):
        out[f"W{l}"] = dz.T @ acts[l - 1]
        out[f"b{l}"] = dz.sum(axis=0) * bias_scale
        if l > 1:
            dz = (dz @ params[f"W{l}"]) * (pre[l - 2] > 0)
    return out


def grads(params, X, Y):
    return _grads(params, X, Y)


def grads_bug(params, X, Y):
    return _grads(params, X, Y, bias_scale=1.0 / X.shape[0])


def mse_grads(params, X, Y):
    L = len(params) // 2
    acts, pre = [X], []
    for l in range(1, L + 1):
        z = acts[-1] @ params[f"W{l}"].T + params[f"b{l}"]
        pre.append(z)
        acts.append(z if l == L else np.tanh(z))
    dz = 2.0 * (acts[-1] - Y) / Y.size  # mean over every element, as nn.MSELoss()
    out = {}
    for l in range(L, 0, -1):
        out[f"W{l}"] = dz.T @ acts[l - 1]
        out[f"b{l}"] = dz.sum(axis=0)
        if l > 1:
            dz = (dz @ params[f"W{l}"]) * (1.0 - acts[l - 1] ** 2)
    return out
