"""gradref's checker: finite differences, the autograd oracle, diagnosis, validation and grading.

The public names below are imported on first use, so that ``gradref grade`` does not
pay for autograd and the checker when it only needs the sandbox.
"""

from importlib import import_module

__all__ = ["check_network", "check_gradients", "CheckResult", "GradientCheckError",
           "fd_tolerances", "tolerances_for", "sensitivity",
           "diagnose", "Finding", "assert_gradients_match", "validate", "grade_submission"]

_WHERE = {
    "check_network": "gradref.checks.api", "check_gradients": "gradref.checks.api",
    "CheckResult": "gradref.checks.result", "GradientCheckError": "gradref.checks.result",
    "fd_tolerances": "gradref.checks.tolerances", "tolerances_for": "gradref.checks.tolerances",
    "sensitivity": "gradref.checks.tolerances",
    "diagnose": "gradref.checks.diagnosis", "Finding": "gradref.checks.diagnosis",
    "validate": "gradref.checks.validation",
    "assert_gradients_match": "gradref.checks.testing",
    "grade_submission": "gradref.checks.grading",
}


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gradref.checks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
