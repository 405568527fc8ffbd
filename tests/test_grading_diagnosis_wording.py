"""Diagnoses that do not mislead: never explained on a case that cannot tell the causes apart
(m = 1) when a larger failing case can; no cause foreign to the assignment's loss or activations;
each paragraph once per function, on the check it explains."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from gradref.checks.grading import grade_source, load_assignment
from gradref.checks.grading.computations import NetworkSpec
from gradref.checks.grading.engine import _within_assignment

CORRECT = (Path(__file__).parent / "grading_fixtures/step_correct.py").read_text()
_REPORTS: dict[str, object] = {}


def _graded(old: str, new: str):
    assert CORRECT.count(old) == 1
    if old not in _REPORTS:
        _REPORTS[old] = grade_source(CORRECT.replace(old, new), "step-by-step", name="hw.py")
    return _REPORTS[old]


def _doubled_dw():
    return _graded("dW = np.dot(dZ, A_prev.T) / m", "dW = 2 * np.dot(dZ, A_prev.T) / m")


def _sigmoid_without_one_minus_s():
    return _graded("return dA * s * (1 - s)", "return dA * s")


def test_a_doubled_dw_is_explained_on_a_case_that_can_tell_and_without_a_square_loss():
    failed = _doubled_dw().failed
    assert {t.name for t in failed} >= {"linear_backward: values of dW"}
    for t in failed:
        smallest = re.search(r"Smallest failing case: .*\bm = (\d+)", t.output)
        shown = re.search(r"are all from the case .*\bm = (\d+)", t.output)
        assert smallest and int(smallest.group(1)) <= 2, t.output
        assert shown and int(shown.group(1)) > 2, t.output       # explained on the larger case
        assert "2 times too large" in t.output
        assert "square" not in t.output and "with m = 1" not in t.output, t.output


def test_a_wrong_sigmoid_derivative_is_told_once_per_function_naming_only_its_activations():
    report = _sigmoid_without_one_minus_s()
    assert all("softplus" not in t.output and "tanh" not in t.output for t in report.tests)
    by_function: dict[str, list] = {}
    for t in report.failed:
        by_function.setdefault(t.name.partition(": ")[0], []).append(t)
    assert set(by_function) == {"linear_activation_backward", "L_model_backward"}
    for tests in by_function.values():
        told = [t for t in tests if "instead of s·(1−s)" in t.output]
        assert len(told) == 1, [t.name for t in told]
        assert re.search(r"values of dW", told[0].name), told[0].name   # "dW and db match …"
        assert "instead of s·(1−s)" in told[0].output
        for other in tests:
            if other is not told[0]:
                assert (f"Diagnosis: the same mistake as under "
                        f"'{told[0].name.partition(': ')[2]}'") in other.output


@pytest.mark.parametrize("loss, hidden, kept", [("bce", "relu", False), ("half_square", "tanh", True)])
def test_causes_are_kept_exactly_when_the_assignment_has_them(loss, hidden, kept):
    asg = load_assignment("step-by-step")
    asg = replace(asg, network=NetworkSpec(hidden=hidden, output="sigmoid", loss=loss))
    text = ("Diagnosis: dW is 2 times too large: an extra factor 2, e.g. the square-loss derivative "
            "2(a − y) used for the half-square cost ½(a − y)². It fits equally well: the "
            "activation value A = g(Z) (the activation itself was used); or tanh's derivative "
            "(1 − tanh²(Z)) (this is the derivative of tanh, not of the layer's activation).")
    out = _within_assignment(text, asg)
    assert ("square-loss derivative" in out) is kept
    assert ("tanh's derivative" in out) is kept
    assert "the activation value A = g(Z)" in out and out.endswith(".")
