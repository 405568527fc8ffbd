"""When two arrays count as equal: the comparisons every part of the diagnosis shares.

``MATCH_RTOL`` (with ``MATCH_ATOL``) decides when a pattern fits: ``|a - e| <= MATCH_RTOL
max|e| + MATCH_ATOL`` at every element. It is looser than the checker's own rule (``FLAG_RTOL``,
``FLAG_ATOL``: the float64 autograd comparison), so an array the checker would flag by less than
``MATCH_RTOL`` still gets a near-miss finding naming its worst element — a failing array is never
passed over in silence. ``MODEL_RTOL`` decides whether the network in ``context`` reproduces
the expected gradients, which may be a finite-difference estimate.

The tolerances are named constants of :mod:`gradref.checks.tolerances` (its "diagnosis" section,
names prefixed ``DIAGNOSIS_``).
"""

from __future__ import annotations

import numpy as np

from ..tolerances import DIAGNOSIS_FLAG_ATOL as FLAG_ATOL
from ..tolerances import DIAGNOSIS_FLAG_RTOL as FLAG_RTOL
from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from ..tolerances import DIAGNOSIS_MATCH_RTOL as MATCH_RTOL
from ..tolerances import DIAGNOSIS_MODEL_RTOL as MODEL_RTOL

__all__ = ["_absmax", "_equal", "_close_to_model", "_differing", "_flag_mask", "_flagged"]


def _absmax(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def _equal(a: np.ndarray, e: np.ndarray) -> bool:
    """Equal up to float rounding (``MATCH_RTOL`` of the largest expected entry)."""
    if a.shape != e.shape:
        return False
    if a.size == 0:
        return True
    with np.errstate(all="ignore"):
        diff = np.abs(a - e)
    if not np.all(np.isfinite(diff)):
        return False
    return float(np.max(diff)) <= MATCH_RTOL * _absmax(e) + MATCH_ATOL


def _close_to_model(true: np.ndarray, expected: np.ndarray) -> bool:
    """Whether the context's network reproduces ``expected`` (up to ``MODEL_RTOL``, so that an
    expected array estimated by finite differences still identifies the network)."""
    if true.shape != expected.shape:
        return False
    return float(np.max(np.abs(true - expected), initial=0.0)) <= (
        MODEL_RTOL * _absmax(expected) + MATCH_ATOL)


def _differing(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.abs(a - e) > MATCH_RTOL * _absmax(e) + MATCH_ATOL


def _flag_mask(a: np.ndarray, e: np.ndarray, scale: float | None = None) -> np.ndarray:
    """The elements the checker's autograd rule flags: ``|a - e| > FLAG_RTOL |e| + FLAG_ATOL
    scale`` (``scale``: the largest expected magnitude of the group; default, of ``e``)."""
    if scale is None:
        scale = _absmax(e)
    with np.errstate(all="ignore"):
        return ~(np.abs(a - e) <= FLAG_RTOL * np.abs(e) + FLAG_ATOL * scale)


def _flagged(a: np.ndarray, e: np.ndarray, scale: float | None = None) -> bool:
    """Whether the checker would call ``a`` wrong (same shape assumed)."""
    return a.size > 0 and bool(np.any(_flag_mask(a, e, scale)))
