"""Comparing what a student's function returned with the reference, one named piece at a time.

A function's return value is split (by the engine) into :class:`Leaf` objects: one per array or
scalar output, one per key of a dict output, one per cache. Each check kind then asks
:func:`leaf_problem` for a sentence describing what is wrong with a leaf, or None:

``shape``
    the exact expected shape (a scalar may be a float, a 0-d or a (1, 1) array);
``dtype``
    floating point;
``values``
    ``max|yours - expected| <= rtol * max|expected| + atol`` (a lost or extra singleton axis is
    left to the shape check); a randomly initialised weight (:class:`RandomWeights`) must be
    finite, not constant, and have a standard deviation of at most ``std_max``; a
    :class:`~gradref.checks.grading.computations.Judged` expected value judges the answer itself;
``cache``
    the same nested tuple/list structure holding arrays of the right shapes and values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .computations import Judged, RandomWeights

__all__ = ["Leaf", "MISSING", "leaf_problem", "numeric", "values_of", "describe", "show",
           "PRINT_MAX"]

#: Arrays up to this many entries are printed in failure explanations.
PRINT_MAX = 24
#: The value of a leaf the student did not return (a missing dict key, a non-dict).
MISSING = object()


@dataclass
class Leaf:
    """One comparable piece of a function's return value."""

    key: str                   # output or dict-key name: what checks select and diagnosis reads
    label: str                 # the name shown to the student (the declaration's rename)
    kind: str                  # "array", "scalar", "float", "bool", "random" or "cache"
    got: object
    expected: object
    problem: str | None = None  # e.g. "missing key 'dW2'"
    output: str = ""           # the dict output a key belongs to ("" for a plain output)
    step: int = 0              # which call of a stepped function (0: the first)



# --------------------------------------------------------------------------- small helpers
def describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"a dict with keys {list(value)[:8]}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def numeric(value: object) -> np.ndarray | None:
    """``value`` as a real numeric ndarray, or None (strings, objects, None, nested junk)."""
    if value is None or isinstance(value, (str, bytes, dict)):
        return None
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        return None
    return arr


def values_of(value: object, kind: str) -> np.ndarray | None:
    """:func:`numeric`, except that a ``bool`` output's True/False (or 0/1) read as 1.0/0.0."""
    if kind == "bool" and isinstance(value, (np.ndarray, np.bool_, bool)) \
            and np.asarray(value).dtype == bool:
        return np.asarray(value, dtype=np.float64)
    return numeric(value)


def show(arr: object, indent: int = 0) -> str:
    """A small array on a few lines (continuation lines indented by ``indent``)."""
    a = np.asarray(arr)
    if a.size > PRINT_MAX:
        return f"(shape {a.shape}, not shown)"
    with np.printoptions(precision=5, suppress=False, floatmode="maxprec"):
        text = np.array2string(a, separator=", ", max_line_width=100)
    return text.replace("\n", "\n" + " " * indent)


def _bound(expected: np.ndarray, rtol: float, atol: float) -> float:
    return rtol * float(np.max(np.abs(expected), initial=0.0)) + atol


# --------------------------------------------------------------------------- leaf checks
def _shape_problem(leaf: Leaf) -> str | None:
    if leaf.problem:
        return leaf.problem
    exp = leaf.expected
    if leaf.kind in ("scalar", "float"):
        a = numeric(leaf.got)
        if a is None or a.size != 1 or a.ndim > 2:
            return (f"{leaf.label} should be a single number (a float, a 0-d or a (1, 1) "
                    f"array), got {describe(leaf.got)}")
        return None
    shape = exp.shape if isinstance(exp, (np.ndarray, RandomWeights, Judged)) else None
    a = values_of(leaf.got, leaf.kind)
    if a is None:
        return f"{leaf.label} should be an array of shape {shape}, got {describe(leaf.got)}"
    if a.shape != shape:
        return f"{leaf.label} has shape {a.shape}, expected {shape}"
    return None


def _dtype_problem(leaf: Leaf) -> str | None:
    if leaf.problem:
        return leaf.problem
    if leaf.kind == "float":
        if type(leaf.got) is float:
            return None
        return (f"{leaf.label} should be a Python float (float(np.squeeze(...))), got "
                f"{describe(leaf.got)}: the type is checked (type({leaf.label}) == float)")
    if leaf.kind == "bool":
        a = values_of(leaf.got, "bool")
        if isinstance(leaf.got, np.ndarray) and leaf.got.dtype == bool:
            return None
        what = describe(leaf.got) if a is None else f"dtype {np.asarray(leaf.got).dtype}"
        return (f"{leaf.label} should be a bool array (a comparison such as A2 > 0.5 gives "
                f"one), got {what}")
    if isinstance(leaf.got, float):
        return None
    a = numeric(leaf.got)
    if a is None:
        return f"{leaf.label} should be a floating-point array, got {describe(leaf.got)}"
    if a.dtype.kind != "f":
        return f"{leaf.label} has dtype {a.dtype}, expected floating point (float64)"
    return None


def _random_problem(leaf: Leaf, spec: RandomWeights) -> str | None:
    a = numeric(leaf.got)
    if a is None:
        return f"{leaf.label} should be an array of random numbers, got {describe(leaf.got)}"
    if a.size == 0 or not np.all(np.isfinite(a)):
        return f"{leaf.label} is empty or contains NaN/inf"
    std = float(np.std(a))
    if spec.exact is not None and a.shape == spec.exact.shape \
            and np.allclose(a, spec.exact, rtol=1e-6, atol=1e-12):
        return None                 # the course's own seeded values
    if spec.target is not None and std >= spec.std_min:
        return _spread_problem(leaf.label, a, std, spec)
    if std < spec.std_min:
        return (f"{leaf.label} is constant (standard deviation {std:.3g}): the weights must be "
                f"random, or every unit of the layer stays the same (symmetry is never broken)")
    if std > spec.std_max:
        return (f"{leaf.label} has standard deviation {std:.3g}, more than {spec.std_max:g}: "
                f"the random weights must be small (e.g. np.random.randn(...) * 0.01)")
    return None


def _spread_problem(label: str, a: np.ndarray, std: float, spec: RandomWeights) -> str | None:
    """A draw judged by its spread: a standard deviation within ``spec.band`` of the target,
    centred on zero (a uniform ``rand`` draw is not); a wrong spread names the mistake it fits."""
    mean = float(np.mean(a))
    centred = abs(mean) <= 5 * std / np.sqrt(a.size) + 1e-12
    if abs(std / spec.target - 1) <= spec.band and centred:
        return None
    if not centred and float(np.min(a)) >= 0:
        return (f"{label} has only non-negative entries (mean {mean:.3g}): np.random.rand draws "
                f"uniformly from [0, 1); the weights must be normal draws, np.random.randn")
    target = f"{spec.target:.3g}" + (f" = {spec.scale_text}" if spec.scale_text else "")
    named = [text for value, text in spec.wrong_scales if abs(std / value - 1) <= spec.band]
    return (f"{label} has standard deviation {std:.3g}, expected {target}"
            + (f": {named[0]}" if named else "") + ("" if centred else f" (and mean {mean:.3g}, "
                                                                      f"not about 0)"))


def _values_problem(leaf: Leaf, rtol: float, atol: float) -> str | None:
    if leaf.problem:
        return leaf.problem
    exp = leaf.expected
    if isinstance(exp, RandomWeights):
        return _random_problem(leaf, exp)
    judge = getattr(exp, "judge_value", None)
    if callable(judge):        # an expected value with a rule of its own (a threshold …)
        return judge(leaf.got, leaf.label)
    a = values_of(leaf.got, leaf.kind)
    if a is None:
        return f"{leaf.label} is not a number or a numeric array: got {describe(leaf.got)}"
    if isinstance(exp, Judged):
        if a.shape != exp.shape:
            return f"{leaf.label} cannot be compared: shape {a.shape}, expected {exp.shape}"
        return exp.problem(leaf.label, a.astype(np.float64))
    if leaf.kind in ("scalar", "float"):
        if a.size != 1:
            return f"{leaf.label} should be a single number, got an array of shape {a.shape}"
        got, want = float(a.reshape(-1)[0]), float(exp)
        if not np.isfinite(got):
            return f"{leaf.label} is {got}, expected {want:.6g}"
        if abs(got - want) > rtol * abs(want) + atol:
            return f"{leaf.label} is {got:.8g}, expected {want:.8g}"
        return None
    exp = np.asarray(exp)
    if a.shape != exp.shape:
        if a.size == exp.size and np.squeeze(a).shape == np.squeeze(exp).shape:
            a = a.reshape(exp.shape)   # a lost/extra singleton axis is the shape check's business
        else:
            return (f"{leaf.label} cannot be compared: shape {a.shape}, expected {exp.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        return f"{leaf.label} contains {int(np.sum(~np.isfinite(a)))} NaN or infinite value(s)"
    err = float(np.max(np.abs(a - exp), initial=0.0))
    if err > _bound(exp, rtol, atol):
        scale = float(np.max(np.abs(exp), initial=0.0))
        rel = (f"relative error {err / scale:.2g}, allowed {rtol:g}"
               if scale > 0 else "expected all zeros")
        return f"{leaf.label} is wrong: largest difference {err:.3g} ({rel})"
    return None


def _flatten(tree: object, path: str) -> list[tuple[str, object]]:
    if isinstance(tree, (tuple, list)):
        return [item for i, t in enumerate(tree) for item in _flatten(t, f"{path}[{i}]")]
    return [(path, tree)]


def _close(a: np.ndarray, e: object, rtol: float, atol: float) -> bool:
    e = np.asarray(e)
    if a.shape != e.shape:
        return False
    err = float(np.max(np.abs(a.astype(np.float64) - e), initial=0.0))
    return bool(np.isfinite(err)) and err <= _bound(e, rtol, atol)


def _tree_problem(got: object, exp: object, path: str, rtol: float, atol: float,
                  root: list[tuple[str, object]]) -> str | None:
    if isinstance(exp, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{path} should be a tuple of {len(exp)}, got {describe(got)}"
        if len(got) != len(exp):
            return f"{path} should have {len(exp)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, exp, strict=True)):
            problem = _tree_problem(g, e, f"{path}[{i}]", rtol, atol, root)
            if problem:
                return problem
        return None
    a = numeric(got)
    if a is None and isinstance(got, np.ndarray) and got.dtype == bool:
        a = got.astype(np.int8)      # a keep mask stored as bool: its 0/1 values are compared
    if a is None:
        return f"{path} should be an array of shape {np.shape(exp)}, got {describe(got)}"
    if _close(a, exp, rtol, atol):
        return None
    elsewhere = [p for p, e in root if p != path and _close(a, e, rtol, atol)]
    if elsewhere:
        return (f"{path} holds what belongs in {elsewhere[0]}: the parts of the cache are in "
                f"the wrong order")
    if a.shape != np.shape(exp):
        return f"{path} has shape {a.shape}, expected {np.shape(exp)}"
    err = float(np.max(np.abs(a.astype(np.float64) - exp), initial=0.0))
    return f"{path} holds the wrong values (max |yours - expected| = {err:.3g})"


def leaf_problem(kind: str, leaf: Leaf, rtol: float, atol: float) -> str | None:
    if kind == "cache":
        return leaf.problem or _tree_problem(leaf.got, leaf.expected, leaf.label, rtol, atol,
                                             _flatten(leaf.expected, leaf.label))
    if kind == "shape":
        return _shape_problem(leaf)
    if kind == "dtype":
        return _dtype_problem(leaf)
    return _values_problem(leaf, rtol, atol)


