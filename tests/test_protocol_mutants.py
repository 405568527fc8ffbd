"""The isolation protocol (checks.isolation.protocol) at its boundaries: written to kill the
mutants that test_isolation's protocol tests let survive (a shared sub-structure taken for a
cycle, limits off by one, dropped checks). Every test name contains "protocol" so that the
mutation runner's ``-k protocol`` selects it."""

import io
import json
import math
import struct

import numpy as np
import pytest
from gradref.checks.isolation import protocol


def round_trip(value, header=None, max_bytes=None):
    frame = protocol.pack({"op": "t"} if header is None else header, value)
    stream = io.BytesIO(frame)

    def read_exact(size):
        data = stream.read(size)
        if len(data) != size:
            raise EOFError("short")
        return data

    got_header, back = protocol.read_frame(read_exact, max_bytes=max_bytes or len(frame))
    assert got_header == ({"op": "t"} if header is None else header) and stream.read() == b""
    return back


def test_protocol_shared_substructures_are_not_cycles():
    x = [1.0, 2.0]
    assert round_trip([x, x]) == [[1.0, 2.0], [1.0, 2.0]]
    d = {"a": 1}
    assert round_trip({"p": d, "q": (d, d)}) == {"p": {"a": 1}, "q": ({"a": 1}, {"a": 1})}
    t = (1, 2)
    assert round_trip([t, [t]]) == [(1, 2), [(1, 2)]]


def test_protocol_cycles_through_dicts_and_tuples_are_refused():
    d: dict = {}
    d["self"] = [d]
    with pytest.raises(protocol.ProtocolError, match=r"value\['self'\]\[0\]: the structure "
                                                     r"contains itself"):
        protocol.pack({}, d)


def test_protocol_scalars_keep_their_types():
    value = [None, True, False, 0, -7, 2**70, 0.5, -0.0, "s", math.inf, -math.inf]
    back = round_trip(value)
    assert back[:3] == [None, True, False]
    assert [type(v) for v in back[:3]] == [type(None), bool, bool]
    assert back[3:6] == [0, -7, 2**70] and all(type(v) is int for v in back[3:6])
    assert back[6] == 0.5 and type(back[6]) is float
    assert math.copysign(1, back[7]) == -1 and back[8] == "s"
    assert back[9] == math.inf and back[10] == -math.inf
    assert math.isnan(round_trip(math.nan))
    f32 = round_trip(np.float32(1.5))
    assert type(f32) is np.ndarray and f32.dtype == np.float32 and f32.shape == ()


def test_protocol_numpy_scalar_keys_become_python_values():
    back = round_trip({np.int64(3): "a", np.float64(0.5): "b", (np.int32(1), "k"): "c"})
    assert back == {3: "a", 0.5: "b", (1, "k"): "c"}
    assert [type(k) for k in back] == [int, float, tuple]


def test_protocol_depth_limit_is_exact():
    ok: list = []
    for _ in range(protocol.MAX_DEPTH):
        ok = [ok]
    assert round_trip(ok) == ok          # MAX_DEPTH levels below the top: accepted
    too_deep = [ok]
    with pytest.raises(protocol.ProtocolError, match=f"nested deeper than "
                                                     f"{protocol.MAX_DEPTH} levels"):
        protocol.pack({}, too_deep)
    tree = {"list": []}
    for _ in range(protocol.MAX_DEPTH + 1):
        tree = {"list": [tree]}
    with pytest.raises(protocol.ProtocolError, match="nested deeper"):
        protocol.decode_tree(tree, [])


def test_protocol_size_limits_are_inclusive():
    value = np.zeros(100)
    frame = protocol.pack({}, value)
    assert len(protocol.pack({}, value, max_bytes=len(frame))) == len(frame)
    with pytest.raises(protocol.ProtocolError, match=f"the message is {len(frame)} bytes, more "
                                                     f"than the limit of {len(frame) - 1}"):
        protocol.pack({}, value, max_bytes=len(frame) - 1)
    np.testing.assert_array_equal(round_trip(value, header={}, max_bytes=len(frame)), value)
    stream = io.BytesIO(frame)
    with pytest.raises(protocol.ProtocolError, match="beyond the limit"):
        protocol.read_frame(stream.read, max_bytes=len(frame) - 1)
    arrays = [np.zeros(0)] * protocol.MAX_ARRAYS
    assert len(round_trip(arrays, max_bytes=64 * 2**20)) == protocol.MAX_ARRAYS


def _frame(envelope, blobs=()):
    text = json.dumps(envelope).encode()
    return struct.pack(">4sI", protocol.MAGIC, len(text)) + text + b"".join(blobs)


@pytest.mark.parametrize("envelope, match", [
    ({"header": {}, "value": 1, "blobs": [1.0]}, "non-negative integers"),
    ({"header": {}, "value": 1, "blobs": [True]}, "non-negative integers"),
    ({"header": {}, "value": 1, "blobs": "12"}, "non-negative integers"),
    ({"header": {}, "value": 1, "blobs": [], "extra": 0}, "envelope"),
    ({"header": {}, "value": {"list": 1}, "blobs": []}, "list body must be a JSON array"),
    ({"header": {}, "value": {"tuple": {}}, "blobs": []}, "tuple body must be a JSON array"),
    ({"header": {}, "value": {"dict": {}}, "blobs": []}, "dict body must be a JSON array"),
    ({"header": {}, "value": {"dict": [[1]]}, "blobs": []}, r"\[key, value\] pairs"),
    ({"header": {}, "value": {"dict": [[1, 2, 3]]}, "blobs": []}, r"\[key, value\] pairs"),
    ({"header": {}, "value": {"list": [], "tuple": []}, "blobs": []}, "malformed tree node"),
    ({"header": {}, "value": [1], "blobs": []}, "malformed tree node list"),
    ({"header": {}, "value": {"float": 1}, "blobs": []}, "bad float constant"),
    ({"header": {}, "value": {"array": -1}, "blobs": []}, "out of range"),
    ({"header": {}, "value": {"array": True}, "blobs": []}, "out of range"),
], ids=["float-size", "bool-size", "string-sizes", "extra-key", "list-body", "tuple-body",
        "dict-body", "short-pair", "long-pair", "two-tags", "bare-list", "float-number",
        "negative-ref", "bool-ref"])
def test_protocol_rejects_each_malformed_part(envelope, match):
    stream = io.BytesIO(_frame(envelope))
    with pytest.raises(protocol.ProtocolError, match=match):
        protocol.read_frame(stream.read, max_bytes=2**20)


def test_protocol_decoded_containers_have_their_types():
    back = round_trip({"t": (1, [2, (3,)]), "l": [(), []]})
    assert type(back["t"]) is tuple and type(back["t"][1]) is list
    assert type(back["t"][1][1]) is tuple and back["l"] == [(), []]
    assert type(back["l"][0]) is tuple and type(back["l"][1]) is list


def test_protocol_arrays_are_fresh_and_writeable():
    a = np.arange(6.0).reshape(2, 3)
    back = round_trip({"a": a})["a"]
    assert back is not a and not np.shares_memory(back, a)
    back[0, 0] = 99.0
    assert a[0, 0] == 0.0


def test_protocol_limits_are_the_documented_values():
    assert protocol.MAX_DEPTH == 64
    assert protocol.MAX_JSON_BYTES == 8 * 2 ** 20
    assert protocol.MAX_ARRAYS == 10_000


def _nested_dicts(levels):
    value: object = 1
    for _ in range(levels):
        value = {"k": value}
    return value


def test_protocol_dict_nesting_counts_like_list_nesting():
    ok = _nested_dicts(protocol.MAX_DEPTH)
    assert round_trip(ok) == ok
    with pytest.raises(protocol.ProtocolError, match="nested deeper than 64 levels"):
        protocol.pack({}, _nested_dicts(protocol.MAX_DEPTH + 1))
    tree: object = 1
    for _ in range(protocol.MAX_DEPTH):
        tree = {"dict": [["k", tree]]}
    assert protocol.decode_tree(tree, []) == ok
    with pytest.raises(protocol.ProtocolError, match="nested deeper"):
        protocol.decode_tree({"dict": [["k", tree]]}, [])
    key_tree: object = "k"
    for _ in range(protocol.MAX_DEPTH):
        key_tree = {"tuple": [key_tree]}
    with pytest.raises(protocol.ProtocolError, match="nested deeper"):
        protocol.decode_tree({"dict": [[key_tree, 1]]}, [])


def test_protocol_names_an_ndarray_subclass():
    with pytest.raises(protocol.ProtocolError, match=r"value\[0\]: ndarray subclass "
                                                     r"numpy\.ma\.MaskedArray is not allowed; "
                                                     r"return a plain numpy\.ndarray"):
        protocol.pack({}, [np.ma.masked_array([1.0])])


def test_protocol_refuses_nan_in_the_header():
    with pytest.raises(protocol.ProtocolError, match="could not encode the message header"):
        protocol.pack({"v": float("nan")}, None)


def test_protocol_json_limit_is_exact():
    overhead = len(protocol.pack({}, "")) - 8            # the envelope around an empty string
    fits = "a" * (protocol.MAX_JSON_BYTES - overhead)
    assert len(protocol.pack({}, fits)) == 8 + protocol.MAX_JSON_BYTES
    with pytest.raises(protocol.ProtocolError, match="more than 8388608"):
        protocol.pack({}, fits + "a")


def _blob(array, version):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def test_protocol_reads_npy_version_2_and_refuses_version_3():
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(protocol.decode_tree({"array": 0}, [_blob(a, (2, 0))]), a)
    np.testing.assert_array_equal(protocol.decode_tree({"array": 0}, [_blob(a, (1, 0))]), a)
    with pytest.raises(protocol.ProtocolError, match=r"unsupported \.npy format version "
                                                     r"\(3, 0\)"):
        protocol.decode_tree({"array": 0}, [_blob(a, (3, 0))])


def test_protocol_refuses_negative_dimensions():
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1, -1), }"
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + b"\0" * 8
    with pytest.raises(protocol.ProtocolError, match=r"invalid array shape \(-1, -1\)"):
        protocol.decode_tree({"array": 0}, [blob])
