"""Grade one function object in the caller's own process: a gradref check in a notebook's test
cell (nbgrader, otter-grader) or any Python test.

::

    import gradref

    report = gradref.grade_function("linear_backward", linear_backward, assignment="step-by-step")
    assert report.score == report.max_score, report.output

It returns the same :class:`~gradref.checks.grading.report.GradeReport` as
:func:`~gradref.checks.grading.grade_submission` would for that function: the same checks, seeded
cases, points, shrunk failing case and diagnosis. Arguments and return values go through the
sandbox's own encoding (:mod:`gradref.checks.isolation.protocol`), so the function sees fresh
copies and its answer is judged exactly as from the sandbox.

**It runs in the student's process, without the boundary**: no sandbox, no time or memory limit,
no protection of the grader from the code it calls. That is what an in-notebook check is (the
student's kernel already runs their code); grade the submitted files with ``gradref grade`` or
``grade-all`` when the grade must not be forged.
"""

from __future__ import annotations

import functools
import io
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from gradref.checks.isolation import CallResult, protocol

from .assignment import load_assignment
from .driver import (
    OBSERVED_FUNCTION,
    OBSERVED_SOURCE,
    PICK_FUNCTION,
    PICK_SOURCE,
    PROVIDE_FUNCTION,
    PROVIDE_SOURCE,
    SEED_FUNCTION,
)
from .report import GradeReport

__all__ = ["grade_function"]

_TRACEBACK_FRAMES = 8


def _copy(value: Any) -> Any:
    """``value`` as the sandbox's encoding delivers it (ProtocolError when it cannot)."""
    data = protocol.pack({}, value)
    stream = io.BytesIO(data)

    def read_exact(size: int) -> bytes:
        chunk = stream.read(size)
        if len(chunk) != size:
            raise protocol.ProtocolError("truncated")
        return chunk

    return protocol.read_frame(read_exact, max_bytes=len(data))[1]


class _InProcess:
    """The part of :class:`~gradref.checks.isolation.PythonSubmission` the grader uses: ``call``,
    answered by the function object itself."""

    def __init__(self, name: str, function: Callable[..., Any],
                 support: Mapping[str, str] | None = None) -> None:
        self.name, self.function = name, function
        self.support = dict(support or {})     # the assignment's support modules' sources

    def call(self, function: str, /, *args: Any, **kwargs: Any) -> CallResult:
        started = time.monotonic()
        if function == PICK_FUNCTION:      # which declared signature the function accepts
            rule: dict[str, Any] = {}
            exec(PICK_SOURCE, rule)        # the sandbox's own binding rule, same text
            name, method, shapes = args
            value = rule["__gradref_pick_form__"](self.function, method, shapes) \
                if name == self.name else None
            return CallResult(function, ok=True, value=value, seconds=time.monotonic() - started)
        if function == PROVIDE_FUNCTION and args and args[0] == self.name:
            return self._call_provided(started, *args)
        if function == SEED_FUNCTION:      # the global seeding before a call (global_seed)
            import numpy

            numpy.random.seed(*args)
            return CallResult(function, ok=True, value=None, seconds=time.monotonic() - started)
        target = self.function
        if function == OBSERVED_FUNCTION:   # inplace arguments observed; no forward here
            name, f_args, f_kwargs, chain, observe = args
            if chain is not None:
                return CallResult(function, ok=False, kind="exception",
                                  exception="NotImplementedError",
                                  message=f"{name} is graded on the cache of your own "
                                          f"{chain[0]}, which grade_function does not have: "
                                          f"grade the file with gradref grade")
            rule: dict[str, Any] = {}
            exec(OBSERVED_SOURCE, rule)
            observed = rule["__gradref_observed_call__"]

            def target(*a, **k):
                return observed(self.function, None, a, k, None, observe)

            function, args, kwargs = name, tuple(f_args), dict(f_kwargs)
        if function != self.name:
            return CallResult(function, ok=False, kind="missing-function",
                              message=f"cannot call {function}(): only {self.name} is graded here")
        args, kwargs = _copy((args, kwargs))
        try:
            value = target(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the student's exception is a result
            kind = "memory" if isinstance(error, MemoryError) else "exception"
            tb = traceback.TracebackException.from_exception(error, limit=-_TRACEBACK_FRAMES)
            detail = "".join(tb.format_exception_only()).strip()
            message = (f"{function}() ran out of memory: {detail}" if kind == "memory"
                       else f"{function}() raised {detail}")
            return CallResult(function, ok=False, kind=kind, message=message,
                              exception=type(error).__name__, traceback="".join(tb.format()),
                              seconds=time.monotonic() - started)
        try:
            value = _copy(value)
        except protocol.ProtocolError as error:
            return CallResult(function, ok=False, kind="bad-output",
                              message=f"{function}() returned a value that cannot be sent back: "
                                      f"{error}", seconds=time.monotonic() - started)
        return CallResult(function, ok=True, value=value, seconds=time.monotonic() - started)

    def _call_provided(self, started: float, name: str, provide: Mapping[str, str],
                       value: Any, args: Any, kwargs: Any) -> CallResult:
        """The sandbox's :data:`PROVIDE_FUNCTION` here: the grader's helpers (built from the
        assignment's support module sources) bound in the function's globals for the call,
        the function's own bindings put back after it."""
        if not isinstance(getattr(self.function, "__globals__", None), dict):
            return CallResult(PROVIDE_FUNCTION, ok=False, kind="exception", exception="TypeError",
                              message=f"{name}() has no module namespace to bind the grader's "
                                      f"helpers in", seconds=time.monotonic() - started)
        modules: dict[str, dict[str, Any]] = {}

        def load(module: str) -> dict[str, Any]:
            if module not in modules:
                modules[module] = {"__name__": module}
                exec(compile(self.support[module], f"<{module}>", "exec"), modules[module])
            return modules[module]

        rule: dict[str, Any] = {}
        exec(PROVIDE_SOURCE, rule)         # the sandbox's own binding, same text
        bind = rule["__gradref_with_provided__"]
        # a partial has no __globals__: the helpers go into the fallback, the function's own
        return bind(functools.partial(self.call, name), provide, _copy(value), args, kwargs, load,
                    self.function.__globals__)

    def call_bounded(self, answer_bytes: int | None, function: str, /, *args: Any,
                     **kwargs: Any) -> CallResult:
        """:meth:`call`: the sandbox's bound on an answer's size protects the grader's memory
        from another process; here the answer already lives in this (the student's) process,
        so it is not applied."""
        return self.call(function, *args, **kwargs)


def grade_function(name: str, function: Callable[..., Any], assignment: object = "step-by-step",
                   *, seed: int = 0, points: Mapping[str, float] | None = None) -> GradeReport:
    """Grade the function object ``function`` as the assignment's function ``name`` (its name or
    its display name ``name (label)``), in this process; see the module docstring.

    Raises ``ValueError`` naming the valid functions when ``name`` is not one the assignment
    grades as a module-level function, ``TypeError`` when ``function`` is not callable."""
    from .engine import _call_failures, _FunctionGrader

    if not callable(function):
        raise TypeError(f"function must be callable (the student's function object), got "
                        f"{type(function).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    asg = load_assignment(assignment).with_points(points)
    matches = [f for f in asg.functions if name in (f.name, f.display)]
    valid = ", ".join(f.display for f in asg.functions if f.call == "function")
    if not matches:
        raise ValueError(f"name: {name!r} is not graded by {asg.name!r}; valid: {valid}")
    fn = matches[0]
    if fn.call != "function":
        raise ValueError(f"name: {name!r} is a {fn.call} of class {fn.cls}; grade_function grades "
                         f"module-level functions ({valid})")
    started = time.monotonic()
    grader = _FunctionGrader(_InProcess(fn.name, function, asg.support_modules), fn, asg, seed)  # type: ignore[arg-type]
    tests = grader.grade()
    score = round(sum(t.score for t in tests), 6)
    max_score = round(sum(t.max_score for t in tests), 6)
    failed = [t.name.partition(": ")[2] for t in tests if t.status == "failed"]
    output = (f"{asg.title}: {fn.display}: {score:g} / {max_score:g} points "
              f"({'ok' if not failed else 'failed: ' + ', '.join(failed)}); graded in this "
              f"process, without the sandbox.")
    return GradeReport(score=score, max_score=max_score, execution_time=time.monotonic() - started,
                       output=output, tests=tests, assignment=asg.name,
                       submission=f"<function {getattr(function, '__qualname__', name)}>",
                       seed=seed, problems=_call_failures(grader), isolation="in-process",
                       isolation_detail="in-process: the student's own process, no sandbox and "
                                        "no limits (grade_function)")
