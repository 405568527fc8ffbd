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
4. kernel keys: those a throw-away uid owns are removed (:func:`_purge_keys`);
5. zombies: the parent marks itself a *child subreaper* (``PR_SET_CHILD_SUBREAPER``), so
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
from pathlib import Path, PurePosixPath
from typing import Mapping, Sequence

from . import cgroups as _cgroups
from . import files as _files
from . import levels as _levels
from . import namespaces as _namespaces
from . import procfs
from . import seccomp as _seccomp
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
#: The environment variable that marks a sandbox's processes: a name drawn per grader process.
_TOKEN_VARIABLE = "_" + secrets.token_hex(6).upper()
_KILL_DEADLINE = 10.0

_subreaper_pid: int | None = None


def python_argv(level: str = "none") -> list[str]:
    """The interpreter command line every child starts with (isolated mode, no site).

    At the ``namespaces`` level the interpreter is named by its real path: a virtual
    environment's ``bin/python`` link is not inside the sandbox (its prefix is)."""
    if not sys.executable:
        raise IsolationError("sys.executable is empty: cannot start a Python child")
    executable = os.path.realpath(sys.executable) if level == "namespaces" else sys.executable
    return [executable, "-I", "-S"]


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
    """stdout or stderr of a sandbox: a pipe the parent drains while it waits.

    What arrives is kept up to ``limit`` bytes per *segment* (head and tail; the middle is
    counted and dropped), so a submission that prints without end costs the parent at most
    ``2 * limit`` bytes and its writes never fail: it only waits while the parent is not
    reading.  :meth:`mark` starts a new segment (one per call), :meth:`text` returns it.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self.fd, self.write_fd = os.pipe()
        os.set_blocking(self.fd, False)
        self.eof = False
        self._head = bytearray()
        self._tail = bytearray()
        self._size = 0

    def spawned(self) -> None:
        """The child holds its copy of the write end now: close ours (EOF once it exits)."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def drain(self) -> None:
        """Read whatever is in the pipe now (never blocks)."""
        while self.fd >= 0 and not self.eof:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                self.eof = True
                return
            if not data:
                self.eof = True
                return
            self._size += len(data)
            room = self.limit - len(self._head)
            if room > 0:
                self._head += data[:room]
                data = data[room:]
            if data:
                self._tail += data
                if len(self._tail) > self.limit:
                    del self._tail[: len(self._tail) - self.limit]

    def mark(self) -> None:
        """Start a new segment: what was printed before is dropped."""
        self.drain()
        self._head, self._tail, self._size = bytearray(), bytearray(), 0

    def text(self) -> str:
        """The segment's text; over ``limit`` bytes, its head and tail around a marker."""
        self.drain()
        if self._size <= self.limit:
            data = bytes(self._head)
        else:
            half = self.limit // 2
            last = self.limit - half
            kept = (bytes(self._head) + bytes(self._tail))[-last:] if last else b""
            data = (bytes(self._head[:half])
                    + f"\n[... {self._size - self.limit} bytes of output omitted ...]\n".encode()
                    + kept)
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        for name in ("fd", "write_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)


def _clean_environment(
    workdir: str, token: str, extra: Mapping[str, str] | None
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
    """One child process with its files, captured output, limits and kill-everything logic.

    ``level`` is the isolation level (:mod:`.levels`).  ``stage`` is a fresh host folder: at
    the ``uid``/``none`` levels it *is* the child's working folder; at ``namespaces`` it is
    bound read-only into the sandbox and the child copies it into its private tmpfs
    (:data:`~.namespaces.WORKDIR`).  ``lease``: the throw-away uid of the ``uid`` level;
    ``uid``: the one the child drops to at the ``namespaces`` level (root only).

    Use :meth:`spawn` once, then :meth:`wait_exit` / :meth:`kill` / :meth:`close`.  ``close``
    is idempotent and also runs (best effort) when the object is garbage collected or the
    interpreter exits.
    """

    def __init__(
        self,
        limits: Limits,
        lease: UidLease | None,
        *,
        level: str = "none",
        uid: int | None = None,
        cwd: str | os.PathLike[str] | None = None,
        extra_env: Mapping[str, str] | None = None,
        read_only: Sequence[str | os.PathLike[str]] = (),
        writable: Sequence[str | os.PathLike[str]] = (),
        packages: Sequence[Path] = (),
        programs: bool = False,
        writable_stage: bool = False,
    ) -> None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        if level not in ("namespaces", "uid", "none"):
            raise ValueError(f"level must be namespaces, uid or none, got {level!r}")
        _ensure_subreaper()
        self.limits = limits
        self.level = level
        self.lease = lease
        self.uid = lease.uid if lease is not None else uid
        sweep_stale_folders()
        self.stage = Path(tempfile.mkdtemp(prefix=f"gradref-sandbox-{os.getpid()}-"))
        self.workdir = self.stage  # host folder (kept under this name for callers)
        if level != "namespaces":
            self.inside = str(self.stage)
        else:
            self.inside = _namespaces.COMMAND_WORKDIR if programs else _namespaces.WORKDIR
        #: folder the child starts in (``_sandbox.enter`` changes to it after populating)
        self.chdir = (os.path.realpath(cwd) if cwd is not None
                      else self.inside if level == "namespaces" else None)
        self.token = secrets.token_hex(16)
        self.process_name = "sandbox-" + self.token[:7]  # <= 15 bytes (comm)
        self.stdout: OutputCapture | None = None
        self.stderr: OutputCapture | None = None
        self.popen: subprocess.Popen[bytes] | None = None
        self.pidfd: int | None = None
        self.returncode: int | None = None
        self.cgroup: _cgroups.Cgroup | None = None
        self._binds = (tuple(read_only), tuple(writable), tuple(packages), programs)
        self.writable_stage = writable_stage
        self._tracked: set[tuple[int, int]] = set()  # (pid, start time) with our token
        if level == "uid":
            hide_command_line()
        try:
            if level == "uid" and lease is not None:
                _check_reachable(self.stage)
                os.chown(self.stage, lease.uid, lease.gid)
            elif level == "namespaces" and writable_stage and self.uid is not None:
                os.chown(self.stage, self.uid, self.uid)
            os.chmod(self.stage, 0o700)  # a student's copy is nobody else's business
            self.stdout = OutputCapture(limits.output)
            self.stderr = OutputCapture(limits.output)
            self.cwd = Path(cwd) if cwd is not None else None
            self.env = _clean_environment(self.inside, self.token, extra_env)
        except BaseException:
            self._remove_workdir()
            raise
        # Shared with the finalizer, which must not reference ``self``.
        self._state: dict = {
            "popen": None,
            "pidfd": None,
            "lease": lease,
            "workdir": self.stage,
            "captures": (self.stdout, self.stderr),
            "token": self.token,
            "name": self.process_name,
            "cgroup": None,
            "level": level,
        }
        self._finalizer = weakref.finalize(self, _finalize, self._state)

    # ----------------------------------------------------------------------- set-up

    @property
    def limits_scope(self) -> str:
        """How memory/processes are limited: ``"cgroup v2"``/``"cgroup v1"``/``"per process"``."""
        return self.cgroup.scope if self.cgroup is not None else "per process"

    def spec(self, *, cpu_soft: float, cpu_hard: float) -> dict:
        """The JSON spec understood by ``_sandbox.enter``."""
        return {
            "as": self.limits.memory,
            "fsize": self.limits.file_size,
            "nproc": self.limits.processes,
            "cpu_soft": cpu_soft,
            "cpu_hard": cpu_hard,
            "uid": self.uid,
            "gid": self.uid,
            "parent": None if self.level == "namespaces" else os.getpid(),
            "name": self.process_name,
            "stage": (_namespaces.STAGE if self.level == "namespaces" and not self.writable_stage
                      else None),
            "workdir": self.inside,
            "chdir": self.chdir,
            "seccomp": _seccomp.spec(),
            "private": self.level == "uid" and private_namespaces_problem() is None,
        }

    def stage_files(self, files: Mapping) -> _files.StagedFiles:
        """Copy a submission's files (``{PurePosixPath: bytes | path}``) into its folder."""
        owner = (self.lease.uid, self.lease.gid) if self.lease is not None else None
        if self.level == "namespaces" and self.writable_stage and self.uid is not None:
            owner = (self.uid, self.uid)
        return _files.stage(self.stage, files, limit=self.limits.disk, owner=owner)

    def write_input(self, name: str, data: bytes) -> None:
        """Create ``name`` (a plain file name) in the child's folder, readable by the child."""
        self.stage_files({PurePosixPath(_plain_name(name)): data})

    def read_output(self, name: str, limit: int) -> bytes | None:
        """Read file ``name`` the child left in its folder (regular files only, no symlinks;
        ``uid``/``none`` levels only: a namespaces child's folder vanishes with it)."""
        try:
            return _files.read_regular_file(self.stage / _plain_name(name), limit)
        except (OSError, ValueError):
            return None

    def spawn(self, argv: Sequence[str], *, pass_fds: Sequence[int] = ()) -> None:
        """Start the child (once), behind this sandbox's isolation level."""
        if self.popen is not None:
            raise IsolationError("a Sandbox can only be spawned once")
        if self.stdout is None or self.stderr is None:
            raise IsolationError("the sandbox output pipes are missing")
        argv = list(argv)
        if self.level == "namespaces":
            bwrap = _levels.bwrap_executable()
            if bwrap is None:
                raise IsolationError("bubblewrap (bwrap) is no longer installed")
            read_only, writable, packages, programs = self._binds
            if self.cwd is not None:
                read_only = (*read_only, self.cwd)
            argv = _namespaces.bwrap_argv(
                bwrap, argv, disk=self.limits.disk, stage=self.stage, read_only=read_only,
                writable=writable, packages=packages, programs=programs,
                chdir=os.path.realpath(self.cwd) if self.cwd is not None else "/",
            )
        self.cgroup = _cgroups.create(f"gradref-{self.token[:16]}", memory=self.limits.memory,
                                      processes=self.limits.processes)
        self._state["cgroup"] = self.cgroup
        if self.cgroup is not None:
            argv = ["/bin/sh", "-c", _JOIN_CGROUP, "sh", *self.cgroup.procs_files, "--", *argv]
        host_cwd = self.stage if self.level == "namespaces" or self.cwd is None else self.cwd
        try:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self.stdout.write_fd,
                stderr=self.stderr.write_fd,
                cwd=host_cwd,
                env=self.env,
                pass_fds=tuple(pass_fds),
                close_fds=True,
                start_new_session=True,
            )
        except OSError as error:
            raise IsolationError(f"could not start the sandbox process {argv[0]!r}: {error}") from error
        finally:
            self.stdout.spawned()
            self.stderr.spawned()
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
        (``"timeout"``), draining the child's stdout/stderr meanwhile.  Never reaps."""
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
            captures = {c.fd: c for c in (self.stdout, self.stderr)
                        if c is not None and c.fd >= 0 and not c.eof}
            for fd in captures:
                poller.register(fd, select.POLLIN | select.POLLHUP)
            # without a pidfd, poll in slices so that exits are noticed promptly
            slice_seconds = remaining if self.pidfd is not None else min(remaining, 0.02)
            events = poller.poll(max(1, int(slice_seconds * 1000 + 0.999)))
            for fd, _ in events:
                if fd in captures:
                    captures[fd].drain()
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
        """Kill the child and every process it started; reap; return the status.

        ``namespaces``: SIGKILL to bubblewrap, whose death ends the PID namespace (and with it
        every process inside); ``uid``/``none``: the process group, then the stragglers
        (:func:`_kill_stragglers`).  A cgroup, when there is one, is emptied as well.
        """
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
        if self.level == "namespaces" and self.returncode is not None and 128 < self.returncode < 160:
            # bubblewrap exits with 128 + N when the sandboxed process was killed by signal N
            self.returncode = 128 - self.returncode
        if self.cgroup is not None:
            self.cgroup.kill()
        if self.level != "namespaces":
            _kill_stragglers(self.lease, self.token, self._tracked, popen.pid, self.process_name)
        _purge_keys(self.uid)
        for capture in (self.stdout, self.stderr):
            if capture is not None:
                capture.drain()
        return self.returncode

    def close(self) -> None:
        """Kill everything, then delete the folder, the cgroup and descriptors (idempotent)."""
        try:
            self.kill()
        finally:
            if self.cgroup is not None:
                self.cgroup.remove()
                self.cgroup = None
                self._state["cgroup"] = None
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
        _remove_tree(self.stage)


# /bin/sh joins the cgroup(s) named before "--", then becomes the sandbox command
_JOIN_CGROUP = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 71; shift; done; shift; exec "$@"'


_swept: set[int] = set()


def sweep_stale_folders() -> None:
    """Delete the staging and harness folders of graders that died without cleaning up
    (SIGKILL): their names carry the grader's pid, and a folder whose pid no longer runs is
    nobody's.  Once per process; a pid that runs again (recycled) keeps its folders."""
    if os.getpid() in _swept:
        return
    _swept.add(os.getpid())
    root = Path(tempfile.gettempdir())
    for prefix in ("gradref-sandbox-", "gradref-harness-"):
        for folder in root.glob(prefix + "*-*"):
            owner = folder.name[len(prefix):].split("-", 1)[0]
            if not owner.isdigit() or int(owner) == os.getpid():
                continue
            try:
                os.kill(int(owner), 0)
                continue  # alive (or recycled): not ours to judge
            except ProcessLookupError:
                pass
            except OSError:
                continue
            if folder.is_dir() and not folder.is_symlink():
                _remove_tree(folder)


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


_private_problem: list[str | None] = []
_PROBE = ("import importlib.util as u, sys\n"
          "s = u.spec_from_file_location('_gradref_probe', sys.argv[1])\n"
          "m = u.module_from_spec(s); s.loader.exec_module(m); m.private_namespaces()\n")


def private_namespaces_problem() -> str | None:
    """``uid`` level: None when a child can enter its own mount/network/IPC/UTS namespaces
    with a ``hidepid`` ``/proc`` here (root, and a kernel/container that allows it), else why
    not (probed once per process)."""
    if not _private_problem:
        problem: str | None = "the grader is not root"
        if os.geteuid() == 0:
            try:
                done = subprocess.run([*python_argv(), "-c", _PROBE, str(SANDBOX_SCRIPT)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, cwd="/", timeout=_KILL_DEADLINE,
                                      check=False)
                text = done.stderr.decode("utf-8", "replace").strip().splitlines()
                problem = None if done.returncode == 0 else (text[-1] if text else "refused")
            except (OSError, subprocess.TimeoutExpired) as error:
                problem = str(error)
        _private_problem.append(problem)
    return _private_problem[0]


_hidden_command_line: set[int] = set()


def hide_command_line() -> bool:
    """Blank this process's command line after ``argv[0]`` (what ``/proc/<pid>/cmdline`` shows
    every user: the gradebook's ``--out`` path, the class folder) by overwriting the original
    argument area in place, as ``setproctitle`` does; ``sys.argv`` is a copy and unchanged.
    Used at the ``uid`` level, where a submission shares the grader's ``/proc`` when the kernel
    gives it no private one.  Returns whether the area was found and blanked (once per process)."""
    if os.getpid() in _hidden_command_line:
        return True
    try:
        import ctypes

        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])   # arg_start, arg_end (fields 48, 49)
        with open("/proc/self/cmdline", "rb") as handle:
            first = handle.read().split(b"\0", 1)[0]
        keep = len(first) + 1
        if start <= 0 or end - start <= keep:
            return False
        ctypes.memset(start + keep, 0, end - start - keep)
    except (OSError, ValueError, IndexError, ImportError):
        return False
    _hidden_command_line.add(os.getpid())
    return True


def uid_has_keys(uid: int) -> bool:
    """True when ``/proc/key-users`` lists kernel keys owned by ``uid``."""
    try:
        with open("/proc/key-users") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return False
    for line in lines:
        owner, _, rest = line.strip().partition(":")
        fields = rest.split()
        if owner == str(uid) and len(fields) > 1 and fields[1].split("/")[0] not in ("", "0"):
            return True
    return False


def _purge_keys(uid: int | None) -> None:
    """Remove the kernel keys a throw-away ``uid`` left (root only; the seccomp filter keeps a
    submission from creating any, this is the second line).  Costs one read of
    ``/proc/key-users`` when there is nothing to remove."""
    found = _seccomp.machine_syscalls()
    if (uid is None or uid in (0, os.getuid()) or os.geteuid() != 0 or found is None
            or not uid_has_keys(uid)):
        return
    try:
        subprocess.run(
            [*python_argv(), str(SANDBOX_SCRIPT), "purgekeys", str(uid), str(uid),
             str(found[1]["keyctl"])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"PATH": _MINIMAL_PATH}, cwd="/", close_fds=True, timeout=_KILL_DEADLINE,
            check=False)
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
            if state["level"] != "namespaces":
                _kill_stragglers(state["lease"], state["token"], set(), popen.pid, state["name"])
        if state["cgroup"] is not None:
            state["cgroup"].remove()
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
