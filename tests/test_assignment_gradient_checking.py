"""The built-in ``gradient-checking`` assignment: the student's checker is graded on the
grader's own forward/backward functions (bound in its namespace per call), with right and
planted gradients; its difference against a restatement and its verdicts. The notebook's own
buggy ``backward_propagation_n`` never decides the grade; a checker that never fails or always
fails gets no points for detection; each classic mistake is named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.grading import grade_source, grade_submission, load_assignment
from gradref.checks.grading.assignment import AssignmentError, parse_assignment
from gradref.checks.grading.cases import Case
from gradref.checks.grading.computations import Layout, NetworkSpec, get_computation

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions" / "gradient-checking"
CORRECT = (EXAMPLES / "correct.py").read_text()
_CACHE: dict[str, object] = {}


def graded(name: str):
    if name not in _CACHE:
        _CACHE[name] = grade_submission(EXAMPLES / name, "gradient-checking", seed=0)
    return _CACHE[name]


def failing(report) -> set[str]:
    return {t.name.partition(": ")[0] for t in report.tests if t.status == "failed"}


def failed_text(report) -> str:
    return "\n".join(t.output for t in report.tests if t.status == "failed")


def test_declaration_is_worth_100_and_documented():
    asg = load_assignment("gradient-checking")
    assert asg.max_score == 100
    docs = (Path(__file__).resolve().parents[1] / "docs" / "assignments.md").read_text()
    section = docs.split("### `gradient-checking`")[1].split("<!-- end of gradient-checking")[0]
    assert "Not built yet" not in section
    for fn in asg.functions:
        assert f"`{fn.name}(" in section
    assert "| `provide` |" in docs and "| `provide_with` |" in docs


def test_correct_example_gets_full_marks_although_its_backward_n_keeps_the_notebook_bugs():
    assert "4. / m * np.sum(dZ1" in CORRECT       # the notebook's own bugs are in the file
    report = graded("correct.py")
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 100


def test_the_2017_signature_without_print_msg_is_graded_the_same():
    source = CORRECT.replace("epsilon=1e-7, print_msg=False", "epsilon=1e-7")
    source = source.replace("if print_msg:", "if True:")      # 2017 always printed
    source = source.replace("gradient_check_n(parameters, gradients, X, Y, 1e-7, True)",
                            "gradient_check_n(parameters, gradients, X, Y, 1e-7)")
    assert grade_source(source, "gradient-checking", seed=0).score == 100


MISTAKES = {
    "denominator_without_norms.py": "the denominator needs the norms",
    "norm_difference.py": "not the difference of the norms",
    "epsilon_not_doubled.py": "divides by 2·epsilon",
    "no_copy.py": "no np.copy",
    "never_fails.py": "the checker does not see it",
}


@pytest.mark.parametrize("example", sorted(MISTAKES))
def test_each_mistake_fails_the_checker_and_is_named(example):
    expected = json.loads((EXAMPLES / "expected.json").read_text())[example]
    report = graded(example)
    assert failing(report) == set(expected["failing"])
    assert MISTAKES[example] in failed_text(report)


def test_expected_file_lists_every_example():
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    assert set(expected) == {p.name for p in EXAMPLES.glob("*.py")}


def test_a_checker_that_always_fails_earns_no_detection_points():
    source = CORRECT.replace("    return difference\n\n\nX", "    return 1.0\n\n\nX")
    report = grade_source(source, "gradient-checking", seed=0)
    verdicts = [t for t in report.tests if t.name.startswith("gradient_check_n (verdicts)")]
    assert verdicts and all(t.score == 0 for t in verdicts)
    assert "reports a mistake where there is none" in failed_text(report)


def test_the_students_own_helpers_are_put_back_after_each_call():
    # a checker that calls a helper the grader does not provide still sees the student's
    # own; the student's forward_propagation is graded as theirs (not the grader's)
    source = CORRECT.replace("def forward_propagation(x, theta):\n    J = theta * x",
                             "def forward_propagation(x, theta):\n    J = theta * x + 1")
    report = grade_source(source, "gradient-checking", seed=0)
    assert failing(report) == {"forward_propagation"}


def test_a_missing_checker_is_reported_as_not_defined():
    source = CORRECT.replace("def gradient_check_n(", "def gradient_check_n_old(")
    report = grade_source(source, "gradient-checking", seed=0)
    assert "gradient_check_n is not defined in your submission" in failed_text(report)


# --------------------------------------------------------------------------- the restatement
def _n_case(plant, m=3, draw=0):
    return Case("network", (4, 5, 3, 1), m, plant, seed=5, salt=9, variant_name="plant",
                draw=draw)


def _own_difference(q):
    """The difference recomputed here by other means: the cost written out with numpy's
    log/exp, a central quotient per entry, norms by np.linalg.norm."""
    p, X, Y, eps = q["parameters"], q["X"], q["Y"], q["epsilon"]
    keys = ["W1", "b1", "W2", "b2", "W3", "b3"]

    def cost(params):
        A = X
        for l in (1, 2):
            A = np.maximum(params[f"W{l}"] @ A + params[f"b{l}"], 0)
        a = 1 / (1 + np.exp(-(params["W3"] @ A + params["b3"])))
        return float(-np.mean(Y * np.log(a) + (1 - Y) * np.log(1 - a)))

    approx, grad = [], []
    for k in keys:
        for idx in np.ndindex(p[k].shape):
            plus = {kk: v.copy() for kk, v in p.items()}
            minus = {kk: v.copy() for kk, v in p.items()}
            plus[k][idx] += eps
            minus[k][idx] -= eps
            approx.append((cost(plus) - cost(minus)) / (2 * eps))
            grad.append(q["gradients"]["d" + k][idx])
    g, a = np.array(grad), np.array(approx)
    return np.linalg.norm(g - a) / (np.linalg.norm(g) + np.linalg.norm(a))


@pytest.mark.parametrize("plant", ["notebook", "one_entry", "sign_db3", "times_m"])
def test_planted_differences_agree_with_an_independent_restatement(plant):
    comp = get_computation("gradient_check_n")
    q = comp.build(_n_case(plant), Layout(), NetworkSpec(), {"epsilon": 1e-7}).quantities
    mine = _own_difference(q)
    assert q["difference"].judge_value(mine, "d") is None
    assert mine > 10 * 2e-7


def test_right_gradients_are_clear_of_the_threshold():
    comp = get_computation("gradient_check_n")
    for draw in range(3):
        q = comp.build(_n_case("right", draw=draw), Layout(), NetworkSpec(),
                       {"epsilon": 1e-7}).quantities
        assert q["difference"].value + q["difference"].bound < 1e-7
        assert _own_difference(q) < 1e-6      # the course's log form is less exact, still small
        assert q["verdict"].judge_value(q["difference"].value, "d") is None
        assert q["verdict"].judge_value(3e-7, "d") is not None


def test_the_notebooks_plant_is_its_two_bugs():
    comp = get_computation("gradient_check_n")
    right = comp.build(_n_case("right"), Layout(), NetworkSpec(), {}).quantities
    bugs = comp.build(_n_case("notebook"), Layout(), NetworkSpec(), {}).quantities
    assert right["X"].shape == bugs["X"].shape == (4, 3)
    assert set(bugs["gradients"]) == {"dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1",
                                      "dZ1", "dW1", "db1"}


# --------------------------------------------------------------------------- the provide key
def _decl(**entry):
    base = {"name": "x", "support_modules": {"helpers": "def f(v):\n    return v\n"},
            "functions": [{"name": "gradient_check", "maps_to": "gradient_check_1d",
                           "args": ["x", "theta", "epsilon"], "returns": "difference", **entry}]}
    return base


@pytest.mark.parametrize("entry, pattern", [
    ({"provide": {"f": "nomodule.f"}}, r"provide\.f: 'nomodule\.f' names no support module"),
    ({"provide": {"f": "helpers"}}, r"must be 'support_module\.attribute'"),
    ({"provide": {"not a name": "helpers.f"}}, r"'not a name' is not a Python name"),
    ({"provide_with": "plant"}, r"provide_with: needs 'provide'"),
    ({"provide": {"f": "helpers.f"}, "provide_with": "nothing"},
     r"unknown input 'nothing' of computation 'gradient_check_1d'"),
])
def test_bad_provide_keys_are_named(entry, pattern):
    with pytest.raises(AssignmentError, match=pattern):
        parse_assignment(_decl(**entry))


def test_grade_function_in_process_binds_and_restores_the_graders_helpers():
    import gradref

    def helpers_missing(*args):
        raise AssertionError("the student's own helper was called instead of the grader's")

    namespace = {"np": np, "forward_propagation_n": helpers_missing,
                 "backward_propagation_n": helpers_missing,
                 "dictionary_to_vector": helpers_missing, "vector_to_dictionary": helpers_missing,
                 "gradients_to_vector": helpers_missing}
    body = CORRECT.split("def gradient_check_n(")[1].split("\n\n\nX, Y")[0]
    exec("def gradient_check_n(" + body, namespace)
    report = gradref.grade_function("gradient_check_n (verdicts)", namespace["gradient_check_n"],
                                    assignment="gradient-checking")
    assert report.score == report.max_score == 35, report.output
    assert namespace["forward_propagation_n"] is helpers_missing      # put back


@pytest.mark.parametrize("assignment, folder", [
    ("gradient-checking", EXAMPLES),
    ("regularization", EXAMPLES.parent / "regularization"),
])
def test_grade_all_and_the_class_report_on_the_examples(tmp_path, assignment, folder):
    import csv
    import shutil

    from gradref.checks.grading.batch import grade_all, summary_paths

    klass = tmp_path / "class"
    klass.mkdir()
    for path in folder.glob("*.py"):
        shutil.copy(path, klass / path.name)
    out = tmp_path / "gradebook.csv"
    result = grade_all(klass, out, assignment=assignment, seed=0, jobs=2)
    expected = json.loads((folder / "expected.json").read_text())
    assert sorted(result.graded) == sorted(p.removesuffix(".py") for p in expected)
    with out.open(newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert float(rows["correct"]["score"]) == 100
    for name in expected:
        student = name.removesuffix(".py")
        assert (float(rows[student]["score"]) < 100) == bool(expected[name]["failing"]), student
    md, html = summary_paths(out)
    text = md.read_text()
    assert md.exists() and html.exists() and "correct" not in text.split("\n")[0]
    assert str(len(expected)) in text


def _support(name: str) -> dict:
    namespace: dict = {}
    exec(load_assignment("gradient-checking").support_modules[name], namespace)
    return namespace


def test_the_graders_forward_and_helpers_agree_with_the_reference():
    from gradref.reference import Network

    provided, course = _support("gradref_gc_provided"), _support("gc_utils")
    rng = np.random.default_rng(3)
    net = Network([4, 5, 3, 1], ["relu", "relu", "sigmoid"], "bce")
    shapes = net.param_shapes()
    params = {k: rng.standard_normal(shapes[k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3")}
    X, Y = rng.standard_normal((4, 7)), (rng.random((1, 7)) < 0.5).astype(float)
    plant = {"shapes": {k: list(v) for k, v in shapes.items()}}
    cost, cache = provided["make_forward_propagation_n"](plant)(X, Y, params)
    assert cost == net.cost(params, X, Y)                     # bit for bit: no round-off left
    theta, keys = provided["make_dictionary_to_vector"](plant)(params)
    course_theta, course_keys = course["dictionary_to_vector"](params)
    np.testing.assert_array_equal(theta, course_theta)
    assert keys == course_keys and theta.shape == (47, 1)
    back = provided["make_vector_to_dictionary"](plant)(theta)
    for k, v in course["vector_to_dictionary"](theta).items():
        np.testing.assert_array_equal(back[k], v)
        np.testing.assert_array_equal(v, params[k])
    grads = {"d" + k: v * 2 for k, v in params.items()}
    np.testing.assert_array_equal(provided["make_gradients_to_vector"](plant)(grads),
                                  course["gradients_to_vector"](grads))


def test_a_checker_that_unpacks_the_helpers_wrongly_shows_its_own_exception():
    # a pattern of a real submission (own rendition): the (theta, keys) tuple kept whole
    source = CORRECT.replace("    parameters_values, _ = dictionary_to_vector(parameters)",
                             "    parameters_values = dictionary_to_vector(parameters)")
    report = grade_source(source, "gradient-checking", seed=0)
    assert failing(report) == {"gradient_check_n", "gradient_check_n (verdicts)"}
    assert "AttributeError: 'tuple' object has no attribute 'shape'" in failed_text(report)
