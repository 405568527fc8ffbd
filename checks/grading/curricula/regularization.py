r"""Computations of the built-in ``regularization`` assignment (L2 and dropout, three layers).

The course's network is LINEAR→RELU→LINEAR→RELU→LINEAR→SIGMOID with the binary cross-entropy;
its forward cache is the 12-tuple ``(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)``, and
with dropout the 14-tuple ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)`` whose
``A1``, ``A2`` are stored after masking and scaling. Every expected value comes from
:class:`gradref.reference.Network` (``l2=λ``, ``dropout=keep_prob`` with the masks fixed); the
adapters here only re-arrange it into the course's tuples and keys:

* the course's ``dA1``, ``dA2`` in the dropout backward are *after* the backward mask,
  :math:`dA_l = (W_{l+1}^\top dZ_{l+1}) \odot D_l / p`, where the reference's ``dA{l}`` is the
  gradient with respect to the dropped-out :math:`A_l` (before that mask);
* the forward's masks are the course's own stream: ``np.random.seed(1)``, then
  :math:`D_l = [\,\texttt{rand}(n_l, m) < p\,]` for l = 1, 2 in order (the legacy global
  generator, i.e. ``np.random.RandomState(1)``).

Each computation also replays the assignment's classic mistakes on the case (L2 on the biases,
λ/m in the cost, the mask not rescaled, the mask on the wrong layer, the mask forgotten in the
backward …) for :mod:`gradref.checks.diagnosis.mistakes`: a wrong answer that is one of them is
named in the student's words. The replays are the reference's arrays rescaled or recombined,
never a second backprop.
"""

from __future__ import annotations

import itertools

import numpy as np
from gradref.checks.diagnosis.mistakes import Mistake
from gradref.reference import Network

from ..computations import Built, Computation, _network_inputs, register

__all__ = ["COURSE_SEED", "GRAD_KEYS", "course_masks"]

#: The seed the course's ``forward_propagation_with_dropout`` sets itself.
COURSE_SEED = 1
#: The keys of the course's gradient dict, in its order.
GRAD_KEYS = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")


def course_masks(dims, m: int, keep_prob: float, sampler: str = "rand",
                 layers: tuple[int, ...] = (1, 2), compare: str = "<") -> dict[str, np.ndarray]:
    """The masks of ``np.random.seed(1)`` then one draw per layer in ``layers`` (shape
    (n_l, m)): ``D = sampler(n_l, m) < keep_prob`` (``compare=">"``: the inverted test)."""
    rs = np.random.RandomState(COURSE_SEED)
    draw = rs.rand if sampler == "rand" else rs.randn
    out = {}
    for l in layers:
        u = draw(dims[l], m)
        out[f"D{l}"] = (u < keep_prob) if compare == "<" else (u > keep_prob)
    return out


def _spec_net(dims, l2: float = 0.0, dropout=None) -> Network:
    return Network(list(dims), ["relu", "relu", "sigmoid"], "bce", l2, dropout=dropout)


def _tuple12(params, X, cache):
    return tuple(a for l in (1, 2, 3) for a in (cache[f"Z{l}"], cache[f"A{l}"],
                                                 params[f"W{l}"], params[f"b{l}"]))


def _tuple14(params, cache, masks):
    out = []
    for l in (1, 2, 3):
        out.append(cache[f"Z{l}"])
        if l < 3:
            out.append(np.asarray(masks[f"D{l}"], dtype=np.float64))
        out += [cache[f"A{l}"], params[f"W{l}"], params[f"b{l}"]]
    return tuple(out)


def _inputs(case, spec):
    dims = case.layer_dims
    if len(dims) != 4:
        raise ValueError(f"the regularization computations need 3 layers (depth = [3, 3]), got "
                         f"layer_dims {list(dims)}")
    return _network_inputs(case, spec)


def _context(case, net, params, cache, X, Y, mistakes):
    return {"m": case.m, "net": net, "params": params, "cache": cache, "X": X, "Y": Y,
            "mistakes": mistakes}


def _course_grads(grads) -> dict[str, np.ndarray]:
    return {k: np.array(grads[k], dtype=np.float64) for k in GRAD_KEYS}


# --------------------------------------------------------------------------- L2: cost
def _build_cost(case, lay, spec, options):
    lambd = float(case.variant)
    net0, params, X, Y, _, AL, cache = _inputs(case, spec)
    m = case.m
    J = _spec_net(case.layer_dims, l2=lambd).cost(params, X, Y)
    cross = _spec_net(case.layer_dims).cost(params, X, Y)
    sq_w = sum(float(np.sum(params[f"W{l}"] ** 2)) for l in (1, 2, 3))
    sq_b = sum(float(np.sum(params[f"b{l}"] ** 2)) for l in (1, 2, 3))
    term = lambd / (2 * m) * sq_w
    mistakes = [
        Mistake("cost has lambd/m where the course has lambd/(2m): the L2 term "
                "(lambd/(2m))·(ΣW1² + ΣW2² + ΣW3²) is counted twice", {"cost": cross + 2 * term}),
        Mistake("cost puts the biases in the L2 term: only W1, W2, W3 are regularised, "
                "never b1, b2, b3", {"cost": J + lambd / (2 * m) * sq_b}),
        Mistake("cost has no L2 term: it is compute_cost(A3, Y) alone; add "
                "(lambd/(2m))·(ΣW1² + ΣW2² + ΣW3²)", {"cost": cross}),
        Mistake("cost's L2 term lacks the 1/m: it must be (lambd/(2m))·ΣW², not (lambd/2)·ΣW²",
                {"cost": cross + term * m}),
        Mistake("cost's L2 term lacks the 1/2 and the 1/m: lambd·ΣW² instead of "
                "(lambd/(2m))·ΣW²", {"cost": cross + term * 2 * m}),
        Mistake("cost squares the sum of the weights, (ΣW)², instead of summing their squares, "
                "Σ(W²) (np.sum(np.square(W)))",
                {"cost": cross + lambd / (2 * m) * sum(float(np.sum(params[f"W{l}"])) ** 2
                                                         for l in (1, 2, 3))}),
    ]
    sq = [float(np.sum(params[f"W{l}"] ** 2)) for l in (1, 2, 3)]
    for counts in itertools.product(range(4), repeat=3):   # the wrong matrices in the sum
        if counts != (1, 1, 1) and any(counts):
            said = ", ".join(f"ΣW{l}² {c} time{'s' * (c != 1)}" for l, c in
                             zip((1, 2, 3), counts, strict=True))
            mistakes.append(Mistake(
                f"cost's L2 term sums the wrong weight matrices: {said}, where it needs each "
                f"of ΣW1², ΣW2², ΣW3² once",
                {"cost": cross + lambd / (2 * m) * float(np.dot(counts, sq))}))
    q = {"A3": lay.data(AL), "Y": lay.data(Y), "parameters": lay.params(params),
         "lambd": lambd, "cost": float(J)}
    return Built(q, _context(case, net0, params, cache, X, Y, mistakes))


register(Computation(
    "cost_with_regularization",
    "compute_cost(A3, Y) + (lambd/(2m))·(ΣW1² + ΣW2² + ΣW3²) for the three-layer network: the "
    "mean cross-entropy plus the L2 term of the weights only (no biases).",
    "network",
    inputs={"A3": "output activations (1, m)", "Y": "labels (1, m)",
            "parameters": "{'W1', 'b1', 'W2', 'b2', 'W3', 'b3'}",
            "lambd": "the L2 strength (the variant)"},
    outputs={"cost": "the regularised cost (scalar)"},
    kinds={"cost": "scalar"},
    variant="lambd", variants=(0.1, 0.7),
    build=_build_cost,
))


# --------------------------------------------------------------------------- L2: backward
def _build_backward_l2(case, lay, spec, options):
    lambd = float(case.variant)
    net0, params, X, Y, _, AL, cache = _inputs(case, spec)
    m = case.m
    grads = _course_grads(_spec_net(case.layer_dims, l2=lambd).backward(params, cache, Y))
    plain = _course_grads(net0.backward(params, cache, Y))

    forms = [
        (0.0, 0.0, "the L2 term is missing from dW{l}: it needs + (lambd/m)·W{l}"),
        (lambd / (2 * m), 0.0, "dW{l} adds (lambd/(2m))·W{l}: the derivative of "
                               "(lambd/(2m))·ΣW{l}² is (lambd/m)·W{l}"),
        (lambd, 0.0, "dW{l} adds lambd·W{l}: the L2 term's gradient is (lambd/m)·W{l} (the 1/m "
                     "is missing)"),
        (2 * lambd / m, 0.0, "dW{l} adds (2·lambd/m)·W{l}: the derivative of (lambd/(2m))·ΣW{l}² "
                             "is (lambd/m)·W{l}"),
        (lambd / m, lambd / m, "db{l} carries an L2 term (lambd/m)·b{l}: the biases are not "
                               "regularised, so db{l} has no L2 term"),
    ]
    mistakes = []
    for factor, bias_factor, text in forms:      # per layer: a mistake made in one layer only
        for l in (3, 2, 1):
            values = {f"dW{l}": plain[f"dW{l}"] + factor * params[f"W{l}"]}
            if bias_factor:
                values = {f"db{l}": plain[f"db{l}"] + bias_factor * params[f"b{l}"]}
            mistakes.append(Mistake(text.format(l=l), values))
    q = {"X": lay.data(X), "Y": lay.data(Y), "cache": _tuple12(params, X, cache), "lambd": lambd,
         "gradients": lay.params(grads)}
    return Built(q, _context(case, net0, params, cache, X, Y, mistakes))


register(Computation(
    "backward_with_regularization",
    "The three-layer backward with L2 from the 12-tuple cache: the course's 11 keys dZ3, dW3, "
    "db3, dA2, dZ2, dW2, db2, dA1, dZ1, dW1, db1, with dW_l = (1/m)·dZ_l·A_{l-1}ᵀ + "
    "(lambd/m)·W_l and db_l without an L2 term.",
    "network",
    inputs={"X": "inputs (n_x, m)", "Y": "labels (1, m)",
            "cache": "(Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3)",
            "lambd": "the L2 strength (the variant)"},
    outputs={"gradients": "{'dZ3', 'dW3', 'db3', 'dA2', 'dZ2', 'dW2', 'db2', 'dA1', 'dZ1', "
                          "'dW1', 'db1'}"},
    kinds={"gradients": "dict"},
    variant="lambd", variants=(0.7, 0.1),
    build=_build_backward_l2,
))


# --------------------------------------------------------------------------- dropout: forward
def _dropout_forward(dims, params, X, keep_prob, masks, layers=(1, 2)):
    """A3 and the cache of the reference with dropout on ``layers`` and the given masks."""
    probs = [keep_prob if l in layers else None for l in (1, 2)]
    net = _spec_net(dims, dropout=probs)
    return net.forward(params, X, masks={k: v for k, v in masks.items()
                                         if int(k[1:]) in layers})


def _build_forward_dropout(case, lay, spec, options):
    keep_prob = float(case.variant)
    dims, m = case.layer_dims, case.m
    net0, params, X, Y, _, _, _ = _inputs(case, spec)
    masks = course_masks(dims, m, keep_prob)
    A3, cache = _dropout_forward(dims, params, X, keep_prob, masks)
    mistakes = []

    def add(message, value):
        if not np.allclose(value, A3, rtol=1e-6, atol=1e-9):
            mistakes.append(Mistake(message, {"A3": value}))

    # A * D without / keep_prob: the reference's A * D / p feeding weights p * W is the same
    shrunk = dict(params, W2=params["W2"] * keep_prob, W3=params["W3"] * keep_prob)
    unscaled, _ = _dropout_forward(dims, shrunk, X, keep_prob, masks)
    add("A3 matches dropout without the rescaling: after A = A * D, divide by keep_prob "
        "(A = A / keep_prob, inverted dropout) so the expected activations are unchanged",
        unscaled)
    only1, _ = _dropout_forward(dims, params, X, keep_prob, masks, layers=(1,))
    add("A3 matches dropout on layer 1 only: A2 must be masked with D2 and divided by "
        "keep_prob too", only1)
    only2, _ = _dropout_forward(dims, params, X, keep_prob,
                                {"D2": course_masks(dims, m, keep_prob, layers=(2,))["D2"]},
                                layers=(2,))
    add("A3 matches dropout on layer 2 only: A1 must be masked with D1 and divided by "
        "keep_prob too", only2)
    out_masks = course_masks((dims[0], dims[1], dims[3]), m, keep_prob)
    hidden1, _ = _dropout_forward(dims, params, X, keep_prob, {"D1": out_masks["D1"]},
                                  layers=(1,))
    add("A3 matches the mask on the wrong layer: dropout on A1 and on the output A3 instead "
        "of A1 and A2 (the output layer gets no dropout)",
        hidden1 * out_masks["D2"] / keep_prob)
    add("A3 matches masks drawn with np.random.randn: the course draws "
        "D = np.random.rand(A.shape[0], A.shape[1]) (uniform on [0, 1)) then D < keep_prob",
        _dropout_forward(dims, params, X, keep_prob,
                         course_masks(dims, m, keep_prob, sampler="randn"))[0])
    add("A3 matches masks D = (rand > keep_prob): a unit is kept when rand < keep_prob",
        _dropout_forward(dims, params, X, keep_prob,
                         course_masks(dims, m, keep_prob, compare=">"))[0])
    add("A3 matches no dropout at all: mask A1 and A2 with D1, D2 and divide by keep_prob",
        net0.forward(params, X)[0])
    for l in (1, 2, 3):
        without = dict(params, **{f"b{l}": np.zeros_like(params[f"b{l}"])})
        add(f"A3 matches Z{l} without its bias: Z{l} = np.dot(W{l}, A{l - 1}) + b{l}".replace(
            "A0", "X"), _dropout_forward(dims, without, X, keep_prob, masks)[0])
    q = {"X": lay.data(X), "parameters": lay.params(params), "keep_prob": keep_prob,
         "A3": lay.data(A3), "cache": _tuple14(params, cache, masks)}
    return Built(q, _context(case, net0, params, cache, X, Y, mistakes))


register(Computation(
    "forward_with_dropout",
    "The three-layer forward with inverted dropout on A1 and A2: np.random.seed(1), then per "
    "hidden layer D = np.random.rand(n_l, m) < keep_prob, A = A * D / keep_prob; no dropout on "
    "the output. Returns A3 and the 14-tuple (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, "
    "W3, b3) (D bool or 0/1, A1 and A2 after masking and scaling).",
    "network",
    inputs={"X": "inputs (n_x, m)", "parameters": "{'W1', 'b1', 'W2', 'b2', 'W3', 'b3'}",
            "keep_prob": "the keep probability (the variant)"},
    outputs={"A3": "output activations (1, m)",
             "cache": "(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)"},
    kinds={"cache": "cache"},
    variant="keep_prob", variants=(0.7, 0.86),
    build=_build_forward_dropout,
))


# --------------------------------------------------------------------------- dropout: backward
def _build_backward_dropout(case, lay, spec, options):
    mask_type = str(case.variant)
    probs = options.get("keep_prob", (0.8, 0.86))
    probs = [probs] if isinstance(probs, (int, float)) else list(probs)
    keep_prob = float(probs[case.draw % len(probs)])     # cycled over the cases
    dims, m = case.layer_dims, case.m
    net0, params, X, Y, _, _, _ = _inputs(case, spec)
    masks = case_masks(case, dims, m, keep_prob)
    net = _spec_net(dims, dropout=keep_prob)
    _, cache = net.forward(params, X, masks=masks)
    ref = net.backward(params, cache, Y)
    D1, D2 = (masks["D1"].astype(np.float64), masks["D2"].astype(np.float64))
    grads = _course_grads(ref)
    grads["dA2"] = ref["dA2"] * D2 / keep_prob
    grads["dA1"] = ref["dA1"] * D1 / keep_prob

    def replay(s2, s1, mask2=True, mask1=True):
        """The backward with dA2 = W3ᵀdZ3·[D2]·s2 and dA1 = W2ᵀdZ2·[D1]·s1 (the course's
        relu' from A_l > 0 already holds the forward's mask, so dZ only scales)."""
        k2, k1 = s2 * keep_prob, s1 * keep_prob
        out = dict(grads)
        out["dA2"] = ref["dA2"] * (D2 if mask2 else 1.0) * s2
        for key in ("dZ2", "dW2", "db2"):
            out[key] = grads[key] * k2
        out["dA1"] = ref["dA1"] * k2 * (D1 if mask1 else 1.0) * s1
        for key in ("dZ1", "dW1", "db1"):
            out[key] = grads[key] * k2 * k1
        return out

    p = keep_prob
    mistakes = [
        Mistake("dA2 and dA1 lack the division by keep_prob: after dA = dA * D, divide by "
                "keep_prob as the forward did (dA = dA / keep_prob)", replay(1.0, 1.0)),
        Mistake("dA2 and dA1 are not masked: multiply each by the mask of its layer from the "
                "cache (dA2 = dA2 * D2, dA1 = dA1 * D1) before dividing by keep_prob",
                replay(1 / p, 1 / p, False, False)),
        Mistake("dA2 is not masked: multiply it by D2 from the cache before dividing by "
                "keep_prob", replay(1 / p, 1 / p, False, True)),
        Mistake("dA1 is not masked: multiply it by D1 from the cache before dividing by "
                "keep_prob", replay(1 / p, 1 / p, True, False)),
        Mistake("dA2 and dA1 are multiplied by keep_prob where they must be divided by it",
                replay(p, p)),
        Mistake("dA2 lacks the division by keep_prob (dA1 has it)", replay(1.0, 1 / p)),
        Mistake("dA1 lacks the division by keep_prob (dA2 has it)", replay(1 / p, 1.0)),
    ]
    cast = (lambda D: D) if mask_type == "bool" else (lambda D: D.astype(np.int64))
    course_cache = list(_tuple14(params, cache, masks))
    course_cache[1], course_cache[6] = cast(masks["D1"]), cast(masks["D2"])
    q = {"X": lay.data(X), "Y": lay.data(Y), "cache": tuple(course_cache),
         "keep_prob": keep_prob, "mask_type": mask_type, "gradients": lay.params(grads)}
    return Built(q, _context(case, net0, params, cache, X, Y, mistakes))


def case_masks(case, dims, m, keep_prob) -> dict[str, np.ndarray]:
    """Bool keep masks for a backward case, drawn from the case's own generator (at least one
    unit dropped per layer when there are enough units, so a forgotten mask shows)."""
    rng = np.random.default_rng([case.seed, case.salt, case.draw, 0xD0])
    out = {}
    for l in (1, 2):
        D = rng.random((dims[l], m)) < keep_prob
        if D.all() and D.size > 1:
            D.flat[int(rng.integers(D.size))] = False
        out[f"D{l}"] = D
    return out


register(Computation(
    "backward_with_dropout",
    "The three-layer backward with inverted dropout from the 14-tuple cache (masks bool or 0/1, "
    "the variant): dA2 = W3ᵀdZ3 * D2 / keep_prob, dA1 = W2ᵀdZ2 * D1 / keep_prob, then the usual "
    "steps; the course's 11 keys. keep_prob is option keep_prob (0.8 and 0.86, the course's "
    "test and model, cycled over the cases).",
    "network",
    inputs={"X": "inputs (n_x, m)", "Y": "labels (1, m)",
            "cache": "(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)",
            "keep_prob": "options.keep_prob: one value or a list cycled over the cases "
                         "((0.8, 0.86): the course's test and model)",
            "mask_type": "bool or int (the variant)"},
    outputs={"gradients": "{'dZ3', 'dW3', 'db3', 'dA2', 'dZ2', 'dW2', 'db2', 'dA1', 'dZ1', "
                          "'dW1', 'db1'}"},
    kinds={"gradients": "dict"},
    variant="mask_type", variants=("bool", "int"),
    options={"keep_prob": (0.8, 0.86)},
    build=_build_backward_dropout,
))
