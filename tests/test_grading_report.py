"""Report renderers: Gradescope's results.json fields, JUnit XML that parses, text and JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from gradref.checks.grading import GradeReport, TestResult, grade_source, render
from gradref.checks.grading.report import FORMATS, GRADESCOPE_FIELDS, GRADESCOPE_TEST_FIELDS

FIXTURES = Path(__file__).parent / "grading_fixtures"


def synthetic() -> GradeReport:
    tests = [
        TestResult("linear_backward: shapes", 3.0, 3.0, "passed", "Passed on 4 random cases."),
        TestResult("linear_backward: values of dW", 0.0, 3.0, "failed",
                   "Failed on 4 of 4 random cases. Smallest failing case: n_prev = 1, n = 1, m = 2.\n"
                   "Diagnosis: dW is m = 2 times too large <&> \x1b[31m\x00", "hidden"),
        TestResult("compute_cost: value of the cost", 6.0, 6.0, "passed"),
    ]
    return GradeReport(score=9.0, max_score=12.0, execution_time=0.25, output="9 / 12 points.",
                       tests=tests, assignment="step-by-step", submission="hw.py", seed=3)


@pytest.fixture(scope="module")
def real() -> GradeReport:
    source = (FIXTURES / "step_correct.py").read_text().replace(
        "dW = np.dot(dZ, A_prev.T) / m", "dW = np.dot(dZ, A_prev.T)")
    return grade_source(source, "step-by-step", name="buggy.py")


def test_gradescope_json_has_exactly_the_fields(real):
    for report in (synthetic(), real):
        data = json.loads(render(report, "gradescope"))
        assert set(data) == set(GRADESCOPE_FIELDS)
        assert isinstance(data["score"], float) and isinstance(data["max_score"], float)
        assert isinstance(data["execution_time"], (int, float)) and isinstance(data["output"], str)
        assert data["tests"]
        for test in data["tests"]:
            assert set(test) == set(GRADESCOPE_TEST_FIELDS)
            assert test["status"] in ("passed", "failed")
            assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
            assert 0 <= test["score"] <= test["max_score"]
        assert sum(t["score"] for t in data["tests"]) == pytest.approx(data["score"])


def test_junit_parses_and_counts_failures(real):
    for report in (synthetic(), real):
        root = ET.fromstring(render(report, "junit").encode("utf-8"))
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        cases = suite.findall("testcase")
        assert len(cases) == len(report.tests) == int(suite.get("tests"))
        failures = [c for c in cases if c.find("failure") is not None]
        assert len(failures) == len(report.failed) == int(suite.get("failures"))
        for case, test in zip(cases, report.tests, strict=True):
            assert case.get("name") == test.name
            assert case.get("classname") == test.name.partition(": ")[0]


def test_junit_survives_control_characters_in_output():
    text = render(synthetic(), "junit")
    failure = ET.fromstring(text.encode("utf-8")).find(".//failure")
    assert "dW is m = 2 times too large <&>" in failure.text


def test_json_is_the_whole_report():
    report = synthetic()
    data = json.loads(render(report, "json"))
    assert data == json.loads(json.dumps(report.to_dict()))
    assert data["assignment"] == "step-by-step" and data["seed"] == 3


def test_text_lists_functions_checks_and_explanations(real):
    text = render(real, "text")
    assert text.startswith(real.output.splitlines()[0])
    assert "linear_backward\n" in text and "[FAIL] values of dW" in text
    assert "[PASS] values of dA_prev" in text
    assert "Smallest failing case" in text


def test_render_rejects_unknown_formats_and_objects():
    with pytest.raises(ValueError, match="unknown format 'xml'; valid: " + ", ".join(FORMATS)):
        render(synthetic(), "xml")
    with pytest.raises(TypeError, match="GradeReport"):
        render({"score": 1}, "json")


def test_test_result_status_is_checked():
    with pytest.raises(ValueError, match="status must be 'passed' or 'failed', got 'ok'"):
        TestResult("f: x", 1.0, 1.0, "ok")
