"""Golden fixtures: coverage, reproducible bytes, and every stored value recomputed by independent
oracles (autograd for the cost and gradients, the oracle's activations for Z and A), by the
reference, and by the stand-alone example implementation that reads the format."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.cli import main as reference_main
from gradref.checks.oracle import oracle_activation, oracle_cost, oracle_gradients
from gradref.reference import LOSSES, activation_names, get_activation
from gradref.reference.casefile import FIXTURE_FORMAT, FORMAT_DOC, read_gradients
from gradref.reference.fixtures import FIXTURES, load_fixtures, write_fixtures

ROOT = Path(__file__).resolve().parents[1]
RTOL = 1e-9  # a different float64 computation of the same quantity


@pytest.fixture(scope="module")
def fixtures_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    assert reference_main(["fixtures", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def cases(fixtures_dir):
    return load_fixtures(fixtures_dir)


def _close(got, expected, rtol=RTOL):
    got, expected = np.asarray(got), np.asarray(expected)
    return got.shape == expected.shape and np.max(np.abs(got - expected), initial=0.0) <= \
        rtol * np.max(np.abs(expected), initial=0.0) + 1e-13


def test_same_bytes_every_run(fixtures_dir, tmp_path):
    write_fixtures(tmp_path)
    first = sorted(p.name for p in fixtures_dir.iterdir())
    assert first == sorted(p.name for p in tmp_path.iterdir())
    assert all((fixtures_dir / n).read_bytes() == (tmp_path / n).read_bytes() for n in first)


def test_index_versions_and_readme(fixtures_dir, cases):
    index = json.loads((fixtures_dir / "index.json").read_text())
    assert index["format"] == FIXTURE_FORMAT
    assert [e["name"] for e in index["fixtures"]] == [s.name for s in FIXTURES]
    assert all(c.sidecar["format"] == FIXTURE_FORMAT for c in cases)
    assert (fixtures_dir / "README.md").read_text() == FORMAT_DOC
    assert len(list(fixtures_dir.glob("*.npz"))) == len(FIXTURES)


def test_every_activation_loss_and_edge_case_is_covered(cases):
    tags = {t for c in cases for t in c.sidecar["tags"]}
    for name in activation_names():
        assert f"activation:{get_activation(name).spec}" in tags
    for name in LOSSES:
        assert f"loss:{name}" in tags
    assert {"batch-1", "width-1", "saturated", "kinks", "leaky-slope", "l2",
            "activation:leaky_relu(0.05)"} <= tags
    by_tag = {t: [c for c in cases if t in c.sidecar["tags"]] for t in tags}
    assert all(c.m == 1 for c in by_tag["batch-1"])
    assert all(set(c.network.layer_sizes) == {1} for c in by_tag["width-1"])
    assert all(c.network.l2 > 0 for c in by_tag["l2"])
    assert all(max(np.abs(c.arrays[f"Z{l}"]).max() for l in range(1, c.network.L + 1)) > 20
               for c in by_tag["saturated"])


def test_kink_fixtures_sit_exactly_on_kinks_that_the_gradient_reaches(cases):
    kinked = [c for c in cases if "kinks" in c.sidecar["tags"]]
    assert kinked
    for c in kinked:
        params, X, Y = c.inputs()
        dA = oracle_gradients(c.network, params, X, Y)
        for l in range(1, c.network.L):
            if c.network.activations[l - 1].kinks:
                on_kink = c.arrays[f"Z{l}"] == 0.0
                assert np.any(on_kink & (dA[f"dA{l}"] != 0)), (c.sidecar["name"], l)


def test_values_match_autograd(cases):
    for c in cases:
        net, (params, X, Y) = c.network, c.inputs()
        A = X
        for l, act in enumerate(net.activations, start=1):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            A = np.asarray(oracle_activation(act)(Z))
            assert _close(c.arrays[f"Z{l}"], Z) and _close(c.arrays[f"A{l}"], A), c.sidecar["name"]
        J = oracle_cost(net, params, X, Y)
        assert _close(c.arrays["J"], J) and c.sidecar["cost"] == float(c.arrays["J"])
        grads = oracle_gradients(net, params, X, Y)
        for key in c.sidecar["outputs"]:
            assert _close(c.arrays[key], grads[key]), (c.sidecar["name"], key)


def test_reference_reproduces_every_fixture(cases):
    for c in cases:
        params, X, Y = c.inputs()
        _, cache = c.network.forward(params, X)
        J, grads = c.network.gradients(params, X, Y)
        assert _close(c.arrays["J"], J, 1e-13)
        for key in c.sidecar["arrays"]:
            if key[0] in "ZA":
                assert _close(c.arrays[key], cache[key], 1e-13)
            elif key[0] == "d":
                assert _close(c.arrays[key], grads[key], 1e-13), (c.sidecar["name"], key)


def test_standalone_implementation_reads_the_format(cases, tmp_path):
    """The stand-alone example (NumPy + json only) reproduces every fixture's gradients."""
    spec = importlib.util.spec_from_file_location(
        "standalone", ROOT / "examples" / "implementations" / "standalone.py")
    standalone = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(standalone)
    for c in cases:
        out = tmp_path / f"{c.sidecar['name']}_out.npz"
        standalone.main(str(c.path), str(out))
        got = read_gradients(out, c.network)
        for key in c.sidecar["outputs"]:
            assert _close(got[key], c.arrays[key]), (c.sidecar["name"], key)
        assert _close(got["J"], c.arrays["J"])


def test_out_must_be_a_directory(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("")
    assert reference_main(["fixtures", "--out", str(target)]) == 2
    assert f"argument --out: {str(target)!r} exists and is not a directory" in \
        capsys.readouterr().err
