"""gradref as users install it: one ``gradref`` namespace, one command, a wheel that grades.

The wheel test builds the wheel from a copy of the source tree, installs it (not editable) into a
fresh virtual environment and runs the command from an empty folder. Its dependencies come from
this test run's own environment through a ``.pth`` line (no network), which adds that folder to
``sys.path`` *after* the new environment's site-packages and runs none of its ``.pth`` files, so
the editable install of the checkout is invisible there: ``gradref`` can only be the wheel's.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import gradref

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PACKAGE_DIRS = {"gradref.reference": ROOT / "reference", "gradref.checks": ROOT / "checks"}


def _subpackages() -> set[str]:
    names = {"gradref"}
    for top, folder in PACKAGE_DIRS.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            names.add(".".join((top, *rel)))
    return names


def test_every_package_folder_is_declared():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == _subpackages()
    assert config["package-dir"] == {"gradref": ".", "gradref.reference": "reference",
                                     "gradref.checks": "checks"}


def test_public_api_and_version():
    from gradref.checks.api import check_gradients, check_network
    from gradref.reference import Network

    assert gradref.Network is Network
    assert gradref.check_gradients is check_gradients and gradref.check_network is check_network
    for name in gradref.__all__:
        assert getattr(gradref, name) is not None, name
    assert gradref.__version__.count(".") >= 2
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gradref.nope  # noqa: B018


def _modules_after(statement: str, cwd: Path) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=cwd).stdout
    return set(out.split())


def test_reference_imports_with_numpy_alone(tmp_path):
    loaded = _modules_after("import gradref.reference, gradref.reference.cli", tmp_path)
    heavy = {"autograd", "hypothesis", "pytest", "nbformat", "tqdm", "matplotlib", "gradref.checks"}
    assert not {m.partition(".")[0] for m in loaded} & heavy - {"gradref"}
    assert "gradref.checks" not in loaded and "numpy" in loaded


def test_import_gradref_and_the_plugin_import_nothing_heavy(tmp_path):
    loaded = _modules_after("import gradref, gradref.checks.pytest_plugin", tmp_path)
    assert not loaded & {"numpy", "autograd", "hypothesis", "nbformat", "gradref.reference"}


def _imports(path: Path, package: str) -> set[str]:
    """Every gradref module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("gradref")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.startswith("gradref"):
                found.add(module)
                found |= {f"{module}.{a.name}" for a in node.names}
    return found


def _module_files() -> dict[str, tuple[Path, str]]:
    """module name -> (file, the package its relative imports start from)."""
    files = {"gradref": (ROOT / "__init__.py", "gradref")}
    for top, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if rel[-1] == "__init__":
                name = ".".join((top, *rel[:-1]))
                files[name] = (path, name)
            elif not rel[-1].startswith("_child") and not rel[-1].startswith("_sandbox"):
                name = ".".join((top, *rel))
                files[name] = (path, name.rpartition(".")[0])
    return files


def test_no_module_imports_one_that_imports_it_back():
    files = _module_files()
    graph = {name: {m for m in _imports(path, pkg) if m in files and m != name}
             for name, (path, pkg) in files.items()}
    # a package's __init__ re-exporting its own modules is not a cycle of design
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    cycles = []
    for a in graph:
        for b in graph[a]:
            if a in graph.get(b, ()):
                cycles.append(tuple(sorted((a, b))))
    assert sorted(set(cycles)) == []


def test_python_dash_m_gradref_and_the_console_script(tmp_path):
    for cmd in ([sys.executable, "-m", "gradref", "--version"],
                [str(Path(sys.executable).with_name("gradref")), "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout.strip() == f"gradref {gradref.__version__}"


def test_every_subcommand_has_help_and_bad_arguments_exit_2(capsys):
    from gradref.checks.cli import COMMANDS, main

    names = [c.name for c in COMMANDS]
    assert names == ["verify", "train", "fixtures", "validate", "grade", "grade-all",
                     "assignments", "bundle", "gradebook"]
    for name in names:
        assert main([name, "--help"]) == 0
        assert f"usage: gradref {name}" in capsys.readouterr().out
        assert main([name, "--no-such-option"]) == 2
        assert f"gradref {name}: error:" in capsys.readouterr().err
    target = f"{EXAMPLES / 'implementations' / 'buggy.py'}:gradients"
    assert main(["validate", target, "--layers", "2-16-1", "--activations", "relu", "--loss", "bce"]) == 2
    err = capsys.readouterr().err
    assert "argument --layers: expected at least two comma-separated positive integers" in err
    assert "invalid literal" not in err


def test_json_alias_and_format_out_write_the_same_report(tmp_path, capsys):
    from gradref.checks.cli import main

    args = ["train", "--dataset", "moons", "--n", "100", "--epochs", "1", "--quiet"]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert main([*args, "--format", "json", "--out", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert main([*args, "--json", str(tmp_path / "a.json"), "--format", "text"]) == 0
    assert main([*args, "--json", str(tmp_path / "a.json"), "--out", str(tmp_path / "c.json")]) == 2
    assert "argument --json" in capsys.readouterr().err


# --------------------------------------------------------------------------- the wheel
def _copy_source(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv", ".tox", "build", "dist", "*.egg-info",
                                    "__pycache__", ".hypothesis", ".pytest_cache")
    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def _build(kind: str, source: Path, out: Path) -> Path:
    """The wheel or sdist of ``source``, built offline with this environment's setuptools."""
    code = ("import sys\nfrom setuptools import build_meta as b\n"
            f"print(b.build_{kind}(sys.argv[1]))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                          cwd=source)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    wheel = _build("wheel", _copy_source(work / "src"), work)
    env = work / "env"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "gradref-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: pip sees this run's gradref through the .pth line and must not
    # uninstall it from there; the wheel goes into the new environment alone.
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                           "--ignore-installed", "--disable-pip-version-check", "--quiet", str(wheel)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    empty = work / "empty"
    empty.mkdir()
    return wheel, env, empty


def _run(env: Path, cwd: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(env / "bin" / argv[0]), *argv[1:]], capture_output=True, text=True,
                          cwd=cwd, env=clean, timeout=timeout)


def test_the_wheel_holds_one_namespace(wheel_env):
    wheel, _, _ = wheel_env
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"gradref"}
    for module in ("gradref/__init__.py", "gradref/__main__.py", "gradref/reference/network.py",
                   "gradref/checks/cli/__init__.py", "gradref/checks/isolation/_child.py",
                   "gradref/checks/grading/assignments/step-by-step.toml",
                   "gradref/checks/validation/engine.py", "gradref/checks/diagnosis/__init__.py"):
        assert module in names, module
    source = {str(p.relative_to(ROOT)) for d in PACKAGE_DIRS.values() for p in d.rglob("*.py")}
    installed = {n.split("/", 1)[1] for n in names if n.endswith(".py") and n.count("/") > 1}
    assert source <= installed, sorted(source - installed)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text and "Classifier: Programming Language :: Python :: 3" in text


def test_the_installed_wheel_grades_validates_and_bundles(wheel_env, tmp_path):
    _, env, empty = wheel_env
    proc = _run(env, empty, "python", "-c", "import gradref, sys; print(gradref.__file__)")
    assert proc.returncode == 0 and str(env) in proc.stdout, proc.stderr
    for name in ("checks", "reference"):
        proc = _run(env, empty, "python", "-c", f"import {name}")
        assert proc.returncode == 1 and f"No module named '{name}'" in proc.stderr

    subs = EXAMPLES / "submissions"
    proc = _run(env, empty, "gradref", "grade", str(subs / "correct.py"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["score"] == report["max_score"] > 0
    proc = _run(env, empty, "gradref", "grade", str(subs / "notebook.ipynb"), "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["score"] > 0, proc.stderr
    proc = _run(env, empty, "gradref", "grade", str(subs / "optimization" / "adam_t_plus_one.py"),
                "--assignment", "optimization", "--seed", "0")      # a curriculum built-in
    assert proc.returncode == 0 and "84 / 100" in proc.stdout and "t + 1 = 2" in proc.stdout, \
        proc.stdout + proc.stderr
    for name in ("planar", "initialization", "regularization", "gradient-checking"):   # packaged
        proc = _run(env, empty, "gradref", "grade", str(subs / name / "correct.py"),
                    "--assignment", name, "--format", "json")
        assert proc.returncode == 0 and json.loads(proc.stdout)["score"] == 100, proc.stderr
    proc = _run(env, empty, "gradref", "grade", str(subs / "layered-full" / "correct"),
                "--assignment", "layered-full", "--format", "json")     # extends layered
    assert proc.returncode == 0 and json.loads(proc.stdout)["score"] == 100, proc.stderr

    proc = _run(env, empty, "gradref", "grade-all", str(subs), "--out", str(tmp_path / "gb.csv"), "-q")
    assert proc.returncode == 0, proc.stderr
    assert "0 grading errors" in proc.stdout

    impl = EXAMPLES / "implementations"
    net = ["--layers", "2,5,3,1", "--activations", "relu,relu,sigmoid", "--loss", "bce", "--cases", "2"]
    proc = _run(env, empty, "gradref", "validate", f"{impl / 'rows_numpy.py'}:gradients",
                "--layout", "rows", *net)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run(env, empty, "gradref", "validate", f"{impl / 'buggy.py'}:gradients", *net)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    proc = _run(env, empty, "gradref", "validate", "--same-user", "--command",
                f"{{python}} {impl / 'standalone.py'} {{case}} {{out}}", *net)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    proc = _run(env, empty, "gradref", "bundle", "--out", str(tmp_path / "b.zip"))
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(tmp_path / "b.zip") as z:
        assert "gradref/checks/grading/engine.py" in z.namelist()
        assert "numpy" in z.read("requirements.txt").decode()

    for argv in (["verify", "--architectures", "2"], ["fixtures", "--out", str(tmp_path / "fx"), "--quiet"],
                 ["train", "--dataset", "moons", "--n", "100", "--epochs", "1", "--quiet"]):
        proc = _run(env, empty, "gradref", *argv)
        assert proc.returncode == 0, (argv, proc.stderr)
    assert sorted(os.listdir(empty)) == []


PLUGIN_USER = '''
import checks


def test_own_checks_package(gradref_reference):
    assert checks.OWN is True
    assert gradref_reference([2, 1], "sigmoid", "bce").n_params == 3
'''


def test_the_plugin_in_a_project_with_its_own_checks_package(wheel_env, tmp_path):
    _, env, _ = wheel_env
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "__init__.py").write_text("OWN = True\n")
    (tmp_path / "test_user.py").write_text(PLUGIN_USER)
    proc = _run(env, tmp_path, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py")
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr


def test_the_sdist_carries_what_the_tests_need(tmp_path):
    sdist = _build("sdist", _copy_source(tmp_path / "src"), tmp_path)
    import tarfile

    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for name in ("LICENSE", "README.md", "Makefile", "tox.ini", "pyproject.toml", "__init__.py",
                 "tests/conftest.py", "tests/test_packaging.py", "tests/grading_fixtures/step_notebook.ipynb",
                 "tests/hostile/kitchen_sink.py", "examples/submissions/expected.json",
                 "examples/implementations/standalone.c", "docs/architecture.md", "bench/run.py"):
        assert name in names, name
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
