r"""Result objects of a gradient check, and their text and JSON renderings.

A :class:`CheckResult` holds one :class:`ArrayCheck` per (array, oracle) pair — ``dW1`` against
finite differences, ``dW1`` against autograd, ``dZ2`` against autograd, … — with, for each,
the largest absolute and relative errors, the worst elements, the tolerances and steps, the kink
counts and margins and whether it passed; plus the directional draws and the elements they were
localised to, the diagnosis findings, the sensitivity statements, and the cost (evaluations of
the cost function and seconds).

Errors. For an element with analytic value :math:`a`, reference value :math:`e` (numeric or
oracle) and tolerance :math:`t`: absolute error :math:`|a-e|`; ``err/tol`` is :math:`|a-e|/t`,
and an element fails when it exceeds 1. At a kink the error is the distance from :math:`a` to
the interval of one-sided slopes. The relative error of an array is normwise,
:math:`\max_i|a_i-e_i| / \max_i|e_i|` over the elements judged away from kinks (elementwise
ratios of values near zero are noise and say nothing); the worst elements carry their own
values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .tolerances import Sensitivity

__all__ = ["Element", "ArrayCheck", "Draw", "Localisation", "CheckResult", "summarise",
           "GradientCheckError"]


class GradientCheckError(AssertionError):
    """Raised by ``check_gradients``/``check_network`` with ``raise_exception=True`` when the
    check fails. The message is the failing part of the report (:meth:`CheckResult.failure_text`);
    ``result`` is the whole :class:`CheckResult`. An ``AssertionError``, so that test runners
    show it as a failed assertion."""

    def __init__(self, result: CheckResult):
        super().__init__(result.failure_text())
        self.result = result


def _num(x: Any) -> Any:
    """JSON-safe number: NaN and infinities become None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class Element:
    """One element: its index in the array, the analytic and reference values, the error."""

    index: tuple[int, ...]
    analytic: float
    expected: float
    error: float
    tol: float
    kink: bool = False
    lower: float | None = None
    upper: float | None = None

    def to_dict(self) -> dict:
        out = {"index": list(self.index), "analytic": _num(self.analytic),
               "expected": _num(self.expected), "error": _num(self.error), "tol": _num(self.tol),
               "kink": self.kink}
        if self.kink:
            out["interval"] = [_num(self.lower), _num(self.upper)]
        return out


@dataclass
class ArrayCheck:
    """One array compared with one oracle (``"fd"`` or ``"autograd"``).

    ``problem`` is set when the array could not be compared at all (missing, wrong shape,
    not numeric); ``failed`` counts elements outside their tolerance (non-finite ones
    included). ``kinks`` counts elements judged at a kink and accepted, ``unverified`` those
    at a kink that finite differences cannot judge; ``kink_margin`` is the smallest
    ``tol - error`` among accepted kink elements (how close the closest came to failing).
    """

    name: str
    oracle: str
    shape: tuple[int, ...]
    checked: int = 0
    failed: int = 0
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    worst_ratio: float | None = None
    max_tol: float | None = None
    step: float | None = None
    kinks: int = 0
    kink_margin: float | None = None
    unverified: int = 0
    adjudicated: int = 0
    worst: list[Element] = field(default_factory=list)
    problem: str | None = None
    #: max |a - e| and max |e| over the judged elements away from kinks (the two terms of
    #: ``max_rel_err``), kept so that errors can be put on the scale of the whole gradient.
    smooth_abs_err: float | None = None
    max_expected: float | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None and self.failed == 0

    def to_dict(self) -> dict:
        return {"name": self.name, "oracle": self.oracle, "shape": list(self.shape),
                "passed": self.passed, "checked": self.checked, "failed": self.failed,
                "max_abs_err": _num(self.max_abs_err), "max_rel_err": _num(self.max_rel_err),
                "worst_ratio": _num(self.worst_ratio), "max_tol": _num(self.max_tol),
                "step": _num(self.step), "kinks": self.kinks,
                "kink_margin": _num(self.kink_margin), "unverified": self.unverified,
                "adjudicated": self.adjudicated,
                "worst": [w.to_dict() for w in self.worst], "problem": self.problem}


def summarise(name: str, oracle: str, shape: tuple[int, ...], analytic: np.ndarray,
              expected: np.ndarray, err: np.ndarray, tol: np.ndarray, failed: np.ndarray,
              indices: np.ndarray | None = None, *, kink: np.ndarray | None = None,
              unverified: np.ndarray | None = None, lower: np.ndarray | None = None,
              upper: np.ndarray | None = None, step: np.ndarray | None = None,
              worst: int = 3) -> ArrayCheck:
    """Build an :class:`ArrayCheck` from per-element arrays (flat, aligned with ``indices``,
    the flat positions in an array of ``shape``; default: all of them in order)."""
    a = np.asarray(analytic, float).ravel()
    e = np.asarray(expected, float).ravel()
    err, tol = np.asarray(err, float).ravel(), np.asarray(tol, float).ravel()
    failed = np.asarray(failed, bool).ravel()
    n = a.size
    idx = np.arange(n) if indices is None else np.asarray(indices, dtype=np.intp)
    kink = np.zeros(n, bool) if kink is None else np.asarray(kink, bool)
    unv = np.zeros(n, bool) if unverified is None else np.asarray(unverified, bool)
    out = ArrayCheck(name, oracle, tuple(shape), checked=int(n - unv.sum()),
                     failed=int(failed.sum()), unverified=int(unv.sum()))
    if n == 0:
        return out
    judged = ~unv
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.any(judged):
            finite_err = np.where(np.isfinite(err), err, np.inf)[judged]
            out.max_abs_err = float(np.max(finite_err))
            out.worst_ratio = float(np.max(np.where(tol[judged] > 0,
                                                    finite_err / tol[judged], np.inf)))
            out.max_tol = float(np.max(tol[judged]))
        smooth = judged & ~kink
        if np.any(smooth):
            top = float(np.max(np.abs(e[smooth])))
            diff = float(np.max(np.abs(a - e)[smooth]))
            out.max_rel_err = diff / top if top > 0 else (0.0 if diff == 0 else math.inf)
            out.smooth_abs_err, out.max_expected = diff, top
        accepted = kink & judged & ~failed
        out.kinks = int(accepted.sum())
        if np.any(accepted):
            out.kink_margin = float(np.min(tol[accepted] - err[accepted]))
        if step is not None and np.size(step):
            out.step = float(np.median(np.asarray(step, float)))
        ratio = np.where(judged, np.where(tol > 0, err / tol, np.inf), -np.inf)
        ratio = np.where(np.isnan(ratio), np.inf, ratio)
    order = np.argsort(-ratio, kind="stable")[:worst]
    for i in order:
        if not judged[i]:
            continue
        out.worst.append(Element(
            tuple(int(j) for j in np.unravel_index(int(idx[i]), shape)) if shape else (),
            float(a[i]), float(e[i]), float(err[i]), float(tol[i]), bool(kink[i]),
            None if lower is None else float(lower[i]),
            None if upper is None else float(upper[i])))
    return out


@dataclass
class Draw:
    """One directional draw: :math:`\\nabla J\\cdot v` (analytic) against the central
    difference along :math:`v`."""

    index: int
    analytic: float
    numeric: float
    error: float
    tol: float
    kink: bool = False
    unverified: bool = False
    lower: float | None = None
    upper: float | None = None
    failed: bool = False

    def to_dict(self) -> dict:
        return {"index": self.index, "analytic": _num(self.analytic),
                "numeric": _num(self.numeric), "error": _num(self.error), "tol": _num(self.tol),
                "kink": self.kink, "unverified": self.unverified,
                "interval": [_num(self.lower), _num(self.upper)] if self.kink else None,
                "failed": self.failed}


@dataclass
class Localisation:
    """Where bisection over parameter blocks led for one failing draw: the element, its
    elementwise check, and the evaluations spent (``path``: the blocks visited)."""

    draw: int
    name: str
    index: tuple[int, ...]
    analytic: float
    numeric: float
    tol: float
    failed: bool
    evaluations: int
    path: list[str] = field(default_factory=list)
    #: (lower, upper) one-sided slopes when the element is at a kink, else None
    interval: tuple[float, float] | None = None

    def to_dict(self) -> dict:
        return {"draw": self.draw, "name": self.name, "index": list(self.index),
                "analytic": _num(self.analytic), "numeric": _num(self.numeric),
                "tol": _num(self.tol), "failed": self.failed, "evaluations": self.evaluations,
                "path": list(self.path),
                "interval": None if self.interval is None else [_num(v) for v in self.interval]}


@dataclass
class CheckResult:
    """The outcome of :func:`gradref.checks.api.check_network` or :func:`gradref.checks.api.check_gradients`.

    ``passed`` is true when no array has a problem or failing element and no directional draw
    failed; the result itself is truthy exactly when it passed (``assert check_gradients(...)``
    works). Unverified kink elements do not fail a check; they are counted and reported.
    ``dtypes`` names the tolerance tables used: ``{"gradient": …, "function": …}``.
    """

    subject: str
    mode: str
    oracles: tuple[str, ...]
    seed: int | None
    order: int
    m: int | None = None
    arrays: list[ArrayCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    draws: list[Draw] = field(default_factory=list)
    localisations: list[Localisation] = field(default_factory=list)
    diagnosis: list = field(default_factory=list)
    sensitivity: list[Sensitivity] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    evaluations: int = 0
    seconds: float = 0.0
    tolerances: dict = field(default_factory=dict)
    dtypes: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (not self.problems and all(a.passed for a in self.arrays)
                and not any(d.failed for d in self.draws))

    def __bool__(self) -> bool:
        return self.passed

    def array(self, name: str, oracle: str) -> ArrayCheck:
        """The check of ``name`` (e.g. ``"dW1"``) against ``oracle``."""
        for a in self.arrays:
            if a.name == name and a.oracle == oracle:
                return a
        raise KeyError(f"no check of {name!r} against {oracle!r}; have "
                       f"{', '.join(f'{a.name}/{a.oracle}' for a in self.arrays) or 'none'}")

    @property
    def failures(self) -> list[ArrayCheck]:
        return [a for a in self.arrays if not a.passed]

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {
            "passed": self.passed, "subject": self.subject, "mode": self.mode,
            "oracles": list(self.oracles), "seed": self.seed, "order": self.order, "m": self.m,
            "problems": list(self.problems),
            "arrays": [a.to_dict() for a in self.arrays],
            "draws": [d.to_dict() for d in self.draws],
            "localisations": [x.to_dict() for x in self.localisations],
            "diagnosis": [f.to_dict() if hasattr(f, "to_dict") else str(f)
                          for f in self.diagnosis],
            "sensitivity": [s.to_dict() for s in self.sensitivity],
            "notes": list(self.notes),
            "cost": {"evaluations": self.evaluations, "seconds": round(self.seconds, 6)},
            "tolerances": {k: _num(v) for k, v in self.tolerances.items()},
            "dtypes": dict(self.dtypes),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    # ------------------------------------------------------------------ text
    def to_text(self) -> str:
        status = "PASSED" if self.passed else "FAILED"
        lines = [f"gradient check {status}: {self.subject}"]
        m = f", m = {self.m}" if self.m is not None else ""
        lines.append(f"mode {self.mode} (order {self.order}), oracles "
                     f"{' + '.join(self.oracles) or 'none'}, seed {self.seed}{m}")
        if self.dtypes:
            g, fn = self.dtypes.get("gradient"), self.dtypes.get("function")
            lines.append(f"tolerance table: {g}" + (f" (finite-difference steps: {fn}, the "
                                                     f"function's dtype)" if fn != g else ""))
        for p in self.problems:
            lines.append(f"problem: {p}")
        if self.arrays:
            lines.append("")
            lines += _table(self.arrays)
        seen = []
        for a in self.arrays:
            if a.problem and (a.name, a.problem) not in seen:
                seen.append((a.name, a.problem))
                lines.append(f"  {a.name}: {a.problem}")
        bad = [a for a in self.arrays if a.problem is None and a.failed]
        if bad:
            lines += ["", "worst failing elements:"]
            for a in bad:
                for w in a.worst:
                    if w.error > w.tol or not math.isfinite(w.error):
                        lines.append("  " + _element_line(a, w))
        if self.draws:
            lines += ["", "directional draws (∇J·v against the central difference along v):"]
            for d in self.draws:
                state = ("FAIL" if d.failed else "unverified (kink)" if d.unverified
                         else "ok (kink)" if d.kink else "ok")
                lines.append(f"  v{d.index}: analytic {_g(d.analytic)}, numeric {_g(d.numeric)}, "
                             f"|error| {_g(d.error)}, tol {_g(d.tol)}: {state}")
        for x in self.localisations:
            idx = ", ".join(str(i) for i in x.index)
            verdict = "wrong" if x.failed else "within tolerance"
            ref = (f"numeric {_g(x.numeric)}" if x.interval is None else
                   f"at a kink, one-sided slopes [{_g(x.interval[0])}, {_g(x.interval[1])}]")
            lines.append(f"  v{x.draw} localised by bisection to {x.name}[{idx}] in "
                         f"{x.evaluations} evaluations: analytic {_g(x.analytic)}, {ref}, "
                         f"tol {_g(x.tol)} ({verdict})")
        if self.diagnosis:
            lines += ["", "diagnosis:"]
            for f in self.diagnosis:
                names = ", ".join(getattr(f, "names", ())) or "-"
                lines.append(f"  - [{getattr(f, 'kind', '?')}] {names}: "
                             f"{getattr(f, 'message', f)}")
        if self.sensitivity:
            lines += ["", "sensitivity:"]
            lines += [f"  {s.mode}: {s.statement}" for s in self.sensitivity]
        for n in self.notes:
            lines.append(f"note: {n}")
        lines += ["", f"cost: {self.evaluations:,} cost evaluations, {self.seconds:.3g} s"]
        return "\n".join(lines)

    def failure_text(self) -> str:
        """The failing part of the report: the headline, the problems, the rows of the arrays
        that failed, their worst elements, the failing draws and where they were localised, and
        the diagnosis (empty when the check passed)."""
        if self.passed:
            return ""
        lines = [f"gradient check FAILED: {self.subject}"]
        lines += [f"problem: {p}" for p in self.problems]
        bad = self.failures
        if bad:
            lines += _table(bad)
        for a in bad:
            if a.problem:
                lines.append(f"  {a.name}: {a.problem}")
            for w in a.worst:
                if w.error > w.tol or not math.isfinite(w.error):
                    lines.append("  " + _element_line(a, w))
        for d in self.draws:
            if d.failed:
                lines.append(f"  v{d.index}: analytic {_g(d.analytic)}, numeric "
                             f"{_g(d.numeric)}, |error| {_g(d.error)} > tol {_g(d.tol)}")
        for x in self.localisations:
            idx = ", ".join(str(i) for i in x.index)
            lines.append(f"  v{x.draw} localised to {x.name}[{idx}]: analytic {_g(x.analytic)}, "
                         f"numeric {_g(x.numeric)}, tol {_g(x.tol)}")
        for f in self.diagnosis:
            names = ", ".join(getattr(f, "names", ())) or "-"
            lines.append(f"  diagnosis [{getattr(f, 'kind', '?')}] {names}: "
                         f"{getattr(f, 'message', f)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _g(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.7g}"


def _e(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.1e}" if math.isfinite(x) else "inf"


def _table(arrays: list[ArrayCheck]) -> list[str]:
    head = ["array", "oracle", "shape", "checked", "failed", "max abs err", "max rel err",
            "err/tol", "tol (max)", "step", "kinks", "status"]
    rows = []
    for a in arrays:
        kinks = str(a.kinks) + (f" (+{a.unverified} unverified)" if a.unverified else "")
        status = "ok" if a.passed else ("PROBLEM" if a.problem else "FAIL")
        rows.append([a.name, a.oracle, "x".join(str(s) for s in a.shape) or "()",
                     str(a.checked), str(a.failed), _e(a.max_abs_err), _e(a.max_rel_err),
                     "-" if a.worst_ratio is None else f"{a.worst_ratio:.2g}",
                     _e(a.max_tol), _e(a.step), kinks, status])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    left = {0, 1, 2, 11}
    fmt = lambda r: "  ".join(c.ljust(w) if i in left else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
    return [fmt(head)] + [fmt(r) for r in rows]


def _element_line(a: ArrayCheck, w: Element) -> str:
    idx = ", ".join(str(i) for i in w.index)
    ref = "numeric" if a.oracle == "fd" else a.oracle
    if w.kink:
        return (f"{a.name}[{idx}] vs {a.oracle} (at a kink): analytic {_g(w.analytic)} outside "
                f"the one-sided interval [{_g(w.lower)}, {_g(w.upper)}] by {_g(w.error)} "
                f"> tol {_g(w.tol)}")
    return (f"{a.name}[{idx}] vs {a.oracle}: analytic {_g(w.analytic)}, {ref} {_g(w.expected)}, "
            f"|error| {_g(w.error)} > tol {_g(w.tol)}")
