"""The built-in layered (row-major, class-based) assignment: full marks for correct work, and each
bug costs the points of exactly the functions and methods it breaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradref.checks.grading import grade_source, grade_submission, load_assignment

FIXTURES = Path(__file__).parent / "grading_fixtures"
CORRECT = (FIXTURES / "layered_correct.py").read_text()
FUNCTIONS = [f.display for f in load_assignment("layered").functions]

_CACHE: dict[str, object] = {}


def graded(key: str, source: str):
    if key not in _CACHE:
        _CACHE[key] = grade_source(source, "layered", seed=0, name=key)
    return _CACHE[key]


def failing_functions(report) -> set[str]:
    return {t.name.partition(": ")[0] for t in report.tests if t.status == "failed"}


def test_correct_solution_gets_full_marks():
    report = grade_submission(FIXTURES / "layered_correct.py", "layered")
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 100
    assert {t.name.partition(": ")[0] for t in report.tests} == set(FUNCTIONS)


def test_the_class_is_graded_through_its_methods_and_attributes():
    names = {t.name for t in graded("correct", CORRECT).tests}
    assert "FullyConnectedNet.loss: values of the gradients" in names
    assert "FullyConnectedNet.__init__: keys and shapes of params" in names
    assert "FullyConnectedNet.loss (scores): values" in names


# id: (line of layered_correct.py, replacement, functions that lose points, words)
BUGS = {
    "affine_backward dw transposed": (
        "dw = x.reshape(x.shape[0], -1).T.dot(dout)", "dw = dout.T.dot(x.reshape(x.shape[0], -1))",
        {"affine_backward", "FullyConnectedNet.loss"}, ["transpose"]),
    "softmax_loss without /N": (
        "    dx /= N\n", "",
        {"softmax_loss", "FullyConnectedNet.loss"}, ["dx is m = ", "times too large"]),
    "L2 without the 0.5": (
        "loss += 0.5 * self.reg", "loss += self.reg",
        {"FullyConnectedNet.loss"}, ["loss is"]),
    "relu_backward mask inverted": (
        "dx = dout * (x > 0)", "dx = dout * (x <= 0)",
        {"relu_backward", "FullyConnectedNet.loss"}, ["dx is wrong"]),
    "affine_forward without bias": (
        "out = x.reshape(x.shape[0], -1).dot(w) + b", "out = x.reshape(x.shape[0], -1).dot(w)",
        {"affine_forward", "FullyConnectedNet.loss", "FullyConnectedNet.loss (scores)"},
        ["out is wrong"]),
    "weight_scale ignored": (
        "weight_scale * np.random.randn(dims[i], dims[i + 1])", "np.random.randn(dims[i], dims[i + 1])",
        {"FullyConnectedNet.__init__"}, ["standard deviation"]),
    "loss(X) returns probabilities": (
        "        if y is None:\n            return scores\n",
        "        if y is None:\n            return softmax_loss(scores, np.zeros(len(scores), int))[1]\n",
        {"FullyConnectedNet.loss (scores)"}, ["scores is wrong"]),
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_bug_costs_exactly_its_functions(bug):
    old, new, functions, words = BUGS[bug]
    assert CORRECT.count(old) == 1, f"{bug}: {old!r} must appear exactly once in the fixture"
    report = graded(bug, CORRECT.replace(old, new))
    assert failing_functions(report) == functions
    assert 0 < report.score < report.max_score
    text = "\n".join(t.output for t in report.failed)
    for word in words:
        assert word in text, f"{bug}: {word!r} not in the output:\n{text}"
    assert "Smallest failing case:" in text or "On the case" in text


def test_harmless_variations_keep_full_marks():
    variant = (CORRECT
               .replace("dx = dout * (x > 0)", "dx = np.where(x >= 0, dout, 0.0)")
               .replace("db = np.sum(dout, axis=0)", "db = dout.sum(axis=0).reshape(-1)")
               .replace("out = x.reshape(x.shape[0], -1).dot(w) + b", "out = x @ w + b"))
    assert variant.count("np.where") == 1 and variant.count("x @ w") == 1
    report = graded("variations", variant)
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)


def test_names_in_messages_are_the_students_names():
    old, new, *_ = BUGS["affine_backward dw transposed"]
    report = graded("affine_backward dw transposed", CORRECT.replace(old, new))
    out = next(t.output for t in report.failed if t.name == "affine_backward: values of dw")
    assert "dw is wrong" in out and "dW" not in out.split("Diagnosis")[0]


def test_the_courses_float32_default_is_not_taken_for_finite_differences():
    # the course's FullyConnectedNet defaults to dtype=np.float32 and casts X to it; graded at
    # that default, a right net's float64 gradients of the rounded X are off by ~1e-8, which the
    # finite-difference judge read as a difference quotient (a correct real 2020 repository
    # was flagged so)
    course_default = CORRECT.replace("weight_scale=1e-2, dtype=np.float64,",
                                     "weight_scale=1e-2, dtype=np.float32,")
    assert course_default != CORRECT
    report = grade_source(course_default, "layered")
    assert report.score == report.max_score == 100, report.output
    assert "Finite differences flagged" not in report.output
    assert not any("finite differences" in p for p in report.problems), report.problems
    # a class that takes no dtype at all is still called, and said so
    no_dtype = CORRECT.replace("weight_scale=1e-2, dtype=np.float64, seed=None",
                               "weight_scale=1e-2, seed=None").replace(
        "        self.dtype = dtype\n", "        self.dtype = np.float64\n").replace(
        "v.astype(dtype)", "v.astype(self.dtype)")
    assert no_dtype.count("dtype=np.float64, seed") == 0
    report = grade_source(no_dtype, "layered")
    assert report.score == report.max_score == 100, report.output
    assert "uses a constructor without dtype" in report.output
