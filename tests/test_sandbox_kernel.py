"""Kernel objects as channels between submissions (issue 22, routes 2 and 3): keyrings, record
locks, leases, inotify/fanotify watches on a shared read-only host file, io_uring and the socket
families no network namespace separates.  Each attack is run as a student would run it: one
submission writes, another (graded later, or at the same time) reads.  A route left open shows
up as data arriving on the other side.

The filter itself (:mod:`gradref.checks.isolation.seccomp`) is checked against an independent
restatement: its program is run by a small classic-BPF interpreter written here.
"""

from __future__ import annotations

import errno
import os
import platform
import struct
import textwrap
from pathlib import Path

import pytest
from gradref.checks.isolation import Limits, PythonSubmission, levels, process, seccomp

ROOT = os.geteuid() == 0
PROBLEM = levels.namespaces_problem()
needs_namespaces = pytest.mark.skipif(PROBLEM is not None,
                                      reason=f"namespaces level unavailable: {PROBLEM}")
needs_filter = pytest.mark.skipif(seccomp.filter_program() is None,
                                  reason=f"no seccomp filter for {platform.machine()}")
MiB = 2**20
LIMITS = Limits(wall=5.0, cpu=5.0, memory=512 * MiB, processes=32, output=4096, load=10.0)
LEVELS = ["namespaces", "uid" if ROOT else "none"]


def _level(name: str):
    if name == "namespaces" and PROBLEM is not None:
        pytest.skip(f"namespaces level unavailable: {PROBLEM}")
    return name


# ----------------------------------------------------------------------------- the attacks

NUMBERS = seccomp.machine_syscalls() or (0, {}, False)

KERNEL = textwrap.dedent(f'''
    import ctypes, errno, fcntl, os, struct
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    NR = {NUMBERS[1]!r}
    SHARED = "/usr/bin/env"          # read-only, the same inode in every sandbox
    SECRET = b"W1=0.25;b1=-0.5"      # what the solver would hand to the copier
    _kept = []

    def _errno():
        return errno.errorcode.get(ctypes.get_errno(), ctypes.get_errno())

    # --- keyrings: a key for everyone in the uid's user keyring (KEY_SPEC_USER_KEYRING = -4)
    def plant_key():
        serial = libc.syscall(NR["add_key"], b"user", b"gradref-answers", SECRET,
                              len(SECRET), -4)
        if serial < 0:
            return "refused " + str(_errno())
        libc.syscall(NR["keyctl"], 5, serial, 0x3f3f3f3f)      # KEYCTL_SETPERM: all for all
        return "planted"

    def read_keys():
        found = []
        try:
            lines = open("/proc/keys").read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            if "gradref-answers" in line:
                serial = int(line.split()[0], 16)
                buffer = ctypes.create_string_buffer(256)
                size = libc.syscall(NR["keyctl"], 11, serial, buffer, 256)   # KEYCTL_READ
                found.append(buffer.raw[:size] if size >= 0 else b"listed")
        return found

    # --- record locks on the shared file: a byte range per bit of the secret
    def _bits():
        return [i for i, byte in enumerate(SECRET) for bit in range(8) if byte >> bit & 1]

    def plant_locks():
        done = []
        handle = os.open(SHARED, os.O_RDONLY)
        _kept.append(handle)
        for name, command in (("posix", fcntl.F_SETLK), ("ofd", 37)):   # F_OFD_SETLK
            try:
                for i in _bits()[:8]:
                    start = (1000 if name == "posix" else 5000) + i
                    fcntl.fcntl(handle, command, struct.pack("hhqqi", fcntl.F_RDLCK, 0, start, 1, 0))
                done.append(name)
            except OSError as error:
                done.append(name + " refused " + errno.errorcode[error.errno])
        try:
            fcntl.flock(handle, fcntl.LOCK_SH)
            done.append("flock")
        except OSError as error:
            done.append("flock refused " + errno.errorcode[error.errno])
        return done

    def read_locks():
        seen = []
        handle = os.open(SHARED, os.O_RDONLY)
        try:
            for name, command, base in (("posix", fcntl.F_GETLK, 1000), ("ofd", 36, 5000)):
                for i in range(8):
                    query = struct.pack("hhqqi", fcntl.F_WRLCK, 0, base + i, 1, 0)
                    try:
                        answer = fcntl.fcntl(handle, command, query)
                    except OSError:
                        continue
                    if struct.unpack("hhqqi", answer)[0] != fcntl.F_UNLCK:
                        seen.append(f"{{name}}@{{i}}")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append("flock held elsewhere")
            except OSError:
                pass
        finally:
            os.close(handle)
        inode = ":" + str(os.stat(SHARED).st_ino) + " "
        try:
            seen += [line for line in open("/proc/locks").read().splitlines() if inode in line]
        except OSError:
            pass
        return seen

    # --- inotify: the reader watches the shared file, the writer opens it
    def watch():
        fd = libc.inotify_init1(os.O_NONBLOCK)
        if fd < 0:
            return "refused " + str(_errno())
        if libc.inotify_add_watch(fd, SHARED.encode(), 0x20) < 0:   # IN_OPEN
            return "refused " + str(_errno())
        _kept.append(fd)
        return "watching"

    def touch():
        for _ in range(3):
            os.close(os.open(SHARED, os.O_RDONLY))
        return "touched"

    def events():
        try:
            return len(os.read(_kept[-1], 4096)) if _kept else 0
        except BlockingIOError:
            return 0

    # --- families no namespace separates, and io_uring around the filter
    def other_sockets():
        import socket
        opened = []
        for name in ("AF_VSOCK", "AF_PACKET", "AF_BLUETOOTH", "AF_ALG"):
            family = getattr(socket, name, None)
            if family is None:
                continue
            try:
                kind = socket.SOCK_SEQPACKET if name == "AF_ALG" else socket.SOCK_STREAM
                socket.socket(family, kind).close()
                opened.append(name)
            except OSError as error:
                if error.errno != errno.EAFNOSUPPORT:
                    opened.append(name + " " + errno.errorcode[error.errno])
        params = ctypes.create_string_buffer(120)
        ring = libc.syscall(NR["io_uring_setup"], 4, params)
        if ring >= 0 or ctypes.get_errno() != errno.EPERM:
            opened.append("io_uring " + str(ring) + " " + str(_errno()))
        return opened

    def honest(x):
        return x * 2

    def everyday():
        """What ordinary code does with files and sockets keeps working."""
        import socket, tempfile
        with tempfile.TemporaryFile() as handle:
            handle.write(b"abc")
            handle.seek(0)
            flags = fcntl.fcntl(handle.fileno(), fcntl.F_GETFL)
            fcntl.fcntl(handle.fileno(), fcntl.F_SETFD, fcntl.FD_CLOEXEC)
            duplicate = fcntl.fcntl(handle.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
            os.close(duplicate)
            data = handle.read()
        pair = socket.socketpair()
        pair[0].sendall(b"x")
        got = pair[1].recv(1)
        pair[0].close(); pair[1].close()
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
        return data.decode(), bool(flags >= 0), got.decode()
''')


def _host_keys() -> list[str]:
    """Live keys named like the attack's on the host (read as root: every key).  An
    invalidated, revoked or dead key (flag ``i``, ``R``, ``D``) can no longer be read; the
    kernel's garbage collector removes it from the list moments later."""
    try:
        return [line for line in Path("/proc/keys").read_text().splitlines()
                if "gradref-answers" in line and not set(line.split()[1]) & set("iRD")]
    except OSError:
        return []


@needs_filter
@pytest.mark.parametrize("level", LEVELS)
def test_a_key_planted_by_one_submission_never_reaches_the_next(level):
    _level(level)
    with PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as first:
        planted = first.call("plant_key")
        honest = first.call("honest", 21)
        uid = first.child_uid
    assert planted.ok and planted.value.startswith("refused"), planted
    assert honest.ok and honest.value == 42
    with PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as second:
        read = second.call("read_keys")
    assert read.ok and read.value == [], read
    if ROOT:
        assert _host_keys() == []
        if uid not in (None, 0):
            assert f" {uid}:" not in Path("/proc/key-users").read_text()


@pytest.mark.skipif(not ROOT or not NUMBERS[1], reason="throw-away uids need a root parent")
@pytest.mark.parametrize("level", LEVELS)
def test_keys_left_without_the_filter_are_removed_when_the_submission_ends(level, monkeypatch):
    """The second line: were the filter absent, the keys the uid made are purged at the end."""
    _level(level)
    monkeypatch.setattr(process._seccomp, "spec", lambda: None)
    with PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as first:
        planted = first.call("plant_key")
        uid = first.child_uid
        assert planted.ok and planted.value == "planted", planted   # the oracle: it was open
        assert len(_host_keys()) == 1 and process.uid_has_keys(uid)
    assert _host_keys() == []


@needs_filter
@pytest.mark.parametrize("level", LEVELS)
def test_locks_on_a_shared_host_file_carry_nothing_to_a_concurrent_submission(level):
    _level(level)
    with PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as writer, \
            PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as reader:
        planted = writer.call("plant_locks")
        seen = reader.call("read_locks")
        assert writer.call("honest", 1).value == 2
    assert planted.ok and planted.value == ["posix refused ENOLCK", "ofd refused ENOLCK",
                                            "flock refused ENOLCK"], planted
    assert seen.ok and seen.value == [], seen


@needs_filter
@pytest.mark.parametrize("level", LEVELS)
def test_inotify_on_a_shared_host_file_sees_no_other_submission(level):
    _level(level)
    with PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as reader, \
            PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as writer:
        watching = reader.call("watch")
        assert writer.call("touch").ok
        seen = reader.call("events")
    assert watching.ok and watching.value == f"refused {errno.errorcode[errno.EPERM]}", watching
    assert seen.ok and seen.value == 0, seen


@needs_filter
@pytest.mark.parametrize("level", LEVELS)
def test_unseparated_socket_families_and_io_uring_are_refused(level):
    _level(level)
    with PythonSubmission(KERNEL, limits=LIMITS, isolation=level) as sub:
        opened = sub.call("other_sockets")
        everyday = sub.call("everyday")
    assert opened.ok and opened.value == [], opened
    assert everyday.ok and everyday.value == ("abc", True, "x"), everyday


# ----------------------------------------------------------------------------- the program

class _Interpreter:
    """Classic BPF restated from the kernel's documentation (only what a seccomp filter may
    use here: absolute word loads, JEQ/JGE with constants, RET with a constant)."""

    def __init__(self, program: bytes):
        self.code = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]

    def run(self, nr: int, arch: int, args=(0,) * 6) -> int:
        args = [a & (2**64 - 1) for a in args] + [0] * (6 - len(args))
        data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
        pc, acc = 0, 0
        while True:
            op, jt, jf, k = self.code[pc]
            if op == 0x20:
                acc = struct.unpack_from("<I", data, k)[0]
                pc += 1
            elif op in (0x15, 0x35):
                hit = acc == k if op == 0x15 else acc >= k
                pc += 1 + (jt if hit else jf)
            elif op == 0x06:
                return k
            else:
                raise AssertionError(f"unexpected BPF opcode {op:#x}")


ALLOW = 0x7FFF0000


def _errno_of(action: int) -> int | None:
    return action & 0xFFFF if action & 0xFFFF0000 == 0x00050000 else None


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHITECTURES))
def test_the_program_refuses_exactly_the_shared_objects(machine):
    arch, numbers, x32 = seccomp.ARCHITECTURES[machine]
    bpf = _Interpreter(seccomp.filter_program(machine))
    for name in ("add_key", "keyctl", "request_key", "inotify_init1", "inotify_add_watch",
                 "fanotify_init", "io_uring_setup", "io_uring_enter"):
        assert _errno_of(bpf.run(numbers[name], arch)) == errno.EPERM, name
    assert _errno_of(bpf.run(numbers["flock"], arch, (3, 2))) == errno.ENOLCK
    for command in (5, 6, 7, 36, 37, 38, 1024, 1025, 1026):
        assert _errno_of(bpf.run(numbers["fcntl"], arch, (3, command))) == errno.ENOLCK
        # the kernel reads cmd as an int: garbage in the upper half changes nothing
        assert _errno_of(bpf.run(numbers["fcntl"], arch, (3, command | 7 << 32))) == errno.ENOLCK
    for command in (0, 1, 2, 3, 4, 8, 1030, 1031, 1032, 1033):   # F_DUPFD ... F_GETPIPE_SZ
        assert bpf.run(numbers["fcntl"], arch, (3, command)) == ALLOW, command
    for family in (2, 10, 16):
        assert bpf.run(numbers["socket"], arch, (family, 1, 0)) == ALLOW
    for family in (1, 17, 31, 38, 40, 44):   # unix, packet, bluetooth, alg, vsock, xdp
        assert _errno_of(bpf.run(numbers["socket"], arch, (family, 1, 0))) == errno.EAFNOSUPPORT
    refused = set(numbers.values()) - {numbers["seccomp"]}
    for nr in range(0, 460):   # every other system call passes, whatever its arguments
        if nr not in refused:
            assert bpf.run(nr, arch, (5, 6, 7, 8, 9, 10)) == ALLOW, nr
    assert _errno_of(bpf.run(numbers["fcntl"], arch ^ 0x80000000)) == errno.ENOSYS  # foreign ABI
    assert _errno_of(bpf.run(0, 0x40000003)) == errno.ENOSYS                          # i386
    if x32:
        assert _errno_of(bpf.run(0x40000000 | numbers["flock"], arch)) == errno.ENOSYS


def test_an_unknown_machine_has_no_program_and_says_so(monkeypatch):
    assert seccomp.filter_program("sparc64") is None and seccomp.spec("sparc64") is None
    assert "seccomp" not in levels.Isolation("none").describe().partition(")")[2]
    monkeypatch.setattr(platform, "machine", lambda: "sparc64")
    assert "no seccomp filter on this machine (sparc64)" in levels.Isolation("none").describe()


@needs_filter
def test_two_separate_grade_runs_share_no_key(tmp_path):
    """The route as found: ``gradref grade planter.py`` (the key planted at load time), then
    ``gradref grade reader.py``, whose cost function reports what it found."""
    import subprocess
    import sys

    correct = (Path(__file__).resolve().parent / "grading_fixtures" / "step_correct.py").read_text()
    (tmp_path / "planter.py").write_text(KERNEL + "\nplant_key()\n" + correct)
    (tmp_path / "reader.py").write_text(
        correct.replace("def compute_cost(", "def _honest_compute_cost(") + KERNEL
        + "\ndef compute_cost(AL, Y):\n    raise RuntimeError('found ' + repr(read_keys()))\n")
    texts = []
    for name in ("planter", "reader"):
        done = subprocess.run([sys.executable, "-m", "gradref", "grade", str(tmp_path / f"{name}.py"),
                               "--format", "json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        texts.append(done.stdout)
    assert '"score": 100.0' in texts[0]                 # the planter's own grade is untouched
    assert "found []" in texts[1] and "W1=0.25" not in texts[1]
    if ROOT:
        assert _host_keys() == []


# ----------------------------------------------------------------------------- host unix sockets

CONNECT = textwrap.dedent('''
    import errno, socket, sys

    def connect(path):
        """Reach a Unix socket of the host by its path: an agent, a display, a database."""
        try:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as error:
            return "refused " + errno.errorcode[error.errno]
        try:
            client.connect(path)
            client.sendall(b"W1=0.25;b1=-0.5")
        except OSError as error:
            return "unreachable " + errno.errorcode[error.errno]
        return "connected"

    if __name__ == "__main__":
        print(connect(sys.argv[1]))
''')


@pytest.fixture
def host_socket():
    """A listening Unix socket of the host, in a folder anyone may enter (pytest's own folders
    are the grader's user's alone, which would hide the socket from a throw-away uid)."""
    import shutil
    import socket
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="gradref-socket-"))
    os.chmod(folder, 0o755)
    path = folder / "agent.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o777)
    listener.listen(4)
    listener.setblocking(False)
    yield path, listener
    listener.close()
    shutil.rmtree(folder)


def _nobody_called(listener) -> bool:
    try:
        listener.accept()[0].close()
    except BlockingIOError:
        return True
    return False


@needs_filter
@pytest.mark.parametrize("level", ["namespaces", "uid" if ROOT else "none"])
def test_a_command_cannot_connect_to_a_unix_socket_of_the_host(level, host_socket):
    import sys

    from gradref.checks.isolation import run_command

    _level(level)
    path, listener = host_socket
    program = path.parent / "connect.py"
    program.write_text(CONNECT)
    os.chmod(program, 0o644)
    # as the grader's own user (validate --same-user), who may run this interpreter
    result = run_command([sys.executable, str(program), str(path)], LIMITS, isolation=level,
                         drop_privileges=False)
    assert result.stdout.strip() == "refused EAFNOSUPPORT", (result.stdout, result.stderr)
    assert _nobody_called(listener)


@needs_filter
@pytest.mark.parametrize("level", LEVELS)
def test_a_submission_cannot_connect_to_a_unix_socket_of_the_host(level, host_socket):
    _level(level)
    path, listener = host_socket
    with PythonSubmission(CONNECT, limits=LIMITS, isolation=level) as sub:
        reached = sub.call("connect", str(path))
    assert reached.ok and reached.value == "refused EAFNOSUPPORT", reached
    assert _nobody_called(listener)
