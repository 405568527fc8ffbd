"""FullyConnectedNet of assignment 2 (gradref's rendition, 2021+ argument names)."""
import numpy as np

from ..layer_utils import affine_norm_relu_backward, affine_norm_relu_forward
from ..layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class FullyConnectedNet(object):
    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10,
                 dropout_keep_ratio=1, normalization=None, reg=0.0, weight_scale=1e-2,
                 dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params["b%d" % (i + 1)] = np.zeros(dims[i + 1])
            if normalization and i < self.num_layers - 1:
                self.params["gamma%d" % (i + 1)] = np.ones(dims[i + 1])
                self.params["beta%d" % (i + 1)] = np.zeros(dims[i + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        caches, out = [], X
        for i in range(1, self.num_layers):
            W, b = self.params["W%d" % i], self.params["b%d" % i]
            if self.normalization:
                out, cache = affine_norm_relu_forward(
                    out, W, b, self.params["gamma%d" % i], self.params["beta%d" % i],
                    self.bn_params[i - 1], self.normalization)
            else:
                a, fc = affine_forward(out, W, b)
                out, rc = relu_forward(a)
                cache = (fc, rc)
            drop = None
            if self.use_dropout:
                out, drop = dropout_forward(out, self.dropout_param)
            caches.append((cache, drop))
        L = self.num_layers
        scores, last = affine_forward(out, self.params["W%d" % L], self.params["b%d" % L])
        if mode == "test":
            return scores
        loss, dout = softmax_loss(scores, y)
        grads = {}
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params["W%d" % i] ** 2)
        dout, grads["W%d" % L], grads["b%d" % L] = affine_backward(dout, last)
        for i in range(L - 1, 0, -1):
            cache, drop = caches[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, drop)
            if self.normalization:
                dout, dw, db, dg, dbe = affine_norm_relu_backward(dout, cache, self.normalization)
                grads["gamma%d" % i], grads["beta%d" % i] = dg, dbe
            else:
                fc, rc = cache
                dout, dw, db = affine_backward(relu_backward(dout, rc), fc)
            grads["W%d" % i], grads["b%d" % i] = dw, db
        for i in range(1, L + 1):
            grads["W%d" % i] += self.reg * self.params["W%d" % i]
        return loss, grads
