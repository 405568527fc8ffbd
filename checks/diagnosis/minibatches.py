r"""Diagnosis of mini-batch partitioning: which mistake made a student's list of mini-batches.

:func:`diagnose_mini_batches` takes the inputs of DLS ``random_mini_batches`` (``X`` (n, m),
``Y`` (1, m), the batch size B and the seed) and what the student returned, and reads each
returned ``X_b`` back as columns of ``X`` (the grader's ``X`` has distinct columns, so every
column names its example). Against the reference partition of
:func:`gradref.reference.optimizers.course_mini_batches` (one permutation π after
``np.random.seed(seed)``, batches π[0:B], π[B:2B], …, then the remainder π[⌊m/B⌋B:m]) it names:

- the remainder batch missing, or an empty batch appended when B divides m;
- a last batch that overlaps the one before (the last B examples instead of the m mod B left),
  or any batch holding another range of the shuffled examples;
- no shuffle at all, or another permutation than the seeded one (the seed not set, a second
  draw, ``np.random.shuffle`` of X alone);
- Y shuffled apart from X (another permutation, or none), and Y batches of the wrong shape.

Returns a list of :class:`~gradref.checks.diagnosis.findings.Finding` of kind ``mini_batches``
(empty when the batches are right or nothing known fits).
"""

from __future__ import annotations

import numpy as np

from .findings import Finding

__all__ = ["diagnose_mini_batches", "columns_of"]

_NAMES = ("mini_batches",)


def _finding(text: str, mistake: str) -> list[Finding]:
    return [Finding(_NAMES, "mini_batches", text, {"mistake": mistake})]


def columns_of(X: np.ndarray, block: object) -> list[int] | None:
    """The indices j of the columns ``X[:, j]`` that ``block``'s columns are (None when ``block``
    is not an (n, k) array of columns of X)."""
    try:
        b = np.asarray(block, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if b.ndim != 2 or b.shape[0] != X.shape[0]:
        return None
    out = []
    for col in b.T:
        hits = np.flatnonzero(np.all(np.abs(X - col[:, None]) <= 1e-12 * (1 + np.abs(X)), axis=0))
        if hits.size != 1:
            return None
        out.append(int(hits[0]))
    return out


def _range_text(lo: int, hi: int) -> str:
    return f"shuffled examples {lo} to {hi - 1}" if hi - lo > 1 else f"shuffled example {lo}"


def diagnose_mini_batches(X, Y, mini_batch_size: int, seed: int, batches: object) -> list[Finding]:
    """Findings about a student's ``random_mini_batches(X, Y, mini_batch_size, seed)`` result."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(1, -1)
    m, B = X.shape[1], int(mini_batch_size)
    perm = np.random.RandomState(int(seed)).permutation(m)
    full, rest = divmod(m, B)
    slices = [(k * B, (k + 1) * B) for k in range(full)] + ([(full * B, m)] if rest else [])
    if not isinstance(batches, (list, tuple)) or not all(
            isinstance(b, (list, tuple)) and len(b) == 2 for b in batches):
        return []
    idx = [columns_of(X, bx) for bx, _ in batches]
    if any(i is None for i in idx):
        return []
    seq = [j for i in idx for j in i]
    pos = {int(j): p for p, j in enumerate(perm)}       # example -> place in the permutation
    x_problem = _x_problem(idx, seq, perm, pos, slices, m, B, rest)
    if x_problem:
        return x_problem
    return _y_problem(X, Y, batches, idx, perm)


def _x_problem(idx, seq, perm, pos, slices, m, B, rest) -> list[Finding]:
    n_right = len(slices)
    shuffled_right = all(p == list(perm[lo:hi]) for p, (lo, hi) in zip(idx, slices, strict=False))
    if sorted(seq) == list(range(m)) and seq != list(perm) and not any(
            i == list(perm[lo:hi]) for i, (lo, hi) in zip(idx, slices, strict=False)):
        if seq == list(range(m)):
            return _finding("X is not shuffled: the mini-batches take the examples in their "
                            "original order; shuffle the columns with permutation = "
                            "list(np.random.permutation(m)) first", "not_shuffled")
        return _finding("the examples are shuffled, but not by the permutation np.random.seed("
                        "seed) then one np.random.permutation(m) gives: set the seed inside the "
                        "function and draw the permutation once, for X and Y together",
                        "other_permutation")
    if shuffled_right and len(idx) == n_right - 1 and rest:
        full = n_right - 1
        return _finding(f"the last mini-batch is missing: after the {full} full "
                        f"batch{'es' if full != 1 else ''} of {B}, the m mod mini_batch_size = "
                        f"{rest} example{'s' if rest != 1 else ''} left make one more, smaller "
                        f"batch", "remainder_dropped")
    if shuffled_right and len(idx) == n_right + 1 and not idx[-1]:
        return _finding(f"an empty mini-batch is appended: m = {m} is a multiple of "
                        f"mini_batch_size = {B}, so there is no remainder batch",
                        "empty_remainder")
    for k, i in enumerate(idx):
        if not i:
            continue
        places = [pos[j] for j in i]
        contiguous = places == list(range(places[0], places[0] + len(places)))
        want = slices[k] if k < len(slices) else None
        if want is not None and places == list(range(*want)):
            continue
        if not contiguous:
            break
        lo, hi = places[0], places[-1] + 1
        what = f"mini-batch {k + 1} holds {_range_text(lo, hi)}"
        if want is None:
            return _finding(f"{what}, but there are only {len(slices)} mini-batches "
                            f"({m} examples, size {B})", "extra_batch")
        expected = f"it should hold {_range_text(*want)}"
        if k == len(slices) - 1 and rest and hi == m and lo < want[0]:
            return _finding(f"the last mini-batch overlaps the one before: {what} (the last "
                            f"{hi - lo}); {expected}, the {rest} left after the full batches "
                            f"(start it at num_complete_minibatches * mini_batch_size)",
                            "remainder_overlaps")
        return _finding(f"{what}; {expected} (batch k takes shuffled examples k * "
                        f"mini_batch_size to (k + 1) * mini_batch_size - 1, the last one the "
                        f"remainder up to m - 1)", "wrong_range")
    return []


def _y_problem(X, Y, batches, idx, perm) -> list[Finding]:
    for k, ((_, by), i) in enumerate(zip(batches, idx, strict=True)):
        try:
            y = np.asarray(by, dtype=np.float64)
        except (TypeError, ValueError):
            return []
        want = Y[:, i]
        if y.size == want.size and y.shape != want.shape:
            return _finding(f"Y_b of mini-batch {k + 1} has shape {y.shape}, expected "
                            f"{want.shape}: keep Y's batches (1, batch size), e.g. "
                            f"Y[:, permutation].reshape((1, m))", "y_shape")
        if y.size == want.size and not np.array_equal(y.reshape(want.shape), want):
            return _finding("Y is not shuffled with the same permutation as X: the labels of a "
                            "mini-batch are not those of its examples; index X and Y with the "
                            "one permutation", "y_apart")
    return []
