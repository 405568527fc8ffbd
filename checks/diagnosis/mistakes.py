"""Named mistakes replayed by an assignment's computation: which one the student's answer is.

A computation that knows its assignment's classic mistakes (L2 on the biases, the dropout mask
not rescaled, a gradient checker's norm in the wrong place …) replays each of them on the case
and puts the results in its :class:`~gradref.checks.grading.computations.Built` context under
``"mistakes"``: a list of :class:`Mistake`, each the sentence for the student and the outputs
that mistake produces (every output it changes, and the ones it leaves right). An answer *is*
that mistake when every output the mistake names that the student returned agrees with the
replay, and at least one of them is an output the check found wrong. The first such mistake
is the diagnosis (:func:`match_mistakes`); its finding has the kind ``"named_mistake"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .findings import Finding

__all__ = ["Mistake", "match_mistakes"]


@dataclass(frozen=True)
class Mistake:
    """One replayed mistake: ``message`` for the student, ``values`` ``{output or dict key:
    what the mistake returns}``, and the closeness an answer must have to be it
    (``max|yours − replay| <= rtol·max|replay| + atol``)."""

    message: str
    values: Mapping[str, object] = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 1e-9

    def agrees(self, key: str, got: object) -> bool:
        want = self.values[key]
        if callable(want):           # a rule rather than a value (e.g. "an array of shape …")
            try:
                return bool(want(got))
            except (TypeError, ValueError, ArithmeticError):
                return False
        want = np.asarray(want, dtype=np.float64)
        try:
            arr = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if arr.size != want.size:
            return False
        arr = arr.reshape(want.shape)
        if not np.all(np.isfinite(arr)):
            return False
        bound = self.rtol * float(np.max(np.abs(want), initial=0.0)) + self.atol
        return float(np.max(np.abs(arr - want), initial=0.0)) <= bound


def match_mistakes(answers: Mapping[str, object], failing: Sequence[str],
                   mistakes: Sequence[Mistake]) -> list[Finding]:
    """The ``mistakes`` that ``answers`` (``{key: the student's value}``) is, in order, each a
    finding about the ``failing`` keys it explains first; [] when none is."""
    found: list[Finding] = []
    covered: set[str] = set()
    for mistake in mistakes:
        keys = [k for k in mistake.values if k in answers]
        if not keys or not all(mistake.agrees(k, answers[k]) for k in keys):
            continue
        same = next((i for i, f in enumerate(found) if set(f.names) == set(keys)), None)
        if same is not None:         # two mistakes this case cannot tell apart: both named
            f = found[same]
            found[same] = Finding(f.names, f.kind, f"{f.message}. It fits equally well: "
                                                   f"{mistake.message}")
            continue
        explained = [k for k in keys if k in failing and k not in covered]
        if explained:
            found.append(Finding(tuple(explained), "named_mistake", mistake.message))
            covered.update(explained)
    return found
