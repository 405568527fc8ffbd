"""Spawn, watch and kill one sandboxed child process: the single mechanism behind both entry
points (:class:`~gradref.checks.isolation.PythonSubmission` and
:func:`~gradref.checks.isolation.run_command`).

A :class:`Sandbox` owns

* a fresh private working directory (``mkdtemp``; owned by the sandbox uid when dropping
  privileges), also used as ``HOME`` and ``TMPDIR``;
* two capture files in that directory for stdout and stderr.  The parent opened them and keeps
  its own descriptors, reading with ``pread``: the child may unlink or replace the names (the
  directory is its own) but can never make the parent read another file (no symlink tricks);
* the child process, started with ``subprocess.Popen`` in a new session (so a new process
  group), stdin from ``/dev/null``, ``close_fds`` plus only the protocol descriptors passed,
  and a clean environment (minimal ``PATH``, ``HOME``/``TMPDIR`` = workdir, one BLAS/OpenMP
  thread, ``LANG=C.UTF-8``, ``MPLBACKEND=Agg``, a random token used to recognise our
  processes, no ``PYTHON*`` variables).  Every child runs ``sys.executable -I -S``: either the
  launcher ``_sandbox.py exec SPEC -- ARGV`` (commands) or the harness ``_child.py SPEC``
  (Python submissions); both apply the limits with the same ``_sandbox.enter`` function.

Killing (:meth:`Sandbox.kill`) is deliberately blunt and always complete:

1. ``SIGKILL`` to the process group (before the child is reaped, so the group id cannot have
   been recycled), which also kills members that ignore ``SIGTERM``;
2. reap the direct child, keeping its exit status;
3. stragglers: when running as a dedicated uid, every process of that uid is killed with
   ``kill(-1, SIGKILL)`` executed *as that uid* (atomic, so a fork bomb cannot outrun it, and
   it also catches processes that left the group with ``setsid``), repeated until ``/proc``
   shows none.  Without a dedicated uid (non-root parent) we can only find stragglers that kept
   our environment token (alive) or our command name (zombies; ``PR_SET_NAME`` is inherited
   by forks), which is best effort.
4. zombies: the parent marks itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so
   orphaned sandbox processes are re-parented to it instead of to PID 1 (which, in some
   containers, never reaps); the parent reaps those that belong to the sandbox uid.  Side
   effect: orphans of *other* code in the parent process are re-parented to it as well.

The parent never reaps by ``waitpid(-1)``, so ``subprocess`` objects owned by other code keep
their exit statuses.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
import weakref
from pathlib import Path
from typing import Mapping, Sequence

from . import procfs
from .errors import IsolationError
from .limits import Limits
from .uids import UidLease

__all__ = [
    "CHILD_SCRIPT",
    "OutputCapture",
    "SANDBOX_SCRIPT",
    "Sandbox",
    "describe_status",
    "python_argv",
]

SANDBOX_SCRIPT = Path(__file__).with_name("_sandbox.py")
CHILD_SCRIPT = Path(__file__).with_name("_child.py")

_MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"
_TOKEN_VARIABLE = "GRADREF_SANDBOX_TOKEN"
_KILL_DEADLINE = 10.0

_subreaper_pid: int | None = None


def python_argv() -> list[str]:
    """The interpreter command line every child starts with (isolated mode, no site)."""
    if not sys.executable:
        raise IsolationError("sys.executable is empty: cannot start a Python child")
    return [sys.executable, "-I", "-S"]


def _ensure_subreaper() -> None:
    """Make this process adopt orphaned descendants (Linux >= 3.4); best effort."""
    global _subreaper_pid
    if _subreaper_pid == os.getpid():
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    _subreaper_pid = os.getpid()


def describe_status(returncode: int | None) -> str:
    """``"exit code 3"`` / ``"killed by signal 9 (SIGKILL)"`` for a Popen return code."""
    if returncode is None:
        return "still running"
    if returncode >= 0:
        return f"exit code {returncode}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = "unknown signal"
    return f"killed by signal {number} ({name})"


class OutputCapture:
    """stdout or stderr of a sandbox: a file in its workdir, read through our own descriptor."""

    def __init__(self, directory: Path, name: str) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd = os.open(directory / name, flags, 0o600)

    def position(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self, start: int, limit: int) -> str:
        """Text written since ``start``; over ``limit`` bytes keeps the head and the tail."""
        end = self.position()
        start = min(start, end)
        size = end - start
        if size <= limit:
            data = os.pread(self.fd, size, start) if size else b""
        else:
            head = limit // 2
            tail = limit - head
            data = (
                os.pread(self.fd, head, start)
                + f"\n[... {size - limit} bytes of output omitted ...]\n".encode()
                + (os.pread(self.fd, tail, end - tail) if tail else b"")
            )
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _clean_environment(
    workdir: Path, token: str, extra: Mapping[str, str] | None
) -> dict[str, str]:
    env = {
        "PATH": _MINIMAL_PATH,
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "VECLIB_MAXIMUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        _TOKEN_VARIABLE: token,
    }
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or not key or "=" in key:
            raise ValueError(f"env entries must be str -> str without '=', got {key!r}: {value!r}")
        env[key] = value
    return env


class Sandbox:
    """One child process with its workdir, captured output, limits and kill-everything logic.

    Use :meth:`spawn` once, then :meth:`wait_exit` / :meth:`kill` / :meth:`close`.  ``close``
    is idempotent and also runs (best effort) when the object is garbage collected or the
    interpreter exits.
    """

    def __init__(
        self,
        limits: Limits,
        lease: UidLease | None,
        *,
        cwd: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        _ensure_subreaper()
        self.limits = limits
        self.lease = lease
        self.workdir = Path(tempfile.mkdtemp(prefix="gradref-sandbox-"))
        self.token = secrets.token_hex(16)
        self.process_name = "sandbox-" + self.token[:7]  # <= 15 bytes (comm)
        self.stdout: OutputCapture | None = None
        self.stderr: OutputCapture | None = None
        self.popen: subprocess.Popen[bytes] | None = None
        self.pidfd: int | None = None
        self.returncode: int | None = None
        self._tracked: set[tuple[int, int]] = set()  # (pid, start time) with our token
        try:
            if lease is not None:
                _check_reachable(self.workdir)
                os.chown(self.workdir, lease.uid, lease.gid)
            os.chmod(self.workdir, 0o700)
            self.stdout = OutputCapture(self.workdir, ".stdout")
            self.stderr = OutputCapture(self.workdir, ".stderr")
            self.cwd = Path(cwd) if cwd is not None else self.workdir
            self.env = _clean_environment(self.workdir, self.token, extra_env)
        except BaseException:
            self._remove_workdir()
            raise
        # Shared with the finalizer, which must not reference ``self``.
        self._state: dict = {
            "popen": None,
            "pidfd": None,
            "lease": lease,
            "workdir": self.workdir,
            "captures": (self.stdout, self.stderr),
            "token": self.token,
            "name": self.process_name,
        }
        self._finalizer = weakref.finalize(self, _finalize, self._state)

    # ----------------------------------------------------------------------- set-up

    def spec(self, *, cpu_soft: float, cpu_hard: float) -> dict:
        """The JSON spec understood by ``_sandbox.enter``."""
        return {
            "as": self.limits.memory,
            "fsize": self.limits.file_size,
            "nproc": self.limits.processes,
            "cpu_soft": cpu_soft,
            "cpu_hard": cpu_hard,
            "uid": None if self.lease is None else self.lease.uid,
            "gid": None if self.lease is None else self.lease.gid,
            "parent": os.getpid(),
            "name": self.process_name,
        }

    def write_input(self, name: str, data: bytes) -> None:
        """Create ``name`` (a plain file name) in the workdir, readable by the child."""
        path = self.workdir / _plain_name(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            written = 0
            while written < len(view):
                written += os.write(fd, view[written:])
            if self.lease is not None:
                os.fchown(fd, self.lease.uid, self.lease.gid)
        finally:
            os.close(fd)

    def read_output(self, name: str, limit: int) -> bytes | None:
        """Read file ``name`` the child left in the workdir (regular files only, no symlinks)."""
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            fd = os.open(self.workdir / _plain_name(name), flags)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                return None
            chunks = []
            remaining = limit + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            data = b"".join(chunks)
            return None if len(data) > limit else data
        finally:
            os.close(fd)

    def spawn(self, argv: Sequence[str], *, pass_fds: Sequence[int] = ()) -> None:
        """Start the child (once)."""
        if self.popen is not None:
            raise IsolationError("a Sandbox can only be spawned once")
        if self.stdout is None or self.stderr is None:
            raise IsolationError("the sandbox output files are missing")
        try:
            self.popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=self.stdout.fd,
                stderr=self.stderr.fd,
                cwd=self.cwd,
                env=self.env,
                pass_fds=tuple(pass_fds),
                close_fds=True,
                start_new_session=True,
            )
        except OSError as error:
            raise IsolationError(f"could not start the sandbox process {argv[0]!r}: {error}") from error
        self._state["popen"] = self.popen
        try:
            self.pidfd = os.pidfd_open(self.popen.pid)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            self.pidfd = None
        self._state["pidfd"] = self.pidfd

    # ----------------------------------------------------------------------- watching

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    def has_exited(self) -> bool:
        """True once the child has exited (without reaping it)."""
        if self.popen is None:
            return True
        if self.returncode is not None or self.popen.returncode is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def wait_exit(
        self, deadline: float, *, extra_fd: int | None = None, writable: bool = False
    ) -> str:
        """Wait until the child exits (``"exited"``), ``extra_fd`` is ready (``"ready"``;
        readable, or writable with ``writable=True``) or the monotonic ``deadline`` passes
        (``"timeout"``).  Never reaps the child."""
        ready_events = (select.POLLOUT if writable else select.POLLIN) | select.POLLHUP | select.POLLERR
        while True:
            if self.has_exited():
                return "exited"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            poller = select.poll()
            if self.pidfd is not None:
                poller.register(self.pidfd, select.POLLIN)
            if extra_fd is not None:
                poller.register(extra_fd, ready_events)
            # without a pidfd, poll in slices so that exits are noticed promptly
            slice_seconds = remaining if self.pidfd is not None else min(remaining, 0.02)
            events = poller.poll(max(1, int(slice_seconds * 1000 + 0.999)))
            if extra_fd is not None and any(fd == extra_fd for fd, _ in events):
                return "ready"

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by the main child process (from ``/proc``), if available."""
        if self.popen is None:
            return None
        try:
            with open(f"/proc/{self.popen.pid}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    # ----------------------------------------------------------------------- killing

    def kill(self) -> int | None:
        """Kill the child, its process group and every straggler; reap; return the status."""
        popen = self.popen
        if popen is None:
            return None
        if popen.returncode is None:
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                popen.wait(timeout=_KILL_DEADLINE)
            except subprocess.TimeoutExpired:
                pass
        self.returncode = popen.returncode
        _kill_stragglers(self.lease, self.token, self._tracked, popen.pid, self.process_name)
        return self.returncode

    def close(self) -> None:
        """Kill everything, then delete the workdir and close descriptors (idempotent)."""
        try:
            self.kill()
        finally:
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None
                self._state["pidfd"] = None
            for capture in (self.stdout, self.stderr):
                if capture is not None:
                    capture.close()
            self._remove_workdir()
            self._finalizer.detach()

    def _remove_workdir(self) -> None:
        _remove_tree(self.workdir)


def _check_reachable(workdir: Path) -> None:
    """The sandbox uid must be able to enter every ancestor of its workdir."""
    for parent in workdir.parents:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            raise IsolationError(
                f"the sandbox uid cannot enter {parent} (no execute permission for others), "
                f"so it could not use its workdir {workdir}; point TMPDIR to a directory "
                "such as /tmp"
            )


def _plain_name(name: str) -> str:
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"file names in the sandbox must be plain names, got {name!r}")
    return name


def _remove_tree(path: Path) -> None:
    def retry_writable(function, failed_path, _excinfo):  # type: ignore[no-untyped-def]
        try:
            os.chmod(os.path.dirname(failed_path), 0o700)
            function(failed_path)
        except OSError:
            pass

    if path.exists():
        shutil.rmtree(path, onerror=retry_writable)


def _run_killall(lease: UidLease) -> None:
    """``kill(-1, SIGKILL)`` as the sandbox uid, through the same ``_sandbox.py`` module."""
    try:
        subprocess.run(
            [*python_argv(), str(SANDBOX_SCRIPT), "killall", str(lease.uid), str(lease.gid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": _MINIMAL_PATH},
            cwd="/",
            close_fds=True,
            timeout=_KILL_DEADLINE,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        pass


def _kill_stragglers(
    lease: UidLease | None,
    token: str,
    tracked: set[tuple[int, int]],
    child_pid: int,
    name: str,
) -> None:
    """Kill and reap every remaining process of the sandbox (see the module docstring)."""
    me = os.getpid()
    deadline = time.monotonic() + _KILL_DEADLINE
    pause = 0.001
    token_bytes = f"{_TOKEN_VARIABLE}={token}".encode()
    while True:
        processes = procfs.list_processes()
        if lease is not None:
            ours = [p for p in processes if lease.uid in p.uids]
        else:
            own_uid = os.getuid()
            ours = []
            for p in processes:
                if p.pid == me:
                    continue
                if not p.zombie and own_uid in p.uids and procfs.has_environment_token(p.pid, token_bytes):
                    tracked.add((p.pid, p.start_time))
                    ours.append(p)
                elif p.zombie and p.ppid == me and (
                    (p.pid, p.start_time) in tracked
                    or child_pid in (p.pgrp, p.session)
                    or p.name == name
                ):
                    ours.append(p)
        alive = [p for p in ours if not p.zombie]
        for p in ours:
            if p.zombie and p.ppid == me:
                try:
                    os.waitpid(p.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        if not alive:
            if not any(p.zombie and p.ppid == me for p in ours):
                return
        elif lease is not None:
            _run_killall(lease)
            for p in alive:  # belt and braces, in case the helper could not run
                _signal(p.pid, signal.SIGKILL)
        else:
            for p in alive:
                _signal(p.pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            warnings.warn(
                f"sandbox processes {[p.pid for p in alive]} survived SIGKILL for "
                f"{_KILL_DEADLINE} s",
                RuntimeWarning,
                stacklevel=3,
            )
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except (ProcessLookupError, PermissionError):
        pass
    except OSError as error:  # pragma: no cover
        if error.errno != errno.ESRCH:
            raise


def _finalize(state: dict) -> None:
    """Last-resort cleanup for a Sandbox that was never closed (GC or interpreter exit)."""
    popen = state["popen"]
    try:
        if popen is not None and popen.returncode is None:
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                popen.wait(timeout=_KILL_DEADLINE)
            except subprocess.TimeoutExpired:
                pass
            _kill_stragglers(state["lease"], state["token"], set(), popen.pid, state["name"])
        for capture in state["captures"]:
            if capture is not None:
                capture.close()
        if state["pidfd"] is not None:
            os.close(state["pidfd"])
        _remove_tree(state["workdir"])
    except Exception:  # noqa: BLE001 - never raise from a finalizer
        pass


def spec_json(spec: dict) -> str:
    return json.dumps(spec, separators=(",", ":"))
