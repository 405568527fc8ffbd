"""One dense layer: Z = W·A + b (columns), with an optional tanh."""

import numpy as np


class Dense:
    def __init__(self, W, b, activation):
        self.W, self.b, self.activation = W, b, activation

    def forward(self, A):
        self.A_prev = A
        self.Z = self.W @ A + self.b
        self.A = np.tanh(self.Z) if self.activation == "tanh" else self.Z
        return self.A

    def activation_backward(self, dA):
        return dA * (1.0 - self.A ** 2) if self.activation == "tanh" else dA

    def backward(self, dZ):
        """(dW, db, dA_prev) for dZ already divided by m."""
        return dZ @ self.A_prev.T, dZ.sum(axis=1, keepdims=True), self.W.T @ dZ
