"""A function's other course versions (``versions``): the grader finds the signature a student's
code accepts (arity, keyword and constructor names) and the structure it returns, grades it
under that version with a note, and refuses a declaration that says nothing or says it twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradref.checks.grading import grade_function, grade_source, load_assignment
from gradref.checks.grading.assignment import AssignmentError

FIXTURES = Path(__file__).parent / "grading_fixtures"
LAYERED = (FIXTURES / "layered_correct.py").read_text()


def _over(base: str, count: int, entry: str) -> str:
    """A declaration extending ``base`` with ``count`` cases and one overridden function."""
    return f'extends = "{base}"\nname = "versions"\n\n[cases]\ncount = {count}\n\n[[functions]]\n' + entry


COST_VERSIONS = _over("step-by-step", 3, '''name = "compute_cost"

[[functions.versions]]
name = "the three-argument form"
args = ["AL", "Y", "AL"]
note = "compute_cost(AL, Y, parameters) of older notebooks was recognised."
''')

BACKWARD_VERSIONS = _over("step-by-step", 3, '''name = "linear_backward"
checks = [
    { check = "values", of = ["dA_prev"], points = 2 },
    { check = "values", of = ["dW"], points = 2 },
    { check = "values", of = ["db"], points = 2 },
]
versions = [{ name = "the two-value form", returns = ["dW", "db"], note = "no dA_prev was returned." }]
''')

NET_VERSIONS = _over("layered", 2, '''name = "FullyConnectedNet.loss"

[[functions.versions]]
name = "the hidden_sizes constructor"
note = "FullyConnectedNet(hidden_sizes, ...) was recognised."

[functions.versions.constructor]
hidden_sizes = "hidden_dims"
input_dim = "input_dim"
num_classes = "num_classes"
reg = "reg"
''')

COST = '''
import numpy as np

def compute_cost({params}):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)
'''

BACKWARD = '''
import numpy as np

def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    {tail}
'''


def _declaration(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "versions.toml"
    path.write_text(text)
    return path


def _tests(report, prefix: str) -> list:
    return [t for t in report.tests if t.name.startswith(prefix)]


@pytest.mark.parametrize("params, accepted", [("AL, Y", False), ("AL, Y, parameters", True),
                                              ("AL, Y, parameters=None", False)])
def test_the_signature_a_cost_binds_picks_its_version(tmp_path, params, accepted):
    asg = _declaration(tmp_path, COST_VERSIONS)
    report = grade_source(COST.format(params=params), asg)
    cost = _tests(report, "compute_cost")
    assert cost and all(t.status == "passed" for t in cost), [t.output for t in cost]
    noted = ["Accepted: compute_cost uses the three-argument form: compute_cost(AL, Y, "
             "parameters) of older notebooks was recognised." in t.output for t in cost]
    assert noted == [accepted] * len(cost)


def test_without_the_version_the_old_signature_fails(tmp_path):
    report = grade_source(COST.format(params="AL, Y, parameters"), "step-by-step")
    cost = _tests(report, "compute_cost")
    assert all(t.status == "failed" for t in cost)
    assert "missing 1 required positional argument: 'parameters'" in cost[0].output


def test_a_signature_no_version_binds_is_called_as_declared(tmp_path):
    asg = _declaration(tmp_path, COST_VERSIONS)
    report = grade_source(COST.format(params="AL, Y, parameters, extra"), asg)
    cost = _tests(report, "compute_cost")
    assert all(t.status == "failed" for t in cost)
    assert "missing 2 required positional arguments" in cost[0].output
    assert not any("Accepted:" in t.output for t in cost)


def test_the_returned_structure_picks_the_version(tmp_path):
    asg = _declaration(tmp_path, BACKWARD_VERSIONS)
    three = grade_source(BACKWARD.format(tail="return W.T @ dZ, dW, db"), asg)
    tests = _tests(three, "linear_backward")
    assert [t.status for t in tests] == ["passed"] * 3
    assert not any("Accepted:" in t.output for t in tests)
    two = grade_source(BACKWARD.format(tail="return dW, db"), asg)
    tests = _tests(two, "linear_backward")
    assert [t.status for t in tests] == ["passed"] * 3
    assert all("Accepted: linear_backward uses the two-value form: no dA_prev was returned."
               in t.output for t in tests)
    # the version grades its own outputs: a wrong db still fails under it
    wrong = grade_source(BACKWARD.format(tail="return dW, 2 * db"), asg)
    assert [t.status for t in _tests(wrong, "linear_backward")] == ["passed", "passed", "failed"]
    # a structure no version has is reported against the declared one
    one = grade_source(BACKWARD.format(tail="return (dW, db, db, db)"), asg)
    out = _tests(one, "linear_backward")[0].output
    assert "should return 3 values (dA_prev, dW, db)" in out


def test_a_constructors_names_pick_the_version_of_a_class(tmp_path):
    asg = _declaration(tmp_path, NET_VERSIONS)
    source = LAYERED.replace("hidden_dims", "hidden_sizes")
    assert source != LAYERED
    report = grade_source(source, asg)
    loss = [t for t in report.tests if t.name.startswith("FullyConnectedNet.loss: ")]
    assert loss and all(t.status == "passed" for t in loss), [t.output for t in loss]
    assert all("uses the hidden_sizes constructor" in t.output for t in loss)
    # the entries without the version still call FullyConnectedNet(hidden_dims=...)
    init = _tests(report, "FullyConnectedNet.__init__")
    assert init and all(t.status == "failed" for t in init)
    assert "unexpected keyword argument 'hidden_dims'" in init[0].output


def test_a_signature_that_cannot_be_read_leaves_the_declared_form(tmp_path):
    asg = _declaration(tmp_path, COST_VERSIONS)
    source = COST.format(params="AL, Y") + "\ncompute_cost.__signature__ = 'not a signature'\n"
    report = grade_source(source, asg)
    cost = _tests(report, "compute_cost")
    assert all(t.status == "passed" for t in cost)
    assert not any("Accepted:" in t.output for t in cost)


def test_grade_function_picks_the_version_in_process(tmp_path):
    asg = _declaration(tmp_path, COST_VERSIONS)

    def compute_cost(AL, Y, parameters):
        return float(-np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)))

    report = grade_function("compute_cost", compute_cost, asg)
    assert report.score == report.max_score
    assert all("uses the three-argument form" in t.output for t in report.tests)


@pytest.mark.parametrize("version, message", [
    ('{ args = ["AL"] }', "versions[0]: missing required key 'name'"),
    ('{ name = "x" }', "versions[0]: must change at least one of args"),
    ('{ name = "x", args = ["AL", "nope"] }', "versions[0].args: unknown input 'nope'"),
    ('{ name = "x", returns = ["cost", "nope"] }', "versions[0].returns: unknown output 'nope'"),
    ('{ name = "x", args = ["AL", "Y"] }', "versions[0]: is the same signature as the declared one"),
    ('{ name = "x", constructor = { a = "AL" } }', "versions[0].constructor: only allowed with"),
    ('{ name = "x", colour = 1 }', "versions[0]: unknown key 'colour'"),
])
def test_a_bad_version_is_named(tmp_path, version, message):
    text = COST_VERSIONS.split("[[functions.versions]]")[0] + f"versions = [{version}]\n"
    with pytest.raises(AssignmentError) as err:
        load_assignment(_declaration(tmp_path, text))
    assert message in str(err.value)


def test_two_versions_with_one_name_are_refused(tmp_path):
    text = COST_VERSIONS.split("[[functions.versions]]")[0] + (
        'versions = [{ name = "x", args = ["AL", "Y", "AL"] }, '
        '{ name = "x", args = ["AL", "Y", "Y"] }]\n')
    with pytest.raises(AssignmentError, match=r"versions\[1\].name: must be a non-empty name "
                                              r"used once, got 'x'"):
        load_assignment(_declaration(tmp_path, text))


def test_the_declared_form_is_tried_first_when_a_later_version_shares_it(tmp_path):
    # versions: another call form first, then one that changes only the returns (the declared
    # call form again): a function binding both call forms is called as declared
    text = _over("step-by-step", 2, '''name = "linear_backward"
versions = [{ name = "three arguments", args = ["dZ", "linear_cache", "dZ"] },
            { name = "two values", returns = ["dW", "db"] }]
''')
    source = BACKWARD.format(tail="return W.T @ dZ, dW, db").replace(
        "def linear_backward(dZ, cache):", "def linear_backward(dZ, cache, extra=None):")
    report = grade_source(source, _declaration(tmp_path, text))
    tests = _tests(report, "linear_backward")
    assert tests and all(t.status == "passed" for t in tests)
    assert not any("Accepted:" in t.output for t in tests), [t.output for t in tests]
