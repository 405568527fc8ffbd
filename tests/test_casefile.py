"""Case files: round trips in every layout, reproducible bytes, a ZIP/NPY layout simple enough
for a reader in another language, gradients files, and one table of bad files and calls."""

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from gradref.reference import Network
from gradref.reference.casefile import (
    CASE_FORMAT,
    FORMAT_DOC,
    CaseFileError,
    layout_shapes,
    output_shapes,
    read_case,
    read_gradients,
    sidecar_path,
    write_case,
    write_gradients,
    write_npz,
)

COMBOS = [("columns", "column"), ("columns", "flat"), ("rows", "row"), ("rows", "flat"),
          ("columns", "row"), ("rows", "column")]
NET = Network([3, 4, 2], ["tanh", "sigmoid"], "bce", l2=0.25)


@pytest.fixture
def case(rng):
    params = NET.init_params(seed=rng)
    params["b1"] = rng.standard_normal((4, 1))
    X = rng.standard_normal((3, 5))
    Y = (rng.random((2, 5)) < 0.5).astype(float)
    return params, X, Y


def _walk_local_headers(data: bytes) -> dict[str, bytes]:
    """What docs/formats.md promises a reader may do: follow the ZIP local headers."""
    members, pos = {}, 0
    while data[pos:pos + 4] == b"PK\x03\x04":
        flags, method = struct.unpack_from("<HH", data, pos + 6)
        size, = struct.unpack_from("<I", data, pos + 18)
        name_len, extra_len = struct.unpack_from("<HH", data, pos + 26)
        assert method == 0 and not flags & 0x08  # stored, no data descriptor
        name = data[pos + 30:pos + 30 + name_len].decode()
        start = pos + 30 + name_len + extra_len
        members[name] = data[start:start + size]
        pos = start + size
    return members


def _parse_npy(blob: bytes) -> np.ndarray:
    assert blob[:8] == b"\x93NUMPY\x01\x00"
    header_len, = struct.unpack_from("<H", blob, 8)
    header = blob[10:10 + header_len].decode("ascii")
    assert (10 + header_len) % 64 == 0 and header.endswith("\n")
    assert "'descr': '<f8'" in header and "'fortran_order': False" in header
    shape_text = header.split("'shape': (")[1].split(")")[0]
    shape = tuple(int(s) for s in shape_text.split(",") if s.strip())
    return np.frombuffer(blob[10 + header_len:], dtype="<f8").reshape(shape)


@pytest.mark.parametrize("layout, bias", COMBOS)
def test_round_trip_in_every_layout(tmp_path, case, layout, bias):
    params, X, Y = case
    path = write_case(tmp_path / "c.npz", NET, params, X, Y, layout=layout, bias=bias)
    back = read_case(path)
    assert (back.layout, back.bias, back.m, back.format) == (layout, bias, 5, CASE_FORMAT)
    assert back.network.describe() == NET.describe()
    p2, X2, Y2 = back.inputs()
    assert np.array_equal(X2, X) and np.array_equal(Y2, Y)
    assert all(np.array_equal(p2[k], params[k]) for k in params) and sorted(p2) == sorted(params)
    # stored as the layout says: rows transposes, biases take the declared shape
    stored = back.arrays
    assert np.array_equal(stored["X"], X.T if layout == "rows" else X)
    assert np.array_equal(stored["W1"], params["W1"].T if layout == "rows" else params["W1"])
    assert stored["b1"].shape == {"column": (4, 1), "row": (1, 4), "flat": (4,)}[bias]
    side = json.loads(sidecar_path(path).read_text())
    assert side["arrays"] == {k: list(v.shape) for k, v in stored.items()}
    assert side["outputs"] == {k: list(v) for k, v in output_shapes(NET, layout, bias).items()}


def test_bytes_are_reproducible_and_readable_without_zipfile(tmp_path, case):
    params, X, Y = case
    first = write_case(tmp_path / "a.npz", NET, params, X, Y, layout="rows").read_bytes()
    second = write_case(tmp_path / "b.npz", NET, params, X, Y, layout="rows").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["X.npy", "Y.npy", "W1.npy", "b1.npy", "W2.npy",
                                           "b2.npy"]
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.compress_type == zipfile.ZIP_STORED
               for i in infos)
    members = _walk_local_headers(first)
    assert np.array_equal(_parse_npy(members["X.npy"]), X.T)
    assert np.array_equal(_parse_npy(members["W2.npy"]), params["W2"].T)


@pytest.mark.parametrize("layout, bias", COMBOS)
def test_gradients_round_trip(tmp_path, case, layout, bias):
    params, X, Y = case
    J, grads = NET.gradients(params, X, Y)
    path = write_gradients(tmp_path / "g.npz", grads, NET, layout=layout, bias=bias, cost=J)
    back = read_gradients(path, NET, layout=layout, bias=bias)
    assert sorted(back) == sorted(["J", *output_shapes(NET)])
    assert float(back["J"]) == J
    assert all(np.array_equal(back[k], grads[k]) for k in output_shapes(NET))


def test_gradients_from_np_savez_and_nonfinite_values_are_accepted(tmp_path):
    net = Network([1, 1], ["linear"], "square")
    np.savez_compressed(tmp_path / "g.npz", dW1=np.array([[np.nan]]), db1=np.array([[1]]))
    back = read_gradients(tmp_path / "g.npz", net)
    assert np.isnan(back["dW1"][0, 0]) and back["db1"].dtype == np.float64


def test_layout_shapes():
    assert layout_shapes(NET, 7, "rows", "flat") == {
        "X": (7, 3), "Y": (7, 2), "W1": (3, 4), "b1": (4,), "W2": (4, 2), "b2": (2,)}


def test_format_document_is_docs_formats_md():
    doc = Path(__file__).resolve().parents[1] / "docs" / "formats.md"
    assert doc.read_text(encoding="utf-8") == FORMAT_DOC


# --------------------------------------------------------------------------- bad files
def _good(tmp_path, case):
    return write_case(tmp_path / "c.npz", NET, *case)


def _edit_sidecar(**changes):
    def edit(path):
        side = json.loads(sidecar_path(path).read_text())
        for key, value in changes.items():
            if value is None:
                del side[key]
            else:
                side[key] = value
        sidecar_path(path).write_text(json.dumps(side))
    return edit


def _replace_npz(**arrays):
    def edit(path):
        with np.load(path) as data:
            content = {k: data[k] for k in data.files}
        content.update(arrays)
        for key in [k for k, v in arrays.items() if v is None]:
            del content[key]
        np.savez(path, **content)
    return edit


BAD_CASES = {
    "no-sidecar": (lambda p: sidecar_path(p).unlink(), "does not exist"),
    "sidecar-not-json": (lambda p: sidecar_path(p).write_text("{"), "not valid JSON"),
    "sidecar-a-list": (lambda p: sidecar_path(p).write_text("[]"), "must hold a JSON object"),
    "newer-format": (_edit_sidecar(format="gradref-case/2"), "'gradref-case/2' is not supported"),
    "unknown-format": (_edit_sidecar(format="other/1"), "'format' must be"),
    "no-layout": (_edit_sidecar(layout=None), "lacks key(s) layout"),
    "bad-layout": (_edit_sidecar(layout="diagonal"), "layout must be one of"),
    "bad-m": (_edit_sidecar(m=0), "m must be a positive integer"),
    "bad-network": (_edit_sidecar(network={"layer_sizes": [3, 2], "activations": ["relu"],
                                           "loss": "bce"}), "cannot follow output activation"),
    "npz-missing": (lambda p: p.unlink(), "case file"),
    "npz-garbage": (lambda p: p.write_bytes(b"not a zip"), "not a readable .npz"),
    "array-missing": (_replace_npz(W2=None), "lacks array 'W2'"),
    "array-shape": (_replace_npz(W1=np.zeros((3, 4))), "W1 has shape (3, 4), expected (4, 3)"),
}


@pytest.mark.parametrize("name", BAD_CASES)
def test_bad_case_files(tmp_path, case, name):
    damage, message = BAD_CASES[name]
    path = _good(tmp_path, case)
    damage(path)
    with pytest.raises(CaseFileError, match=None) as info:
        read_case(path)
    assert message in str(info.value)


BAD_GRADIENTS = {
    "missing-file": (None, "does not exist"),
    "not-zip": (b"garbage", "not a readable .npz"),
    "single-npy": ("npy", "single .npy array"),
    "missing-key": ({"dW1": np.zeros((4, 3)), "db1": np.zeros((4, 1)), "dW2": np.zeros((2, 4))},
                    "lacks 'db2'"),
    "wrong-shape": ({"dW1": np.zeros((3, 4)), "db1": np.zeros((4, 1)), "dW2": np.zeros((2, 4)),
                     "db2": np.zeros((2, 1))}, "dW1 has shape (3, 4), expected (4, 3)"),
    "bool-dtype": ({"dW1": np.zeros((4, 3), bool), "db1": np.zeros((4, 1)),
                    "dW2": np.zeros((2, 4)), "db2": np.zeros((2, 1))}, "dW1 has dtype bool"),
    "cost-not-scalar": ({"dW1": np.zeros((4, 3)), "db1": np.zeros((4, 1)),
                         "dW2": np.zeros((2, 4)), "db2": np.zeros((2, 1)), "J": np.zeros(2)},
                        "J must be one real number"),
}


@pytest.mark.parametrize("name", BAD_GRADIENTS)
def test_bad_gradient_files(tmp_path, name):
    content, message = BAD_GRADIENTS[name]
    path = tmp_path / "g.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif isinstance(content, dict):
        np.savez(path, **content)
    with pytest.raises(CaseFileError) as info:
        read_gradients(path, NET)
    assert message in str(info.value)


BAD_CALLS = {
    "layout": (lambda p, c: write_case(p, NET, *c, layout="diagonal"), ValueError,
               "layout must be one of columns, rows, torch, got 'diagonal'"),
    "bias": (lambda p, c: write_case(p, NET, *c, bias="sideways"), ValueError,
             "bias must be one of column, row, flat, got 'sideways'"),
    "format": (lambda p, c: write_case(p, NET, *c, format="x/1"), ValueError,
               "format must be"),
    "suffix": (lambda p, c: write_case(p.with_suffix(".zip"), NET, *c), CaseFileError,
               "must end in .npz"),
    "extra-array-clash": (lambda p, c: write_case(p, NET, *c, extra_arrays={"X": c[1]}),
                          ValueError, "extra_arrays key 'X' clashes"),
    "extra-key-clash": (lambda p, c: write_case(p, NET, *c, extra={"m": 3}), ValueError,
                        "extra key 'm' clashes"),
    "network": (lambda p, c: write_case(p, "net", *c), TypeError, "network must be"),
    "params": (lambda p, c: write_case(p, NET, {"W1": c[0]["W1"]}, *c[1:]), ValueError,
               "params keys do not match"),
    "array-name": (lambda p, c: write_npz(p, {"a b": np.zeros(1)}), ValueError,
                   "array name 'a b' must be an identifier"),
    "array-dtype": (lambda p, c: write_npz(p, {"a": np.zeros(1, complex)}), TypeError,
                    "array 'a' must be real numeric"),
    "gradients-missing": (lambda p, c: write_gradients(p, {}, NET), ValueError,
                          "grads lacks dW1, db1, dW2, db2"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_calls(tmp_path, case, name):
    call, exc, message = BAD_CALLS[name]
    with pytest.raises(exc) as info:
        call(tmp_path / "c.npz", case)
    assert message in str(info.value)


# --------------------------------------------------------------------------- JSON io
@pytest.mark.parametrize("layout, bias", [("columns", "column"), ("rows", "row"),
                                          ("torch", "flat")])
def test_json_case_holds_the_sidecar_and_every_array_exactly(case, tmp_path, layout, bias):
    from gradref.reference.casefile import write_case_json

    params, X, Y = case
    path = write_case_json(tmp_path / "c.json", NET, params, X, Y, layout=layout, bias=bias)
    obj = json.loads(path.read_text())  # any JSON library reads it
    npz = write_case(tmp_path / "c.npz", NET, params, X, Y, layout=layout, bias=bias)
    side = json.loads(sidecar_path(npz).read_text())
    assert {k: v for k, v in obj.items() if k != "data"} == side
    for key, shape in side["arrays"].items():
        arr = np.array(obj["data"][key])
        assert arr.shape == tuple(shape)
    assert np.array_equal(np.array(obj["data"]["X"]), X.T if layout != "columns" else X)
    W1 = params["W1"].T if layout == "rows" else params["W1"]
    assert np.array_equal(np.array(obj["data"]["W1"]), W1)  # float64 read back bit for bit


def test_json_answer_reads_numbers_nulls_and_unsupported(tmp_path):
    from gradref.reference.casefile import read_json_answer

    path = tmp_path / "a.json"
    path.write_text('{"dW1": [[1, 2.5], [null, -3e-300]], "J": 0.25, "format": "x"}')
    got = read_json_answer(path)
    assert got["dW1"].shape == (2, 2) and np.isnan(got["dW1"][1, 0]) and got["J"] == 0.25
    assert "format" not in got
    path.write_text('{"unsupported": "no softmax"}')
    assert read_json_answer(path) == {"unsupported": "no softmax"}


@pytest.mark.parametrize("text, message", [
    ("[1, 2]", "must hold a JSON object, got list"),
    ("{nope", "is not valid JSON"),
    ('{"dW1": [[1, 2], [3]]}', "dW1 is not a rectangular nested list of numbers"),
    ('{"dW1": [["a"]]}', 'dW1 holds "a", expected numbers'),
    ('{"dW1": [[true]]}', "dW1 holds true, expected numbers"),
    ('{"d W": 1}', "key 'd W' is not an array name"),
], ids=["list", "syntax", "ragged", "string", "bool", "key"])
def test_bad_json_answers_name_the_file_and_the_problem(tmp_path, text, message):
    from gradref.reference.casefile import read_json_answer

    path = tmp_path / "a.json"
    path.write_text(text)
    with pytest.raises(CaseFileError, match="answer file") as info:
        read_json_answer(path)
    assert message in str(info.value)
    with pytest.raises(CaseFileError, match="does not exist"):
        read_json_answer(tmp_path / "missing.json")


def test_torch_layout_shapes():
    shapes = layout_shapes(NET, 5, "torch")
    assert shapes == {"X": (5, 3), "Y": (5, 2), "W1": (4, 3), "b1": (4,), "W2": (2, 4),
                      "b2": (2,)}


def test_the_json_example_in_the_format_document_is_consistent():
    import re as _re

    block = _re.search(r"```json\n(.*?)```", FORMAT_DOC, _re.S).group(1)
    example = json.loads(block)
    for key, shape in example["arrays"].items():
        assert np.array(example["data"][key]).shape == tuple(shape)
    net = Network(**{k: example["network"][k] for k in ("layer_sizes", "activations", "loss")})
    assert output_shapes(net) == {k: tuple(v) for k, v in example["outputs"].items()}
