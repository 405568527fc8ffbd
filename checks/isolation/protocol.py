"""Wire format between the parent and the sandboxed child: JSON structure + raw ``.npy`` blobs.

This module is used by *both* sides.  The child harness loads it by file path (it is never
imported as ``gradref.checks.isolation.protocol`` in the child), so it may only import the standard
library and numpy.  There is no pickle anywhere: arrays travel as ``.npy`` bytes written and
read with ``allow_pickle=False``, everything else as JSON.

Frame layout (one request or one response)::

    b"GRi1" | u32 big-endian N | N bytes of UTF-8 JSON envelope | blob 0 | blob 1 | ...

    envelope = {"header": {...}, "value": <tree>, "blobs": [len0, len1, ...]}

The ``header`` is a flat JSON object chosen by the caller (operation, call id, status...).
``<tree>`` encodes one Python value:

==========================  ===============================================================
Python value                tree
==========================  ===============================================================
``None``/``bool``/``int``   the JSON literal
``float``                   a JSON number, or ``{"float": "nan" | "inf" | "-inf"}``
``str``                     a JSON string
``list`` / ``tuple``        ``{"list": [...]}`` / ``{"tuple": [...]}``
``dict``                    ``{"dict": [[key, value], ...]}`` (order kept; keys are trees and
                            must decode to hashable values)
``numpy.ndarray``           ``{"array": i}``; blob ``i`` is the ``.npy`` bytes.  Each blob is
                            referenced exactly once (no amplification by aliasing).
numpy scalar                sent as a **0-d array of the same dtype** (lossless: an
                            ``np.float32`` stays float32); decoded as a 0-d ``ndarray``.
==========================  ===============================================================

Only *plain* ``numpy.ndarray`` (``type(x) is np.ndarray``) of a numeric dtype (bool, signed
and unsigned integers, floats, complex) is accepted.  Subclasses (``np.matrix``, masked
arrays, ...), object/string/bytes/void/structured/datetime dtypes, generators, sets, bytes,
arbitrary objects, self-referencing or too deeply nested structures are rejected with a
:class:`ProtocolError` naming where in the structure the bad value is (``value[1]['W1']``).
The encoder refuses them (the child reports "bad-output" instead of silently converting) and
the decoder re-checks everything, including the ``.npy`` header before any data is read, so a
hostile child cannot make the parent allocate more than it sent.

Copies: the receiver always builds fresh arrays from bytes, so the two sides never share
memory (trivially true across processes); a submission cannot alter the parent's inputs.
"""

from __future__ import annotations

import io
import json
import math
import struct
from typing import Any, Callable

import numpy as np
from numpy.lib import format as npy_format

__all__ = [
    "MAGIC",
    "MAX_ARRAYS",
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
    "AnswerTooLarge",
    "ProtocolError",
    "decode_tree",
    "encode_tree",
    "pack",
    "read_frame",
]

MAGIC = b"GRi1"
MAX_DEPTH = 64
#: The JSON part of a frame is parsed into Python objects, which cost far more memory than
#: their text; large numeric data must travel as arrays.
MAX_JSON_BYTES = 8 * 1024 * 1024
#: Decoding each array has a fixed cost; no legitimate result needs more than this many.
MAX_ARRAYS = 10_000
_PREFIX = struct.Struct(">4sI")
# numeric dtype kinds: bool, signed int, unsigned int, float, complex
_NUMERIC_KINDS = frozenset("biufc")

# Bound at import time so a submission monkeypatching numpy or json in the child cannot
# change what the harness's own encoder calls (it could only corrupt its own answer, which
# the parent validates anyway).
_json_dumps = json.dumps
_json_loads = json.loads
_ndarray = np.ndarray
_generic = np.generic
_write_array = npy_format.write_array
_read_array = npy_format.read_array


class ProtocolError(ValueError):
    """A value cannot be encoded, or received bytes are not a valid message."""


class AnswerTooLarge(ProtocolError):
    """A well-formed frame whose arrays exceed the receiver's per-message bound: they were
    read off the stream and dropped unseen (the stream stays in step)."""

    def __init__(self, total: int, limit: int) -> None:
        super().__init__(f"its arrays hold {total} bytes, more than the {limit} bytes this "
                         "answer may have; they were discarded unread")
        self.total, self.limit = total, limit


def _reject_constant(name: str) -> float:
    raise ProtocolError(f"non-standard JSON constant {name!r} in message")


# ----------------------------------------------------------------------------- encoding


def encode_tree(value: Any, blobs: list[bytes], *, where: str = "value") -> Any:
    """Return the JSON-able tree for ``value``, appending array blobs to ``blobs``."""
    return _encode(value, blobs, where, 0, set())


def _encode(value: Any, blobs: list[bytes], where: str, depth: int, active: set[int]) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is _ndarray:
        return {"array": _add_array(value, blobs, where)}
    if isinstance(value, _generic) and not isinstance(value, (str, bytes)):
        # numpy scalar -> 0-d array of the same dtype (documented choice: lossless)
        return {"array": _add_array(np.asarray(value), blobs, where)}
    if isinstance(value, _ndarray):
        raise ProtocolError(
            f"{where}: ndarray subclass {kind.__module__}.{kind.__qualname__} is not allowed; "
            "return a plain numpy.ndarray (np.asarray(x))"
        )
    if isinstance(value, bool):  # bool subclasses cannot exist, kept for clarity
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        number = float(value)
        if math.isnan(number):
            return {"float": "nan"}
        if math.isinf(number):
            return {"float": "inf" if number > 0 else "-inf"}
        return number
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        marker = id(value)
        if marker in active:
            raise ProtocolError(f"{where}: the structure contains itself")
        active.add(marker)
        try:
            if isinstance(value, dict):
                items = []
                for key, item in value.items():
                    key_tree = _encode_key(key, where)
                    items.append(
                        [key_tree, _encode(item, blobs, f"{where}[{key!r}]", depth + 1, active)]
                    )
                return {"dict": items}
            tag = "tuple" if isinstance(value, tuple) else "list"
            return {
                tag: [
                    _encode(item, blobs, f"{where}[{index}]", depth + 1, active)
                    for index, item in enumerate(value)
                ]
            }
        finally:
            active.discard(marker)
    raise ProtocolError(
        f"{where}: cannot send a value of type {kind.__module__}.{kind.__qualname__} "
        "(supported: numpy.ndarray of a numeric dtype, numpy scalars, int, float, bool, str, "
        "None, and list/tuple/dict of these)"
    )


def _encode_key(key: Any, where: str) -> Any:
    if isinstance(key, _generic) and not isinstance(key, np.void):
        key = key.item()
    if key is None or isinstance(key, (bool, int, float, str)):
        return _encode(key, [], f"{where} key", 0, set())
    if isinstance(key, tuple):
        return {"tuple": [_encode_key(item, where) for item in key]}
    raise ProtocolError(
        f"{where}: dict key {key!r} of type {type(key).__qualname__} cannot be sent "
        "(keys must be str, int, float, bool, None or tuples of these)"
    )


def _check_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(
            f"{where}: arrays must have a numeric dtype (bool, int, uint, float, complex), "
            f"got dtype {dtype.str!r} ({dtype})"
        )


def _add_array(array: np.ndarray, blobs: list[bytes], where: str) -> int:
    _check_dtype(array.dtype, where)
    buffer = io.BytesIO()
    try:
        _write_array(buffer, array, allow_pickle=False)
    except (ValueError, TypeError) as error:
        raise ProtocolError(f"{where}: could not serialise array: {error}") from None
    blobs.append(buffer.getvalue())
    return len(blobs) - 1


def pack(header: dict[str, Any], value: Any = None, *, max_bytes: int | None = None) -> bytes:
    """Encode one frame; raises :class:`ProtocolError` for unsendable values or oversize."""
    blobs: list[bytes] = []
    tree = encode_tree(value, blobs)
    envelope = {"header": header, "value": tree, "blobs": [len(blob) for blob in blobs]}
    try:
        text = _json_dumps(envelope, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"could not encode the message header: {error}") from None
    encoded = text.encode("utf-8", "surrogatepass")
    total = _PREFIX.size + len(encoded) + sum(len(blob) for blob in blobs)
    if max_bytes is not None and total > max_bytes:
        raise ProtocolError(f"the message is {total} bytes, more than the limit of {max_bytes}")
    if len(encoded) > MAX_JSON_BYTES:
        raise ProtocolError(
            f"the JSON part of the message is {len(encoded)} bytes, more than "
            f"{MAX_JSON_BYTES}; return large numeric data as numpy arrays"
        )
    if len(blobs) > MAX_ARRAYS:
        raise ProtocolError(f"the message holds {len(blobs)} arrays, more than {MAX_ARRAYS}")
    return b"".join([_PREFIX.pack(MAGIC, len(encoded)), encoded, *blobs])


# ----------------------------------------------------------------------------- decoding


def read_frame(
    read_exact: Callable[[int], bytes], *, max_bytes: int, max_arrays_bytes: int | None = None,
    discard: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Read one frame with ``read_exact(n)`` (returns exactly n bytes or raises).

    Returns ``(header, value)``.  Raises :class:`ProtocolError` for anything malformed, and
    never asks ``read_exact`` for more than ``max_bytes`` in total.  When the arrays the
    envelope declares total more than ``max_arrays_bytes`` (and at most ``max_bytes``), they are
    skipped with ``discard(n)`` (which must consume n bytes without keeping them) and
    :class:`AnswerTooLarge` is raised: no array is built, and the next frame can be read.
    """
    prefix = read_exact(_PREFIX.size)
    magic, length = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError(f"bad frame magic {magic!r} (expected {MAGIC!r})")
    budget = max_bytes - _PREFIX.size
    if length > min(budget, MAX_JSON_BYTES):
        raise ProtocolError(
            f"frame header of {length} bytes exceeds the limit of {min(budget, MAX_JSON_BYTES)}"
        )
    raw = read_exact(length)
    try:
        envelope = _json_loads(raw.decode("utf-8", "surrogatepass"), parse_constant=_reject_constant)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"frame header is not valid JSON: {error}") from None
    if not isinstance(envelope, dict) or set(envelope) != {"header", "value", "blobs"}:
        raise ProtocolError("frame envelope must be an object with header, value and blobs")
    header, tree, sizes = envelope["header"], envelope["value"], envelope["blobs"]
    if not isinstance(header, dict):
        raise ProtocolError("frame header must be a JSON object")
    if not isinstance(sizes, list) or not all(
        type(size) is int and size >= 0 for size in sizes
    ):
        raise ProtocolError("frame blob sizes must be a list of non-negative integers")
    if len(sizes) > MAX_ARRAYS:
        raise ProtocolError(f"frame holds {len(sizes)} arrays, more than {MAX_ARRAYS}")
    budget -= length
    if sum(sizes) > budget:
        raise ProtocolError(f"frame arrays total {sum(sizes)} bytes, beyond the limit of {max_bytes}")
    if max_arrays_bytes is not None and discard is not None and sum(sizes) > max_arrays_bytes:
        for size in sizes:
            discard(size)
        raise AnswerTooLarge(sum(sizes), max_arrays_bytes)
    blobs = [read_exact(size) for size in sizes]
    return header, decode_tree(tree, blobs)


def decode_tree(tree: Any, blobs: list[bytes]) -> Any:
    """Rebuild a value from its tree; validates types, arrays and that each blob is used once."""
    used = [False] * len(blobs)
    try:
        value = _decode(tree, blobs, used, "value", 0)
    except RecursionError:
        raise ProtocolError("value: nested too deeply") from None
    if not all(used):
        raise ProtocolError("frame carries arrays that the value never references")
    return value


def _decode(tree: Any, blobs: list[bytes], used: list[bool], where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ProtocolError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is not dict or len(tree) != 1:
        raise ProtocolError(f"{where}: malformed tree node {type(tree).__name__}")
    ((tag, body),) = tree.items()
    if tag in ("list", "tuple"):
        if type(body) is not list:
            raise ProtocolError(f"{where}: {tag} body must be a JSON array")
        items = [
            _decode(item, blobs, used, f"{where}[{index}]", depth + 1)
            for index, item in enumerate(body)
        ]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        if type(body) is not list:
            raise ProtocolError(f"{where}: dict body must be a JSON array of pairs")
        result: dict[Any, Any] = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError(f"{where}: dict entries must be [key, value] pairs")
            key = _decode(pair[0], blobs, used, f"{where} key", depth + 1)
            try:
                hash(key)
            except TypeError:
                raise ProtocolError(f"{where}: unhashable dict key of type {type(key).__name__}") from None
            result[key] = _decode(pair[1], blobs, used, f"{where}[{key!r}]", depth + 1)
        return result
    if tag == "float":
        constants = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
        if type(body) is not str or body not in constants:
            raise ProtocolError(f"{where}: bad float constant {body!r}")
        return constants[body]
    if tag == "array":
        if type(body) is not int or not 0 <= body < len(blobs):
            raise ProtocolError(f"{where}: array reference {body!r} out of range")
        if used[body]:
            raise ProtocolError(f"{where}: array {body} referenced more than once")
        used[body] = True
        return _load_array(blobs[body], where)
    raise ProtocolError(f"{where}: unknown tree tag {tag!r}")


def _load_array(blob: bytes, where: str) -> np.ndarray:
    stream = io.BytesIO(blob)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(stream)
        else:
            raise ProtocolError(f"{where}: unsupported .npy format version {version}")
    except ProtocolError:
        raise
    except (ValueError, TypeError, SyntaxError, OverflowError) as error:
        raise ProtocolError(f"{where}: invalid .npy header: {error}") from None
    _check_dtype(dtype, where)
    if dtype.hasobject:
        raise ProtocolError(f"{where}: object arrays are not allowed")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise ProtocolError(f"{where}: invalid array shape {shape!r}")
    count = math.prod(shape)
    data_start = stream.tell()
    if count * dtype.itemsize != len(blob) - data_start:
        raise ProtocolError(
            f"{where}: .npy data is {len(blob) - data_start} bytes but shape {shape} of "
            f"{dtype} needs {count * dtype.itemsize}"
        )
    stream.seek(0)
    try:
        array = _read_array(stream, allow_pickle=False)
    except (ValueError, TypeError, OSError) as error:
        raise ProtocolError(f"{where}: unreadable .npy data: {error}") from None
    if type(array) is not _ndarray or array.shape != tuple(shape) or array.dtype != dtype:
        raise ProtocolError(f"{where}: .npy data does not match its header")
    if not array.flags.writeable:
        array = array.copy()
    return array
