r"""Computations of the built-in `planar` assignment: one hidden tanh layer, a sigmoid output.

The network of DLS C1W3, column-major: ``X`` (n_x, m), ``W1`` (n_h, n_x), ``W2`` (n_y, n_h),

.. math:: Z_1 = W_1 X + b_1,\; A_1 = \tanh Z_1,\; Z_2 = W_2 A_1 + b_2,\; A_2 = \sigma(Z_2),\;
          J = -\tfrac1m \textstyle\sum [Y \log A_2 + (1 - Y)\log(1 - A_2)].

Every expected value comes from :class:`gradref.reference.Network` with ``["tanh", "sigmoid"]``
and the ``bce`` loss (the assignment's ``[network]``); the cases are two-layer networks
(``depth = [2, 2]``). The initialiser is :mod:`.initialization`'s ``initialize_layers``
(``scheme = "scaled"``, ×0.01, seed 2). ``nn_model`` is the reference trained identically: the
course's ``np.random.seed(3)``, the initial draw, then ``num_iterations`` steps of gradient
descent with learning rate 1.2 on the reference's gradients; its ``parameters_v6c`` output is
the same training from the draw of ``np.random.seed(2)``, what the notebooks up to v6c give
(their ``initialize_parameters`` seeds 2 itself, after nn_model's seed 3).
"""

from __future__ import annotations

import numpy as np
from gradref.checks.diagnosis import Finding

from ..computations import (
    COMPUTATIONS,
    Built,
    Computation,
    _network_context,
    _network_inputs,
    register,
)
from .initialization import seeded_draws

__all__ = ["LEARNING_RATE", "HIDDEN_UNITS", "NN_MODEL_SEED", "INIT_SEED", "INIT_SCALE",
           "train", "diagnose_predictions", "diagnose_nn_model"]

#: update_parameters' default learning rate, which nn_model uses.
LEARNING_RATE = 1.2
#: layer_sizes hard-codes the hidden layer's size.
HIDDEN_UNITS = 4
#: nn_model's own seed, and initialize_parameters' (up to v6c; the 2021+ test seeds it).
NN_MODEL_SEED, INIT_SEED = 3, 2
#: The initial weights' scale.
INIT_SCALE = 0.01


def _two_layers(case) -> tuple[int, int, int]:
    dims = tuple(int(n) for n in case.layer_dims)
    if len(dims) != 3:
        raise ValueError(f"the planar computations need two-layer cases (depth = [2, 2] in the "
                         f"declaration's cases, large cases too), got layer_dims = {list(dims)}")
    return dims


def _data(case):
    n_x, _, n_y = _two_layers(case)
    rng = case.rng()
    X = rng.standard_normal((n_x, case.m))
    Y = (rng.random((n_y, case.m)) < 0.5).astype(np.float64)
    return rng, X, Y


def _planar_cache(lay, cache) -> dict[str, np.ndarray]:
    return {k: lay.data(cache[k]) for k in ("Z1", "A1", "Z2", "A2")}


# --------------------------------------------------------------------------- layer_sizes
def _build_layer_sizes(case, lay, spec, options):
    n_x, _, n_y = _two_layers(case)
    _, X, Y = _data(case)
    q = {"X": lay.data(X), "Y": lay.data(Y), "n_x": float(n_x), "n_h": float(HIDDEN_UNITS),
         "n_y": float(n_y)}
    return Built(q, {"m": case.m, "net": None, "params": None, "cache": None, "X": X, "Y": Y})


register(Computation(
    "planar_layer_sizes",
    "(n_x, n_h, n_y) = (X.shape[0], 4, Y.shape[0]): the sizes of the input, the hidden layer "
    "(hard-coded to 4) and the output.",
    "network",
    inputs={"X": "inputs (n_x, m)", "Y": "labels (n_y, m)"},
    outputs={"n_x": "X.shape[0]", "n_h": "4", "n_y": "Y.shape[0]"},
    kinds={"n_x": "scalar", "n_h": "scalar", "n_y": "scalar"},
    build=_build_layer_sizes,
))


# --------------------------------------------------------------------------- forward, cost
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


#: Forward passes with one classic slip: (what it computes, the sentence naming it).
_FORWARD_SLIPS = (
    (lambda p, X: _two_steps(p, X, _sigmoid, _sigmoid),
     "the hidden layer uses the sigmoid; this network's hidden activation is np.tanh"),
    (lambda p, X: _two_steps(p, X, lambda z: np.maximum(z, 0), _sigmoid),
     "the hidden layer uses relu; this network's hidden activation is np.tanh"),
    (lambda p, X: _two_steps(p, X, np.tanh, np.tanh),
     "the output layer uses tanh; the output activation is the sigmoid"),
    (lambda p, X: _two_steps(p, X, np.tanh, lambda z: z),
     "the output is Z2 itself: the sigmoid of the output layer is missing"),
    (lambda p, X: _two_steps(dict(p, b1=0 * p["b1"], b2=0 * p["b2"]), X, np.tanh, _sigmoid),
     "the biases b1 and b2 are not added (Z = W·A + b)"),
)


def _two_steps(p, X, hidden, output) -> dict[str, np.ndarray]:
    Z1 = p["W1"] @ X + p["b1"]
    A1 = hidden(Z1)
    Z2 = p["W2"] @ A1 + p["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": output(Z2)}


def _build_forward(case, lay, spec, options):
    _two_layers(case)
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    q = {"X": lay.data(X), "parameters": lay.params(params), "A2": lay.data(AL),
         "cache": _planar_cache(lay, cache)}
    context = _network_context(case, net, params, cache, X, Y)
    context["slips"] = [({k: lay.data(v) for k, v in slip(params, X).items()}, text)
                        for slip, text in _FORWARD_SLIPS]
    return Built(q, context)


def diagnose_forward(key: str, got: np.ndarray | None, expected: object,
                     built: Built) -> Finding | None:
    """A forward output (``A2`` or a cache entry) matched against the forward passes with one
    classic slip (another activation, a missing sigmoid or bias)."""
    for values, text in built.context.get("slips", ()):
        value = values.get(key)
        if got is not None and value is not None and got.shape == value.shape \
                and not np.allclose(value, expected) and np.allclose(got, value, rtol=1e-6,
                                                                      atol=1e-12):
            return Finding((key,), "forward", text)
    return None


register(Computation(
    "planar_forward",
    "Z1 = W1 X + b1, A1 = tanh(Z1), Z2 = W2 A1 + b2, A2 = σ(Z2); cache = {'Z1', 'A1', 'Z2', "
    "'A2'} (a dict).",
    "network",
    inputs={"X": "inputs (n_x, m)", "parameters": "{'W1', 'b1', 'W2', 'b2'}"},
    outputs={"A2": "the output activations (n_y, m)", "cache": "{'Z1', 'A1', 'Z2', 'A2'}"},
    kinds={"cache": "dict"},
    build=_build_forward, diagnose_leaf=diagnose_forward,
))


def _build_cost(case, lay, spec, options):
    _two_layers(case)
    built = COMPUTATIONS["cost"].build(case, lay, spec, options)   # the deep network's cost
    q = built.quantities
    q["A2"] = q.pop("AL")
    q["parameters"] = lay.params(built.context["params"])
    q["cost_any"] = q["cost"]
    return built


register(Computation(
    "planar_cost",
    "J = −(1/m) Σ [Y log A2 + (1 − Y) log(1 − A2)], a Python float (cost) or any scalar "
    "(cost_any, the notebooks up to v6c).",
    "network",
    inputs={"A2": "output activations", "Y": "labels",
            "parameters": "{'W1', 'b1', 'W2', 'b2'} (unused: the v6c signature)"},
    outputs={"cost": "the cross-entropy cost, a Python float",
             "cost_any": "the same cost, any scalar (float, 0-d or (1, 1) array)"},
    kinds={"cost": "float", "cost_any": "scalar"},
    build=_build_cost,
))


# --------------------------------------------------------------------------- backward
def _build_backward(case, lay, spec, options):
    _two_layers(case)
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    grads = net.backward(params, cache, Y)
    q = {"parameters": lay.params(params), "cache": _planar_cache(lay, cache), "X": lay.data(X),
         "Y": lay.data(Y),
         "grads": lay.params({k: grads[k] for k in ("dW1", "db1", "dW2", "db2")})}
    return Built(q, _network_context(case, net, params, cache, X, Y))


register(Computation(
    "planar_backward",
    "From the forward cache: dZ2 = A2 − Y, dW2 = (1/m) dZ2 A1ᵀ, db2 = (1/m) Σ dZ2, "
    "dZ1 = W2ᵀ dZ2 ⊙ (1 − A1²), dW1 = (1/m) dZ1 Xᵀ, db1 = (1/m) Σ dZ1.",
    "network",
    inputs={"parameters": "{'W1', 'b1', 'W2', 'b2'}", "cache": "{'Z1', 'A1', 'Z2', 'A2'}",
            "X": "inputs", "Y": "labels"},
    outputs={"grads": "{'dW1', 'db1', 'dW2', 'db2'}"},
    kinds={"grads": "dict"},
    build=_build_backward,
))


# --------------------------------------------------------------------------- nn_model
def _initial(seed: int, n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    W1, W2 = seeded_draws(seed, [(n_h, n_x), (n_y, n_h)])
    return {"W1": W1 * INIT_SCALE, "b1": np.zeros((n_h, 1)), "W2": W2 * INIT_SCALE,
            "b2": np.zeros((n_y, 1))}


def train(net, params: dict, X: np.ndarray, Y: np.ndarray, iterations: int,
          learning_rate: float = LEARNING_RATE) -> dict[str, np.ndarray]:
    """``iterations`` steps of gradient descent on the reference's gradients."""
    for _ in range(iterations):
        _, grads = net.gradients(params, X, Y, intermediates=False)
        params = {k: params[k] - learning_rate * grads["d" + k] for k in params}
    return params


def _build_nn_model(case, lay, spec, options):
    n_x, n_h, n_y = _two_layers(case)
    rng, X, Y = _data(case)
    iterations = int(rng.integers(2, 9))
    net = spec.network([n_x, n_h, n_y])
    runs = {}
    for name, seed, its in (("parameters", NN_MODEL_SEED, iterations),
                            ("parameters_v6c", INIT_SEED, iterations),
                            ("untrained", NN_MODEL_SEED, 0),
                            ("one fewer", NN_MODEL_SEED, iterations - 1),
                            ("one more", NN_MODEL_SEED, iterations + 1)):
        runs[name] = train(net, _initial(seed, n_x, n_h, n_y), X, Y, its)
    q = {"X": lay.data(X), "Y": lay.data(Y), "n_h": n_h, "num_iterations": iterations,
         "print_cost": False, "parameters": lay.params(runs["parameters"]),
         "parameters_v6c": lay.params(runs["parameters_v6c"])}
    context = _network_context(case, net, runs["parameters"], None, X, Y)
    context["runs"] = {k: lay.params(v) for k, v in runs.items()}
    context["iterations"] = iterations
    return Built(q, context)


def diagnose_nn_model(key: str, got: np.ndarray | None, expected: object,
                      built: Built) -> Finding | None:
    """nn_model's parameter ``key`` matched against the same training with a known slip."""
    runs = built.context.get("runs")
    if got is None or not runs:
        return None
    its = built.context["iterations"]
    texts = {
        "untrained": "the parameters nn_model returns are the initial ones: the loop never "
                     "updates them (is the result of update_parameters assigned back to "
                     "parameters?)",
        "one fewer": f"the parameters are those after {its - 1} steps, not num_iterations = "
                     f"{its}: the loop runs one step too few",
        "one more": f"the parameters are those after {its + 1} steps, not num_iterations = "
                    f"{its}: the loop runs one step too many",
    }
    for name, text in texts.items():
        value = runs[name].get(key)
        if value is not None and got.shape == value.shape and np.allclose(
                got, value, rtol=1e-6, atol=1e-12 * max(1.0, float(np.max(np.abs(value))))):
            return Finding((key,), "training", text)
    return Finding((key,), "training", (
        "the trained parameters differ from np.random.seed(3), initialize_parameters(n_x, n_h, "
        "n_y), then num_iterations steps of forward_propagation, compute_cost, "
        "backward_propagation and update_parameters (learning rate 1.2); nn_model calls your own "
        "functions, so check those first"))


register(Computation(
    "planar_nn_model",
    "The trained parameters: np.random.seed(3), W = np.random.randn(...) × 0.01 (W1 then W2), "
    "b = 0, then num_iterations steps of gradient descent with learning rate 1.2 "
    "(parameters_v6c: the same from the draw of np.random.seed(2)).",
    "network",
    inputs={"X": "inputs", "Y": "labels", "n_h": "hidden units",
            "num_iterations": "a small number of iterations", "print_cost": "False"},
    outputs={"parameters": "{'W1', 'b1', 'W2', 'b2'} after training (2021+)",
             "parameters_v6c": "the same, trained from the draw of np.random.seed(2) (up to v6c)"},
    kinds={"parameters": "dict", "parameters_v6c": "dict"},
    build=_build_nn_model, diagnose_leaf=diagnose_nn_model,
))


# --------------------------------------------------------------------------- predict
def _build_predict(case, lay, spec, options):
    _two_layers(case)
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    if case.variant:
        # A2 exactly 0.5 on the last example: X[:, -1] = 0 with b1 = b2 = 0 gives Z1 = 0,
        # A1 = tanh(0) = 0, Z2 = 0 and σ(0) = 0.5 exactly, in any order of operations
        params = dict(params, b1=np.zeros_like(params["b1"]), b2=np.zeros_like(params["b2"]))
        X = X.copy()
        X[:, -1] = 0.0
        AL, cache = net.forward(params, X)
    q = {"parameters": lay.params(params), "X": lay.data(X),
         "predictions": lay.data(AL) > 0.5}
    context = _network_context(case, net, params, cache, X, Y)
    context["A2"] = lay.data(AL)
    return Built(q, context)


def diagnose_predictions(key: str, got: np.ndarray | None, expected: object,
                         built: Built) -> Finding | None:
    """Predictions compared with the thresholds students write instead of ``A2 > 0.5``."""
    A2 = built.context.get("A2")
    if got is None or A2 is None or got.shape != A2.shape:
        return None
    candidates = (
        (A2 >= 0.5, "predictions differ only where A2 is exactly 0.5: A2 >= 0.5 counts it as "
                    "class 1; the prediction is A2 > 0.5"),
        (A2 < 0.5, "predictions are inverted: 1 where A2 < 0.5; the prediction is A2 > 0.5"),
        (A2, "predictions are the probabilities A2 themselves; threshold them: A2 > 0.5"),
    )
    for value, text in candidates:
        if np.allclose(got, np.asarray(value, dtype=np.float64), rtol=1e-9, atol=1e-12):
            return Finding((key,), "threshold", text)
    return None


register(Computation(
    "planar_predict",
    "predictions = A2 > 0.5 from the forward pass (a bool array (1, m)).",
    "network",
    inputs={"parameters": "{'W1', 'b1', 'W2', 'b2'}", "X": "inputs"},
    outputs={"predictions": "A2 > 0.5"},
    kinds={"predictions": "bool"},
    variant="boundary", variants=(False, True),
    build=_build_predict, diagnose_leaf=diagnose_predictions,
))
