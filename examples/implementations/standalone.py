"""A separate-process implementation driven through ``--command`` (expected verdict: matches).

    python standalone.py CASE.npz OUT.npz

reads a gradref case file (the ``.npz`` and its ``.json`` sidecar; see docs/formats.md), computes
the cost and the gradients of the network the sidecar describes, in whatever layout the case
uses, and writes ``dW1``, ``db1``, … (and the cost ``J``) to OUT.npz. It uses NumPy and json
only, never gradref, so it stands for a program in another language. Fixtures
(``gradref fixtures``) are case files too: ``python standalone.py fixture.npz o.npz``.
"""

import json
import re
import sys

import numpy as np

C = np.sqrt(2.0 / np.pi)


def sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def gelu_prime(z):
    t = np.tanh(C * (z + 0.044715 * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * C * (1 + 3 * 0.044715 * z * z)


# name -> (g(z, p), g'(z, p)) with p the optional parameter of the spec, e.g. leaky_relu(0.05)
ACTIVATIONS = {
    "sigmoid": (lambda z, p: sigmoid(z), lambda z, p: sigmoid(z) * sigmoid(-z)),
    "tanh": (lambda z, p: np.tanh(z), lambda z, p: 1 - np.tanh(z) ** 2),
    "relu": (lambda z, p: np.maximum(z, 0), lambda z, p: (z > 0) * 1.0),
    "leaky_relu": (lambda z, p: np.where(z > 0, z, p * z), lambda z, p: np.where(z > 0, 1.0, p)),
    "linear": (lambda z, p: z, lambda z, p: np.ones_like(z)),
    "softplus": (lambda z, p: np.logaddexp(0.0, z), lambda z, p: sigmoid(z)),
    "elu": (lambda z, p: np.where(z > 0, z, p * np.expm1(np.minimum(z, 0))),
            lambda z, p: np.where(z > 0, 1.0, p * np.exp(np.minimum(z, 0)))),
    "gelu": (lambda z, p: 0.5 * z * (1 + np.tanh(C * (z + 0.044715 * z ** 3))),
             lambda z, p: gelu_prime(z)),
    "silu": (lambda z, p: z * sigmoid(z), lambda z, p: sigmoid(z) * (1 + z * sigmoid(-z))),
}
DEFAULT_PARAMETER = {"leaky_relu": 0.01, "elu": 1.0}


def parse(spec):
    name, _, rest = re.fullmatch(r"(\w+)(\((.*)\))?", spec).group(1, 2, 3)
    return name, float(rest) if rest else DEFAULT_PARAMETER.get(name)


def softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def forward(params, X, specs):
    cache = [(None, X)]
    for l, (name, p) in enumerate(specs, start=1):
        Z = params[f"W{l}"] @ cache[-1][1] + params[f"b{l}"]
        cache.append((Z, softmax(Z) if name == "softmax" else ACTIVATIONS[name][0](Z, p)))
    return cache


def cost_and_gradients(params, X, Y, net):
    specs = [parse(s) for s in net["activations"]]
    loss, l2, L, m = net["loss"], net["l2"], len(specs), X.shape[1]
    cache = forward(params, X, specs)
    Z, A = cache[L]
    if loss == "bce":  # after sigmoid, from the logits
        losses = np.logaddexp(0.0, Z) - Y * Z
        dZ = A - Y
    elif loss == "cross_entropy":  # after softmax, from the logits
        top = Z.max(axis=0, keepdims=True)
        losses = Y * (top + np.log(np.exp(Z - top).sum(axis=0, keepdims=True)) - Z)
        dZ = A * Y.sum(axis=0, keepdims=True) - Y
    else:
        k = 1.0 if loss == "square" else 0.5
        losses, dA = k * (A - Y) ** 2, 2 * k * (A - Y)
        name, p = specs[-1]
        dZ = A * (dA - (A * dA).sum(axis=0)) if name == "softmax" else dA * ACTIVATIONS[name][1](Z, p)
    J = losses.sum() / m + l2 / (2 * m) * sum((params[f"W{l}"] ** 2).sum() for l in range(1, L + 1))
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ cache[l - 1][1].T / m + l2 / m * params[f"W{l}"]
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dA = params[f"W{l}"].T @ dZ
            (name, p), (Z, A) = specs[l - 2], cache[l - 1]
            dZ = A * (dA - (A * dA).sum(axis=0)) if name == "softmax" else dA * ACTIVATIONS[name][1](Z, p)
    return J, grads


def main(case_path, out_path):
    with open(case_path[:-len(".npz")] + ".json", encoding="utf-8") as f:
        side = json.load(f)
    rows, bias = side["layout"] == "rows", side["bias"]
    with np.load(case_path) as data:
        arrays = {k: data[k] for k in data.files}
    # to columns: transpose everything in the rows layout, biases to (n, 1) columns
    X, Y = (arrays["X"].T, arrays["Y"].T) if rows else (arrays["X"], arrays["Y"])
    L = len(side["network"]["activations"])
    params = {}
    for l in range(1, L + 1):
        params[f"W{l}"] = arrays[f"W{l}"].T if rows else arrays[f"W{l}"]
        params[f"b{l}"] = arrays[f"b{l}"].reshape(-1, 1)
    J, grads = cost_and_gradients(params, X, Y, side["network"])
    out = {"J": np.float64(J)}
    for l in range(1, L + 1):
        dW, db = grads[f"dW{l}"], grads[f"db{l}"]
        out[f"dW{l}"] = dW.T if rows else dW
        out[f"db{l}"] = {"column": db, "row": db.T, "flat": db.ravel()}[bias]
    np.savez(out_path, **out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python standalone.py CASE.npz OUT.npz")
    main(sys.argv[1], sys.argv[2])
