"""The built-in step-by-step assignment: correct work gets full marks, each bug costs exactly the
points of the functions it breaks, with a shrunk case and a diagnosis a student understands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gradref.checks.grading import grade_source, grade_submission, load_assignment

FIXTURES = Path(__file__).parent / "grading_fixtures"
CORRECT = (FIXTURES / "step_correct.py").read_text()
FUNCTIONS = [f.name for f in load_assignment("step-by-step").functions]

_CACHE: dict[str, object] = {}


def graded(key: str, source: str):
    """Grade once per test session (each grading starts a sandboxed child)."""
    if key not in _CACHE:
        _CACHE[key] = grade_source(source, "step-by-step", seed=0, name=key)
    return _CACHE[key]


def failing_functions(report) -> set[str]:
    return {t.name.partition(": ")[0] for t in report.tests if t.status == "failed"}


def smallest_cases(report) -> list[tuple[list[int], int]]:
    """(sizes, m) of every "Smallest failing case: …" in the failed tests' outputs."""
    found = []
    for t in report.failed:
        match = re.search(r"Smallest failing case: (.*?)\.\n", t.output + "\n")
        if match:
            sizes = [int(n) for n in re.findall(r"(?:n_prev|n) = (\d+)", match.group(1))]
            dims = re.search(r"layer_dims = \[([\d, ]+)\]", match.group(1))
            if dims:
                sizes = [int(n) for n in dims.group(1).split(",")]
            m = re.search(r"\bm = (\d+)", match.group(1))
            found.append((sizes, int(m.group(1)) if m else None))
    return found


# --------------------------------------------------------------------------- full marks
@pytest.mark.parametrize("fixture", ["step_correct.py", "step_variations.py",
                                     "step_notebook.ipynb"])
def test_correct_work_gets_full_marks(fixture):
    report = grade_submission(FIXTURES / fixture, "step-by-step")
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 100
    assert {t.name.partition(": ")[0] for t in report.tests} == set(FUNCTIONS)


def test_a_course_notebook_with_its_imports_and_test_cells_gets_full_marks():
    # imports the course's dnn_utils (provided by the declaration), h5py/testCases/public_tests
    # (stand-ins when missing), sets plt.rcParams, and calls the star-imported test functions,
    # which the stand-ins provide: nothing is skipped
    report = grade_submission(FIXTURES / "step_course_notebook.ipynb", "step-by-step")
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert "skipped" not in report.output and report.problems == []


def test_a_notebook_cell_that_fails_costs_only_what_it_defines(tmp_path):
    import nbformat

    nb = nbformat.read(FIXTURES / "step_notebook.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("def compute_cost"):
            cell.source = cell.source.replace("def compute_cost(AL, Y):", "def compute_cost(AL, Y)")
    path = tmp_path / "hw.ipynb"
    nbformat.write(nb, path)
    report = grade_submission(path, "step-by-step")
    assert failing_functions(report) == {"compute_cost"}
    assert "SyntaxError" in report.output


def test_every_test_name_starts_with_its_function():
    report = graded("correct", CORRECT)
    for t in report.tests:
        assert t.name.partition(": ")[0] in FUNCTIONS and t.name.partition(": ")[2], t.name


# --------------------------------------------------------------------------- one bug each
# id: (line of step_correct.py, its buggy replacement, functions that must lose points,
#      tests that must fail, words the failed outputs must contain)
BUGS = {
    "dW without 1/m": (
        "dW = np.dot(dZ, A_prev.T) / m", "dW = np.dot(dZ, A_prev.T)",
        {"linear_backward", "linear_activation_backward", "L_model_backward"},
        {"linear_backward: values of dW"}, ["m = ", "times too large", "1/m averaging"]),
    "sign of dAL": (
        "dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))",
        "dAL = np.divide(Y, AL) - np.divide(1 - Y, 1 - AL)",
        {"L_model_backward"}, {"L_model_backward: values of dW1 … dWL"}, ["wrong sign"]),
    "relu mask inverted": (
        "dZ[cache <= 0] = 0", "dZ[cache > 0] = 0",
        {"linear_activation_backward", "L_model_backward"},
        {"linear_activation_backward: values of dW"}, ["relu"]),
    "sigmoid derivative s": (
        "return dA * s * (1 - s)", "return dA * s",
        {"linear_activation_backward", "L_model_backward"},
        {"linear_activation_backward: values of dW"}, ["sigmoid derivative", "(1 − s)"]),
    "db without keepdims": (
        "db = np.sum(dZ, axis=1, keepdims=True) / m", "db = np.sum(dZ, axis=1) / m",
        {"linear_backward", "linear_activation_backward", "L_model_backward"},
        {"linear_backward: shapes"}, ["keepdims"]),
    "W instead of W.T": (
        "dA_prev = np.dot(W.T, dZ)", "dA_prev = np.dot(W, dZ)",
        {"linear_backward", "linear_activation_backward", "L_model_backward"},
        {"linear_backward: values of dA_prev"}, ["dA_prev"]),
    "cost without the mean": (
        "cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m",
        "cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))",
        {"compute_cost"}, {"compute_cost: value of the cost"}, ["cost is m = ", "too large"]),
    "update with +": (
        'parameters["W" + str(l)] - learning_rate', 'parameters["W" + str(l)] + learning_rate',
        {"update_parameters"}, {"update_parameters: values"}, ["wrong sign"]),
    "init without x0.01": (
        "np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01",
        "np.random.randn(layer_dims[l], layer_dims[l - 1])",
        {"initialize_parameters_deep"}, {"initialize_parameters_deep: small random weights"},
        ["standard deviation"]),
    "cache in the wrong order": (
        "return Z, (A, W, b)", "return Z, (W, A, b)",
        {"linear_forward", "linear_activation_forward", "L_model_forward"},
        {"linear_forward: cache", "linear_activation_forward: cache", "L_model_forward: caches"},
        ["cache[0] holds what belongs in cache[1]", "wrong order"]),
    "bias left out": (
        "Z = np.dot(W, A) + b", "Z = np.dot(W, A)",
        {"linear_forward", "linear_activation_forward", "L_model_forward"},
        {"linear_forward: values"}, ["Z"]),
}


def buggy(bug: str) -> str:
    old, new = BUGS[bug][:2]
    assert CORRECT.count(old) == 1, f"{bug}: {old!r} must appear exactly once in the fixture"
    return CORRECT.replace(old, new)


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_bug_costs_exactly_its_functions(bug):
    _, _, functions, tests, words = BUGS[bug]
    report = graded(bug, buggy(bug))
    assert failing_functions(report) == functions
    failed = {t.name for t in report.failed}
    assert tests <= failed
    for name in set(FUNCTIONS) - functions:
        assert all(t.status == "passed" for t in report.tests if t.name.startswith(name + ":"))
    assert 0 < report.score < report.max_score
    text = "\n".join(t.output for t in report.failed)
    for word in words:
        assert word in text, f"{bug}: {word!r} not in the output:\n{text}"


@pytest.mark.parametrize("bug", list(BUGS))
def test_failures_show_a_shrunk_case(bug):
    report = graded(bug, buggy(bug))
    cases = smallest_cases(report)
    assert cases, "no 'Smallest failing case' in the output"
    for sizes, m in cases:
        if bug.startswith("init"):   # wide layers on purpose (declared n >= 200), one layer left
            assert sizes == [200, 1] and m is None, (sizes, m)
            continue
        assert max(sizes) <= 2 and m <= 2, (sizes, m)


def test_missing_one_over_m_shrinks_to_m_2_and_is_diagnosed_on_a_larger_m():
    report = graded("dW without 1/m", buggy("dW without 1/m"))
    out = next(t.output for t in report.failed if t.name == "linear_backward: values of dW")
    assert "m = 2." in out.splitlines()[0]          # m = 1 hides the bug; m = 2 shows it
    # the diagnosis, the problems and the arrays are all from the one larger case named
    assert re.search(r"are all from the case .*m = (\d+)\.\n.*\nDiagnosis: dW is m = \1 times "
                     r"too large", out), out


def test_partial_credit_within_a_function():
    report = graded("dW without 1/m", buggy("dW without 1/m"))
    by_name = {t.name: t for t in report.tests}
    assert by_name["linear_backward: values of dW"].score == 0
    for kept in ("shapes", "values of dA_prev", "values of db"):
        t = by_name[f"linear_backward: {kept}"]
        assert t.status == "passed" and t.score == t.max_score > 0


def test_the_same_submission_always_gets_the_same_report():
    source = buggy("relu mask inverted")
    first = grade_source(source, "step-by-step", seed=0).to_dict()
    second = grade_source(source, "step-by-step", seed=0).to_dict()
    first.pop("execution_time")
    second.pop("execution_time")
    assert first == second


def test_a_missing_function_costs_only_its_points():
    source = re.sub(r"\ndef compute_cost\(AL, Y\):\n(    .*\n)+", "\n", CORRECT)
    report = grade_source(source, "step-by-step")
    assert failing_functions(report) == {"compute_cost"}
    assert "compute_cost is not defined" in report.failed[0].output
