r"""``gradref verify``: the reference checked by finite differences and by autograd.

N random architectures are built so that every hidden activation meets every valid (output
activation, loss) pairing (``gradref.checks.strategies``: the registry's activations with default
parameters plus ``leaky_relu(0.05)`` and ``elu(0.5)``; a pairing is valid when
``loss.accepts(activation)``). Architecture i takes pairing ``i mod P`` and first hidden
activation ``(i div P) mod H``, so the default N = P·H covers the whole product once; the other
widths, depths (2–3 layers), batch sizes and λ are drawn from the seed. The data cycle through
three kinds: standard normal; *integer* (integer inputs, weights in {-1, 0, 1}, zero biases,
which put pre-activations exactly on the kinks); *saturated* (weights scaled so that
|Z| reaches about 30).

Then K more architectures (``--layers K``, default :data:`LAYER_DEFAULT`) have the optional
layers in every hidden layer, taking :data:`LAYER_OPTIONS` in turn: dropout (keep probability
0.5 or 0.8, masks drawn from the seed), batch norm, layer norm; half of each also get the other
kind (a normalisation with dropout, dropout with a normalisation), γ near 1 and β small, and the
same cycle of data kinds. A third table has one row per option.

Each architecture runs :func:`gradref.checks.api.check_network` on the reference's own ``backward``
with both oracles. The report has one row per pairing — architectures tried, the worst relative
error against finite differences and against autograd, the kinks met — and one row per hidden
activation. Exit status 0 only when every check passes, 1 otherwise.

``--plot PNG`` (needs matplotlib) draws the error of the finite differences against autograd as
a function of the step (the V of truncation against rounding, default step marked) and the
worst error of every array (dW, db, dZ, dA by layer) over all runs, in the table's metric
(:func:`scaled_errors`): the tallest bar of each oracle is the table's worst, drawn as a dotted
line; infinite or NaN errors are drawn hatched and labelled, zeros labelled "0". The command
prints where it wrote the file. A legend under the tables explains every column and marker.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from gradref.reference import Network, get_activation
from gradref.reference.argtypes import add_output_arguments, int_at_least, output_of, writable_path

from .api import MODES, check_network
from .network_fd import NetworkFD
from .oracle import oracle_gradients
from .result import CheckResult
from .strategies import hidden_activations, make_targets, valid_pairings

__all__ = ["DATA_KINDS", "LAYER_OPTIONS", "LAYER_DEFAULT", "Case", "build_cases",
           "build_layer_cases", "layer_rows", "default_architectures", "verify",
           "add_arguments", "run", "step_sweep"]

#: The three kinds of data, used in turn.
DATA_KINDS = ("normal", "integer", "saturated")
#: The optional layers, each put in every hidden layer of its architectures in turn.
LAYER_OPTIONS = ("dropout", "batchnorm", "layernorm")
#: Architectures with the optional layers that ``gradref verify`` adds: each option meets
#: each data kind.
LAYER_DEFAULT = len(LAYER_OPTIONS) * len(DATA_KINDS)


@dataclass
class Case:
    """One architecture with its data and the check's outcome."""

    index: int
    net: Network
    data: str
    params: dict
    X: np.ndarray
    Y: np.ndarray
    result: CheckResult | None = None

    def summary(self) -> dict:
        r = self.result
        return {"index": self.index, "network": self.net.describe(), "data": self.data,
                "passed": None if r is None else r.passed,
                "worst_rel_fd": _worst(r, "fd"), "worst_rel_autograd": _worst(r, "autograd"),
                "kinks": _kinks(r), "unverified": _unverified(r)}


def default_architectures() -> int:
    """P·H: every valid pairing times every hidden activation."""
    return len(valid_pairings()) * len(hidden_activations())


def build_cases(n: int, seed: int) -> list[Case]:
    """The ``n`` architectures and their data (module docstring), all from ``seed``."""
    pairs, hidden = valid_pairings(), hidden_activations()
    rng = np.random.default_rng([seed, 7919])
    cases = []
    for i in range(n):
        out, loss = pairs[i % len(pairs)]
        first = hidden[(i // len(pairs)) % len(hidden)]
        cases.append(_case(i, rng, first, out, loss, DATA_KINDS[i % len(DATA_KINDS)]))
    return cases


def build_layer_cases(k: int, seed: int, start: int = 0) -> list[Case]:
    """``k`` architectures with the optional layers (module docstring), indices from
    ``start``, all from ``seed``."""
    pairs, hidden = valid_pairings(), hidden_activations()
    rng = np.random.default_rng([seed, 104729])
    cases = []
    for j in range(k):
        option = LAYER_OPTIONS[j % len(LAYER_OPTIONS)]
        kind = DATA_KINDS[(j // len(LAYER_OPTIONS)) % len(DATA_KINDS)]
        out, loss = pairs[int(rng.integers(len(pairs)))]
        first = hidden[int(rng.integers(len(hidden)))]
        both = bool(rng.integers(2))
        if option == "dropout":
            layers = {"dropout": float(rng.choice([0.5, 0.8])),
                      "normalization": str(rng.choice(["batchnorm", "layernorm"])) if both else None}
        else:
            layers = {"normalization": option,
                      "dropout": float(rng.choice([0.5, 0.8])) if both else None}
        cases.append(_case(start + j, rng, first, out, loss, kind, layers))
    return cases


def _case(i: int, rng: np.random.Generator, first: str, out: str, loss: str, kind: str,
          layers: dict | None = None) -> Case:
    hidden = hidden_activations()
    depth = int(rng.integers(2, 4))
    acts = [first] + [hidden[int(rng.integers(len(hidden)))] for _ in range(depth - 2)] + [out]
    sizes = [int(s) for s in rng.integers(1, 6, size=depth + 1)]
    if loss == "cross_entropy":
        sizes[-1] = max(2, sizes[-1])
    net = Network(sizes, acts, loss, l2=float(rng.choice([0.0, 0.3])), **(layers or {}))
    m = int(rng.integers(2, 7))
    params = net.init_params("xavier", seed=rng)
    if kind == "integer":
        for k in params:
            params[k] = (rng.integers(-1, 2, size=params[k].shape).astype(np.float64)
                         if k[0] == "W" else np.zeros(params[k].shape))
        X = rng.integers(-2, 3, size=(sizes[0], m)).astype(np.float64)
    else:
        for k in params:
            if k[0] == "b":
                params[k] = 0.1 * rng.standard_normal(params[k].shape)
        X = rng.standard_normal((sizes[0], m))
        if kind == "saturated":
            for k in params:
                params[k] = params[k] * 12.0
    for k in params:
        if k.startswith(("gamma", "beta")):
            shift = 1.0 if k[0] == "g" else 0.0
            params[k] = shift + 0.3 * rng.standard_normal(params[k].shape)
    if net.mask_shapes(m):
        net = net.with_masks(net.draw_masks(m, rng))
    return Case(i, net, kind, params, X, make_targets(net, m, rng))


def scaled_errors(r: CheckResult | None, oracle: str) -> dict[str, float]:
    """Per array compared with ``oracle``: max |a - e| (kinks aside) divided by the largest
    |e| over *every* array of that oracle in the run, i.e. each array's error on the scale of
    the whole gradient (an array that is exactly zero, a dead or saturated layer, does not
    turn rounding noise into a ratio of 1 or inf). In directional mode the finite differences
    compare draws, not arrays: one entry, ``"∇J·v"``, max |a·v - D| / max |D| over the draws
    away from kinks. Empty when there is nothing to scale by (a gradient that is zero
    everywhere: its elements are still judged one by one, the err/tol column)."""
    if r is None:
        return {}
    if oracle == "fd" and r.mode == "directional":
        draws = [d for d in r.draws if not d.kink and not d.unverified]
        top = max((abs(d.numeric) for d in draws), default=0.0)
        return {"∇J·v": max(d.error for d in draws) / top} if top > 0 else {}
    arrays = [a for a in r.arrays if a.oracle == oracle and a.max_expected is not None]
    top = max((a.max_expected for a in arrays), default=0.0)
    if not top > 0:
        return {}
    return {a.name: a.smooth_abs_err / top for a in arrays}


def _worst(r: CheckResult | None, oracle: str) -> float | None:
    """The table's number: the largest of :func:`scaled_errors` (None when there is none)."""
    errors = scaled_errors(r, oracle)
    return max(errors.values(), key=_order_key) if errors else None


def _order_key(x: float) -> float:
    """NaN sorts above everything (an unknown error is the worst)."""
    return math.inf if math.isnan(x) else x


def _kinks(r: CheckResult | None) -> int:
    return 0 if r is None else sum(a.kinks for a in r.arrays if a.oracle == "fd")


def _unverified(r: CheckResult | None) -> int:
    return 0 if r is None else sum(a.unverified for a in r.arrays if a.oracle == "fd")


@dataclass
class Row:
    label: str
    tried: int = 0
    failed: int = 0
    worst_fd: float | None = None
    worst_autograd: float | None = None
    worst_ratio: float | None = None
    kinks: int = 0
    unverified: int = 0
    extra: dict = field(default_factory=dict)

    def add(self, case: Case) -> None:
        r = case.result
        self.tried += 1
        self.failed += 0 if r.passed else 1
        for attr, oracle in (("worst_fd", "fd"), ("worst_autograd", "autograd")):
            w = _worst(r, oracle)
            if w is not None:
                cur = getattr(self, attr)
                setattr(self, attr, w if cur is None else max(cur, w, key=_order_key))
        ratios = [a.worst_ratio for a in r.arrays if a.worst_ratio is not None]
        if ratios:
            self.worst_ratio = max(ratios + ([self.worst_ratio] if self.worst_ratio else []))
        self.kinks += _kinks(r)
        self.unverified += _unverified(r)

    def to_dict(self) -> dict:
        return {"label": self.label, "architectures": self.tried, "failed": self.failed,
                "worst_rel_fd": self.worst_fd, "worst_rel_autograd": self.worst_autograd,
                "worst_err_over_tol": self.worst_ratio, "kinks": self.kinks, "unverified": self.unverified}


def verify(n: int | None = None, seed: int = 0, mode: str = "full",
           progress=None, layers: int = 0) -> tuple[list[Case], list[Row], list[Row]]:
    """Run the checks; returns the cases and the rows by pairing and by hidden activation.
    ``layers``: architectures with the optional layers added after the ``n`` plain ones
    (:func:`layer_rows` tabulates them)."""
    n = default_architectures() if n is None else n
    cases = build_cases(n, seed) + build_layer_cases(layers, seed, start=n)
    by_pair = {(get_activation(o).spec, l): Row(f"{o} + {l}") for o, l in valid_pairings()}
    by_hidden = {get_activation(h).spec: Row(h) for h in hidden_activations()}
    for case in cases:
        case.result = check_network(case.net, case.net, case.params, case.X, case.Y,
                                    mode=mode, oracle="both", seed=seed + case.index)
        out = case.net.activations[-1].spec
        by_pair[(out, case.net.loss.name)].add(case)
        for a in {a.spec for a in case.net.activations[:-1]}:
            if a in by_hidden:
                by_hidden[a].add(case)
        if progress is not None:
            progress(case)
    return cases, list(by_pair.values()), list(by_hidden.values())


def layer_option(case: Case) -> list[str]:
    """The optional layers an architecture has (of :data:`LAYER_OPTIONS`)."""
    net = case.net
    found = ["dropout"] if any(net.keep_probs) else []
    return found + [o for o in LAYER_OPTIONS[1:] if o in net.normalization]


def layer_rows(cases: list[Case]) -> list[Row]:
    """One row per optional layer: the architectures that have it."""
    rows = {o: Row(o) for o in LAYER_OPTIONS}
    for case in cases:
        if case.result is not None:
            for o in layer_option(case):
                rows[o].add(case)
    return list(rows.values())


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def render(rows: list[Row], title: str) -> list[str]:
    head = [title, "archs", "failed", "info: rel diff vs FD", "info: vs autograd",
            "verdict: err/tol < 1", "kinks", "status"]
    body = [[r.label, str(r.tried), str(r.failed), _fmt(r.worst_fd), _fmt(r.worst_autograd),
             _fmt(r.worst_ratio), str(r.kinks) + (f" (+{r.unverified} unverified)" if r.unverified else ""),
             "-" if not r.tried else ("ok" if not r.failed else "FAIL")] for r in rows]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]
    fmt = lambda x: "  ".join(c.ljust(w) if i in (0, 7) else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(x, widths, strict=True))).rstrip()
    return [fmt(head)] + [fmt(x) for x in body]


def legend(mode: str) -> list[str]:
    """What every column and marker of the tables means."""
    fd = ("max |∇J·v - D(h)| over the directional draws / max |D(h)| (directional mode "
          "compares random directions, not arrays)" if mode == "directional" else
          "max |analytic - finite difference| over every array / its largest entry")
    return [
        "columns:",
        "  archs                 architectures whose network has this output + loss (or this "
        "hidden activation)",
        "  failed                architectures whose check failed",
        f"  info: rel diff vs FD  {fd}, kinks aside; worst over the architectures. "
        "Information, not the verdict: a large array with a few tiny entries (softmax) can show "
        "1e-2 here and pass",
        "  info: vs autograd     the same against the autograd oracle (elementwise, all arrays)",
        "  verdict: err/tol < 1  the largest |error| / tolerance of any element, each judged "
        "against its own tolerance: below 1 passes, above 1 fails (this decides 'status')",
        "  kinks                 elements found at a kink and accepted (inside the one-sided "
        "slopes)",
        "  (+N unverified)       kink elements finite differences cannot judge (one example "
        "crossed several kinked units): neither passed nor failed",
        "  status                ok / FAIL; '-' when no architecture had it; '-' in a number "
        "column: nothing to measure",
    ]


# --------------------------------------------------------------------------- plot
def step_sweep(case: Case, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each relative step: the largest |finite difference - autograd| over the
    parameters, and the largest error the finite differences estimated for themselves."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        expected = oracle_gradients(case.net, case.params, case.X, case.Y)
    out, estimated = [], []
    for s in steps:
        fd = NetworkFD(case.net, case.params, case.X, case.Y, tolerances=None)
        fd.tol["step"] = float(s)
        worst = guess = 0.0
        for k in case.params:
            est = fd.parameter(k)
            worst = max(worst, float(np.max(np.abs(est.numeric - expected[f"d{k}"].ravel()))))
            guess = max(guess, float(np.max(est.error)))
        out.append(worst)
        estimated.append(guess)
    return np.array(out), np.array(estimated)


def array_errors(cases: list[Case]) -> dict[tuple[str, str], float]:
    """``(array, oracle) -> worst`` :func:`scaled_errors` over the runs: the bars of the plot.
    The largest bar of an oracle is the table's worst relative error for that oracle."""
    worst: dict[tuple[str, str], float] = {}
    for c in cases:
        for oracle in ("fd", "autograd"):
            for name, v in scaled_errors(c.result, oracle).items():
                key = (name, oracle)
                worst[key] = v if key not in worst else max(worst[key], v, key=_order_key)
    return worst


def _array_order(name: str) -> tuple:
    kind, layer = name[:2], name[2:]
    return (kind, int(layer) if layer.isdigit() else -1, name)


def _plot(path, cases: list[Case], rows: list[Row]) -> str | None:
    """Draw the two panels; returns a sentence when the plot could not be drawn."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Patch
    except ImportError:
        return "matplotlib is not installed (pip install 'gradref[plot]'): --plot skipped"
    fig = Figure(figsize=(11.5, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)

    # left: error versus step on one smooth case
    plain = [c for c in cases if not c.net.has_layers] or cases
    smooth = next((c for c in plain if c.data == "normal"
                   and not any(a.kinks for a in c.net.activations)), plain[0])
    steps = np.logspace(-12, -1, 23)
    errs, estimated = step_sweep(smooth, steps)
    for values, style, label in (
            (errs, "o-", "measured: max |FD - autograd|"),
            (estimated, "s--", "estimated: 4/3|D(h)-D(h/2)| + rounding")):
        ok = np.isfinite(values) & (values > 0)
        ax1.loglog(steps[ok], values[ok], style, ms=4, label=label)
    default = float(np.finfo(float).eps ** (1 / 3))
    ax1.axvline(default, color="grey", ls="--", label=f"default step ε^(1/3) = {default:.1e}")
    ax1.set_xlabel("relative step h")
    ax1.set_ylabel("largest absolute error over the parameters")
    ax1.set_title(f"error versus step (zero or non-finite points omitted)\n{smooth.net!r}",
                  fontsize=8)
    ax1.legend(fontsize=7)

    # right: the table's metric per array, worst over the runs
    worst = array_errors(cases)
    names = sorted({k[0] for k in worst}, key=_array_order)
    finite = [v for v in worst.values() if math.isfinite(v) and v > 0]
    floor = min(finite) / 10 if finite else 1e-18
    ceiling = max(finite) * 10 if finite else 1.0
    x = np.arange(len(names))
    colours = {"fd": "tab:blue", "autograd": "tab:orange"}
    handles = []
    for off, oracle in ((-0.2, "fd"), (0.2, "autograd")):
        for i, n in enumerate(names):
            v = worst.get((n, oracle))
            if v is None:
                continue
            shown = min(max(v, floor), ceiling) if not math.isnan(v) else floor
            ax2.bar(x[i] + off, shown, 0.4, color=colours[oracle],
                    hatch="//" if not math.isfinite(v) else None)
            if not math.isfinite(v) or v == 0:
                ax2.annotate("NaN" if math.isnan(v) else "inf" if v > 0 else "0",
                             (x[i] + off, shown), ha="center", va="bottom", fontsize=7)
        table = [getattr(r, f"worst_{oracle}") for r in rows]
        table = [t for t in table if t is not None]
        label = f"vs {'finite differences' if oracle == 'fd' else oracle}"
        if table:
            top = max(table, key=_order_key)
            label += f" (table's worst: {top:.1e})"
            if math.isfinite(top) and top > 0:
                ax2.axhline(top, color=colours[oracle], ls=":", lw=1)
        handles.append(Patch(color=colours[oracle], label=label))
    ax2.set_yscale("log")
    ax2.set_ylim(floor / 2, ceiling * 2)
    ax2.set_xticks(x, names, rotation=60, fontsize=7)
    ax2.set_ylabel("worst relative error over all runs\n(on the whole gradient's scale)")
    ax2.set_title("per-array errors, the table's metric (dotted: the table's worst)",
                  fontsize=9)
    ax2.legend(handles=handles, fontsize=7)
    fig.savefig(path, dpi=120)
    return None


# --------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``verify``'s options on ``parser``."""
    parser.add_argument("--architectures", type=int_at_least(1), default=None, metavar="N",
                        help=f"number of random architectures (default "
                             f"{default_architectures()}: every pairing x every hidden "
                             f"activation)")
    parser.add_argument("--layers", type=int_at_least(0), default=LAYER_DEFAULT, metavar="K",
                        help=f"architectures with dropout, batch norm or layer norm in every "
                             f"hidden layer, added to the others (default {LAYER_DEFAULT}: each "
                             f"option with each kind of data)")
    parser.add_argument("--seed", type=int_at_least(0), default=0, metavar="S",
                        help="seed of the architectures, data, samples and directions")
    parser.add_argument("--mode", choices=MODES, default="full",
                        help="finite-difference mode (default: full)")
    add_output_arguments(parser, json_alias=True)
    parser.add_argument("--plot", metavar="PNG", default=None, type=writable_path,
                        help="draw the error versus the finite-difference step on one smooth "
                             "network, and each array's worst error in the table's metric "
                             "(needs matplotlib)")


def run(args: argparse.Namespace) -> int:
    """Run ``verify`` and print the report; 0 when everything passes, 1 otherwise."""
    fmt, path = output_of(args)
    start = time.perf_counter()
    cases, pairs, hidden = verify(args.architectures, args.seed, args.mode,
                                  layers=args.layers)
    layered = layer_rows(cases)
    failed = [c for c in cases if not c.result.passed]
    seconds = time.perf_counter() - start
    fd = ("finite differences along random directions" if args.mode == "directional"
          else "finite differences")
    out = [f"gradref verify: {len(cases)} architectures, mode {args.mode}, seed {args.seed}, "
           f"oracles {fd} + autograd", ""]
    out += render(pairs, "output + loss") + [""] + render(hidden, "hidden activation")
    if args.layers:
        out += [""] + render(layered, "optional layer")
    out += [""] + legend(args.mode)
    kinds = {k: sum(c.data == k for c in cases) for k in DATA_KINDS}
    evals = sum(c.result.evaluations for c in cases)
    out += ["", "data: " + ", ".join(f"{v} {k}" for k, v in kinds.items())
            + f"; {evals:,} cost evaluations in {seconds:.1f} s"]
    for c in failed[:3]:
        out += ["", f"architecture {c.index} ({c.data} data) failed:", c.result.to_text()]
    verdict = (f"FAILED: {len(failed)} of {len(cases)} architectures" if failed
               else f"PASSED: all {len(cases)} architectures")
    out += ["", verdict]
    text = "\n".join(out)
    if fmt == "json":
        report = {"passed": not failed, "architectures": len(cases), "seed": args.seed,
                  "mode": args.mode, "seconds": seconds,
                  "pairings": [r.to_dict() for r in pairs],
                  "hidden": [r.to_dict() for r in hidden],
                  "layers": [r.to_dict() for r in layered],
                  "runs": [c.summary() for c in cases],
                  "failures": [c.result.to_dict() for c in failed]}
        text_json = json.dumps(report, indent=2)
    if path is None:
        print(text_json if fmt == "json" else text)
    else:
        path.write_text((text_json if fmt == "json" else text) + "\n", encoding="utf-8")
        print(text)
        print(f"wrote {path}")
    if args.plot:
        problem = _plot(args.plot, cases, pairs)
        if problem:
            print(problem, file=sys.stderr)
        else:
            print(f"wrote the plot to {args.plot}")
    return 1 if failed else 0
