"""Random grading cases from a seed, and shrinking a failing case to the smallest that still fails.

A :class:`Case` is small and printable: the layer sizes, the batch size m, the variant (e.g. the
activation) and the seeds. Its arrays are drawn by the computation from :meth:`Case.rng`, which
depends only on those fields, so the same description always gives the same arrays - the
smallest failing case shown to a student can be re-created exactly.

Generation is Hypothesis's: a strategy over (layer sizes, m) within the declared ranges, but from
2 upwards when the range allows (m = 1 hides a missing 1/m; a 1×1 weight hides a transpose), run
under a fixed ``@seed`` derived from the grading seed and the function's label, so the same
submission always meets the same cases. Shrinking may then go down to the ranges' lower bounds:
it tries smaller m, fewer layers and narrower layers, keeps any candidate on which the check
still fails, and stops when none does or the call budget is spent.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

__all__ = ["Case", "CaseRanges", "LargeRanges", "generate_cases", "shrink_candidates", "shrink",
           "salt_of"]

#: Re-runs of the submission allowed while shrinking one failing check.
SHRINK_BUDGET = 40


def salt_of(label: str) -> int:
    """A stable 32-bit number from a function's label (cases differ between functions)."""
    return zlib.crc32(label.encode("utf-8"))


@dataclass(frozen=True)
class LargeRanges:
    """The larger seeded cases drawn besides the small shrinkable ones, so that a function wrong
    only for m > 6 or wide layers is caught. A range is used only where it goes beyond the small
    one (a function declared with wide layers keeps its widths); ``count = 0`` turns them off."""

    count: int = 2
    depth: tuple[int, int] = (2, 5)
    input_width: tuple[int, int] = (6, 32)
    width: tuple[int, int] = (6, 32)
    m: tuple[int, int] = (7, 64)

    def replace(self, **changes: object) -> LargeRanges:
        return replace(self, **changes)


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
    large: LargeRanges = LargeRanges()

    def replace(self, **changes: object) -> CaseRanges:
        return replace(self, **changes)

    def larger(self) -> CaseRanges:
        """The ranges of the large cases: each large range where it exceeds the small one."""
        def pick(small: tuple[int, int], big: tuple[int, int]) -> tuple[int, int]:
            return big if big[1] > small[1] else small
        return replace(self, count=self.large.count, depth=pick(self.depth, self.large.depth),
                       input_width=pick(self.input_width, self.large.input_width),
                       width=pick(self.width, self.large.width), m=pick(self.m, self.large.m))


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
    draw: int = 0              # which of the function's cases: equal sizes, different arrays

    def rng(self) -> np.random.Generator:
        """The Generator the case's arrays are drawn from: a function of the fields only."""
        entropy = [self.seed, self.salt, self.draw, self.m, len(self.layer_dims), *self.layer_dims,
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
            text = f"n = {self.layer_dims[0]}" + (f", m = {self.m}" if self.batched else "")
        else:
            text = f"layer_dims = {list(self.layer_dims)}"
            if self.batched:
                text += f", m = {self.m}"
        if self.variant is not None:
            text += f", {self.variant_name or 'variant'} = {self.variant!r}"
        return text

    def to_dict(self) -> dict:
        out = {"layer_dims": list(self.layer_dims), "m": self.m if self.batched else None,
               "seed": self.seed, "draw": self.draw}
        if self.variant is not None:
            out[self.variant_name or "variant"] = self.variant
        return out


def _size(lo: int, hi: int) -> st.SearchStrategy[int]:
    """Integers in [lo, hi], from 2 upwards when the range allows it."""
    return st.integers(min(max(lo, 2), hi), hi)


def _sizes(level: str, ranges: CaseRanges, batched: bool, first: bool) -> st.SearchStrategy:
    """(layer_dims, m) for one case; the first network case has the largest declared depth."""
    m = _size(*ranges.m) if batched else st.just(1)
    if level == "layer":
        dims = st.tuples(_size(*ranges.width), _size(*ranges.width))
    elif level == "array":
        dims = st.tuples(_size(*ranges.width))
    else:
        depth = st.just(ranges.depth[1]) if first else _size(*ranges.depth)
        dims = depth.flatmap(lambda d: st.tuples(
            _size(*ranges.input_width), *(_size(*ranges.width) for _ in range(d - 1)),
            _size(*ranges.output_width)))
    return st.tuples(dims, m)


#: Examples Hypothesis may try per case before settling for one it has already drawn.
_TRIES = 8


def _hypothesis_draw(strategy: st.SearchStrategy, entropy: int, avoid: set) -> tuple:
    """One example of ``strategy``, reproducibly from ``entropy``, preferring one not in ``avoid``."""
    seen: list = []

    @settings(max_examples=_TRIES, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=False)
    @fixed_seed(entropy)
    @given(strategy)
    def collect(example):
        seen.append(example)

    collect()
    fresh = [e for e in seen if e not in avoid]
    # Hypothesis tries the simplest example first; a later one varies the sizes more.
    return (fresh or seen)[-1]


def _uniform_draw(rng: np.random.Generator, level: str, ranges: CaseRanges, batched: bool,
                  first: bool) -> tuple[tuple[int, ...], int]:
    """(layer_dims, m) uniformly within ``ranges`` (the first network case: the largest depth)."""
    def size(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    m = size(*ranges.m) if batched else 1
    if level == "layer":
        return (size(*ranges.width), size(*ranges.width)), m
    if level == "array":
        return (size(*ranges.width),), m
    depth = ranges.depth[1] if first else size(*ranges.depth)
    dims = (size(*ranges.input_width), *(size(*ranges.width) for _ in range(depth - 1)),
            size(*ranges.output_width))
    return dims, m


def generate_cases(level: str, ranges: CaseRanges, *, seed: int, label: str,
                   variants: tuple = (None,), variant_name: str | None = None,
                   batched: bool = True) -> list[Case]:
    """``ranges.count`` cases (at least one per variant) for the function labelled ``label``.

    Sizes come from a Hypothesis strategy run under a fixed seed (``seed``, ``label`` and the
    case's index), so they are reproducible; the first network case has the largest declared
    depth, so every layer type is exercised.
    """
    salt = salt_of(label)
    variants = tuple(variants) or (None,)
    count = max(ranges.count, len(variants))
    cases, drawn = [], set()
    for i in range(count):
        entropy = zlib.crc32(f"{seed}/{salt}/{i}".encode("ascii"))
        dims, m = _hypothesis_draw(_sizes(level, ranges, batched, first=i == 0), entropy, drawn)
        drawn.add((dims, m))
        cases.append(Case(level, dims, m, variants[i % len(variants)], seed, salt, variant_name,
                          batched, draw=i))
    big = ranges.larger()
    if big == replace(ranges, count=big.count):     # nothing larger to draw
        return cases
    for j in range(big.count):     # plain uniform draws: nothing to shrink from here first
        i = count + j
        rng = np.random.default_rng([seed, salt, j, 0x1A46E])
        dims, m = _uniform_draw(rng, level, big, batched, first=j == 0)
        cases.append(Case(level, dims, m, variants[j % len(variants)], seed, salt, variant_name,
                          batched, draw=i))
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
    lows = []
    for i, n in enumerate(dims):
        if case.level == "network":
            lo = (ranges.input_width if i == 0 else ranges.output_width if i == len(dims) - 1
                  else ranges.width)[0]
        else:
            lo = ranges.width[0]
        lows.append(lo)
        for v in smaller(n, lo):
            out.append(emit(dims[:i] + [v] + dims[i + 1:], case.m))
    # every size at once (keeps a shape relation such as n_prev = n that the failure needs)
    for shrunk in ([max(lo, n // 2) for n, lo in zip(dims, lows, strict=True)],
                   [max(lo, n - 1) for n, lo in zip(dims, lows, strict=True)],
                   [max(lo, min(2, n)) for n, lo in zip(dims, lows, strict=True)]):
        out.append(emit(shrunk, case.m))
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
