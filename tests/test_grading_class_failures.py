"""Every failure kind reaches the gradebook: a hanging, crashing or memory-hungry function and a
statement stopped at load are named in the CSV's error column and in the class report beside the
student; one status per student in the CSV and the report, whose counts and mean agree with it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from gradref.checks.grading.batch import grade_all, summary_paths
from gradref.checks.isolation import Limits

FIXTURES = Path(__file__).parent / "grading_fixtures"
CORRECT = (FIXTURES / "step_correct.py").read_text()


def _variant(old: str, new: str) -> str:
    assert CORRECT.count(old) == 1
    return CORRECT.replace(old, new)


CLASS = {
    "ada": CORRECT,
    "hang": _variant("def linear_backward(dZ, cache):\n",
                     "def linear_backward(dZ, cache):\n    while True:\n        pass\n"),
    "crash": _variant("def compute_cost(AL, Y):\n",
                      "def compute_cost(AL, Y):\n    import os\n    os._exit(3)\n"),
    "memory": _variant("def update_parameters(params, grads, learning_rate):\n",
                       "def update_parameters(params, grads, learning_rate):\n"
                       "    hoard = bytearray(2**40)\n"),
    "slow": CORRECT + "\n\nwhile True:\n    pass\n",
    "dies": "import os\nos._exit(1)\n" + CORRECT,
}
EXPECTED = {"hang": "linear_backward: timeout", "crash": "compute_cost: crash",
            "memory": "update_parameters: memory", "slow": "stopped after 1 s: while True",
            "dies": "could not be loaded"}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("klass")
    folder = tmp_path / "class"
    folder.mkdir()
    for sid, text in CLASS.items():
        (folder / f"{sid}.py").write_text(text)
    out = tmp_path / "gb.csv"
    grade_all(folder, out, jobs=2, limits=Limits(wall=1.0, cpu=1.0, statement=1.0, load=8.0))
    with open(out, newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    md, page = summary_paths(out)
    return rows, md.read_text(), page.read_text()


def test_every_failure_is_named_in_the_csv_and_the_class_report(graded_class):
    rows, md, page = graded_class
    assert rows["ada"]["error"] == "" and rows["ada"]["score"] == "100"
    failures = md.split("## Failures other than mistakes")[1].split("\n## ")[0]
    for sid, what in EXPECTED.items():
        assert what in rows[sid]["error"], (sid, rows[sid]["error"])
        assert any(line.startswith(f"| {sid} |") and what in line
                   for line in failures.splitlines()), (sid, failures)
    # the correct functions of the failing students keep their points
    assert rows["slow"]["score"] == "100"
    assert float(rows["hang"]["compute_cost"]) == 8 and float(rows["crash"]["linear_backward"]) == 12


def test_one_status_per_student_and_the_counts_agree_with_the_csv(graded_class):
    rows, md, page = graded_class
    statuses = {sid: row["status"] for sid, row in rows.items()}
    assert statuses["dies"] == "not-loadable"
    assert {s for sid, s in statuses.items() if sid != "dies"} == {"graded"}
    counts = {s: list(statuses.values()).count(s) for s in ("graded", "not-loadable", "invalid",
                                                              "error")}
    sentence = (f"{len(rows)} students: {counts['graded']} graded, {counts['not-loadable']} "
                f"not-loadable, {counts['invalid']} invalid, {counts['error']} error.")
    assert sentence in md and sentence in page
    graded = [float(r["score"]) for r in rows.values() if r["status"] == "graded"]
    mean = sum(graded) / len(graded)
    everyone = sum(float(r["score"]) for r in rows.values()) / len(rows)
    assert f"Mean score {mean:.2f} / 100 over the {len(graded)} graded students" in md
    assert f"over all {len(rows)} rows of the CSV, where they count 0: {everyone:.2f}" in md
    # the student who could not be loaded is listed there, and nowhere counted as graded
    assert "| dies | not-loadable |" in md
