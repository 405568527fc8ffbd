r"""The reference computations that graded functions map to: one registry, :data:`COMPUTATIONS`.

A computation turns a generated :class:`~gradref.checks.grading.cases.Case` (layer sizes, batch size m,
a variant such as the activation, and a seed) into *quantities*: the inputs a student's function
receives and the outputs it must return, both already in the assignment's layout. Every expected
value comes from :class:`gradref.reference.Network` and the activation and loss registries; nothing here
restates backpropagation. Three small adapters make the reference answer the per-layer questions
an assignment asks:

* **upstream injection** - the gradients of one layer given an upstream ``dA`` are those of a
  one-layer network with the half-square loss and target ``Y = A - dA``, since then
  :math:`\partial\ell/\partial A = A - Y = dA`; with the linear activation this gives
  ``linear_backward`` from ``dZ``;
* **summed convention** (``affine_backward``): the upstream ``dout`` already carries the
  :math:`1/N`, so the per-example gradient is :math:`N\cdot dout` and ``dx`` is
  :math:`dA_{prev}/N`;
* **L2 convention** (``fc_net_loss``): a loss :math:`\tfrac12\,reg\sum\lVert W\rVert^2` (no
  :math:`1/N`) is the reference's :math:`\tfrac{\lambda}{2N}\sum\lVert W\rVert^2` with
  :math:`\lambda = reg\cdot N`.

Layouts: the reference is column-major (``X`` (n_0, m), ``W_l`` (n_l, n_{l-1}), ``b_l``
(n_l, 1)); :class:`Layout` converts to row-major (``x`` (N, D), ``w`` (D, M)) and to row or flat
biases. An assignment names a computation in ``maps_to``; ``args`` pick from its inputs and
``returns`` from its outputs (see ``docs/assignments.md`` for the list).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from gradref.reference import Network, get_activation, get_loss

from .tolerances import CASE_MIN_ABS_Z, CASE_OUTPUT_RANGE, INIT_STD_MAX, INIT_STD_MIN

__all__ = ["COMPUTATIONS", "Computation", "Layout", "NetworkSpec", "RandomWeights", "Judged", "Built",
           "computation_names", "get_computation", "register", "LEVELS", "OUTPUT_KINDS"]

#: How a computation reads a case's ``layer_dims``: ``layer`` = (n_prev, n), ``array`` = (n,),
#: ``network`` = (n_0, …, n_L).
LEVELS = ("layer", "array", "network")
#: Output kinds: arrays and scalars are compared leaf by leaf, dicts key by key, caches as a whole;
#: a ``float`` is a scalar whose dtype check asks for a Python float, a ``bool`` an array of
#: truth values (True/False or 0/1 compare as 1/0; its dtype check asks for bool).
OUTPUT_KINDS = ("array", "scalar", "float", "bool", "dict", "cache")

_RESAMPLE_ATTEMPTS = 60


# --------------------------------------------------------------------------- layouts
class Layout:
    """Canonical (column-major) arrays to an assignment's layout and bias form.

    ``layout`` is "columns" or "rows"; ``bias`` is "column" (n, 1), "row" (1, n) or "flat" (n,).
    """

    def __init__(self, layout: str = "columns", bias: str = "column") -> None:
        if layout not in ("columns", "rows"):
            raise ValueError(f"layout must be 'columns' or 'rows', got {layout!r}")
        if bias not in ("column", "row", "flat"):
            raise ValueError(f"bias must be 'column', 'row' or 'flat', got {bias!r}")
        self.layout, self.bias_form = layout, bias

    @property
    def rows(self) -> bool:
        return self.layout == "rows"

    def data(self, a: np.ndarray) -> np.ndarray:
        """Activations, inputs and their gradients: (n, m) or (m, n)."""
        return np.array(a.T if self.rows else a, dtype=np.float64, copy=True)

    def weight(self, w: np.ndarray) -> np.ndarray:
        return np.array(w.T if self.rows else w, dtype=np.float64, copy=True)

    def weight_shape(self, n_out: int, n_in: int) -> tuple[int, int]:
        return (n_in, n_out) if self.rows else (n_out, n_in)

    def bias(self, b: np.ndarray) -> np.ndarray:
        col = np.asarray(b, dtype=np.float64).reshape(-1, 1)
        return {"column": col, "row": col.T, "flat": col.ravel()}[self.bias_form].copy()

    def bias_shape(self, n: int) -> tuple[int, ...]:
        return {"column": (n, 1), "row": (1, n), "flat": (n,)}[self.bias_form]

    def params(self, d: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Parameters or gradients: ``W*``/``dW*`` as weights, ``b*``/``db*`` as biases, the
        rest (``dA*``) as data."""
        out = {}
        for key, value in d.items():
            name = key[1:] if key[:2] in ("dW", "db") else key
            if name[:1] == "W":
                out[key] = self.weight(value)
            elif name[:1] == "b":
                out[key] = self.bias(value)
            else:
                out[key] = self.data(value)
        return out

    def linear_cache(self, A_prev, W, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (self.data(A_prev), self.weight(W), self.bias(b))


@dataclass(frozen=True)
class NetworkSpec:
    """The assignment's network: hidden activation, output activation, loss."""

    hidden: str = "relu"
    output: str = "sigmoid"
    loss: str = "bce"

    def network(self, layer_dims, l2: float = 0.0) -> Network:
        L = len(layer_dims) - 1
        return Network(list(layer_dims), [self.hidden] * (L - 1) + [self.output], self.loss, l2)


@dataclass(frozen=True)
class RandomWeights:
    """Expected value of a randomly initialised weight: only its shape and scale are known.

    With ``target`` the draw must have that standard deviation, within the relative ``band``,
    and a mean near zero (``scale_text`` says what the target is, ``wrong_scales`` pairs other
    standard deviations with the mistake each names); ``exact`` (the seeded draw) passes too."""

    shape: tuple[int, ...]
    std_min: float = INIT_STD_MIN
    std_max: float = INIT_STD_MAX
    target: float | None = None
    band: float = 0.1
    scale_text: str = ""
    wrong_scales: tuple[tuple[float, str], ...] = ()
    exact: np.ndarray | None = field(default=None, compare=False)


class Judged:
    """An expected value that judges a student's answer itself, where no single array is right
    (a dropout output: any mask of the right distribution). ``shape`` is the expected shape;
    :meth:`problem` returns what is wrong (None: it passes); :meth:`accepted` may name a
    convention the answer used, ``(name, note)``, reported as "Accepted: …" (like ``accept``)."""

    shape: tuple[int, ...] = ()

    def problem(self, label: str, got: np.ndarray) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def accepted(self, got: np.ndarray) -> tuple[str, str] | None:
        return None


@dataclass
class Built:
    """What a computation produces for one case: named quantities, and a context for diagnosis
    (``m``, ``net``, ``params``, ``cache``, ``X``, ``Y``; canonical layout; any may be None)."""

    quantities: dict[str, object]
    context: dict[str, object] = field(default_factory=dict)
    #: a stepped computation's later steps: ``later(k)`` is the Built of step k (0 is this one)
    #: along the reference's trajectory (see ``Computation.stepped``)
    later: Callable[[int], Built] | None = None


@dataclass(frozen=True)
class Computation:
    """One entry of the registry.

    ``inputs`` and ``outputs`` map quantity names to a short description; ``kinds`` gives each
    output's kind (:data:`OUTPUT_KINDS`, default "array"). ``variant`` names the quantity that
    cycles over ``variants`` from case to case (e.g. the activation); ``options`` are the
    declaration's ``options`` keys the computation accepts, with their defaults.

    ``stepped``: a case is a trajectory of steps (an optimiser's), :attr:`Built.later` gives each
    step's quantities; a declaration's ``steps`` key calls the function on them in turn, feeding
    the student's outputs into the next call. ``diagnose(inputs, outputs, expected)``: the
    computation's own diagnosis of a failing step (the quantities the student's function got,
    its outputs by name, the expected quantities) -> findings of :mod:`gradref.checks.diagnosis`.
    ``diagnose_leaf(key, got, expected, built)``: a finding naming one of the computation's own
    classic mistakes on one failing output (or None), tried before the generic diagnosis.
    """

    name: str
    doc: str
    level: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    build: Callable[..., Built]
    kinds: dict[str, str] = field(default_factory=dict)
    variant: str | None = None
    variants: tuple = ()
    options: dict[str, object] = field(default_factory=dict)
    batched: bool = True
    stepped: bool = False
    diagnose: Callable[[dict, dict, dict], list] | None = None
    #: ``diagnose_leaf(key, got, expected, built)``: a :class:`~gradref.checks.diagnosis.Finding`
    #: naming a mistake of this computation's own (tried before the generic diagnosis), or None
    diagnose_leaf: Callable[..., object] | None = None
    #: ``{option: allowed values}``: a declaration giving another value is refused when read
    option_choices: dict[str, tuple] = field(default_factory=dict)
    #: ``refine(built, forward) -> Built``: for a function declared with ``cache_from``, the
    #: expected outputs remade from what the student's own forward returned (``forward``:
    #: ``{output name: value}``), e.g. the dropout mask it drew; None keeps them.
    refine: Callable[[Built, dict], Built] | None = None
    #: ``diagnose_outputs(built, got) -> [Finding]``: the computation's own named mistakes, from
    #: the student's outputs ``{output or dict key: array}`` (tried before the generic diagnosis).
    diagnose_outputs: Callable[[Built, dict], list] | None = None

    def kind(self, output: str) -> str:
        return self.kinds.get(output, "array")


COMPUTATIONS: dict[str, Computation] = {}


def register(comp: Computation) -> Computation:
    """Add ``comp`` to :data:`COMPUTATIONS` (its name must be new); returns it."""
    if comp.name in COMPUTATIONS:
        raise ValueError(f"computation {comp.name!r} is already registered")
    if comp.level not in LEVELS:
        raise ValueError(f"computation {comp.name!r}: level must be one of {LEVELS}")
    COMPUTATIONS[comp.name] = comp
    return comp


def computation_names() -> list[str]:
    """The registered computation names, in registration order."""
    return list(COMPUTATIONS)


def get_computation(name: str) -> Computation:
    if name not in COMPUTATIONS:
        raise ValueError(f"unknown computation {name!r}; valid: {', '.join(COMPUTATIONS)}")
    return COMPUTATIONS[name]


# --------------------------------------------------------------------------- case data
def _away_from_kinks(act_name: str, Z: np.ndarray) -> bool:
    kinks = get_activation(act_name).kinks
    return all(np.min(np.abs(Z - k)) >= CASE_MIN_ABS_Z for k in kinks) if kinks else True


def _off_kinks(act_name: str, Z: np.ndarray) -> np.ndarray:
    """Per-row shifts (n, 1) of ``Z`` (n, m), each the smallest of 0, ±1.5δ, ±3δ… (δ =
    CASE_MIN_ABS_Z) that keeps the whole row at least δ from every kink (0 where none does)."""
    kinks = get_activation(act_name).kinks
    shifts = np.zeros((Z.shape[0], 1))
    if not kinks:
        return shifts
    steps = [0.0] + [sign * 1.5 * CASE_MIN_ABS_Z * t for t in range(1, 41) for sign in (1, -1)]
    for i, row in enumerate(Z):
        for step in steps:
            if all(np.min(np.abs(row + step - k)) >= CASE_MIN_ABS_Z for k in kinks):
                shifts[i, 0] = step
                break
    return shifts


def _activation_inputs(case):
    """The case's Generator and Z (n, m) away from the kinks of the case's activation."""
    (n,) = case.layer_dims
    rng = case.rng()
    for _ in range(_RESAMPLE_ATTEMPTS):
        Z = rng.standard_normal((n, case.m))
        if _away_from_kinks(case.variant, Z):
            return rng, Z
    raise RuntimeError(f"could not draw Z away from the kinks of {case.variant} for {case}")


def _layer_inputs(case, activation: str):
    """A_prev (n_prev, m), W (n, n_prev), b (n, 1) with Z = W A_prev + b away from kinks."""
    n_prev, n = case.layer_dims
    rng = case.rng()
    for _ in range(_RESAMPLE_ATTEMPTS):
        A_prev = rng.standard_normal((n_prev, case.m))
        W = rng.standard_normal((n, n_prev)) / math.sqrt(n_prev)
        b = 0.5 * rng.standard_normal((n, 1))
        if _away_from_kinks(activation, W @ A_prev + b):
            return rng, A_prev, W, b
    raise RuntimeError(f"could not draw a layer away from the kinks of {activation} for {case}")


def _network_inputs(case, spec: NetworkSpec, l2: float = 0.0):
    """A network, parameters, X and targets with hidden Z away from kinks and outputs in range."""
    dims = case.layer_dims
    net = spec.network(dims, l2)
    rng = case.rng()
    n_out, m = dims[-1], case.m
    # a draw as it comes first; when none of those is usable (a wide, deep case with large m
    # has thousands of hidden entries, one of them within CASE_MIN_ABS_Z of a kink), draws whose
    # hidden biases are nudged row by row off the kinks (:func:`_off_kinks`)
    for attempt in range(2 * _RESAMPLE_ATTEMPTS):
        params = {}
        for l in range(1, len(dims)):
            params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * math.sqrt(2.0 / dims[l - 1])
            params[f"b{l}"] = 0.3 * rng.standard_normal((dims[l], 1))
        X = rng.standard_normal((dims[0], m))
        AL, cache = net.forward(params, X)
        for l in range(1, net.L) if attempt >= _RESAMPLE_ATTEMPTS else ():
            params[f"b{l}"] = params[f"b{l}"] + _off_kinks(spec.hidden, cache[f"Z{l}"])
            AL, cache = net.forward(params, X)
        hidden_ok = all(_away_from_kinks(spec.hidden, cache[f"Z{l}"]) for l in range(1, net.L))
        out_ok = (_away_from_kinks(spec.output, cache[f"Z{net.L}"])
                  if net.activations[-1].elementwise else True)
        if spec.output == "sigmoid":
            lo, hi = CASE_OUTPUT_RANGE
            out_ok = out_ok and bool(np.all((AL > lo) & (AL < hi)))
        if hidden_ok and out_ok:
            break
    else:
        raise RuntimeError(f"could not draw a well-conditioned network for {case}")
    if net.loss.name == "cross_entropy":
        labels = rng.integers(0, n_out, size=m)
        Y = np.eye(n_out)[:, labels]
    elif net.loss.name == "bce":
        labels = None
        Y = (rng.random((n_out, m)) < 0.5).astype(np.float64)
    else:
        labels = None
        Y = rng.standard_normal((n_out, m))
    return net, params, X, Y, labels, AL, cache


def _upstream_backward(activation: str, A_prev, W, b, dA):
    """Reference gradients of one layer given the upstream dA (see the module docstring).

    Returns ``(grads, cache, net, Y)`` with ``Y = A - dA`` the half-square target."""
    net = Network([W.shape[1], W.shape[0]], [activation], "half_square")
    params = {"W1": W, "b1": b}
    A, cache = net.forward(params, A_prev)
    Y = A - dA
    return net.backward(params, cache, Y), cache, net, Y


def _layer_context(case, net, params, cache, X, Y=None):
    """Diagnosis context of a one-layer network (with the half-square target Y of the upstream
    injection when there is one: then the diagnosis can replay the layer's candidate mistakes)."""
    return {"m": case.m, "net": net, "params": params, "cache": cache, "X": X, "Y": Y}


# --------------------------------------------------------------------------- initialisation
def _build_init(case, lay: Layout, spec: NetworkSpec, options):
    dims = case.layer_dims
    seed, scale = options.get("seed"), float(options.get("scale", 0.01))
    std_min = float(options.get("std_min", INIT_STD_MIN))
    std_max = float(options.get("std_max", INIT_STD_MAX))
    rs = np.random.RandomState(seed) if seed is not None else None
    params: dict[str, object] = {}
    for l in range(1, len(dims)):
        shape = lay.weight_shape(dims[l], dims[l - 1])
        params[f"W{l}"] = (rs.randn(*shape) * scale if rs is not None
                           else RandomWeights(shape, std_min, std_max))
        params[f"b{l}"] = np.zeros(lay.bias_shape(dims[l]))
    q = {"layer_dims": [int(n) for n in dims], "input_dim": int(dims[0]),
         "hidden_dims": [int(n) for n in dims[1:-1]], "num_classes": int(dims[-1]),
         "weight_scale": scale, "parameters": params}
    return Built(q, {"m": None, "net": None, "params": None, "cache": None, "X": None, "Y": None})


register(Computation(
    "initialize_parameters",
    "Fresh parameters for layer_dims: W_l random and small (or, with option seed, exactly "
    "np.random.seed(seed) then randn(*shape) * scale per layer), b_l zeros.",
    "network",
    inputs={"layer_dims": "[n_0, …, n_L] as a list of int",
            "input_dim": "n_0", "hidden_dims": "[n_1, …, n_{L-1}]", "num_classes": "n_L",
            "weight_scale": "options.scale (default 0.01)"},
    outputs={"parameters": "{'W1', 'b1', …}: W random (shape and scale checked), b zero"},
    kinds={"parameters": "dict"},
    options={"seed": None, "scale": 0.01, "std_min": INIT_STD_MIN, "std_max": INIT_STD_MAX},
    build=_build_init, batched=False,
))


# --------------------------------------------------------------------------- forward, per layer
def _build_linear_forward(case, lay, spec, options):
    rng, A_prev, W, b = _layer_inputs(case, "linear")
    net = Network([W.shape[1], W.shape[0]], ["linear"], "half_square")
    _, cache = net.forward({"W1": W, "b1": b}, A_prev)
    q = {"A_prev": lay.data(A_prev), "W": lay.weight(W), "b": lay.bias(b),
         "Z": lay.data(cache["Z1"]), "linear_cache": lay.linear_cache(A_prev, W, b)}
    return Built(q, _layer_context(case, net, {"W1": W, "b1": b}, cache, A_prev))


register(Computation(
    "linear_forward",
    "Z = W A_prev + b (rows: out = x w + b); cache = (A_prev, W, b).",
    "layer",
    inputs={"A_prev": "activations of the previous layer", "W": "weights", "b": "biases"},
    outputs={"Z": "pre-activation", "linear_cache": "(A_prev, W, b)"},
    kinds={"linear_cache": "cache"},
    build=_build_linear_forward,
))


def _build_linear_activation_forward(case, lay, spec, options):
    act = case.variant
    rng, A_prev, W, b = _layer_inputs(case, act)
    net = Network([W.shape[1], W.shape[0]], [act], "half_square")
    _, cache = net.forward({"W1": W, "b1": b}, A_prev)
    linear_cache = lay.linear_cache(A_prev, W, b)
    Z = lay.data(cache["Z1"])
    q = {"A_prev": lay.data(A_prev), "W": lay.weight(W), "b": lay.bias(b), "activation": act,
         "A": lay.data(cache["A1"]), "Z": Z, "linear_cache": linear_cache,
         "layer_cache": (linear_cache, Z)}
    return Built(q, _layer_context(case, net, {"W1": W, "b1": b}, cache, A_prev))


register(Computation(
    "linear_activation_forward",
    "A = g(W A_prev + b) for the case's activation; cache = ((A_prev, W, b), Z).",
    "layer",
    inputs={"A_prev": "activations of the previous layer", "W": "weights", "b": "biases",
            "activation": "the activation's name (the variant)"},
    outputs={"A": "activations", "Z": "pre-activation", "linear_cache": "(A_prev, W, b)",
             "layer_cache": "((A_prev, W, b), Z)"},
    kinds={"linear_cache": "cache", "layer_cache": "cache"},
    variant="activation", variants=("sigmoid", "relu"),
    build=_build_linear_activation_forward,
))


def _build_activation_forward(case, lay, spec, options):
    act = get_activation(case.variant)
    _, Z = _activation_inputs(case)
    q = {"Z": lay.data(Z), "A": lay.data(act.value(Z)), "activation_cache": lay.data(Z),
         "activation": case.variant}
    return Built(q, {"m": case.m, "net": None, "params": None, "cache": None, "X": None, "Y": None})


register(Computation(
    "activation_forward",
    "A = g(Z) elementwise; cache = Z.",
    "array",
    inputs={"Z": "pre-activation", "activation": "the activation's name (the variant)"},
    outputs={"A": "g(Z)", "activation_cache": "Z"},
    kinds={"activation_cache": "cache"},
    variant="activation", variants=("relu",),
    build=_build_activation_forward,
))


# --------------------------------------------------------------------------- whole network
def _caches(lay: Layout, params, cache, L: int) -> list:
    out = []
    for l in range(1, L + 1):
        linear = lay.linear_cache(cache[f"A{l - 1}"], params[f"W{l}"], params[f"b{l}"])
        out.append((linear, lay.data(cache[f"Z{l}"])))
    return out


def _network_context(case, net, params, cache, X, Y):
    return {"m": case.m, "net": net, "params": params, "cache": cache, "X": X, "Y": Y}


def _build_L_model_forward(case, lay, spec, options):
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    q = {"X": lay.data(X), "parameters": lay.params(params), "AL": lay.data(AL),
         "caches": _caches(lay, params, cache, net.L)}
    return Built(q, _network_context(case, net, params, cache, X, Y))


register(Computation(
    "L_model_forward",
    "The forward pass: [LINEAR -> hidden]×(L-1) then LINEAR -> output; one cache "
    "((A_prev, W, b), Z) per layer.",
    "network",
    inputs={"X": "inputs", "parameters": "{'W1', 'b1', …}"},
    outputs={"AL": "the output activations", "caches": "[((A_prev, W, b), Z) per layer]"},
    kinds={"caches": "cache"},
    build=_build_L_model_forward,
))


def _build_cost(case, lay, spec, options):
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    cost = float(np.mean(net.loss.value(AL, Y)))
    q = {"AL": lay.data(AL), "Y": lay.data(Y), "cost": cost}
    return Built(q, _network_context(case, net, params, cache, X, Y))


register(Computation(
    "cost",
    "The cost from the output activations: J = (1/m) Σ_i loss(a_i, y_i) (the network's loss).",
    "network",
    inputs={"AL": "output activations", "Y": "targets"},
    outputs={"cost": "the mean loss, a scalar (float, 0-d or (1, 1) accepted)"},
    kinds={"cost": "scalar"},
    build=_build_cost,
))


# --------------------------------------------------------------------------- backward, per layer
def _build_linear_backward(case, lay, spec, options):
    rng, A_prev, W, b = _layer_inputs(case, "linear")
    dZ = rng.standard_normal((W.shape[0], case.m))
    grads, cache, net, Y = _upstream_backward("linear", A_prev, W, b, dZ)
    q = {"dZ": lay.data(dZ), "linear_cache": lay.linear_cache(A_prev, W, b),
         "dA_prev": lay.data(grads["dA0"]), "dW": lay.weight(grads["dW1"]),
         "db": lay.bias(grads["db1"])}
    return Built(q, _layer_context(case, net, {"W1": W, "b1": b}, cache, A_prev, Y))


register(Computation(
    "linear_backward",
    "Given dZ (per example): dW = (1/m) dZ A_prevᵀ, db = (1/m) Σ_columns dZ, dA_prev = Wᵀ dZ.",
    "layer",
    inputs={"dZ": "gradient of the pre-activation", "linear_cache": "(A_prev, W, b)"},
    outputs={"dA_prev": "Wᵀ dZ", "dW": "(1/m) dZ A_prevᵀ", "db": "(1/m) row sums of dZ"},
    build=_build_linear_backward,
))


def _build_affine_backward(case, lay, spec, options):
    rng, A_prev, W, b = _layer_inputs(case, "linear")
    m = case.m
    dout = rng.standard_normal((W.shape[0], m))
    grads, cache, net, Y = _upstream_backward("linear", A_prev, W, b, m * dout)
    q = {"dout": lay.data(dout), "linear_cache": lay.linear_cache(A_prev, W, b),
         "dA_prev": lay.data(grads["dA0"] / m), "dW": lay.weight(grads["dW1"]),
         "db": lay.bias(grads["db1"])}
    return Built(q, _layer_context(case, net, {"W1": W, "b1": b}, cache, A_prev, Y))


register(Computation(
    "affine_backward",
    "The summed convention (the upstream gradient already carries 1/N): dx = dout wᵀ, "
    "dw = xᵀ dout, db = Σ_rows dout (rows layout; columns: Wᵀ dout, dout A_prevᵀ, row sums).",
    "layer",
    inputs={"dout": "upstream gradient (already averaged)", "linear_cache": "(x, w, b)"},
    outputs={"dA_prev": "dx", "dW": "dw", "db": "db"},
    build=_build_affine_backward,
))


def _build_linear_activation_backward(case, lay, spec, options):
    act = case.variant
    rng, A_prev, W, b = _layer_inputs(case, act)
    dA = rng.standard_normal((W.shape[0], case.m))
    grads, cache, net, Y = _upstream_backward(act, A_prev, W, b, dA)
    linear_cache = lay.linear_cache(A_prev, W, b)
    q = {"dA": lay.data(dA), "layer_cache": (linear_cache, lay.data(cache["Z1"])),
         "activation": act, "dA_prev": lay.data(grads["dA0"]), "dW": lay.weight(grads["dW1"]),
         "db": lay.bias(grads["db1"]), "dZ": lay.data(grads["dZ1"])}
    return Built(q, _layer_context(case, net, {"W1": W, "b1": b}, cache, A_prev, Y))


register(Computation(
    "linear_activation_backward",
    "Given dA: dZ = dA ⊙ g'(Z) for the case's activation, then linear_backward.",
    "layer",
    inputs={"dA": "gradient of the layer's activations",
            "layer_cache": "((A_prev, W, b), Z)", "activation": "the activation's name"},
    outputs={"dA_prev": "Wᵀ dZ", "dW": "(1/m) dZ A_prevᵀ", "db": "(1/m) row sums of dZ",
             "dZ": "dA ⊙ g'(Z)"},
    variant="activation", variants=("sigmoid", "relu"),
    build=_build_linear_activation_backward,
))


def _build_activation_backward(case, lay, spec, options):
    act = get_activation(case.variant)
    rng, Z = _activation_inputs(case)
    dA = rng.standard_normal(Z.shape)
    dZ = act.vjp(Z, act.value(Z), dA)
    q = {"dA": lay.data(dA), "activation_cache": lay.data(Z), "activation": case.variant,
         "dZ": lay.data(dZ)}
    return Built(q, {"m": case.m, "net": None, "params": None, "cache": None, "X": None, "Y": None})


register(Computation(
    "activation_backward",
    "dZ = dA ⊙ g'(Z) elementwise, from the cache Z.",
    "array",
    inputs={"dA": "upstream gradient", "activation_cache": "Z",
            "activation": "the activation's name (the variant)"},
    outputs={"dZ": "dA ⊙ g'(Z)"},
    variant="activation", variants=("relu",),
    build=_build_activation_backward,
))


# --------------------------------------------------------------------------- backward, network
def _build_L_model_backward(case, lay, spec, options):
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    grads = net.backward(params, cache, Y)
    wanted = {k: v for k, v in grads.items() if k[:2] in ("dA", "dW", "db")}
    q = {"AL": lay.data(AL), "Y": lay.data(Y), "caches": _caches(lay, params, cache, net.L),
         "grads": lay.params(wanted)}
    return Built(q, _network_context(case, net, params, cache, X, Y))


register(Computation(
    "L_model_backward",
    "The backward pass from AL, Y and the caches: {'dA0'…'dA{L-1}', 'dW1'…, 'db1'…} with the "
    "1/m in dW and db, not in dA.",
    "network",
    inputs={"AL": "output activations", "Y": "targets", "caches": "[((A_prev, W, b), Z)]"},
    outputs={"grads": "{'dA0', …, 'dW1', …, 'db1', …}"},
    kinds={"grads": "dict"},
    build=_build_L_model_backward,
))


def _build_update(case, lay, spec, options):
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    grads = {k: v for k, v in net.backward(params, cache, Y).items() if k[:2] in ("dA", "dW", "db")}
    lr = float(np.round(case.rng().uniform(0.05, 1.5), 3))
    new = {k: params[k] - lr * grads["d" + k] for k in params}
    q = {"parameters": lay.params(params), "grads": lay.params(grads), "learning_rate": lr,
         "parameters_new": lay.params(new)}
    return Built(q, _network_context(case, net, params, cache, X, Y))


register(Computation(
    "update_parameters",
    "One gradient-descent step: W_l ← W_l − learning_rate·dW_l, b_l ← b_l − learning_rate·db_l.",
    "network",
    inputs={"parameters": "{'W1', 'b1', …}", "grads": "{'dA0', …, 'dW1', …, 'db1', …}",
            "learning_rate": "a float"},
    outputs={"parameters_new": "the updated {'W1', 'b1', …}"},
    kinds={"parameters_new": "dict"},
    build=_build_update,
))


# --------------------------------------------------------------------------- softmax, class net
def _build_softmax_loss(case, lay, spec, options):
    (n_classes,) = case.layer_dims
    rng = case.rng()
    m = case.m
    Z = rng.standard_normal((n_classes, m)) * 2.0
    labels = rng.integers(0, n_classes, size=m)
    Y = np.eye(n_classes)[:, labels]
    loss = get_loss("cross_entropy")
    fused = loss.fused_with(get_activation("softmax"))
    A = get_activation("softmax").value(Z)
    q = {"scores": lay.data(Z), "labels": labels.astype(np.int64),
         "loss": float(np.mean(fused.value(Z, Y))), "dscores": lay.data(fused.dz(Z, A, Y) / m)}
    return Built(q, {"m": m, "net": None, "params": None, "cache": None, "X": None, "Y": Y})


register(Computation(
    "softmax_loss",
    "Softmax cross-entropy from scores and integer labels: the loss averaged over the N "
    "examples, and its gradient with respect to the scores (which includes the 1/N).",
    "array",
    inputs={"scores": "class scores, one row (rows) or column (columns) per example",
            "labels": "integer labels, shape (N,)"},
    outputs={"loss": "mean cross-entropy (scalar)", "dscores": "(softmax - onehot) / N"},
    kinds={"loss": "scalar"},
    build=_build_softmax_loss,
))


def _build_fc_net_loss(case, lay, spec, options):
    reg = float(case.variant)
    m = case.m
    net, params, X, Y, labels, AL, cache = _network_inputs(case, spec)
    net = spec.network(case.layer_dims, l2=reg * m)   # 0.5·reg·Σ‖W‖² = (λ/2m)Σ‖W‖², λ = reg·m
    J, grads = net.gradients(params, X, Y)
    wanted = {k[1:]: v for k, v in grads.items() if k[:2] in ("dW", "db")}  # keyed like params
    dims = case.layer_dims
    q = {"X": lay.data(X), "labels": np.asarray(labels, dtype=np.int64),
         "params": lay.params(params), "reg": reg, "input_dim": int(dims[0]),
         "hidden_dims": [int(n) for n in dims[1:-1]], "num_classes": int(dims[-1]),
         "dtype": "float64", "loss": float(J), "grads": lay.params(wanted),
         "scores": lay.data(cache[f"Z{net.L}"])}
    return Built(q, _network_context(case, net, params, cache, X, Y))


register(Computation(
    "fc_net_loss",
    "A fully connected classifier's loss(X, y): mean softmax cross-entropy plus "
    "0.5·reg·Σ_l ‖W_l‖² (no 1/N: the reference's λ = reg·N), its gradients {'W1', 'b1', …} "
    "(keys without the d), and the scores (pre-softmax outputs).",
    "network",
    inputs={"X": "inputs", "labels": "integer labels (N,)", "params": "{'W1', 'b1', …}",
            "reg": "the L2 strength (the variant)", "input_dim": "n_0",
            "hidden_dims": "[n_1, …, n_{L-1}]", "num_classes": "n_L",
            "dtype": "'float64' (for a dtype= argument: the course's float32 default rounds X)"},
    outputs={"loss": "the regularised loss (scalar)",
             "grads": "{'W1', 'b1', …}: gradients of the loss", "scores": "Z_L"},
    kinds={"loss": "scalar", "grads": "dict"},
    variant="reg", variants=(0.0, 0.3),
    build=_build_fc_net_loss,
))
