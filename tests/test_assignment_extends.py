"""An own declaration that ``extends`` a built-in one: it inherits the helpers (``dnn_utils``),
overrides functions, cases and points; ``gradref assignments`` lists and shows the built-ins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gradref.checks.cli import main
from gradref.checks.grading import grade_submission, load_assignment
from gradref.checks.grading.assignment import AssignmentError

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

FIXTURES = Path(__file__).parent / "grading_fixtures"
CORRECT = (FIXTURES / "step_correct.py").read_text()
MINE = '''
extends = "step-by-step"
name = "week-4"
title = "Week 4: backprop"

[cases]
count = 3

[[functions]]
name = "linear_backward"
points = { shape = 0, dtype = 0, values = 30 }

[[functions]]
name = "update_parameters"
cases = { count = 2 }
'''


def _uses_dnn_utils(source: str) -> str:
    """The submission as the course's notebook has it: the helpers imported, not written."""
    start, end = source.index("def sigmoid(Z):"), source.index("def initialize_parameters_deep")
    return ("from dnn_utils import sigmoid, sigmoid_backward, relu, relu_backward\n"
            + source[:start] + source[end:])


def test_an_extending_declaration_inherits_and_overrides(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINE)
    mine, base = load_assignment(path), load_assignment("step-by-step")
    assert (mine.name, mine.title) == ("week-4", "Week 4: backprop")
    assert [f.name for f in mine.functions] == [f.name for f in base.functions]
    assert set(mine.support_modules) == set(base.support_modules)     # dnn_utils and its aliases
    by_name = {f.name: f for f in mine.functions}
    assert [(c.kind, c.points) for c in by_name["linear_backward"].checks] == [("values", 30.0)]
    assert by_name["linear_forward"].ranges.count == 3                # the [cases] override
    assert by_name["update_parameters"].ranges.count == 2             # a function's own override
    assert by_name["linear_forward"].checks == {f.name: f for f in base.functions}[
        "linear_forward"].checks
    assert mine.max_score == base.max_score - 12 + 30


def test_a_submission_that_imports_dnn_utils_is_graded_by_it(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINE)
    work = tmp_path / "hw.py"
    work.write_text(_uses_dnn_utils(CORRECT))
    report = grade_submission(work, path)
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 118
    # a bug costs the overridden points
    assert CORRECT.count("dW = np.dot(dZ, A_prev.T) / m") == 1
    work.write_text(_uses_dnn_utils(CORRECT.replace("dW = np.dot(dZ, A_prev.T) / m",
                                                    "dW = np.dot(dZ, A_prev.T)")))
    bugged = grade_submission(work, path)
    lost = {t.name: t.max_score for t in bugged.failed}
    assert lost.get("linear_backward: values") == 30.0


@pytest.mark.parametrize("extends, message", [('"step-by-stp"', "unknown built-in assignment "
                                                                "'step-by-stp'"),
                                              ("3", "extends: must name a built-in")])
def test_a_bad_extends_is_named(tmp_path, extends, message):
    path = tmp_path / "bad.toml"
    path.write_text(f"extends = {extends}\n")
    with pytest.raises(AssignmentError, match=re.escape(message)):
        load_assignment(path)


def test_gradref_assignments_lists_and_shows(capsys):
    assert main(["assignments"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^step-by-step: Building your Deep Neural Network: Step by Step "
                     r"\(9 functions, 100 points", out, re.M)
    assert re.search(r"^layered: ", out, re.M)
    assert main(["assignments", "show", "step-by-step"]) == 0
    shown = tomllib.loads(capsys.readouterr().out)
    assert shown["name"] == "step-by-step" and "dnn_utils" in shown["support_modules"]
    assert main(["assignments", "show", "nope"]) == 2
    assert "unknown built-in assignment 'nope'" in capsys.readouterr().err
