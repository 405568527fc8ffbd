"""Mutation testing of the core, the checker and the grader's comparison: ``make mutants``.

Each mutant (``mutate.py``) of a target module is written into a private copy of the source
tree and the tests that cover that module run against it with ``pytest -x``; the mutant is
*killed* when they fail (or time out), *survives* when they pass. Mutants listed in
``equivalents.txt`` (with the reason each is equivalent) are left out of the score::

    score = killed / (mutants - equivalent)

Usage (from the repository root)::

    python tests/mutation/run.py [--only FILE ...] [--jobs 2] [--timeout 120]
                                 [--rev REV] [--tests suite] [--out results.json]

``--rev REV`` measures the source and tests of a git revision instead of the working tree
(``--rev 3056d1f`` gave the "before" column of docs/mutation.md). ``--tests suite`` runs the
whole test suite (minus the slow sandbox and packaging tests) for each mutant instead of the
mapped files. Children are forked from a process that has already imported NumPy, autograd,
Hypothesis and pytest, so a mutant costs only its tests. Not collected by pytest (no
``test_`` prefix) and not part of ``make check``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from mutate import mutants  # noqa: E402

#: target module -> the test files that cover it (run with -x for each mutant).
TARGETS: dict[str, list[str]] = {
    "reference/activations.py": ["tests/test_activations.py", "tests/test_bad_input.py"],
    "reference/losses.py": ["tests/test_losses.py", "tests/test_bad_input.py"],
    "reference/normalization.py": ["tests/test_layers.py", "tests/test_network_layers.py"],
    "reference/dropout.py": ["tests/test_layers.py", "tests/test_network_layers.py"],
    "reference/rowmajor.py": ["tests/test_layers.py"],
    "reference/network.py": ["tests/test_network_options_contract.py", "tests/test_network.py",
                             "tests/test_network_contract.py", "tests/test_bad_input.py",
                             "tests/test_network_layers.py"],
    "checks/finite_diff.py": ["tests/test_tolerance_model.py", "tests/test_finite_diff.py",
                              "tests/test_generic_kinks.py", "tests/test_dtypes_and_keywords.py",
                              "tests/test_arraylike.py", "tests/test_kinks.py"],
    "checks/kinks.py": ["tests/test_tolerance_model.py", "tests/test_kinks.py",
                        "tests/test_generic_kinks.py"],
    "checks/layered_fd.py": ["tests/test_layered_fd_contract.py", "tests/test_layered_fd.py",
                             "tests/test_network_layers.py", "tests/test_layer_mutants.py",
                             "tests/test_validate_layers.py", "tests/test_verify.py"],
    "checks/network_fd.py": ["tests/test_network_fd.py", "tests/test_network_fd_contract.py",
                             "tests/test_kinks.py",
                             "tests/test_check_api.py", "tests/test_dtypes_and_keywords.py",
                             "tests/test_verify.py"],
    "checks/tolerances.py": ["tests/test_sensitivity.py", "tests/test_tolerance_model.py",
                             "tests/test_finite_diff.py", "tests/test_dtypes_and_keywords.py",
                             "tests/test_generic_kinks.py", "tests/test_diagnosis.py",
                             "tests/test_diagnosis_thresholds.py"],
    "checks/grading/compare.py": ["tests/test_compare_mutants.py",
                                  "tests/test_grading_engine.py"],
    "checks/isolation/protocol.py": ["tests/test_protocol_mutants.py",
                                     "tests/test_isolation.py", "-k", "protocol"],
    # optimisers (issue 17)
    "reference/optimizers.py": ["tests/test_optimizers.py", "tests/test_optimizer_diagnosis.py"],
    "checks/diagnosis/optimizers.py": ["tests/test_optimizer_diagnosis.py"],
    "checks/optimizer_mutants.py": ["tests/test_optimizer_diagnosis.py"],
    # the optimization assignment's own diagnosis (issue 18)
    "checks/diagnosis/minibatches.py": ["tests/test_assignment_optimization.py", "-k", "batch"],
    "checks/diagnosis/schedules.py": ["tests/test_assignment_optimization.py", "-k",
                                      "schedule"],
}
#: A progress line after every this many mutants (a slow file runs for an hour).
PROGRESS_EVERY = 25
#: With ``--tests suite``: everything but the slow sandbox/packaging/bundle tests.
SUITE_EXCLUDE = ("test_isolation.py", "test_packaging.py", "test_bundle.py",
                 "test_grade_all.py", "test_example_submissions.py", "test_bench_smoke.py")


def _equivalents() -> dict[str, dict[str, str]]:
    """``file -> {mutant name: reason}`` from equivalents.txt (``FILE | NAME | REASON``)."""
    out: dict[str, dict[str, str]] = {}
    path = HERE / "equivalents.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        file, name, reason = (p.strip() for p in line.split("|", 2))
        out.setdefault(file, {})[name] = reason
    return out


def _copy_tree(rev: str | None, dest: Path) -> None:
    """The repository (tracked and new files, or revision ``rev``) under ``dest/gradref``."""
    target = dest / "gradref"
    if rev is None:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                               check=True, capture_output=True, text=True).stdout.split()
        for f in files:
            src = ROOT / f
            if src.is_file():
                (target / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target / f)
    else:
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def _tests_for(file: str, repo: Path, mode: str) -> list[str]:
    if mode == "suite":
        return [str(p.relative_to(repo)) for p in sorted((repo / "tests").glob("test_*.py"))
                if p.name not in SUITE_EXCLUDE]
    out = []
    for t in TARGETS[file]:
        if t.startswith("-") or (out and out[-1] == "-k") or (repo / t).exists():
            out.append(t)
    return out


def _child(repo: Path, file: str, source: str, tests: list[str]) -> None:
    """In a forked child: write the mutant, run the tests, exit with pytest's status."""
    try:  # die with the runner (Linux): no orphaned children when it is interrupted
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    os.chdir(repo)
    (repo / file).write_text(source, encoding="utf-8")
    sys.path.insert(0, str(repo.parent))
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    import pytest

    code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", *tests])
    os._exit(int(code))


def run(files: list[str], jobs: int, timeout: float, rev: str | None, mode: str,
        log=print, previous: dict | None = None, out: Path | None = None) -> dict:
    """Measure ``files``; with ``previous`` (an earlier result), run only the mutants that
    survived it and count the others as it did."""
    # heavy imports once, before forking (never gradref: children import the mutated copy)
    import autograd.numpy  # noqa: F401
    import hypothesis  # noqa: F401
    import numpy  # noqa: F401
    import pytest  # noqa: F401

    equivalents = _equivalents()
    scratch = Path(tempfile.mkdtemp(prefix="gradref-mutants-"))
    workers = []
    for k in range(jobs):
        _copy_tree(rev, scratch / f"w{k}")
        workers.append(scratch / f"w{k}" / "gradref")
    results: dict[str, dict] = {}
    try:
        for file in files:
            repo0 = workers[0]
            original = (repo0 / file).read_text(encoding="utf-8")
            todo = mutants(original)
            before = None if previous is None else previous.get(file)
            if before is not None:
                again = set(before["survived"]) | set(before["equivalent_names"])
                todo = [m for m in todo if m.name in again]
            tests = _tests_for(file, repo0, mode)
            eq = equivalents.get(file, {})
            outcome: dict[str, str] = {}
            start = time.perf_counter()
            running: dict[int, tuple[int, object, float]] = {}   # pid -> (worker, mutant, t0)
            free = list(range(jobs))
            queue = list(todo)
            while queue or running:
                while queue and free:
                    m = queue.pop(0)
                    w = free.pop()
                    pid = os.fork()
                    if pid == 0:
                        try:
                            _child(workers[w], file, m.source, tests)
                        finally:
                            os._exit(3)
                    running[pid] = (w, m, time.perf_counter())
                done = []
                for pid, (w, m, t0) in running.items():
                    got, status = os.waitpid(pid, os.WNOHANG)
                    if got == 0:
                        if time.perf_counter() - t0 > timeout:
                            os.kill(pid, signal.SIGKILL)
                            os.waitpid(pid, 0)
                            outcome[m.name] = "timeout"
                            done.append((pid, w))
                        continue
                    code = os.waitstatus_to_exitcode(status)
                    outcome[m.name] = "survived" if code == 0 else \
                        "killed" if code == 1 else f"error {code}"
                    done.append((pid, w))
                for pid, w in done:
                    del running[pid]
                    (workers[w] / file).write_text(original, encoding="utf-8")
                    free.append(w)
                    if len(outcome) % PROGRESS_EVERY == 0 and len(outcome) < len(todo):
                        alive = sum(v == "survived" for v in outcome.values())
                        log(f"  {file}: {len(outcome)}/{len(todo)} run, {alive} surviving so "
                            f"far, {time.perf_counter() - start:.0f} s")
                if not done:
                    time.sleep(0.05)
            survivors = [m.name for m in todo if outcome[m.name] == "survived"]
            errors = [m.name for m in todo if outcome[m.name].startswith("error")]
            equivalent = [n for n in survivors if n in eq]
            open_ = [n for n in survivors if n not in eq]
            total = len(todo) if before is None else before["mutants"]
            counted = total - len(equivalent)
            killed = counted - len(open_)
            results[file] = {
                "mutants": total, "killed": killed, "equivalent": len(equivalent),
                "survived": open_, "equivalent_names": equivalent,
                "timeouts": sum(v == "timeout" for v in outcome.values()),
                "errors": errors, "tests": tests,
                "score": round(killed / counted, 4) if counted else None,
                "seconds": round(time.perf_counter() - start, 1)}
            stale = sorted(set(eq) - {m.name for m in todo})
            if stale:
                results[file]["stale_equivalents"] = stale
            log(f"{file}: {killed}/{counted} killed "
                f"({100 * killed / max(counted, 1):.1f}%), {len(equivalent)} equivalent, "
                f"{len(open_)} surviving, {results[file]['seconds']} s")
            for n in open_:
                log(f"    survived: {n}")
            if out is not None:   # after every file: an interrupted run keeps what it measured
                out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                               encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", metavar="FILE", choices=list(TARGETS),
                   help="target modules (default: all of " + ", ".join(TARGETS) + ")")
    p.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    p.add_argument("--timeout", type=float, default=180.0, metavar="S",
                   help="seconds per mutant before it counts as killed (default 180)")
    p.add_argument("--rev", default=None, help="measure this git revision (default: the "
                                               "working tree)")
    p.add_argument("--tests", choices=("mapped", "suite"), default="mapped",
                   help="the mapped test files (default) or the whole suite per mutant")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--rerun", type=Path, default=None, metavar="JSON",
                   help="run again only the mutants that survived in this earlier --out")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)   # progress reaches a log file as it happens
    # a terminated run still removes its scratch copies (the finally in run())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    previous = None if args.rerun is None else json.loads(args.rerun.read_text("utf-8"))
    files = args.only or (list(previous) if previous else list(TARGETS))
    results = run(files, max(1, args.jobs), args.timeout, args.rev, args.tests,
                  previous=previous, out=args.out)
    return 0 if all(not r["survived"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
