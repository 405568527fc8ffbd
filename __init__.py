"""gradref: a gradient-verified reference network in NumPy, a gradient checker, and a grader.

One import package with two halves, mapped from the repository's top-level folders:

* :mod:`gradref.reference` -- the NumPy core (activations, losses, the network, training,
  datasets); importable with NumPy alone;
* :mod:`gradref.checks` -- the checker (finite differences, kinks, tolerances, the autograd
  oracle, results, diagnosis) and the product built on it (validation, grading, isolation, the
  ``gradref`` command).

The public names below are imported on first use, so ``import gradref`` costs nothing and the
pytest plugin, the command line and the sandbox pay only for what they run.
"""

import os as _os
import sys as _sys

# ``python -m gradref`` puts the current folder first on sys.path before this file runs; a
# ``random.py`` or ``numpy.py`` there would then be imported by the grader (as root, in a
# Gradescope container).  While ``-m`` imports this package, sys.argv[0] is "-m": drop that
# entry before anything else is imported.  (The console script puts its own bin/ folder there.)
if _sys.argv[:1] == ["-m"] and _sys.path and _sys.path[0] in ("", _os.getcwd()):
    del _sys.path[0]

from importlib import import_module  # noqa: E402

__all__ = [
    "__version__",
    "Network",
    "check_gradients", "check_network", "CheckResult", "assert_gradients_match",
    "diagnose", "Finding",
    "validate", "ValidationSettings",
    "grade_submission", "grade_function", "grade_all", "build_bundle",
]

#: public name -> (module, attribute)
_WHERE = {
    "Network": ("gradref.reference", "Network"),
    "check_gradients": ("gradref.checks.api", "check_gradients"),
    "check_network": ("gradref.checks.api", "check_network"),
    "CheckResult": ("gradref.checks.result", "CheckResult"),
    "assert_gradients_match": ("gradref.checks.testing", "assert_gradients_match"),
    "diagnose": ("gradref.checks.diagnosis", "diagnose"),
    "Finding": ("gradref.checks.diagnosis", "Finding"),
    "validate": ("gradref.checks.validation", "validate"),
    "ValidationSettings": ("gradref.checks.validation", "Settings"),
    "grade_submission": ("gradref.checks.grading", "grade_submission"),
    "grade_function": ("gradref.checks.grading.inprocess", "grade_function"),
    "grade_all": ("gradref.checks.grading.batch", "grade_all"),
    "build_bundle": ("gradref.checks.grading.bundle", "build_bundle"),
}


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gradref")
    except metadata.PackageNotFoundError:  # imported from a checkout that was never installed
        return "0+unknown"


def __getattr__(name: str):
    if name == "__version__":
        value = _version()
    elif name in _WHERE:
        module, attribute = _WHERE[name]
        value = getattr(import_module(module), attribute)
    else:
        raise AttributeError(f"module 'gradref' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
