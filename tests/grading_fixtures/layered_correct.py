"""A correct solution of the layered (row-major) assignment: full marks."""
import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout * (x > 0)
    return dx


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


class FullyConnectedNet:
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float64, seed=None):
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        if seed is not None:
            np.random.seed(seed)
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params["b%d" % (i + 1)] = np.zeros(dims[i + 1])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        caches = []
        out = X
        for i in range(1, self.num_layers):
            out, fc = affine_forward(out, self.params["W%d" % i], self.params["b%d" % i])
            out, rc = relu_forward(out)
            caches.append((fc, rc))
        L = self.num_layers
        scores, last = affine_forward(out, self.params["W%d" % L], self.params["b%d" % L])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params["W%d" % i] ** 2)
        dout, grads["W%d" % L], grads["b%d" % L] = affine_backward(dscores, last)
        grads["W%d" % L] += self.reg * self.params["W%d" % L]
        for i in range(L - 1, 0, -1):
            fc, rc = caches[i - 1]
            dout = relu_backward(dout, rc)
            dout, grads["W%d" % i], grads["b%d" % i] = affine_backward(dout, fc)
            grads["W%d" % i] += self.reg * self.params["W%d" % i]
        return loss, grads
