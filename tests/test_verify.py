"""``gradref verify``: the report, its JSON, the plot, and a planted bug in the
reference making it fail (in-process, through ``add_arguments``/``run`` and the CLI)."""

import argparse
import json

import pytest
from gradref.checks import verify
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
    code, out = run(capsys, "--architectures", str(n), "--seed", "3", "--json",
                    str(tmp_path / "v.json"))
    assert code == 0, out.out
    text = out.out
    assert "PASSED: all" in text
    for o, loss in valid_pairings():
        assert f"{o} + {loss}" in text
    assert "worst rel err vs FD" in text and "vs autograd" in text and "kinks" in text
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
    code, out = run(capsys, "--architectures", "4")
    assert code == 1
    assert "FAILED: 4 of 4 architectures" in out.out
    assert "1/m" in out.out   # the diagnosis of the first failures


def test_through_the_cli(capsys):
    from gradref.checks.cli import main
    assert main(["verify", "--architectures", "3", "--seed", "1"]) == 0
    assert "PASSED: all 3 architectures" in capsys.readouterr().out


def test_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    code, out = run(capsys, "--architectures", "3", "--plot", str(tmp_path / "v.png"))
    assert code == 0
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv", [["--architectures", "0"], ["--architectures", "x"],
                                  ["--seed", "-1"], ["--mode", "exhaustive"]],
                         ids=["zero", "not-int", "negative-seed", "mode"])
def test_bad_arguments_exit_2(argv, capsys):
    parser = argparse.ArgumentParser()
    verify.add_arguments(parser)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(argv)
    assert exc.value.code == 2
