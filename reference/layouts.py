r"""Adapters between the canonical column-major layout and the layouts common in the wild.

Canonical ("columns"): ``X`` (n_0, m), ``W_l`` (n_l, n_{l-1}), ``b_l`` (n_l, 1).
Row-major ("rows"): ``X`` (m, n_0), ``W_l`` (n_{l-1}, n_l), ``b_l`` (1, n_l); then
:math:`Z_l^{rows} = A_{l-1}^{rows} W_l^{rows} + b_l^{rows}` is the transpose of the canonical
:math:`Z_l`. PyTorch ("torch", as ``nn.Linear``): ``X`` (m, n_0) like rows, but ``W_l`` keeps the
canonical (n_l, n_{l-1}) and ``b_l`` is flat (n_l,): :math:`Z_l^{torch} = A_{l-1} W_l^T + b_l`.
Biases may also be flat 1-D arrays of length n_l (``bias="flat"``) in any layout.

The same functions convert parameters ``{"W1", "b1", …}`` and gradients ``{"dW1", "db1", …}``:
a key is a weight if its name, without a leading ``d``, starts with ``W``, a bias if with ``b``;
a normalisation's ``gamma{l}``/``beta{l}`` (and ``dgamma{l}``/``dbeta{l}``), per unit like a
bias, take the bias form (flat (n,) as CS231n writes them with ``bias="flat"``).
Other keys (e.g. ``dZ1``) are left alone. Conversions never modify their input.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._validate import describe

__all__ = ["LAYOUTS", "BIASES", "DEFAULT_BIAS", "default_bias", "to_layout", "from_layout",
           "data_to_layout", "data_from_layout", "data_is_transposed"]

LAYOUTS = ("columns", "rows", "torch")
#: The bias form each layout uses unless told otherwise.
DEFAULT_BIAS = {"columns": "column", "rows": "row", "torch": "flat"}
BIASES = ("column", "row", "flat")


def _check(layout: str, bias: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {', '.join(BIASES)}, got {bias!r}")


def default_bias(layout: str) -> str:
    """The bias form of ``layout``: column for columns, row for rows, flat for torch."""
    _check(layout, "column")
    return DEFAULT_BIAS[layout]


def data_is_transposed(layout: str) -> bool:
    """Whether ``layout`` stores data one example per row (rows and torch)."""
    return layout != "columns"


def _kind(key: str) -> str:
    for prefix in ("gamma", "beta"):   # a normalisation's γ and β are per unit, as b is
        for name in (prefix, f"d{prefix}"):
            if key.startswith(name) and key[len(name):].isdigit():
                return "b"
    name = key[1:] if key.startswith("d") and len(key) > 1 and key[1] in "Wb" else key
    return name[:1] if name[:1] in ("W", "b") and name[1:].isdigit() else ""


def _convert(params: Mapping[str, np.ndarray], layout: str, bias: str | None,
             convert_bias) -> dict[str, np.ndarray]:
    """Copy ``params``, transposing weights for the row layout and biases by ``convert_bias``."""
    bias = bias or default_bias(layout)
    _check(layout, bias)
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {describe(params)}")
    out = {}
    for key, value in params.items():
        arr = np.asarray(value)
        kind = _kind(key)
        if kind == "W" and layout == "rows":
            arr = arr.T
        elif kind == "b":
            arr = convert_bias(key, arr, bias)
        out[key] = arr.copy()
    return out


def _bias_to(key: str, arr: np.ndarray, bias: str) -> np.ndarray:
    column = arr.reshape(-1, 1)
    return {"column": column, "row": column.T, "flat": column.ravel()}[bias]


def _bias_from(key: str, arr: np.ndarray, bias: str) -> np.ndarray:
    ok = {"column": arr.ndim == 2 and arr.shape[1:] == (1,),
          "row": arr.ndim == 2 and arr.shape[:1] == (1,),
          "flat": arr.ndim == 1}[bias]
    if not ok:
        expected = {"column": "(n, 1)", "row": "(1, n)", "flat": "(n,)"}[bias]
        raise ValueError(f"{key} has shape {arr.shape}, expected {expected} for bias={bias!r}")
    return arr.reshape(-1, 1)


def to_layout(params: Mapping[str, np.ndarray], layout: str = "rows",
              bias: str | None = None) -> dict[str, np.ndarray]:
    """Convert canonical parameters (or gradients) to ``layout`` with biases as ``bias``.

    ``bias`` defaults to the layout's own: "column" for columns, "row" for rows, "flat" for
    torch.
    """
    return _convert(params, layout, bias, _bias_to)


def from_layout(params: Mapping[str, np.ndarray], layout: str = "rows",
                bias: str | None = None) -> dict[str, np.ndarray]:
    """Convert parameters (or gradients) given in ``layout``/``bias`` back to canonical.

    Raises ``ValueError`` naming the key when a bias does not have the declared form.
    """
    return _convert(params, layout, bias, _bias_from)


def data_to_layout(X: np.ndarray, layout: str = "rows") -> np.ndarray:
    """Canonical data (n, m) to ``layout``: unchanged for columns, (m, n) for rows and torch."""
    _check(layout, "column")
    arr = np.asarray(X)
    return np.array(arr.T if data_is_transposed(layout) else arr, copy=True)


def data_from_layout(X: np.ndarray, layout: str = "rows") -> np.ndarray:
    """Data in ``layout`` back to canonical (n, m); a 1-D row-major label vector becomes (1, m)."""
    _check(layout, "column")
    arr = np.asarray(X)
    if data_is_transposed(layout):
        arr = arr.reshape(-1, 1).T if arr.ndim == 1 else arr.T
    return np.array(arr, copy=True)
