"""The sandbox as a security boundary: every attack of issue 10, as a student out to cheat would
try it, ends with the cheating function failing (or the attack contained) while the honest
functions of the same file are still graded.

The tests of the boundary itself need the ``namespaces`` level (bubblewrap); they are skipped
with the reason when this machine cannot run it.  The grader-side ones run at any level.

A cheat "succeeds" in these files when it can read gradref's source (then it would exec the
reference and call ``Network.backward``; here it returns the honest result it carries, so a
route left open shows up as full marks).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

import gradref
import pytest
from gradref.checks.grading.batch import grade_all
from gradref.checks.grading.engine import grade_source
from gradref.checks.grading.report import render
from gradref.checks.isolation import (
    IsolationError,
    Limits,
    PythonSubmission,
    cgroups,
    levels,
    process,
)

HERE = Path(__file__).resolve().parent
CORRECT = (HERE / "grading_fixtures" / "step_correct.py").read_text()
GRADREF_ROOT = Path(gradref.__file__).resolve().parent
ROOT = os.geteuid() == 0
PROBLEM = levels.namespaces_problem()
needs_namespaces = pytest.mark.skipif(PROBLEM is not None,
                                      reason=f"namespaces level unavailable: {PROBLEM}")
MiB = 2**20
LIMITS = Limits(wall=5.0, cpu=5.0, memory=512 * MiB, processes=32, output=4096, load=10.0)

def function_scores(report) -> dict[str, tuple[float, float]]:
    scores: dict[str, list[float]] = {}
    for test in report.tests:
        name = test.name.partition(": ")[0]
        got = scores.setdefault(name, [0.0, 0.0])
        got[0] += test.score
        got[1] += test.max_score
    return {name: (got, total) for name, (got, total) in scores.items()}


# ----------------------------------------------------------------------------- the reference

ROUTES = textwrap.dedent(f'''
    import glob, os, sys

    GRADREF_ROOT = {str(GRADREF_ROOT)!r}        # where the grader's checkout/installation is

    def _readable(path):
        try:
            with open(path) as handle:
                return "class Network" in handle.read()
        except OSError:
            return False

    def _from_root(root):
        return (_readable(os.path.join(root, "reference", "network.py"))
                or _readable(os.path.join(root, "gradref", "reference", "network.py")))

    def route_by_path():
        return _from_root(GRADREF_ROOT)

    def route_harness_file():
        found = False
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None) or ""
            if "isolation" in path or "gradref" in path:
                folder = os.path.dirname(os.path.abspath(path))
                for up in range(4):
                    found = found or _from_root(folder)
                    folder = os.path.dirname(folder)
        return found

    def route_proc_cmdline():
        for name in glob.glob("/proc/*/cmdline") + glob.glob("/proc/*/environ"):
            try:
                with open(name, "rb") as handle:
                    words = handle.read().decode("utf-8", "replace").replace("=", "\\0")
            except OSError:
                continue
            for word in words.split("\\0"):
                folder = word
                for up in range(6):
                    if folder.startswith("/") and _from_root(folder):
                        return True
                    folder = os.path.dirname(folder)
        return False

    def route_editable_finder():
        roots = set(sys.path)
        for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages",
                        "/root/.pyenv/versions/*/lib/python3*/site-packages",
                        GRADREF_ROOT + "/.venv/lib/python3*/site-packages"):
            roots |= set(glob.glob(pattern))
        for root in roots:
            for finder in glob.glob(os.path.join(str(root), "__editable__*finder*.py")):
                with open(finder) as handle:
                    text = handle.read()
                for word in text.replace("'", '"').split('"'):
                    if word.startswith("/") and (_from_root(word) or _from_root(os.path.dirname(word))):
                        return True
        return False

    def route_remove_blocker():
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "_Blocker"]
        for name in ("gradref", "reference", "checks"):
            try:
                __import__(name)
                return True
            except Exception:
                pass
        return False

    ROUTES = [route_by_path, route_harness_file, route_proc_cmdline, route_editable_finder,
              route_remove_blocker]

    def open_routes():
        return [route.__name__ for route in ROUTES if route()]
''')


@needs_namespaces
def test_no_route_reaches_the_reference_from_a_submission():
    with PythonSubmission(ROUTES, limits=LIMITS.replace(wall=20.0, cpu=20.0),
                          isolation="namespaces") as sub:
        result = sub.call("open_routes")
    assert result.ok, result
    assert result.value == [], f"routes to gradref's source still open: {result.value}"


def test_the_same_routes_are_open_on_the_host():
    """The oracle of the test above: each route does find the reference outside the sandbox."""
    namespace: dict = {}
    exec(ROUTES, namespace)
    assert namespace["route_by_path"]() and namespace["route_proc_cmdline"]()


@needs_namespaces
def test_calling_the_reference_loses_exactly_that_function():
    cheat = CORRECT.replace("def L_model_backward(", "def _honest_L_model_backward(") + ROUTES + \
        textwrap.dedent('''
        def L_model_backward(AL, Y, caches):
            if open_routes():            # a real cheat would now exec the reference here
                return _honest_L_model_backward(AL, Y, caches)
            raise RuntimeError("could not reach the reference")
        ''')
    report = grade_source(cheat, "step-by-step", limits=Limits(), name="cheat.py")
    scores = function_scores(report)
    assert scores["L_model_backward"][0] == 0
    honest = {name: score for name, score in scores.items() if name != "L_model_backward"}
    assert all(got == total for got, total in honest.values()), honest
    assert report.isolation == "namespaces"


@needs_namespaces
def test_the_gradescope_bundle_as_shipped_keeps_the_reference_out(tmp_path):
    import zipfile

    from gradref.checks.grading.bundle import build_bundle

    bundle = build_bundle(tmp_path / "bundle.zip")
    root = tmp_path / "autograder"
    source = root / "source"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(source)
        for info in archive.infolist():
            os.chmod(source / info.filename, (info.external_attr >> 16) & 0o777)
    (root / "submission").mkdir()
    cheat = CORRECT.replace("def L_model_backward(", "def _honest_L_model_backward(") + ROUTES + \
        textwrap.dedent('''
        def L_model_backward(AL, Y, caches):
            if open_routes():
                return _honest_L_model_backward(AL, Y, caches)
            raise RuntimeError("could not reach the reference")
        ''')
    (root / "submission" / "hw.py").write_text(cheat)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(source / "run_autograder")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert "isolation level: namespaces" in done.stdout, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    lost = {t["name"].partition(": ")[0] for t in results["tests"] if t["score"] < t["max_score"]}
    assert lost == {"L_model_backward"}
    assert "isolation: namespaces" in results["output"]


# ----------------------------------------------------------------------------- classmates

COPIER = textwrap.dedent('''
    import glob, os

    def _classmate():
        """Find another student's file through the grader's command line or the folder."""
        for name in glob.glob("/proc/*/cmdline"):
            with open(name, "rb") as handle:
                words = handle.read().decode("utf-8", "replace").split("\\0")
            for word in words:
                if os.path.isdir(word):
                    for path in glob.glob(os.path.join(word, "*.py")):
                        if "copier" not in path:
                            return path
        for path in glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "*.py")):
            if "copier" not in path:
                return path
        raise RuntimeError("no classmate found")

    def __getattr__(name):
        namespace = {}
        with open(_classmate()) as handle:
            exec(handle.read(), namespace)
        return namespace[name]
''') + "\n".join(
    f"def {name}(*args, **kwargs):\n    return __getattr__({name!r})(*args, **kwargs)\n"
    for name in ("initialize_parameters_deep", "linear_forward", "linear_activation_forward",
                 "L_model_forward", "compute_cost", "linear_backward",
                 "linear_activation_backward", "L_model_backward", "update_parameters"))


@needs_namespaces
def test_grade_all_copier_gets_nothing_from_a_classmate(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text(CORRECT)
    (folder / "copier.py").write_text(COPIER)
    for path in folder.iterdir():
        path.chmod(0o644)  # world-readable, as handed in
    result = grade_all(folder, tmp_path / "grades.csv", jobs=1)
    rows = {row["student"]: row for row in result.rows}
    assert float(rows["alice"]["score"]) == 100
    assert float(rows["copier"]["score"]) == 0
    assert rows["copier"]["isolation"] == "namespaces"


# ----------------------------------------------------------------------------- network

@needs_namespaces
def test_a_loopback_listener_is_unreachable():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    source = textwrap.dedent(f'''
        import socket
        def exfiltrate(data):
            with socket.create_connection(("127.0.0.1", {port}), timeout=2) as connection:
                connection.sendall(repr(data).encode())
            return "sent"
        def honest(x):
            return x + 1
    ''')
    try:
        with PythonSubmission(source, limits=LIMITS, isolation="namespaces") as sub:
            sent = sub.call("exfiltrate", [1, 2, 3])
            honest = sub.call("honest", 1)
        assert not sent.ok and sent.exception in ("ConnectionRefusedError", "OSError"), sent
        assert honest.ok and honest.value == 2
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


# ----------------------------------------------------------------------------- the grader itself

@pytest.mark.parametrize("entry", ["module", "script"])
def test_modules_in_the_current_folder_are_never_imported_by_the_grader(tmp_path, entry):
    for name in ("random", "numpy", "argparse", "json", "tempfile"):
        (tmp_path / f"{name}.py").write_text(
            f"open({str(tmp_path / ('IMPORTED_' + name))!r}, 'w').write('x')\n")
    argv = [sys.executable, "-m", "gradref"] if entry == "module" else \
        [str(Path(sys.executable).with_name("gradref"))]
    if entry == "script" and not Path(argv[0]).exists():
        pytest.skip("no gradref console script beside this interpreter")
    done = subprocess.run([*argv, "grade", str(HERE / "grading_fixtures" / "step_correct.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("IMPORTED_*")) == []


def test_a_symlinked_submission_is_refused_and_its_target_never_shown(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_text("TOP SECRET first line\n" + CORRECT)
    secret.chmod(0o600)
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "mallory.py").symlink_to(secret)
    (folder / "alice.py").write_text(CORRECT)
    done = subprocess.run([sys.executable, "-m", "gradref", "grade", str(folder / "mallory.py")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "symbolic link" in done.stderr
    assert "TOP SECRET" not in done.stdout + done.stderr
    result = grade_all(folder, tmp_path / "grades.csv", jobs=1)
    rows = {row["student"]: row for row in result.rows}
    assert rows["mallory"]["status"] == "invalid" and "symbolic link" in rows["mallory"]["error"]
    assert float(rows["alice"]["score"]) == 100
    assert "TOP SECRET" not in (tmp_path / "grades.csv").read_text()


def test_escape_codes_in_exception_messages_cannot_rewrite_the_report():
    evil = CORRECT.replace("def compute_cost(", "def _honest_compute_cost(") + textwrap.dedent('''
        def compute_cost(AL, Y):
            raise ValueError("\\x1b[2K\\r\\x1b[1A  [PASS] values  (8/8)\\x1b]0;owned\\x07")
    ''')
    report = grade_source(evil, "step-by-step", limits=Limits(), name="evil\x1b[31m.py")
    scores = function_scores(report)
    assert scores["compute_cost"][0] == 0
    assert all(got == total for name, (got, total) in scores.items() if name != "compute_cost")
    for fmt in ("text", "gradescope"):
        text = render(report, fmt)
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
    assert "\\x1b[2K" in render(report, "text")


def test_a_huge_extra_entry_is_not_kept_by_the_grader():
    """Correct gradients plus a 16 MB extra dict entry: graded right, and the grader holds at
    most a couple of such values at a time (it keeps only the compared arrays of each case;
    keeping the raw value of every case of L_model_backward would be five of them)."""
    junk = CORRECT.replace("def L_model_backward(", "def _honest_L_model_backward(") + \
        textwrap.dedent('''
        def L_model_backward(AL, Y, caches):
            grads = _honest_L_model_backward(AL, Y, caches)
            grads["junk"] = np.ones(16 * 2**20 // 8)
            return grads
        ''')
    tracemalloc.start()
    try:
        report = grade_source(junk, "step-by-step", limits=Limits(), name="junk.py")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.score == report.max_score
    assert peak < 3 * 16 * MiB + 8 * MiB, f"peak {peak / MiB:.0f} MiB"


# ----------------------------------------------------------------------------- leftovers

PERSIST = textwrap.dedent('''
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    KEY = 0x6772616
    def plant():
        planted = []
        for folder in ("/run/lock", "/dev/shm", "/tmp", "/var/tmp", os.path.expanduser("~")):
            try:
                with open(os.path.join(folder, "gradref-planted"), "w") as handle:
                    handle.write("answer")
                planted.append(folder)
            except OSError:
                pass
        shm = libc.shmget(KEY, 64 * 1024 * 1024, 0o1666)   # IPC_CREAT | 0666
        queue = libc.msgget(KEY, 0o1666)
        return planted, shm >= 0, queue >= 0
    def find():
        found = []
        for folder in ("/run/lock", "/dev/shm", "/tmp", "/var/tmp", os.path.expanduser("~")):
            if os.path.exists(os.path.join(folder, "gradref-planted")):
                found.append(folder)
        return found, libc.shmget(KEY, 0, 0) >= 0, libc.msgget(KEY, 0) >= 0
''')


def _host_ipc_keys() -> set[int]:
    keys = set()
    for name in ("/proc/sysvipc/shm", "/proc/sysvipc/msg"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        keys.update(int(line.split()[0]) for line in lines if line.split())
    return keys


@needs_namespaces
def test_nothing_survives_into_the_next_submission():
    with PythonSubmission(PERSIST, limits=LIMITS, isolation="namespaces") as first:
        planted = first.call("plant")
        assert planted.ok, planted
        assert planted.value[1] and planted.value[2], planted  # shm and queue were created
    with PythonSubmission(PERSIST, limits=LIMITS, isolation="namespaces") as second:
        found = second.call("find")
    assert found.ok and found.value == ([], False, False), found
    assert 0x6772616 not in _host_ipc_keys()


# ----------------------------------------------------------------------------- resources

@needs_namespaces
def test_forked_processes_share_one_memory_limit():
    if cgroups.create("gradref-probe-" + str(os.getpid()), memory=64 * MiB, processes=8) is None:
        pytest.skip("no cgroup can be created here: memory is limited per process only "
                    "(reports say 'per process')")
    source = textwrap.dedent('''
        import os, time
        def hog(children, megabytes):
            done = []
            pids = []
            read_end, write_end = os.pipe()
            for _ in range(children):
                pid = os.fork()
                if pid == 0:
                    block = bytearray(megabytes * 2**20)
                    for i in range(0, len(block), 4096):
                        block[i] = 1
                    os.write(write_end, b"x")
                    time.sleep(30)
                    os._exit(0)
                pids.append(pid)
            os.close(write_end)
            deadline = time.monotonic() + 4
            os.set_blocking(read_end, False)
            while time.monotonic() < deadline and len(done) < children:
                try:
                    done += list(os.read(read_end, 64))
                except BlockingIOError:
                    time.sleep(0.05)
            # children holding their memory now (the kernel kills some when the total is reached)
            return sum(1 for pid in pids if os.waitpid(pid, os.WNOHANG) == (0, 0))
        def honest(x):
            return x * 2
    ''')
    limits = LIMITS.replace(memory=400 * MiB, wall=8.0)
    with PythonSubmission(source, limits=limits, isolation="namespaces") as sub:
        assert sub.isolation.limits_scope.startswith("cgroup")
        hog = sub.call("hog", 6, 150)
        after = sub.call("honest", 21)
    # 6 x 150 MB is 900 MB; under one 400 MiB limit at most two children hold theirs at once
    assert not hog.ok or hog.value <= 2, hog
    assert after.ok and after.value == 42


@needs_namespaces
def test_filling_the_disk_stops_at_the_tmpfs_size():
    source = textwrap.dedent('''
        import os
        def fill(folder):
            written = 0
            chunk = b"x" * 2**20
            try:
                for number in range(1024):
                    with open(os.path.join(folder, f"f{number}"), "wb") as handle:
                        handle.write(chunk)
                    written += len(chunk)
            except OSError as error:
                return written, error.errno
            return written, 0
        def honest():
            return "fine"
    ''')
    limits = LIMITS.replace(disk=16 * MiB)
    with PythonSubmission(source, limits=limits, isolation="namespaces") as sub:
        for folder in (".", "/tmp", "/dev/shm"):
            result = sub.call("fill", folder)
            assert result.ok, result
            written, errno = result.value
            assert written <= 16 * MiB and errno != 0, (folder, result.value)
        assert sub.call("honest").value == "fine"


def test_slow_but_correct_functions_run_out_of_the_submission_budget():
    source = "import time\ndef slow(x):\n    time.sleep(0.6)\n    return x\n"
    limits = LIMITS.replace(wall=5.0, budget=2.0)
    with PythonSubmission(source, limits=limits) as sub:
        results = [sub.call("slow", n) for n in range(6)]
        assert sub.budget_exhausted
    kinds = [r.kind for r in results]
    assert results[0].ok and results[1].ok
    assert "budget" in kinds and all(k == "budget" for k in kinds[kinds.index("budget"):])
    assert "budget of 2 s" in results[-1].message
    assert sum(r.seconds for r in results) < 4.0


# ----------------------------------------------------------------------------- the levels

@pytest.mark.parametrize("command", ["grade", "grade-all", "validate"])
def test_require_sandbox_refuses_without_bubblewrap(tmp_path, command):
    env = {**os.environ, "GRADREF_BWRAP": str(tmp_path / "bwrap")}  # not installed
    fixture = str(HERE / "grading_fixtures" / "step_correct.py")
    argv = {"grade": [fixture],
            "grade-all": [str(HERE / "grading_fixtures"), "--out", str(tmp_path / "g.csv")],
            "validate": [f"{fixture}:L_model_backward", "--layers", "2,1", "--activations",
                         "sigmoid", "--loss", "bce"]}[command]
    done = subprocess.run([sys.executable, "-m", "gradref", command, *argv, "--require-sandbox"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "namespaces" in done.stderr and "bubblewrap (bwrap) is not installed" in done.stderr
    assert not (tmp_path / "g.csv").exists()


def test_the_fallback_level_makes_gradref_unreadable_to_the_child():
    if not ROOT:
        pytest.skip("the uid level needs root")
    with PythonSubmission(ROUTES, limits=LIMITS.replace(wall=20.0, cpu=20.0),
                          isolation="uid") as sub:
        result = sub.call("open_routes")
    assert result.ok, result
    assert "route_by_path" not in result.value and "route_harness_file" not in result.value
    assert not os.stat(GRADREF_ROOT).st_mode & stat.S_IRWXO


@needs_namespaces
def test_json_report_and_gradebook_name_the_level():
    report = grade_source(CORRECT, "step-by-step", limits=Limits(), name="hw.py")
    data = json.loads(render(report, "json"))
    assert data["isolation"] == "namespaces" and "bubblewrap" in data["isolation_detail"]
    assert "isolation: namespaces" in render(report, "text")
    assert "isolation: namespaces" in json.loads(render(report, "gradescope"))["output"]


def test_isolation_argument_is_checked():
    with pytest.raises(ValueError, match="isolation must be"):
        PythonSubmission("x = 1\n", isolation="docker")
    if not ROOT:
        with pytest.raises(IsolationError, match="root"):
            PythonSubmission("x = 1\n", isolation="uid")


@needs_namespaces
def test_killing_the_grader_ends_every_process_of_the_submission():
    script = textwrap.dedent('''
        import os, sys, time
        from gradref.checks.isolation import Limits, PythonSubmission
        source = "import os, time\\ndef spawn():\\n    if os.fork() == 0:\\n        os.setsid()\\n" \\
                 "        while True:\\n            time.sleep(0.05)\\n    return os.getpid()\\n"
        sub = PythonSubmission(source, limits=Limits(memory=512 * 2**20), isolation="namespaces")
        print(sub.call("spawn").ok, flush=True)
        time.sleep(60)
    ''')
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert grader.stdout.readline().strip() == "True"
        before = _descendants(grader.pid)
        assert before
        grader.kill()
        grader.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_alive(before)):
            time.sleep(0.05)
        assert not _alive(before)
        left = list(Path(tempfile.gettempdir()).glob(f"gradref-*-{grader.pid}-*"))
        assert left  # its staging and harness folders (SIGKILL: no cleanup ran) ...
        process._swept.clear()
        process.sweep_stale_folders()  # ... are removed by the next grader
        assert not any(folder.exists() for folder in left)
    finally:
        if grader.poll() is None:
            grader.kill()
        grader.stdout.close()


def _descendants(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
                found |= _descendants(int(entry.name))
    return found


def _alive(pids: set[int]) -> bool:
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            return True
    return False


def test_a_placeholder_in_a_file_name_or_the_code_is_not_substituted():
    from gradref.checks.grading.driver import build_source

    code = "def f():\n    return '__PROTECTED__ __FILES__ __UNITS__'\n"
    text = build_source([("cell 1", "hw__ASSIGNMENT__.py", code)], files={"hw__ASSIGNMENT__.py": code},
                        support={"dnn_utils": "A = 1\n"}, protected=["f"])
    namespace: dict = {}
    exec(compile(text, "generated", "exec"), namespace)
    assert namespace["f"]() == "__PROTECTED__ __FILES__ __UNITS__"
    assert "'hw__ASSIGNMENT__.py'" in text


def test_a_cgroup_that_could_not_be_made_is_removed_quietly():
    cgroups.Cgroup("cgroup v1", []).remove()  # the failure path of create(): nothing to remove


def test_a_file_name_that_is_not_utf8_is_graded_and_written_escaped(tmp_path):
    from gradref.checks.cli import main

    folder = tmp_path / "class"
    folder.mkdir()
    name = os.fsdecode(b"st\xffud.py")  # the byte 0xff kept as a surrogate
    (folder / name).write_text(CORRECT)
    out = tmp_path / "report.json"
    assert main(["grade", str(folder / name), "--format", "json", "--out", str(out)]) == 0
    assert b'st\xffud.py' in out.read_bytes()
    result = grade_all(folder, tmp_path / "grades.csv", jobs=1)
    assert [float(row["score"]) for row in result.rows] == [100.0]
    assert b"st\xffud,100," in (tmp_path / "grades.csv").read_bytes()
