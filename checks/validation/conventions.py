r"""The implementation's conventions, adapted at the boundary (never a second core).

The reference computes, for canonical parameters, the gradient of the *mean* cost
:math:`J = \frac1m\sum_i \ell_i + \frac{\lambda}{2m}\sum_l\lVert W_l\rVert^2`. Real code often
says the same thing another way; each way is one option of :class:`gradref.checks.validation.
Settings` and one step below, applied to the implementation's answer before it is judged:

* ``reduction="sum"``: the cost is :math:`mJ = \sum_i\ell_i + \frac{\lambda}{2}\sum\lVert W\rVert^2`,
  so every gradient (and the cost) is divided by m;
* ``reduction="mean_all"``: the loss is averaged over the batch *and* the n_L output units, as
  PyTorch's ``MSELoss`` and ``BCELoss`` do by default: :math:`J/n_L` (no L2 term), so every
  gradient (and the cost) is multiplied by n_L;
* ``per_example=True``: the function is called once per example (one column ``x`` (n_0, 1), or
  one row in the row-major layouts) and returns the gradient of that example's loss
  :math:`\ell_i`; the m answers are averaged (so ``reduction`` does not matter here);
* ``returns="update"`` with ``lr``: the answer is the step :math:`-\eta\,\nabla J` (keys ``dW1``,
  … or a list), or the new parameters :math:`W - \eta\nabla J` (keys ``W1``, …, a list closer
  to the old parameters than to zero, or ``None`` after updating the arguments in place, also
  in the sandbox, whose child then returns the arguments after each call): the
  gradient is :math:`-\text{step}/\eta` or :math:`(W_{old} - W_{new})/\eta`;
* ``bias_sign=-1``: biases enter as :math:`Z = W A - b` (a bias input fixed at −1): the function
  receives :math:`-b` and its :math:`\partial/\partial b` is the reference's with the sign flipped;
* lists and tuples: ``[(dW1, db1), …]``, ``[dW1, db1, dW2, …]``, ``[dW1, dW2, …, db1, …]``,
  ``(biases, weights)`` as two lists (``network.py``), and ``(J, grads)`` / ``(grads, J)``
  pairs are read in layer order; the reading chosen is stated in the report;
* the answer :data:`UNSUPPORTED` (or a string starting with it, then a reason) skips the case.

:func:`run_case` does all of this and returns an :class:`~.targets.Answer` whose value is a dict
``{"dW1", "db1", …[, "J"]}`` in the implementation's layout, as the mean-cost gradient.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np
from gradref.reference.layouts import data_is_transposed, to_layout

from ..tolerances import least_precise
from .targets import Answer

__all__ = ["UNSUPPORTED", "REDUCTIONS", "RETURNS", "run_case", "run_cost", "case_arguments"]

#: What a function returns (or a command prints, exiting 3) for a case it cannot represent.
UNSUPPORTED = "unsupported"
REDUCTIONS = ("mean", "sum", "mean_all")
RETURNS = ("gradient", "update")


class _Unusable(Exception):
    """The answer cannot be read; the message says why."""


class _WrongOrder(Exception):
    """The answer is readable only in another order than the contract's: a wrong answer."""


class _Skipped(Exception):
    """The implementation said it does not support the case."""


def case_arguments(case, settings, params: Mapping | None = None) -> tuple[dict, np.ndarray,
                                                                           np.ndarray]:
    """``(params, X, Y)`` as the implementation expects them: its layout, its bias sign."""
    params = case.params if params is None else params
    theirs = to_layout(params, case.layout, case.bias)
    if settings.bias_sign < 0:
        theirs = {k: -v if k.startswith("b") else v for k, v in theirs.items()}
    flip = data_is_transposed(case.layout)
    X, Y = (case.X.T, case.Y.T) if flip else (case.X, case.Y)
    if getattr(settings, "labels", "onehot") == "index":
        from .constraints import to_labels

        Y = to_labels(case.Y, case.net.loss.name)
    return theirs, np.array(X), np.array(Y)


def case_arch(case) -> dict:
    """The architecture a case passes as ``arch``: the network's description and, with
    dropout, ``"masks"`` = {"D1": bool keep mask, …} in the case's layout ((n_l, m) for
    columns, (m, n_l) for rows and torch)."""
    arch = case.net.describe()
    if case.net.masks:
        flip = data_is_transposed(case.layout)
        arch["masks"] = {k: np.array(v.T if flip else v) for k, v in case.net.masks.items()}
    return arch


def _example(arr: np.ndarray, i: int, layout: str) -> np.ndarray:
    if arr.ndim == 1:  # integer labels
        return arr[i:i + 1].copy()
    if layout == "columns":
        return arr[:, i:i + 1].copy()
    return arr[i].copy() if layout == "torch" else arr[i:i + 1].copy()


def run_case(target, case, settings, params: Mapping | None = None) -> Answer:
    """Call ``target`` on ``case`` in the implementation's conventions; the answer's value is
    the mean-cost gradient dict in its layout (see the module docstring)."""
    start = time.perf_counter()
    if getattr(target, "speaks_files", False):
        canonical = case.params if params is None else params
        if settings.bias_sign < 0:
            canonical = {k: -v if k[0] == "b" else v for k, v in canonical.items()}
        answers = [(target.call(case, canonical), None)]
    else:
        theirs, X, Y = case_arguments(case, settings, params)
        arch = case_arch(case)
        if settings.lr is not None:
            arch["lr"] = settings.lr
        positional = settings.random_architectures
        if settings.per_example:
            calls = [(_copy(theirs), _example(X, i, case.layout), _example(Y, i, case.layout))
                     for i in range(case.m)]
        else:
            calls = [(_copy(theirs), X, Y)]
        answers = []
        for args in calls:
            answer = target.invoke(args, arch, positional)
            passed = args[0] if getattr(target, "in_process", False) else answer.arguments
            answers.append((answer, passed))
            if answers[-1][0].error is not None or answers[-1][0].skipped is not None:
                break
    seconds = time.perf_counter() - start
    output = "".join(a.output for a, _ in answers)
    first_error = next((a for a, _ in answers
                        if a.error is not None or a.skipped is not None), None)
    if first_error is not None:
        return Answer(error=first_error.error, seconds=seconds, output=output,
                      skipped=first_error.skipped)
    old = to_layout(case.params if params is None else params, case.layout, case.bias)
    if settings.bias_sign < 0:
        old = {k: -v if k[0] == "b" else v for k, v in old.items()}
    expected = {k: np.shape(v) for k, v in to_layout(case.grads, case.layout, case.bias).items()}
    try:
        read = [_interpret(a.value, passed, old, expected, settings) for a, passed in answers]
    except _Skipped as exc:
        return Answer(skipped=str(exc) or "the implementation does not support this case",
                      seconds=seconds, output=output)
    except _Unusable as exc:
        return Answer(error=f"{target.description}: {exc}", seconds=seconds, output=output)
    except _WrongOrder as exc:
        return Answer(value={}, problem=str(exc), seconds=seconds, output=output)
    grads, reading, dtype = read[0]
    reading = "; ".join(x for x in (answers[0][0].reading, reading) if x)  # a binding's own
    if len(read) > 1:
        try:
            grads = _average([r[0] for r in read])
        except _Unusable as exc:
            return Answer(error=f"{target.description}: {exc}", seconds=seconds, output=output)
    elif settings.reduction == "sum":
        grads = _scaled(grads, 1.0 / case.m)
    if settings.reduction == "mean_all":
        grads = _scaled(grads, float(case.net.layer_sizes[-1]))
    return Answer(value=grads, seconds=seconds, output=output, reading=reading, dtype=dtype)


def run_cost(target, case, settings, params: Mapping | None = None) -> tuple[float | None, str]:
    """The implementation's cost ``J = FUNCTION(params, X, Y[, arch])`` on ``case`` as the
    reference's mean cost (divided by m for ``reduction="sum"``, averaged over the examples for
    ``per_example``); returns ``(J, "")`` or ``(None, why not)``."""
    theirs, X, Y = case_arguments(case, settings, params)
    arch = case_arch(case)
    batches = ([(_example(X, i, case.layout), _example(Y, i, case.layout))
                for i in range(case.m)] if settings.per_example else [(X, Y)])
    costs = []
    for x, y in batches:
        answer = target.invoke((_copy(theirs), x, y), arch, settings.random_architectures)
        if answer.error is not None:
            return None, answer.error
        arr = _real(answer.value)
        if arr is None or arr.size != 1:
            return None, (f"{target.description} returned {type(answer.value).__name__}, "
                          f"expected one number (the cost J)")
        costs.append(float(arr.reshape(())))
    J = float(np.mean(costs))
    if settings.reduction == "mean_all":
        return J * case.net.layer_sizes[-1], ""
    return (J / case.m if settings.reduction == "sum" and not settings.per_example else J), ""


def _copy(params: Mapping) -> dict:
    return {k: np.array(v) for k, v in params.items()}


def _real(value) -> np.ndarray | None:
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        return None
    try:
        arr = np.asarray(value)
    except Exception:  # noqa: BLE001 - whatever the implementation returned
        return None
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        return None
    return arr


def _scaled(grads: dict, factor: float, keys: Sequence[str] | None = None) -> dict:
    out = dict(grads)
    for k in (keys if keys is not None else list(grads)):
        arr = _real(grads.get(k))
        if arr is not None:
            out[k] = arr.astype(np.float64) * factor
    return out


def _average(dicts: list[dict]) -> dict:
    out = {}
    for k in dicts[0]:
        arrays = [_real(d.get(k)) for d in dicts]
        if any(a is None for a in arrays) or len({a.shape for a in arrays}) != 1:
            # a missing or malformed array: report it as the first example gave it
            out[k] = dicts[0][k]
            continue
        out[k] = np.mean([a.astype(np.float64) for a in arrays], axis=0)
    return out


def _cost_and_rest(value):
    """Split a ``(J, grads)`` or ``(grads, J)`` pair; returns (J or None, rest)."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        for i in (0, 1):
            arr = _real(value[i])
            other = value[1 - i]
            if arr is not None and arr.size == 1 and isinstance(other, (Mapping, list, tuple)):
                return float(arr.reshape(())), other
    return None, value


_ORDERS = {
    "pairs": "a list of (dW, db) pairs, one per layer in layer order",
    "pairs_bw": "a list of (db, dW) pairs, one per layer in layer order",
    "flat": "a list [dW1, db1, dW2, db2, …] in layer order",
    "flat_bw": "a list [db1, dW1, db2, dW2, …] in layer order",
    "blocks": "a list [dW1, dW2, …, db1, db2, …] (weights, then biases, in layer order)",
    "blocks_bw": "a list [db1, db2, …, dW1, dW2, …] (biases, then weights, in layer order)",
    "two": "two lists (weights, biases), each in layer order",
    "two_bw": "two lists (biases, weights), each in layer order, as network.py returns them",
}


def _read_list(value: Sequence, expected: Mapping[str, tuple], prefix: str) -> tuple[dict, str]:
    """A list/tuple of per-layer arrays as ``{prefix+"W1": …}``; the order is the one whose
    shapes fit (the first that does, in the order of :data:`_ORDERS`), else weights first."""
    L = len(expected) // 2
    W = [f"dW{l}" for l in range(1, L + 1)]
    b = [f"db{l}" for l in range(1, L + 1)]
    value = list(value)
    nested = all(isinstance(v, (list, tuple)) for v in value)
    readings: list[tuple[str, list[str], list]] = []
    if nested and len(value) == L and all(len(v) == 2 for v in value):
        flat = [x for pair in value for x in pair]
        readings += [("pairs", [k for l in range(L) for k in (W[l], b[l])], flat),
                     ("pairs_bw", [k for l in range(L) for k in (b[l], W[l])], flat)]
    if nested and len(value) == 2 and all(len(v) == L for v in value):
        flat = list(value[0]) + list(value[1])
        readings += [("two", W + b, flat), ("two_bw", b + W, flat)]
    if not nested and len(value) == 2 * L:
        readings += [("flat", [k for l in range(L) for k in (W[l], b[l])], value),
                     ("flat_bw", [k for l in range(L) for k in (b[l], W[l])], value),
                     ("blocks", W + b, value), ("blocks_bw", b + W, value)]
    if not readings:
        raise _Unusable(f"returned a {type(value).__name__} of {len(value)} items; expected a "
                        f"dict {{dW1, db1, …}} or a list in layer order ({2 * L} arrays or "
                        f"{L} (dW, db) pairs)")
    def fits(keys, items):
        return all((a := _real(x)) is not None and a.shape == expected[k]
                   for k, x in zip(keys, items, strict=True))

    for name, keys, items in readings:
        if fits(keys, items):
            return {prefix + k[1:]: x for k, x in zip(keys, items, strict=True)}, _ORDERS[name]
    if L > 1 and any(fits(keys, _reversed_layers(items, name, L))
                     for name, keys, items in readings):
        raise _WrongOrder(f"returned the per-layer gradients in reverse layer order (output "
                        f"layer first): gradref reads lists in layer order, layer 1 first "
                        f"({_ORDERS[readings[0][0]]})")
    name, keys, items = readings[0]
    return {prefix + k[1:]: x for k, x in zip(keys, items, strict=True)}, _ORDERS[name]


def _reversed_layers(items: list, name: str, L: int) -> list:
    """``items`` (flattened as in reading ``name``) with the layers in the opposite order."""
    if name.startswith(("pairs", "flat")):
        pairs = [items[2 * l:2 * l + 2] for l in range(L)][::-1]
        return [x for pair in pairs for x in pair]
    return items[:L][::-1] + items[L:][::-1]


def _named(value: Mapping) -> tuple[dict, bool]:
    """(dict, whether its keys are parameter names ``W1``/``b1`` rather than ``dW1``/``db1``)."""
    keys = [k for k in value if isinstance(k, str)]
    grads = any(k[:2] in ("dW", "db") and k[2:].isdigit() for k in keys)
    params = any(k[:1] in ("W", "b") and k[1:].isdigit() for k in keys)
    return dict(value), params and not grads


def _interpret(value, passed: Mapping | None, old: Mapping, expected: Mapping,
               settings) -> tuple[dict, str, str]:
    """One answer as ``({"dW1", …[, "J"]}, reading, dtype)``: the gradient in the implementation's
    layout with the reference's bias sign, before any reduction."""
    if isinstance(value, str) and value.strip().lower().startswith(UNSUPPORTED):
        raise _Skipped(value.strip()[len(UNSUPPORTED):].lstrip(" :-") or "")
    if isinstance(value, Mapping) and UNSUPPORTED in value:
        raise _Skipped(str(value[UNSUPPORTED]))
    update = settings.returns == "update"
    J, value = _cost_and_rest(value)
    reading = "a (cost, gradients) pair; " if J is not None else ""
    new_params = False
    if value is None and update and passed is not None:
        value = {"d" + k: v for k, v in passed.items()}
        new_params = True
        reading += "parameters updated in place, compared before and after"
    elif value is None:
        hint = (" (a function that updates its parameters in place needs --returns update "
                "--lr R)" if not update else " (in-place updates are compared for .py files "
                "whose name is a module name; return the new parameters otherwise)")
        raise _Unusable(f"returned None, expected the gradients{hint}")
    elif isinstance(value, Mapping):
        value, new_params = _named(value)
        if new_params:
            value = {("d" + k if k[:1] in "Wb" and k[1:].isdigit() else k): v
                     for k, v in value.items()}
            reading += ("new parameters {W1, b1, …}" if update
                        else "a dict keyed W1, b1, … read as dW1, db1, …")
            new_params = update
        if "J" in value:
            J = value.pop("J") if J is None else J
    elif isinstance(value, (list, tuple)):
        value, order = _read_list(value, expected, "d")
        reading += order
        if update:
            new_params = _closer_to(value, old)
            reading += ": new parameters" if new_params else ": the steps −lr·gradient"
    else:
        raise _Unusable(f"returned {type(value).__name__}, expected a dict {{dW1, db1, …}} or "
                        f"a list of per-layer gradients")
    dtype = least_precise(*[a for v in value.values() if (a := _real(v)) is not None
                            and a.dtype.kind == "f"]).name
    keys = [k for k in expected if k in value]
    if update:
        if new_params:
            for k in keys:
                arr = _real(value[k])
                if arr is not None and arr.shape == np.shape(old[k[1:]]):
                    value[k] = (old[k[1:]] - arr.astype(np.float64)) / settings.lr
            reading = reading or "new parameters"
        else:
            value = _scaled(value, -1.0 / settings.lr, keys)
            J = None if J is None else J  # a cost beside an update is still the cost
    if settings.bias_sign < 0:
        value = _scaled(value, -1.0, [k for k in keys if k[1] == "b"])
    if J is not None:
        value["J"] = np.float64(J)
    return value, reading, dtype


def _closer_to(value: Mapping, old: Mapping) -> bool:
    """Whether returned arrays are new parameters (nearer the old ones than to zero)."""
    near = far = 0.0
    for k, v in value.items():
        arr, prev = _real(v), old.get(k[1:])
        if arr is None or prev is None or arr.shape != np.shape(prev):
            continue
        near += float(np.sum((arr - prev) ** 2))
        far += float(np.sum(arr.astype(np.float64) ** 2))
    return near < far
