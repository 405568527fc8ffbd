"""The one exception type of the isolation layer's public API."""

from __future__ import annotations

__all__ = ["IsolationError"]


class IsolationError(RuntimeError):
    """The isolation layer itself could not run (not the submission's fault).

    Raised e.g. when the child interpreter cannot be started, numpy cannot be imported in the
    child, no sandbox uid is free, or the sandbox is used after ``close()``.  Everything the
    *submission* does wrong is reported in a result object instead, never raised.
    """
