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

__all__ = ["ROOT", "make_submissions", "run_grading", "run_make_check"]

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
