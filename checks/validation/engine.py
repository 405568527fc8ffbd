r"""``gradref validate``: check another implementation's gradients against the reference.

The implementation runs isolated (:mod:`gradref.checks.isolation`), on seeded random cases; every
gradient it returns is converted to the canonical layout and checked by
:func:`gradref.checks.api.check_network` against the autograd oracle of the reference cost (the
checker's tolerances and diagnosis); the smallest failing case is then searched for::

    gradref validate FILE.py:FUNCTION --layers 2,16,16,1 \
        --activations relu,relu,sigmoid --loss bce [--layout rows] [--forward FILE.py:COST]
    gradref validate --command "./impl {case} {out}" --layers … (any language)

Contract (Python): ``grads = FUNCTION(params, X, Y)`` with ``params = {"W1", "b1", …}`` in the
stated layout and ``grads = {"dW1", "db1", …}`` the gradient of
:math:`J = \frac1m\sum_i \ell_i + \frac{\lambda}{2m}\sum_l\lVert W_l\rVert^2` in the same layout.
With ``--random-architectures`` a fourth argument describes each case's network:
``{"layer_sizes", "activations", "loss", "l2"}``. ``--forward FILE.py:COST`` (``J = COST(params,
X, Y[, arch])``) adds the cost to the comparison and, when a gradient is wrong, finite
differences of that forward pass tell a wrong forward from a wrong backward.

Contract (command): see :data:`gradref.reference.casefile.FORMAT_DOC`. ``{case}`` and ``{out}`` are
replaced by paths, ``{python}`` by this interpreter; the command runs in the current directory.

Verdicts per case: *match*; *mismatch* (the implementation answered, and some array is wrong,
missing or of the wrong shape, or its cost differs); *error* (no usable answer: an exception,
a crash, a time-out, a non-zero exit status, a result that is not a dict of arrays or an
unreadable ``{out}`` file). Exit codes (:data:`EXIT_OK`, :data:`EXIT_FAILED`,
:data:`EXIT_ERROR`): 0 when every case matches; 1 when at least one case produced gradients and
something is wrong (mismatches, or errors on some cases); 2 when nothing could be compared
(file or function missing, load error, errors on every case) or the arguments are bad.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from gradref.reference import Network, get_activation, get_loss
from gradref.reference.layouts import BIASES, LAYOUTS, from_layout, to_layout

from .. import tolerances as _tolerances
from .targets import (
    Answer,
    Target,
    callable_target,
    command_target,
    python_target,
)

__all__ = [
    "EXIT_OK", "EXIT_FAILED", "EXIT_ERROR", "COST_RTOL",
    "Settings", "ArrayVerdict", "CaseReport", "ForwardAnalysis", "ValidationReport",
    "Target", "Answer", "callable_target", "python_target", "command_target",
    "validate",
]

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

#: Relative tolerance for the cost J when ``rtol`` is not given: ``|ΔJ| <= COST_RTOL·|J|``
#: (the gradients use the checker's autograd tolerances, :mod:`gradref.checks.tolerances`).
COST_RTOL = float(getattr(_tolerances, "VALIDATE_COST_RTOL", 1e-10))

_MAX_SHRINK_TRIES = 25


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Settings:
    """What to validate. ``layers`` is None only with ``random_architectures`` (then it bounds
    the depth and widths explored when given); ``losses`` has one entry unless exploring."""

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

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.bias not in BIASES:
            raise ValueError(f"bias must be one of {', '.join(BIASES)}, got {self.bias!r}")
        for name in ("cases",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        for name in ("l2", "rtol"):
            value = getattr(self, name)
            if value is None and name == "rtol":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.activations:
            raise ValueError("activations must name at least one activation")
        if not self.losses:
            raise ValueError("losses must name at least one loss")
        acts = [get_activation(a) for a in self.activations]  # raises naming the bad one
        losses = [get_loss(x) for x in self.losses]
        if self.random_architectures:
            if not any(loss.accepts(a) for loss in losses for a in acts):
                raise ValueError(f"no activation in {', '.join(self.activations)} can be the "
                                 f"output of loss {', '.join(self.losses)}")
        else:
            if self.layers is None:
                raise ValueError("layers is required unless random_architectures is set")
            if len(self.losses) != 1:
                raise ValueError(f"one loss is needed for a fixed architecture, got "
                                 f"{', '.join(self.losses)}")
            Network(self.layers, list(self.activations), self.losses[0], self.l2)

    def pairings(self) -> list[tuple[str, str]]:
        """(output activation, loss) pairs the random architectures draw from."""
        return [(a, x) for x in self.losses for a in self.activations
                if get_loss(x).accepts(get_activation(a))]

    def tolerances(self) -> dict[str, float] | None:
        """Overrides of the checker's autograd tolerances (None: its defaults)."""
        return None if self.rtol is None else {"autograd_rtol": self.rtol,
                                                "autograd_atol": self.rtol}

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
    arch_arg: bool
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

    def args(self, params: Mapping[str, np.ndarray] | None = None) -> tuple:
        """The implementation's arguments in its layout (fresh copies)."""
        params = self.params if params is None else params
        X, Y = (self.X, self.Y) if self.layout == "columns" else (self.X.T, self.Y.T)
        args = (to_layout(params, self.layout, self.bias), X.copy(), Y.copy())
        return (*args, self.net.describe()) if self.arch_arg else args


def _inputs(net: Network, m: int, rng: np.random.Generator):
    from ..strategies import make_targets

    params = net.init_params("xavier", seed=rng)
    for l in range(1, net.L + 1):
        params[f"b{l}"] = 0.1 * rng.standard_normal(params[f"b{l}"].shape)
    X = rng.standard_normal((net.layer_sizes[0], m))
    return params, X, make_targets(net, m, rng)


def _network(settings: Settings, rng: np.random.Generator) -> Network:
    if not settings.random_architectures:
        return Network(settings.layers, list(settings.activations), settings.losses[0],
                       settings.l2)
    max_depth = len(settings.layers) - 1 if settings.layers else 3
    max_width = max(settings.layers) if settings.layers else 5
    depth = int(rng.integers(1, max_depth + 1))
    sizes = [int(w) for w in rng.integers(1, max_width + 1, size=depth + 1)]
    pairs = settings.pairings()
    out, loss = pairs[int(rng.integers(len(pairs)))]
    if loss == "cross_entropy":
        sizes[-1] = max(sizes[-1], 2)
    hidden = [settings.activations[int(i)]
              for i in rng.integers(len(settings.activations), size=depth - 1)]
    return Network(sizes, hidden + [out], loss, settings.l2)


def _make_case(settings: Settings, index: int) -> _Case:
    rng = np.random.default_rng([settings.seed, index])
    net = _network(settings, rng)
    m = int(rng.integers(3, 9))  # not 2: there a missing 1/m and a factor 2 look alike
    return _Case(net, *_inputs(net, m, rng), settings.layout, settings.bias,
                 settings.random_architectures)


def _resized(case: _Case, sizes: Sequence[int], m: int, salt: int) -> _Case:
    net = Network(list(sizes), [a.spec for a in case.net.activations], case.net.loss.name,
                  case.net.l2)
    rng = np.random.default_rng([salt, *sizes, m])
    return _Case(net, *_inputs(net, m, rng), case.layout, case.bias, case.arch_arg)


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
    """The verdict on one case: ``status`` is "match", "mismatch" or "error"."""

    index: int | str
    network: dict
    m: int
    status: str
    arrays: list[ArrayVerdict] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    cost: dict | None = None  # {"got", "expected", "ok"} when the implementation gave a cost
    case: _Case | None = field(default=None, repr=False)
    answer: dict | None = field(default=None, repr=False)

    check: object = field(default=None, repr=False)  # the checker's CheckResult
    _findings: list[str] = field(default_factory=list, repr=False)

    @property
    def findings(self) -> list[str]:
        """The checker's diagnosis (and any problem it had), one sentence each."""
        return self._findings

    @property
    def failing(self) -> list[str]:
        return [a.name for a in self.arrays if not a.ok]

    def to_json(self, arrays: bool = False) -> dict:
        out = {"case": self.index, "network": self.network, "m": self.m, "status": self.status,
               "arrays": [a.to_json() for a in self.arrays], "findings": self.findings,
               "error": self.error or None, "seconds": self.seconds, "cost": self.cost}
        if arrays and self.case is not None:
            c = self.case
            params, X, Y = c.args()[:3]
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
                        case=case)
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
                           tolerances=settings.tolerances(), seed=settings.seed)
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
        report.cost = _cost_verdict(float(J.reshape(())), case.J, settings)
    wrong = not all(a.ok for a in report.arrays) or (report.cost and not report.cost["ok"])
    report.status = "mismatch" if wrong else "match"
    report.check = result
    report._findings = [f.message for f in result.diagnosis] + list(result.problems)
    return report


def _cost_verdict(got: float, expected: float, settings: Settings) -> dict:
    rtol = COST_RTOL if settings.rtol is None else settings.rtol
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
        candidate = _judge(case, target.call(case), settings, f"{report.index} (shrunk)")
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


def _forward_cost(forward: Target, case: _Case, params=None) -> float:
    answer = forward.call(case, params)
    if answer.error is not None:
        raise _CallFailed(answer.error)
    arr = _as_real_array(answer.value)
    if arr is None or arr.size != 1:
        raise _CallFailed(f"{forward.description} returned {type(answer.value).__name__}, "
                          f"expected one number (the cost J)")
    return float(arr.reshape(()))


def _consistency(forward: Target, report: CaseReport, seed: int) -> dict[str, bool]:
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
    rng = np.random.default_rng([seed, 104729])
    directions = {}
    for k in keys:
        v = rng.standard_normal(case.params[k].shape)
        directions[k] = v / np.linalg.norm(v)

    def f(x):
        params = {k: case.params[k] + float(x[f"d{k}"][0]) * directions[k] for k in keys}
        return _forward_cost(forward, case, params)

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
            J = _forward_cost(forward, r.case)
        except _CallFailed as exc:
            analysis.cost_cases.append({"case": r.index, "error": str(exc)})
            continue
        verdict = _cost_verdict(J, r.case.J, settings)
        analysis.cost_cases.append({"case": r.index, **verdict})
        matches.append(verdict["ok"])
    if not matches:
        analysis.error = next((c["error"] for c in analysis.cost_cases if "error" in c),
                              "the forward function was not called")
        return analysis
    analysis.cost_matches = all(matches)
    backward_ok = all(r.status == "match" for r in reports if r.status != "error")
    if smallest is not None and smallest.answer is not None:
        try:
            analysis.consistent = _consistency(forward, smallest, settings.seed)
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

    @property
    def ran(self) -> list[CaseReport]:
        return [c for c in self.cases if c.status != "error"]

    @property
    def exit_code(self) -> int:
        if self.error or not self.ran:
            return EXIT_ERROR
        forward_bad = self.forward is not None and (self.forward.error or
                                                    self.forward.cost_matches is False)
        if all(c.status == "match" for c in self.cases) and not forward_bad:
            return EXIT_OK
        return EXIT_FAILED

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
        return sorted(rows.values(), key=lambda r: (int(r["name"][2:]), r["name"][1]))

    def summary(self) -> str:
        """One line: the verdict."""
        n, ran = len(self.cases), len(self.ran)
        if self.error:
            return f"ERROR: {self.error.splitlines()[0]}"
        if not ran:
            return f"ERROR: the implementation gave no usable answer on any of {n} cases"
        bad = sum(c.status != "match" for c in self.cases)
        if self.exit_code == EXIT_OK:
            return f"OK: all {n} cases match the reference"
        if bad == 0:
            return f"FAILED: gradients match on all {n} cases, but the forward does not"
        errors = n - ran
        extra = f" ({errors} without an answer)" if errors else ""
        return f"FAILED: {bad} of {n} cases differ from the reference{extra}"

    def render(self, fmt: str = "text") -> str:
        from . import report as validate_report

        return validate_report.render(self, fmt)


# --------------------------------------------------------------------------- the driver
def validate(target: Target | Callable | str, settings: Settings, *,
             forward: Target | Callable | str | None = None, limits=None,
             same_user: bool = False) -> ValidationReport:
    """Run ``target`` on ``settings.cases`` cases and compare with the reference.

    ``target``: a :class:`Target`, a callable (run in-process), or ``"FILE.py:FUNCTION"`` (run
    isolated). ``forward`` likewise, for the cost function. Never raises for the
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
            resolved = python_target(t, limits=limits, same_user=same_user, _shared=shared)
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
    try:
        for t in (impl, fwd):
            problem = t.ready() if t is not None else None
            if problem is not None:
                report.error = problem
                return report
        for k in range(settings.cases):
            case = _make_case(settings, k)
            report.cases.append(_judge(case, impl.call(case), settings, k + 1))
        failing = [c for c in report.cases if c.status == "mismatch"]
        if failing:
            first = min(failing, key=lambda c: c.case.size)
            report.smallest, report.shrink_tries = (
                _shrink(impl, first, settings) if settings.shrink else (first, 0))
        if fwd is not None and report.ran:
            report.forward = _forward_analysis(fwd, report.ran, report.smallest, settings)
    finally:
        for t in owned:
            t.close()
        for sub in shared.values():
            sub.close()
        report.seconds = time.perf_counter() - start
    return report
