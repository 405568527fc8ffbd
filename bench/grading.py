"""Part 3: grading throughput and the wall time of the test suite, both as subprocesses.

``gradref grade-all DIR --out … --jobs 2`` runs on a fresh folder of ``n`` submissions
made by copying ``examples/submissions/*.py`` round-robin (``s001_correct.py``, …), so nothing is
cached from an earlier run; throughput is ``n`` divided by the wall time of the whole command,
interpreter start-up included. The test suite is ``python -m pytest -q`` from the repository
root (what ``make check`` runs once the virtualenv exists).

Both run with every CPU allowed and the user's environment (the benchmark's one-thread variables
removed): they measure what a user of the machine gets, not a pinned kernel.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["ROOT", "make_submissions", "run_grading", "run_make_check", "run_boundary_parts"]

ROOT = Path(__file__).resolve().parent.parent


def make_submissions(directory: Path, n: int, source: Path | None = None) -> list[str]:
    """Write ``n`` submissions into ``directory``, copies of ``source/*.py`` taken in turn;
    returns the example file names used, in order."""
    source = ROOT / "examples" / "submissions" if source is None else source
    examples = sorted(source.glob("*.py"))
    if not examples:
        raise FileNotFoundError(f"no *.py submissions in {source}")
    for i in range(n):
        ex = examples[i % len(examples)]
        shutil.copyfile(ex, directory / f"s{i + 1:03d}_{ex.stem}.py")
    return [e.name for e in examples]


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_grading(n: int = 50, jobs: int = 2, *, env: Mapping[str, str] | None = None,
                timeout: float = 1800.0, log: Callable[[str], None] = print) -> dict:
    """Time ``grade-all`` on ``n`` fresh submissions with ``jobs`` workers."""
    with tempfile.TemporaryDirectory(prefix="gradref-bench-") as tmp:
        subs = Path(tmp) / "submissions"
        subs.mkdir()
        examples = make_submissions(subs, n)
        out = Path(tmp) / "gradebook.csv"
        cmd = [sys.executable, "-m", "gradref", "grade-all", str(subs), "--out", str(out),
               "--jobs", str(jobs), "--quiet"]
        log(f"  grade-all: {n} submissions, --jobs {jobs} …")
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=None if env is None else dict(env),
                              capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - start
        rows = 0
        if out.exists():
            rows = max(0, len(out.read_text(encoding="utf-8").strip().splitlines()) - 1)
        summary = _tail(proc.stdout + proc.stderr, 3)
    graded = re.search(r"(\d+) graded", summary)
    result = {"command": " ".join(["python", *cmd[1:5], "DIR", *cmd[6:]]), "n": n,
              "jobs": jobs, "examples": examples, "seconds": seconds,
              "per_minute": n / seconds * 60.0, "returncode": proc.returncode,
              "gradebook_rows": rows, "graded": int(graded.group(1)) if graded else None,
              "summary": summary}
    log(f"    {seconds:.2f} s: {result['per_minute']:.0f} submissions/minute "
        f"(exit {proc.returncode}, {rows} gradebook rows)")
    if proc.returncode != 0 or rows != n:
        result["problem"] = f"exit {proc.returncode}, {rows} of {n} rows: {summary}"
    return result


def run_make_check(*, env: Mapping[str, str] | None = None, timeout: float = 3600.0,
                   log: Callable[[str], None] = print) -> dict:
    """Wall time of the test suite, ``python -m pytest -q``, from the repository root."""
    cmd = [sys.executable, "-m", "pytest", "-q"]
    log("  make check (python -m pytest -q) …")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=None if env is None else dict(env),
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    summary = _tail(proc.stdout, 1)
    log(f"    {seconds:.1f} s, exit {proc.returncode}: {summary}")
    return {"command": "python -m pytest -q", "seconds": seconds, "returncode": proc.returncode,
            "summary": summary}


def _best(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` timings of ``fn()``, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_boundary_parts(*, repeat: int = 2, log: Callable[[str], None] = print) -> dict:
    """Per submission, the cost of the grading side's boundary parts of issue 22 against the
    grade of one correct submission measured in the same run: the text made safe (every test
    output one-lined/quoted, every problem as Markdown), the seed derived from the class secret
    (the submission's hash and an HMAC), the bounded tree walk of a 20-file folder, and the
    finite-difference judgement (its own time inside one real grade)."""
    from gradref.checks.grading import engine
    from gradref.checks.grading.batch import fingerprint
    from gradref.checks.grading.engine import grade_source
    from gradref.checks.grading.loading import tree_files
    from gradref.checks.grading.seeds import new_secret, seed_for
    from gradref.checks.grading.textsafe import markdown, one_line, quoted

    source_path = ROOT / "examples" / "submissions" / "correct.py"
    source = source_path.read_text()
    judged = [0.0]
    judge = engine._FunctionGrader._judge_finite_differences

    def timed_judge(self, cases, results):      # the judgement's own time, inside a real grade
        start = time.perf_counter()
        judge(self, cases, results)
        judged[0] += time.perf_counter() - start

    engine._FunctionGrader._judge_finite_differences = timed_judge
    try:
        report = grade_source(source)
        judged[0] = 0.0
        grade = _best(lambda: grade_source(source), 1)
    finally:
        engine._FunctionGrader._judge_finite_differences = judge
    def textsafe() -> None:
        for t in report.tests:
            one_line(t.output)
            quoted(t.output.splitlines())
            markdown(t.output)

    secret = new_secret()
    with tempfile.TemporaryDirectory(prefix="gradref-bench-") as tmp:
        folder = Path(tmp) / "student"
        for i in range(20):
            (folder / f"pkg{i % 4}").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source_path, folder / f"pkg{i % 4}" / f"m{i}.py")
        parts = {"textsafe": _best(textsafe, 20 * repeat),
                 "seed": _best(lambda: seed_for(secret, fingerprint(source_path)[0]), 20 * repeat),
                 "tree_walk_20_files": _best(lambda: tree_files(folder), 20 * repeat),
                 "fd_judgement": judged[0]}
    result = {"grade_one_submission_s": grade, "parts_s": parts,
              "ratio_to_grade": {k: v / grade for k, v in parts.items()}}
    log(f"  boundary parts per submission (grade of one: {grade * 1e3:.0f} ms):")
    for name, seconds in parts.items():
        log(f"    {name}: {seconds * 1e6:.0f} µs ({100 * seconds / grade:.2f}% of a grade)")
    return result
