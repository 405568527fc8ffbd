"""The example submissions get the verdicts ``examples/submissions/expected.json`` states: the
correct one full marks, each buggy one loses points exactly on the listed functions with the
expected diagnosis words, the notebook grades like the .py it mirrors, the cheater earns nothing by
cheating, and the file with a syntax error loses only what the error breaks, with the reason.
Real engine throughout."""

import json
import re
from pathlib import Path

import nbformat
import pytest
from gradref.checks.grading import grade_submission, load_assignment

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))
FILES = sorted(EXPECTED["submissions"])
FUNCTIONS = [f.display for f in load_assignment(EXPECTED["assignment"]).functions]


@pytest.fixture(scope="module")
def reports():
    """Each example graded once (lazily), shared by the tests of this module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = grade_submission(EXAMPLES / name, EXPECTED["assignment"], seed=EXPECTED["seed"])
        return cache[name]

    return get


def function_of(test):
    return test.name.partition(": ")[0]


def lost_points(report):
    return sorted({function_of(t) for t in report.tests if t.score < t.max_score}, key=FUNCTIONS.index)


def failing_output(report, function):
    """The names and outputs of ``function``'s failing tests."""
    return "\n".join(f"{t.name}\n{t.output}" for t in report.tests
                     if function_of(t) == function and t.status == "failed")


def test_expected_json_covers_every_example_and_the_readme_lists_them():
    on_disk = sorted(p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".ipynb"))
    assert FILES == on_disk
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert [name for name in FILES if f"`{name}`" not in readme] == []
    for name, spec in EXPECTED["submissions"].items():
        fail = spec["fail"]
        assert fail == "all" or set(fail) <= set(FUNCTIONS), name


@pytest.mark.parametrize("name", FILES)
def test_example_gets_its_verdict(reports, name):
    spec = EXPECTED["submissions"][name]
    report = reports(name)
    assert report.max_score > 0 and report.tests
    if spec["fail"] == "all":
        assert report.score == 0 and all(t.status == "failed" for t in report.tests)
        for word in spec["summary"]:
            assert word.lower() in report.output.lower(), (word, report.output)
        return
    assert lost_points(report) == [f for f in FUNCTIONS if f in spec["fail"]]
    for function, words in spec["fail"].items():
        text = failing_output(report, function).lower()
        assert text, function
        missing = [w for w in words if w.lower() not in text]
        assert missing == [], f"{name}, {function}: {missing} not in\n{text}"
    if not spec["fail"]:
        assert report.score == report.max_score
    for word in spec.get("summary", []):
        assert word.lower() in report.output.lower(), (word, report.output)


@pytest.mark.parametrize("name", [n for n in FILES if "same_as" in EXPECTED["submissions"][n]])
def test_notebook_grades_like_its_python_twin(reports, name):
    twin = EXPECTED["submissions"][name]["same_as"]
    scores = [(t.name, t.score) for t in reports(name).tests]
    assert scores == [(t.name, t.score) for t in reports(twin).tests]
    cells = nbformat.read(EXAMPLES / name, as_version=4).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    assert re.search(r"^%", code, re.M) and re.search(r"^!", code, re.M)     # a magic and a shell line
    source = (EXAMPLES / twin).read_text(encoding="utf-8")
    for block in re.findall(r"^def .*?(?=\n\n\n|\n\nif __name__)", source, re.M | re.S):
        assert block in code                                                # the same functions


def test_cheating_earns_nothing(reports, tmp_path):
    source = (EXAMPLES / "cheater.py").read_text(encoding="utf-8")
    honest = re.sub(r"# ---- the cheat: begin ----.*?# ---- the cheat: end ----\n", "", source, flags=re.S)
    honest = "\n".join(line for line in honest.splitlines() if not line.endswith("# cheat"))
    assert "np.allclose =" not in honest and 'print("All tests passed!")' not in honest
    (tmp_path / "honest.py").write_text(honest)
    cheater = reports("cheater.py")
    twin = grade_submission(tmp_path / "honest.py", EXPECTED["assignment"], seed=EXPECTED["seed"])
    assert [(t.name, t.score) for t in cheater.tests] == [(t.name, t.score) for t in twin.tests]
    stubbed = {"compute_cost", "linear_backward", "linear_activation_backward", "L_model_backward",
               "update_parameters"}
    values = [t for t in cheater.tests if function_of(t) in stubbed and "value" in t.name]
    assert values and all(t.score == 0 for t in values)
    assert cheater.score < cheater.max_score / 2 + 5
