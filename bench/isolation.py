"""The sandbox's cost: start-up per submission at each isolation level, and grade-all throughput.

    .venv/bin/python bench/isolation.py            # start-up x 10 per level, grade-all on 40
    .venv/bin/python bench/isolation.py --starts 20 --submissions 60

Start-up is what every submission pays once: ``PythonSubmission(...)`` started, loaded, one
trivial call answered and everything closed (bubblewrap, the cgroup, the staging folder).  It is
measured at every level this machine can run (``namespaces`` with bubblewrap; ``uid`` as root,
``none`` otherwise) with the same limits, interleaved round by round so that load from other
processes hits each level alike; the figure is the median.  ``grade-all --jobs 2`` runs on fresh
copies of ``examples/submissions/*.py`` (see ``bench/grading.py``) once per level, with
``GRADREF_ISOLATION`` choosing it; the issue's target is >= 60 submissions per minute.

The boundary parts of issue 22 are measured beside the start-up without them, in the same
rounds: the seccomp filter (built by the parent, installed by every child), the ``uid`` level's
private namespaces with a ``hidepid`` ``/proc`` and the grader's blanked command line, and the
key check at the end (one read of ``/proc/key-users``); the ratio is "with / without".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from grading import run_grading  # noqa: E402  (bench/ is not a package)
from gradref.checks.isolation import Limits, PythonSubmission, process  # noqa: E402
from gradref.checks.isolation.levels import available_level  # noqa: E402

SOURCE = "import numpy as np\n\ndef f(x):\n    return np.asarray(x) * 2\n"
TARGET_PER_MINUTE = 60.0


def levels_here() -> list[str]:
    return list(dict.fromkeys([available_level(), "uid" if os.geteuid() == 0 else "none"]))


def new_parts(enabled: bool) -> None:
    """Switch the issue-22 boundary parts on (as shipped) or off (the boundary before them)."""
    process._seccomp.spec = _SPEC if enabled else (lambda: None)
    process._private_problem[:] = [] if enabled else ["switched off by the benchmark"]
    process._purge_keys = _PURGE if enabled else (lambda uid: None)


_SPEC, _PURGE = process._seccomp.spec, process._purge_keys


def one_start(level: str, parts: bool = True) -> tuple[float, str]:
    new_parts(parts)
    started = time.perf_counter()
    with PythonSubmission(SOURCE, limits=Limits(), isolation=level) as sub:
        result = sub.call("f", [1.0, 2.0])
        scope = sub.isolation.limits_scope
    if not result.ok:
        raise RuntimeError(f"{level}: {result.message}")
    return time.perf_counter() - started, scope


def _time(function, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - started) / repeat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10, help="start-ups per level (default 10)")
    parser.add_argument("--submissions", type=int, default=40,
                        help="submissions for grade-all --jobs 2 (default 40; 0 skips it)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    levels = levels_here()
    samples: dict[str, list[float]] = {level: [] for level in levels}
    without: dict[str, list[float]] = {level: [] for level in levels}
    scopes: dict[str, str] = {}
    for level in levels:  # warm-up (imports, harness copy, probe)
        one_start(level)
        one_start(level, parts=False)
    for _ in range(args.starts):
        for level in levels:
            seconds, scopes[level] = one_start(level)
            samples[level].append(seconds)
            without[level].append(one_start(level, parts=False)[0])
    new_parts(True)
    results: dict = {"start_up": {}, "grade_all": {}, "issue22_parts": {}}
    print(f"start-up per submission (start + load + one call + close), median of {args.starts}:")
    for level in levels:
        median = statistics.median(samples[level])
        results["start_up"][level] = {"median_s": median, "samples": samples[level],
                                      "limits_scope": scopes[level]}
        print(f"  {level:10s} {median * 1000:7.1f} ms   (min {min(samples[level]) * 1000:.1f}, "
              f"max {max(samples[level]) * 1000:.1f}; limits: {scopes[level]})")
    print("the issue-22 boundary parts (seccomp filter; uid: private namespaces, hidepid /proc, "
          "blank command line; key check), start-up with / without them:")
    for level in levels:
        on, off = statistics.median(samples[level]), statistics.median(without[level])
        results["issue22_parts"][level] = {"with_s": on, "without_s": off, "ratio": on / off}
        print(f"  {level:10s} {on * 1000:7.1f} ms / {off * 1000:7.1f} ms = {on / off:.3f}x "
              f"({(on - off) * 1000:+.1f} ms per submission)")
    filter_cost = _time(lambda: process._seccomp.filter_program(), 200)
    keys_cost = _time(lambda: process.uid_has_keys(1_600_000_001), 200)
    print(f"  building the filter: {filter_cost * 1e6:.0f} us (once per process); "
          f"the key check: {keys_cost * 1e6:.0f} us per submission")
    if args.submissions > 0:
        print(f"grade-all --jobs 2 on {args.submissions} submissions "
              f"(target >= {TARGET_PER_MINUTE:g}/minute):")
        for level in levels:
            env = {**os.environ, "GRADREF_ISOLATION": level}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            run = run_grading(args.submissions, 2, env=env, log=lambda text: None)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            run["cpu_s_per_submission"] = cpu / args.submissions
            # what 2 idle cores would sustain: the load of other processes does not enter
            run["per_minute_on_2_idle_cores"] = 2 * 60.0 / run["cpu_s_per_submission"]
            verdict = "PASS" if run["per_minute"] >= TARGET_PER_MINUTE and "problem" not in run \
                else "MISS"
            results["grade_all"][level] = run
            print(f"  {level:10s} {run['seconds']:6.1f} s  {run['per_minute']:6.1f}/minute  "
                  f"{verdict}{'  ' + run['problem'] if 'problem' in run else ''}; "
                  f"{run['cpu_s_per_submission']:.2f} CPU s per submission = "
                  f"{run['per_minute_on_2_idle_cores']:.0f}/minute on 2 idle cores")
        print(f"  (load average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
