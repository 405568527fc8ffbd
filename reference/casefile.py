r"""Case files: one network case (architecture, layout, inputs, parameters) as ``.npz`` + JSON.

``gradref validate --command`` writes a case file for every case it runs and reads the
gradients back from another ``.npz``; ``gradref fixtures`` writes golden cases in the
same format with the expected results added. Only NumPy and the standard library are used, so a
program in any language can take part; :data:`FORMAT_DOC` is the specification (the same text is
``docs/formats.md`` and the ``README.md`` of every fixtures directory).

Files written here are byte-for-byte reproducible: members in a fixed order, stored without
compression, with a fixed 1980-01-01 timestamp (``np.savez`` would stamp the current time).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from .layouts import BIASES, LAYOUTS, data_is_transposed, default_bias, from_layout, to_layout
from .network import Network

__all__ = [
    "CASE_FORMAT", "FIXTURE_FORMAT", "FORMAT_DOC", "CaseFileError", "Case",
    "sidecar_path", "write_npz", "read_npz", "layout_shapes", "output_shapes",
    "write_case", "read_case", "write_gradients", "read_gradients",
    "write_case_json", "read_json_answer",
]

CASE_FORMAT = "gradref-case/1"
FIXTURE_FORMAT = "gradref-fixtures/1"
_KNOWN = {"gradref-case": 1, "gradref-fixtures": 1}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class CaseFileError(ValueError):
    """A case, fixture or gradients file is missing or malformed; the message names the file."""


# --------------------------------------------------------------------------- npz
def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar of an ``.npz`` case file: the same path ending in ``.json``."""
    path = Path(path)
    if path.suffix != ".npz":
        raise CaseFileError(f"case file {str(path)!r} must end in .npz")
    return path.with_suffix(".json")


def write_npz(path: str | Path, arrays: Mapping[str, object]) -> Path:
    """Write ``arrays`` as a reproducible ``.npz``: stored members ``KEY.npy``, float64, C order.

    Keys are written in the mapping's order; each value must be real numeric and is converted
    to little-endian float64.
    """
    path = Path(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
                raise ValueError(f"array name {key!r} must be an identifier (letters, digits, _)")
            arr = np.asarray(value)
            if arr.dtype == bool or arr.dtype.kind not in "iuf":
                raise TypeError(f"array {key!r} must be real numeric, got dtype {arr.dtype}")
            arr = np.array(arr, dtype="<f8", order="C")
            member = io.BytesIO()
            npy_format.write_array(member, arr, version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, member.getvalue())
    path.write_bytes(buffer.getvalue())
    return path


def read_npz(path: str | Path, what: str = "file") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (any valid one, compressed or not), without pickles.

    Raises :class:`CaseFileError` naming ``what`` and the path when it is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise CaseFileError(f"{what} {str(path)!r} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise CaseFileError(f"{what} {str(path)!r} is a single .npy array, not an .npz "
                                f"archive of named arrays")
        with data:
            return {key: data[key] for key in data.files}
    except CaseFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise CaseFileError(f"{what} {str(path)!r} is not a readable .npz archive: "
                            f"{type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------- shapes
def _check_layout(layout: str, bias: str | None) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    bias = bias or default_bias(layout)
    if bias not in BIASES:
        raise ValueError(f"bias must be one of {', '.join(BIASES)}, got {bias!r}")
    return bias


def _as_network(network: object) -> Network:
    if isinstance(network, Network):
        return network
    if isinstance(network, Mapping):
        options = {k: network[k] for k in ("normalization", "dropout", "eps", "momentum")
                   if k in network}
        return Network(network["layer_sizes"], list(network["activations"]), network["loss"],
                       network.get("l2", 0.0), **options)
    raise TypeError(f"network must be a reference Network or its describe() dict, "
                    f"got {type(network).__name__}")


def _shape_in(kind: str, canonical: tuple[int, int], layout: str, bias: str) -> tuple[int, ...]:
    n_out, n_in = canonical
    if kind == "g":   # gamma/beta of a normalisation: per unit, in the bias form
        kind = "b"
    if kind == "W":
        return (n_in, n_out) if layout == "rows" else (n_out, n_in)
    if kind == "b":
        return {"column": (n_out, 1), "row": (1, n_out), "flat": (n_out,)}[bias]
    return (n_in, n_out) if data_is_transposed(layout) else (n_out, n_in)  # data: (n, m)


def layout_shapes(network: object, m: int, layout: str = "columns",
                  bias: str | None = None) -> dict[str, tuple[int, ...]]:
    """Shapes of ``X``, ``Y``, ``W1``, ``b1``, … as stored in ``layout``/``bias``."""
    net = _as_network(network)
    bias = _check_layout(layout, bias)
    shapes = {"X": _shape_in("data", (net.layer_sizes[0], m), layout, bias),
              "Y": _shape_in("data", (net.layer_sizes[-1], m), layout, bias)}
    for key, shape in net.param_shapes().items():
        shapes[key] = _shape_in(key[0], shape, layout, bias)
    return shapes


def output_shapes(network: object, layout: str = "columns",
                  bias: str | None = None) -> dict[str, tuple[int, ...]]:
    """Shapes of the gradients ``dW1``, ``db1``, … an implementation writes back."""
    net = _as_network(network)
    bias = _check_layout(layout, bias)
    return {f"d{key}": _shape_in(key[0], shape, layout, bias)
            for key, shape in net.param_shapes().items()}


# --------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """A case read from disk.

    ``arrays`` holds every array of the ``.npz`` as stored (in ``layout``/``bias``); ``sidecar``
    is the whole JSON object. :meth:`inputs` returns the canonical ``(params, X, Y)``.
    """

    path: Path
    format: str
    network: Network
    layout: str
    bias: str
    arrays: dict[str, np.ndarray] = field(repr=False)
    sidecar: dict = field(repr=False)

    @property
    def m(self) -> int:
        """Batch size."""
        return int(self.sidecar["m"])

    def inputs(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Canonical (column-major) ``(params, X, Y)``."""
        keys = list(self.network.param_shapes())
        params = from_layout({k: self.arrays[k] for k in keys}, self.layout, self.bias)
        flip = data_is_transposed(self.layout)
        X = self.arrays["X"].T if flip else self.arrays["X"]
        Y = self.arrays["Y"].T if flip else self.arrays["Y"]
        return params, np.array(X), np.array(Y)


def _json_text(obj: object, indent: str = "") -> str:
    """JSON with objects indented one key per line and lists of scalars on one line."""
    inner = indent + "  "
    if isinstance(obj, Mapping) and obj:
        items = [f"{inner}{json.dumps(str(k))}: {_json_text(v, inner).strip()}"
                 for k, v in obj.items()]
        text = "{\n" + ",\n".join(items) + "\n" + indent + "}"
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in obj):
        text = "[\n" + ",\n".join(inner + _json_text(v, inner).strip() for v in obj) + "\n" + indent + "]"
    else:
        text = json.dumps(obj, allow_nan=False, ensure_ascii=False)
    return text + "\n" if not indent else text


def _case_parts(network: object, params: Mapping[str, np.ndarray], X: np.ndarray,
                Y: np.ndarray, layout: str, bias: str | None, format: str,
                extra_arrays: Mapping[str, np.ndarray] | None,
                extra: Mapping[str, object] | None) -> tuple[dict, dict]:
    """The arrays (as stored) and the sidecar object of a case, checked."""
    net = _as_network(network)
    bias = _check_layout(layout, bias)
    if format not in (CASE_FORMAT, FIXTURE_FORMAT):
        raise ValueError(f"format must be {CASE_FORMAT!r} or {FIXTURE_FORMAT!r}, got {format!r}")
    params = net.check_params(params)
    X = net.check_X(X)
    Y = net.check_Y(Y, X.shape[1])
    arrays = {"X": X.T, "Y": Y.T} if data_is_transposed(layout) else {"X": X, "Y": Y}
    arrays.update(to_layout(params, layout, bias))
    for key, value in (extra_arrays or {}).items():
        if key in arrays:
            raise ValueError(f"extra_arrays key {key!r} clashes with an input array")
        arrays[key] = value
    arrays.update(_layer_arrays(net, params, X, layout))
    sidecar = {"format": format, "network": net.describe(), "layout": layout, "bias": bias,
               "m": int(X.shape[1]),
               "arrays": {k: list(np.shape(v)) for k, v in arrays.items()},
               "outputs": {k: list(v) for k, v in output_shapes(net, layout, bias).items()}}
    for key, value in (extra or {}).items():
        if key in sidecar:
            raise ValueError(f"extra key {key!r} clashes with a standard sidecar key")
        sidecar[key] = value
    return arrays, sidecar


def _layer_arrays(net: Network, params: Mapping[str, np.ndarray], X: np.ndarray,
                  layout: str) -> dict[str, np.ndarray]:
    """The dropout masks ``D{l}`` (1 keeps, 0 drops; the data's layout) and each normalised
    layer's statistics ``mu{l}``, ``var{l}`` (flat: (n_l,) for batch norm, (m,) for layer
    norm), for a program to check its forward pass against."""
    out: dict[str, np.ndarray] = {}
    if not net.has_layers:
        return out
    flip = data_is_transposed(layout)
    for key, mask in sorted((net.masks or {}).items(), key=lambda kv: int(kv[0][1:])):
        out[key] = (mask.T if flip else mask).astype(np.float64)
    _, cache = net._forward(dict(params), X)
    for l in range(1, net.L + 1):
        if net.normalization[l - 1]:
            out[f"mu{l}"] = cache[f"mu{l}"].ravel()
            out[f"var{l}"] = cache[f"var{l}"].ravel()
    return out


def write_case(path: str | Path, network: object, params: Mapping[str, np.ndarray],
               X: np.ndarray, Y: np.ndarray, *, layout: str = "columns", bias: str | None = None,
               format: str = CASE_FORMAT, extra_arrays: Mapping[str, np.ndarray] | None = None,
               extra: Mapping[str, object] | None = None) -> Path:
    """Write a case: ``path`` (``.npz``) and its JSON sidecar; returns ``path``.

    ``params``, ``X`` and ``Y`` are canonical; they are stored in ``layout``/``bias``.
    ``extra_arrays`` (e.g. a fixture's expected results) are stored as given after the inputs;
    ``extra`` adds keys to the sidecar after the standard ones.
    """
    arrays, sidecar = _case_parts(network, params, X, Y, layout, bias, format, extra_arrays,
                                  extra)
    json_path = sidecar_path(path)
    write_npz(path, arrays)
    json_path.write_text(_json_text(sidecar), encoding="utf-8")
    return Path(path)


def write_case_json(path: str | Path, network: object, params: Mapping[str, np.ndarray],
                    X: np.ndarray, Y: np.ndarray, *, layout: str = "columns",
                    bias: str | None = None, extra: Mapping[str, object] | None = None) -> Path:
    """Write a case as one JSON file (``--io json``): the sidecar's keys plus ``"data"``,
    ``{KEY: nested lists}`` with every array as stored (row-major nesting, float64 values that
    read back exactly); returns ``path``. ``extra`` adds keys as for :func:`write_case`."""
    arrays, sidecar = _case_parts(network, params, X, Y, layout, bias, CASE_FORMAT, None, extra)
    sidecar["data"] = {k: np.asarray(v, dtype=np.float64).tolist() for k, v in arrays.items()}
    Path(path).write_text(json.dumps(sidecar, allow_nan=False, ensure_ascii=False),
                          encoding="utf-8")
    return Path(path)


def _json_number_array(value: object, key: str, where: str) -> np.ndarray:
    """A JSON number or nested list of numbers (``null`` read as NaN) as a float64 array."""
    def check(v, depth):
        if isinstance(v, list):
            if depth > 8:
                raise CaseFileError(f"{where}: {key} is nested more than 8 levels deep")
            for item in v:
                check(item, depth + 1)
        elif v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise CaseFileError(f"{where}: {key} holds {json.dumps(v)[:40]}, expected numbers "
                                f"(or nested lists of numbers)")

    check(value, 0)
    try:
        return np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise CaseFileError(f"{where}: {key} is not a rectangular nested list of numbers") \
            from None


def _json_object(path: Path, where: str) -> dict:
    """The JSON object in ``path``; :class:`CaseFileError` naming ``where`` when the file is
    missing, unreadable, not JSON or not an object."""
    if not path.is_file():
        raise CaseFileError(f"{where} does not exist")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CaseFileError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise CaseFileError(f"{where} must hold a JSON object, got {type(obj).__name__}")
    return obj


def read_json_answer(path: str | Path, what: str = "answer file") -> dict:
    """The arrays of a JSON answer (``--io json``): ``{"dW1": nested lists, …, "J": number}``.

    ``null`` entries are NaN (a wrong answer, not a malformed file); keys other than array
    names are kept as given only for ``"unsupported"`` (a string: the case is not supported).
    Raises :class:`CaseFileError` naming ``what`` and the path otherwise.
    """
    path = Path(path)
    where = f"{what} {str(path)!r}"
    obj = _json_object(path, where)
    out: dict = {}
    for key, value in obj.items():
        if key == "unsupported":
            out[key] = str(value)
        elif key == "format":
            continue
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            out[key] = _json_number_array(value, key, where)
        else:
            raise CaseFileError(f"{where}: key {key!r} is not an array name")
    return out


def _parse_format(value: object, where: str) -> str:
    match = re.fullmatch(r"([a-z-]+)/(\d+)", value) if isinstance(value, str) else None
    if not match or match.group(1) not in _KNOWN:
        raise CaseFileError(f"{where}: 'format' must be {CASE_FORMAT!r} or {FIXTURE_FORMAT!r}, "
                            f"got {value!r}")
    if int(match.group(2)) != _KNOWN[match.group(1)]:
        raise CaseFileError(f"{where}: format {value!r} is not supported by this gradref "
                            f"(it reads {match.group(1)}/{_KNOWN[match.group(1)]})")
    return value


def read_case(path: str | Path) -> Case:
    """Read and check a case (or fixture) from its ``.npz`` path (the sidecar is found beside it).

    Raises :class:`CaseFileError` naming the file when anything is missing or inconsistent.
    """
    path = Path(path)
    json_path = sidecar_path(path)
    where = f"case sidecar {str(json_path)!r}"
    sidecar = _json_object(json_path, where)
    missing = [k for k in ("format", "network", "layout", "bias", "m") if k not in sidecar]
    if missing:
        raise CaseFileError(f"{where} lacks key(s) {', '.join(missing)}")
    fmt = _parse_format(sidecar["format"], where)
    try:
        net = _as_network(sidecar["network"])
        bias = _check_layout(sidecar["layout"], sidecar["bias"])
        m = sidecar["m"]
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"m must be a positive integer, got {m!r}")
        expected = layout_shapes(net, m, sidecar["layout"], bias)
    except (KeyError, TypeError, ValueError) as exc:
        raise CaseFileError(f"{where}: {type(exc).__name__}: {exc}") from None
    arrays = read_npz(path, "case file")
    for key, shape in expected.items():
        if key not in arrays:
            raise CaseFileError(f"case file {str(path)!r} lacks array {key!r} "
                                f"(has: {', '.join(arrays) or 'nothing'})")
        if arrays[key].shape != shape:
            raise CaseFileError(f"case file {str(path)!r}: {key} has shape {arrays[key].shape}, "
                                f"expected {shape} for {net!r} in layout {sidecar['layout']} "
                                f"with {bias} biases")
    if net.mask_shapes(m):
        flip = data_is_transposed(sidecar["layout"])
        try:
            net = net.with_masks({k: (arrays[k].T if flip else arrays[k])
                                  for k in net.mask_shapes(m)})
        except (KeyError, TypeError, ValueError) as exc:
            raise CaseFileError(f"case file {str(path)!r}: the dropout masks: "
                                f"{type(exc).__name__}: {exc}") from None
    return Case(path, fmt, net, sidecar["layout"], bias, arrays, sidecar)


# --------------------------------------------------------------------------- gradients
def write_gradients(path: str | Path, grads: Mapping[str, np.ndarray], network: object, *,
                    layout: str = "columns", bias: str | None = None,
                    cost: float | None = None) -> Path:
    """Write canonical ``grads`` (``dW1``, ``db1``, …) to ``path`` in ``layout``/``bias``,
    with the cost as ``J`` when given."""
    net = _as_network(network)
    bias = _check_layout(layout, bias)
    keys = list(output_shapes(net, layout, bias))
    missing = [k for k in keys if k not in grads]
    if missing:
        raise ValueError(f"grads lacks {', '.join(missing)}")
    arrays = to_layout({k: grads[k] for k in keys}, layout, bias)
    if cost is not None:
        arrays["J"] = np.float64(cost)
    return write_npz(path, arrays)


def read_gradients(path: str | Path, network: object, *, layout: str = "columns",
                   bias: str | None = None) -> dict[str, np.ndarray]:
    """Read the gradients an implementation wrote and return them canonical (float64).

    Every ``dW{l}``/``db{l}`` must be present with its shape in ``layout``/``bias``; values may be
    non-finite (that is a wrong answer, not a malformed file). An optional scalar ``J`` (the
    cost) is returned as a 0-d array. Raises :class:`CaseFileError` naming the file otherwise.
    """
    net = _as_network(network)
    bias = _check_layout(layout, bias)
    arrays = read_npz(path, "gradients file")
    out = {}
    for key, shape in output_shapes(net, layout, bias).items():
        if key not in arrays:
            raise CaseFileError(f"gradients file {str(path)!r} lacks {key!r} "
                                f"(has: {', '.join(sorted(arrays)) or 'nothing'})")
        arr = arrays[key]
        if arr.dtype == bool or arr.dtype.kind not in "iuf":
            raise CaseFileError(f"gradients file {str(path)!r}: {key} has dtype {arr.dtype}, "
                                f"expected a real number type (float64)")
        if arr.shape != shape:
            raise CaseFileError(f"gradients file {str(path)!r}: {key} has shape {arr.shape}, "
                                f"expected {shape} for layout {layout} with {bias} biases")
        out[key] = arr.astype(np.float64)
    out = from_layout(out, layout, bias)
    if "J" in arrays:
        J = arrays["J"]
        if J.size != 1 or J.dtype == bool or J.dtype.kind not in "iuf":
            raise CaseFileError(f"gradients file {str(path)!r}: J must be one real number, got "
                                f"shape {J.shape} dtype {J.dtype}")
        out["J"] = np.asarray(float(J.reshape(())), dtype=np.float64)
    return out


# --------------------------------------------------------------------------- the document
FORMAT_DOC = r"""# gradref file formats

Version 1. gradref exchanges network cases with programs in any language through two kinds of
files with one layout: **case files**, written by `gradref validate --command` for an
implementation under test, and **fixtures**, golden cases written by
`gradref fixtures --out DIR` that also carry the expected results. A C, Rust or
Julia test suite can check itself against the fixtures without Python. Case files come in two
encodings: `.npz` + a JSON sidecar (the default), or one JSON file (`--io json`, below) that any
language's standard JSON library reads.

## Arrays: `NAME.npz`

* A ZIP archive with one member `KEY.npy` per array. gradref writes members *stored* (no
  compression, no data descriptors), in a fixed order, dated 1980-01-01, so its files are
  reproducible byte for byte and a reader may simply walk the ZIP local headers.
* Each member is an NPY 1.0 file: magic `\x93NUMPY`, bytes `1 0`, a 2-byte little-endian header
  length, an ASCII header such as `{'descr': '<f8', 'fortran_order': False, 'shape': (16, 2), }`
  padded with spaces to a multiple of 64 bytes, then the data: little-endian float64, row-major
  (C order). gradref always writes `'<f8'` and `fortran_order: False`.
* A scalar (the cost `J`) is a 0-d array, shape `()`.
* Reading `.npz` files written by NumPy itself (`np.savez`, e.g. the answers of a Python
  program) needs a little more: NumPy writes each local header with sizes `0xFFFFFFFF` and a
  ZIP64 extra field, so take the sizes and offsets from the central directory (at the end of
  the file; ZIP64 extra field id 1 when a value is `0xFFFFFFFF`); NPY 2.0/3.0 headers have a
  4-byte length; `'descr'` may be `'<f4'`, `'<i8'`…; `fortran_order: True` stores column-major.
  `np.savez_compressed` deflates the members (zlib). `examples/implementations/standalone.c`
  reads all of these except compressed members.

## Sidecar: `NAME.json`

The same path with `.json` instead of `.npz`, a UTF-8 JSON object:

| key       | value                                                                          |
|-----------|--------------------------------------------------------------------------------|
| `format`  | `"gradref-case/1"` or `"gradref-fixtures/1"` (bumped only on breaking changes) |
| `network` | `{"layer_sizes": [n_0, …, n_L], "activations": [one spec per layer], "loss": name, "l2": λ}` |
| `layout`  | `"columns"`, `"rows"` or `"torch"`                                             |
| `bias`    | `"column"`, `"row"` or `"flat"`                                                |
| `m`       | the batch size                                                                 |
| `arrays`  | `{KEY: shape}` for every array in the `.npz`, shapes as stored                |
| `outputs` | `{KEY: shape}` for every gradient to write back, shapes in the same layout     |

Fixtures add `name`, `description`, `tags` and `cost` (J as a JSON number; the `.npz` has it
exactly as `J`).
A case file of `gradref validate --command … --returns update --lr R` adds `lr`: the learning
rate R the program must use (its answer is then the update −R·gradient or the new
parameters), so that nothing is hard-coded.

## Layouts

Canonical, `"columns"`: `X` is (n_0, m), one column per example; `Y` is (n_L, m); `W{l}` is
(n_l, n_{l-1}); `b{l}` is (n_l, 1). `"rows"`: every array transposed: `X` (m, n_0), `Y` (m, n_L),
`W{l}` (n_{l-1}, n_l), `b{l}` (1, n_l). `"torch"` (as PyTorch's `nn.Linear`): `X` (m, n_0) and
`Y` (m, n_L) as in rows, `W{l}` (n_l, n_{l-1}) as in columns, `b{l}` flat (n_l,); Z = X Wᵀ + b.
Biases: `"column"` (n_l, 1), `"row"` (1, n_l), `"flat"` (n_l,), independently of the layout.
Fixtures are always `"columns"` with `"column"` biases; NPY stores row-major, so a column-major
language reads each matrix transposed.

## The network

For l = 1 … L: `Z{l} = W{l} A{l-1} + b{l}`, `A{l} = g_l(Z{l})`, `A0 = X`. The cost is
`J = (1/m) Σ_i ℓ(a_i, y_i) + (λ / 2m) Σ_l ‖W{l}‖²` (weights only). The gradients are
`dW{l} = ∂J/∂W{l}` and `db{l} = ∂J/∂b{l}`, with the shapes of `W{l}` and `b{l}`.

Activation specs (`g`; `σ(z) = 1/(1+e^{-z})`; at z = 0 the derivative of a kinked activation
is its left-hand slope: relu 0, leaky_relu s, elu α):

| spec | g(z) |
|------|------|
| `sigmoid` | σ(z) |
| `tanh` | tanh z |
| `relu` | max(z, 0) |
| `leaky_relu(s)` | z if z > 0 else s·z (plain `leaky_relu`: s = 0.01) |
| `linear` | z |
| `softmax` | e^{z_k} / Σ_j e^{z_j} over each column (not elementwise) |
| `softplus` | log(1 + e^z) |
| `elu(α)` | z if z > 0 else α(e^z − 1) (plain `elu`: α = 1) |
| `gelu` | ½ z (1 + tanh(√(2/π)(z + 0.044715 z³))) |
| `silu` | z σ(z) |

Losses, per example (column) `a`, target `y`, summed over output units k:

| loss | ℓ(a, y) | output activations |
|------|---------|--------------------|
| `bce` | −Σ_k [y_k log a_k + (1 − y_k) log(1 − a_k)] | sigmoid |
| `cross_entropy` | −Σ_k y_k log a_k (y one-hot or probabilities) | softmax |
| `square` | Σ_k (a_k − y_k)² (no ½) | any |
| `half_square` | ½ Σ_k (a_k − y_k)² | any |

## Case files and the command contract

`gradref validate --command "CMD {case} {out}"` writes each case as `case_K.npz` with
`case_K.json`, replaces `{case}` by the `.npz` path, `{out}` by the path to write and
`{python}` by gradref's interpreter, and runs the command in the current directory, sandboxed
(as root: as a throw-away unprivileged uid unless `--same-user`). The case holds `X`, `Y`,
`W1`, `b1`, … in the stated layout. The command must write `{out}` as an `.npz` (any valid
one, compressed or not) with `dW1`, `db1`, … in the case's layout (shapes in `outputs`) and
exit 0. An optional scalar `J`, the cost, is compared with the reference's too.

With `--returns update --lr R` the program may write the steps −R·∂J/∂W as `dW1`, `db1`, … or
the new parameters W − R·∂J/∂W as `W1`, `b1`, … instead; with `--reduction sum` its gradients
are those of the summed cost (see `gradref validate --help` for every convention).

With `--normalization batchnorm|layernorm` and `--dropout P` (every hidden layer: affine map,
normalisation, activation, dropout) the network in the sidecar also has `normalization`,
`dropout` (keep probabilities, 1 for none), `eps` and `momentum`, the parameters include
`gamma{l}` and `beta{l}` (per unit, in the bias form), and the case holds, for the program to
use and to check its forward pass against:

- `D{l}`: the dropout keep mask of layer l, 1 keeps, 0 drops, in the data's layout ((n_l, m)
  for columns, (m, n_l) for rows and torch); the hidden activation is `g(…) ⊙ D{l} / p`;
- `mu{l}`, `var{l}`: the statistics a normalised layer l uses (train mode, the biased variance,
  ε = `eps` inside the root), flat: (n_l,) per unit for batch norm, (m,) per example for layer
  norm.

The outputs then include `dgamma{l}` and `dbeta{l}` in the shapes of `gamma{l}`, `beta{l}`.

A program that cannot handle a case (an activation, a loss or a layout it does not implement)
exits with status **3**, the reason on the last line of stderr: the case is reported as
*skipped*, never as a failure.

Verdicts and exit status: a non-zero exit status other than 3, a time-out, no `{out}` or one
that is not readable is an *error* for that case; missing keys, wrong shapes or wrong values are
a *mismatch*. `gradref validate` exits 0 if every compared case matches (skipped ones aside), 1
if something differs, 2 if something could not run and nothing differs (or nothing at all could
be compared).

## JSON case files (`--io json`)

With `gradref validate --io json --command "CMD {case} {out}"`, `{case}` is one `.json` file:
the sidecar's object (every key of the table above) with one more key, `data`, holding every
array of the case as nested lists in the stored shape (row-major nesting: `data["W1"][i][j]` is
row i, column j; a (n,) bias is a flat list). The numbers are float64 written with enough digits
to read back exactly. For example (a 2-3-1 network, m = 2, layout columns):

```json
{"format": "gradref-case/1",
 "network": {"layer_sizes": [2, 3, 1], "activations": ["relu", "sigmoid"], "loss": "bce", "l2": 0.0},
 "layout": "columns", "bias": "column", "m": 2,
 "arrays": {"X": [2, 2], "Y": [1, 2], "W1": [3, 2], "b1": [3, 1], "W2": [1, 3], "b2": [1, 1]},
 "outputs": {"dW1": [3, 2], "db1": [3, 1], "dW2": [1, 3], "db2": [1, 1]},
 "data": {"X": [[0.5, -1.25], [2.0, 0.0]], "Y": [[1.0, 0.0]],
          "W1": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], "b1": [[0.0], [0.1], [-0.1]],
          "W2": [[0.7, -0.8, 0.9]], "b2": [[0.05]]}}
```

The program writes `{out}` as one JSON object: `{"dW1": [[…], …], "db1": [[…], …], …}` in the
shapes of `outputs`, optionally `"J": <the cost>`; `null` stands for NaN (a wrong answer, not a
malformed file). Instead of exiting 3 it may also write `{"unsupported": "why"}`.
`examples/implementations/node/backprop.js` is a complete implementation in JavaScript using
Node's standard library only.

## Fixtures

`gradref fixtures --out DIR` writes `DIR/index.json`, this document as
`DIR/README.md`, and for each fixture `NAME.npz` + `NAME.json`. A fixture is a case file (format
`gradref-fixtures/1`, layout columns) whose `.npz` also holds the expected results: `Z1 … ZL`
and `A1 … AL` (each (n_l, m)), the cost `J`, and `dW1`, `db1`, … `dWL`, `dbL`.
`index.json` is `{"format": "gradref-fixtures/1", "fixtures": [{"name", "npz", "json",
"network", "tags", "description"}, …]}`. Tags name the edge cases covered: `batch-1`,
`width-1`, `saturated`, `kinks` (pre-activations exactly 0, from integer data), `leaky-slope`,
`l2`, and `activation:NAME` / `loss:NAME`. Suggested tolerance when comparing:
`|got − expected| <= 1e-9 · max|expected| + 1e-12` per array.
"""
