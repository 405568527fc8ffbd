"""Numerical instability told apart from a wrong derivative (checks/validation/stability.py):
each unstable or approximate form in examples/implementations/unstable.py gets its verdict and
its mechanism named; a derivative wrong only in saturation stays DIFFERS."""

import json
from pathlib import Path

import pytest
from gradref.checks.validation import EXIT_FAILED, EXIT_UNSTABLE, Settings

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"
SIGMOID = ["--layers", "3,6,1", "--activations", "sigmoid,sigmoid", "--loss", "bce"]
TANH = ["--layers", "3,6,1", "--activations", "tanh,sigmoid", "--loss", "bce"]
EXTREME = ["--data", "normal,extreme", "--cases", "4"]

CASES = [
    ("nonfused-bce", "gradients", SIGMOID, EXIT_UNSTABLE,
     ["UNSTABLE: right where finite; unstable at saturation", "all on extreme data",
      "the non-fused dA = −(Y/A − (1−Y)/(1−A)) times σ′(z): it divides by zero"]),
    ("tanh-overflow", "tanh_gradients", TANH, EXIT_UNSTABLE,
     ["right where finite; unstable at saturation", "e^(2z) overflows",
      "(e^(2x)−1)/(e^(2x)+1)"]),
    ("epsilon", "gradients_epsilon", SIGMOID, EXIT_FAILED,
     ["DIFFERS", "an ε = 1e-08 added to the denominators"]),
    ("clip", "gradients_clip", SIGMOID, EXIT_FAILED,
     ["DIFFERS", "multiplies a finite dA by σ′ = σ(1−σ) = 0 there, so the gradient vanishes"]),
    ("lookup-table", "gradients_table", SIGMOID, EXIT_FAILED,
     ["DIFFERS", "the signature of an approximated activation"]),
]




@pytest.mark.parametrize("function, arch, code, texts", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_each_form_gets_its_verdict_and_mechanism(function, arch, code, texts, validate_cli):
    got, out = validate_cli([f"{EX / 'unstable.py'}:{function}", *arch, *EXTREME])
    assert got == code, out
    for text in texts:
        assert text in out, (text, out)


def test_the_instability_has_its_own_json_entry(validate_cli, tmp_path):
    out = tmp_path / "report.json"
    code, _ = validate_cli([f"{EX / 'unstable.py'}:gradients", *SIGMOID, *EXTREME, "--format", "json",
                    "--out", str(out)])
    data = json.loads(out.read_text())
    assert code == data["exit_code"] == EXIT_UNSTABLE == 4
    assert data["instability"]["verdict"] == "right where finite; unstable at saturation"
    assert "divides by zero" in data["instability"]["mechanisms"][0]


def test_a_derivative_wrong_only_in_saturation_is_not_called_unstable(validate_cli):
    # saturation.py: σ'(z) = 1 once |z| > 25, finite and wrong: a wrong derivative
    code, out = validate_cli([f"{EX / 'saturation.py'}:gradients", *SIGMOID])
    assert code == EXIT_FAILED
    assert "DIFFERS" in out and "unstable at saturation" not in out


def test_the_unstable_form_is_right_on_ordinary_data(validate_cli):
    code, out = validate_cli([f"{EX / 'unstable.py'}:gradients", *SIGMOID, "--data", "normal"])
    assert code == 0, out


def test_an_unknown_data_family_is_named():
    with pytest.raises(ValueError, match="normal, saturated, integer, extreme"):
        Settings(("sigmoid",), ("bce",), (2, 1), data=("huge",))
