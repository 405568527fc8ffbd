r"""Array-likes in, NumPy out: what ``check_gradients`` does with the values a user's function
returns.

A value becomes a NumPy array by the first of these that applies; the name of the route is
returned with it so that the report can say how the value was read:

``"ndarray"``
    already a NumPy array or NumPy scalar (kept as is, dtype included);
``"number"``
    a Python ``int``/``float``;
``"DLPack"``
    an object with ``__dlpack__`` (a PyTorch tensor, a JAX array, a CuPy array on the host):
    :func:`numpy.from_dlpack`, zero-copy, dtype kept. A tensor that requires grad refuses to
    be exported; its ``detach()`` is exported instead (``"DLPack after detach()"``);
``"__array__"``
    an object with ``__array__`` (older array libraries, pandas): :func:`numpy.asarray`;
``"sequence"``
    a list or tuple (of numbers, or of array-likes): :func:`numpy.asarray`.

Anything else raises ``TypeError`` naming what was returned. Values are never modified; the
array returned may share memory with the value (the checker copies before it writes).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["to_numpy"]


def _from_dlpack(value: object) -> tuple[np.ndarray, str]:
    try:
        return np.from_dlpack(value), "DLPack"
    except (RuntimeError, TypeError, BufferError, ValueError) as first:
        detach = getattr(value, "detach", None)
        if callable(detach):
            try:
                return np.from_dlpack(detach()), "DLPack after detach()"
            except (RuntimeError, TypeError, BufferError, ValueError):
                pass
        if hasattr(value, "__array__"):
            return np.asarray(value), "__array__"
        raise TypeError(f"could not read {type(value).__name__} through DLPack: {first}") \
            from None


def to_numpy(value: object, what: str = "value") -> tuple[np.ndarray, str]:
    """``(array, route)``: ``value`` as a NumPy array and the route used (module docstring).

    ``what`` names the value in the error raised when no route applies.
    """
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value), "ndarray"
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return np.asarray(value), "number"
    if hasattr(value, "__dlpack__"):
        return _from_dlpack(value)
    if hasattr(value, "__array__"):
        return np.asarray(value), "__array__"
    if isinstance(value, (list, tuple)):
        try:
            parts = [to_numpy(v, what)[0] if not isinstance(v, (list, tuple)) else v
                     for v in value]
            return np.asarray(parts), "sequence"
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what} is a {type(value).__name__} that is not a rectangular "
                            f"array of numbers: {exc}") from None
    raise TypeError(f"{what} is a {type(value).__name__}, not an array: return a NumPy array, "
                    f"a list, or an object with __array__ or __dlpack__")
