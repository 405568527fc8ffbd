"""A library whose gradients are reachable only through its optimiser (expected verdict:
matches with ``--returns update``, options only).

``Model(sizes, hidden, output)`` keeps its parameters in a dict ``self.params`` (``"W1"``,
``"b1"``, …, column-major); ``fit_batch(X, Y, optimizer)`` computes the gradients of the mean
binary cross-entropy internally and hands each ``(parameter, gradient)`` pair to
``optimizer.apply``, which updates the parameter in place; the gradients are never returned
or stored. gradref reads the change (``(old − new)/lr``)::

    gradref validate --model 'examples/implementations/optimiser_hook.py:Model({sizes}, \\
        {activation}, {output})' --call 'model.fit_batch(X, Y, SGD(lr))' --returns update \\
        --lr 0.1 --layers 3,4,4,1 --activations tanh,tanh,sigmoid --loss bce

``SGD(lr, ascent=True)`` (``Ascent``) climbs the gradient instead.
"""

import numpy as np


class SGD:
    def __init__(self, lr, ascent=False):
        self.lr, self.sign = lr, (1.0 if ascent else -1.0)

    def apply(self, param, grad):
        param += self.sign * self.lr * grad


def Ascent(lr):
    return SGD(lr, ascent=True)


class Model:
    def __init__(self, sizes, hidden="tanh", output="sigmoid"):
        if output != "sigmoid":
            raise ValueError(f"only a sigmoid output, got {output!r}")
        rng = np.random.default_rng(0)
        self.hidden = hidden
        self.params = {}
        for l in range(1, len(sizes)):
            self.params[f"W{l}"] = rng.standard_normal((sizes[l], sizes[l - 1]))
            self.params[f"b{l}"] = np.zeros((sizes[l], 1))
        self.L = len(sizes) - 1

    def _act(self, z):
        return np.tanh(z) if self.hidden == "tanh" else np.maximum(z, 0.0)

    def _dact(self, z):
        return 1.0 - np.tanh(z) ** 2 if self.hidden == "tanh" else (z > 0).astype(float)

    def fit_batch(self, X, Y, optimizer):
        p, m = self.params, X.shape[1]
        A, Zs, As = X, [], [X]
        for l in range(1, self.L + 1):
            Z = p[f"W{l}"] @ A + p[f"b{l}"]
            A = 0.5 * (1 + np.tanh(0.5 * Z)) if l == self.L else self._act(Z)
            Zs.append(Z)
            As.append(A)
        dZ = (A - Y) / m
        grads = {}
        for l in range(self.L, 0, -1):
            grads[f"W{l}"] = dZ @ As[l - 1].T
            grads[f"b{l}"] = dZ.sum(axis=1, keepdims=True)
            if l > 1:
                dZ = (p[f"W{l}"].T @ dZ) * self._dact(Zs[l - 2])
        for k, g in grads.items():
            optimizer.apply(p[k], g)
