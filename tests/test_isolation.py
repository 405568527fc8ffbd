"""Tests of the isolation layer (checks.isolation): hostile submissions, protocol, limits,
process cleanup, run_command and load_source.

Every sandbox here uses small limits so that the file stays fast on two busy cores.  Tests
that need the dedicated sandbox uid (root parent) are skipped otherwise.  Sandboxes run at the
strongest level available (bubblewrap namespaces where installed); tests of the fallback
level's own machinery (finding processes by uid or by token on the host) say
``isolation=FALLBACK``.  The boundary itself is tested in test_sandbox_boundary.py.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradref.checks.isolation as isolation
import numpy as np
import pytest
from gradref.checks.isolation import (
    CallResult,
    IsolationError,
    Limits,
    ProcessResult,
    PythonSubmission,
    load_source,
    procfs,
    protocol,
    run_command,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
REPO = HERE.parent
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs a root parent (dedicated sandbox uid)")
FALLBACK = "uid" if ROOT else "none"  # the level below namespaces on this machine

MiB = 2**20
LIMITS = Limits(wall=1.0, cpu=1.0, memory=512 * MiB, processes=32, output=16 * 1024, load=10.0)

GOOD = """
import numpy as np

def good(x):
    return np.asarray(x) * 2
"""


def matrix(data) -> np.matrix:
    """np.matrix without its PendingDeprecationWarning (warnings are errors here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(data)


def wait_until(condition, timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def gone(pid: int) -> bool:
    info = procfs.read_process(pid)
    return info is None or info.zombie


def sandbox_processes(sub_uid: int | None, pids=()) -> list[procfs.ProcessInfo]:
    """Processes (zombies included) left by a sandbox: by uid as root, else by pid."""
    if sub_uid is not None and ROOT:
        return [p for p in procfs.list_processes() if sub_uid in p.uids]
    found = []
    for pid in pids:
        info = procfs.read_process(pid)
        if info is not None and os.getuid() in info.uids:
            found.append(info)
    return found


SHARED = GOOD + """
def echo(*args, **kwargs):
    return args, kwargs

def scalars():
    return np.float32(1.5), np.int64(3), np.bool_(True), 2.5, 7, True
"""


@pytest.fixture(scope="module")
def shared():
    """One well-behaved submission for the tests that only need a working child."""
    with PythonSubmission(SHARED, limits=LIMITS) as sub:
        yield sub


def assert_good_still_works(sub: PythonSubmission) -> None:
    result = sub.call("good", np.arange(3.0))
    assert result.ok, result.message
    np.testing.assert_array_equal(result.value, [0.0, 2.0, 4.0])


# --------------------------------------------------------------------------- hostile calls

def _body(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


HOSTILE_CALLS = [
    # (id, source defining bad(), expected kind, fragment of the message)
    ("busy-loop", """
        def bad():
            while True:
                pass
     """, "timeout", "limit"),
    ("sleep-forever", """
        import time
        def bad():
            time.sleep(10**6)
     """, "timeout", "wall-clock"),
    ("huge-array", """
        def bad():
            return np.ones(10**10)
     """, "memory", "out of memory"),
    ("grow-until-oom", """
        def bad():
            keep = []
            while True:
                keep.append(np.empty(10**7, dtype=np.uint8))
     """, "memory", "512 MiB"),
    ("fork-bomb", """
        import os
        def bad():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
     """, "timeout", "wall-clock"),
    ("children-ignore-sigterm", """
        import os, signal, time
        def bad():
            for _ in range(3):
                if os.fork() == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    os.setsid()
                    time.sleep(1000)
            time.sleep(1000)
     """, "timeout", "wall-clock"),
    ("sys-exit", """
        import sys
        def bad():
            sys.exit(0)
     """, "exception", "SystemExit"),
    ("os-exit", """
        import os
        def bad():
            os._exit(3)
     """, "crash", "exit code 3"),
    ("keyboard-interrupt", """
        def bad():
            raise KeyboardInterrupt
     """, "exception", "KeyboardInterrupt"),
    ("raise", """
        def bad():
            raise ValueError('shapes do not match')
     """, "exception", "ValueError: shapes"),
    ("recursion", """
        def bad(n=0):
            return bad(n + 1)
     """, "exception", "RecursionError"),
    ("segfault", """
        def bad():
            import ctypes
            return ctypes.string_at(0)
     """, "crash", "SIGSEGV"),
    ("sigstop-self", """
        import os, signal
        def bad():
            os.kill(os.getpid(), signal.SIGSTOP)
     """, "timeout", "wall-clock"),
    ("ignore-sigxcpu", """
        import signal
        def bad():
            signal.signal(signal.SIGXCPU, signal.SIG_IGN)
            while True:
                pass
     """, "timeout", "killed"),
    ("close-protocol-fds", """
        import os
        def bad():
            for fd in range(3, 256):
                try:
                    os.close(fd)
                except OSError:
                    pass
            return 1
     """, "crash", "bad()"),
    ("garbage-on-protocol-fds", """
        import os
        def bad():
            for fd in range(3, 64):
                try:
                    os.write(fd, b'garbage' * 100)
                except OSError:
                    pass
            return 1
     """, "bad-output", "invalid answer"),
    ("generator", """
        def bad():
            return (i for i in range(3))
     """, "bad-output", "generator"),
    ("object", """
        def bad():
            return object()
     """, "bad-output", "builtins.object"),
    ("matrix", """
        def bad():
            return np.matrix([[1.0, 2.0]])
     """, "bad-output", "numpy.matrix"),
    ("masked-array", """
        def bad():
            return np.ma.masked_array([1.0, 2.0], mask=[0, 1])
     """, "bad-output", "MaskedArray"),
    ("object-array", """
        def bad():
            return np.array([1, 'a', None], dtype=object)
     """, "bad-output", "object"),
    ("string-array", """
        def bad():
            return {'W1': np.array(['a', 'b'])}
     """, "bad-output", "value['W1']"),
    ("nested-object", """
        def bad():
            return [1, (2, {'c': {3}})]
     """, "bad-output", "value[1][1]['c']"),
    ("self-reference", """
        def bad():
            x = []
            x.append(x)
            return x
     """, "bad-output", "contains itself"),
    ("too-large-answer", """
        def bad():
            return np.zeros(2 * 10**6)
     """, "bad-output", "limit"),
    ("missing", "", "missing-function", "not defined"),
    ("not-callable", "bad = 3", "missing-function", "int"),
    ("unprintable-exception", """
        class Sneaky(Exception):
            def __str__(self):
                raise RuntimeError('no')
        def bad():
            raise Sneaky()
     """, "exception", "Sneaky"),
    ("break-builtins", """
        import builtins
        def bad():
            builtins.len = lambda obj: 0
            return 1
     """, "bad-output", "invalid answer"),
]


@pytest.mark.parametrize(
    ("body", "kind", "fragment"),
    [pytest.param(_body(body), kind, fragment, id=name) for name, body, kind, fragment in HOSTILE_CALLS],
)
def test_hostile_call_fails_cleanly_and_next_call_works(body, kind, fragment):
    limits = LIMITS.replace(transfer=1 * MiB)
    started = time.monotonic()
    with PythonSubmission(GOOD + "\n" + body, limits=limits) as sub:
        result = sub.call("bad")
        assert isinstance(result, CallResult)
        assert not result.ok, result
        assert result.kind == kind, result
        assert fragment in result.message, result.message
        assert "bad" in result.message
        assert result.value is None
        assert result.seconds < limits.wall + 3.0
        assert_good_still_works(sub)
        uid, pid = sub.child_uid, sub.pid
    assert time.monotonic() - started < 15
    assert sandbox_processes(uid, [pid] if pid else []) == []


@needs_root
@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(
            "import os, signal\ndef bad():\n    os.kill(os.getppid(), signal.SIGKILL)",
            "exception",
            id="kill-the-grader",
        ),
        pytest.param(  # kill(-1) spares the caller and reaches only the sandbox uid
            "import os, signal\ndef bad():\n    os.kill(-1, signal.SIGKILL)\n    return 1",
            None,
            id="kill-everything",
        ),
        pytest.param(
            f"def bad():\n    open({str(REPO / 'ISOLATION_ESCAPE.txt')!r}, 'w').write('x')",
            "exception",
            id="write-into-the-repository",
        ),
    ],
)
def test_dedicated_uid_cannot_touch_the_grader(body, kind):
    with PythonSubmission(GOOD + "\n" + body, limits=LIMITS, isolation=FALLBACK) as sub:
        result = sub.call("bad")
        assert result.kind == kind, result
        assert_good_still_works(sub)
        assert sub.child_uid not in (None, 0, os.getuid())
    assert not (REPO / "ISOLATION_ESCAPE.txt").exists()


def test_cpu_limit_is_reported_as_timeout():
    limits = LIMITS.replace(wall=20.0, cpu=0.5)
    with PythonSubmission(GOOD + "def bad():\n    while True:\n        pass\n", limits=limits) as sub:
        result = sub.call("bad")
        assert result.kind == "timeout", result
        assert "CPU time limit of 0.5 s" in result.message
        assert result.seconds < 10
        assert_good_still_works(sub)


def test_cpu_limit_is_per_call_not_per_child():
    # each call burns 0.3 s of CPU; together well beyond the 0.5 s per-call limit
    body = _body("""
        import time
        def burn():
            end = time.process_time() + 0.3
            while time.process_time() < end:
                pass
            return 1
    """)
    with PythonSubmission(body, limits=LIMITS.replace(cpu=0.5, wall=10.0)) as sub:
        results = [sub.call("burn") for _ in range(4)]
    assert all(result.ok for result in results), [r.message for r in results if not r.ok]


def test_late_exit_from_a_thread_does_not_break_the_next_call():
    body = GOOD + _body("""
        import os, threading
        def bad():
            threading.Timer(0.05, os._exit, (5,)).start()
            return 1
    """)
    with PythonSubmission(body, limits=LIMITS) as sub:
        assert sub.call("bad").value == 1
        assert wait_until(lambda pid=sub.pid: gone(pid)), "the timer never ended the child"
        assert_good_still_works(sub)
        assert sub.starts == 2


def test_forked_copies_never_answer():
    body = GOOD + "import os\ndef bad():\n    for _ in range(4):\n        os.fork()\n    return 7\n"
    with PythonSubmission(body, limits=LIMITS) as sub:
        assert sub.call("bad").value == 7
        for _ in range(5):
            assert_good_still_works(sub)
        assert sub.starts == 1


def test_restart_after_timeout_reloads_the_submission():
    body = GOOD + _body("""
        import time
        counter = [0]
        def bump():
            counter[0] += 1
            return counter[0]
        def hang():
            time.sleep(100)
    """)
    with PythonSubmission(body, limits=LIMITS.replace(wall=0.5)) as sub:
        assert [sub.call("bump").value for _ in range(3)] == [1, 2, 3]
        assert sub.call("hang").kind == "timeout"
        assert sub.call("bump").value == 1  # a fresh child, freshly loaded
        assert sub.starts == 2 and sub.restarts == 1


# --------------------------------------------------------------------------- loading

HOSTILE_LOADS = [
    ("syntax-error", "def f(:\n    pass\n", "SyntaxError", "invalid syntax"),
    ("system-exit", "import sys\nsys.exit(0)\n", "SystemExit", "SystemExit"),
    ("keyboard-interrupt", "raise KeyboardInterrupt\n", "KeyboardInterrupt", "KeyboardInterrupt"),
    ("os-exit", "import os\nos._exit(3)\n", None, "exit code 3"),
    ("hang", "while True:\n    pass\n", None, "load"),
    ("import-reference", "import reference\n", "ModuleNotFoundError", "reference"),
    ("import-checks", "from checks import isolation\n", "ModuleNotFoundError", "checks"),
    (
        "import-reference-via-path",
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\nimport reference.network\n",
        "ModuleNotFoundError",
        "reference",
    ),
    ("null-byte", "x = 1\0\n", "SyntaxError", "null"),
]


@pytest.mark.parametrize(
    ("body", "exception", "fragment"),
    [pytest.param(body, exc, frag, id=name) for name, body, exc, frag in HOSTILE_LOADS],
)
def test_load_failure_is_sticky_and_reported_for_every_call(body, exception, fragment):
    limits = LIMITS.replace(load=1.5)
    with PythonSubmission(GOOD + body, limits=limits) as sub:
        first = sub.call("good", 1.0)
        second = sub.call("good", 1.0)
        assert sub.starts == 1  # no restart for a broken top level
        uid = sub.child_uid
    for result in (first, second):
        assert result.kind == "load-error", result
        assert result.function == "good"
        assert "good()" in result.message and "failed to load" in result.message
        assert fragment in result.message, result.message
        assert result.exception == exception
    assert sub.load_error is not None
    assert sandbox_processes(uid) == []


def test_main_guard_does_not_run_and_name_is_submission():
    body = GOOD + (
        "def name():\n    return __name__\n"
        "if __name__ == '__main__':\n    raise SystemExit('main ran')\n"
    )
    with PythonSubmission(body, limits=LIMITS) as sub:
        assert sub.call("name").value == "submission"
        assert set(sub.functions) >= {"good", "name"}


def test_load_output_is_reported_with_a_load_error():
    with PythonSubmission("print('hello from load')\nraise RuntimeError('boom')\n", limits=LIMITS) as sub:
        failure = sub.start()
    assert failure is not None and failure.kind == "load-error"
    assert "hello from load" in failure.stdout
    assert "RuntimeError: boom" in failure.message
    assert 'File "submission.py", line 2' in failure.traceback


# --------------------------------------------------------------------------- the child's world


def test_child_environment_is_clean_and_isolated():
    body = (
        "import os, sys\n"
        "def env():\n"
        "    return {'env': dict(os.environ), 'cwd': os.getcwd(), 'isolated': sys.flags.isolated,\n"
        "            'no_site': sys.flags.no_site, 'path': list(sys.path), 'uid': os.getuid(),\n"
        "            'argv': list(sys.argv), 'modules': sorted(m for m in sys.modules\n"
        "                  if m.split('.')[0] in ('reference', 'checks'))}\n"
    )
    with PythonSubmission(body, limits=LIMITS) as sub:
        info = sub.call("env").value
    env = info["env"]
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == info["cwd"] == env["TMPDIR"]
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        assert env[name] == "1"
    assert not any(name.startswith("PYTHON") for name in env)
    assert info["isolated"] == 1 and info["no_site"] == 1
    assert str(REPO) not in info["path"]
    assert info["modules"] == []
    assert info["argv"] == ["submission.py"]
    if ROOT:
        assert info["uid"] not in (0, 65534)
    assert not Path(info["cwd"]).exists()  # the workdir is gone after close


def test_child_writes_files_only_in_its_own_directory():
    body = (
        "import os\n"
        "def write():\n"
        "    with open('notes.txt', 'w') as f:\n"
        "        f.write('x')\n"
        "    return os.path.abspath('notes.txt')\n"
    )
    with PythonSubmission(body, limits=LIMITS, isolation=FALLBACK) as sub:
        first = sub.call("write").value
        workdir = Path(first).parent
        assert Path(first).exists()
    assert not workdir.exists()


def test_child_gets_copies_of_the_arguments():
    with PythonSubmission(HOSTILE / "kitchen_sink.py", limits=LIMITS) as sub:
        x = np.arange(4.0)
        result = sub.call("mutate", x)
        assert result.ok
        np.testing.assert_array_equal(result.value, [-1.0] * 4)
        np.testing.assert_array_equal(x, [0.0, 1.0, 2.0, 3.0])
        assert result.value is not x


def test_monkeypatching_and_fake_output_in_the_child_change_nothing_here():
    with PythonSubmission(HOSTILE / "kitchen_sink.py", limits=LIMITS) as sub:
        assert sub.start() is None
        lie = sub.call("claims_equal", np.zeros(2), np.ones(2))
        assert "ALL TESTS PASSED" not in lie.stdout  # load output is not a call's output
        assert lie.ok and lie.value is True  # the child's allclose lies ...
        assert "PASSED" in lie.stdout
        assert not np.allclose(np.zeros(2), np.ones(2))  # ... but not ours
        z = np.array([-1.0, 0.0, 2.0])
        honest = sub.call("sigmoid", z)
        assert honest.ok
        np.testing.assert_allclose(honest.value, 1 / (1 + np.exp(-z)))
        broken = sub.call("leak_builtins")
        assert broken.kind == "bad-output"
        assert sub.call("sigmoid", z).ok  # a fresh child after the sabotage


def test_stdout_and_stderr_are_per_call_and_truncated():
    body = (
        "import sys\n"
        "def say(text):\n    print(text)\n    print('err:' + text, file=sys.stderr)\n    return len(text)\n"
        "def flood():\n    print('A' * 100_000 + 'Z')\n    return 1\n"
    )
    with PythonSubmission(body, limits=LIMITS.replace(output=1024)) as sub:
        one, two = sub.call("say", "one"), sub.call("say", "two")
        assert (one.stdout, one.stderr) == ("one\n", "err:one\n")
        assert (two.stdout, two.stderr) == ("two\n", "err:two\n")
        flood = sub.call("flood")
    assert flood.ok
    assert flood.stdout.startswith("A" * 100) and flood.stdout.endswith("Z\n")
    assert "bytes of output omitted" in flood.stdout
    assert len(flood.stdout) < 1200


def test_exception_traceback_is_short_and_points_at_the_submission():
    body = _body("""
        def inner(n):
            if n == 0:
                raise ValueError('deep')
            return inner(n - 1)
        def bad():
            return inner(50)
    """)
    with PythonSubmission(body, limits=LIMITS) as sub:
        result = sub.call("bad")
    assert result.kind == "exception" and result.exception == "ValueError"
    assert result.message == "bad() raised ValueError: deep"
    assert 'File "submission.py", line 3, in inner' in result.traceback
    assert "_child.py" not in result.traceback
    assert result.traceback.count("File ") <= 10


def test_call_latency_and_start_time_are_small(shared):
    start_seconds = shared.last_start_seconds
    x = np.ones((5, 4))
    timings = []
    for _ in range(40):
        begin = time.perf_counter()
        result = shared.call("good", x)
        timings.append(time.perf_counter() - begin)
        assert result.ok
    assert start_seconds is not None and start_seconds < 5.0
    assert statistics.median(timings) < 0.010


def test_numpy_scalars_come_back_as_zero_d_arrays(shared):
    f32, i64, b, f, i, t = shared.call("scalars").value
    assert isinstance(f32, np.ndarray) and f32.shape == () and f32.dtype == np.float32
    assert i64.dtype == np.int64 and int(i64) == 3
    assert b.dtype == np.bool_ and bool(b)
    assert (type(f), type(i), type(t)) == (float, int, bool)


def test_round_trip_through_the_child_preserves_structure(shared):
    value = {
        "W1": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b1": np.zeros((2, 1)),
        "empty": np.empty((0, 3)),
        "scalar": np.array(4.0),
        "caches": [((np.ones(2), "relu"), {"k": None}), (1, 2.5, True)],
        "nan": math.nan,
        ("tuple", 1): "key",
    }
    result = shared.call("echo", value, 3, flag=False)
    args, kwargs = result.value
    assert kwargs == {"flag": False}
    back, three = args
    assert three == 3
    assert list(back) == list(value)
    np.testing.assert_array_equal(back["W1"], value["W1"])
    assert back["W1"].dtype == np.float32 and back["empty"].shape == (0, 3)
    assert back["scalar"].shape == ()
    assert isinstance(back["caches"][0], tuple) and back["caches"][0][0][1] == "relu"
    assert math.isnan(back["nan"])
    assert back[("tuple", 1)] == "key"


# --------------------------------------------------------------------------- lifecycle


ESCAPING_SPAWNER = """
import os, signal, time

def spawn():
    pids = []
    for _ in range(3):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.setsid()  # leave the process group
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            grandchild = os.fork()
            if grandchild == 0:
                time.sleep(1000)
            os.write(write_end, str(grandchild).encode())
            os._exit(0)  # the grandchild is orphaned
        os.close(write_end)
        pids += [pid, int(os.read(read_end, 32))]
    if os.fork() == 0:
        os._exit(0)  # a zombie-to-be
    return pids
"""


def test_no_leftover_processes_after_exit_even_escaped_ones():
    with PythonSubmission(ESCAPING_SPAWNER, limits=LIMITS, isolation=FALLBACK) as sub:
        result = sub.call("spawn")
        assert result.ok, result
        uid, pid = sub.child_uid, sub.pid
        if ROOT:
            assert wait_until(lambda: len(sandbox_processes(uid)) >= 4)
        assert all(procfs.read_process(p) for p in result.value[1::2])  # sleepers alive
    assert sandbox_processes(uid, [pid, *result.value]) == []


def test_without_privilege_drop_escaped_processes_are_found_by_token():
    with PythonSubmission(ESCAPING_SPAWNER, limits=LIMITS, drop_privileges=False,
                          isolation="none") as sub:
        result = sub.call("spawn")
        assert result.ok, result
        assert sub.child_uid == os.getuid()
        pid = sub.pid
    assert sandbox_processes(None, [pid, *result.value]) == []


def test_child_dies_with_its_parent():
    script = (
        "import time\n"
        "from checks.isolation import Limits, PythonSubmission\n"
        "sub = PythonSubmission('def f():\\n    return 1\\n', limits=Limits(memory=512 * 2**20))\n"
        "sub.start()\n"
        "print(sub.pid, flush=True)\n"
        "time.sleep(100)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=REPO)
    try:
        child = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    wait_until(lambda: gone(child))
    info = procfs.read_process(child)
    assert info is None or info.zombie, info
    if info is not None and info.ppid == os.getpid():
        os.waitpid(child, 0)  # adopted by us (subreaper): reap it


def test_submissions_can_run_in_parallel_threads():
    def grade(index):
        with PythonSubmission(GOOD, limits=LIMITS) as sub:
            return [sub.call("good", float(index + k)).value for k in range(3)], sub.child_uid

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(grade, range(4)))
    assert [values for values, _ in results] == [[2.0 * (i + k) for k in range(3)] for i in range(4)]
    if ROOT:  # each concurrent submission had a uid of its own
        uids = [uid for _, uid in results]
        assert len(set(uids[:2])) == 2 and len(set(uids[2:])) == 2


class _Interrupted(Exception):
    pass


def test_interrupted_call_retires_the_child():
    def interrupt(signum, frame):
        raise _Interrupted()

    body = GOOD + "import time\ndef slow():\n    time.sleep(0.5)\n    return 'late'\n"
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with PythonSubmission(body, limits=LIMITS) as sub:
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            with pytest.raises(_Interrupted):
                sub.call("slow")
            time.sleep(0.6)  # the old child would have answered 'late' by now
            assert_good_still_works(sub)
            assert sub.starts == 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_close_is_idempotent_and_closed_object_refuses_calls():
    sub = PythonSubmission(GOOD, limits=LIMITS)
    assert sub.call("good", 1.0).value == 2.0
    sub.close()
    sub.close()
    with pytest.raises(IsolationError, match="closed"):
        sub.call("good", 1.0)


def test_isolation_error_when_the_interpreter_cannot_start(monkeypatch):
    monkeypatch.setattr(isolation.process.sys, "executable", "/nonexistent/python")
    with pytest.raises(IsolationError, match="could not start"):
        with PythonSubmission(GOOD, limits=LIMITS):
            pass


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((object(),), {}, r"good\(\).*args\[0\].*builtins.object"),
        ((), {"x": np.array([object()], dtype=object)}, r"kwargs\['x'\].*numeric dtype"),
        ((matrix([[1]]),), {}, "subclass"),
    ],
)
def test_unsendable_arguments_raise_value_error(shared, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        shared.call("good", *args, **kwargs)
    assert_good_still_works(shared)


@pytest.mark.parametrize("name", ["", "1abc", "a.b", "os.system('x')", None])
def test_function_name_must_be_an_identifier(shared, name):
    with pytest.raises(ValueError, match="identifier"):
        shared.call(name)
    assert_good_still_works(shared)


def test_constructor_validation(tmp_path):
    with pytest.raises(TypeError, match="limits"):
        PythonSubmission(GOOD, limits={"wall": 1})
    with pytest.raises(TypeError, match="source"):
        PythonSubmission(b"print(1)")
    with pytest.raises(FileNotFoundError, match="missing.py"):
        PythonSubmission(tmp_path / "missing.py")
    with pytest.raises(ValueError, match="drop_privileges"):
        PythonSubmission(GOOD, drop_privileges="yes")


# --------------------------------------------------------------------------- protocol


def round_trip(value):
    frame = protocol.pack({"op": "test"}, value)
    stream = io.BytesIO(frame)

    def read_exact(size):
        data = stream.read(size)
        if len(data) != size:
            raise EOFError
        return data

    header, back = protocol.read_frame(read_exact, max_bytes=len(frame))
    assert header == {"op": "test"}
    assert stream.read() == b""
    return back


@pytest.mark.parametrize(
    "dtype",
    ["bool", "int8", "uint8", "int16", "uint32", "int64", "uint64", "float16", "float32",
     "float64", "longdouble", "complex64", "complex128", ">f8", "<i4"],
)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0), (2, 3), (1, 2, 3)])
def test_protocol_round_trip_dtypes_and_shapes(dtype, shape):
    array = (np.arange(math.prod(shape)) % 3).astype(dtype).reshape(shape)
    back = round_trip(array)
    assert type(back) is np.ndarray
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_protocol_round_trip_layouts_and_special_floats():
    base = np.arange(24.0).reshape(4, 6)
    for array in (base.T, base[::2, ::3], np.asfortranarray(base), base[:, 1]):
        back = round_trip(array)
        np.testing.assert_array_equal(back, array)
    floats = [math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]
    back = round_trip(floats)
    assert math.isnan(back[0]) and back[1:3] == [math.inf, -math.inf]
    assert math.copysign(1.0, back[3]) == -1.0 and back[4:] == [1e308, 5e-324]


def test_protocol_round_trip_nested_structures():
    value = {
        "list": [1, [2, [3, []]]],
        "tuple": (1, ("a", None), ()),
        "dict": {1: "int key", 2.5: "float key", None: "none", False: "bool", ("a", 1): "tuple"},
        "big": 2**100,
        "text": "ünïcødé \udc80",
        "arrays": [np.ones(2), (np.zeros((1, 1)), {"x": np.array(True)})],
    }
    back = round_trip(value)
    assert back["list"] == value["list"]
    assert back["tuple"] == value["tuple"] and isinstance(back["tuple"][1], tuple)
    assert back["dict"] == value["dict"] and list(back["dict"]) == list(value["dict"])
    assert back["big"] == 2**100 and back["text"] == value["text"]
    assert isinstance(back["arrays"][1], tuple)
    np.testing.assert_array_equal(back["arrays"][1][1]["x"], True)


@given(
    hnp.arrays(
        dtype=st.one_of(
            hnp.integer_dtypes(),
            hnp.floating_dtypes(),
            hnp.complex_number_dtypes(),
            hnp.boolean_dtypes(),
        ),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    )
)
def test_protocol_round_trip_is_exact_for_any_numeric_array(array):
    back = round_trip(array)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == np.ascontiguousarray(array).tobytes()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (np.array([1, None], dtype=object), "numeric dtype"),
        (np.array(["a"]), "numeric dtype"),
        (np.array([b"a"]), "numeric dtype"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "numeric dtype"),
        (np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), "numeric dtype"),
        (matrix([[1.0]]), "numpy.matrix"),
        (np.ma.masked_array([1.0]), "MaskedArray"),
        ((i for i in range(2)), "generator"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        ({"k": [1, object()]}, r"value\['k'\]\[1\]"),
        ({np.zeros(1).tobytes(): 1}, "dict key"),
        (Exception("x"), "Exception"),
    ],
)
def test_protocol_rejects_unsendable_values(value, match):
    with pytest.raises(protocol.ProtocolError, match=match):
        protocol.pack({}, value)


def test_protocol_rejects_cycles_and_deep_nesting():
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(protocol.ProtocolError, match="contains itself"):
        protocol.pack({}, cycle)
    deep: list = []
    for _ in range(protocol.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(protocol.ProtocolError, match="deeper"):
        protocol.pack({}, deep)


def _frame(envelope, blobs=(), magic=protocol.MAGIC):
    text = json.dumps(envelope).encode()
    return struct.pack(">4sI", magic, len(text)) + text + b"".join(blobs)


def _npy(descr: str, shape: str, data_bytes: int) -> bytes:
    """A hand-made .npy blob whose header claims ``descr``/``shape`` (possibly lying)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode("latin1")
    data = b"\0" * data_bytes
    padding = 64 - (10 + len(text) + 1) % 64
    text += b" " * padding + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (_frame({"header": {}, "value": 1, "blobs": []}, magic=b"XXXX"), "magic"),
        (struct.pack(">4sI", protocol.MAGIC, 2**31), "exceeds"),
        (struct.pack(">4sI", protocol.MAGIC, 3) + b"{x}", "not valid JSON"),
        (_frame({"header": {}, "value": 1}), "envelope"),
        (_frame({"header": [], "value": 1, "blobs": []}), "header must be"),
        (_frame({"header": {}, "value": {"evil": 1}, "blobs": []}), "unknown tree tag"),
        (_frame({"header": {}, "value": {"array": 0}, "blobs": []}), "out of range"),
        (_frame({"header": {}, "value": {"array": 0}, "blobs": [0]}), "invalid .npy header"),
        (_frame({"header": {}, "value": 1, "blobs": [5]}, [b"ab"]), "short"),
        (_frame({"header": {}, "value": 1, "blobs": [-1]}), "non-negative"),
        (_frame({"header": {}, "value": 1, "blobs": [10**12]}), "beyond the limit"),
        (_frame({"header": {}, "value": {"float": "pi"}, "blobs": []}), "float constant"),
        (_frame({"header": {}, "value": {"dict": [[{"list": []}, 1]]}, "blobs": []}), "unhashable"),
        (struct.pack(">4sI", protocol.MAGIC, 3) + b"NaN", "non-standard JSON"),
    ],
)
def test_protocol_rejects_malformed_frames(frame, match):
    stream = io.BytesIO(frame)

    def read_exact(size):
        data = stream.read(size)
        if len(data) != size:
            raise EOFError("short")
        return data

    with pytest.raises((protocol.ProtocolError, EOFError), match=match):
        protocol.read_frame(read_exact, max_bytes=1 * MiB)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        (_npy("|O", "(2,)", 16), "numeric dtype"),
        (_npy("<f8", "(1000000000,)", 8), "needs"),
        (_npy("<f8", "(2,)", 24), "needs"),
        (_npy("<U3", "(1,)", 12), "numeric dtype"),
        (b"\x93NUMPY\x01\x00\x05\x00hello", "invalid .npy header"),
        (b"not an npy file at all", "invalid .npy header"),
    ],
)
def test_protocol_rejects_crafted_arrays(blob, match):
    with pytest.raises(protocol.ProtocolError, match=match):
        protocol.decode_tree({"array": 0}, [blob])


def test_protocol_rejects_array_aliasing_and_unused_blobs():
    blob = protocol.pack({}, np.ones(3))
    array_blob = blob[blob.index(b"\x93NUMPY") :]
    with pytest.raises(protocol.ProtocolError, match="more than once"):
        protocol.decode_tree({"list": [{"array": 0}, {"array": 0}]}, [array_blob])
    with pytest.raises(protocol.ProtocolError, match="never references"):
        protocol.decode_tree(1, [array_blob])


def test_protocol_enforces_the_size_limits_when_packing():
    with pytest.raises(protocol.ProtocolError, match="limit"):
        protocol.pack({}, np.zeros(10_000), max_bytes=1024)
    with pytest.raises(protocol.ProtocolError, match="as numpy arrays"):
        protocol.pack({}, [0.5] * (protocol.MAX_JSON_BYTES // 4))
    with pytest.raises(protocol.ProtocolError, match="arrays, more than"):
        protocol.pack({}, [np.zeros(0)] * (protocol.MAX_ARRAYS + 1))


def test_protocol_rejects_too_many_arrays_or_too_much_json_when_reading():
    too_many = _frame({"header": {}, "value": None, "blobs": [0] * (protocol.MAX_ARRAYS + 1)})
    huge_json = struct.pack(">4sI", protocol.MAGIC, protocol.MAX_JSON_BYTES + 1)
    for frame, match in ((too_many, "more than"), (huge_json, "exceeds")):
        stream = io.BytesIO(frame)
        with pytest.raises(protocol.ProtocolError, match=match):
            protocol.read_frame(stream.read, max_bytes=64 * MiB)


# --------------------------------------------------------------------------- limits


def test_limits_defaults_are_documented_values():
    limits = Limits()
    assert (limits.wall, limits.cpu, limits.memory, limits.processes, limits.output) == (
        10.0, 10.0, 2**30, 64, 64 * 1024,
    )
    assert limits.replace(wall=2.0).wall == 2.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("wall", 0), ("wall", -1.0), ("wall", math.nan), ("wall", math.inf), ("wall", "10"),
        ("wall", True), ("wall", None), ("wall", 10**6), ("cpu", 0.0), ("cpu", "1"),
        ("load", -5), ("memory", 1024), ("memory", 1.5 * 2**30), ("memory", "1G"),
        ("memory", 2**62), ("processes", 0), ("processes", 2.0), ("output", -1),
        ("output", None), ("file_size", 10), ("transfer", 0), ("processes", False),
    ],
)
def test_limits_reject_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError) as error:
        Limits(**{field: value})
    assert f"Limits.{field}" in str(error.value)
    assert repr(value) in str(error.value) or str(value) in str(error.value)


def test_limits_replace_rejects_unknown_fields():
    with pytest.raises(ValueError, match="walltime"):
        Limits().replace(walltime=3)


# --------------------------------------------------------------------------- run_command

CMD_LIMITS = Limits(wall=2.0, cpu=2.0, memory=256 * MiB, processes=32, output=4096)


@pytest.mark.parametrize(
    ("command", "exit_code", "stdout"),
    [
        ("exit 0", 0, ""),
        ("echo hello; exit 3", 3, "hello\n"),
        (["sh", "-c", "echo $0 $1", "a", "b c"], 0, "a b c\n"),
        (["/bin/true"], 0, ""),
        (["false"], 1, ""),
        (["definitely-not-a-program"], 127, ""),
        ("echo $HOME | grep -c -e gradref-sandbox- -e ^/run/work$", 0, "1\n"),
    ],
)
def test_run_command_exit_codes(command, exit_code, stdout):
    result = run_command(command, CMD_LIMITS)
    assert isinstance(result, ProcessResult)
    assert (result.exit_code, result.signal, result.timed_out) == (exit_code, None, False)
    assert result.stdout == stdout
    assert result.ok == (exit_code == 0)


def test_run_command_timeout_kills_the_whole_group():
    result = run_command(
        "trap '' TERM; (trap '' TERM; sleep 100) & setsid sleep 100 & sleep 100",
        CMD_LIMITS.replace(wall=0.5),
    )
    assert result.timed_out and result.signal == signal.SIGKILL and result.exit_code is None
    assert "timed out" in result.reason
    assert result.seconds < 3


def test_run_command_leaves_no_background_process():
    result = run_command("sleep 100 & echo $!", CMD_LIMITS, isolation=FALLBACK)
    assert result.ok
    assert procfs.read_process(int(result.stdout)) is None


def test_run_command_cpu_limit():
    result = run_command("while :; do :; done", CMD_LIMITS.replace(wall=20.0, cpu=0.5))
    assert not result.timed_out
    assert result.signal in (signal.SIGXCPU, signal.SIGKILL)
    assert result.seconds < 10


def test_run_command_shell_writes_a_file_and_reads_inputs():
    result = run_command(
        "tr a-z A-Z < case.txt > out.txt && echo done",
        CMD_LIMITS,
        inputs={"case.txt": "hello"},
        outputs=["out.txt", "never-written.txt"],
    )
    assert result.ok, result
    assert result.outputs == {"out.txt": b"HELLO"}
    assert result.stdout == "done\n"


def test_run_command_outputs_never_follow_symlinks():
    result = run_command("ln -s /etc/passwd out.txt", CMD_LIMITS, outputs=["out.txt"])
    assert result.ok and result.outputs == {}


def test_run_command_output_is_truncated():
    result = run_command("head -c 100000 /dev/zero | tr '\\0' x; echo END", CMD_LIMITS.replace(output=1000))
    assert result.ok
    assert "bytes of output omitted" in result.stdout and result.stdout.endswith("END\n")
    assert len(result.stdout) < 1100


def test_run_command_with_explicit_cwd():
    # pytest's tmp_path lives under a 0700 directory the sandbox uid could not enter
    folder = Path(tempfile.mkdtemp(prefix="gradref-isolation-test-"))
    try:
        folder.chmod(0o755)
        (folder / "data.txt").write_text("42")
        result = run_command(["cat", "data.txt"], CMD_LIMITS, cwd=folder)
        assert result.ok and result.stdout == "42"
        if ROOT:  # the directory is not the sandbox's: it may read but not write there
            denied = run_command("touch new.txt", CMD_LIMITS, cwd=folder)
            assert denied.exit_code != 0 and not (folder / "new.txt").exists()
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"command": ""}, "empty"),
        ({"command": []}, "at least"),
        ({"command": [1]}, r"command\[0\]"),
        ({"command": b"ls"}, "shell string"),
        ({"command": "true", "cwd": "/nonexistent/dir"}, "cwd"),
        ({"command": "true", "limits": {"wall": 1}}, "Limits"),
        ({"command": "true", "outputs": "out.txt"}, "outputs"),
        ({"command": "true", "inputs": {"../x": b""}}, "plain names"),
        ({"command": "true", "env": {"A=B": "c"}}, "env"),
    ],
)
def test_run_command_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_command(**kwargs)


@needs_root
def test_run_command_runs_as_an_unprivileged_uid():
    result = run_command("id -u; touch /work/ISOLATION_ESCAPE 2>/dev/null || echo denied", CMD_LIMITS)
    uid, denied = result.stdout.split()
    assert int(uid) not in (0, 65534) and denied == "denied"
    assert not Path("/work/ISOLATION_ESCAPE").exists()


# --------------------------------------------------------------------------- load_source


def test_load_source_python_file(tmp_path):
    path = tmp_path / "sub.py"
    path.write_text("# -*- coding: utf-8 -*-\nx = 'é'\n", encoding="utf-8")
    assert load_source(path) == "# -*- coding: utf-8 -*-\nx = 'é'\n"
    assert load_source(str(path)) == load_source(path)


def test_load_source_notebook_keeps_code_cells_and_drops_ipython_syntax():
    source = load_source(HOSTILE / "notebook_with_magics.ipynb")
    assert "Assignment 1" not in source  # markdown
    assert "echo 'a cell magic" not in source  # %%bash cell skipped entirely
    assert "import numpy as np" in source
    for line in source.splitlines():
        stripped = line.strip()
        assert not stripped.startswith(("%", "!")) or stripped in (
            "%this line is inside a string", "!and so is this one", "% 3)",
        )
    assert "% 3)" in source  # a modulo on a continuation line is not a magic
    compile(source, "notebook", "exec")
    assert source.index("def sigmoid") < source.index("def relu")


def test_notebook_submission_runs_in_the_sandbox():
    with PythonSubmission(HOSTILE / "notebook_with_magics.ipynb", limits=LIMITS) as sub:
        result = sub.call("sigmoid", np.array([0.0]))
        assert result.ok, result.message
        np.testing.assert_allclose(result.value, [0.5])
        assert sub.call("relu", np.array([-1.0, 2.0])).value.tolist() == [0.0, 2.0]


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("missing.py", None, FileNotFoundError, "missing.py"),
        ("notes.txt", "x = 1", ValueError, "notes.txt.*.py or .ipynb"),
        ("bad.ipynb", "{not json", ValueError, "bad.ipynb.*not a valid Jupyter notebook"),
        ("list.ipynb", "[]", ValueError, "list.ipynb"),
        ("latin1.py", b"x = '\xe9'\n", ValueError, "latin1.py"),
        (
            "r.ipynb",
            json.dumps({"nbformat": 4, "nbformat_minor": 4, "cells": [],
                        "metadata": {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}}),
            ValueError,
            "R notebook",
        ),
    ],
)
def test_load_source_errors_name_the_path(tmp_path, name, content, error, match):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(error, match=match):
        load_source(path)


def test_load_source_rejects_a_directory(tmp_path):
    folder = tmp_path / "folder.py"
    folder.mkdir()
    with pytest.raises(ValueError, match="folder.py"):
        load_source(folder)


def test_public_api():
    assert sorted(isolation.__all__) == sorted(
        ["CallResult", "IsolationError", "Limits", "ProcessResult", "PythonSubmission",
         "load_source", "run_command"]
    )
    assert sys.modules["gradref.checks.isolation"] is isolation
