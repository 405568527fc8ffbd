"""The built-in `planar` assignment (DLS C1W3): every course version's correct work gets full marks,
each classic mistake costs the functions it breaks and is named; the expected values agree with
independent restatements (autograd of the cost, the course's own seeded calls)."""

from __future__ import annotations

import re
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad
from gradref.checks.grading import AssignmentError, grade_source, grade_submission, load_assignment
from gradref.checks.grading.cases import Case
from gradref.checks.grading.computations import COMPUTATIONS, Layout, NetworkSpec
from gradref.checks.grading.inprocess import grade_function

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "submissions" / "planar"
SPEC = NetworkSpec("tanh", "sigmoid", "bce")
LAY = Layout()

#: example -> (the tests it fails, a pattern its diagnosis or explanation must contain)
EXPECTED = {
    "missing_one_over_m": ({"backward_propagation: dW2, db2", "backward_propagation: dW1",
                            "backward_propagation: db1", "nn_model: trained parameters"},
                           r"m = \d+ times too large: the 1/m averaging is missing"),
    "tanh_not_squared": ({"backward_propagation: dW1", "backward_propagation: db1",
                          "nn_model: trained parameters"},
                         r"1−t instead of 1−t² as the tanh derivative"),
    "sigmoid_derivative_hidden": ({"backward_propagation: dW1", "backward_propagation: db1",
                                   "nn_model: trained parameters"},
                                  r"the sigmoid's derivative formula s·\(1 − s\) applied to the "
                                  r"tanh output"),
    "predict_ge": ({"predict: values: A2 > 0.5"},
                   r"differ only where A2 is exactly 0\.5: A2 >= 0\.5"),
    "predict_round": ({"predict: a bool array"}, r"should be a bool array .* got dtype float64"),
    "cost_sum": ({"compute_cost: value of the cost"},
                 r"cost is m = \d+ times too large: the 1/m averaging is missing"),
    "cost_numpy_float": ({"compute_cost: a Python float (2021+)"},
                         r"should be a Python float .*type\(cost\) == float"),
    "init_scale": ({"initialize_parameters: weights: the seeded draw x 0.01",
                    "nn_model: trained parameters"},
                   r"the right seeded draw np\.random\.randn\(n_h, n_x\) times 0\.1 where ×0\.01"),
    "nn_model_no_update": ({"nn_model: trained parameters"},
                           r"the loop never updates them"),
    "hidden_sigmoid": ({"forward_propagation: values of A2", "forward_propagation: cache: Z1, A1, Z2",
                        "nn_model: trained parameters", "predict: values: A2 > 0.5"},
                       r"the hidden layer uses the sigmoid; this network's hidden activation is "
                       r"np\.tanh"),
}

_CACHE: dict[str, object] = {}


def graded(stem: str, seed: int = 0):
    key = f"{stem}@{seed}"
    if key not in _CACHE:
        _CACHE[key] = grade_submission(EXAMPLES / f"{stem}.py", "planar", seed=seed)
    return _CACHE[key]


def explain(report) -> str:
    return "\n".join(f"{t.name}: {t.output}" for t in report.failed)


# --------------------------------------------------------------------------- the examples
@pytest.mark.parametrize("stem, seed", [("correct", 0), ("correct", 7), ("v6c", 0)])
def test_correct_work_of_each_version_gets_full_marks(stem, seed):
    report = graded(stem, seed)
    assert report.score == report.max_score == 100, explain(report)
    functions = {t.name.partition(": ")[0] for t in report.tests}
    assert functions == {f.name for f in load_assignment("planar").functions}


def test_the_v6c_signatures_are_accepted_and_said_so():
    v6c, current = graded("v6c").output, graded("correct").output
    assert "Accepted: compute_cost uses the notebooks up to v6c" in v6c
    assert "Accepted: nn_model uses the notebooks up to v6c" in v6c
    assert "Accepted:" not in current


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_classic_mistake_fails_its_functions_and_is_named(stem):
    failing, pattern = EXPECTED[stem]
    report = graded(stem)
    assert {t.name for t in report.failed} == failing, explain(report)
    assert re.search(pattern, explain(report)), explain(report)


def test_every_example_is_asserted():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == set(EXPECTED) | {"correct", "v6c"}


def test_nn_model_failing_through_a_helper_points_at_it():
    text = explain(graded("tanh_not_squared"))
    assert "nn_model usually calls your backward_propagation, which also fails" in text


# --------------------------------------------------------------------------- the computations
def _case(dims, m=5, variant=None, seed=0):
    return Case("network", tuple(dims), m, variant=variant, seed=seed)


def _forward(params, X):
    Z1 = anp.dot(params["W1"], X) + params["b1"]
    A1 = anp.tanh(Z1)
    Z2 = anp.dot(params["W2"], A1) + params["b2"]
    return Z1, A1, Z2, 1 / (1 + anp.exp(-Z2))


def _cost(params, X, Y):
    A2 = _forward(params, X)[3]
    return -anp.mean(Y * anp.log(A2) + (1 - Y) * anp.log(1 - A2))


@pytest.mark.parametrize("dims, m", [((2, 4, 1), 3), ((5, 3, 1), 7), ((3, 6, 1), 2)])
def test_forward_cost_and_backward_agree_with_autograd_of_the_restated_cost(dims, m):
    built = COMPUTATIONS["planar_backward"].build(_case(dims, m), LAY, SPEC, {})
    q = built.quantities
    params, X, Y = q["parameters"], q["X"], q["Y"]
    Z1, A1, Z2, A2 = _forward(params, X)
    for key, value in zip(("Z1", "A1", "Z2", "A2"), (Z1, A1, Z2, A2), strict=True):
        np.testing.assert_allclose(q["cache"][key], value, rtol=1e-12)
    oracle = grad(_cost)(params, X, Y)
    for key in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(q["grads"]["d" + key], oracle[key], rtol=1e-9, atol=1e-14)
    cost = COMPUTATIONS["planar_cost"].build(_case(dims, m), LAY, SPEC, {}).quantities
    np.testing.assert_allclose(cost["cost"], -np.mean(
        cost["Y"] * np.log(cost["A2"]) + (1 - cost["Y"]) * np.log(1 - cost["A2"])), rtol=1e-12)


def _course_init(seed, n_x, n_h, n_y):
    """The notebook's own calls on the global RNG."""
    np.random.seed(seed)
    W1 = np.random.randn(n_h, n_x) * 0.01
    W2 = np.random.randn(n_y, n_h) * 0.01
    return {"W1": W1, "b1": np.zeros((n_h, 1)), "W2": W2, "b2": np.zeros((n_y, 1))}


@pytest.mark.parametrize("dims", [(2, 4, 1), (5, 3, 1)])
def test_nn_model_is_the_course_init_trained_with_autograd_gradients(dims):
    built = COMPUTATIONS["planar_nn_model"].build(_case(dims, 6), LAY, SPEC, {})
    q = built.quantities
    for name, seed in (("parameters", 3), ("parameters_v6c", 2)):
        params = _course_init(seed, *dims)
        for _ in range(q["num_iterations"]):
            g = grad(_cost)(params, q["X"], q["Y"])
            params = {k: params[k] - 1.2 * g[k] for k in params}
        for key in params:
            np.testing.assert_allclose(q[name][key], params[key], rtol=1e-9, atol=1e-15)
    assert q["print_cost"] is False and q["n_h"] == dims[1]


@pytest.mark.parametrize("dims", [(2, 4, 1), (3, 5, 2)])
def test_the_initialiser_expects_the_course_draw_of_seed_2(dims):
    q = COMPUTATIONS["initialize_layers"].build(
        _case(dims), LAY, SPEC, {"scheme": "scaled", "scale": 0.01, "seed": 2,
                                 "names": "planar"}).quantities
    course = _course_init(2, *dims)
    assert (q["n_x"], q["n_h"], q["n_y"]) == dims
    for key in course:
        np.testing.assert_array_equal(q["parameters"][key], course[key])


def test_predict_cases_put_an_output_of_exactly_one_half_on_the_boundary():
    q = COMPUTATIONS["planar_predict"].build(_case((3, 4, 1), 5, variant=True), LAY, SPEC,
                                             {}).quantities
    A2 = _forward(q["parameters"], q["X"])[3]
    assert A2[0, -1] == 0.5 and not q["predictions"][0, -1]
    assert q["predictions"].dtype == bool
    np.testing.assert_array_equal(q["predictions"], A2 > 0.5)


def test_layer_sizes_hard_codes_four_hidden_units():
    q = COMPUTATIONS["planar_layer_sizes"].build(_case((5, 3, 2), 4), LAY, SPEC, {}).quantities
    assert (q["X"].shape, q["Y"].shape) == ((5, 4), (2, 4))
    assert (q["n_x"], q["n_h"], q["n_y"]) == (5, 4, 2)


def test_the_planar_computations_refuse_a_deeper_case():
    with pytest.raises(ValueError, match=r"two-layer cases .* layer_dims = \[2, 3, 3, 1\]"):
        COMPUTATIONS["planar_forward"].build(_case((2, 3, 3, 1)), LAY, SPEC, {})


# --------------------------------------------------------------------------- global_seed
def test_the_grader_seeds_before_every_call_in_process_too():
    def initialize_parameters(n_x, n_h, n_y):   # the 2021+ form: no seed of its own
        return {"W1": np.random.randn(n_h, n_x) * 0.01, "b1": np.zeros((n_h, 1)),
                "W2": np.random.randn(n_y, n_h) * 0.01, "b2": np.zeros((n_y, 1))}

    report = grade_function("initialize_parameters", initialize_parameters, "planar")
    assert report.failed == [], explain(report)


def test_without_global_seed_an_unseeded_initialiser_fails_and_is_told_why(tmp_path):
    source = (EXAMPLES / "correct.py").read_text()
    decl = tmp_path / "strict.toml"
    decl.write_text('extends = "planar"\nname = "strict"\n[[functions]]\n'
                    'name = "initialize_parameters"\nglobal_seed = 0\n')
    report = grade_source(source, str(decl))
    text = explain(report)
    assert {t.name for t in report.failed} == {
        "initialize_parameters: weights: the seeded draw x 0.01"}, text
    assert "the draw after np.random.seed(0); the assignment seeds np.random.seed(2)" in text


@pytest.mark.parametrize("value", [-1, 2**32, 1.5, True, "2"])
def test_a_bad_global_seed_is_refused_naming_the_key(tmp_path, value):
    decl = tmp_path / "bad.toml"
    decl.write_text('extends = "planar"\nname = "bad"\n[[functions]]\n'
                    f'name = "initialize_parameters"\nglobal_seed = {value!r}\n'
                    .replace("True", "true").replace("'", '"'))
    with pytest.raises(AssignmentError, match=r"initialize_parameters\)\.global_seed: must be an "
                                              r"integer from 0 to 2\*\*32 - 1"):
        load_assignment(decl)


# --------------------------------------------------------------------------- versions by value
def test_a_cost_of_the_v6c_signature_may_be_any_scalar_but_2021_asks_for_a_float():
    source = (EXAMPLES / "correct.py").read_text()
    old = source.replace("def compute_cost(A2, Y):", "def compute_cost(A2, Y, parameters):") \
        .replace("cost = compute_cost(A2, Y)", "cost = compute_cost(A2, Y, parameters)") \
        .replace("return float(np.squeeze(cost))", "return np.squeeze(cost)")
    report = grade_source(old, "planar")
    assert report.score == 100, explain(report)
    assert "Accepted: compute_cost uses the notebooks up to v6c" in report.output


def test_nn_model_trained_from_neither_seed_is_not_accepted_under_either_version():
    source = (EXAMPLES / "correct.py").read_text().replace("np.random.seed(3)", "np.random.seed(4)")
    report = grade_source(source, "planar")
    assert {t.name for t in report.failed} == {"nn_model: trained parameters"}, explain(report)
    assert "Accepted: nn_model" not in report.output


# --------------------------------------------------------------------------- a class
def test_grade_all_and_the_class_report_on_the_examples(tmp_path):
    import csv
    import shutil

    from gradref.checks.grading.batch import grade_all, summary_paths

    klass = tmp_path / "class"
    klass.mkdir()
    for stem in ("correct", "v6c", "missing_one_over_m", "predict_ge"):
        shutil.copy(EXAMPLES / f"{stem}.py", klass / f"{stem}.py")
    out = tmp_path / "gradebook.csv"
    result = grade_all(klass, out, assignment="planar", seed=0, jobs=2)
    assert sorted(result.graded) == ["correct", "missing_one_over_m", "predict_ge", "v6c"]
    assert result.errors == [] and result.invalid == []
    with out.open(newline="") as handle:
        scores = {row["student"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert scores["correct"] == scores["v6c"] == 100
    assert scores["missing_one_over_m"] < 100 and scores["predict_ge"] < 100
    md, html = summary_paths(out)
    text = md.read_text()
    assert html.exists()
    mistakes = text.partition("## Most common mistakes")[2]
    assert "1/m" in mistakes, text
    accepted = text.partition("## Accepted alternative conventions")[2]
    assert "compute_cost uses the notebooks up to v6c" in accepted and "| v6c |" in accepted, text
