"""Smoke test of ``bench/run.py``: the whole script on tiny sizes with one repeat.

It proves the script runs end to end (re-exec with the pinned environment, every part, the
table, the JSON) and that every formulation computes the same numbers; it asserts nothing about
speed. Peers that are not installed (``make check`` does not need torch or jax) are skipped by
the script itself, with a reason, and so are absent here.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text(encoding="utf-8"))


def test_runs_in_the_pinned_environment(quick):
    _, results = quick
    env = results["conditions"]["environment"]
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["MALLOC_MMAP_THRESHOLD_"] and env["MALLOC_TRIM_THRESHOLD_"]
    assert results["versions"]["numpy"]


def test_every_gradient_formulation_agrees_with_the_reference(quick):
    _, results = quick
    for shape in results["gradients"]["shapes"].values():
        sides = set(shape["timings"]) | set(shape["skipped"])
        assert {"gradref", "gradref_kernel", "numpy", "torch", "autograd", "jax"} <= sides
        for side, deviation in shape["max_relative_deviation_from_gradref"].items():
            assert deviation < 1e-10, (side, deviation)
        for side, reason in shape["skipped"].items():
            assert reason, side


def test_checker_methods_are_accurate_on_a_correct_gradient(quick):
    _, results = quick
    sizes = results["checker"]["sizes"]
    assert sizes
    for entry in sizes.values():
        for method, r in entry["methods"].items():
            assert r["evaluations"] > 0, method
            if r["error"] is not None:
                assert r["error"] < 1e-6, (method, r["error"])
            assert r["passed"] in (True, None), method


def test_grading_ran_and_the_report_is_printed(quick):
    stdout, results = quick
    g = results["grading"]["grade_all"]
    assert g["returncode"] == 0 and g["gradebook_rows"] == g["n"]
    assert "1. Gradient of the mean BCE cost" in stdout
    assert "2. Gradient checks" in stdout


def test_bad_arguments_exit_with_status_2():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--only", "nonsense"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "nonsense" in proc.stderr


def test_layers_bench_runs_and_agrees():
    """bench/layers.py --quick: the reference and the bare script agree, and a ratio is printed."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "layers.py"), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ratio" in proc.stdout and "disagrees" not in proc.stdout
