r"""Diagnosis of a learning-rate schedule: which wrong formula produced a student's rate.

:func:`diagnose_schedule` takes the inputs of DLS ``update_lr(learning_rate0, epoch_num,
decay_rate)`` or ``schedule_lr_decay(…, time_interval)`` and the rate the student returned, and
names the first of :data:`SCHEDULE_VARIANTS` that reproduces it (to the diagnosis'
``MATCH_RTOL``): the floor of ⌊e/T⌋ missing, the interval ignored, ceil instead of the floor
(rounding to the nearest integer always gives the floor or the ceil), a rate not decayed between
the multiples of the interval, the precedence slip η0/1 + k·e, a multiplication instead of the
division. A right rate gets no finding. The reference formulas are those of
:mod:`gradref.reference.optimizers` (``inverse_time_decay``,
``stepped_inverse_time_decay``); the variants are restatements of the wrong ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gradref.reference.optimizers import inverse_time_decay, stepped_inverse_time_decay

from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from ..tolerances import DIAGNOSIS_MATCH_RTOL as MATCH_RTOL
from .findings import Finding

__all__ = ["SCHEDULE_VARIANTS", "diagnose_schedule"]

#: ``(id, rate(lr0, e, k, T), message)``. Every variant is tried for both schedules: update_lr
#: is the stepped schedule with T = 1, where the first four coincide with the right rate (which
#: is tested first) and ``multiplied_stepped`` with ``multiplied`` (named first).
SCHEDULE_VARIANTS: tuple[tuple[str, Callable[..., float], str], ...] = (
    ("no_floor", lambda lr0, e, k, T: lr0 / (1 + k * e / T),
     "the decay is not stepped: epoch_num / time_interval needs the floor, "
     "np.floor(epoch_num / time_interval), so the rate only falls every time_interval epochs"),
    ("interval_ignored", lambda lr0, e, k, T: lr0 / (1 + k * e),
     "time_interval is ignored: this is update_lr's rate lr0 / (1 + decay_rate * epoch_num); "
     "schedule_lr_decay divides by 1 + decay_rate * floor(epoch_num / time_interval)"),
    ("ceil", lambda lr0, e, k, T: lr0 / (1 + k * math.ceil(e / T)),
     "the epochs are rounded up (ceil): floor(epoch_num / time_interval) counts only the "
     "intervals completed"),
    ("not_decayed", lambda lr0, e, k, T: lr0,
     "the rate is learning_rate0, not decayed at this epoch (schedule_lr_decay keeps the last "
     "decayed value, learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval)), "
     "between two multiples of time_interval; decaying only on the multiples, or never, "
     "gives learning_rate0 here)"),
    ("precedence", lambda lr0, e, k, T: lr0 + k * e,
     "the denominator lost its parentheses: learning_rate0 / 1 + decay_rate * epoch_num "
     "adds instead of dividing; write learning_rate0 / (1 + decay_rate * …)"),
    ("multiplied", lambda lr0, e, k, T: lr0 * (1 + k * e),
     "the rate is multiplied by (1 + decay_rate * epoch_num) instead of divided by it"),
    ("multiplied_stepped", lambda lr0, e, k, T: lr0 * (1 + k * (e // T)),
     "the rate is multiplied by (1 + decay_rate * floor(epoch_num / time_interval)) instead "
     "of divided by it"),
)


def _same(value: float, want: float) -> bool:
    return math.isfinite(value) and abs(value - want) <= MATCH_RTOL * abs(want) + MATCH_ATOL


def diagnose_schedule(learning_rate0: float, epoch_num: int, decay_rate: float,
                      time_interval: int | None, got: object) -> list[Finding]:
    """Findings about a student's rate; ``time_interval`` None for ``update_lr``."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        return []
    stepped = time_interval is not None
    T = time_interval if stepped else 1      # update_lr: the stepped schedule with T = 1
    right = (stepped_inverse_time_decay(learning_rate0, epoch_num, decay_rate, T) if stepped
             else inverse_time_decay(learning_rate0, epoch_num, decay_rate))
    if _same(value, right):
        return []             # right (a variant that coincides here says nothing)
    for vid, rate, message in SCHEDULE_VARIANTS:
        if _same(value, rate(learning_rate0, epoch_num, decay_rate, T)):
            return [Finding(("learning_rate",), "schedule", message, {"variant": vid})]
    return []
