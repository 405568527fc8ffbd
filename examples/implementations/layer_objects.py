"""A layer-object library: dense and activation layers with ``forward``/``backward``, chained
by the user (expected verdict: matches, with options only; gradref chains the layers itself).

Each ``Dense`` keeps ``W`` (n_out, n_in) and ``b`` (n_out, 1); its ``backward(dA)`` stores
``dW``, ``db`` and returns the gradient for the layer below; activations are layers of their
own. ``build(arch)`` makes the list for any architecture; ``BCE`` is a loss object with
``forward(A, Y)`` and ``backward()``::

    gradref validate --model examples/implementations/layer_objects.py:build --call chain \\
        --random-architectures --hidden relu,tanh --output sigmoid,linear \\
        --loss bce,half_square
    gradref validate --model examples/implementations/layer_objects.py:build --call chain \\
        --loss-object 'BCE()' --layers 2,4,1 --activations tanh,sigmoid --loss bce

``build`` with ``arch["bug"]`` (``build_bug``) forgets the transpose of W in ``Dense.backward``
for square layers, a classic slip.
"""

import numpy as np


class Dense:
    def __init__(self, n_in, n_out, seed=0, bug=False):
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal((n_out, n_in)) * 0.1
        self.b = np.zeros((n_out, 1))
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.bug = bug

    def forward(self, A):
        self.A_prev = A
        return self.W @ A + self.b

    def backward(self, dZ):
        self.dW = dZ @ self.A_prev.T
        self.db = dZ.sum(axis=1, keepdims=True)
        W = self.W if self.bug and self.W.shape[0] == self.W.shape[1] else self.W.T
        return W @ dZ


class Activation:
    def __init__(self, f, df):
        self.f, self.df = f, df

    def forward(self, Z):
        self.Z = Z
        return self.f(Z)

    def backward(self, dA):
        return dA * self.df(self.Z)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
}


def build(arch, bug=False):
    sizes, layers = arch["layer_sizes"], []
    for l, name in enumerate(arch["activations"]):
        layers.append(Dense(sizes[l], sizes[l + 1], seed=l, bug=bug))
        layers.append(Activation(*ACTIVATIONS[name]))
    return layers


def build_bug(arch):
    return build(arch, bug=True)


class BCE:
    """Mean binary cross-entropy over the batch; ``backward`` is dJ/dA (not fused)."""

    def forward(self, A, Y):
        self.A, self.Y = A, Y
        return -np.mean(np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A), axis=0))

    def backward(self):
        m = self.A.shape[1]
        return (self.A - self.Y) / (self.A * (1.0 - self.A)) / m
