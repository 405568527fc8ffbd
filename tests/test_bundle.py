"""The Gradescope bundle: its files and modes, reproducibility, bad arguments, and
``run_autograder`` run locally against a fake ``/autograder`` layout (``AUTOGRADER_ROOT``), with
the real engine. Nothing is pip-installed: ``run_autograder`` puts the bundled source first on
``sys.path``, so these runs use the bundled copy of the project."""

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from gradref.checks.cli import main as gradref_main
from gradref.checks.grading.bundle import build_bundle


def main(argv):
    return gradref_main(["bundle", *argv])

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build_bundle(tmp_path_factory.mktemp("bundle") / "gradescope-bundle.zip")


def mode(info):
    return info.external_attr >> 16


def test_bundle_holds_scripts_and_project_source(bundle):
    with zipfile.ZipFile(bundle) as z:
        infos = {i.filename: i for i in z.infolist()}
        setup, run = z.read("setup.sh").decode(), z.read("run_autograder").decode()
    for name in ("setup.sh", "run_autograder"):
        assert stat.S_ISREG(mode(infos[name])) and mode(infos[name]) & 0o111 == 0o111, name
    for name in ("requirements.txt", "gradref/__init__.py", "gradref/__main__.py",
                 "gradref/reference/__init__.py", "gradref/reference/network.py",
                 "gradref/checks/cli/__init__.py",
                 "gradref/checks/grading/__init__.py", "gradref/checks/grading/batch.py",
                 "gradref/checks/isolation/_sandbox.py"):
        assert name in infos and mode(infos[name]) & 0o444 == 0o444, name
    assert not [n for n in infos if "__pycache__" in n or n.endswith(".pyc") or "/." in n]
    assert not [n for n in infos if n.startswith(("gradref/tests", "gradref/.venv", "gradref/examples"))]
    assert setup.startswith("#!/usr/bin/env bash\n") and "pip install" in setup
    assert "-r requirements.txt" in setup and "bubblewrap" in setup
    assert run.startswith("#!/usr/bin/env python3\n") and "ASSIGNMENT = 'step-by-step'" in run
    assert "--format" in run and "gradescope" in run
    assert subprocess.run(["bash", "-n"], input=setup, text=True).returncode == 0
    compile(run, "run_autograder", "exec")


def test_bundle_is_reproducible(bundle, tmp_path):
    again = build_bundle(tmp_path / "again.zip")
    assert again.read_bytes() == bundle.read_bytes()


def test_cli_writes_the_bundle_and_rejects_bad_arguments(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "b.zip")]) == 0
    assert zipfile.is_zipfile(tmp_path / "b.zip")
    assert "b.zip" in capsys.readouterr().out
    # a missing folder is created, as by every --out; a file in the path is refused
    for argv, message in [(["--out", str(tmp_path / "b.zip" / "c.zip")], "is a file, not a folder"),
                          (["--out", str(tmp_path)], "is a directory"),
                          (["--out", str(tmp_path / "c.zip"), "--assignment", "nope"],
                           "unknown assignment 'nope'"),
                          ([], "the following arguments are required: --out")]:
        assert main(argv) == 2 and message in capsys.readouterr().err, argv
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip"]


def test_a_declaration_file_travels_in_the_bundle(tmp_path):
    declaration = tmp_path / "my-course.toml"
    shutil.copy(Path(__file__).resolve().parents[1] / "checks/grading/assignments/step-by-step.toml",
                declaration)
    with zipfile.ZipFile(build_bundle(tmp_path / "b.zip", assignment=declaration)) as z:
        assert z.read("assignment.toml") == declaration.read_bytes()
        run = z.read("run_autograder").decode()
    assert "ASSIGNMENT = str(ROOT / 'source' / 'assignment.toml')" in run


def fake_autograder(bundle, root: Path, submission: dict) -> Path:
    """Lay out ``root`` the way Gradescope does: the zip unpacked (with its modes) in source/,
    run_autograder copied to the root, the student's files in submission/."""
    source = root / "source"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(source)
        for info in z.infolist():
            os.chmod(source / info.filename, mode(info) & 0o777)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, example in submission.items():
        shutil.copy(EXAMPLES / example, root / "submission" / name)
    return root / "run_autograder"


def run_autograder(script: Path, root: Path):
    env = dict(os.environ, AUTOGRADER_ROOT=str(root),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(script)], env=env, cwd=root, capture_output=True, text=True, timeout=120)
    results = root / "results" / "results.json"
    assert results.exists(), done.stdout + done.stderr
    return done, json.loads(results.read_text())


def test_run_autograder_grades_the_submission(bundle, tmp_path):
    script = fake_autograder(bundle, tmp_path, {"my_hw.ipynb": "notebook.ipynb", "notes.txt": "README.md"})
    done, results = run_autograder(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "grading my_hw.ipynb (step-by-step)" in done.stdout
    tests = results["tests"]
    assert tests and all({"name", "score", "max_score"} <= set(t) for t in tests)
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests))
    assert results["score"] == pytest.approx(sum(t["max_score"] for t in tests))
    assert results["score"] == results["max_score"] > 0


def test_run_autograder_buggy_ambiguous_and_corrupt_submissions(bundle, tmp_path):
    script = fake_autograder(bundle, tmp_path / "a", {"hw.py": "correct.py", "submission.py": "cost_sum.py"})
    done, results = run_autograder(script, tmp_path / "a")
    assert done.returncode == 0, done.stderr
    lost = {t["name"].partition(": ")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost == {"compute_cost"}

    script = fake_autograder(bundle, tmp_path / "b", {"a.py": "correct.py", "b.py": "correct.py"})
    done, results = run_autograder(script, tmp_path / "b")
    assert done.returncode == 0, done.stderr
    assert results["score"] == 0 and results["tests"] == []
    assert "several submissions in 'submission': a.py, b.py" in results["output"]

    script = fake_autograder(bundle, tmp_path / "c", {})
    (tmp_path / "c" / "submission" / "hw.ipynb").write_text("{not json")
    done, results = run_autograder(script, tmp_path / "c")
    assert done.returncode == 0, done.stderr
    assert results["score"] == 0 and "not a valid Jupyter notebook" in results["output"]


def test_the_bundle_grades_on_a_seed_nobody_else_knows(bundle, tmp_path):
    """Without a secret every run draws its own seed (named in the output); with one bundled
    (0600), the seed is derived from it and the submission: the same on every run."""
    seeds = []
    for k in (1, 2):
        script = fake_autograder(bundle, tmp_path / f"drawn{k}", {"hw.py": "correct.py"})
        done, results = run_autograder(script, tmp_path / f"drawn{k}")
        assert done.returncode == 0, done.stderr
        seeds.append(int(results["output"].split("Cases drawn with seed ")[1].split()[0]))
    assert seeds[0] != seeds[1] and 0 not in seeds
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's own secret, never shown\n")
    kept = build_bundle(tmp_path / "with-secret.zip", secret=secret)
    with zipfile.ZipFile(kept) as z:
        assert mode(z.getinfo("secret.txt")) & 0o777 == 0o600
    derived = []
    for k in (1, 2):
        script = fake_autograder(kept, tmp_path / f"secret{k}", {"hw.py": "correct.py"})
        done, results = run_autograder(script, tmp_path / f"secret{k}")
        assert done.returncode == 0, done.stderr
        assert "(derived from the secret)" in results["output"]
        derived.append(results["output"].split("Cases drawn with seed ")[1].split()[0])
    assert derived[0] == derived[1] and int(derived[0]) not in seeds + [0]
