"""A network object holding its parameters in two lists, as textbooks write it (expected
verdict: matches, with options only).

``Network(sizes)`` keeps ``self.weights[l]`` (n_l, n_{l-1}) and ``self.biases[l]`` (n_l, 1),
sigmoid units throughout and a quadratic cost ½‖a − y‖² summed over the batch;
``backprop(X, Y)`` returns ``(nabla_b, nabla_w)`` and ``update(X, Y, lr)`` takes one gradient
step in place. No adapter code::

    gradref validate --model 'examples/implementations/object_lists.py:Network({sizes})' \\
        --call 'model.backprop(X, Y)' --reduction sum \\
        --layers 3,5,2 --activations sigmoid,sigmoid --loss half_square

    gradref validate --model 'examples/implementations/object_lists.py:Network({sizes})' \\
        --call 'model.update(X, Y, lr)' --returns update --lr 0.5 --reduction sum \\
        --layers 3,5,2 --activations sigmoid,sigmoid --loss half_square

``Network(sizes, bug=True)`` forgets the σ' of the output layer.
"""

import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class Network:
    def __init__(self, sizes, bug=False):
        rng = np.random.default_rng(1)
        self.sizes = sizes
        self.biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n, k)) for k, n in zip(sizes[:-1], sizes[1:], strict=True)]
        self.bug = bug

    def backprop(self, X, Y):
        activation, activations, zs = X, [X], []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = w @ activation + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        s = sigmoid(zs[-1])
        delta = (activations[-1] - Y) * (1.0 if self.bug else s * (1.0 - s))
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        nabla_b[-1] = delta.sum(axis=1, keepdims=True)
        nabla_w[-1] = delta @ activations[-2].T
        for l in range(2, len(self.sizes)):
            s = sigmoid(zs[-l])
            delta = (self.weights[-l + 1].T @ delta) * s * (1.0 - s)
            nabla_b[-l] = delta.sum(axis=1, keepdims=True)
            nabla_w[-l] = delta @ activations[-l - 1].T
        return nabla_b, nabla_w

    def update(self, X, Y, lr):
        nabla_b, nabla_w = self.backprop(X, Y)
        self.weights = [w - lr * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - lr * nb for b, nb in zip(self.biases, nabla_b, strict=True)]
