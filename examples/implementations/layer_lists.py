"""A small class-based library returning per-layer lists (expected verdict: matches on random
architectures, skipping the ones it cannot build).

``MLP(sizes, hidden, output)`` keeps one ``Dense`` per layer; ``MLP.backward`` returns a list of
``(dW, db)`` pairs in layer order, as many libraries do. The library only builds networks whose
hidden layers all have the same width, and only relu/tanh hidden units with a sigmoid, softmax
or linear output: ``gradients`` answers ``"unsupported: …"`` for anything else, which gradref
reports as skipped. It reads the architecture from its ``arch`` keyword.

    gradref validate examples/implementations/layer_lists.py:gradients \
        --random-architectures --hidden relu,tanh --output sigmoid,softmax,linear \
        --loss bce,cross_entropy,half_square --max-depth 3 --max-width 4 --cases 12

``gradients_bug`` returns the pairs in reverse order (output layer first).
"""

import numpy as np

HIDDEN = {"relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
          "tanh": (np.tanh, lambda z, a: 1.0 - a * a)}


class Dense:
    def __init__(self, W, b, activation):
        self.W, self.b, self.activation = W, b, activation

    def forward(self, A):
        self.A_prev = A
        self.Z = self.W @ A + self.b
        if self.activation == "softmax":
            e = np.exp(self.Z - self.Z.max(axis=0))
            self.A = e / e.sum(axis=0)
        elif self.activation == "sigmoid":
            self.A = 0.5 * (1.0 + np.tanh(0.5 * self.Z))
        elif self.activation == "linear":
            self.A = self.Z
        else:
            self.A = HIDDEN[self.activation][0](self.Z)
        return self.A

    def backward(self, dZ):
        m = dZ.shape[1]
        return (dZ @ self.A_prev.T / m, dZ.sum(axis=1, keepdims=True) / m), self.W.T @ dZ


class MLP:
    def __init__(self, params, activations):
        self.layers = [Dense(params[f"W{l}"], params[f"b{l}"], a)
                       for l, a in enumerate(activations, start=1)]

    def backward(self, X, Y, loss):
        A = X
        for layer in self.layers:
            A = layer.forward(A)
        last = self.layers[-1]
        if loss in ("bce", "cross_entropy"):  # sigmoid/softmax output: dZ = A - Y
            dZ = A - Y
        else:  # half_square after a linear or sigmoid output
            dZ = (A - Y) * (1.0 if last.activation == "linear" else A * (1.0 - A))
        grads = []
        for i in range(len(self.layers) - 1, -1, -1):
            pair, dA = self.layers[i].backward(dZ)
            grads.insert(0, pair)
            if i > 0:
                below = self.layers[i - 1]
                dZ = dA * HIDDEN[below.activation][1](below.Z, below.A)
        return grads


def _supported(arch):
    *hidden, output = arch["activations"]
    widths = arch["layer_sizes"][1:-1]
    if len(set(widths)) > 1:
        return f"hidden layers of unequal widths {widths}"
    if any(a not in HIDDEN for a in hidden) or output not in ("sigmoid", "softmax", "linear"):
        return f"activations {arch['activations']}"
    if arch["loss"] == "half_square" and output == "softmax":
        return "half_square after softmax"
    if arch["l2"]:
        return "L2 regularisation"
    return None


def gradients(params, X, Y, arch):
    why = _supported(arch)
    if why:
        return f"unsupported: {why}"
    return MLP(params, arch["activations"]).backward(X, Y, arch["loss"])


def gradients_bug(params, X, Y, arch):
    answer = gradients(params, X, Y, arch=arch)
    return answer if isinstance(answer, str) else answer[::-1]
