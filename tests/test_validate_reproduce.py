"""Every case of a report carries its binding, its conventions and a one-line reproduction
command; running that line gives the same case (same network, batch and data family) alone."""

import json
import re
import shlex
from pathlib import Path

import pytest

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"
RUNS = [
    [f"{EX / 'class_labels.py'}:train_step_bug", "--random-architectures", "--hidden",
     "relu,tanh", "--output", "softmax,sigmoid", "--loss", "cross_entropy,bce", "--labels",
     "index", "--returns", "update", "--lr", "0.3", "--min-width", "2", "--same-width",
     "--pairs", "softmax:cross_entropy", "--cases", "3", "--seed", "5"],
    ["--model", f"{EX / 'layer_objects.py'}:build_bug", "--call", "chain", "--layers",
     "3,3,3,1", "--activations", "tanh,tanh,sigmoid", "--loss", "bce", "--cases", "3",
     "--layout", "columns", "--data", "normal,saturated"],
]




@pytest.mark.parametrize("argv", RUNS, ids=["function", "bound-model"])
def test_the_reproduction_line_gives_the_same_case(argv, validate_cli, tmp_path):
    out = tmp_path / "r.json"
    code, text = validate_cli([*argv, "--no-shrink", "--format", "json", "--out", str(out)])
    data = json.loads(out.read_text())
    case = data["cases"][-1]
    assert case["status"] == "mismatch", text
    assert case["conventions"] and case["reproduce"].endswith(f"--case {case['case']}")
    if "--model" in argv:
        assert "W1 ← model[0].W" in case["binding"]
    line = shlex.split(case["reproduce"])
    assert line[:2] == ["gradref", "validate"]
    again, alone = validate_cli(line[2:])
    assert again == code
    heads = re.findall(r"case (\d+) \((\w+) data\): m = (\d+), (\[[^\]]*\])", alone)
    assert heads == [(str(case["case"]), case["data"], str(case["m"]),
                      str(case["network"]["layer_sizes"]))], alone


def test_a_mismatch_prints_its_reproduction_line(validate_cli):
    _, text = validate_cli([*RUNS[1], "--no-shrink"])
    assert re.search(r"MISMATCH in .*\n      reproduce: gradref validate --model \S+build_bug "
                     r"--call chain --layers 3,3,3,1 .*--seed 0 --case 1\n", text), text
