"""Grade a submission: run each declared function in the sandbox on random cases, score, explain.

For every function of the assignment, in order:

1. generate its cases (:mod:`.cases`) and build each case's quantities with the reference
   (:mod:`.computations`): the arguments - reference-made, so a bug in one function does not
   cascade into the grading of the next - and the expected outputs;
2. call the student's function in the sandboxed child (:mod:`gradref.checks.isolation`) - a plain
   function, or a method/attribute of an object built with the declared constructor - and split
   its return value into named outputs;
3. run each declared check (shape, dtype, values, cache) on every case; a check earns its points
   only when it passes on all cases;
4. for a failing check, shrink the first failing case (smaller m, fewer and narrower layers) to
   the smallest on which the check still fails, and explain it there: the case, the offending
   arrays, what is wrong and the diagnosis of :mod:`gradref.checks.diagnosis` ("dW is m = 2 times too
   large: the 1/m averaging is missing").

Nothing the submission does raises here: a syntax error, a missing function, an exception, a
timeout or a wrong return type all become failed checks with an explanation. Only problems of
the grading itself raise (:class:`~gradref.checks.grading.assignment.AssignmentError`,
:class:`SubmissionError`, ``FileNotFoundError``, ``IsolationError``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from gradref.checks.isolation import CallResult, Limits, PythonSubmission

from .assignment import Alternative, Assignment, Check, FunctionSpec, Version, load_assignment
from .cases import Case, generate_cases, shrink
from .compare import MISSING, PRINT_MAX, Leaf, describe, leaf_problem, numeric, show, values_of
from .computations import Built, Judged, Layout, RandomWeights
from .drift import numpy_drift
from .driver import (
    NO_VALUE,
    NOT_DEFINED,
    NOT_RUN,
    OBSERVED_FUNCTION,
    PICK_FUNCTION,
    PROVIDE_FUNCTION,
    REPLACED_FUNCTION,
    SEED_FUNCTION,
    SKIPPED_FUNCTION,
    STOPPED,
    WRAPPER_FUNCTION,
    build_source,
)
from .loading import SUBMISSION_SUFFIXES, LoadedSubmission, SubmissionError, load_submission, source_units
from .python2 import translated
from .report import GradeReport, TestResult
from .textsafe import one_line, quoted
from .tolerances import FD_ERROR_FLOOR

__all__ = ["grade_submission", "grade_source", "SubmissionError", "SUPPORTED_SUFFIXES"]

SUPPORTED_SUFFIXES = SUBMISSION_SUFFIXES

#: Failures after which a function is not called again (each would cost the full time limit).
_FATAL_KINDS = ("timeout", "crash", "memory", "load-error", "missing-function")
#: Failures that do not depend on the case: no case is shown.
_CASELESS_KINDS = ("missing-function", "load-error")
#: Findings about a constant factor: m = 1 or 2 cannot tell them apart from the 1/m averaging.
_FACTOR_FINDINGS = ("times_m", "over_m", "times_2", "half", "m_or_2", "scale")
#: Causes the diagnosis offers that only make sense for a square loss: dropped otherwise.
_SQUARE_LOSS_CLAUSES = (", e.g. the square-loss derivative 2(a − y) used for the half-square cost "
                        "½(a − y)²",
                        ", e.g. the derivative of the square loss (a − y)² is 2(a − y), not a − y",
                        " (square versus half-square loss)")
_ALTERNATIVES = re.compile(r" It fits equally well: (.*?)\.(?=$| [A-Z])")
#: Failures of a call that the gradebook's error column names (the student's function did not
#: come back with a value: it hung, crashed the child, ran out of memory or of the budget).
_REPORTED_KINDS = ("timeout", "crash", "memory", "budget", "bad-output")


# --------------------------------------------------------------------------- one function
@dataclass
class _Outcome:
    case: Case
    built: Built
    call: CallResult | None
    error: str | None = None
    leaves: list[Leaf] = field(default_factory=list)
    accepted: Alternative | None = None     # an accepted alternative convention it used
    version: Version | None = None          # another course version's signature it used
    #: per call of a stepped function (or one with its own diagnosis): the quantities it was
    #: given (the fed ones the student's previous outputs) and its outputs by name
    given: list[dict] = field(default_factory=list)
    parts: list[dict] = field(default_factory=list)
    observed: dict = field(default_factory=dict)   # ``inplace`` arguments after the call


@dataclass
class _Verdict:
    ok: bool
    problems: list[str] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)


#: An answer whose arrays hold more than ``max(_ANSWER_FLOOR, _ANSWER_FACTOR x the expected
#: outputs' bytes)`` is dropped off the pipe unread (a "bad-output" for that case): a wrong
#: answer cannot make the grader hold hundreds of MiB per call.  The floor leaves room for
#: honest extras (a dict of intermediate arrays, float128...).
_ANSWER_FLOOR = 32 * 2**20
_ANSWER_FACTOR = 16
#: An accepted array more than ``_SLIM_FACTOR`` times the bytes its expected leaf has (and over
#: ``_SLIM_MIN`` bytes) cannot have the expected shape: once split into leaves it is replaced by
#: a zero-strided stand-in of the same shape and dtype, which every check judges the same way.
_SLIM_FACTOR = 4
_SLIM_MIN = 2**20


def _nbytes(value: object) -> int:
    """Bytes of the arrays in an expected output (nested tuples/lists/dicts)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (RandomWeights, Judged)):
        return 8 * int(np.prod(value.shape))
    if isinstance(value, Mapping):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    return 8


def _slim_bound(expected: object) -> int:
    return max(_SLIM_MIN, _SLIM_FACTOR * _nbytes(expected))


def _slim(got: object, bound: int) -> object:
    """``got`` with every array over ``bound`` bytes replaced by a zero-strided stand-in."""
    if isinstance(got, np.ndarray) and got.nbytes > bound:
        return np.broadcast_to(np.zeros((), got.dtype), got.shape)
    if isinstance(got, (tuple, list)) and any(isinstance(g, (np.ndarray, tuple, list)) for g in got):
        return type(got)(_slim(g, bound) for g in got)
    return got


def _without_value(result: CallResult) -> CallResult:
    """The call's outcome without its returned value: after :meth:`_FunctionGrader._split` only
    the arrays that are compared are kept (in the leaves), so extra keys or huge extra entries
    a submission returns are released at once instead of being held for every case."""
    return replace(result, value=None)


class _FunctionGrader:
    """Runs one declared function on cases (memoised) and evaluates its checks."""

    def __init__(self, sub: PythonSubmission, fn: FunctionSpec, asg: Assignment, seed: int):
        self.sub, self.fn, self.asg, self.seed = sub, fn, asg, seed
        self.layout = Layout(asg.layout, asg.bias)
        self.outcomes: dict[Case, _Outcome] = {}
        self.fatal: CallResult | None = None
        self.calls = 0
        self.truncated = False     # the function printed more than the sandbox keeps
        self.fd_note: str | None = None   # its gradients look like finite differences
        self._form: Version | None = None     # the call form the submission accepts

    # ----------------------------------------------------------------- running
    def cases(self) -> list[Case]:
        comp = self.fn.computation
        return generate_cases(comp.level, self.fn.ranges, seed=self.seed, label=self.fn.display,
                              variants=self.fn.variants, variant_name=comp.variant,
                              batched=comp.batched)

    def form(self) -> Version:
        """The call form the submission accepts: the primary signature, or the first of the
        declared ``versions`` whose arguments its function (class, method) binds, asked of the
        sandbox once. A probe that fails or answers nonsense leaves the primary."""
        if self._form is not None:
            return self._form
        fn = self.fn
        first: dict[tuple, Version] = {}       # the first signature of each call form, in order
        for v in fn.all_versions:
            first.setdefault(v.form(), v)
        forms = list(first.values())
        self._form = forms[0]
        if len(forms) > 1:
            target = fn.name if fn.call == "function" else fn.cls
            probe = self.sub.call_bounded(_ANSWER_FLOOR, PICK_FUNCTION, target, fn.method,
                                          [v.shape() for v in forms])
            index = probe.value if probe.ok else None
            if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(forms):
                self._form = forms[index]
        return self._form

    def _candidates(self) -> list[Version]:
        """The signatures sharing the accepted call form, primary first: what it may return."""
        form = self.form().form()
        return [v for v in self.fn.all_versions if v.form() == form]

    def _call(self, q: dict) -> CallResult:
        fn, form = self.fn, self.form()
        args = [q[a] for a in form.args]
        kwargs = {k: q[v] for k, v in form.kwargs.items()}
        self.calls += 1
        if fn.global_seed is not None:    # as the course's test does before calling
            self.sub.call(SEED_FUNCTION, fn.global_seed)
        bound = max(_ANSWER_FLOOR, _ANSWER_FACTOR * max(
            sum(_nbytes(q[r]) for r in v.returns) for v in self._candidates()))
        if fn.call == "function" and fn.provide:
            value = q[fn.provide_with] if fn.provide_with else NO_VALUE
            result = self.sub.call_bounded(bound, PROVIDE_FUNCTION, fn.name, fn.provide, value,
                                           args, kwargs)
            if not result.ok and result.exception == "NameError" \
                    and f"{fn.name} {NOT_DEFINED}" in (result.message or ""):
                result = replace(result, kind="missing-function")
            return result
        if fn.call == "function" and (fn.forward or fn.inplace):
            return self.sub.call_bounded(bound, OBSERVED_FUNCTION, fn.name, args, kwargs,
                                         self._chain(q, form), self._observed(form))
        if fn.call == "function":
            return self.sub.call_bounded(bound, fn.name, *args, **kwargs)
        constructor = {k: q[v] for k, v in form.constructor.items()}
        attributes = {k: q[v] for k, v in fn.set_attributes.items()}
        return self.sub.call_bounded(bound, WRAPPER_FUNCTION, fn.cls, constructor, attributes,
                                     fn.method, fn.attribute, args, kwargs)

    def _chain(self, q: dict, form: Version) -> tuple | None:
        """``cache_from``: the forward's call and which of this call's arguments its cache takes
        (see :data:`.driver.OBSERVED_FUNCTION`); the reference's own cache is not sent."""
        if self.fn.forward is None:
            return None
        name, f_args, f_kwargs, f_returns, f_tuple = self.fn.forward
        slots = [(i, f_returns.index(a)) for i, a in enumerate(form.args) if a in f_returns]
        return (name, [q[a] for a in f_args], {k: q[v] for k, v in f_kwargs.items()},
                len(f_returns) if f_tuple else 0, slots)

    def _observed(self, form: Version) -> list[int]:
        return [form.args.index(a) for a in self.fn.inplace]

    def _unwrap(self, out: _Outcome, value: object) -> object:
        """The function's own value out of the observing wrapper's ``(value, observed, made)``;
        the observed arguments become outputs, the forward's answer may refine the expected."""
        fn = self.fn
        if not (fn.call == "function" and (fn.forward or fn.inplace)):
            return value
        value, observed, made = value
        if fn.forward is not None and fn.computation.refine is not None:
            f_returns = fn.forward[3]
            if isinstance(made, (list, tuple)) and len(made) == len(f_returns):
                parts = dict(zip(f_returns, made, strict=True))
                out.built = fn.computation.refine(out.built, parts)
        out.observed = dict(zip(fn.inplace.values(), observed, strict=True))
        return value

    def run(self, case: Case) -> _Outcome:
        if case in self.outcomes:
            return self.outcomes[case]
        built = self.fn.computation.build(case, self.layout, self.asg.network,
                                          self.fn.options)
        if self.fatal is not None:
            out = _Outcome(case, built, None, error=self._call_error(self.fatal)
                           if self.fatal.kind in _CASELESS_KINDS
                           else f"Not run: an earlier case failed: {self.fatal.message}")
        else:
            result = self._call(built.quantities)
            out = _Outcome(case, built, result)
            if _OMITTED.search(result.stdout or ""):
                self.truncated = True
            if not result.ok:
                out.error = self._call_error(result)
                if result.kind in _FATAL_KINDS:
                    self.fatal = result
            else:
                parts = self._split(out, self._unwrap(out, result.value))
                if parts is not None and (self.fn.steps > 1 or self.fn.computation.diagnose):
                    self._keep(out, built.quantities, parts)
                    result = self._later_steps(out, parts, result)
                out.call = _without_value(result)
                for leaf in out.leaves:      # an answer in a convention the expected accepts
                    if isinstance(leaf.expected, Judged) and numeric(leaf.got) is not None:
                        note = leaf.expected.accepted(np.asarray(numeric(leaf.got), float))
                        if note is not None and out.accepted is None:
                            out.accepted = Alternative(note[0], (), note[1])
                for leaf in out.leaves:   # the grader keeps every case: only what it judges
                    if leaf.kind != "random":   # (a random weight's spread is judged whole)
                        leaf.got = _slim(leaf.got, _slim_bound(leaf.expected))
        self.outcomes[case] = out
        return out

    def _call_error(self, result: CallResult) -> str:
        if result.kind == "load-error":
            return "Not graded: your submission failed to load (see the summary)."
        text = one_line(result.message or f"{self.fn.name} failed ({result.kind})")
        for wrapper in (WRAPPER_FUNCTION, PROVIDE_FUNCTION, OBSERVED_FUNCTION):
            text = text.replace(f"{wrapper}()", f"{self.fn.display}()")
        if result.kind == "missing-function" and self.fn.call == "function":
            text = (f"{self.fn.name} is not defined in your submission (expected "
                    f"{self.fn.signature()})")
        tb = (result.traceback or "").strip()
        if tb and result.kind in ("exception", "memory", "load-error"):
            lines = _without_wrapper(tb.splitlines())
            text += "\n" + "\n".join(quoted(lines[-8:]))
        if result.stderr.strip() and result.kind in ("crash", "load-error"):
            text += "\nstderr:\n" + "\n".join(quoted(result.stderr.strip().splitlines()[-5:]))
        return text

    def _later_steps(self, out: _Outcome, parts: dict, result: CallResult) -> CallResult:
        """Steps 2 … ``steps`` of a stepped function: each call gets the next step's quantities
        of the reference trajectory, its ``feed`` inputs replaced by the student's outputs of
        the call before; its outputs are judged against that step's reference values."""
        fn = self.fn
        for k in range(1, fn.steps):
            step = out.built.later(k)
            q = dict(step.quantities)
            for quantity, output in fn.feed.items():
                q[quantity] = parts[output]
            result = self._call(q)
            where = (f"At step {k + 1} of {fn.steps} (given your outputs of step {k}"
                     f"{': ' + ', '.join(fn.feed) if fn.feed else ''}): ")
            if not result.ok:
                out.error = where + self._call_error(result)
                if result.kind in _FATAL_KINDS:
                    self.fatal = result
                return result
            parts = self._split(out, result.value, step.quantities, k)
            if parts is None:
                out.error = where + (out.error or "")
                return result
            self._keep(out, q, parts)
        return result

    def _keep(self, out: _Outcome, given: dict, parts: dict) -> None:
        """Keep a call's inputs and outputs for the diagnosis, unless the outputs are far
        larger than the expected ones (then None: an answer cannot make the grader hold
        hundreds of MiB per case; that step is not diagnosed)."""
        bound = _slim_bound({r: given[r] for r in parts if r in given})
        fed = {q: given[q] for q in self.fn.feed if q in given}
        small = max(_nbytes(parts), _nbytes(fed)) <= bound
        out.given.append(given if small else None)
        out.parts.append(parts if small else None)

    def _split(self, out: _Outcome, value: object, q: dict | None = None,
               step: int = 0) -> dict | None:
        """Leaves of a returned ``value`` against the expected quantities ``q`` (the case's
        first step by default), added to ``out``; its outputs by name, or None when it has the
        wrong structure."""
        fn = self.fn
        q = out.built.quantities if q is None else q
        candidates = self._candidates()
        fitting = [v for v in candidates if v.fits(value)]
        version = fitting[0] if fitting else candidates[0]
        if len(fitting) > 1:
            # versions that return the same structure but mean other values (a quantity the
            # course computed differently): the first whose values are all right is graded
            for v in fitting:
                leaves, _, _ = self._leaves(v, value, q, step, out.observed)
                if all(leaf_problem("values", leaf, self.asg.rtol, self.asg.atol) is None
                       for leaf in leaves if leaf.kind != "cache"):
                    version = v
                    break
        if version.name:
            out.version = version
        shown = [fn.rename.get(r, r).replace("{key}", "…") for r in version.returns]
        if not version.fits(value):
            out.error = (f"{fn.display} should return {len(version.returns)} values "
                         f"({', '.join(shown)}), got {describe(value)}")
            return None
        leaves, accepted, parts = self._leaves(version, value, q, step, out.observed)
        out.leaves.extend(leaves)
        if accepted is not None:
            out.accepted = accepted
        return parts

    def _leaves(self, version: Version, value: object, q: Mapping, step: int = 0,
                observed: Mapping | None = None) -> tuple[list[Leaf], Alternative | None, dict]:
        """The comparable pieces of ``value`` returned under ``version`` (which it fits) and of
        the ``observed`` (``inplace``) arguments, the accepted alternative key convention of a
        dict output if one was used, and the outputs by name."""
        fn, comp = self.fn, self.fn.computation
        at = f" at step {step + 1}" if fn.steps > 1 else ""
        leaves: list[Leaf] = []
        accepted = None
        if version.returns_tuple:
            parts = dict(zip(version.returns, value, strict=True))
        else:
            parts = {version.returns[0]: value}
        parts.update(observed or {})
        for name, got in parts.items():
            kind, exp, label = comp.kind(name), q[name], fn.rename.get(name, name)
            if kind != "dict":
                leaves.append(Leaf(name, label + at, kind, got, exp, step=step))
                continue
            mapping = got if isinstance(got, Mapping) else None
            what = label.replace("{key}", "").strip("[]'\" ") or name
            keys = {key: key for key in exp}
            if mapping is not None and any(key not in mapping for key in exp):
                for alt in fn.accept:
                    theirs = {key: alt.student_key(key) or key for key in exp}
                    if all(k in mapping for k in theirs.values()) and theirs != keys:
                        keys, accepted = theirs, alt
                        break
            for key, e in exp.items():
                leaf_label = (label.format(key=key) if "{key}" in label else key) + at
                leaf_kind = "random" if isinstance(e, RandomWeights) else "array"
                if mapping is None:
                    problem = (f"{what} should be a dict with keys {list(exp)}, "
                               f"got {describe(got)}")
                    leaves.append(Leaf(key, leaf_label, leaf_kind, MISSING, e, problem,
                                       name, step))
                elif keys[key] not in mapping:
                    leaves.append(Leaf(key, leaf_label, leaf_kind, MISSING, e,
                                       f"{what}{at} has no key {key!r} (its keys: "
                                       f"{list(mapping)[:12]})", name, step))
                else:
                    leaves.append(Leaf(key, leaf_label, leaf_kind, mapping[keys[key]], e,
                                       output=name, step=step))
        return leaves, accepted, parts

    # ----------------------------------------------------------------- checking
    def verdict(self, check: Check, out: _Outcome) -> _Verdict:
        if out.error is not None:
            return _Verdict(False, [out.error])
        leaves = [leaf for leaf in out.leaves
                  if check.selects(leaf.key, leaf.kind == "cache", leaf.output)]
        problems, bad = [], []
        for leaf in leaves:
            problem = leaf_problem(check.kind, leaf, self.asg.rtol, self.asg.atol)
            if problem:
                problems.append(problem)
                bad.append(leaf)
        return _Verdict(not problems, problems, bad)

    def _failure(self, check: Check, out: _Outcome) -> tuple | None:
        """How ``check`` fails on ``out`` (None: it passes): the kind of error, or a mismatch."""
        if out.error is None:
            return None if self.verdict(check, out).ok else ("mismatch",)
        if out.call is not None and not out.call.ok:
            return ("error", out.call.kind, out.call.exception)
        return ("returned",)

    def grade(self) -> list[TestResult]:
        cases = self.cases()
        for case in cases:
            self.run(case)
        results = []
        for check in self.fn.checks:
            verdicts = [(c, self.verdict(check, self.outcomes[c])) for c in cases]
            failing = [c for c, v in verdicts if not v.ok]
            name = self.fn.test_name(check)
            if not failing:
                results.append(TestResult(name, check.points, check.points, "passed",
                                          f"Passed on {len(cases)} random cases.",
                                          self.fn.visibility))
                continue
            first = self.outcomes[failing[0]]
            if first.call is not None and (first.call.ok or first.call.kind not in _FATAL_KINDS):
                # the smaller case must fail the same way: a crash never stands in for a
                # value mismatch, nor one exception for another
                how = self._failure(check, first)
                smallest = shrink(failing[0], self.fn.ranges,
                                  lambda c, check=check, how=how:
                                  self._failure(check, self.run(c)) == how)
            else:
                smallest = failing[0]
            # The second opinion comes from the failing case with the largest m: m = 2 cannot
            # tell a missing 1/m from a factor 2, a larger m can. Small cases first: their
            # arrays can be shown.
            small = [c for c in failing if c.draw < self.fn.ranges.count]
            larger = max(small or failing, key=lambda c: (c.m, c.size))
            text = self._explain(check, self.run(smallest), len(failing), len(cases),
                                 self.outcomes[larger])
            results.append(TestResult(name, 0.0, check.points, "failed", text, self.fn.visibility))
        self._judge_finite_differences(cases, results)
        _diagnose_once(results, self.asg)
        if self.truncated:
            for t in results:
                t.output = (f"{t.output}\nNote: {self.fn.display} printed more than the grader "
                            f"keeps; the rest of its output was discarded (printing costs no "
                            f"points).")
        for attribute in ("version", "accepted"):
            used = [getattr(o, attribute) for o in self.outcomes.values()
                    if getattr(o, attribute) is not None]
            if used:
                alt = used[0]
                note = f"Accepted: {self.fn.display} uses {alt.name}" + (f": {alt.note}"
                                                                         if alt.note else ".")
                for t in results:
                    t.output = f"{t.output}\n{note}"
        return results

    # ----------------------------------------------------------------- finite differences
    def _fd_errors(self, cases: list[Case]) -> list[float] | None:
        """Per case, the largest relative error of the function's float64 answers (relative to
        each array's largest expected entry); None when the function returns no gradient, a
        case failed, or an answer is not float64 (float32 backprop errs as much)."""
        if not any(r.startswith("d") or r == "grads" for r in self.fn.returns):
            return None
        errors = []
        for case in cases:
            out = self.outcomes[case]
            if out.error is not None:
                return None
            worst = None
            for leaf in out.leaves:
                if leaf.kind not in ("array", "scalar") or leaf.got is MISSING:
                    continue
                got = numeric(leaf.got)
                if got is None or got.dtype != np.float64:
                    return None
                try:
                    expected = np.asarray(leaf.expected, dtype=np.float64)
                except (TypeError, ValueError):
                    return None
                if got.size != expected.size or not expected.size \
                        or float(np.abs(expected).max()) <= self.asg.atol:
                    continue    # an (all but) zero gradient says nothing of the method
                diff = np.abs(got.reshape(expected.shape) - expected).max()
                scale = max(float(np.abs(expected).max()), self.asg.atol, np.finfo(float).tiny)
                worst = max(worst or 0.0, float(diff) / scale)
            if worst is None:
                return None
            errors.append(worst)
        return errors or None

    def _judge_finite_differences(self, cases: list[Case], results: list[TestResult]) -> None:
        """Apply the assignment's ``finite_differences`` policy to a function whose every
        gradient passed yet is off by :data:`FD_ERROR_FLOOR` or more on every case."""
        policy = self.asg.finite_differences
        passed = [t for t in results if t.status == "passed"]
        if policy == "accept" or not passed or len(passed) < len(results):
            return
        errors = self._fd_errors(cases)
        if not errors or min(errors) < FD_ERROR_FLOOR:
            return
        what = (f"{self.fn.display} looks computed by finite differences, not backprop: its "
                f"answers are off by {min(errors):.1e} to {max(errors):.1e} (relative) on every "
                f"one of the {len(errors)} cases, the error a difference quotient leaves, where "
                f"backprop matches to ~1e-13")
        if policy == "flag":
            self.fd_note = f"flagged: {what} (points kept: the assignment flags it)"
            for t in passed:
                t.output = f"{t.output}\nFlagged: {what}. The points stand; the grader says so."
            return
        self.fd_note = f"failed: {what} (the assignment gives it no points)"
        for t in passed:
            t.score, t.status = 0.0, "failed"
            t.output = (f"{what}; the assignment asks for backprop and gives a finite-difference "
                        f"gradient no points.")

    # ----------------------------------------------------------------- explaining
    def _explain(self, check: Check, out: _Outcome, n_failing: int, n_cases: int,
                 larger: _Outcome) -> str:
        verdict = self.verdict(check, out)
        fatal = out.call if out.call is not None else self.fatal
        if fatal is not None and fatal.kind in _CASELESS_KINDS:
            return out.error or fatal.message    # nothing about the case matters
        if fatal is not None and fatal.kind in _FATAL_KINDS:   # later cases were not run
            return "\n".join([f"On the case {_case_text(out)}:", out.error or fatal.message]
                             + self._inputs(out))
        lines = [f"Failed on {n_failing} of {n_cases} random cases. "
                 f"Smallest failing case: {_case_text(out)}."]
        if out.error is not None:
            lines.append(out.error)
            lines += self._inputs(out)
            return "\n".join(lines)
        diagnoses, shown = self._diagnoses(check, out, verdict, larger)
        if shown is not out:
            lines.append(f"That case cannot tell the cause apart; the problems, the diagnosis "
                         f"and the arrays below are all from the case {_case_text(shown)}.")
            verdict = self.verdict(check, shown)
            out = shown
        lines += verdict.problems[:6]
        if len(verdict.problems) > 6:
            lines.append(f"... and {len(verdict.problems) - 6} more")
        lines += diagnoses
        for leaf in verdict.leaves[:3]:
            if leaf.kind in ("array", "scalar", "float", "bool") and leaf.got is not MISSING \
                    and values_of(leaf.got, leaf.kind) is not None:
                pad = len(leaf.label) + 13
                lines.append(f"  {leaf.label} yours:    {show(leaf.got, pad)}")
                lines.append(f"  {leaf.label} expected: {show(leaf.expected, pad)}")
        lines += self._inputs(out)
        return "\n".join(lines)

    def _inputs(self, out: _Outcome) -> list[str]:
        q = out.built.quantities
        shown = []
        form = self.form()
        names = list(form.args) + list(form.kwargs.values())
        for name in names:
            value = q[name]
            if isinstance(value, np.ndarray):
                if value.size > PRINT_MAX:
                    return []
                shown_name = self.fn.rename.get(name, name)
                shown.append(f"  {shown_name} = {show(value, len(shown_name) + 5)}")
            elif isinstance(value, (int, float, str)) or value is None:
                shown.append(f"  {self.fn.rename.get(name, name)} = {value!r}")
        return ["Inputs of this case:"] + shown if shown and len(shown) == len(names) else []

    def _canonical(self, key: str, arr: np.ndarray) -> tuple[str, np.ndarray]:
        """A student's array in the reference layout, named as the diagnosis expects."""
        name = label = key
        if self.fn.computation.name == "fc_net_loss" and label[:1] in ("W", "b"):
            name = "d" + label     # grads keyed like params
        if not self.layout.rows:
            return name, arr
        base = name[1:] if name[:2] in ("dW", "db") else name
        if base[:1] == "b" and arr.ndim <= 2:
            return name, arr.reshape(-1, 1) if arr.size else arr
        return name, (arr.T if arr.ndim == 2 else arr)

    def _diagnoses(self, check: Check, out: _Outcome, verdict: _Verdict,
                   larger: _Outcome | None) -> tuple[list[str], _Outcome]:
        """Diagnosis sentences for the failing leaves, from :mod:`gradref.checks.diagnosis`,
        and the outcome they are about (shown with them).

        When the smallest case gives no clear answer (m = 2 cannot tell "missing 1/m" from "a
        factor 2"), a larger failing case is diagnosed instead."""
        if check.kind not in ("values", "shape") and self.fn.computation.diagnose is None:
            return [], out
        if larger is not None and larger is not out and larger.error is None \
                and self._failure(check, larger) != self._failure(check, out):
            larger = None          # it fails another way: it says nothing about this failure
        if check.kind == "shape" and larger is not None and larger is not out:
            # a shrunk case with sizes of 1 cannot tell a transpose from a lost axis
            more = self._findings(larger, self.verdict(check, larger))
            if more:
                return [f"Diagnosis: {f.message}" for f in more[:3]], larger
        findings = self._findings(out, verdict)
        if larger is not None and larger is not out:
            # tiny cases invite coincidences (with n = m = 1 an all-zero answer looks like a
            # relu mask): the first failing case, larger, has the last word when they disagree
            more = self._findings(larger, self.verdict(check, larger))
            strong = {f.kind for f in findings if f.kind not in _WEAK_FINDINGS}
            strong_more = {f.kind for f in more if f.kind not in _WEAK_FINDINGS}
            if strong_more and strong_more != strong:
                return [f"Diagnosis: {f.message}" for f in more[:3]], larger
            # with m = 1 (or 2) a factor cannot be told from the 1/m averaging: a larger
            # failing case that can has the word, never the case that cannot
            if more and out.case.m <= 2 < larger.case.m \
                    and {f.kind for f in findings} & set(_FACTOR_FINDINGS):
                return [f"Diagnosis: {f.message}" for f in more[:3]], larger
        return [f"Diagnosis: {f.message}" for f in findings[:3]], out

    def _findings(self, out: _Outcome, verdict: _Verdict) -> list:
        """Findings for the failing leaves of one outcome, worded with the student's names."""
        try:
            from gradref.checks.diagnosis import diagnose, diagnose_array
        except ImportError:  # pragma: no cover - diagnosis is part of gradref
            return []
        comp = self.fn.computation
        if comp.diagnose is not None:
            return self._own_findings(out, verdict)
        if comp.diagnose_outputs is not None:   # the computation's own named mistakes first
            got = {leaf.key: np.asarray(numeric(leaf.got), dtype=np.float64)
                   for leaf in out.leaves if leaf.got is not MISSING
                   and numeric(leaf.got) is not None}
            try:
                own = comp.diagnose_outputs(out.built, got)
            except (TypeError, ValueError, KeyError, IndexError, FloatingPointError):
                own = []
            if own:
                return list(own)
        context = out.built.context
        usable = [leaf for leaf in out.leaves if leaf.kind in ("array", "scalar", "float", "bool")
                  and leaf.got is not MISSING and values_of(leaf.got, leaf.kind) is not None
                  and isinstance(leaf.expected, (np.ndarray, float))
                  # an answer of another size altogether: its shape says all (and a float64
                  # copy of a stand-in would cost what it spared)
                  and np.asarray(leaf.got).nbytes <= _slim_bound(leaf.expected)]
        mistakes = context.get("mistakes") or ()
        if mistakes:     # the computation's own catalogue of named mistakes comes first
            from gradref.checks.diagnosis.mistakes import match_mistakes

            named = match_mistakes({leaf.key: leaf.got for leaf in out.leaves
                                    if leaf.got is not MISSING},
                                   [leaf.key for leaf in verdict.leaves], mistakes)
            if named:
                return named
        failing = [leaf for leaf in verdict.leaves if leaf in usable]
        if not failing:
            return []
        names: dict[str, str] = {}     # the diagnosis' names -> the student's

        def canonical(leaf: Leaf, value) -> tuple[str, np.ndarray]:
            name, arr = self._canonical(leaf.key, np.asarray(value, dtype=np.float64))
            if layer_mode:
                name = _LAYER_NAMES.get(name, name)
            names[name] = leaf.label
            return name, arr

        layer_mode = comp.level == "layer" and {leaf.key for leaf in usable} <= set(_LAYER_NAMES)
        findings = []
        try:
            if comp.diagnose_leaf is not None:    # the computation's own mistakes, named first
                findings = [f for f in (comp.diagnose_leaf(leaf.key,
                                                           values_of(leaf.got, leaf.kind),
                                                           leaf.expected, out.built)
                                        for leaf in failing) if f]
            if findings:
                pass
            elif comp.name == "update_parameters":
                for leaf in failing:        # a step is diagnosed on the step, new - old
                    name, g = canonical(leaf, values_of(leaf.got, leaf.kind))
                    _, e = canonical(leaf, leaf.expected)
                    _, old = canonical(leaf, out.built.quantities["parameters"][leaf.key])
                    if g.shape == old.shape:
                        findings.append(diagnose_array(
                            f"your step on {name} (new {name} - old {name})", g - old, e - old,
                            {"m": None}))
            elif len(usable) > 1 and (layer_mode or comp.kind(self.fn.returns[0]) == "dict"):
                got, exp = {}, {}
                for leaf in usable:
                    name, got[name] = canonical(leaf, values_of(leaf.got, leaf.kind))
                    exp[name] = canonical(leaf, leaf.expected)[1]
                selected = {canonical(leaf, 0.0)[0] for leaf in failing}
                found = diagnose(got, exp, context)
                findings += [f for f in found if set(f.names) & selected] or found
            else:
                for leaf in failing:
                    name, g = canonical(leaf, values_of(leaf.got, leaf.kind))
                    _, e = canonical(leaf, leaf.expected)
                    if leaf.kind in ("scalar", "float") and g.size == 1:
                        g = g.reshape(())
                    findings.append(diagnose_array(name, g, e, context))
        except (TypeError, ValueError, KeyError, IndexError, FloatingPointError):
            return []
        unique, seen = [], set()
        for f in findings:
            if f is None or f.kind == "mismatch":
                continue
            text = _reword(f.message, names, layer_mode)
            if text not in seen:
                seen.add(text)
                unique.append(type(f)(f.names, f.kind, text, f.details))
        return unique


    def _own_findings(self, out: _Outcome, verdict: _Verdict) -> list:
        """The computation's own diagnosis (``Computation.diagnose``) of the first failing step,
        on the quantities that step was given and the outputs it returned."""
        if not verdict.leaves or not out.parts:
            return []
        step = min(leaf.step for leaf in verdict.leaves)
        if step >= len(out.parts) or out.parts[step] is None:
            return []
        expected = out.built.later(step).quantities if step else out.built.quantities
        try:
            found = self.fn.computation.diagnose(out.given[step], out.parts[step], expected)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, FloatingPointError):
            return []
        at = f"at step {step + 1} of {self.fn.steps}: " if self.fn.steps > 1 else ""
        return [type(f)(f.names, f.kind, at + f.message, f.details) for f in found]


def _case_text(out: _Outcome) -> str:
    """The case as the student reads it: a computation that fixes its own sizes (the course's
    network of gradient checking) says what it used (``context["case"]``)."""
    own = out.built.context.get("case")
    return own if isinstance(own, str) and own else out.case.describe()


def _within_assignment(text: str, asg: Assignment) -> str:
    """A diagnosis without causes foreign to the assignment: no square-loss factor for another
    loss, no derivative of an activation the assignment does not use."""
    if asg.network.loss not in ("square", "half_square"):
        for clause in _SQUARE_LOSS_CLAUSES:
            text = text.replace(clause, "")
    own = {asg.network.hidden, asg.network.output}

    def keep(match: re.Match) -> str:
        from gradref.reference.activations import activation_names

        foreign = [n for n in activation_names() if n not in own]
        kept = [alt for alt in match.group(1).split("; or ")
                if not any(re.search(rf"\b{re.escape(n)}'s derivative|derivative of {re.escape(n)}\b",
                                     alt) for n in foreign)]
        return " It fits equally well: " + "; or ".join(kept) + "." if kept else ""

    return _ALTERNATIVES.sub(keep, text)


def _diagnosis_subject(line: str) -> list[str]:
    """The arrays a diagnosis sentence is about (``dW and db match …`` -> dW, db)."""
    head = re.split(r" (?:is|are|match|matches|has|have|was|were|looks?|should|must)\b", line, maxsplit=1)[0]
    return re.findall(r"[A-Za-z_][\w\[\]]*", head)


def _diagnose_once(results: list[TestResult], asg: Assignment) -> None:
    """Each diagnosis once per function, on the check it explains (the first failing check whose
    title names an array the sentence is about, else the first that has it); the others point to
    it. Every diagnosis is also kept within the assignment (:func:`_within_assignment`)."""
    prefix = "Diagnosis: "
    home: dict[str, TestResult] = {}
    failed = [t for t in results if t.status == "failed"]
    for t in failed:
        t.output = "\n".join(_within_assignment(line, asg) if line.startswith(prefix) else line
                             for line in t.output.splitlines())
    for t in failed:
        for line in t.output.splitlines():
            if not line.startswith(prefix) or line in home:
                continue
            subject = _diagnosis_subject(line[len(prefix):])
            title_words = {t2.name: set(re.findall(r"[A-Za-z_]\w*", t2.name.partition(": ")[2]))
                           for t2 in failed}
            owner = next((t2 for t2 in failed if line in t2.output
                          and set(subject) & title_words[t2.name]), None)
            home[line] = owner or t
    for t in failed:
        lines = []
        for line in t.output.splitlines():
            owner = home.get(line) if line.startswith(prefix) else None
            if owner is not None and owner is not t:
                line = (f"{prefix}the same mistake as under '{owner.name.partition(': ')[2]}' "
                        f"(explained there)")
            lines.append(line)
        t.output = "\n".join(lines)


def _without_wrapper(lines: list[str]) -> list[str]:
    """A child traceback without the frames of the grader's helpers (:mod:`.driver`)."""
    out, skipping = [], False
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("File "):
            skipping = " in __gradref_" in stripped     # the grader's wrapper and driver
        elif not line.startswith(" "):
            skipping = False
        if not skipping:
            out.append(line)
    return out


#: Findings that do not settle the cause (a second, larger case is diagnosed too).
_WEAK_FINDINGS = ("m_or_2", "near_miss", "scale", "mismatch", "lower_layers")
#: A per-layer function's outputs as the one-layer network the diagnosis replays.
_LAYER_NAMES = {"dA_prev": "dA0", "dW": "dW1", "db": "db1", "dZ": "dZ1"}
#: The one-layer network's other symbols, in a per-layer function's words.
_LAYER_SYMBOLS = {"dA1": "dA", "A0": "A_prev", "Z1": "Z", "A1": "A", "W1": "W", "b1": "b",
                  "dZ1": "dZ"}


def _reword(text: str, names: Mapping[str, str], layer_mode: bool) -> str:
    """A diagnosis sentence with the student's names (``dW1`` -> ``dw``, ``dW3`` -> ``grads['W3']``)."""
    table = dict(names)
    if layer_mode:
        text = re.sub(r" (in|of) layer 1\b", "", text)
        text = re.sub(r"\blayer 1\b", "the layer", text)
        for k, v in _LAYER_SYMBOLS.items():
            table.setdefault(k, v)
    table = {k: v for k, v in table.items() if k != v}
    if not table:
        return text
    # ASCII word boundaries: "W1ᵀ" must match W1 ("ᵀ" is a letter to the regex engine's \b)
    pattern = re.compile(r"(?<![A-Za-z0-9_])("
                         + "|".join(map(re.escape, sorted(table, key=len, reverse=True)))
                         + r")(?![A-Za-z0-9_])")
    return pattern.sub(lambda m: table[m.group(1)], text)


# --------------------------------------------------------------------------- whole submission
def _summary(asg: Assignment, tests: list[TestResult], score: float, max_score: float,
             load_error: CallResult | None) -> str:
    lines = [f"{asg.title}: {score:g} / {max_score:g} points."]
    if load_error is not None:
        lines.append(f"Your submission could not be loaded, so no function could be run: "
                     f"{one_line(load_error.message)}")
        tb = (load_error.traceback or "").strip()
        if tb and tb.splitlines()[-1].strip() not in load_error.message:
            lines += quoted(_without_wrapper(tb.splitlines())[-8:])
        return "\n".join(lines)
    by_function: dict[str, list[TestResult]] = {}
    for t in tests:
        by_function.setdefault(t.name.partition(": ")[0], []).append(t)
    for fname, ts in by_function.items():
        got = sum(t.score for t in ts)
        total = sum(t.max_score for t in ts)
        failed = [t.name.partition(": ")[2] for t in ts if t.status == "failed"]
        mark = "ok" if not failed else "failed: " + ", ".join(failed)
        lines.append(f"  {fname}: {got:g}/{total:g} ({mark})")
    return "\n".join(lines)


def grade_source(source: str, assignment: object = "step-by-step", *, seed: int = 0,
                 limits: Limits | None = None, points: Mapping[str, float] | None = None,
                 name: str = "submission.py", notebook: bool = False) -> GradeReport:
    """Grade Python source text (see :func:`grade_submission`).

    ``notebook``: ``source`` is :func:`gradref.checks.isolation.load_source`'s text of a notebook;
    its cells then run one by one. Either way every statement runs on its own and one that
    raises is skipped (and reported)."""
    if not isinstance(source, str):
        raise TypeError(f"source must be Python source text (str), got {type(source).__name__}")
    filename = Path(name).name or "submission.py"
    units, files = source_units(source, filename, notebook=notebook)
    loaded = LoadedSubmission(name=filename, units=units, files=files, notebook=notebook)
    return _grade_loaded(loaded, assignment, seed=seed, limits=limits, points=points, name=name)


def _grade_loaded(loaded: LoadedSubmission, assignment: object, *, seed: int,
                  limits: Limits | None, points: Mapping[str, float] | None,
                  name: str) -> GradeReport:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"limits must be a checks.isolation.Limits, got {type(limits).__name__}")
    asg = load_assignment(assignment).with_points(points)
    limits = effective_limits(asg, limits)
    started = time.monotonic()
    if "python2" in asg.compat:
        loaded = translated(loaded)
    tests: list[TestResult] = []
    protected = {fn.cls or fn.name for fn in asg.functions}
    for code in asg.support_modules.values():
        protected.update(re.findall(r"^def ([A-Za-z_]\w*)", code, re.M))
    text = build_source(loaded.units, files=loaded.files, support=asg.support_modules,
                        stubs=asg.stub_modules, protected=sorted(protected),
                        course=asg.course_modules, numpy_compat="numpy" in asg.compat,
                        python2_compat="python2" in asg.compat,
                        statement_seconds=limits.statement,
                        budget_seconds=_unit_budget(limits))
    entry = "submission.py" if loaded.modules else (Path(loaded.name).name or "submission.py")
    with PythonSubmission(text, limits=limits, filename=entry,
                          files=loaded.module_files()) as sub:
        load_error = sub.start()
        isolation = sub.isolation
        skipped = _skipped_units(sub, loaded) if load_error is None else []
        replaced = _replaced_modules(sub) if load_error is None else []
        per_function, call_failures, fd_notes = [], [], []
        for fn in asg.functions:
            grader = _FunctionGrader(sub, fn, asg, int(seed))
            results = grader.grade()
            per_function.append(results)
            tests += results
            call_failures += _call_failures(grader)
            if grader.fd_note:
                fd_notes.append(f"finite differences {grader.fd_note}")
    problems = (_problems(loaded, skipped, load_error, "numpy" in asg.compat) + call_failures
                + fd_notes)
    if load_error is None:
        _add_dependency_notes(asg, per_function)
        _add_problem_notes(tests, skipped, "numpy" in asg.compat)
    score = round(sum(t.score for t in tests), 6)
    max_score = round(sum(t.max_score for t in tests), 6)
    output = _summary(asg, tests, score, max_score, load_error)
    output += "".join(f"\nFinite differences {note}." for note in
                      (n.removeprefix("finite differences ") for n in fd_notes))
    notes = list(loaded.notes) + [
        f"your {module.replace('.', '/')}.py could not be imported ({why}); {module} is one of "
        f"the course's own modules and is not graded, so the grader's stand-in took its place"
        for module, _, why in replaced]
    if notes:
        output += "\nSubmission: " + "; ".join(one_line(n) for n in notes) + "."
    stopped = [item for item in skipped if item[2] in (STOPPED, NOT_RUN)]
    if stopped:
        output += ("\nStatements stopped at their time limit (Limits.statement, "
                   f"{limits.statement:g} s each; the load budget is {limits.load:g} s) or not run; "
                   "the functions defined before and after them were graded:")
        output += "".join(f"\n  {one_line(f'{label}: {why}')}" for label, why, _ in stopped)
    own = [item for item in skipped if item[2] not in ("", STOPPED, NOT_RUN)]
    if own:
        output += ("\nCode that raised and was skipped (what it would have defined is "
                   "missing; the functions around it were graded):")
        output += "".join(f"\n  {one_line(label)}: {one_line(why)}" for label, why, _ in own)
    helper_calls = [label for label, _, module in skipped if module == ""]
    if helper_calls:
        output += (f"\n{len(helper_calls)} test statement(s) using the course's test helpers "
                   f"were skipped (the helpers are stand-ins here): "
                   f"{one_line('; '.join(helper_calls[:8]))}{' …' if len(helper_calls) > 8 else ''}.")
    drift = sorted({d for d in (numpy_drift(why, compat="numpy" in asg.compat)
                                for _, why, _ in skipped) if d})
    output += "".join(f"\n{d}" for d in drift)
    for test in tests:
        for alt_note in _ACCEPTED_NOTES.findall(test.output):
            if alt_note not in output:
                output += f"\n{alt_note}"
    return GradeReport(score=score, max_score=max_score,
                       execution_time=time.monotonic() - started, output=output, tests=tests,
                       assignment=asg.name, submission=name, seed=int(seed), problems=problems,
                       isolation=isolation.level, isolation_detail=isolation.describe())


_ACCEPTED_NOTES = re.compile(r"^Accepted: .*$", re.M)
#: How the sandbox marks output it discarded beyond its cap.
_OMITTED = re.compile(r"\[\.\.\. \d+ bytes of output omitted \.\.\.\]")


def effective_limits(asg: Assignment, limits: Limits | None) -> Limits:
    """``limits`` when given, else the defaults with the assignment's ``[limits]`` applied."""
    if limits is not None:
        return limits
    return Limits().replace(**asg.limits) if asg.limits else Limits()


def _unit_budget(limits: Limits) -> float:
    """Seconds the units may take together: the load limit less a reserve for the statements
    that only define something (they still run once the budget is spent) and the start-up."""
    return max(limits.load - min(5.0, limits.load / 4), min(limits.load, 0.5))


def _statement_text(code: str, width: int = 60) -> str:
    """A unit as a reader recognises it: its first line of code, a call's arguments elided
    (``parameters = L_layer_model(…)``)."""
    lines = [line.strip() for line in code.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    first = lines[0] if lines else code.strip()
    first = re.sub(r"\((.*)\)?$", "(…)", first, count=1) if "(" in first else first
    first = first if len(lines) <= 1 else first + " …"
    return first if len(first) <= width else first[:width - 1] + "…"


def _skipped_units(sub: PythonSubmission, loaded: LoadedSubmission | None = None
                   ) -> list[tuple[str, str, str | None]]:
    """``(label, why, module whose import failed, STOPPED, NOT_RUN or None)`` of the units that
    raised or were stopped; a stopped unit's ``why`` names its statement."""
    result = sub.call(SKIPPED_FUNCTION)
    if not result.ok or not isinstance(result.value, list):
        return []
    codes = {label: code for label, _, code in (loaded.units if loaded else [])}
    out = []
    for item in result.value:
        if isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], str) \
                and isinstance(item[1], str) and (item[2] is None or isinstance(item[2], str)):
            label, why, module = item
            if module in (STOPPED, NOT_RUN) and label in codes:
                why = f"{why}: {_statement_text(codes[label])}"
            out.append((label, why, module))
    return out


def _replaced_modules(sub: PythonSubmission) -> list[tuple[str, str, str]]:
    """``(module, file, why)`` of the student's copies of course modules that raised on import
    and were replaced by the grader's stand-in."""
    result = sub.call(REPLACED_FUNCTION)
    if not result.ok or not isinstance(result.value, list):
        return []
    return [(item[0], item[1], item[2]) for item in result.value
            if isinstance(item, (list, tuple)) and len(item) == 3
            and all(isinstance(part, str) for part in item)]


def _call_failures(grader: _FunctionGrader) -> list[str]:
    """One sentence per kind of call failure of a graded function (a hang, a crash, memory)."""
    out, seen = [], set()
    for outcome in grader.outcomes.values():
        call = outcome.call
        if call is not None and not call.ok and call.kind in _REPORTED_KINDS \
                and call.kind not in seen:
            seen.add(call.kind)
            message = call.message.replace(f"{WRAPPER_FUNCTION}()", f"{grader.fn.display}()")
            message = message.replace(f"{PROVIDE_FUNCTION}()", f"{grader.fn.display}()")
            out.append(one_line(f"{grader.fn.display}: {call.kind}: {message.splitlines()[0]}"))
    return out


def _import_failures(skipped: list[tuple[str, str, str | None]]) -> list[str]:
    return [one_line(f"import of {module!r} failed: {why} ({label})")   # "" marks a test-helper call
            for label, why, module in skipped if module and module not in (STOPPED, NOT_RUN)]


def _problems(loaded: LoadedSubmission, skipped, load_error: CallResult | None,
              compat: bool) -> list[str]:
    """Sentences for the gradebook's error column: failed imports, NumPy drift, load errors."""
    problems = _import_failures(skipped)
    for label, why, module in skipped:
        if module == STOPPED:
            problems.append(f"{label}: {why}; the functions defined before and after it were "
                            f"graded")
            continue
        if module == NOT_RUN:
            problems.append(f"{label}: {why}")
            continue
        drift = numpy_drift(why, compat=compat)
        if drift and drift not in problems:
            problems.append(drift)
        elif module is None and not why.startswith("NameError"):
            problems.append(f"{label} of {loaded.name} raised {why}")
    if load_error is not None:
        problems.append(f"could not be loaded: {load_error.message}")
    return [one_line(p) for p in problems]


def _add_problem_notes(tests: list[TestResult], skipped, compat: bool) -> None:
    """A failing test's output names the import that failed (when a name is undefined) and
    says when the error is NumPy's changelog rather than the student's backprop."""
    imports = _import_failures(skipped)
    for t in tests:
        if t.status != "failed":
            continue
        notes = []
        if imports and "NameError" in t.output:
            notes.append("Note: a name your code uses is not defined; "
                         + "; ".join(imports[:3]) + ".")
        drift = numpy_drift(t.output, compat=compat)
        if drift:
            notes.append(drift)
        if notes:
            t.output = t.output + "\n" + "\n".join(notes)


def _add_dependency_notes(asg: Assignment, per_function: list[list[TestResult]]) -> None:
    failing = {fn.name for fn, results in zip(asg.functions, per_function, strict=True)
               if any(t.status == "failed" for t in results)}
    for fn, results in zip(asg.functions, per_function, strict=True):
        culprits = [u for u in fn.uses if u in failing]
        if not culprits:
            continue
        note = (f"Note: {fn.name} usually calls your {', '.join(culprits)}, which also fails "
                f"its checks; fix that first, this failure may only be a consequence.")
        for t in results:
            if t.status == "failed":
                t.output = f"{t.output}\n{note}"


def grade_submission(path: str | os.PathLike, assignment: object = "step-by-step", *,
                     seed: int = 0, limits: Limits | None = None,
                     points: Mapping[str, float] | None = None,
                     helpers: bool = True) -> GradeReport:
    """Grade the submission at ``path`` against ``assignment``.

    ``path`` is a ``.py`` file, a ``.ipynb`` notebook, or one student's folder or ``.zip``
    (helper files, a package layout such as ``cs231n/``: :mod:`.loading`). ``assignment`` is a
    built-in name ("step-by-step", "layered"), the path of a declaration file, or an
    :class:`~gradref.checks.grading.assignment.Assignment`. ``seed`` fixes the random cases
    (the same submission and seed always get the same grade); ``limits`` the sandbox's
    per-call limits; ``points`` overrides points (a function's name rescales its checks to that
    total, a full test name sets that test's points). ``helpers``: a lone ``.py``/``.ipynb``
    file may import the ``.py`` files beside it (its own helpers); ``grade-all`` turns it off
    for the loose files of a class folder, which are classmates, never helpers.

    Never raises for anything the submission does. Raises ``FileNotFoundError`` (missing path),
    :class:`SubmissionError` (not a .py/.ipynb/folder/zip, unreadable, no file to grade),
    ``AssignmentError`` (unknown name, bad declaration) and ``ValueError``/``TypeError`` for
    bad arguments.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    file = Path(path)
    asg = load_assignment(assignment)            # a bad assignment is reported first
    if not file.exists() and not file.is_symlink():
        raise FileNotFoundError(f"submission not found: {file}")
    try:
        loaded = load_submission(file, asg, helpers=helpers)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SubmissionError(str(exc)) from None
    return _grade_loaded(loaded, asg, seed=seed, limits=limits, points=points, name=str(file))
