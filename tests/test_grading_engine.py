"""The grading engine: declarations and their validation, cases and shrinking, points, the CLI,
and submissions that misbehave in every way (which must never make grading raise)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from gradref.checks.cli import main as cli_main
from gradref.checks.grading import (
    COMPUTATIONS,
    AssignmentError,
    SubmissionError,
    builtin_assignments,
    grade_source,
    grade_submission,
    load_assignment,
)
from gradref.checks.grading.assignment import parse_assignment
from gradref.checks.grading.cases import Case, CaseRanges, generate_cases, shrink
from gradref.checks.isolation import Limits

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "grading_fixtures"
CORRECT = (FIXTURES / "step_correct.py").read_text()


def declaration(**function) -> dict:
    """A one-function declaration (linear_backward unless overridden)."""
    entry = {"name": "linear_backward", "maps_to": "linear_backward",
             "args": ["dZ", "linear_cache"], "returns": ["dA_prev", "dW", "db"]}
    entry.update(function)
    return {"name": "mini", "functions": [entry]}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- bad inputs
# id -> (how to build the call's arguments, exception, message pattern, also through the CLI)
BAD = {
    "unknown assignment name": (
        lambda tmp: (FIXTURES / "step_correct.py", "step-by-stpe"), AssignmentError,
        r"unknown assignment 'step-by-stpe'; built-in: gradient-checking, initialization, "
        r"layered, layered-full, optimization, planar, regularization, step-by-step", True),
    "malformed TOML": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.toml", "name = [unclosed\n")),
        AssignmentError, r"a\.toml: not valid TOML", True),
    "malformed JSON": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", "{name: 1")),
        AssignmentError, r"a\.json: not valid JSON", True),
    "missing declaration file": (
        lambda tmp: (FIXTURES / "step_correct.py", tmp / "nope.toml"), AssignmentError,
        r"nope\.toml' does not exist", True),
    "unknown computation": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(maps_to="linear_bakward")))), AssignmentError,
        r"functions\[0\] \(linear_backward\)\.maps_to: unknown computation 'linear_bakward'; "
        r"valid: initialize_parameters, linear_forward", True),
    "misspelt key": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(retruns=["dW"])))), AssignmentError,
        r"functions\[0\] \(linear_backward\): unknown key 'retruns'; valid keys: name, ", False),
    "unknown output": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(returns=["dA_prev", "dw", "db"])))), AssignmentError,
        r"\.returns: unknown output 'dw' of computation 'linear_backward'; valid: dA_prev, dW, db",
        False),
    "unknown input": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(args=["dZ", "cache"])))), AssignmentError,
        r"\.args: unknown input 'cache' of computation 'linear_backward'; valid: dZ, linear_cache",
        False),
    "bad case range": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(cases={"m": [3, 1]})))), AssignmentError,
        r"functions\[0\] \(linear_backward\)\.cases\.m: must be \[low, high\] .* got \[3, 1\]",
        False),
    "bad check kind": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(checks=[{"check": "value", "points": 1}])))), AssignmentError,
        r"checks\[0\]\.check: 'value' is not one of shape, dtype, values, cache", False),
    "pattern matching no output": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(checks=[{"check": "values", "of": ["dZ"]}])))), AssignmentError,
        r"checks\[0\]\.of: pattern 'dZ' matches none of the returned outputs dA_prev, dW, db",
        False),
    "method without class": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(call="method")))), AssignmentError,
        r"call = 'method' needs the key 'class'", False),
    "unknown option": (
        lambda tmp: (FIXTURES / "step_correct.py", write(tmp, "a.json", json.dumps(
            declaration(options={"seed": 3})))), AssignmentError,
        r"unknown option 'seed' for computation 'linear_backward'; valid: none", False),
    "missing submission": (
        lambda tmp: (tmp / "hw.py", "step-by-step"), FileNotFoundError,
        r"submission not found: .*hw\.py", True),
    "unsupported extension": (
        lambda tmp: (write(tmp, "hw.txt", "x = 1\n"), "step-by-step"), SubmissionError,
        r"unsupported submission .*hw\.txt: expected a \.py or \.ipynb file, a folder or a \.zip, "
        r"got '\.txt'", True),
    "invalid notebook": (
        lambda tmp: (write(tmp, "hw.ipynb", "{not json"), "step-by-step"), SubmissionError,
        r"hw\.ipynb is not a valid Jupyter notebook", True),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_inputs_raise_clear_errors(case, tmp_path):
    build, exc, pattern, _ = BAD[case]
    path, assignment = build(tmp_path)
    with pytest.raises(exc, match=pattern):
        grade_submission(path, assignment)


@pytest.mark.parametrize("case", [c for c in BAD if BAD[c][3]])
def test_bad_inputs_exit_2_from_the_cli(case, tmp_path, capsys):
    build, _, pattern, _ = BAD[case]
    path, assignment = build(tmp_path)
    assert cli_main(["grade", str(path), "--assignment", str(assignment)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and re.search(pattern, captured.err)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"seed": -1}, "seed must be a non-negative int, got -1"),
    ({"points": {"linear_bakward": 3}}, "points: unknown function or test 'linear_bakward'"),
    ({"points": {"linear_backward": -3}}, r"points\['linear_backward'\]: must be >= 0"),
], ids=["negative seed", "unknown points key", "negative points"])
def test_bad_arguments_raise_value_errors(kwargs, pattern):
    with pytest.raises((ValueError, AssignmentError), match=pattern):
        grade_source(CORRECT, "step-by-step", **kwargs)


# --------------------------------------------------------------------------- declarations
def test_builtins_load_and_every_computation_is_documented():
    assert builtin_assignments() == ["gradient-checking", "initialization", "layered",
                                     "layered-full", "optimization", "planar", "regularization",
                                     "step-by-step"]
    for name in builtin_assignments():
        asg = load_assignment(name)
        assert asg.max_score == 100
        assert len(set(asg.test_names())) == len(asg.test_names())
    docs = (ROOT / "docs" / "assignments.md").read_text()
    for name in COMPUTATIONS:
        assert f"`{name}`" in docs, f"computation {name} missing from docs/assignments.md"


def test_default_checks_and_points_come_from_the_declaration():
    asg = parse_assignment({"name": "mini", "points": {"values": 5, "dtype": 0}, "functions": [
        {"name": "linear_forward", "maps_to": "linear_forward", "args": ["A_prev", "W", "b"],
         "returns": ["Z", "linear_cache"]}]})
    checks = {c.kind: c.points for c in asg.functions[0].checks}
    assert checks == {"shape": 1.0, "values": 5.0, "cache": 0.5}


def test_points_override_rescales_a_function_or_sets_one_test():
    asg = load_assignment("step-by-step").with_points(
        {"linear_backward": 24, "compute_cost: value of the cost": 10})
    fn = {f.name: f for f in asg.functions}
    assert fn["linear_backward"].max_score == pytest.approx(24)
    assert {c.title: c.points for c in fn["compute_cost"].checks}["value of the cost"] == 10
    report = grade_source(CORRECT, "step-by-step", points={"linear_backward": 24})
    assert report.max_score == pytest.approx(112) and report.score == report.max_score


def test_exact_initialisation_seed_can_be_demanded(tmp_path):
    decl = {"name": "init-only", "functions": [{
        "name": "initialize_parameters_deep", "maps_to": "initialize_parameters",
        "args": ["layer_dims"], "returns": "parameters", "options": {"seed": 3, "scale": 0.01},
        "checks": [{"check": "shape"}, {"check": "values", "title": "values of seed 3"}]}]}
    path = write(tmp_path, "init.json", json.dumps(decl))
    exact = grade_source(CORRECT, path)
    assert exact.failed == [], exact.failed
    other = grade_source(CORRECT.replace("np.random.seed(3)", "np.random.seed(4)"), path)
    assert [t.name for t in other.failed] == ["initialize_parameters_deep: values of seed 3"]
    assert "W1 is wrong" in other.failed[0].output


# --------------------------------------------------------------------------- cases
def test_cases_are_deterministic_cover_the_variants_and_avoid_size_1():
    ranges = CaseRanges(count=4, depth=(1, 3), input_width=(1, 5), width=(1, 5),
                        output_width=(1, 1), m=(1, 6))
    a = generate_cases("layer", ranges, seed=7, label="f", variants=("sigmoid", "relu"))
    b = generate_cases("layer", ranges, seed=7, label="f", variants=("sigmoid", "relu"))
    assert a == b and [c.variant for c in a] == ["sigmoid", "relu"] * 3
    small, large = a[:4], a[4:]
    assert all(2 <= c.m <= 6 and 2 <= min(c.layer_dims) and max(c.layer_dims) <= 5 for c in small)
    # two larger cases besides (m 7..64, widths 6..32), for bugs that small sizes hide
    assert len(large) == 2 and all(7 <= c.m <= 64 and min(c.layer_dims) >= 6
                                   and max(c.layer_dims) <= 32 for c in large)
    none = generate_cases("layer", ranges.replace(large=ranges.large.replace(count=0)), seed=7,
                          label="f", variants=("sigmoid", "relu"))
    assert none == small
    assert a != generate_cases("layer", ranges, seed=8, label="f", variants=("sigmoid", "relu"))
    net = generate_cases("network", ranges, seed=7, label="g")
    assert len(net[0].layer_dims) == 4 and all(c.layer_dims[-1] == 1 for c in net)
    assert len(net[4].layer_dims) == 6                 # the first large case has depth 5
    assert (a[0].rng().standard_normal(3) == a[0].rng().standard_normal(3)).all()


def test_shrink_finds_the_smallest_failing_case():
    ranges = CaseRanges(depth=(1, 4), input_width=(1, 6), width=(1, 6), output_width=(1, 1),
                        m=(1, 8))
    start = Case("network", (6, 5, 4, 3, 1), 8)
    calls = []

    def fails(case):            # a bug that needs m >= 3 and a hidden layer of width >= 2
        calls.append(case)
        return case.m >= 3 and len(case.layer_dims) >= 3 and max(case.layer_dims[1:-1]) >= 2

    smallest = shrink(start, ranges, fails)
    assert smallest.m == 3 and smallest.layer_dims == (1, 2, 1)
    assert len(calls) <= 40
    assert shrink(start, ranges, lambda c: False) == start


# --------------------------------------------------------------------------- misbehaving code
HOSTILE = '''
import sys
import numpy as np

def initialize_parameters_deep(layer_dims):
    return None

def linear_forward(A, W, b):
    return (x for x in range(3))

def linear_activation_forward(A_prev, W, b, activation):
    sys.exit(3)

def L_model_forward(X, parameters):
    return np.zeros((1, 1), dtype=int), "caches"

def compute_cost(AL, Y):
    return float("nan")

def linear_backward(dZ, cache):
    import os
    os._exit(1)

def linear_activation_backward(dA, cache, activation):
    print("x" * 100000)
    return 1, 2

def L_model_backward(AL, Y, caches):
    return {"dW1": "no"}

update_parameters = 42
'''


def test_misbehaving_submissions_lose_their_points_and_never_raise():
    report = grade_source(HOSTILE, "step-by-step", limits=Limits(wall=5.0, cpu=5.0))
    passed = [t.name for t in report.tests if t.status == "passed"]
    assert passed == ["compute_cost: a scalar"]     # NaN is a single number, just a wrong one
    assert report.score == 2
    by_function: dict[str, str] = {}
    for t in report.failed:
        by_function[t.name.partition(": ")[0]] = by_function.get(t.name.partition(": ")[0], "") + t.output
    assert "parameters should be a dict" in by_function["initialize_parameters_deep"]
    assert "cannot be sent back" in by_function["linear_forward"]
    assert "SystemExit" in by_function["linear_activation_forward"]
    assert "NaN" in by_function["compute_cost"] or "nan" in by_function["compute_cost"]
    assert "died" in by_function["linear_backward"]
    assert "should return 3 values" in by_function["linear_activation_backward"]
    assert "dW1 should be an array" in by_function["L_model_backward"] \
        or "has no key 'dA0'" in by_function["L_model_backward"]
    assert "update_parameters" in by_function["update_parameters"]


def test_a_syntax_error_costs_only_the_functions_it_breaks():
    # the block with the error is skipped and reported; what does not need relu keeps its points
    report = grade_source(CORRECT.replace("def relu(Z):", "def relu(Z)"), "step-by-step",
                          name="hw.py")
    broken = {"linear_activation_forward", "L_model_forward"}
    assert {t.name.partition(": ")[0] for t in report.failed} == broken
    line = CORRECT.splitlines().index("def relu(Z):") + 1
    assert re.search(rf"line {line}: SyntaxError: expected ':' \(hw\.py, line {line}\)",
                     report.output), report.output
    assert any("name 'relu' is not defined" in t.output for t in report.failed)


# --------------------------------------------------------------------------- the CLI
def test_cli_grades_and_writes_every_format(tmp_path, capsys):
    sub = str(FIXTURES / "step_correct.py")
    assert cli_main(["grade", sub]) == 0
    assert "100 / 100 points" in capsys.readouterr().out
    out = tmp_path / "results.json"
    assert cli_main(["grade", sub, "--format", "gradescope", "--out", str(out), "--seed", "5"]) == 0
    assert json.loads(out.read_text())["score"] == 100
    buggy = write(tmp_path, "hw.py", CORRECT.replace("return np.squeeze(cost)", "return 0"))
    assert cli_main(["grade", str(buggy), "--format", "json",
                     "--points", "compute_cost=20"]) == 0       # graded: exit 0 whatever the score
    data = json.loads(capsys.readouterr().out)
    assert data["max_score"] == 112 and data["score"] == 112 - 15   # kept "a scalar": 5 of 20
