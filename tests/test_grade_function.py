"""``gradref.grade_function``: a function object graded in-process gives the same per-check result,
points and diagnosis as the sandboxed grading of the file that defines it; the nbgrader test cell
and the otter test in examples/ pass on correct code and fail, with the diagnosis, on a bug."""

from __future__ import annotations

import doctest
import runpy
from pathlib import Path

import gradref
import pytest
from gradref.checks.grading import grade_source

ROOT = Path(__file__).parent.parent
CORRECT = (ROOT / "tests/grading_fixtures/step_correct.py").read_text()
BUGGY = CORRECT.replace("dW = np.dot(dZ, A_prev.T) / m", "dW = np.dot(dZ, A_prev.T)")
EXAMPLES = ROOT / "examples/notebook_grading"


def _namespace(source: str) -> dict:
    namespace: dict = {}
    exec(compile(source, "student.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("source", [CORRECT, BUGGY], ids=["correct", "missing-1/m"])
@pytest.mark.parametrize("name", ["linear_backward", "linear_activation_backward"])
def test_the_same_result_as_the_sandbox(source, name):
    assert BUGGY != CORRECT
    inside = gradref.grade_function(name, _namespace(source)[name], assignment="step-by-step")
    sandboxed = [t for t in grade_source(source, "step-by-step").tests
                 if t.name.partition(": ")[0] == name]
    # the whole-submission grading adds notes about the other functions ("usually calls your
    # linear_backward, which also fails"); one function graded alone has none
    for t in sandboxed:
        t.output = "\n".join(line for line in t.output.splitlines()
                             if not line.startswith("Note: "))
    assert [t.to_dict() for t in inside.tests] == [t.to_dict() for t in sandboxed]
    assert inside.isolation == "in-process"
    if source is BUGGY:
        assert inside.score < inside.max_score
        assert any("the 1/m averaging is missing" in t.output for t in inside.failed)
    else:
        assert inside.score == inside.max_score


def test_an_exception_is_a_result_and_bad_arguments_are_named():
    def raises(dZ, cache):
        raise ZeroDivisionError("oops")

    report = gradref.grade_function("linear_backward", raises)
    assert report.score == 0 and "raised ZeroDivisionError: oops" in report.failed[0].output
    with pytest.raises(ValueError, match="'linear_bakward' is not graded by 'step-by-step'"):
        gradref.grade_function("linear_bakward", raises)
    with pytest.raises(TypeError, match="function must be callable"):
        gradref.grade_function("linear_backward", 3)


def test_the_nbgrader_cell_passes_and_fails_with_the_diagnosis(capsys):
    cell = str(EXAMPLES / "nbgrader_test_cell.py")
    runpy.run_path(cell, init_globals=_namespace(CORRECT))
    with pytest.raises(AssertionError, match="the 1/m averaging is missing"):
        runpy.run_path(cell, init_globals=_namespace(BUGGY))


def test_the_otter_test_passes_and_fails(capsys):
    spec = runpy.run_path(str(EXAMPLES / "tests/linear_backward.py"))
    assert spec["OK_FORMAT"] is True and spec["test"]["points"] == 12
    code = spec["test"]["suites"][0]["cases"][0]["code"]

    def failures(source: str) -> int:
        parsed = doctest.DocTestParser().get_doctest(code, _namespace(source), "otter", None, 0)
        runner = doctest.DocTestRunner(verbose=False)
        runner.run(parsed, out=lambda text: None)
        return runner.failures

    assert failures(CORRECT) == 0
    assert failures(BUGGY) == 1
