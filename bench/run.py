#!/usr/bin/env python
"""``make bench``: gradref's reference, checker and grader measured against peers in one run.

Usage::

    python bench/run.py [--quick] [--only PART[,PART]] [--full-large] [--make-check]
                        [--repeats N] [--out PATH] [--profile NAME] [--list-profiles]

Parts: ``gradients`` (the reference's gradient against bare NumPy, PyTorch, HIPS autograd,
JAX; fraction of GEMM peak), ``checker`` (full, sampled and directional checks against the naive
loop and torch gradcheck; the planted-error localisation), ``grading`` (grade-all throughput;
with ``--make-check`` the test suite's wall time). ``--full-large`` adds the full elementwise
check at P ≈ 670,000 and 1,000,000 (minutes).

Before NumPy is imported the script re-executes itself with one BLAS/OpenMP/XLA thread and
glibc's malloc thresholds fixed (see :mod:`bench.timing`), then pins itself to one CPU. It prints
the measurements, a table of ratios (gradref ÷ peer, same run) and every target with PASS or
MISS, and writes everything to ``bench/results.json``.

``--profile NAME`` runs one measurement under cProfile and prints the top entries instead
(``--list-profiles`` shows the names).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import timing  # noqa: E402  (standard library only: safe before the re-exec)

__all__ = ["PARTS", "parse_args", "main", "evaluate_targets", "format_report", "profile_names"]

PARTS = ("gradients", "checker", "grading")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(PARTS), metavar="PARTS",
                   help=f"comma-separated parts to run, from {', '.join(PARTS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and one repeat: proves the script works, measures nothing")
    p.add_argument("--full-large", action="store_true",
                   help="also run gradref's full elementwise check at P ~ 670k and 1M (minutes)")
    p.add_argument("--make-check", action="store_true",
                   help="also time the test suite (python -m pytest -q; minutes)")
    p.add_argument("--repeats", type=int, default=None, metavar="N",
                   help="timing rounds per measurement (default 15 for gradients, 3 for checks)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json", metavar="PATH",
                   help="where the JSON results go (default bench/results.json)")
    p.add_argument("--profile", metavar="NAME", help="cProfile one measurement and print it")
    p.add_argument("--list-profiles", action="store_true", help="the names --profile accepts")
    args = p.parse_args(argv)
    parts = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in parts if s not in PARTS]
    if bad:
        p.error(f"--only: unknown part(s) {', '.join(bad)}; choose from {', '.join(PARTS)}")
    if args.repeats is not None and args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    args.parts = parts
    return args


# --------------------------------------------------------------------------- configuration
def config(args: argparse.Namespace) -> dict:
    """Sizes and repeats of every part; ``--quick`` shrinks all of them."""
    from bench import checker, gradients

    if args.quick:
        return {
            "gradients": dict(shapes={"tiny": ([2, 8, 4, 1], 16), "small": ([6, 5, 3], 8)},
                              repeats=1, batch_seconds=0.0, peak_n=64, round_peak_n=64),
            "checker": dict(sizes={"P100": ([4, 8, 6, 1], 8), "P300": ([20, 12, 1], 4)},
                            large=([12, 10, 6, 2], 4), full_large=True, naive_subset=40,
                            gradcheck_subset=4, exact_limit=200, repeats=1),
            "grading": dict(n=2, jobs=2),
        }
    return {
        "gradients": dict(shapes=gradients.SHAPES, repeats=args.repeats or 15,
                          batch_seconds=0.05, peak_n=2048),
        "checker": dict(sizes=checker.SIZES, large=checker.LARGE, full_large=args.full_large,
                        naive_subset=2000, gradcheck_subset=512, exact_limit=20_000,
                        repeats=args.repeats or 3),
        "grading": dict(n=50, jobs=2),
    }


# --------------------------------------------------------------------------- environment
def _git(*cmd: str) -> str | None:
    try:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(cpu: int | None) -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu_model": model,
            "cpu_count": os.cpu_count(), "pinned_cpu": cpu, "python": sys.version.split()[0],
            "hostname": platform.node()}


def versions() -> dict:
    import numpy as np

    from bench import peers

    out = {"numpy": np.__version__}
    for dist in ("torch", "jax", "jaxlib", "autograd", "gradref"):
        out[dist] = peers.peer_version(dist)
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        out["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - informational only
        out["blas"] = None
    out["gradref_commit"] = _git("rev-parse", "HEAD")
    out["gradref_dirty_files"] = len((_git("status", "--porcelain") or "").splitlines())
    return out


# --------------------------------------------------------------------------- targets
def _t(name, target, measured, passed, note="", unit=""):
    return {"name": name, "target": target, "measured": measured, "unit": unit,
            "status": "PASS" if passed is True else ("MISS" if passed is False else "NOT RUN"),
            "note": note}


def evaluate_targets(results: dict) -> list[dict]:
    """Every target of the issue, PASS/MISS/NOT RUN, with the number it was judged on."""
    out = []
    grad = results.get("gradients")
    limits = {"tiny": 1.25, "medium": 1.10, "large": 1.05}
    if grad:
        for shape, limit in limits.items():
            entry = grad["shapes"].get(shape)
            t = _medians(entry)
            for side, label in (("gradref", "reference gradient (validated call)"),
                                ("gradref_kernel", "reference kernel (check=False)")):
                r = entry["ratios"].get(f"{side}/numpy") if entry else None
                note = ""
                if side == "gradref" and {"gradref", "gradref_kernel"} <= set(t):
                    v = t["gradref"] - t["gradref_kernel"]
                    note = (f"validation {_fmt_s(v)} per call, "
                            f"{100 * v / t['gradref']:.0f}% of it")
                elif side == "gradref_kernel" and {"gradref_kernel", "numpy"} <= set(t):
                    note = f"kernel - bare script = {_fmt_s(t['gradref_kernel'] - t['numpy'])}"
                out.append(_t(f"{label} / bare NumPy, {shape}", f"<= {limit:.2f}x",
                              r, None if r is None else r <= limit, note, unit="x"))
        for peer in ("torch", "autograd"):
            for shape in limits:
                entry = grad["shapes"].get(shape)
                r = entry["ratios"].get(f"gradref/{peer}") if entry else None
                note = entry["skipped"].get(peer, "") if entry else ""
                mm = (entry or {}).get("matmuls_only", {})
                if peer == "torch" and r is not None and {"matmuls_numpy", "matmuls_torch"} <= set(mm):
                    note = (f"matrix products alone: NumPy's BLAS "
                            f"{_fmt_s(mm['matmuls_numpy']['timing']['median'])}, torch's "
                            f"{_fmt_s(mm['matmuls_torch']['timing']['median'])}")
                out.append(_t(f"reference gradient faster than {peer}, {shape}", "< 1.00x", r,
                              None if r is None else r < 1.0, note, unit="x"))
        entry = grad["shapes"].get("large")
        if entry:
            mm = entry.get("matmuls_only", {}).get("matmuls_numpy")
            note = (f"bare script {100 * entry['fraction_of_peak']['numpy']:.1f}%; NumPy's matrix "
                    f"products alone {100 * mm['fraction_of_peak']:.1f}%"
                    if mm and "numpy" in entry["fraction_of_peak"] else "")
            for side in ("gradref", "gradref_kernel"):
                f = entry["fraction_of_peak"].get(side)
                out.append(_t(f"{side} fraction of GEMM peak, large", ">= 85%",
                              None if f is None else 100 * f, None if f is None else f >= 0.85,
                              note, unit="%"))
    chk = results.get("checker")
    if chk:
        p10 = chk["sizes"].get("P10k", {}).get("methods", {})
        full = p10.get("gradref_full")
        for peer, limit in (("naive", 30.0), ("gradcheck_slow", 100.0)):
            other = p10.get(peer)
            speed = other["seconds"] / full["seconds"] if full and other else None
            note = ""
            if speed is not None:
                P = chk["sizes"]["P10k"]["P"]
                note = (f"per parameter: gradref {_fmt_s(full['seconds'] / P)} "
                        f"({full['evaluations'] / P:.0f} evaluations), {peer} "
                        f"{_fmt_s(other['seconds'] / P)} ({other['evaluations'] / P:.0f})")
                same = p10.get("naive_same_estimate")
                if peer == "naive" and same:
                    note += (f"; against the naive loop with the same steps and error estimate "
                             f"({_fmt_s(same['seconds'] / P)}): "
                             f"{same['seconds'] / full['seconds']:.1f}x")
            out.append(_t(f"full check at P~10k faster than {peer}", f">= {limit:.0f}x", speed,
                          None if speed is None else speed >= limit, note, unit="x"))
        if full and p10.get("naive"):
            e, en = full["error"], p10["naive"]["error"]
            ok = e is not None and en is not None and e <= 2.0 * en and full["passed"] is True
            out.append(_t("full check at P~10k: no loss of accuracy", "error <= 2x naive's, "
                          "verdict pass", e, ok, f"naive error {en:.3g}" if en is not None else ""))
        else:
            out.append(_t("full check at P~10k: no loss of accuracy", "error <= 2x naive's", None,
                          None))
        big = chk.get("large", {})
        full_l = big.get("full")
        out.append(_t("full check at P~670k", "< 300 s",
                      None if not full_l else full_l["seconds"],
                      None if not full_l else full_l["seconds"] < 300.0,
                      big.get("skipped", {}).get("full", ""), unit="s"))
        planted = big.get("planted")
        ok = None
        if planted:
            ok = planted["seconds"] < 1.0 and planted.get("localised") is True
        note = big.get("skipped", {}).get("planted", "")
        if planted:
            note = ("element found" if planted.get("localised") else
                    "planted element not localised") + (
                f"; {planted['kink_draws']}/{planted['draws']} draws crossed a kink; "
                f"check_network(..., explain=False); with the diagnosis that follows a "
                f"failure: {planted['seconds_with_diagnosis']:.2f} s")
        out.append(_t("directional localisation of a planted error at P~670k",
                      "< 1 s, element found", None if not planted else planted["seconds"], ok,
                      note, unit="s"))
    gr = results.get("grading")
    if gr:
        g = gr.get("grade_all")
        ok = None if not g else (g["per_minute"] >= 60 and not g.get("problem"))
        out.append(_t("grading throughput, --jobs 2", ">= 60 /min",
                      None if not g else g["per_minute"], ok,
                      gr.get("skipped", {}).get("grade_all", "") or (g or {}).get("problem", ""),
                      unit="/min"))
        mc = gr.get("make_check")
        out.append(_t("make check wall time", "< 300 s", None if not mc else mc["seconds"],
                      None if not mc else (mc["seconds"] < 300 and mc["returncode"] == 0),
                      "" if mc else "run with --make-check", unit="s"))
    return out


def _medians(entry: dict | None) -> dict[str, float]:
    return {} if not entry else {s: t["median"] for s, t in entry["timings"].items()}


# --------------------------------------------------------------------------- printing
def _fmt_s(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _fmt(x, spec=".3g") -> str:
    return "-" if x is None else format(x, spec)


def format_report(results: dict) -> str:
    lines = []
    load = results.get("load_average", {})
    lines.append(f"gradref bench, {results.get('date')}; load average at start "
                 f"{load.get('start')}, at end {load.get('end')} "
                 f"(1/5/15 min; {results['machine'].get('cpu_count')} CPUs)")
    grad = results.get("gradients")
    if grad:
        peak = grad["peak"]
        lines.append("")
        lines.append(f"1. Gradient of the mean BCE cost, float64, 1 thread (median per call; "
                     f"ratio = gradref ÷ side). GEMM {peak['n']}² alone: {peak['gflops']:.1f} "
                     f"GFLOP/s;")
        lines.append("   %peak against a GEMM " + ", ".join(
            f"{e['peak']['n']}² timed in the rounds of {shape}: {e['peak']['gflops']:.1f} GFLOP/s"
            for shape, e in grad["shapes"].items()))
        head = f"{'shape':8} {'side':15} {'time':>10} {'validated÷':>11} {'kernel÷':>9} {'%peak':>6}"
        lines.append(head)
        for shape, e in grad["shapes"].items():
            for side, t in e["timings"].items():
                r1 = e["ratios"].get(f"gradref/{side}")
                r2 = e["ratios"].get(f"gradref_kernel/{side}")
                lines.append(f"{shape:8} {side:15} {_fmt_s(t['median']):>10} {_fmt(r1, '.3f'):>11} "
                             f"{_fmt(r2, '.3f'):>9} {100 * e['fraction_of_peak'][side]:6.1f}")
            for side, mm in e.get("matmuls_only", {}).items():
                lines.append(f"{shape:8} {side:15} {_fmt_s(mm['timing']['median']):>10} "
                             f"{'':>11} {'':>9} {100 * mm['fraction_of_peak']:6.1f}"
                             f"   (its matrix products only)")
            for side, why in e["skipped"].items():
                lines.append(f"{shape:8} {side:15} skipped: {why}")
    chk = results.get("checker")
    if chk:
        lines.append("")
        lines.append("2. Gradient checks on a correct gradient (error = max|numeric - g| / max|g|; "
                     "* = extrapolated from a subset)")
        lines.append(f"{'size':6} {'P':>9} {'method':20} {'time':>10} {'evaluations':>13} "
                     f"{'error':>9} {'verdict':>7} {'full÷':>7}")
        for size, e in chk["sizes"].items():
            full = e["methods"].get("gradref_full")
            for method, r in e["methods"].items():
                star = "*" if r.get("extrapolated") else " "
                speed = full["seconds"] / r["seconds"] if full and r["seconds"] else None
                verdict = {True: "pass", False: "FAIL", None: "-"}[r.get("passed")]
                lines.append(f"{size:6} {e['P']:>9,} {method:20} {_fmt_s(r['seconds']):>9}{star} "
                             f"{r['evaluations']:>13,} {_fmt(r['error'], '.2e'):>9} {verdict:>7} "
                             f"{_fmt(speed, '.4f'):>7}")
            for method, why in e["skipped"].items():
                lines.append(f"{size:6} {e['P']:>9,} {method:20} skipped: {why}")
        big = chk.get("large", {})
        full = big.get("full")
        for key in ("naive", "gradcheck_slow", "full", "planted", "planted_tanh"):
            r = big.get(key)
            if r:
                star = "*" if r.get("extrapolated") else " "
                planted = key.startswith("planted")
                speed = full["seconds"] / r["seconds"] if full and not planted else None
                verdict = {True: "pass", False: "FAIL", None: "-"}[r.get("passed")]
                extra = (f"  {r['hidden']} hidden; planted {r['planted']}, found {r['found']}; "
                         f"{r['failed_draws']}/{r['draws']} draws failed, {r['kink_draws']} crossed "
                         f"a kink" if planted else "")
                lines.append(f"{'large':6} {big.get('P', 0):>9,} {key:20} {_fmt_s(r['seconds']):>9}{star} "
                             f"{r['evaluations']:>13,} {_fmt(r.get('error'), '.2e'):>9} "
                             f"{verdict:>7} {_fmt(speed, '.4f'):>7}{extra}")
        for key, why in big.get("skipped", {}).items():
            lines.append(f"{'large':6} {big.get('P', 0):>9,} {key:20} skipped: {why}")
    gr = results.get("grading")
    if gr:
        lines.append("")
        lines.append("3. Grading and the test suite (subprocesses, all CPUs)")
        g = gr.get("grade_all")
        if g:
            lines.append(f"grade-all {g['n']} submissions --jobs {g['jobs']}: {g['seconds']:.2f} s, "
                         f"{g['per_minute']:.0f} submissions/minute")
        mc = gr.get("make_check")
        if mc:
            lines.append(f"make check: {mc['seconds']:.1f} s (exit {mc['returncode']}): {mc['summary']}")
        for key, why in gr.get("skipped", {}).items():
            lines.append(f"{key}: skipped: {why}")
    targets = results.get("targets", [])
    if targets:
        lines.append("")
        lines.append("Targets")
        for t in targets:
            m = t["measured"]
            shown = "-" if m is None else f"{m:.3g}{t['unit']}"
            note = f"  ({t['note']})" if t["note"] else ""
            lines.append(f"  {t['status']:7} {t['name']}: {shown} (target {t['target']}){note}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- profiling
def profile_names(cfg: dict) -> list[str]:
    from bench import gradients

    names = [f"gradients.{shape}.{side}" for shape in cfg["gradients"]["shapes"]
             for side in gradients.SIDES]
    names += [f"checker.{size}.{method}" for size in cfg["checker"]["sizes"]
              for method in ("naive", "naive_same_estimate", "gradref_full", "gradref_full_default",
                             "gradref_sampled", "gradref_directional", "gradcheck_slow",
                             "gradcheck_fast")]
    names += ["checker.large.full", "checker.large.planted", "checker.large.planted_tanh"]
    return names


def run_profile(name: str, cfg: dict, top: int = 30) -> int:
    import cProfile
    import pstats

    from bench import checker, gradients

    parts = name.split(".")
    if name not in profile_names(cfg):
        print(f"unknown profile {name!r}; choose from:\n  " + "\n  ".join(profile_names(cfg)),
              file=sys.stderr)
        return 2
    if parts[0] == "gradients":
        sizes, m = cfg["gradients"]["shapes"][parts[1]]
        fns, skips = gradients.gradient_cases(sizes, m, [parts[2]])
        if parts[2] in skips:
            print(f"{name}: skipped: {skips[parts[2]]}", file=sys.stderr)
            return 1
        fn = fns[parts[2]]
        fn()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 0.5:
            fn()
            n += 1
        calls = max(5, n * 4)  # about 2 s of calls

        def target():
            for _ in range(calls):
                fn()
        label = f"{calls} calls"
    else:
        c = cfg["checker"]
        sizes, m = c["large"] if parts[1] == "large" else c["sizes"][parts[1]]
        problem = checker.make_problem(sizes, m)
        method = parts[2]
        if method in ("full", "planted", "planted_tanh"):
            if method == "planted_tanh":
                problem = checker.make_problem(sizes, m, hidden="tanh")

            def target():
                return (checker.gradref_run(problem, "full") if method == "full"
                        else checker.planted_localisation(problem))
        else:
            big = problem.P > c["exact_limit"]
            target = {
                "naive": lambda: checker.naive_run(problem, subset=c["naive_subset"] if big else None),
                "naive_same_estimate": lambda: checker.naive_same_estimate_run(
                    problem, subset=c["naive_subset"] // 2 if big else None),
                "gradref_full": lambda: checker.gradref_run(problem, "full"),
                "gradref_full_default": lambda: checker.gradref_run(problem, "full", oracle="both",
                                                                    intermediates=True),
                "gradref_sampled": lambda: checker.gradref_run(problem, "sampled"),
                "gradref_directional": lambda: checker.gradref_run(problem, "directional"),
                "gradcheck_slow": lambda: checker.gradcheck_run(
                    problem, fast=False, subset=c["gradcheck_subset"] if big else None),
                "gradcheck_fast": lambda: checker.gradcheck_run(problem, fast=True),
            }[method]
        label = "1 call"
        if "gradref" in method or method in ("full", "planted", "planted_tanh"):
            try:
                checker.warm_up_gradref()
            except checker.CheckerUnavailable as exc:
                print(f"{name}: skipped: {exc}", file=sys.stderr)
                return 1
    prof = cProfile.Profile()
    start = time.perf_counter()
    try:
        prof.runcall(target)
    except checker.CheckerUnavailable as exc:
        print(f"{name}: skipped: {exc}", file=sys.stderr)
        return 1
    wall = time.perf_counter() - start
    print(f"profile of {name} ({label}, {wall:.3f} s under cProfile; load {timing.load_average()})")
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return 0


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    timing.ensure_environment(str(Path(__file__).resolve()), argv)
    cpu = timing.pin()
    cfg = config(args)
    if args.list_profiles:
        print("\n".join(profile_names(cfg)))
        return 0
    if args.profile:
        return run_profile(args.profile, cfg)

    from bench import checker, gradients, grading

    wall_start = time.perf_counter()
    results: dict = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "argv": argv, "quick": args.quick,
        "machine": machine_info(cpu),
        "load_average": {"start": timing.load_average()},
        "conditions": {"environment": {k: os.environ.get(k) for k in timing.PINNED_ENV},
                       "pinned_cpu": cpu,
                       "timer": "time.perf_counter; warm-up, calibrated batches, interleaved "
                                "rounds, gc off, median of rounds"},
        "versions": versions(),
        "skipped": {},
    }
    print(results["load_average"]["start"] and
          f"load average {results['load_average']['start']} on {os.cpu_count()} CPUs; "
          f"pinned to CPU {cpu}; threads 1")
    if "gradients" in args.parts:
        print("1. gradients")
        results["gradients"] = gradients.run_gradients(**cfg["gradients"])
    if "checker" in args.parts:
        print("2. checker")
        results["checker"] = checker.run_checker(**cfg["checker"])
    if "grading" in args.parts:
        print("3. grading")
        env = timing.original_env()
        gr: dict = {"skipped": {}}
        with timing.unpinned():
            try:
                gr["grade_all"] = grading.run_grading(**cfg["grading"], env=env)
            except (OSError, subprocess.SubprocessError) as exc:
                gr["skipped"]["grade_all"] = f"{type(exc).__name__}: {exc}"
            gr["boundary_parts"] = grading.run_boundary_parts()
            if args.make_check:
                gr["make_check"] = grading.run_make_check(env=env)
            else:
                gr["skipped"]["make_check"] = "run with --make-check (takes minutes)"
        results["grading"] = gr
    for part in PARTS:
        if part not in args.parts:
            results["skipped"][part] = "not selected (--only)"
    results["load_average"]["end"] = timing.load_average()
    results["targets"] = evaluate_targets(results) if not args.quick else []
    results["wall_seconds"] = time.perf_counter() - wall_start
    print()
    print(format_report(results))
    print(f"\nwall time {results['wall_seconds']:.1f} s; results in {args.out}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
