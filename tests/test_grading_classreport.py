"""The class report beside the gradebook, grade-all's shards and `gradref gradebook merge`."""

from __future__ import annotations

import builtins
import json
import threading
from pathlib import Path

import pytest
from gradref.checks.cli import main
from gradref.checks.grading.batch import grade_all, shard_of, summary_paths
from gradref.checks.grading.classreport import render_html, render_markdown, summarize
from gradref.checks.grading.gradebook import MergeError, merge


def a_test(name, score, max_score, output=""):
    return {"name": name, "score": score, "max_score": max_score,
            "status": "passed" if score == max_score else "failed", "output": output,
            "visibility": "visible"}


class DiagnosingGrader:
    """Grades a file by its text: "1/m" misses dW's averaging, "T" a transpose; "BROKEN" does
    not load; records a diagnosis as the engine words it (with the case's m)."""

    def __init__(self):
        self.calls = []
        self._lock = threading.Lock()

    def __call__(self, path, assignment, *, seed, limits=None, points=None, helpers=True):
        text = Path(path).read_text()
        with self._lock:
            self.calls.append(Path(path).name)
        tests = [a_test("linear_forward: values", 4.0, 4.0)]
        if "1/m" in text:
            m = 3 + len(text) % 4
            tests.append(a_test("linear_backward: values of dW", 0.0, 3.0,
                              f"Failed on 4 of 6 random cases.\nDiagnosis: dW is m = {m} times "
                              f"too large: the 1/m averaging is missing"))
        else:
            tests.append(a_test("linear_backward: values of dW", 3.0, 3.0))
        if "T" in text:
            tests.append(a_test("L_model_backward: values of dA0 … dA[L-1]", 0.0, 5.0,
                              "Diagnosis: W2 must be transposed"))
        else:
            tests.append(a_test("L_model_backward: values of dA0 … dA[L-1]", 5.0, 5.0))
        output = "Title\n"
        if "BROKEN" in text:
            tests = [dict(t, score=0.0, status="failed") for t in tests]
            output += "Your submission could not be loaded, so no function could be run: boom"
        return Report(tests, output, ["import of 'dnn_utils_v9' failed: No module"]
                      if "v9" in text else [])


class Report:
    def __init__(self, tests, output, problems):
        self.tests, self.output, self.problems = tests, output, problems

    def to_dict(self):
        return {"score": sum(t["score"] for t in self.tests), "max_score": 12.0,
                "execution_time": 0.25, "output": self.output, "problems": self.problems,
                "tests": self.tests}


def make_class(root: Path) -> Path:
    files = {"ann.py": "1/m", "ben.py": "1/m  ", "cid.py": "ok", "dee.py": "1/m T", "eve.py": "T",
             "fox.py": "BROKEN", "gil.py": "v9", "<script>x.py": "1/m",
             "hal/a.py": "", "hal/b.py": ""}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_class_report_counts_functions_diagnoses_and_ungradable(tmp_path):
    klass = make_class(tmp_path / "class")
    grade_all(klass, tmp_path / "gb.csv", grader=DiagnosingGrader())
    md_path, html_path = summary_paths(tmp_path / "gb.csv")
    md = md_path.read_text()
    # fox did not load: one status, not-loadable, in the counts, the CSV and out of the mean
    assert "9 students: 7 graded, 1 not-loadable, 1 invalid, 0 error." in md
    assert "over the 7 graded students (the 2 others are not in it" in md
    # linear_backward: 3 of the 7 graded students have all its points (cid, eve, gil)
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if line.startswith("| ")}
    assert rows["linear_backward"] == "| linear_backward | 43% | 1.29 / 3 | 4 | 0 | 0 | 3 |"
    assert rows["linear_forward"].startswith("| linear_forward | 100% |")
    # the first table: mistakes by students, with the functions they appeared in
    first = md.split("## Most common mistakes")[1].split("##")[0]
    assert ("| 4 | dW is m times too large: the 1/m averaging is missing | linear_backward | "
            "&lt;script&gt;x, ann, ben, dee |") in first
    assert "| fox | not-loadable: Your submission could not be loaded" in md
    # one mistake, one line, whatever m the case had: counted by student, names listed
    assert ("| 4 students | linear_backward: dW is m times too large: the 1/m averaging is missing "
            "| &lt;script&gt;x, ann, ben, dee |") in md
    assert "| 2 students | L_model_backward: W[l] must be transposed | dee, eve |" in md
    assert "| 1 student | import of 'dnn_utils_v9' failed: No module | gil |" in md
    assert "| fox | not-loadable |" in md and "| hal | invalid | several submissions in 'hal'" in md
    page = html_path.read_text()
    # student text is escaped: the one script is the page's own (the sortable table)
    assert page.count("<script") == 1 and "<script>x" not in page and "&lt;script&gt;x" in page
    assert 'href="gb_reports/%3Cscript%3Ex.json"' in page
    assert "<svg" in page                                             # matplotlib is installed here


def test_the_html_report_works_without_matplotlib(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    record = {"score": 1.0, "max_score": 2.0, "tests": [a_test("f: values", 1.0, 2.0)],
              "gradref_batch": {"student": "ann", "status": "graded"}}
    page = render_html(summarize([record], ["f"], "hw"))
    # the score histogram is our own SVG; the pass-rate chart (matplotlib's) is missing
    assert page.count("<svg") == 1 and 'id="histogram"' in page
    assert "needs matplotlib, which is not installed" in page
    assert "| f | 0% | 1.00 / 2 | 0 | 0 | 1 | 0 |" in render_markdown(summarize([record], ["f"], "hw"))


def test_shards_are_disjoint_stable_and_cover_everyone():
    ids = [f"student{i:03d}" for i in range(300)]
    shares = {sid: shard_of(sid, 7) for sid in ids}
    assert set(shares.values()) == set(range(1, 8))
    assert all(40 - 20 < sum(1 for s in shares.values() if s == k) < 43 + 20 for k in range(1, 8))
    # adding students moves nobody; the share depends on the id alone
    assert {sid: shard_of(sid, 7) for sid in ids[:150]} == {sid: shares[sid] for sid in ids[:150]}


def test_shards_then_merge_give_the_gradebook_of_one_run(tmp_path):
    klass = make_class(tmp_path / "class")
    secret = tmp_path / "class-secret.txt"          # one secret for every shard: the same seeds
    secret.write_text("an instructor's secret, shared by the shards\n")
    one = grade_all(klass, tmp_path / "one.csv", grader=DiagnosingGrader(), force=True, secret=secret)
    graded = []
    for k in (1, 2, 3):
        part = grade_all(klass, tmp_path / f"part{k}.csv", grader=DiagnosingGrader(), shard=(k, 3),
                         secret=secret)
        graded.append({r["student"] for r in part.rows})
    assert set.union(*graded) == {r["student"] for r in one.rows}
    assert sum(len(g) for g in graded) == len(one.rows)                  # disjoint
    assert main(["gradebook", "merge", *(str(tmp_path / f"part{k}.csv") for k in (1, 2, 3)),
                 "--out", str(tmp_path / "merged.csv")]) == 0
    for a, b in zip(summary_paths(tmp_path / "one.csv"), summary_paths(tmp_path / "merged.csv"),
                    strict=True):
        # the same page, its links pointing at its own reports folder
        assert a.read_text() == b.read_text().replace('href="merged_reports/', 'href="one_reports/')
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "merged.csv").read_text()
    assert sorted(p.name for p in (tmp_path / "merged_reports").iterdir()) == \
        sorted(p.name for p in (tmp_path / "one_reports").iterdir())


def test_merge_refuses_conflicts_and_mixed_settings(tmp_path):
    klass = make_class(tmp_path / "class")
    grade_all(klass, tmp_path / "a.csv", grader=DiagnosingGrader(), seed=0)
    grade_all(klass, tmp_path / "b.csv", grader=DiagnosingGrader(), seed=3)
    with pytest.raises(MergeError, match=r"graded with different settings \(seed 0 vs 3\)"):
        merge([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "m.csv")
    (klass / "ann.py").write_text("T")
    grade_all(klass, tmp_path / "c.csv", grader=DiagnosingGrader(), seed=0)
    with pytest.raises(MergeError, match=r"student 'ann' has two different results"):
        merge([tmp_path / "a.csv", tmp_path / "c.csv"], tmp_path / "m.csv")
    with pytest.raises(MergeError, match=r"nope_reports does not exist"):
        merge([tmp_path / "nope.csv"], tmp_path / "m.csv")
    assert main(["gradebook", "merge", str(tmp_path / "nope.csv"), "--out",
                 str(tmp_path / "m.csv")]) == 2
    record = json.loads((tmp_path / "a_reports" / "ann.json").read_text())
    assert record["gradref_batch"]["student"] == "ann"


def test_grade_all_rejects_a_bad_shard(tmp_path, capsys):
    klass = make_class(tmp_path / "class")
    assert main(["grade-all", str(klass), "--out", str(tmp_path / "x.csv"), "--shard", "4/3"]) == 2
    assert "--shard must be K/N with 1 <= K <= N" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"shard must be \(K, N\)"):
        grade_all(klass, tmp_path / "x.csv", grader=DiagnosingGrader(), shard=(0, 3))


def test_one_mistake_seen_in_three_functions_is_one_row_of_one_student():
    said = {"linear_backward": "dW is m = 6 times too large: the 1/m averaging is missing",
            "linear_activation_backward": "dW is m = 4 times too large: the 1/m averaging is "
                                          "missing",
            "L_model_backward": "dW3, dW2 and dW1 are m = 5 times too large: the 1/m averaging "
                                "is missing"}
    sigmoid = {"linear_activation_backward": "dW and db match s instead of s·(1−s) as the sigmoid "
                                             "derivative (s = σ(Z) = A)",
               "L_model_backward": "dW1 and db1 match s instead of s·(1−s) as the sigmoid "
                                   "derivative in layer 1 (s = σ(Z1) = A1)"}

    def record(student, diagnoses):
        tests = [a_test(f"{f}: values of dW", 0.0, 3.0, f"Failed.\nDiagnosis: {text}")
                 for f, text in diagnoses.items()]
        return {"score": 0.0, "max_score": 9.0, "tests": tests, "output": "",
                "gradref_batch": {"student": student, "status": "graded"}}

    summary = summarize([record("ann", said), record("bo", sigmoid), record("cy", sigmoid)],
                        list(said), "hw")
    assert [(len(k.students), k.functions) for k in summary.mistakes] == [
        (2, ["linear_activation_backward", "L_model_backward"]),
        (1, ["linear_backward", "linear_activation_backward", "L_model_backward"])]
    first = render_markdown(summary).split("## Most common mistakes")[1].split("\n## ")[0]
    assert "| 1 | dW is m times too large: the 1/m averaging is missing | linear_backward, " \
           "linear_activation_backward, L_model_backward | ann |" in first
