"""Validation: another implementation's gradients checked against the reference.

* :mod:`.engine` draws the cases, runs the target, judges every array with the checker and
  shrinks a failing case (:func:`validate`, :class:`Settings`, :class:`ValidationReport`);
* :mod:`.targets` wraps what is validated: a Python callable, a function in a file (run in the
  sandbox) or a command in any language speaking case files;
* :mod:`.report` renders a report as text, JSON or JUnit XML;
* :mod:`.command` is the ``gradref validate`` subcommand.

Dependencies point one way: command -> engine -> targets; engine -> report (lazily, to render).
"""

from .engine import (
    COST_RTOL,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    ArrayVerdict,
    CaseReport,
    ForwardAnalysis,
    Settings,
    ValidationReport,
    validate,
)
from .targets import Answer, Target, callable_target, command_target, python_target

__all__ = [
    "EXIT_OK", "EXIT_FAILED", "EXIT_ERROR", "COST_RTOL",
    "Settings", "ArrayVerdict", "CaseReport", "ForwardAnalysis", "ValidationReport",
    "Target", "Answer", "callable_target", "python_target", "command_target",
    "validate",
]
