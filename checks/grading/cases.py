"""Random grading cases from a seed, and shrinking a failing case to the smallest that still fails.

A :class:`Case` is small and printable: the layer sizes, the batch size m, the variant (e.g. the
activation) and the seeds. Its arrays are drawn by the computation from :meth:`Case.rng`, which
depends only on those fields, so the same description always gives the same arrays - the
smallest failing case shown to a student can be re-created exactly.

Generation draws every size from the declared ranges, but from 2 upwards when the range allows
(m = 1 hides a missing 1/m; a 1×1 weight hides a transpose). Shrinking may then go down to the
ranges' lower bounds: it tries smaller m, fewer layers and narrower layers, keeps any candidate
on which the check still fails, and stops when none does or the call budget is spent.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

__all__ = ["Case", "CaseRanges", "generate_cases", "shrink_candidates", "shrink", "salt_of"]

#: Re-runs of the submission allowed while shrinking one failing check.
SHRINK_BUDGET = 40


def salt_of(label: str) -> int:
    """A stable 32-bit number from a function's label (cases differ between functions)."""
    return zlib.crc32(label.encode("utf-8"))


@dataclass(frozen=True)
class CaseRanges:
    """Inclusive (low, high) ranges for case sizes, and the number of cases per function.

    ``depth`` is the number of layers L of a network; ``input_width``, ``width`` and
    ``output_width`` bound n_0, the hidden n_l and n_L. Per-layer functions draw (n_prev, n) both
    from ``width``; elementwise ones draw n from ``width``.
    """

    count: int = 4
    depth: tuple[int, int] = (1, 3)
    input_width: tuple[int, int] = (1, 5)
    width: tuple[int, int] = (1, 5)
    output_width: tuple[int, int] = (1, 1)
    m: tuple[int, int] = (1, 6)

    def replace(self, **changes: object) -> CaseRanges:
        return replace(self, **changes)


@dataclass(frozen=True)
class Case:
    """One grading case. ``level`` is "layer", "array" or "network" (how to read layer_dims)."""

    level: str
    layer_dims: tuple[int, ...]
    m: int
    variant: object = None
    seed: int = 0
    salt: int = 0
    variant_name: str | None = None
    batched: bool = True       # False: the computation ignores m (initialisation)

    def rng(self) -> np.random.Generator:
        """The Generator the case's arrays are drawn from: a function of the fields only."""
        entropy = [self.seed, self.salt, self.m, len(self.layer_dims), *self.layer_dims,
                   zlib.crc32(repr(self.variant).encode("utf-8"))]
        return np.random.default_rng(entropy)

    @property
    def size(self) -> tuple[int, int, int]:
        """Ordering key: total units, then depth, then m."""
        return (sum(self.layer_dims), len(self.layer_dims), self.m)

    def describe(self) -> str:
        """``layer_dims = [3, 2, 1], m = 2`` (network), ``n_prev = 3, n = 2, m = 2`` (layer)…"""
        if self.level == "layer":
            text = f"n_prev = {self.layer_dims[0]}, n = {self.layer_dims[1]}, m = {self.m}"
        elif self.level == "array":
            text = f"n = {self.layer_dims[0]}, m = {self.m}"
        else:
            text = f"layer_dims = {list(self.layer_dims)}"
            if self.batched:
                text += f", m = {self.m}"
        if self.variant is not None:
            text += f", {self.variant_name or 'variant'} = {self.variant!r}"
        return text

    def to_dict(self) -> dict:
        out = {"layer_dims": list(self.layer_dims), "m": self.m if self.batched else None,
               "seed": self.seed}
        if self.variant is not None:
            out[self.variant_name or "variant"] = self.variant
        return out


def _draw(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An int in [lo, hi], from 2 upwards when the range allows it."""
    low = min(max(lo, 2), hi)
    return int(rng.integers(low, hi + 1))


def generate_cases(level: str, ranges: CaseRanges, *, seed: int, label: str,
                   variants: tuple = (None,), variant_name: str | None = None,
                   batched: bool = True) -> list[Case]:
    """``ranges.count`` cases (at least one per variant) for the function labelled ``label``.

    The first network case has the largest declared depth, so every layer type is exercised.
    """
    salt = salt_of(label)
    variants = tuple(variants) or (None,)
    count = max(ranges.count, len(variants))
    cases = []
    for i in range(count):
        rng = np.random.default_rng([seed, salt, i])
        m = _draw(rng, *ranges.m) if batched else 1
        if level == "layer":
            dims = (_draw(rng, *ranges.width), _draw(rng, *ranges.width))
        elif level == "array":
            dims = (_draw(rng, *ranges.width),)
        else:
            depth = ranges.depth[1] if i == 0 else _draw(rng, *ranges.depth)
            dims = (_draw(rng, *ranges.input_width),
                    *(_draw(rng, *ranges.width) for _ in range(depth - 1)),
                    _draw(rng, *ranges.output_width))
        cases.append(Case(level, dims, m, variants[i % len(variants)], seed, salt, variant_name,
                          batched))
    return cases


def shrink_candidates(case: Case, ranges: CaseRanges) -> Iterator[Case]:
    """Smaller cases than ``case`` within ``ranges``' lower bounds, most reduced first."""
    seen = set()

    def smaller(value: int, lo: int) -> list[int]:
        return sorted({v for v in (lo, value // 2, value - 1) if lo <= v < value})

    def emit(dims, m):
        cand = replace(case, layer_dims=tuple(dims), m=m)
        if cand != case and cand not in seen:
            seen.add(cand)
            return cand
        return None

    out = []
    for m in smaller(case.m, ranges.m[0]) if case.batched else ():
        out.append(emit(case.layer_dims, m))
    dims = list(case.layer_dims)
    if case.level == "network" and len(dims) - 1 > ranges.depth[0]:
        for i in range(1, len(dims) - 1):       # drop hidden layer i
            out.append(emit(dims[:i] + dims[i + 1:], case.m))
    for i, n in enumerate(dims):
        if case.level == "network":
            lo = (ranges.input_width if i == 0 else ranges.output_width if i == len(dims) - 1
                  else ranges.width)[0]
        else:
            lo = ranges.width[0]
        for v in smaller(n, lo):
            out.append(emit(dims[:i] + [v] + dims[i + 1:], case.m))
    yield from sorted((c for c in out if c is not None), key=lambda c: c.size)


def shrink(case: Case, ranges: CaseRanges, fails: Callable[[Case], bool], *,
           budget: int = SHRINK_BUDGET) -> Case:
    """The smallest case found, starting from the failing ``case``, on which ``fails`` holds.

    Greedy: take the first (smallest) candidate that still fails and start again from it.
    ``fails`` is called at most ``budget`` times.
    """
    calls = 0
    current = case
    improved = True
    while improved and calls < budget:
        improved = False
        for cand in shrink_candidates(current, ranges):
            if calls >= budget:
                break
            calls += 1
            if fails(cand):
                current, improved = cand, True
                break
    return current
