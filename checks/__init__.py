"""gradref's checker: finite differences, the autograd oracle, diagnosis, validation and grading.

The public names below are imported on first use, so that ``python -m checks grade`` does not
pay for autograd and the checker when it only needs the sandbox. (Validation's entry point is
``checks.validate.validate``: ``checks.validate`` is the module's own name.)
"""

from importlib import import_module

__all__ = ["check_network", "check_gradients", "CheckResult", "fd_tolerances", "sensitivity",
           "diagnose", "Finding", "assert_gradients_match", "validate", "grade_submission"]

_WHERE = {
    "check_network": "checks.api", "check_gradients": "checks.api",
    "CheckResult": "checks.result",
    "fd_tolerances": "checks.tolerances", "sensitivity": "checks.tolerances",
    "diagnose": "checks.diagnosis", "Finding": "checks.diagnosis",
    "assert_gradients_match": "checks.testing",
    "grade_submission": "checks.grading",
}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'checks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
