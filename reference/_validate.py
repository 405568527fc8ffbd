"""Input validation shared by the reference: every bad input is refused before any arithmetic.

Each helper raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind, wrong
value or shape) with a message naming the argument, what it got and what was expected.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["as_float_array", "check_positive_int", "check_nonnegative_float", "check_real",
           "describe"]


def describe(value: object) -> str:
    """A short description of ``value`` for error messages (shape and dtype for arrays)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_float_array(name: str, value: object, *, ndim: int | None = None,
                   allow_empty: bool = False) -> np.ndarray:
    """Return ``value`` as a float64 ndarray, or raise an error that names ``name``.

    Rejects: non-numeric data (strings, objects, booleans), complex numbers, NaN or infinity,
    the wrong number of dimensions, and empty arrays unless ``allow_empty``.
    """
    if type(value) is np.ndarray and value.dtype == np.float64:
        arr = value  # the common case: no conversion, no dtype questions
    elif isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:  # ragged lists and the like
            raise TypeError(f"{name} must be a numeric array, got {describe(value)}: {exc}") from None
    if arr.dtype.kind not in "iuf":  # signed, unsigned, float; not bool, complex, str, object
        raise TypeError(f"{name} must be a real numeric array, got {describe(value)} "
                        f"(dtype {arr.dtype})")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one element")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))
        first = tuple(int(i) for i in bad[0])
        raise ValueError(f"{name} contains {len(bad)} non-finite value(s) (NaN or inf), "
                         f"first at index {first}: {arr[first]}")
    return arr


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is an integer >= 1, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_nonnegative_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is finite and >= 0, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value}")
    return value


def check_real(name: str, value: object, *, low: float, high: float = math.inf,
               low_open: bool = False, high_open: bool = True) -> float:
    """``value`` as a finite float in the interval from ``low`` to ``high`` (closed or open at
    each end as told), or a ``TypeError``/``ValueError`` naming ``name`` and the value."""
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    wanted = f"a finite number in {lo}{low:g}, {high:g}{hi}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {wanted}, got {describe(value)}")
    x = float(value)
    if (not math.isfinite(x) or x < low or (low_open and x == low) or x > high
            or (high_open and x == high)):
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return x
