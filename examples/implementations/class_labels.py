"""A classifier library with the limits real ones have (expected verdict: matches on random
architectures with options only, nothing skipped).

``train_step(params, X, labels, arch)`` takes integer class labels (m,), not one-hot
targets, reads its learning rate from ``arch["lr"]`` and returns the new parameters after one
SGD step; it builds only networks whose hidden layers share one width (at least 2) and one
activation (relu or tanh), with a softmax output and cross-entropy, and answers
"unsupported" for anything else::

    gradref validate examples/implementations/class_labels.py:train_step \\
        --random-architectures --hidden relu,tanh --output softmax,sigmoid \\
        --loss cross_entropy,bce --labels index --returns update --lr 0.3 \\
        --min-width 2 --same-width --one-hidden-activation --pairs softmax:cross_entropy

``train_step_bug`` indexes the probabilities by the label without subtracting 1 there.
"""

import numpy as np

ACT = {"relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0) * 1.0),
       "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2)}


def _why_not(arch):
    *hidden, output = arch["activations"]
    widths = arch["layer_sizes"][1:-1]
    if len(set(widths)) > 1 or any(w < 2 for w in widths):
        return f"hidden widths {widths}"
    if len(set(hidden)) > 1 or any(h not in ACT for h in hidden):
        return f"hidden activations {hidden}"
    if (output, arch["loss"]) != ("softmax", "cross_entropy"):
        return f"{output} with {arch['loss']}"
    return None


def train_step(params, X, labels, arch, bug=False):
    why = _why_not(arch)
    if why:
        return f"unsupported: {why}"
    L, m = len(arch["layer_sizes"]) - 1, X.shape[1]
    f, df = ACT[arch["activations"][0]] if L > 1 else (None, None)
    A, As, Zs = X, [X], []
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A + params[f"b{l}"]
        if l == L:
            e = np.exp(Z - Z.max(axis=0))
            A = e / e.sum(axis=0)
        else:
            A = f(Z)
        Zs.append(Z)
        As.append(A)
    dZ = A.copy()
    if not bug:
        dZ[labels, np.arange(m)] -= 1.0
    dZ /= m
    new = {}
    for l in range(L, 0, -1):
        new[f"W{l}"] = params[f"W{l}"] - arch["lr"] * (dZ @ As[l - 1].T)
        new[f"b{l}"] = params[f"b{l}"] - arch["lr"] * dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dZ = (params[f"W{l}"].T @ dZ) * df(Zs[l - 2])
    return new


def train_step_bug(params, X, labels, arch):
    return train_step(params, X, labels, arch, bug=True)
