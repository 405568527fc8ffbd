"""Validation: another implementation's gradients checked against the reference.

* :mod:`.engine` draws the cases, runs the target, judges every array with the checker and
  shrinks a failing case (:func:`validate`, :class:`Settings`, :class:`ValidationReport`);
* :mod:`.conventions` adapts the implementation's conventions at the boundary (summed costs,
  one example per call, updates instead of gradients, list returns, the −1 bias input);
* :mod:`.targets` wraps what is validated: a Python callable, a function in a file (run in the
  sandbox) or a command in any language speaking case files;
* :mod:`.bound` builds object-oriented models (``--model``/``--call``); :mod:`.binding` finds
  and binds their parameter arrays and :mod:`.layerchain` runs the call or chains layer
  objects (both pure NumPy: they also run inside the sandboxed child);
* :mod:`.constraints`: integer labels and the architecture limits of an implementation;
* :mod:`.stability`: instability told apart from a wrong derivative, the mechanism named;
* :mod:`.reproduce`: the one-line reproduction command of a case (``--case K``);
* :mod:`.report` renders a report as text, JSON or JUnit XML;
* :mod:`.command` is the ``gradref validate`` subcommand.

Dependencies point one way: command -> engine -> conventions -> targets; engine -> report
(lazily, to render).
"""

from .conventions import REDUCTIONS, RETURNS, UNSUPPORTED
from .engine import (
    COST_RTOL,
    DATA_FAMILIES,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNSTABLE,
    ArrayVerdict,
    CaseReport,
    ForwardAnalysis,
    Settings,
    ValidationReport,
    validate,
)
from .targets import (
    EXIT_UNSUPPORTED,
    IO_FORMATS,
    Answer,
    Target,
    callable_target,
    command_target,
    python_target,
)

__all__ = [
    "EXIT_OK", "EXIT_FAILED", "EXIT_ERROR", "EXIT_UNSTABLE", "EXIT_UNSUPPORTED", "COST_RTOL",
    "DATA_FAMILIES", "REDUCTIONS", "RETURNS", "UNSUPPORTED", "IO_FORMATS",
    "Settings", "ArrayVerdict", "CaseReport", "ForwardAnalysis", "ValidationReport",
    "Target", "Answer", "callable_target", "python_target", "command_target",
    "validate",
]
