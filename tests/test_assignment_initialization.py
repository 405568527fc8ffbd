"""The built-in `initialization` assignment (DLS C2W1): the course's seeded values get full marks,
each classic mistake is named (Xavier for He, the wrong index, ×0.01 for ×10, rand, no seed, a
transposed draw, flat biases); with ``draws = "any"`` any draw of the right spread passes; the
expected values are the course's own calls on the global RNG; grade-all and the class report."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.grading import AssignmentError, grade_source, grade_submission, load_assignment
from gradref.checks.grading.batch import grade_all, summary_paths
from gradref.checks.grading.cases import Case
from gradref.checks.grading.computations import COMPUTATIONS, Layout, NetworkSpec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "submissions" / "initialization"
HE = "initialize_parameters_he: weights: the seeded draw x sqrt(2/layers_dims[l-1])"
RANDOM = "initialize_parameters_random: weights: the seeded draw x 10"

#: example -> (the tests it fails, a pattern its explanation must contain)
EXPECTED = {
    "he_xavier": ({HE}, r"that is sqrt\(1/layers_dims\[\d\]\), Xavier initialisation"),
    "he_wrong_index": ({HE}, r"that is sqrt\(2/layers_dims\[\d\]\): the layer's own size"),
    "he_transposed": ({HE}, r"np\.random\.randn\(layers_dims\[\d\], layers_dims\[\d\]\) "
                            r"transposed"),
    "random_small": ({RANDOM}, r"times 0\.01 where ×10 = 10 is expected"),
    "random_uniform": ({RANDOM}, r"only non-negative entries: np\.random\.rand"),
    "random_no_seed": ({RANDOM}, r"not the values of np\.random\.seed\(3\) .* the seed call is "
                                 r"missing"),
    "zeros_flat_bias": ({"initialize_parameters_zeros: keys and shapes"},
                        r"b1 has shape \(\d+,\), expected \(\d+, 1\)"),
}

_CACHE: dict[str, object] = {}


def graded(stem: str, seed: int = 0):
    key = f"{stem}@{seed}"
    if key not in _CACHE:
        _CACHE[key] = grade_submission(EXAMPLES / f"{stem}.py", "initialization", seed=seed)
    return _CACHE[key]


def explain(report) -> str:
    return "\n".join(f"{t.name}: {t.output}" for t in report.failed)


@pytest.mark.parametrize("seed", [0, 11])
def test_the_course_values_get_full_marks(seed):
    report = graded("correct", seed)
    assert report.score == report.max_score == 100, explain(report)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_each_classic_mistake_fails_its_function_and_is_named(stem):
    failing, pattern = EXPECTED[stem]
    report = graded(stem)
    assert {t.name for t in report.failed} == failing, explain(report)
    assert re.search(pattern, explain(report)), explain(report)


def test_every_example_is_asserted():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == set(EXPECTED) | {"correct"}


# --------------------------------------------------------------------------- expected values
def _course(layers_dims, kind):
    """The notebook's own code, on the global RNG."""
    parameters = {}
    if kind != "zeros":
        np.random.seed(3)
    for l in range(1, len(layers_dims)):
        shape = (layers_dims[l], layers_dims[l - 1])
        if kind == "zeros":
            W = np.zeros(shape)
        elif kind == "random":
            W = np.random.randn(*shape) * 10
        else:
            W = np.random.randn(*shape) * np.sqrt(2 / layers_dims[l - 1])
        parameters["W" + str(l)] = W
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


@pytest.mark.parametrize("kind, options", [
    ("zeros", {"scheme": "zeros"}), ("random", {"scheme": "scaled", "scale": 10.0, "seed": 3}),
    ("he", {"scheme": "he", "seed": 3})])
@pytest.mark.parametrize("dims", [(3, 2, 1), (2, 4, 1), (5, 7, 3, 2)])
def test_the_expected_values_are_the_course_calls(kind, options, dims):
    q = COMPUTATIONS["initialize_layers"].build(Case("network", dims, 1, batched=False),
                                                Layout(), NetworkSpec(), options).quantities
    course = _course(list(dims), kind)
    assert q["layers_dims"] == list(dims) and set(q["parameters"]) == set(course)
    for key, value in course.items():
        np.testing.assert_array_equal(q["parameters"][key], value)


@pytest.mark.parametrize("options, message", [
    ({"scheme": "glorot"}, r"options\.scheme: 'glorot' is not one of 'zeros', 'scaled', 'he'"),
    ({"draws": "some"}, r"options\.draws: 'some' is not one of 'exact', 'any'"),
    ({"scale": "ten"}, r"options\.scale: must be a finite number, got 'ten'"),
])
def test_a_bad_option_is_refused_when_the_declaration_is_read(tmp_path, options, message):
    items = ", ".join(f'{k} = "{v}"' for k, v in options.items())
    decl = tmp_path / "bad.toml"
    decl.write_text(f'extends = "initialization"\nname = "bad"\n[[functions]]\n'
                    f'name = "initialize_parameters_he"\noptions = {{ {items} }}\n')
    with pytest.raises(AssignmentError, match=message):
        load_assignment(decl)


# --------------------------------------------------------------------------- any draw
ANY = """extends = "initialization"
name = "any-draw"
[[functions]]
name = "initialize_parameters_he"
options = { scheme = "he", seed = 3, draws = "any" }
cases = { input_width = [50, 80], width = [50, 80], output_width = [40, 60], large = { count = 0 } }
[[functions]]
name = "initialize_parameters_random"
options = { scheme = "scaled", scale = 10.0, seed = 3, draws = "any" }
cases = { input_width = [50, 80], width = [50, 80], output_width = [40, 60], large = { count = 0 } }
"""


@pytest.fixture(scope="module")
def any_draw(tmp_path_factory):
    path = tmp_path_factory.mktemp("decl") / "any.toml"
    path.write_text(ANY)
    return str(path)


def _variant(stem: str, old: str = "", new: str = "") -> str:
    source = (EXAMPLES / f"{stem}.py").read_text()
    assert old in source
    return source.replace(old, new)


@pytest.mark.parametrize("source", [
    _variant("correct"),                                                   # the seeded values
    _variant("random_no_seed"),                                            # another draw
    _variant("correct", "np.random.seed(3)", "np.random.seed(12)"),        # another seed
])
def test_with_draws_any_every_draw_of_the_right_spread_passes(any_draw, source):
    report = grade_source(source, any_draw)
    assert report.score == report.max_score == 100, explain(report)


@pytest.mark.parametrize("stem, failing, pattern", [
    ("he_xavier", HE, r"standard deviation 0\.1\d+, expected 0\.\d+ = sqrt\(2/layers_dims\[\d\]\): "
                      r"that is sqrt\(1/layers_dims\[\d\]\), Xavier initialisation"),
    ("random_uniform", RANDOM, r"only non-negative entries .*np\.random\.rand"),
    ("random_small", RANDOM, r"expected 10 = ×10: that is ×0\.01"),
])
def test_with_draws_any_a_wrong_distribution_is_named(any_draw, stem, failing, pattern):
    report = grade_source((EXAMPLES / f"{stem}.py").read_text(), any_draw)
    assert {t.name for t in report.failed} == {failing}, explain(report)
    assert re.search(pattern, explain(report)), explain(report)


# --------------------------------------------------------------------------- a class
def test_grade_all_and_the_class_report_on_the_examples(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    for stem in ("correct", "he_xavier", "random_small"):
        shutil.copy(EXAMPLES / f"{stem}.py", klass / f"{stem}.py")
    out = tmp_path / "gb.csv"
    result = grade_all(klass, out, assignment="initialization", seed=0)
    assert result.graded == ["correct", "he_xavier", "random_small"] and result.invalid == []
    rows = {r.split(",")[0]: r.split(",")[1] for r in out.read_text().splitlines()[1:]}
    assert rows == {"correct": "100", "he_xavier": "77", "random_small": "82"}
    markdown = next(p for p in summary_paths(out) if str(p).endswith(".md")).read_text()
    assert "| initialize_parameters_he | 67% |" in markdown
    mistakes = markdown.partition("## Most common mistakes")[2].partition("## Failures")[0]
    assert "Xavier initialisation" in mistakes and "the small scale of other assignments" in mistakes
