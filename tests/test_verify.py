"""``gradref verify``: the report, its JSON, the plot, and a planted bug in the
reference making it fail (in-process, through ``add_arguments``/``run`` and the CLI)."""

import argparse
import json
import math
import warnings

import pytest
from gradref.checks import verify
from gradref.checks.result import ArrayCheck, CheckResult
from gradref.checks.strategies import hidden_activations, valid_pairings
from gradref.reference import Network


def run(capsys, *argv):
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    code = verify.run(parser.parse_args(list(argv)))
    return code, capsys.readouterr()


def test_every_pairing_and_hidden_activation_is_covered():
    P, H = len(valid_pairings()), len(hidden_activations())
    assert verify.default_architectures() == P * H
    cases = verify.build_cases(P * H, seed=0)
    seen = {(c.net.activations[0].spec, c.net.activations[-1].spec, c.net.loss.name)
            for c in cases}
    assert len(seen) == P * H
    assert any(a.spec == "leaky_relu(0.05)" for c in cases for a in c.net.activations)
    assert {c.data for c in cases} == set(verify.DATA_KINDS)
    assert all(c.net.loss.accepts(c.net.activations[-1]) for c in cases)


def test_verify_passes_and_writes_json(capsys, tmp_path):
    n = len(valid_pairings())
    code, out = run(capsys, "--architectures", str(n), "--seed", "3", "--layers", "0", "--json",
                    str(tmp_path / "v.json"))
    assert code == 0, out.out
    text = out.out
    assert "PASSED: all" in text
    for o, loss in valid_pairings():
        assert f"{o} + {loss}" in text
    assert "info: rel diff vs FD" in text and "info: vs autograd" in text and "kinks" in text
    # what passing means is in the column that decides it
    assert "verdict: err/tol < 1" in text.splitlines()[2]
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["passed"] and report["architectures"] == n and len(report["runs"]) == n
    assert all(r["architectures"] == 1 for r in report["pairings"])
    assert sum(r["kinks"] for r in report["pairings"]) > 0


@pytest.mark.parametrize("mode", ["sampled", "directional"])
def test_other_modes(capsys, mode):
    code, out = run(capsys, "--architectures", "8", "--mode", mode)
    assert code == 0, out.out
    assert f"mode {mode}" in out.out


def test_a_reference_without_the_one_over_m_fails(capsys, monkeypatch):
    original = Network._backward

    def no_mean(self, params, cache, Y):
        grads = original(self, params, cache, Y)
        m = Y.shape[1]
        return {k: (v * m if k[1] in "Wb" else v) for k, v in grads.items()}

    monkeypatch.setattr(Network, "_backward", no_mean)
    code, out = run(capsys, "--architectures", "4", "--layers", "0")
    assert code == 1
    assert "FAILED: 4 of 4 architectures" in out.out
    assert "1/m" in out.out   # the diagnosis of the first failures


def test_through_the_cli(capsys):
    from gradref.checks.cli import main
    assert main(["verify", "--architectures", "3", "--seed", "1"]) == 0
    assert f"PASSED: all {3 + verify.LAYER_DEFAULT} architectures" in capsys.readouterr().out


def test_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "v.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no RuntimeWarning from non-finite bars
        code, out = run(capsys, "--architectures", "3", "--plot", str(path))
    assert code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.out.splitlines()[-1] == f"wrote the plot to {path}"


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_the_plots_numbers_are_the_tables(mode):
    """The tallest bar of each oracle is the table's worst (the same metric), and every bar
    is some run's error on the whole gradient's scale."""
    cases, pairs, hidden = verify.verify(12, seed=1, mode=mode)
    bars = verify.array_errors(cases)
    for oracle, attr in (("fd", "worst_fd"), ("autograd", "worst_autograd")):
        table = max(getattr(r, attr) for r in pairs if getattr(r, attr) is not None)
        assert max(v for (n, o), v in bars.items() if o == oracle) == table
        assert table == max(getattr(r, attr) for r in hidden if getattr(r, attr) is not None)
    if mode == "directional":
        assert {n for n, o in bars if o == "fd"} == {"∇J·v"}
    else:
        assert {n for n, o in bars if o == "fd"} >= {"dW1", "db1"}


def _result(*arrays, mode="full"):
    r = CheckResult("net", mode, ("fd", "autograd"), 0, 2)
    for name, oracle, err, top in arrays:
        r.arrays.append(ArrayCheck(name, oracle, (1,), checked=1, smooth_abs_err=err,
                                   max_expected=top))
    return r


def test_a_saturated_array_is_measured_on_the_whole_gradients_scale():
    """dW2 is ~0 everywhere (saturated): its own relative error would be 1.0 or inf."""
    r = _result(("dW1", "autograd", 1e-14, 1.0), ("dW2", "autograd", 1e-20, 1e-20),
                ("dW3", "autograd", 0.0, 0.0))
    assert verify.scaled_errors(r, "autograd") == {"dW1": 1e-14, "dW2": 1e-20, "dW3": 0.0}
    assert verify._worst(r, "autograd") == 1e-14
    assert verify.scaled_errors(_result(("dW1", "fd", 0.0, 0.0)), "fd") == {}


def test_nan_and_inf_errors_are_the_worst_and_plotted(tmp_path):
    pytest.importorskip("matplotlib")
    r = _result(("dW1", "fd", math.nan, 1.0), ("db1", "fd", math.inf, 1.0),
                ("dW1", "autograd", 1e-15, 1.0), ("db1", "autograd", 0.0, 1.0))
    assert math.isnan(verify._worst(r, "fd"))
    cases = verify.build_cases(1, seed=0)
    cases[0].result = r
    row = verify.Row("x")
    row.add(cases[0])
    assert math.isnan(row.worst_fd) and row.worst_autograd == 1e-15
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert verify._plot(tmp_path / "p.png", cases, [row]) is None
    assert (tmp_path / "p.png").stat().st_size > 0


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_every_column_and_marker_is_explained(capsys, mode):
    code, out = run(capsys, "--architectures", "4", "--mode", mode)
    text = out.out
    legend = text[text.index("columns:"):]
    for column in ("archs", "failed", "info: rel diff vs FD", "info: vs autograd",
                   "verdict: err/tol < 1",
                   "kinks", "(+N unverified)", "status"):
        assert f"  {column}" in legend, column
    assert "'-' when no architecture had it" in legend
    if mode == "directional":
        assert "along random directions" in text.splitlines()[0]
        assert "∇J·v" in legend


@pytest.mark.parametrize("argv", [["--architectures", "0"], ["--architectures", "x"],
                                  ["--seed", "-1"], ["--mode", "exhaustive"]],
                         ids=["zero", "not-int", "negative-seed", "mode"])
def test_bad_arguments_exit_2(argv, capsys):
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(argv)
    assert exc.value.code == 2


def test_layer_cases_cover_every_option_with_every_data_kind():
    cases = verify.build_layer_cases(verify.LAYER_DEFAULT, seed=0, start=5)
    assert [c.index for c in cases] == list(range(5, 5 + verify.LAYER_DEFAULT))
    seen = {(o, c.data) for c in cases for o in verify.layer_option(c)}
    assert seen >= {(o, k) for o in verify.LAYER_OPTIONS for k in verify.DATA_KINDS}
    for c in cases:
        assert c.net.has_layers and all(c.net.normalization[:-1]) or all(c.net.keep_probs[:-1])
        if c.net.mask_shapes(1):
            assert set(c.net.masks) == set(c.net.mask_shapes(c.X.shape[1]))


def test_verify_covers_dropout_batchnorm_and_layernorm(capsys, tmp_path):
    code, out = run(capsys, "--architectures", "2", "--layers", "9", "--json",
                    str(tmp_path / "v.json"))
    assert code == 0, out.out
    assert "optional layer" in out.out and "PASSED: all 11 architectures" in out.out
    report = json.loads((tmp_path / "v.json").read_text())
    rows = {r["label"]: r for r in report["layers"]}
    assert set(rows) == set(verify.LAYER_OPTIONS)
    assert all(r["architectures"] >= 3 and r["failed"] == 0 for r in rows.values())


def test_verify_fails_on_a_planted_batchnorm_bug(capsys, monkeypatch):
    """The terms through the mean dropped from the reference's batch-norm backward."""
    from gradref.reference import normalization

    real = normalization._backward

    def planted(dout, cache, axis):
        dZ, dg, db = real(dout, cache, axis)
        if axis == 1:
            G = cache["gamma"] * dout
            dZ = dZ + cache["inv_std"] * G.mean(axis=1, keepdims=True)
        return dZ, dg, db

    monkeypatch.setattr(normalization, "_backward", planted)
    code, out = run(capsys, "--architectures", "1", "--layers", "6")
    assert code == 1
    assert "batchnorm" in out.out and "FAIL" in out.out
