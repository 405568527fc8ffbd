"""NumPy drift: an error that comes from NumPy's changelog, not from the student's backprop.

Code that was valid in the student's year (``np.float``, ``np.reshape(x, newshape=...)``,
``np.asscalar``) raises under the NumPy the grader runs. :func:`numpy_drift` recognises such an
error in a message or traceback and says so in one sentence; an assignment with
``compat = ["numpy"]`` has the grader put the old spellings back instead
(:data:`gradref.checks.grading.driver.NUMPY_COMPAT`).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["REMOVED", "numpy_drift"]

#: Removed NumPy names -> (the release that removed them, what to write instead).
REMOVED = {
    "float": ("1.24", "float (or np.float64)"), "int": ("1.24", "int (or np.int64)"),
    "bool": ("1.24", "bool (or np.bool_)"), "object": ("1.24", "object"),
    "complex": ("1.24", "complex (or np.complex128)"), "str": ("1.24", "str"),
    "long": ("1.24", "int"), "unicode": ("1.24", "str"),
    "asscalar": ("1.23", "a.item()"), "product": ("2.0", "np.prod"),
    "cumproduct": ("2.0", "np.cumprod"), "alltrue": ("2.0", "np.all"),
    "sometrue": ("2.0", "np.any"), "NaN": ("2.0", "np.nan"), "NAN": ("2.0", "np.nan"),
    "Inf": ("2.0", "np.inf"), "Infinity": ("2.0", "np.inf"), "infty": ("2.0", "np.inf"),
    "PINF": ("2.0", "np.inf"), "NINF": ("2.0", "-np.inf"), "PZERO": ("2.0", "0.0"),
    "NZERO": ("2.0", "-0.0"), "float_": ("2.0", "np.float64"),
    "complex_": ("2.0", "np.complex128"), "string_": ("2.0", "np.bytes_"),
    "unicode_": ("2.0", "np.str_"), "round_": ("2.0", "np.round"),
    "asfarray": ("2.0", "np.asarray(a, dtype=float)"), "msort": ("2.0", "np.sort(a, axis=0)"),
    "int0": ("2.0", "np.intp"), "uint0": ("2.0", "np.uintp"), "bool8": ("2.0", "np.bool_"),
}

_ATTRIBUTE = re.compile(r"(?:module 'numpy' has no attribute '(\w+)'|`np\.(\w+)` was removed)")
_NEWSHAPE = re.compile(r"reshape\(\) got an unexpected keyword argument 'newshape'")


def numpy_drift(text: str, *, compat: bool = False) -> str | None:
    """One sentence when ``text`` (an error message or traceback) shows a NumPy API that was
    removed or changed, else None. ``compat``: whether the assignment supplied old spellings."""
    if not text:
        return None
    advice = ("" if compat else " Ask your instructor to enable compat = [\"numpy\"] in the "
              "assignment, or use the current spelling.")
    if _NEWSHAPE.search(text):
        return (f"This error comes from NumPy, not from your backprop: the keyword newshape= of "
                f"np.reshape was removed in NumPy 2.4 (the grader runs NumPy {np.__version__}); "
                f"write np.reshape(x, shape) or x.reshape(shape).{advice}")
    match = _ATTRIBUTE.search(text)
    if match:
        name = match.group(1) or match.group(2)
        if name in REMOVED:
            release, instead = REMOVED[name]
            return (f"This error comes from NumPy, not from your backprop: np.{name} was "
                    f"removed in NumPy {release} (the grader runs NumPy {np.__version__}); use "
                    f"{instead}.{advice}")
    return None
