"""The built-in ``regularization`` assignment: the correct example earns 100, each classic
mistake loses the points of exactly the function it breaks and is named; the reference-made
inputs agree with an independent restatement (autograd of the course's cost, the course's
seeded masks)."""

from __future__ import annotations

import json
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from gradref.checks.grading import grade_source, grade_submission, load_assignment
from gradref.checks.grading.cases import Case
from gradref.checks.grading.computations import Layout, NetworkSpec, get_computation

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions" / "regularization"
_CACHE: dict[str, object] = {}


def graded(name: str):
    if name not in _CACHE:
        _CACHE[name] = grade_submission(EXAMPLES / name, "regularization", seed=0)
    return _CACHE[name]


def failing(report) -> set[str]:
    return {t.name.partition(": ")[0] for t in report.tests if t.status == "failed"}


def test_declaration_is_worth_100_and_documented():
    asg = load_assignment("regularization")
    assert asg.max_score == 100
    docs = (Path(__file__).resolve().parents[1] / "docs" / "assignments.md").read_text()
    section = docs.split("### `regularization`")[1].split("<!-- end of regularization -->")[0]
    assert "Not built yet" not in section
    for fn in asg.functions:
        assert f"`{fn.name}" in section


def test_correct_example_gets_full_marks():
    report = graded("correct.py")
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 100


# example: (the function that fails, words of the diagnosis)
MISTAKES = {
    "l2_on_biases.py": ("compute_cost_with_regularization", "puts the biases in the L2 term"),
    "cost_lambd_over_m.py": ("compute_cost_with_regularization", "lambd/m where the course has"),
    "backward_l2_half.py": ("backward_propagation_with_regularization",
                            "dW3 adds (lambd/(2m))·W3"),
    "dropout_not_rescaled.py": ("forward_propagation_with_dropout", "without the rescaling"),
    "dropout_wrong_layer.py": ("forward_propagation_with_dropout", "the mask on the wrong layer"),
    "backward_mask_forgotten.py": ("backward_propagation_with_dropout",
                                   "dA2 and dA1 are not masked"),
    "backward_not_rescaled.py": ("backward_propagation_with_dropout",
                                 "lack the division by keep_prob"),
}


@pytest.mark.parametrize("example", sorted(MISTAKES))
def test_each_mistake_fails_its_function_and_is_named(example):
    function, words = MISTAKES[example]
    report = graded(example)
    assert failing(report) == {function}
    text = "\n".join(t.output for t in report.tests if t.status == "failed")
    assert f"Diagnosis: {words}" in text or words in text, text


def test_expected_verdicts_file_lists_every_example():
    expected = json.loads((EXAMPLES / "expected.json").read_text())
    assert set(expected) == {p.name for p in EXAMPLES.glob("*.py")}
    for name, entry in expected.items():
        assert failing(graded(name)) == set(entry["failing"]), name


# --------------------------------------------------------------------------- independent oracles
def _case(computation, variant, dims=(3, 4, 2, 1), m=5, draw=0):
    return Case("network", dims, m, variant, seed=7, salt=11, variant_name="v", draw=draw)


def _course_cost(A3, Y, W, lambd):
    m = Y.shape[1]
    cross = -anp.sum(Y * anp.log(A3) + (1 - Y) * anp.log(1 - A3)) / m
    return cross + lambd / (2 * m) * sum(anp.sum(w ** 2) for w in W)


def test_cost_agrees_with_the_course_formula_restated():
    comp = get_computation("cost_with_regularization")
    q = comp.build(_case(comp, 0.1), Layout(), NetworkSpec(), {}).quantities
    W = [q["parameters"][f"W{l}"] for l in (1, 2, 3)]
    assert q["cost"] == pytest.approx(float(_course_cost(q["A3"], q["Y"], W, 0.1)), rel=1e-12)


def _forward(params, X, masks=None, keep_prob=1.0):
    A = X
    for l in (1, 2, 3):
        Z = anp.dot(params[f"W{l}"], A) + params[f"b{l}"]
        if l < 3:
            A = anp.maximum(Z, 0)
            if masks is not None:
                A = A * masks[l - 1] / keep_prob
        else:
            A = 1 / (1 + anp.exp(-Z))
    return A


@pytest.mark.parametrize("lambd", [0.7, 0.1])
def test_backward_with_l2_is_autograd_of_the_regularised_cost(lambd):
    comp = get_computation("backward_with_regularization")
    q = comp.build(_case(comp, lambd), Layout(), NetworkSpec(), {}).quantities
    Z1, A1, W1, b1, Z2, A2, W2, b2, Z3, A3, W3, b3 = q["cache"]
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    X, Y = q["X"], q["Y"]

    def J(p):
        return _course_cost(_forward(p, X), Y, [p["W1"], p["W2"], p["W3"]], lambd)

    g = grad(J)(params)
    for k in params:
        np.testing.assert_allclose(q["gradients"]["d" + k], g[k], rtol=1e-10, atol=1e-13)


def test_forward_with_dropout_uses_the_courses_seeded_masks():
    comp = get_computation("forward_with_dropout")
    q = comp.build(_case(comp, 0.7), Layout(), NetworkSpec(), {}).quantities
    np.random.seed(1)                   # the course's own stream, restated
    D1 = np.random.rand(4, 5) < 0.7
    D2 = np.random.rand(2, 5) < 0.7
    cache = q["cache"]
    np.testing.assert_array_equal(cache[1], D1)
    np.testing.assert_array_equal(cache[6], D2)
    p = q["parameters"]
    np.testing.assert_allclose(q["A3"], _forward(p, q["X"], [D1, D2], 0.7), rtol=1e-12)


@pytest.mark.parametrize("mask_type", ["bool", "int"])
def test_backward_with_dropout_is_autograd_with_the_cache_masks(mask_type):
    comp = get_computation("backward_with_dropout")
    q = comp.build(_case(comp, mask_type), Layout(), NetworkSpec(), {"keep_prob": 0.8}).quantities
    Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3 = q["cache"]
    assert (D1.dtype == bool) == (mask_type == "bool")
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    masks = [np.asarray(D1, float), np.asarray(D2, float)]

    def J(p):
        return _course_cost(_forward(p, q["X"], masks, 0.8), q["Y"], [], 0.0)

    g = grad(J)(params)
    for k in params:
        np.testing.assert_allclose(q["gradients"]["d" + k], g[k], rtol=1e-10, atol=1e-13)
    # the course's dA2 is after the backward mask: (W3ᵀ dZ3) * D2 / keep_prob
    np.testing.assert_allclose(q["gradients"]["dA2"], W3.T @ (A3 - q["Y"]) * masks[1] / 0.8,
                               rtol=1e-12)


def test_a_backward_reading_int_masks_with_a_bool_only_idiom_fails_the_int_cases():
    src = (EXAMPLES / "correct.py").read_text().replace(
        "    dA2 = dA2 * D2\n", "    dA2[~D2] = 0\n", 1)
    report = grade_source(src, "regularization", seed=0)
    assert failing(report) == {"backward_propagation_with_dropout"}


# patterns met in real submissions (own renditions): the same matrix summed three times, a
# forgotten output bias, a typo for m in one gradient
_DB1 = "    db1 = 1. / m * np.sum(dZ1, axis=1, keepdims=True)\n    return"
_L2 = ("(np.sum(np.square(W1)) + np.sum(np.square(W2))\n" + " " * 48
       + "+ np.sum(np.square(W3)))")
_OUT = "    Z3 = np.dot(W3, A2) + b3\n    A3 = sigmoid(Z3)\n    cache = (Z1, D1"


@pytest.mark.parametrize("old, new, function, words", [
    (_L2, "(np.sum(np.square(W1)) + np.sum(np.square(W1)) + np.sum(np.square(W1)))",
     "compute_cost_with_regularization", "ΣW1² 3 times, ΣW2² 0 times, ΣW3² 0 times"),
    (_OUT, _OUT.replace(" + b3", ""), "forward_propagation_with_dropout", "Z3 without its bias"),
    (_DB1, _DB1.replace("1. / m", "1. / n"), "backward_propagation_with_dropout",
     "NameError: name 'n' is not defined"),
])
def test_patterns_of_real_submissions_are_named(old, new, function, words):
    src = (EXAMPLES / "correct.py").read_text()
    assert old in src
    at = src.rindex(old) if function == "backward_propagation_with_dropout" else src.index(old)
    report = grade_source(src[:at] + new + src[at + len(old):], "regularization", seed=0)
    assert failing(report) == {function}
    text = "\n".join(t.output for t in report.tests if t.status == "failed")
    assert words in text, text


def test_reg_utils_agrees_with_the_reference():
    from gradref.reference import Network

    namespace: dict = {}
    exec(load_assignment("regularization").support_modules["reg_utils"], namespace)
    rng = np.random.default_rng(4)
    Z = rng.standard_normal((3, 6))
    np.testing.assert_allclose(namespace["relu"](Z), np.maximum(Z, 0))
    np.testing.assert_allclose(namespace["sigmoid"](Z), 1 / (1 + np.exp(-Z)), rtol=1e-15)
    net = Network([2, 3, 2, 1], ["relu", "relu", "sigmoid"], "bce")
    params = net.init_params("he", seed=1)
    X, Y = rng.standard_normal((2, 6)), (rng.random((1, 6)) < 0.5).astype(float)
    A3, _ = net.forward(params, X)
    assert namespace["compute_cost"](A3, Y) == pytest.approx(net.cost(params, X, Y), rel=1e-12)


def test_a_backward_that_hard_codes_the_tests_keep_prob_fails():
    src = (EXAMPLES / "correct.py").read_text()
    head, tail = src.split("def backward_propagation_with_dropout(X, Y, cache, keep_prob):\n")
    tail = "    keep_prob = 0.8\n" + tail
    report = grade_source(head + "def backward_propagation_with_dropout(X, Y, cache, keep_prob):\n"
                          + tail, "regularization", seed=0)
    assert failing(report) == {"backward_propagation_with_dropout"}
