"""``grade-all``: discovery, the gradebook (CSV + JSONs), resuming, --force, errors, atomic files,
bad arguments. The mechanics run on a fake engine (injected with ``grader=``); one end-to-end test
grades real copies of the example submissions with the real engine."""

import csv
import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from gradref.checks.cli import main
from gradref.checks.grading import AssignmentError, SubmissionError, batch, outputs
from gradref.checks.grading.batch import atomic_write_text, discover, find_submission, grade_all
from gradref.checks.grading.seeds import secret_digest, seed_for

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions"


class FakeReport:
    def __init__(self, tests):
        self.tests = tests

    def to_dict(self):
        return {"score": sum(t["score"] for t in self.tests), "max_score": 3.0, "execution_time": 0.0,
                "output": "Fake: summary\nno test passed" if not any(t["score"] for t in self.tests) else "",
                "tests": self.tests}


class FakeGrader:
    """Grades a file by its text: the tests of function ``f`` pass if it contains "f", ``g`` if "g";
    "RAISE" makes grading itself fail, "INTERRUPT" simulates Ctrl-C. Counts its calls."""

    def __init__(self):
        self.calls = []
        self._lock = threading.Lock()

    def __call__(self, path, assignment, *, seed, limits=None, points=None, helpers=True):
        path = Path(path)
        text = "".join(p.read_text() for p in sorted(path.rglob("*.py"))) if path.is_dir() \
            else path.read_text()
        with self._lock:
            self.calls.append(Path(path).name)
        if "RAISE" in text:
            raise RuntimeError("the sandbox is unavailable")
        if "INTERRUPT" in text:
            raise KeyboardInterrupt
        return FakeReport([{"name": name, "score": float(name[0] in text), "max_score": 1.0,
                            "status": "passed" if name[0] in text else "failed", "output": "",
                            "visibility": "visible"} for name in ("f: shape", "f: values", "g: values")])


def make_class(root: Path, files: dict) -> Path:
    """Create ``root`` with ``files`` (relative path -> text)."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in Path(folder).iterdir()}


# --------------------------------------------------------------------------- discovery

def test_discovery_rule(tmp_path):
    make_class(tmp_path, {
        "alice.py": "f", "bob.ipynb": "{}", "notes.md": "", ".hidden.py": "", "__pycache__/x.py": "",
        "carol/hw.py": "", "carol/.ipynb_checkpoints/hw-checkpoint.py": "",
        "dave/a.py": "", "dave/submission.ipynb": "", "dave/submission.py": "",
        "erin/a.py": "", "erin/b.ipynb": "",
        "frank/readme.txt": "",
        "gina/gina-hw1/nb.ipynb": "",
        "hal.py": "", "hal/x.py": "",
    })
    found = {s.id: s for s in discover(tmp_path)}
    assert sorted(found) == ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal"]
    sub = {sid: s.submission and s.submission.relative_to(tmp_path).as_posix() for sid, s in found.items()}
    assert sub == {"alice": "alice.py", "bob": "bob.ipynb", "carol": "carol/hw.py",
                   "dave": "dave", "erin": None, "frank": None,
                   "gina": "gina/gina-hw1/nb.ipynb", "hal": None}
    assert "several submissions in 'erin': a.py, b.ipynb" in found["erin"].error
    assert "no .py or .ipynb file in 'frank'" in found["frank"].error
    assert "several entries for student 'hal': hal/, hal.py" in found["hal"].error
    with pytest.raises(SubmissionError, match="several submissions in 'erin'"):
        find_submission(tmp_path / "erin")


# --------------------------------------------------------------------------- the gradebook

def test_gradebook_csv_and_reports(tmp_path):
    subs = make_class(tmp_path / "subs", {
        "alice.py": "f g", "bob.py": "f", "carol/hw.ipynb": "g", "dave/a.py": "", "dave/b.py": "",
        "erin.py": "RAISE", "=evil.py": "f"})
    out = tmp_path / "gradebook.csv"
    result = grade_all(subs, out, jobs=2, grader=FakeGrader())
    assert (result.graded, result.invalid, result.errors) == (["=evil", "alice", "bob", "carol"], ["dave"],
                                                              ["erin"])
    rows = read_csv(out)
    assert list(rows[0]) == ["student", "score", "max_score", "f", "g", "status", "error", "isolation"]
    table = {r["student"]: r for r in rows}
    assert [r["student"] for r in rows] == ["'=evil", "alice", "bob", "carol", "dave", "erin"]
    assert [table["alice"][k] for k in ("score", "max_score", "f", "g", "error")] == ["3", "3", "2", "1", ""]
    assert [table["bob"][k] for k in ("f", "g", "status", "error")] == ["2", "0", "graded", ""]
    assert [table["carol"][k] for k in ("f", "g", "status")] == ["0", "1", "graded"]
    # no report: the assignment's maximum (step-by-step: 100 points), the reason in `error`
    assert [table["dave"][k] for k in ("score", "max_score", "f", "status")] == ["0", "100", "", "invalid"]
    assert "several submissions in 'dave'" in table["dave"]["error"]
    assert table["erin"]["status"] == "error"
    assert table["erin"]["error"] == "grading failed: RuntimeError: the sandbox is unavailable"

    reports = tmp_path / "gradebook_reports"
    assert result.reports_dir == reports
    assert sorted(p.name for p in reports.iterdir()) == [
        "=evil.json", "alice.json", "bob.json", "carol.json", "dave.json", "erin.json"]
    carol = json.loads((reports / "carol.json").read_text())
    assert carol["score"] == 1.0
    assert [t["name"] for t in carol["tests"]] == ["f: shape", "f: values", "g: values"]
    secret = (tmp_path / "gradebook_secret.txt").read_text().strip()
    meta = carol["gradref_batch"]
    assert meta | {"sha256": None} == {
        "version": 1, "student": "carol", "submission": "carol/hw.ipynb", "assignment": "step-by-step",
        "assignment_sha256": None, "seed": None, "secret_sha256": secret_digest(secret),
        "case_seed": seed_for(secret, meta["sha256"]), "points": None, "limits": None,
        "sha256": None,
        "status": "graded", "error": None}
    assert (tmp_path / "gradebook_secret.txt").stat().st_mode & 0o777 == 0o600


def test_resume_skips_up_to_date_and_force_regrades(tmp_path):
    subs = make_class(tmp_path / "subs", {f"s{i}.py": "f" for i in range(6)})
    out = tmp_path / "gb.csv"
    first = FakeGrader()
    grade_all(subs, out, jobs=2, grader=first)
    assert sorted(first.calls) == [f"s{i}.py" for i in range(6)]
    before = mtimes(tmp_path / "gb_reports")

    again = FakeGrader()
    result = grade_all(subs, out, jobs=2, grader=again)
    assert again.calls == [] and result.skipped == [f"s{i}" for i in range(6)]
    assert mtimes(tmp_path / "gb_reports") == before
    assert [r["score"] for r in read_csv(out)] == ["2"] * 6

    (subs / "s3.py").write_text("f g")                 # a resubmission: only it is regraded
    changed = FakeGrader()
    result = grade_all(subs, out, jobs=2, grader=changed)
    assert changed.calls == ["s3.py"] and result.graded == ["s3"]
    assert read_csv(out)[3]["score"] == "3"

    os.utime(subs / "s4.py", ns=(before["s4.json"] + 10**9,) * 2)   # newer than its report
    touched = FakeGrader()
    grade_all(subs, out, jobs=2, grader=touched)
    assert touched.calls == ["s4.py"]

    reseeded = FakeGrader()
    grade_all(subs, out, jobs=2, seed=1, grader=reseeded)
    assert len(reseeded.calls) == 6

    forced = FakeGrader()
    result = grade_all(subs, out, jobs=2, seed=1, force=True, grader=forced)
    assert len(forced.calls) == 6 and result.skipped == []


def test_a_folder_is_regraded_when_another_file_is_chosen(tmp_path):
    subs = make_class(tmp_path / "subs", {"zed/hw.py": "f", "zed/data.csv": "1,2"})
    out = tmp_path / "gb.csv"
    grade_all(subs, out, grader=FakeGrader())
    (subs / "zed" / "data.csv").write_text("3,4")        # not graded: changes nothing
    grader = FakeGrader()
    grade_all(subs, out, grader=grader)
    assert grader.calls == []
    (subs / "zed" / "submission.py").write_text("f")     # now the folder is graded (hw.py beside)
    grade_all(subs, out, grader=grader)
    assert grader.calls == ["zed"]


def test_grading_errors_are_retried_not_cached(tmp_path):
    subs = make_class(tmp_path / "subs", {"ok.py": "f", "bad.py": "RAISE"})
    out = tmp_path / "gb.csv"
    grade_all(subs, out, grader=FakeGrader())
    grader = FakeGrader()
    result = grade_all(subs, out, grader=grader)
    assert grader.calls == ["bad.py"] and result.errors == ["bad"] and result.skipped == ["ok"]


def test_outputs_inside_the_graded_folder_are_not_students(tmp_path):
    subs = make_class(tmp_path, {"alice.py": "f"})
    grade_all(subs, subs / "gradebook.csv", grader=FakeGrader())
    result = grade_all(subs, subs / "gradebook.csv", grader=FakeGrader(), force=True)
    assert [r["student"] for r in result.rows] == ["alice"]


# --------------------------------------------------------------------------- atomic files

def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "gradebook.csv"
    target.write_text("old,complete\n")

    def half_then_interrupt(f):
        f.write(b"new,par")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch.atomic_write(target, half_then_interrupt)
    assert target.read_text() == "old,complete\n" and leftovers(tmp_path) == []
    atomic_write_text(target, "new,complete\n")
    assert target.read_text() == "new,complete\n" and leftovers(tmp_path) == []


def test_interrupted_batch_leaves_complete_files_and_resumes(tmp_path, monkeypatch):
    subs = make_class(tmp_path / "subs", {"a.py": "f", "b.py": "f", "c.py": "g", "d.py": "INTERRUPT"})
    out = tmp_path / "gb.csv"
    out.write_text("previous gradebook\n")
    with pytest.raises(KeyboardInterrupt):
        grade_all(subs, out, jobs=1, grader=FakeGrader())
    assert out.read_text() == "previous gradebook\n"
    reports = tmp_path / "gb_reports"
    done = sorted(p.name for p in reports.iterdir())
    assert done == ["a.json", "b.json", "c.json"]             # in sorted order, one worker
    assert [json.loads((reports / n).read_text())["score"] for n in done] == [2.0, 2.0, 1.0]
    assert leftovers(reports) == leftovers(tmp_path) == []

    # a failing CSV write (disk full, say) leaves the old gradebook and no temporary file
    (subs / "d.py").write_text("f")
    real_write = outputs.atomic_write

    def failing_csv(path, write):
        if Path(path) == out:
            real_write(path, lambda f: (write(f), f.truncate(5), _raise(OSError("No space left on device"))))
        real_write(path, write)

    monkeypatch.setattr(outputs, "atomic_write", failing_csv)
    grader = FakeGrader()
    with pytest.raises(OSError, match="No space left"):
        grade_all(subs, out, grader=grader)
    assert grader.calls == ["d.py"]                           # a, b and c were kept
    assert out.read_text() == "previous gradebook\n" and leftovers(tmp_path) == []
    monkeypatch.undo()
    grader = FakeGrader()
    grade_all(subs, out, grader=grader)
    assert grader.calls == [] and [r["student"] for r in read_csv(out)] == ["a", "b", "c", "d"]


def _raise(exc):
    raise exc


# --------------------------------------------------------------------------- bad arguments

BAD_CLI = [
    ("missing-dir", ["grade-all", "{tmp}/nope", "--out", "{tmp}/gb.csv"], "DIR: not an existing directory"),
    ("dir-is-file", ["grade-all", "{tmp}/subs/a.py", "--out", "{tmp}/gb.csv"], "not an existing directory"),
    ("no-out", ["grade-all", "{tmp}/subs"], "the following arguments are required: --out"),
    ("out-under-a-file", ["grade-all", "{tmp}/subs", "--out", "{tmp}/subs/a.py/gb.csv"],
     "is a file, not a folder"),
    ("out-is-dir", ["grade-all", "{tmp}/subs", "--out", "{tmp}/subs"], "is a directory"),
    ("jobs-zero", ["grade-all", "{tmp}/subs", "--out", "{tmp}/gb.csv", "--jobs", "0"],
     "argument --jobs/-j: expected a positive integer, got '0'"),
    ("jobs-text", ["grade-all", "{tmp}/subs", "--out", "{tmp}/gb.csv", "-j", "two"],
     "argument --jobs/-j: expected a positive integer, got 'two'"),
    ("seed-negative", ["grade-all", "{tmp}/subs", "--out", "{tmp}/gb.csv", "--seed", "-1"],
     "argument --seed: expected a non-negative integer, got '-1'"),
    ("assignment-unknown", ["grade-all", "{tmp}/subs", "--out", "{tmp}/gb.csv", "--assignment", "nope"],
     "argument --assignment/-a: unknown assignment 'nope'; built-in: "),
    ("points-syntax", ["grade-all", "{tmp}/subs", "--out", "{tmp}/gb.csv", "--points", "dW"],
     "argument --points: expected NAME=POINTS with a number, got 'dW'"),
]


@pytest.mark.parametrize("argv, message", [c[1:] for c in BAD_CLI], ids=[c[0] for c in BAD_CLI])
def test_bad_cli_arguments_exit_2(tmp_path, capsys, argv, message):
    make_class(tmp_path / "subs", {"a.py": "f"})
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "gb.csv").exists()


BAD_CALLS = [
    ("directory-missing", dict(directory="{tmp}/nope"), ValueError, "directory='.*nope' is not an existing"),
    ("directory-type", dict(directory=3), TypeError, "directory must be a path, got 3"),
    ("out-type", dict(out=None), TypeError, "out must be a path, got None"),
    ("out-under-a-file", dict(out="{tmp}/subs/a.py/gb.csv"), ValueError, "is a file, not a folder"),
    ("jobs-zero", dict(jobs=0), ValueError, "jobs must be >= 1, got 0"),
    ("jobs-bool", dict(jobs=True), TypeError, "jobs must be an int, got True"),
    ("jobs-float", dict(jobs=2.0), TypeError, "jobs must be an int, got 2.0"),
    ("seed-negative", dict(seed=-3), ValueError, "seed must be >= 0, got -3"),
    ("assignment-empty", dict(assignment=""), ValueError,
     "assignment must be a built-in name or a declaration path, got ''"),
    ("assignment-unknown", dict(assignment="nope"), AssignmentError, "unknown assignment 'nope'"),
    ("assignment-file", dict(assignment="{tmp}/missing.toml"), AssignmentError,
     "assignment file '.*missing.toml' does not exist"),
    ("points-unknown", dict(points={"nope": 1}), ValueError, "points: unknown function or test 'nope'"),
    ("force-type", dict(force="yes"), TypeError, "force must be a bool, got 'yes'"),
    ("grader-type", dict(grader="grade"), TypeError, "grader must be callable, got 'grade'"),
    ("limits-type", dict(limits={"wall": 1}), TypeError,
     "limits must be a checks.isolation.Limits, got {'wall': 1}"),
    ("points-type", dict(points=[("compute_cost", 1)]), TypeError, "points must be a mapping"),
]


@pytest.mark.parametrize("changes, error, message", [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS])
def test_bad_library_arguments(tmp_path, changes, error, message):
    make_class(tmp_path / "subs", {"a.py": "f"})
    kwargs = dict(directory=tmp_path / "subs", out=tmp_path / "gb.csv", grader=FakeGrader())
    kwargs.update({k: v.format(tmp=tmp_path) if isinstance(v, str) and "{tmp}" in v else v
                   for k, v in changes.items()})
    with pytest.raises(error, match=message):
        grade_all(kwargs.pop("directory"), kwargs.pop("out"), **kwargs)
    assert not (tmp_path / "gb.csv").exists()


def test_cli_exit_status_when_grading_itself_fails(tmp_path, capsys, monkeypatch):
    subs = make_class(tmp_path / "subs", {"a.py": "RAISE", "b.py": "RAISE"})
    monkeypatch.setattr(batch, "grade_submission", FakeGrader())
    assert main(["grade-all", str(subs), "--out", str(tmp_path / "gb.csv"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "grading failed for a; see" in err and "grading failed for b; see" in err
    (subs / "b.py").write_text("f")
    assert main(["grade-all", str(subs), "--out", str(tmp_path / "gb.csv"), "-q"]) == 0
    assert [r["status"] for r in read_csv(tmp_path / "gb.csv")] == ["error", "graded"]


# --------------------------------------------------------------------------- end to end, real engine

def test_grade_all_end_to_end(tmp_path, capsys):
    subs = tmp_path / "class"
    subs.mkdir()
    for student, example in [("amy", "correct.py"), ("ben", "missing_one_over_m.py"),
                             ("cat", "cost_sum.py"), ("dan", "syntax_error.py"), ("eve", "notebook.ipynb")]:
        shutil.copy(EXAMPLES / example, subs / (student + Path(example).suffix))
    (subs / "fay").mkdir()
    shutil.copy(EXAMPLES / "correct.py", subs / "fay" / "part1.py")
    shutil.copy(EXAMPLES / "update_plus.py", subs / "fay" / "part2.py")     # ambiguous
    (subs / "gus.ipynb").write_text("not a notebook")                       # unreadable
    out = tmp_path / "gradebook.csv"
    argv = ["grade-all", str(subs), "--out", str(out), "--jobs", "2", "--quiet"]

    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "7 students: 5 graded, 0 up to date, 2 without a usable submission, 0 grading errors" in stdout
    rows = {r["student"]: r for r in read_csv(out)}
    assert sorted(rows) == ["amy", "ben", "cat", "dan", "eve", "fay", "gus"]
    full = float(rows["amy"]["max_score"])
    assert float(rows["amy"]["score"]) == full == float(rows["eve"]["score"]) > 0
    assert 0 < float(rows["ben"]["score"]) < full and 0 < float(rows["cat"]["score"]) < full
    # the function with the syntax error (and the one that calls it) fail, the others are graded
    assert 0 < float(rows["dan"]["score"]) < 100 and "SyntaxError" in rows["dan"]["error"]
    assert rows["dan"]["status"] == "graded"
    assert rows["fay"]["status"] == "invalid" and float(rows["fay"]["score"]) == 0
    assert rows["gus"]["status"] == "invalid" and "not a valid Jupyter notebook" in rows["gus"]["error"]
    columns = list(read_csv(out)[0])
    functions = ["initialize_parameters_deep", "linear_forward", "linear_activation_forward",
                 "L_model_forward", "compute_cost", "linear_backward", "linear_activation_backward",
                 "L_model_backward", "update_parameters"]
    assert columns == ["student", "score", "max_score", *functions, "status", "error", "isolation"]
    assert sum(float(rows["amy"][f]) for f in functions) == full
    lost = {who: [f for f in functions if float(rows[who][f] or 0) < float(rows["amy"][f])] for who in rows}
    assert lost["cat"] == ["compute_cost"] and lost["eve"] == []
    assert lost["ben"] == ["linear_backward", "linear_activation_backward", "L_model_backward"]
    reports = tmp_path / "gradebook_reports"
    amy = json.loads((reports / "amy.json").read_text())
    assert amy["score"] == full and amy["tests"] and amy["gradref_batch"]["submission"] == "amy.py"
    before = mtimes(reports)

    assert main(argv) == 0
    assert "0 graded, 6 up to date" in capsys.readouterr().out
    assert mtimes(reports) == before

    assert main(argv + ["--force"]) == 0
    assert "5 graded, 0 up to date, 2 without" in capsys.readouterr().out
    after = mtimes(reports)
    assert [name for name in sorted(before) if after[name] > before[name]] == [
        "amy.json", "ben.json", "cat.json", "dan.json", "eve.json", "gus.json"]   # fay: no file, unchanged
