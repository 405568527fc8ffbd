r"""``gradref validate``: check another implementation's gradients against the reference.

The implementation runs isolated (:mod:`gradref.checks.isolation`), on seeded random cases; its
answer is brought to the reference's conventions at the boundary (:mod:`.conventions`), converted
to the canonical layout and checked by :func:`gradref.checks.api.check_network` against the
autograd oracle of the reference cost (the checker's tolerances for the answer's dtype, and its
diagnosis); the smallest failing case is then searched for::

    gradref validate FILE.py:FUNCTION --layers 2,16,16,1 \
        --hidden relu --output sigmoid --loss bce [--layout rows|torch] [--reduction sum] \
        [--per-example] [--returns update --lr R] [--bias-sign -1] [--forward FILE.py:COST]
    gradref validate --command "./impl {case} {out}" [--io json] --layers … (any language)

Contract (Python): ``grads = FUNCTION(params, X, Y)`` with ``params = {"W1", "b1", …}`` in the
stated layout and ``grads = {"dW1", "db1", …}`` (or a list in layer order) the gradient of
:math:`J = \frac1m\sum_i \ell_i + \frac{\lambda}{2m}\sum_l\lVert W_l\rVert^2` in the same layout,
or in the convention the options state. A function with a parameter named ``arch`` receives
``{"layer_sizes", "activations", "loss", "l2"}`` as ``arch=`` in every mode; otherwise, with
``--random-architectures``, as a 4th argument. It may answer :data:`~.conventions.UNSUPPORTED`
for a case it cannot represent (skipped, never a failure). ``--forward FILE.py:COST`` (``J =
COST(params, X, Y[, arch])``) adds the cost to the comparison and, when a gradient is wrong,
finite differences of that forward pass tell a wrong forward from a wrong backward.

Cases cycle through the data families of :data:`DATA_FAMILIES` (normal, saturated, integer), so
saturated units and exact kinks are always tried; at an exact kink either one-sided slope is
accepted.

Contract (command): see :data:`gradref.reference.casefile.FORMAT_DOC`. ``{case}`` and ``{out}`` are
replaced by paths, ``{python}`` by this interpreter; the command runs in the current directory;
exit status 3 means "unsupported case".

Verdicts per case: *match*; *mismatch* (the implementation answered, and some array is wrong,
missing or of the wrong shape, or its cost differs); *skipped* (unsupported); *error* (no
usable answer: an exception, a crash, a time-out, a non-zero exit status, a result that cannot
be read as gradients, an unreadable ``{out}`` file). Exit codes (:data:`EXIT_OK`,
:data:`EXIT_FAILED`, :data:`EXIT_ERROR`): 0 when every compared case matches; 1 when something
differs (a mismatch, or the forward's cost); 2 when something could not run and nothing differs,
or nothing could be compared, or the arguments are bad; 4 (:data:`EXIT_UNSTABLE`) when the
answer is right wherever it is finite and fails only on saturated or extreme data
(:mod:`.stability`).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from gradref.reference import Network, get_activation, get_loss
from gradref.reference.dropout import check_keep_prob
from gradref.reference.layouts import BIASES, LAYOUTS, from_layout, to_layout
from gradref.reference.network import NORMALIZATIONS

from .. import tolerances as _tolerances
from . import constraints, stability
from .conventions import REDUCTIONS, RETURNS, UNSUPPORTED, case_arguments, run_case, run_cost
from .stability import EXIT_UNSTABLE, VERDICT
from .targets import (
    Answer,
    Target,
    callable_target,
    command_target,
    python_target,
)

__all__ = [
    "EXIT_OK", "EXIT_FAILED", "EXIT_ERROR", "EXIT_UNSTABLE", "COST_RTOL", "DATA_FAMILIES",
    "EXTRA_FAMILIES",
    "Settings", "ArrayVerdict", "CaseReport", "ForwardAnalysis", "ValidationReport",
    "Target", "Answer", "callable_target", "python_target", "command_target",
    "validate",
]

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

#: Relative tolerance for a float64 cost J when ``rtol`` is not given: ``|ΔJ| <= COST_RTOL·|J|``
#: (other dtypes: their table's ``cost_rtol``; the gradients use the checker's autograd
#: tolerances of the answer's dtype, :mod:`gradref.checks.tolerances`).
COST_RTOL = float(_tolerances.tolerances_for(np.float64)["cost_rtol"])

_MAX_SHRINK_TRIES = 25


# --------------------------------------------------------------------------- settings
#: The data families, as ``gradref verify`` draws them: ``normal`` (N(0, 1) inputs, Xavier
#: weights, small biases), ``saturated`` (the same weights ×12: sigmoids and tanh far in their
#: tails) and ``integer`` (integer inputs, weights in {-1, 0, 1}, zero biases: pre-activations
#: exactly on the kinks).
DATA_FAMILIES = ("normal", "saturated", "integer")
#: Families drawn only when asked for: ``extreme`` (the weights ×400: pre-activations in the
#: hundreds, where exp overflows).
EXTRA_FAMILIES = ("extreme",)
_SATURATION = {"saturated": 12.0, "extreme": 400.0}


def _positive_int(name: str, value, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """What to validate, and in which conventions (see :mod:`.conventions`).

    Fixed architecture: ``layers`` and one activation per layer in ``activations``.
    ``random_architectures``: ``layers`` must be None; depth and widths are drawn up to
    ``max_depth`` (layers with weights, default 3) and ``max_width`` (default 5); hidden
    activations from ``hidden`` and output activations from ``outputs`` (both default to
    ``activations``, softmax never hidden); ``losses`` is the pool of losses.
    ``data``: the families cycled through, case by case (:data:`DATA_FAMILIES`).
    """

    activations: tuple[str, ...]
    losses: tuple[str, ...]
    layers: tuple[int, ...] | None = None
    layout: str = "columns"
    bias: str = "column"
    l2: float = 0.0
    random_architectures: bool = False
    cases: int = 5
    seed: int = 0
    rtol: float | None = None
    shrink: bool = True
    hidden: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    max_depth: int | None = None
    max_width: int | None = None
    data: tuple[str, ...] = DATA_FAMILIES
    reduction: str = "mean"
    per_example: bool = False
    returns: str = "gradient"
    lr: float | None = None
    bias_sign: int = 1
    normalization: str | None = None
    dropout: float | None = None
    labels: str = "onehot"
    min_width: int | None = None
    same_width: bool = False
    one_hidden: bool = False
    pairs: tuple[tuple[str, str], ...] | None = None
    first_case: int = 0  # the index of the first case drawn (--case K runs case K alone)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.bias not in BIASES:
            raise ValueError(f"bias must be one of {', '.join(BIASES)}, got {self.bias!r}")
        _positive_int("cases", self.cases)
        _positive_int("first_case + 1", self.first_case + 1 if isinstance(self.first_case, int)
                      else self.first_case)
        _positive_int("max_depth", self.max_depth, allow_none=True)
        _positive_int("max_width", self.max_width, allow_none=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("l2", "rtol"):
            value = getattr(self, name)
            if value is None and name == "rtol":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.data, tuple) or not self.data \
                or any(d not in DATA_FAMILIES + EXTRA_FAMILIES for d in self.data):
            raise ValueError(f"data must be a non-empty tuple of "
                             f"{', '.join(DATA_FAMILIES + EXTRA_FAMILIES)}, "
                             f"got {self.data!r}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, "
                             f"got {self.reduction!r}")
        if self.returns not in RETURNS:
            raise ValueError(f"returns must be one of {', '.join(RETURNS)}, got {self.returns!r}")
        if self.returns == "update":
            if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) \
                    or not np.isfinite(self.lr) or self.lr <= 0:
                raise ValueError(f"lr must be a finite number > 0 with returns='update', "
                                 f"got {self.lr!r}")
        elif self.lr is not None:
            raise ValueError(f"lr is only used with returns='update', got lr={self.lr!r} "
                             f"with returns={self.returns!r}")
        if self.bias_sign not in (1, -1) or isinstance(self.bias_sign, bool):
            raise ValueError(f"bias_sign must be 1 or -1, got {self.bias_sign!r}")
        if self.reduction == "mean_all" and (self.l2 or "cross_entropy" in self.losses):
            raise ValueError(f"reduction='mean_all' (the loss averaged over the batch and the "
                             f"output units) needs l2 = 0 and a loss other than cross_entropy "
                             f"(softmax cross-entropy sums over the classes), got l2={self.l2!r} "
                             f"and losses {', '.join(self.losses)}")
        if self.per_example and self.l2:
            raise ValueError(f"l2 must be 0 with per_example: the L2 term λ/(2m)·ΣW² belongs to "
                             f"the batch, not to one example (got l2={self.l2!r})")
        if self.normalization is not None and self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be None, 'batchnorm' or 'layernorm', got "
                             f"{self.normalization!r}")
        if self.dropout is not None:
            check_keep_prob(self.dropout, "dropout")
        if self.per_example and (self.normalization == "batchnorm" or self.dropout):
            raise ValueError(f"per_example cannot be used with batch norm or dropout: batch "
                             f"statistics and masks belong to the batch (got "
                             f"normalization={self.normalization!r}, dropout={self.dropout!r})")
        if not self.losses:
            raise ValueError("losses must name at least one loss")
        for x in self.losses:
            get_loss(x)  # raises naming the bad one
        if self.random_architectures:
            if self.layers is not None:
                raise ValueError(f"layers must be None with random_architectures (got "
                                 f"{list(self.layers)}); bound them with max_depth and "
                                 f"max_width")
            for name in ("hidden", "outputs"):
                pool = getattr(self, name)
                if pool is not None:
                    if not pool and name == "outputs":
                        raise ValueError(f"{name} must name at least one activation")
                    for a in pool:
                        get_activation(a)
            if not self.hidden_pool() and (self.max_depth or 3) > 1:
                raise ValueError("no hidden activation to draw from (softmax cannot be hidden): "
                                 "give hidden activations, or max_depth 1")
            if not self.pairings():
                raise ValueError(f"no activation in {', '.join(self.output_pool())} can be the "
                                 f"output of loss {', '.join(self.losses)}")
        else:
            if not self.activations:
                raise ValueError("activations must name at least one activation")
            for a in self.activations:
                get_activation(a)  # raises naming the bad one
            if self.layers is None:
                raise ValueError("layers is required unless random_architectures is set")
            if len(self.losses) != 1:
                raise ValueError(f"one loss is needed for a fixed architecture, got "
                                 f"{', '.join(self.losses)}")
            Network(self.layers, list(self.activations), self.losses[0], self.l2,
                    **self.layer_options(len(self.layers) - 2))
        constraints.check(self)

    def layer_options(self, hidden: int) -> dict:
        """The Network's keyword options for ``hidden`` hidden layers (none without any)."""
        if not hidden:
            return {}
        return {"normalization": self.normalization, "dropout": self.dropout}

    def hidden_pool(self) -> tuple[str, ...]:
        """Hidden activations the random architectures draw from (never softmax)."""
        pool = self.hidden if self.hidden is not None else self.activations
        return tuple(a for a in pool if get_activation(a).name != "softmax")

    def output_pool(self) -> tuple[str, ...]:
        return self.outputs if self.outputs is not None else self.activations

    def pairings(self) -> list[tuple[str, str]]:
        """(output activation, loss) pairs the random architectures draw from."""
        return [(a, x) for x in self.losses for a in self.output_pool()
                if get_loss(x).accepts(get_activation(a))
                and (self.pairs is None or (get_activation(a).name, x) in self.pairs
                     or (a, x) in self.pairs)]

    def tolerances(self, dtype: str = "float64") -> dict[str, float] | None:
        """Overrides of the checker's autograd tolerances for answers in ``dtype`` (None: its
        float64 defaults): ``rtol`` when given, else the table of ``dtype`` in
        :mod:`gradref.checks.tolerances` (float32 answers are compared at float32 precision)."""
        if self.rtol is not None:
            return {"autograd_rtol": self.rtol, "autograd_atol": self.rtol}
        if dtype == "float64":
            return None
        table = _tolerances.tolerances_for(np.dtype(dtype), function_dtype=np.float64)
        return {"autograd_rtol": table["autograd_rtol"], "autograd_atol": table["autograd_atol"]}

    def conventions(self) -> str:
        """The conventions in one phrase, for the report."""
        parts = [f"layout {self.layout}, {self.bias} biases"]
        if self.bias_sign < 0:
            parts.append("biases enter as −b (bias input −1)")
        over = {"sum": "summed over the batch", "mean": "averaged over the batch",
                "mean_all": "averaged over the batch and the output units"}[self.reduction]
        parts.append("one example per call, averaged" if self.per_example else f"cost {over}")
        if self.returns == "update":
            parts.append(f"returns the update −{self.lr:g}·gradient")
        if self.normalization:
            parts.append(f"{self.normalization} in the hidden layers")
        if self.dropout:
            parts.append(f"dropout (keep {self.dropout:g}, masks in arch['masks'])")
        if self.labels == "index":
            parts.append("targets as integer class labels (m,)")
        return "; ".join(parts)

    def describe(self) -> dict:
        """JSON-ready summary."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}


# --------------------------------------------------------------------------- cases
@dataclass
class _Case:
    net: Network
    params: dict[str, np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    layout: str
    bias: str
    family: str = "normal"
    lr: float | None = None  # the learning rate handed to the implementation (arch, files)
    J: float = field(init=False)
    grads: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        J, grads = self.net.gradients(self.params, self.X, self.Y)
        self.J = J
        self.grads = {f"d{k}": grads[f"d{k}"] for k in self.net.param_shapes()}

    @property
    def m(self) -> int:
        return int(self.X.shape[1])

    @property
    def size(self) -> int:
        return self.net.n_params + self.m


def _inputs(net: Network, m: int, rng: np.random.Generator, family: str = "normal"):
    from ..strategies import make_targets

    params = net.init_params("xavier", seed=rng)
    if family == "integer":
        for k in params:
            params[k] = (rng.integers(-1, 2, size=params[k].shape).astype(np.float64)
                         if k[0] == "W" else np.zeros(params[k].shape))
        X = rng.integers(-2, 3, size=(net.layer_sizes[0], m)).astype(np.float64)
    else:
        for l in range(1, net.L + 1):
            params[f"b{l}"] = 0.1 * rng.standard_normal(params[f"b{l}"].shape)
        X = rng.standard_normal((net.layer_sizes[0], m))
        if family in _SATURATION:
            params = {k: v * _SATURATION[family] for k, v in params.items()}
    for k in params:   # γ near 1 and β near 0, not exactly (so a slip with them shows)
        if k.startswith(("gamma", "beta")):
            params[k] = (k[0] == "g") + 0.3 * rng.standard_normal(params[k].shape)
    return params, X, make_targets(net, m, rng)


def _with_masks(net: Network, m: int, rng: np.random.Generator) -> Network:
    """``net`` with its dropout masks for m examples fixed (drawn after the inputs)."""
    return net.with_masks(net.draw_masks(m, rng)) if net.mask_shapes(m) else net


def _network(settings: Settings, rng: np.random.Generator) -> Network:
    if not settings.random_architectures:
        return Network(settings.layers, list(settings.activations), settings.losses[0],
                       settings.l2, **settings.layer_options(len(settings.layers) - 2))
    max_depth, max_width = settings.max_depth or 3, settings.max_width or 5
    hidden_pool = settings.hidden_pool()
    depth = int(rng.integers(1, max_depth + 1)) if hidden_pool else 1
    sizes = [int(w) for w in rng.integers(1, max_width + 1, size=depth + 1)]
    pairs = settings.pairings()
    out, loss = pairs[int(rng.integers(len(pairs)))]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    hidden = [hidden_pool[int(i)] for i in rng.integers(len(hidden_pool), size=depth - 1)] \
        if depth > 1 else []
    sizes, hidden = constraints.constrain(settings, sizes, hidden, loss, rng)
    return Network(sizes, hidden + [out], loss, settings.l2, **settings.layer_options(len(sizes) - 2))


def _make_case(settings: Settings, index: int) -> _Case:
    rng = np.random.default_rng([settings.seed, index])
    net = _network(settings, rng)
    m = int(rng.integers(3, 9))  # not 2: there a missing 1/m and a factor 2 look alike
    family = settings.data[index % len(settings.data)]
    params, X, Y = _inputs(net, m, rng, family)
    return _Case(_with_masks(net, m, rng), params, X, Y, settings.layout, settings.bias, family,
                 settings.lr)


def _resized(case: _Case, sizes: Sequence[int], m: int, salt: int) -> _Case:
    old = case.net
    # the settings put the same options in every hidden layer: the first one's stand for all
    options = ({"normalization": old.normalization[0], "dropout": old.keep_probs[0]}
               if old.has_layers and len(sizes) > 2 else {})
    net = Network(list(sizes), [a.spec for a in old.activations], old.loss.name, old.l2,
                  **options)
    rng = np.random.default_rng([salt, *sizes, m])
    params, X, Y = _inputs(net, m, rng, case.family)
    return _Case(_with_masks(net, m, rng), params, X, Y, case.layout, case.bias, case.family,
                 case.lr)


# --------------------------------------------------------------------------- verdicts
@dataclass
class ArrayVerdict:
    """One gradient array of one case: ``ok``, or what is wrong with it."""

    name: str
    ok: bool
    problem: str = ""  # "", "missing", "type", "shape", "values"
    max_abs_error: float | None = None
    rel_error: float | None = None
    shape: tuple | None = None
    expected_shape: tuple | None = None
    detail: str = ""

    def describe(self) -> str:
        if self.problem == "missing":
            return "missing"
        if self.problem == "type":
            return "not a real numeric array"
        if self.problem == "shape":
            return f"shape {self.shape}, expected {self.expected_shape}"
        if self.max_abs_error is None:
            return self.detail or "not compared"
        if not np.isfinite(self.max_abs_error):
            return "contains NaN or infinity"
        return f"max abs error {self.max_abs_error:.2e}, relative {self.rel_error:.2e}"

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "problem": self.problem or None,
                "max_abs_error": _num(self.max_abs_error), "rel_error": _num(self.rel_error),
                "shape": list(self.shape) if self.shape is not None else None,
                "expected_shape": list(self.expected_shape) if self.expected_shape else None}


def _num(x: float | None):
    return None if x is None or not np.isfinite(x) else float(x)


@dataclass
class CaseReport:
    """The verdict on one case: ``status`` is "match", "mismatch", "error" or "skipped" (the
    implementation answered :data:`~.conventions.UNSUPPORTED`; ``error`` then says why).
    ``data`` is the data family; ``reading`` how a non-dict answer was read."""

    index: int | str
    network: dict
    m: int
    status: str
    arrays: list[ArrayVerdict] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    cost: dict | None = None  # {"got", "expected", "ok"} when the implementation gave a cost
    data: str = "normal"
    reading: str = ""
    dtype: str = "float64"
    kinks: str = ""  # the one-sided slope convention at exact kinks, when not the reference's
    case: _Case | None = field(default=None, repr=False)
    answer: dict | None = field(default=None, repr=False)

    check: object = field(default=None, repr=False)  # the checker's CheckResult
    submitted: dict | None = field(default=None, repr=False)  # the answer, canonical layout
    _findings: list[str] = field(default_factory=list, repr=False)

    @property
    def findings(self) -> list[str]:
        """The checker's diagnosis (and any problem it had), one sentence each."""
        return self._findings

    @property
    def failing(self) -> list[str]:
        return [a.name for a in self.arrays if not a.ok]

    def to_json(self, arrays: bool = False, settings: Settings | None = None) -> dict:
        out = {"case": self.index, "network": self.network, "m": self.m, "status": self.status,
               "data": self.data, "reading": self.reading or None, "dtype": self.dtype,
               "kinks": self.kinks or None,
               "arrays": [a.to_json() for a in self.arrays], "findings": self.findings,
               "error": self.error or None, "seconds": self.seconds, "cost": self.cost}
        if arrays and self.case is not None and settings is not None:
            c = self.case
            params, X, Y = case_arguments(c, settings)
            out["inputs"] = {"params": {k: v.tolist() for k, v in params.items()},
                             "X": X.tolist(), "Y": Y.tolist()}
            out["expected"] = {k: v.tolist() for k, v in
                               to_layout(c.grads, c.layout, c.bias).items()}
            if self.answer is not None:
                out["got"] = {k: np.asarray(v).tolist() for k, v in self.answer.items()}
            if self.check is not None:
                out["check"] = self.check.to_dict()
        return out


def _as_real_array(value) -> np.ndarray | None:
    try:
        arr = np.asarray(value)
    except Exception:
        return None
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        return None
    return arr.astype(np.float64)


def _to_canonical(key: str, arr: np.ndarray, layout: str, bias: str) -> np.ndarray:
    """``arr`` in the canonical layout when its shape allows, else as close as it gets."""
    try:
        return from_layout({key: arr}, layout, bias)[key]
    except ValueError:
        return arr.T if layout == "rows" and key[1] == "W" and arr.ndim == 2 else arr



def _judge(case: _Case, answer: Answer, settings: Settings, index) -> CaseReport:
    """Compare one answer with the reference through :func:`gradref.checks.api.check_network`
    (against the autograd oracle, which also runs the checker's diagnosis)."""
    from ..api import check_network

    report = CaseReport(index, case.net.describe(), case.m, "error", seconds=answer.seconds,
                        data=case.family, reading=answer.reading, dtype=answer.dtype, case=case)
    if answer.skipped is not None:
        report.status, report.error = "skipped", answer.skipped
        return report
    if answer.error is not None:
        report.error = answer.error
        return report
    value = answer.value
    if not isinstance(value, Mapping):
        report.error = (f"returned {type(value).__name__}, expected a dict of gradient arrays "
                        f"{{'dW1', 'db1', …}}")
        return report
    report.answer = {k: v for k, v in value.items() if isinstance(k, str)}
    expected_layout = to_layout(case.grads, case.layout, case.bias)
    submitted = {}
    for key, exp in expected_layout.items():
        verdict = ArrayVerdict(key, False, expected_shape=exp.shape)
        report.arrays.append(verdict)
        if key not in value:
            verdict.problem = "missing"
        elif (arr := _as_real_array(value[key])) is None:
            verdict.problem = "type"
            submitted[key] = value[key]
        else:
            verdict.shape = arr.shape
            verdict.problem = "shape" if arr.shape != exp.shape else ""
            submitted[key] = _to_canonical(key, arr, case.layout, case.bias)
    result = check_network(lambda params, X, Y: submitted, case.net, case.params, case.X,
                           case.Y, oracle="autograd", intermediates=False,
                           tolerances=settings.tolerances(answer.dtype), seed=settings.seed)
    for verdict in report.arrays:
        if verdict.problem:
            continue
        check = result.array(verdict.name, "autograd")
        verdict.ok = check.passed
        verdict.problem = "" if check.passed else "values"
        verdict.max_abs_error = check.max_abs_err
        verdict.rel_error = check.max_rel_err
        if not check.passed and not np.all(np.isfinite(submitted[verdict.name])):
            verdict.max_abs_error = verdict.rel_error = float("inf")
        elif check.problem:
            verdict.detail = check.problem
    if "J" in value and (J := _as_real_array(value["J"])) is not None and J.size == 1:
        report.cost = _cost_verdict(float(J.reshape(())), case.J, settings, answer.dtype)
    if not all(a.ok for a in report.arrays) and all(a.problem in ("", "values")
                                                    for a in report.arrays):
        convention = _kink_convention(case, submitted, settings.tolerances(answer.dtype))
        if convention is not None:
            for a in report.arrays:
                a.ok, a.problem = True, ""
            report.kinks = convention
    wrong = not all(a.ok for a in report.arrays) or (report.cost and not report.cost["ok"])
    report.status = "mismatch" if wrong else "match"
    report.check = result
    report.submitted = submitted  # canonical, for :mod:`.stability`
    passed = {a.name for a in report.arrays if a.ok}
    report._findings = [f.message for f in result.diagnosis
                        if not (f.names and set(f.names) <= passed)] + list(result.problems)
    if answer.problem is not None:
        report._findings = [answer.problem]
    elif report.status == "mismatch":
        strength = _l2_strength(case, submitted, report, settings.tolerances(answer.dtype))
        if strength is not None:
            report._findings = [strength]
        hint = _convention_hint(case, submitted, report, settings)
        if hint is not None:
            report._findings.append(hint)
    return report


def _convention_hint(case: _Case, submitted: Mapping, report: CaseReport,
                     settings: Settings) -> str | None:
    """An option to suggest when every gradient is the reference's times one factor that a
    cost convention explains (m: a summed cost; 1/n_L: averaged over the output units too)."""
    if any(a.problem not in ("", "values") for a in report.arrays):
        return None
    got = np.concatenate([np.ravel(submitted[k]) for k in case.grads])
    exp = np.concatenate([np.ravel(case.grads[k]) for k in case.grads])
    ee = float(exp @ exp)
    if ee == 0.0:
        return None
    c = float(got @ exp) / ee
    if np.max(np.abs(got - c * exp)) > 1e-6 * np.max(np.abs(exp)):
        return None
    m, n_out = case.m, case.net.layer_sizes[-1]
    per = {"mean": 1.0, "sum": float(m), "mean_all": 1.0 / n_out}[settings.reduction]
    ratio = c * per  # the answer's factor relative to the convention it was read in
    options = []
    if abs(ratio - m) <= 1e-6 * m and settings.reduction != "sum" and not settings.per_example:
        options.append("--reduction sum (your cost is summed over the batch)")
    if n_out > 1 and abs(ratio - 1.0 / n_out) <= 1e-6 / n_out and settings.reduction != "mean_all":
        options.append(f"--reduction mean_all (your loss is averaged over the n_L = {n_out} "
                       f"output units too, as PyTorch's MSELoss/BCELoss)")
    if abs(ratio - 1.0 / m) <= 1e-6 / m and settings.reduction == "sum":
        options.append("--reduction mean (your cost is averaged, not summed)")
    if not options:
        return None
    return ("every gradient is the reference's times one factor; if that is your convention, "
            "not a mistake, pass " + " or ".join(options))


def _kink_convention(case: _Case, submitted: Mapping, tolerances: Mapping | None) -> str | None:
    """Which one-sided slope at z = 0 the answer uses, when it is not the reference's.

    The reference takes the left-hand slope of a kinked activation at exactly z = 0 (relu'(0)
    = 0); code that takes the right-hand one (``Z >= 0``) is as right. Only pre-activations
    that are exactly 0 matter (integer data); each layer with such zeros may use either side:
    the reference's backward is replayed with those zeros nudged to +tiny for every choice of
    layers (at most 2^6) and the answer compared with each at the same tolerances.
    """
    from itertools import product

    net = case.net
    _, cache = net.forward(case.params, case.X)
    kinked = [l for l in range(1, net.L + 1) if net.activations[l - 1].kinks
              and np.any(cache[f"Z{l}"] == 0.0)]
    if not kinked or len(kinked) > 6:
        return None
    t = _tolerances.tolerances_for(np.float64, overrides=tolerances or None)
    keys = [k for k in case.grads if k in submitted]
    for sides in product((False, True), repeat=len(kinked)):
        if not any(sides):
            continue
        nudged = dict(cache)
        for l, right in zip(kinked, sides, strict=True):
            if right:
                nudged[f"Z{l}"] = np.where(cache[f"Z{l}"] == 0.0, np.finfo(float).tiny,
                                           cache[f"Z{l}"])
        alt = net.backward(case.params, nudged, case.Y)
        scale = max(float(np.max(np.abs(alt[k]))) for k in keys)
        if all(np.shape(submitted[k]) == alt[k].shape and np.all(
                np.abs(submitted[k] - alt[k]) <= t["autograd_rtol"] * np.abs(alt[k])
                + t["autograd_atol"] * scale) for k in keys):
            layers = ", ".join(str(l) for l, right in zip(kinked, sides, strict=True) if right)
            return (f"at z = 0 exactly, the right-hand slope of the activation (e.g. relu'(0) "
                    f"= 1) in layer(s) {layers}, where the reference takes the left-hand one: "
                    f"a valid convention, accepted")
    return None


def _l2_strength(case: _Case, submitted: Mapping, report: CaseReport,
                 tolerances: Mapping | None = None) -> str | None:
    r"""The sentence naming another L2 strength, when every wrong array is a weight gradient
    off by the same multiple of its weights: :math:`dW_l^{got} - dW_l = rac{\lambda' -
    \lambda}{m} W_l` for every l, the biases right."""
    wrong = [a for a in report.arrays if not a.ok]
    if not wrong or any(a.problem != "values" or a.name[1] != "W" for a in wrong):
        return None
    rtol = max(1e-6, 10 * (tolerances or {}).get("autograd_rtol", 0.0))
    slopes = []
    for l in range(1, case.net.L + 1):
        W, key = case.params[f"W{l}"], f"dW{l}"
        got = np.asarray(submitted.get(key), dtype=np.float64)
        diff = got - case.grads[key]
        ww = float(np.sum(W * W))
        if got.shape != W.shape or ww == 0.0:
            return None
        c = float(np.sum(diff * W)) / ww
        scale = max(float(np.max(np.abs(case.grads[key]))), float(np.max(np.abs(W))), 1e-300)
        if np.max(np.abs(diff - c * W)) > rtol * scale:
            return None
        slopes.append(c)
    c = float(np.mean(slopes))
    if c == 0.0 or max(abs(x - c) for x in slopes) > rtol * abs(c):
        return None
    theirs, ours = case.net.l2 + c * case.m, case.net.l2
    if abs(theirs) <= 1e-9 * max(abs(ours), 1e-300) and ours:
        return None  # the L2 term is missing: the checker's diagnosis says so
    if not ours:
        return (f"the weight gradients include an L2 term λ/m·W with λ = {theirs:.6g}; the "
                f"reference has none (pass --l2 {theirs:.6g} if that is intended)")
    return (f"the L2 term uses λ = {theirs:.6g}, the reference {ours:g} (every dW is off by "
            f"(λ' − λ)/m·W, the biases are right)")


def _cost_verdict(got: float, expected: float, settings: Settings,
                  dtype: str = "float64") -> dict:
    rtol = (settings.rtol if settings.rtol is not None
            else _tolerances.tolerances_for(np.dtype(dtype))["cost_rtol"])
    ok = abs(got - expected) <= rtol * abs(expected) + 1e-300
    return {"got": got, "expected": expected, "ok": bool(ok)}


# --------------------------------------------------------------------------- shrinking
def _failure_signature(report: CaseReport) -> set:
    return {(a.name, a.problem, bool(a.max_abs_error is not None
                                     and not np.isfinite(a.max_abs_error)))
            for a in report.arrays if not a.ok}


def _shrink(target: Target, report: CaseReport, settings: Settings) -> tuple[CaseReport, int]:
    """The smallest variant of a failing case (fewer examples, narrower layers) whose wrong
    arrays are the same ones, wrong in the same way (values, shape, missing, non-finite);
    returns it and the number of variants tried.

    m = 2 is skipped: there a missing 1/m and a factor 2 look alike.
    """
    best = report
    wanted = _failure_signature(report)
    tries = 0
    salt = settings.seed + 7919

    def attempt(sizes, m):
        nonlocal best, tries
        if tries >= _MAX_SHRINK_TRIES:
            return False
        tries += 1
        try:
            case = _resized(best.case, sizes, m, salt + tries)
        except ValueError:
            return False
        candidate = _judge(case, run_case(target, case, settings), settings,
                           f"{report.index} (shrunk)")
        if candidate.status == "mismatch" and _failure_signature(candidate) == wanted:
            best = candidate
            return True
        return False

    for m in sorted({1, 3, best.m // 2} - {2}):
        if m < best.m and attempt(best.case.net.layer_sizes, m):
            break
    changed = True
    while changed and tries < _MAX_SHRINK_TRIES:
        changed = False
        sizes = list(best.case.net.layer_sizes)
        floor_out = 2 if best.case.net.loss.name == "cross_entropy" else 1
        order = list(range(1, len(sizes) - 1)) + [0, len(sizes) - 1]
        for i in order:
            floor = floor_out if i == len(sizes) - 1 else 1
            for w in sorted({floor, floor + 1, sizes[i] // 2} - {0}):
                if floor <= w < sizes[i]:
                    trial = list(best.case.net.layer_sizes)
                    trial[i] = w
                    if attempt(trial, best.m):
                        changed = True
                        break
    return best, tries


# --------------------------------------------------------------------------- forward
@dataclass
class ForwardAnalysis:
    """Where the mistake is, from the implementation's own forward pass (``--forward``).

    ``cost_matches``: the forward's cost equals the reference's on every case where both ran;
    ``consistent``: per gradient array, whether the implementation's backward agrees with
    finite differences of its own forward on the reported case (None when not checked);
    ``verdict``: one sentence.
    """

    description: str
    cost_matches: bool | None
    cost_cases: list[dict] = field(default_factory=list)
    consistent: dict[str, bool] | None = None
    verdict: str = ""
    error: str = ""

    def to_json(self) -> dict:
        return {"forward": self.description, "cost_matches": self.cost_matches,
                "costs": self.cost_cases, "consistent": self.consistent,
                "verdict": self.verdict, "error": self.error or None}


class _CallFailed(Exception):
    pass


def _forward_cost(forward: Target, case: _Case, settings: Settings, params=None) -> float:
    J, why = run_cost(forward, case, settings, params)
    if J is None:
        raise _CallFailed(why)
    return J


def _consistency(forward: Target, report: CaseReport, settings: Settings) -> dict[str, bool]:
    """Finite differences of the implementation's own forward against its own gradients,
    along one random unit direction per parameter array (:func:`gradref.checks.api.check_gradients`
    on the direction coefficients): one verdict per gradient array."""
    from ..api import check_gradients

    case = report.case
    keys = list(case.net.param_shapes())
    got = {}
    for k in keys:
        arr = _as_real_array(report.answer.get(f"d{k}"))
        if arr is not None:
            got[k] = _to_canonical(f"d{k}", arr, case.layout, case.bias)
    seed = settings.seed
    rng = np.random.default_rng([seed, 104729])
    directions = {}
    for k in keys:
        v = rng.standard_normal(case.params[k].shape)
        directions[k] = v / np.linalg.norm(v)

    def f(x):
        params = {k: case.params[k] + float(x[f"d{k}"][0]) * directions[k] for k in keys}
        J = _forward_cost(forward, case, settings, params)
        if not np.isfinite(J):
            raise _CallFailed(f"your forward's cost is {J!r} on case {report.index} "
                              f"({case.family} data), so it cannot be differentiated there")
        return J

    grad = {f"d{k}": np.array([float(np.sum(got[k] * directions[k]))
                               if k in got and got[k].shape == directions[k].shape else np.nan])
            for k in keys}
    result = check_gradients(f, grad, {f"d{k}": np.zeros(1) for k in keys}, seed=seed)
    return {f"d{k}": result.array(f"d{k}", "fd").passed for k in keys}


def _forward_analysis(forward: Target, reports: list[CaseReport], smallest: CaseReport | None,
                      settings: Settings) -> ForwardAnalysis:
    analysis = ForwardAnalysis(forward.description, None)
    matches = []
    for r in reports:
        if r.case is None:
            continue
        try:
            J = _forward_cost(forward, r.case, settings)
        except _CallFailed as exc:
            analysis.cost_cases.append({"case": r.index, "error": str(exc)})
            continue
        verdict = _cost_verdict(J, r.case.J, settings)
        if not np.isfinite(J) and np.isfinite(r.case.J):
            # numerically unstable (a log of 0 once the units saturate), not another formula:
            # reported on its own, left out of the forward-versus-backward verdict
            verdict["unstable"] = True
            analysis.cost_cases.append({"case": r.index, "data": r.data, **verdict})
            continue
        analysis.cost_cases.append({"case": r.index, "data": r.data, **verdict})
        matches.append(verdict["ok"])
    if not matches:
        analysis.error = next((c["error"] for c in analysis.cost_cases if "error" in c),
                              "the forward function was not called")
        return analysis
    analysis.cost_matches = all(matches)
    backward_ok = all(r.status == "match" for r in reports if r.status != "error")
    if smallest is not None and smallest.answer is not None:
        try:
            analysis.consistent = _consistency(forward, smallest, settings)
        except _CallFailed as exc:
            analysis.error = f"finite differences of the forward failed: {exc}"
    analysis.verdict = _forward_verdict(analysis.cost_matches, backward_ok, analysis.consistent)
    return analysis


def _forward_verdict(cost_ok: bool, backward_ok: bool, consistent: dict | None) -> str:
    if backward_ok and cost_ok:
        return "your forward and your backward both match the reference"
    if backward_ok:
        return ("your backward matches the reference but your forward does not: the cost it "
                "computes differs (look at the loss, the 1/m or the L2 term)")
    if consistent is None:
        return ("your forward differs from the reference too" if not cost_ok else
                "your forward matches the reference, your backward does not")
    agree = all(consistent.values())
    wrong = [k for k, ok in consistent.items() if not ok]
    if cost_ok and not agree:
        return (f"your forward matches the reference, your backward does not: "
                f"{', '.join(wrong)} disagree with finite differences of your own forward; "
                f"look at the backward pass")
    if not cost_ok and agree:
        return ("your backward is consistent with your forward, but your forward differs "
                "from the reference: look at the cost")
    if not cost_ok:
        return (f"your forward differs from the reference, and your backward is not its "
                f"gradient either ({', '.join(wrong)} disagree with finite differences of your "
                f"forward): look at both")
    return ("your forward matches the reference's cost on these cases and your backward is its "
            "gradient, yet differs from the reference's: your forward must differ near these "
            "points (e.g. another convention at a kink)")


# --------------------------------------------------------------------------- the report
#: What NumPy (and most array libraries) say when two shapes do not fit together.
_SHAPE_ERROR = re.compile(r"could not be broadcast|operands could not|mismatch in its core "
                          r"dimension|shapes .* not aligned|size \d+ is different from \d+|"
                          r"incompatible (?:shapes|dimensions)|cannot reshape")


@dataclass
class ValidationReport:
    """Everything :func:`validate` found; ``exit_code`` follows the module docstring."""

    target: str
    settings: Settings
    cases: list[CaseReport] = field(default_factory=list)
    smallest: CaseReport | None = None
    shrink_tries: int = 0
    forward: ForwardAnalysis | None = None
    error: str = ""
    seconds: float = 0.0
    #: the boundary the implementation ran behind, as one report line ("isolation: namespaces (…)")
    isolation: str = ""
    instability: dict | None = None  # :func:`.stability.assess`: right where finite
    target_argv: list | None = None  # the target as options, for reproduction lines

    @property
    def ran(self) -> list[CaseReport]:
        """Cases with an answer that was compared (matches and mismatches)."""
        return [c for c in self.cases if c.status in ("match", "mismatch")]

    @property
    def skipped(self) -> list[CaseReport]:
        return [c for c in self.cases if c.status == "skipped"]

    @property
    def errors(self) -> list[CaseReport]:
        return [c for c in self.cases if c.status == "error"]

    @property
    def forward_bad(self) -> bool:
        return self.forward is not None and bool(self.forward.error or
                                                 self.forward.cost_matches is False)

    @property
    def exit_code(self) -> int:
        """0 every compared case matches (skipped ones aside); 1 something differs (a gradient,
        a cost, the forward); 2 something could not run and nothing differs; 4
        (:data:`~.stability.EXIT_UNSTABLE`) right where finite, unstable at saturation."""
        if self.error or not self.ran:
            return EXIT_ERROR
        if self.instability is not None:
            return EXIT_UNSTABLE
        if any(c.status == "mismatch" for c in self.cases) or self.forward_bad:
            return EXIT_FAILED
        return EXIT_ERROR if self.errors else EXIT_OK

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_OK

    def parameter_summary(self) -> list[dict]:
        """Per gradient name: in how many cases it was right, and the worst relative error."""
        rows: dict[str, dict] = {}
        for c in self.cases:
            for a in c.arrays:
                row = rows.setdefault(a.name, {"name": a.name, "ok": 0, "wrong": 0,
                                               "worst": None, "problems": []})
                row["ok" if a.ok else "wrong"] += 1
                if a.rel_error is not None:
                    rel = a.rel_error if np.isfinite(a.rel_error) else float("inf")
                    row["worst"] = rel if row["worst"] is None else max(row["worst"], rel)
                if a.problem and a.problem != "values" and a.problem not in row["problems"]:
                    row["problems"].append(a.problem)
        def order(row):   # by layer; dW, db, then dgamma, dbeta
            name = row["name"].rstrip("0123456789")
            return int(row["name"][len(name):] or 0), ("dW", "db", "dgamma", "dbeta").index(name) \
                if name in ("dW", "db", "dgamma", "dbeta") else 9, name
        return sorted(rows.values(), key=order)

    @property
    def layout_hint(self) -> str:
        """A suggestion when the shapes say the layout is another one: every case without an
        answer failed on a shape mismatch, as a row-major implementation given column-major
        arrays does; "" otherwise."""
        if self.ran or not self.errors or self.settings.layout != "columns":
            return ""
        if not all(_SHAPE_ERROR.search(c.error or "") for c in self.errors):
            return ""
        return ("hint: every case failed on a shape mismatch, as code written for another "
                "layout does: if the implementation is row-major (X (m, n_0), W (n_{l-1}, n_l), "
                "b (1, n_l)) run with --layout rows; PyTorch's W (out, in) is --layout torch")

    def summary(self) -> str:
        """One line: the verdict (OK, DIFFERS or COULD NOT RUN, as the exit code)."""
        n = len(self.cases)
        if self.error:
            return f"COULD NOT RUN: {self.error.splitlines()[0]}"
        skipped = (f"; {len(self.skipped)} skipped as unsupported by the implementation"
                   if self.skipped else "")
        if not self.ran:
            if self.skipped and not self.errors:
                return (f"COULD NOT RUN: the implementation supports none of the {n} cases "
                        f"(it answered '{UNSUPPORTED}'); choose options it supports")
            first = self.errors[0].error.splitlines()[0] if self.errors else ""
            return (f"COULD NOT RUN: the implementation gave no usable answer on any of "
                    f"{n - len(self.skipped)} cases{skipped}" + (f" ({first})" if first else ""))
        mismatches = sum(c.status == "mismatch" for c in self.cases)
        errors = (f"; {len(self.errors)} could not run (no answer)" if self.errors else "")
        if self.exit_code == EXIT_OK:
            return f"OK: all {len(self.ran)} compared cases match the reference{skipped}"
        if self.instability is not None:
            where = " or ".join(sorted({c.data for c in self.cases if c.status == "mismatch"}))
            return (f"UNSTABLE: {VERDICT} ({mismatches} of {len(self.ran)} compared cases, "
                    f"all on {where} data, give NaN or infinity where the reference is "
                    f"finite; every finite value matches){errors}{skipped}")
        if mismatches:
            return (f"DIFFERS: {mismatches} of {len(self.ran)} compared cases differ from the "
                    f"reference{errors}{skipped}")
        if self.forward_bad:
            return (f"DIFFERS: gradients match on all {len(self.ran)} compared cases, but the "
                    f"forward does not{errors}{skipped}")
        return (f"COULD NOT RUN: {len(self.errors)} of {n} cases gave no answer; the other "
                f"{len(self.ran)} match the reference{skipped}")

    def render(self, fmt: str = "text") -> str:
        from . import report as validate_report

        return validate_report.render(self, fmt)


# --------------------------------------------------------------------------- the driver
def validate(target: Target | Callable | str, settings: Settings, *,
             forward: Target | Callable | str | None = None, limits=None,
             same_user: bool = False, paths=()) -> ValidationReport:
    """Run ``target`` on ``settings.cases`` cases and compare with the reference.

    ``target``: a :class:`Target`, a callable (run in-process), or ``"FILE.py:FUNCTION"`` (run
    isolated, with its folder and ``paths`` as import roots). ``forward`` likewise, for the
    cost function. Never raises for the
    implementation's faults; raises ``ValueError``/``TypeError`` for bad arguments.
    """
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a Settings, got {type(settings).__name__}")
    shared: dict = {}
    owned = []

    def resolve(t, what):
        if t is None or isinstance(t, Target):
            return t
        if isinstance(t, str):
            capture = what == "target" and settings.returns == "update"
            resolved = python_target(t, limits=limits, same_user=same_user, paths=paths,
                                     capture=capture, _shared=shared)
            owned.append(resolved)
            return resolved
        if callable(t):
            return callable_target(t)
        raise TypeError(f"{what} must be a Target, a callable or 'FILE.py:FUNCTION', "
                        f"got {type(t).__name__}")

    start = time.perf_counter()
    impl = resolve(target, "target")
    fwd = resolve(forward, "forward")
    report = ValidationReport(impl.description, settings)
    report.target_argv = getattr(impl, "argv", None)
    try:
        for t in (impl, fwd):
            problem = t.ready() if t is not None else None
            if problem is not None:
                report.error = problem
                return report
        for k in range(settings.first_case, settings.first_case + settings.cases):
            case = _make_case(settings, k)
            report.cases.append(_judge(case, run_case(impl, case, settings), settings, k + 1))
        failing = [c for c in report.cases if c.status == "mismatch"]
        for c in failing:
            c._findings += [sentence for _, _, sentence in stability.mechanisms(c)]
        if failing:
            first = min(failing, key=lambda c: (c.data != "normal", c.case.size))
            report.smallest, report.shrink_tries = (
                _shrink(impl, first, settings) if settings.shrink else (first, 0))
        if report.smallest is not None and report.smallest not in failing:
            report.smallest._findings += [s for _, _, s in stability.mechanisms(report.smallest)]
        if fwd is not None and report.ran:
            report.forward = _forward_analysis(fwd, report.ran, report.smallest, settings)
        report.instability = stability.assess(report)
    finally:
        report.isolation = _isolation_line(impl, shared)
        for t in owned:
            t.close()
        for sub in shared.values():
            sub.close()
        report.seconds = time.perf_counter() - start
    return report


def _isolation_line(impl: Target, shared: dict) -> str:
    """The isolation level the target ran behind, as the grader's reports name it."""
    from ..isolation.levels import Isolation, choose

    if impl.in_process:
        return ("isolation: none (in-process: a Python callable called directly in this "
                "process, without the sandbox)")
    for sub in shared.values():
        if getattr(sub, "starts", 0):
            return sub.isolation.describe()
    try:
        return Isolation(choose("auto")).describe()
    except Exception as exc:  # noqa: BLE001 - a report line, never a failure of its own
        return f"isolation: unknown ({exc})"
