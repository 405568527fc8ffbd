r"""``gradref grade-all DIR --out gradebook.csv``: grade a folder of submissions.

One entry of ``DIR`` is one student:

* a file ``alice.py``, ``alice.ipynb`` or ``alice.zip`` is the submission of student ``alice``
  (the stem), on its own: the other files of ``DIR`` are classmates, never its helpers
  (``import bob`` in ``alice.py`` fails as a missing module, even with a ``bob.py`` beside it;
  ``gradref grade alice.py`` alone does use the ``.py`` files beside it that it imports);
* a folder ``alice/`` is the submission of student ``alice`` (the folder name), as one
  submission: its one ``.py``/``.ipynb`` file when it holds exactly one (in it or in its one
  sub-folder: a zip that unpacked into a folder), else the folder itself, graded by
  :func:`gradref.checks.grading.loading.load_submission`: the file to grade is
  ``submission.py``/``submission.ipynb``, else the one that defines most of the graded
  functions (or all of them, for a solution spread one function per file), and the other
  ``.py`` files are the student's modules (helper files, the course's
  package layout, e.g. ``cs231n/``); nothing to choose from, or a tie, is an error for that
  student ("several submissions: a.py, b.py"). :func:`find_submission` applies the same rule
  for the Gradescope ``run_autograder`` (``/autograder/submission``).

Everything else in ``DIR`` (other files, hidden entries, ``__pycache__``, the gradebook's own
outputs) is ignored. Two entries with one student id (``alice.py`` and ``alice/``) are an error
for that student, never a silent choice.

Outputs, next to each other: the CSV ``--out``, one JSON per student in
``<out stem>_reports/<student>.json`` (``gradebook.csv`` → ``gradebook_reports/alice.json``) and
the class report ``<out stem>_summary.md`` and ``.html`` (:mod:`.classreport`). ``--shard K/N``
grades one of N disjoint, stable shares of the students (:func:`shard_of`); ``gradref gradebook
merge`` (:mod:`.gradebook`) combines the shares into the gradebook of one run.

* CSV: ``student, score, max_score``, one column per graded function (the sum of its tests'
  scores; tests are named ``"<function>: <check>"``, in the assignment's order), then ``status``
  and ``error`` (the report's problems: a failed import, NumPy drift, code that raised; or why
  nothing passed); one row per student, sorted by id. Text cells that a spreadsheet would read as a
  formula (``=``, ``+``, ``-``, ``@``) get a leading ``'``: student ids come from students.
* JSON: the report's ``to_dict()`` (every test, its output and diagnosis) plus a
  ``"gradref_batch"`` object: student, submission, assignment (and the sha256 of a declaration
  file), seed, points, the sha256 of the submission, status and error.

``status`` is ``graded`` (a report exists, whatever the score; a file that does not even import
is graded 0 by the engine and the reason lands in ``error``), ``invalid`` (no file could be chosen
for the student, or the engine cannot read it: a corrupt notebook) or ``error`` (grading itself
raised; retried by the next run). A student without a report gets score 0 and the assignment's
``max_score``. Every file is written atomically (a temporary file in the same folder, then
``os.replace``), so an interrupted run never leaves a truncated JSON or CSV, and privately (files
0600, the reports folder 0700, whatever the umask: they hold students' grades).

Resuming: a student is skipped when its JSON exists, is not older than what is graded, and
records the same file or folder, the same content hash (sha256; of a folder: every .py/.ipynb
file's name and content), the same settings (assignment, seed,
points) and status ``graded`` or ``invalid``. ``--force`` regrades everyone. Interrupting a run (Ctrl-C)
keeps the JSONs written so far; running the same command again finishes the job.

Workers are threads: each grade runs the submission in its own sandboxed child process, so the
parent mostly waits; ``--jobs N`` grades N submissions at a time (a process pool measured no
faster). A tqdm progress bar goes to stderr when it is a terminal, unless ``--quiet``.

Exit status: 0 when the batch ran, whatever the scores; 2 when it could not run: bad arguments,
a folder without any submission, grading itself failed for every submission it attempted, or
the gradebook cannot be written (a missing folder of ``--out`` is created, as by every ``--out``);
130 when interrupted (the reports written so far are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from gradref.checks.isolation import Limits
from gradref.checks.isolation.source import serialised_parsing
from gradref.reference.argtypes import int_at_least, make_parent, name_equals_number
from tqdm import tqdm

from .assignment import AssignmentError, builtin_assignments, load_assignment
from .classreport import render_html, render_markdown, student_status, summarize
from .engine import SubmissionError, grade_submission
from .loading import choose_entry, fingerprint, package_root, split_solution, tree_files
from .outputs import atomic_write, atomic_write_text, private_dir
from .report import printable
from .seeds import ensure_secret, read_secret, secret_digest, seed_for

__all__ = [
    "BatchResult",
    "Student",
    "add_arguments",
    "atomic_write",
    "atomic_write_text",
    "private_dir",
    "discover",
    "find_submission",
    "fingerprint",
    "grade_all",
    "reports_dir_for",
    "secret_path_for",
    "run",
]

SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")
_RECORD_KEY = "gradref_batch"
_RECORD_VERSION = 1
_IGNORED_DIRS = frozenset({"__pycache__", "__MACOSX"})
_FIXED_HEAD = ("student", "score", "max_score")
_FIXED_TAIL = ("status", "error", "isolation")
_ERROR_CHARS = 300


@dataclass(frozen=True)
class Student:
    """One entry of the graded folder: an id, where it lives, and the file to grade (or why not)."""

    id: str
    path: Path                      # the .py/.ipynb file, or the student's folder
    submission: Path | None         # the file to grade; None when ``error`` says why
    error: str | None = None


@dataclass
class BatchResult:
    """What :func:`grade_all` did: the outputs and which students were graded, skipped, failed."""

    csv_path: Path
    reports_dir: Path
    rows: list[dict[str, Any]]
    graded: list[str] = field(default_factory=list)     # graded in this run
    skipped: list[str] = field(default_factory=list)    # up to date, not regraded
    invalid: list[str] = field(default_factory=list)    # no submission could be chosen
    errors: list[str] = field(default_factory=list)     # grading itself raised


# --------------------------------------------------------------------------- discovery

def _visible(p: Path) -> bool:
    return not p.name.startswith(".") and p.name not in _IGNORED_DIRS


def _is_submission_file(p: Path) -> bool:
    return p.is_file() and _visible(p) and p.suffix.lower() in SUBMISSION_SUFFIXES


def find_submission(folder: str | os.PathLike, assignment: Any = None) -> Path:
    """What to grade for the student folder ``folder`` (see the module docstring for the rule):
    its one ``.py``/``.ipynb`` file when it holds exactly one, else the folder itself (the entry
    is then chosen inside it, the other files are the student's modules).

    Raises :class:`gradref.checks.grading.SubmissionError` naming the folder when there is no
    candidate, or several and nothing tells which one to grade.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SubmissionError(f"folder={str(folder)!r} is not a directory")
    asg = load_assignment(assignment) if assignment is not None else None
    raw = tree_files(folder)
    texts = {p: data.decode("utf-8", "replace") for p, data in raw.items()}
    if asg is not None and asg.package is not None and package_root(texts, asg.package.name) \
            is not None:
        return folder
    try:
        entry = choose_entry(texts, asg, folder.name)
    except SubmissionError:
        if split_solution(texts, asg):      # one graded function per file, say
            return folder
        raise
    if len(texts) == 1:
        return folder / entry
    return folder


def discover(directory: str | os.PathLike, *, exclude: Iterable[str | os.PathLike] = (),
             assignment: Any = None) -> list[Student]:
    """The students of ``directory``, sorted by id; ``exclude`` lists paths to leave out;
    ``assignment`` helps choose the file to grade in a folder with several."""
    directory = Path(directory)
    excluded = {Path(p).resolve() for p in exclude}
    by_id: dict[str, list[Path]] = {}
    for p in sorted(directory.iterdir(), key=lambda p: p.name):
        if not _visible(p) or p.resolve() in excluded:
            continue
        if p.is_symlink():   # listed, never followed: graded as invalid with the reason
            if _is_submission_file(p) or p.is_dir():
                by_id.setdefault(p.stem if p.suffix else p.name, []).append(p)
        elif p.is_dir():
            by_id.setdefault(p.name, []).append(p)
        elif _is_submission_file(p):
            by_id.setdefault(p.stem, []).append(p)
    students = []
    for sid, paths in sorted(by_id.items()):
        if len(paths) > 1:
            names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in paths)
            students.append(Student(sid, paths[0], None, f"several entries for student {sid!r}: {names}"))
        elif paths[0].is_symlink():
            students.append(Student(sid, paths[0], None,
                                    f"{paths[0].name!r} is a symbolic link; a submission must be a "
                                    "regular file or folder (links are never followed)"))
        elif paths[0].is_dir():
            try:
                students.append(Student(sid, paths[0], find_submission(paths[0], assignment)))
            except SubmissionError as exc:
                students.append(Student(sid, paths[0], None, str(exc)))
        else:
            students.append(Student(sid, paths[0], paths[0]))
    return students


# --------------------------------------------------------------------------- grading

def reports_dir_for(out: str | os.PathLike) -> Path:
    """Where the per-student JSONs of gradebook ``out`` go: ``<out stem>_reports`` beside it."""
    out = Path(out)
    return out.with_name(out.stem + "_reports")


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _ERROR_CHARS else text[:_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True)
class _Batch:
    """Everything one run needs besides the student: settings, where files go, the grader."""

    directory: Path
    reports_dir: Path
    assignment: str
    settings: dict[str, Any]      # what a cached report must have been graded with
    max_score: float | None
    seed: int | None              # None: each student's seed comes from the secret
    limits: Any
    points: Any
    grader: Callable[..., Any]
    secret: str | None = None

    def seed_of(self, sha256: str | None) -> int | None:
        """The seed ``student``'s cases are drawn from: ``--seed``, else derived from the
        class secret and the submission's content (:func:`.seeds.seed_for`)."""
        if self.seed is not None:
            return self.seed
        return None if sha256 is None or self.secret is None else seed_for(self.secret, sha256)

    def json_path(self, student: Student) -> Path:
        return self.reports_dir / f"{student.id}.json"

    def meta(self, student: Student, sha256: str | None, status: str, error: str | None) -> dict:
        return {"version": _RECORD_VERSION, "student": student.id,
                "submission": None if student.submission is None
                else student.submission.relative_to(self.directory).as_posix(),
                **self.settings, "case_seed": self.seed_of(sha256), "sha256": sha256,
                "status": status, "error": error}

    def no_report(self, student: Student, sha256: str | None, status: str, error: str) -> dict:
        return {"score": 0.0, "max_score": self.max_score, "execution_time": None, "output": error,
                "tests": [], _RECORD_KEY: self.meta(student, sha256, status, error)}


def _report_error(report: dict[str, Any]) -> str | None:
    """What went wrong beyond the functions' own mistakes: the report's problems (a failed
    import, NumPy drift, code that raised and was skipped), else why no test got any credit
    (its summary without the title line); None when there is nothing to say. One line."""
    problems = [str(p) for p in report.get("problems") or []]
    if problems:
        return _one_line("; ".join(problems))
    tests = report.get("tests") or []
    if tests and any(t.get("status") == "passed" for t in tests):
        return None
    lines = str(report.get("output") or "").strip().splitlines()
    return _one_line("\n".join(lines[1:] or lines)) or "no test passed"


def _up_to_date(batch: _Batch, student: Student, sha256: str, newest: int) -> dict | None:
    """The cached record of ``student`` if it is still valid, else None."""
    path = batch.json_path(student)
    try:
        if path.stat().st_mtime_ns < newest:
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = record.get(_RECORD_KEY) if isinstance(record, dict) else None
    if (isinstance(meta, dict) and meta.get("version") == _RECORD_VERSION
            and meta.get("status") in ("graded", "invalid") and meta.get("sha256") == sha256
            and meta.get("submission") == student.submission.relative_to(batch.directory).as_posix()
            and all(meta.get(k) == v for k, v in batch.settings.items())):
        return record
    return None


def _grade_one(batch: _Batch, student: Student, sha256: str) -> dict[str, Any]:
    """Grade one student and write its JSON; never raises for anything the submission does."""
    try:
        # a loose file of the class folder is one student: the files beside it are classmates
        report = batch.grader(student.submission, batch.assignment, seed=batch.seed_of(sha256),
                              limits=batch.limits, points=batch.points,
                              helpers=student.path.is_dir())
        record = dict(report.to_dict())
        record[_RECORD_KEY] = batch.meta(student, sha256, "graded", _report_error(record))
        text = json.dumps(record, indent=2, allow_nan=False)
    except SubmissionError as exc:   # the engine cannot read the file (a corrupt notebook...)
        record = batch.no_report(student, sha256, "invalid", _one_line(exc))
        text = json.dumps(record, indent=2)
    except Exception as exc:         # grading itself failed: keep going, retried by the next run
        record = batch.no_report(student, sha256, "error",
                                 _one_line(f"grading failed: {type(exc).__name__}: {exc}"))
        text = json.dumps(record, indent=2)
    atomic_write_text(batch.json_path(student), text + "\n")
    return record


# --------------------------------------------------------------------------- the gradebook

def _number(x: Any) -> str:
    if x is None:
        return ""
    return f"{float(x):.6f}".rstrip("0").rstrip(".")


def _cell(text: Any) -> str:
    """A text cell that spreadsheets will not read as a formula (ids and errors come from students),
    with control characters shown as ``\\xNN``."""
    text = "" if text is None else printable(str(text))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _function_of(test_name: str) -> str:
    """A test is named ``"<function>: <check>"``; its gradebook column is the function."""
    return test_name.partition(": ")[0]


def _csv_text(records: list[dict[str, Any]], functions: list[str]) -> tuple[str, list[dict[str, Any]]]:
    seen = list(dict.fromkeys(_function_of(t["name"]) for r in records for t in r.get("tests") or []))
    columns = [f for f in functions if f in seen] + [f for f in seen if f not in functions] if seen \
        else list(functions)
    rows = []
    for record in records:
        meta = record[_RECORD_KEY]
        row: dict[str, Any] = {"student": _cell(meta["student"]), "score": _number(record.get("score") or 0),
                               "max_score": _number(record.get("max_score"))}
        per_function: dict[str, float] = {}
        for test in record.get("tests") or []:
            key = _function_of(test["name"])
            per_function[key] = per_function.get(key, 0.0) + float(test["score"])
        for column in columns:
            row[column] = _number(per_function.get(column))
        row["status"] = student_status(record)
        row["error"] = _cell(meta.get("error"))
        row["isolation"] = _cell(record.get("isolation"))
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*_FIXED_HEAD, *columns, *_FIXED_TAIL], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue(), rows


def secret_path_for(out: str | os.PathLike) -> Path:
    """Where the class secret of gradebook ``out`` lives by default: ``<out stem>_secret.txt``."""
    out = Path(out)
    return out.with_name(out.stem + "_secret.txt")


def summary_paths(out: str | os.PathLike) -> tuple[Path, Path]:
    """Where the class report of gradebook ``out`` goes: ``<out stem>_summary.md`` and ``.html``."""
    out = Path(out)
    return out.with_name(out.stem + "_summary.md"), out.with_name(out.stem + "_summary.html")


def write_gradebook(out: str | os.PathLike, records: list[dict[str, Any]], functions: list[str],
                    title: str) -> list[dict[str, Any]]:
    """Write the CSV ``out`` and the class report beside it from the per-student ``records``
    (sorted by student); returns the CSV's rows. The same records give the same files."""
    records = sorted(records, key=lambda r: str(r[_RECORD_KEY]["student"]))
    text, rows = _csv_text(records, functions)
    atomic_write_text(out, text)
    summary = summarize(records, functions, title)
    md, page = summary_paths(out)
    atomic_write_text(md, render_markdown(summary))
    atomic_write_text(page, render_html(summary, reports_dir_for(out).name))
    return rows


def shard_of(student: str, shards: int) -> int:
    """The share (1…``shards``) a student belongs to: a hash of the id, so shares are disjoint,
    cover everyone, and a student stays in its share when others are added or removed."""
    return zlib.crc32(student.encode("utf-8", "surrogatepass")) % shards + 1


# --------------------------------------------------------------------------- the library function

def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def _settings(assignment: str, seed: int | None, points: Any, secret: str | None,
              limits: Limits | None = None) -> dict[str, Any]:
    """What a report depends on besides the submission; a declaration file counts by content,
    the secret by its fingerprint."""
    path = Path(assignment)
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.suffix in (".toml", ".json") \
        and path.is_file() else None
    return {"assignment": assignment, "assignment_sha256": digest, "seed": seed,
            "secret_sha256": None if seed is not None or secret is None else secret_digest(secret),
            "points": None if not points else sorted([str(k), float(v)] for k, v in points.items()),
            "limits": None if limits is None else {f: getattr(limits, f) for f in
                                                   ("wall", "cpu", "load", "statement", "budget")}}


def grade_all(directory: str | os.PathLike, out: str | os.PathLike, *, assignment: str = "step-by-step",
              seed: int | None = None, jobs: int = 1, force: bool = False, progress: bool = False,
              limits: Limits | None = None, points: Mapping[str, float] | None = None,
              grader: Callable[..., Any] | None = None,
              shard: tuple[int, int] | None = None,
              secret: str | os.PathLike | None = None) -> BatchResult:
    """Grade every submission in ``directory`` into the gradebook ``out`` (CSV) and its JSONs.

    ``assignment``, ``seed``, ``limits`` and ``points`` are passed to
    :func:`gradref.checks.grading.grade_submission`; ``grader`` replaces it (same signature; for tests).
    ``seed`` None (the default) draws each student's cases from a seed derived from the class
    secret and the submission's content (:mod:`.seeds`): the file ``secret`` (its path), by
    default ``<out stem>_secret.txt`` beside the gradebook, made (0600) on the first run; the
    seed is recorded in each JSON (``seed``, ``gradref_batch.case_seed``). An explicit ``seed``
    grades everyone on that one (to reproduce a grade).
    ``jobs`` submissions are graded at a time; ``force`` regrades up-to-date reports;
    ``progress`` shows a tqdm bar on stderr; ``shard = (K, N)`` grades only share K of N
    (:func:`shard_of`; ``gradref gradebook merge`` combines the shares). Bad arguments raise
    ``TypeError``/``ValueError`` (``AssignmentError`` for the assignment) naming the argument
    and its value; nothing a submission does makes this function raise.
    """
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path, got {directory!r}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a path, got {out!r}")
    directory, out = Path(directory), Path(out)
    if not directory.is_dir():
        raise ValueError(f"directory={str(directory)!r} is not an existing directory")
    if out.is_dir():
        raise ValueError(f"out={str(out)!r} is a directory; expected a CSV file path")
    if not isinstance(assignment, (str, os.PathLike)) or not os.fspath(assignment):
        raise ValueError(f"assignment must be a built-in name or a declaration path, got {assignment!r}")
    assignment = os.fspath(assignment)
    declared = load_assignment(assignment).with_points(points)   # AssignmentError / ValueError
    seed = None if seed is None else _check_int("seed", seed, 0)
    if secret is not None and not isinstance(secret, (str, os.PathLike)):
        raise TypeError(f"secret must be the path of a secret file, got {secret!r}")
    if seed is not None and secret is not None:
        raise ValueError(f"seed={seed!r} and secret={os.fspath(secret)!r} exclude each other")
    jobs = _check_int("jobs", jobs, 1)
    for name, value in (("force", force), ("progress", progress)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {value!r}")
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"limits must be a checks.isolation.Limits, got {limits!r}")
    if shard is not None:
        if not (isinstance(shard, tuple) and len(shard) == 2
                and all(isinstance(x, int) and not isinstance(x, bool) for x in shard)
                and 1 <= shard[0] <= shard[1]):
            raise ValueError(f"shard must be (K, N) with 1 <= K <= N, got {shard!r}")
    if grader is not None and not callable(grader):
        raise TypeError(f"grader must be callable, got {grader!r}")
    make_parent(out)       # like every --out: missing folders are created (ValueError if a file)
    reports_dir = reports_dir_for(out)
    if reports_dir.exists() and not reports_dir.is_dir():
        raise ValueError(f"out={str(out)!r}: {str(reports_dir)!r} exists and is not a directory")
    private_dir(reports_dir)

    secret_path = secret_path_for(out) if secret is None else Path(secret)
    secret_text = None
    if seed is None:
        secret_text = read_secret(secret_path) if secret is not None else ensure_secret(secret_path)[0]
    settings = _settings(assignment, seed, points, secret_text, limits)
    batch = _Batch(directory, reports_dir, assignment, settings,
                   declared.max_score, seed, limits, points,
                   grade_submission if grader is None else grader, secret_text)
    excluded = [out, reports_dir, *summary_paths(out), secret_path]
    students = discover(directory, exclude=excluded, assignment=declared)
    if shard is not None:
        students = [s for s in students if shard_of(s.id, shard[1]) == shard[0]]
    result = BatchResult(csv_path=out, reports_dir=reports_dir, rows=[])
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for student in students:
        if student.submission is None:
            record = batch.no_report(student, None, "invalid", student.error or "no submission")
            text = json.dumps(record, indent=2) + "\n"
            try:
                unchanged = batch.json_path(student).read_text(encoding="utf-8") == text
            except (OSError, ValueError):
                unchanged = False
            if not unchanged:
                atomic_write_text(batch.json_path(student), text)
            records[student.id] = record
            result.invalid.append(student.id)
            continue
        sha256, newest = fingerprint(student.submission)
        record = None if force else _up_to_date(batch, student, sha256, newest)
        if record is None:
            todo.append((student, sha256))
        else:
            records[student.id] = record
            result.skipped.append(student.id)

    bar = tqdm(total=len(todo), file=sys.stderr, disable=not progress, unit="submission",
               desc="grading", dynamic_ncols=True)
    # Threads grade side by side: CPython 3.11's ast.parse must then go one at a time.
    with bar, serialised_parsing() if jobs > 1 else contextlib.nullcontext(), \
            ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grade-all") as pool:
        futures = {pool.submit(_grade_one, batch, student, sha256): student for student, sha256 in todo}
        try:
            for future in as_completed(futures):
                student = futures[future]
                records[student.id] = record = future.result()
                status = record[_RECORD_KEY]["status"]
                {"graded": result.graded, "invalid": result.invalid}.get(status, result.errors).append(
                    student.id)
                bar.update(1)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise

    result.rows = write_gradebook(out, [records[s.id] for s in students],
                                  list(dict.fromkeys(f.display for f in declared.functions)),
                                  declared.title)
    for name in ("graded", "skipped", "invalid", "errors"):
        getattr(result, name).sort()
    return result


# --------------------------------------------------------------------------- the command

def _existing_dir(value: str) -> Path:
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"not an existing directory: {value!r}")
    return Path(value)


def _out_path(value: str) -> Path:
    p = Path(value)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a directory; expected a CSV file path")
    return p


def _assignment(value: str) -> str:
    try:
        load_assignment(value)
    except AssignmentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def shard_spec(value: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N (argparse type of ``--shard``)."""
    k, sep, n = value.partition("/")
    try:
        shard = (int(k), int(n)) if sep else None
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard[0] <= shard[1]:
        raise argparse.ArgumentTypeError(f"--shard must be K/N with 1 <= K <= N, e.g. 2/8; got "
                                         f"{value!r}")
    return shard


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Grade every submission in DIR (one per .py/.ipynb file or per folder) into a CSV gradebook "
        "plus one JSON report per student in <out stem>_reports/. Up-to-date reports are reused "
        "unless --force.")
    parser.add_argument("directory", metavar="DIR", type=_existing_dir, help="the folder of submissions")
    parser.add_argument("--out", "-o", required=True, type=_out_path, metavar="CSV",
                        help="the gradebook to write, e.g. gradebook.csv")
    parser.add_argument("--assignment", "-a", default="step-by-step", type=_assignment,
                        help=f"a built-in assignment ({', '.join(builtin_assignments())}) or the "
                             "path of a declaration file (.toml or .json); default: step-by-step")
    parser.add_argument("--jobs", "-j", default=1, type=int_at_least(1), metavar="N",
                        help="submissions graded at a time (default: 1)")
    parser.add_argument("--seed", default=None, type=int_at_least(0), metavar="S",
                        help="grade everyone on the cases of seed S (to reproduce a grade); "
                             "default: each student's seed is derived from the class secret")
    parser.add_argument("--secret-file", default=None, metavar="FILE",
                        help="the class secret the seeds are derived from (default: "
                             "<out stem>_secret.txt beside the gradebook, made on the first run; "
                             "keep it private, and the same for regrading)")
    parser.add_argument("--points", type=name_equals_number, action="append", default=[],
                        metavar="NAME=POINTS",
                        help="override points, as for `grade` (repeatable)")
    parser.add_argument("--force", action="store_true", help="regrade even up-to-date reports")
    parser.add_argument("--shard", type=shard_spec, metavar="K/N", default=None,
                        help="grade only share K of N (disjoint and stable by student id), e.g. "
                             "--shard 3/8 in job 3 of 8; combine the gradebooks with "
                             "`gradref gradebook merge`")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar (there is none either when stderr is not a terminal)")
    from .commands import add_limit_arguments

    add_limit_arguments(parser)
    from gradref.checks.isolation.levels import add_require_sandbox_argument

    add_require_sandbox_argument(parser)


def run(args: argparse.Namespace) -> int:
    from gradref.checks.isolation import IsolationError
    from gradref.checks.isolation.levels import require_sandbox

    try:
        if args.require_sandbox:
            require_sandbox()
    except IsolationError as exc:
        print(f"gradref grade-all: --require-sandbox: {exc}", file=sys.stderr)
        return 2
    from .commands import limits_from_args

    try:
        result = grade_all(args.directory, args.out, assignment=args.assignment, seed=args.seed,
                           secret=args.secret_file,
                           jobs=args.jobs, force=args.force, points=dict(args.points) or None,
                           progress=not args.quiet and sys.stderr.isatty(), shard=args.shard,
                           limits=limits_from_args(args, args.assignment))
    except (TypeError, ValueError) as exc:     # AssignmentError is a ValueError
        print(f"gradref grade-all: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"gradref grade-all: cannot write the gradebook: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gradref grade-all: interrupted; the reports written so far are kept, "
              "run the same command again to finish", file=sys.stderr)
        return 130
    if not result.rows:
        print(f"gradref grade-all: error: no submissions in {str(args.directory)!r} (expected "
              f"one .py, .ipynb or .zip file or one folder per student); nothing was graded",
              file=sys.stderr)
        return 2
    print(f"{len(result.rows)} students: {len(result.graded)} graded, {len(result.skipped)} up to date, "
          f"{len(result.invalid)} without a usable submission, {len(result.errors)} grading errors; "
          f"gradebook {result.csv_path}, reports in {result.reports_dir}{os.sep}")
    for sid in result.errors:
        print(f"grading failed for {sid}; see {result.reports_dir / (sid + '.json')}", file=sys.stderr)
    attempted = len(result.graded) + len(result.errors)
    return 2 if attempted and not result.graded else 0   # grading itself could not run
