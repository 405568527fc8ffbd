"""Run an external program (any language) under the same sandbox as Python submissions.

Used by ``validate --command "CMD {case} {out}"``: the program gets the same clean
environment, private workdir, limits, output capture, process-group kill and timeout as a
:class:`~gradref.checks.isolation.PythonSubmission` child, through the same :class:`~.process.Sandbox`
(the launcher ``_sandbox.py exec`` applies the limits, drops to the sandbox uid when the
parent is root, restores default SIGPIPE/SIGXFSZ handling and ``execvp``'s the command).

Files: by default the command runs in the sandbox workdir; ``inputs`` are written there before
the run (readable by the sandbox uid) and the ``outputs`` names are read back afterwards --
regular files only, never through a symlink, at most ``Limits.file_size`` bytes each -- so
``run_command("impl {case} {out}".format(case="case.json", out="out.json"),
inputs={"case.json": data}, outputs=["out.json"])`` needs no shared directory.  With an
explicit ``cwd`` the command runs there instead (when privileges are dropped, that directory
must be readable -- and writable, if needed -- by an arbitrary unprivileged uid).
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from . import levels as _levels
from .levels import Isolation
from .limits import Limits
from .namespaces import harness_dir
from .process import Sandbox, describe_status, python_argv, spec_json
from .uids import UidLease, acquire_uid, pick_uid, running_as_root

__all__ = ["ProcessResult", "run_command"]


@dataclass(frozen=True)
class ProcessResult:
    """Outcome of :func:`run_command`.

    ``exit_code`` is the exit status when the program exited normally (else None), ``signal``
    the number of the signal that killed it (else None; ``SIGKILL`` after a timeout,
    ``SIGXCPU`` for the CPU limit).  ``stdout``/``stderr`` are truncated to ``Limits.output``
    bytes each.  ``outputs`` maps each requested output file that existed (as a regular file
    within the size limit) to its bytes.
    """

    command: tuple[str, ...]
    exit_code: int | None
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float
    outputs: Mapping[str, bytes] = field(default_factory=dict)
    isolation: Isolation = Isolation("none")

    @property
    def ok(self) -> bool:
        """Exited by itself with status 0."""
        return self.exit_code == 0 and not self.timed_out

    @property
    def reason(self) -> str:
        """A short human description: ``"exit code 0"``, ``"timed out after 2 s"``, ..."""
        if self.timed_out:
            return f"timed out after {self.seconds:.3g} s and was killed"
        if self.signal == signal.SIGXCPU:
            return "exceeded the CPU time limit (SIGXCPU)"
        if self.signal is not None:
            return describe_status(-self.signal)
        return describe_status(self.exit_code)


def _argv(command: str | Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    if isinstance(command, str):
        if not command.strip():
            raise ValueError("command must not be an empty string")
        return ("/bin/sh", "-c", command)
    if isinstance(command, (bytes, bytearray)) or not isinstance(command, Sequence):
        raise ValueError(
            f"command must be a shell string or a sequence of arguments, got {type(command).__name__}"
        )
    argv = []
    for index, item in enumerate(command):
        if not isinstance(item, (str, os.PathLike)):
            raise ValueError(f"command[{index}] must be a str or path, got {item!r}")
        text = os.fspath(item)
        if not isinstance(text, str) or "\0" in text:
            raise ValueError(f"command[{index}] is not a valid argument: {item!r}")
        argv.append(text)
    if not argv or not argv[0]:
        raise ValueError("command must contain at least the program to run")
    return tuple(argv)


def run_command(
    command: str | Sequence[str | os.PathLike[str]],
    limits: Limits | None = None,
    cwd: str | os.PathLike[str] | None = None,
    *,
    inputs: Mapping[str, bytes | str] | None = None,
    outputs: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    drop_privileges: bool | None = None,
    isolation: str = "auto",
    read_only: Sequence[str | os.PathLike[str]] = (),
    writable: Sequence[str | os.PathLike[str]] = (),
) -> ProcessResult:
    """Run ``command`` (argv list, or a string for ``/bin/sh -c``) in a sandbox; wait at most
    ``limits.wall`` seconds; kill everything it started; return a :class:`ProcessResult`.

    ``env`` adds variables to the clean environment.  ``drop_privileges`` and ``isolation`` as
    for :class:`~gradref.checks.isolation.PythonSubmission` (default: a throw-away uid exactly
    when running as root, behind the strongest level available).  At the ``namespaces`` level
    the program sees the host's files read-only (it may be written in any language and live
    anywhere), ``writable`` folders read-write at their own paths and its working folder (the
    ``inputs``/``outputs`` folder) read-write; it has no network, its own ``/proc``, IPC and
    process namespace, and private size-limited ``/run`` and ``/dev/shm``.
    Raises ``ValueError`` for bad arguments and ``IsolationError`` if no sandbox can be made;
    whatever the program does is reported in the result.
    """
    argv = _argv(command)
    if limits is None:
        limits = Limits()
    if not isinstance(limits, Limits):
        raise ValueError(f"limits must be a Limits instance, got {type(limits).__name__}")
    if cwd is not None and not os.path.isdir(cwd):
        raise ValueError(f"cwd must be an existing directory, got {os.fspath(cwd)!r}")
    if drop_privileges not in (None, True, False):
        raise ValueError(f"drop_privileges must be None, True or False, got {drop_privileges!r}")
    if drop_privileges and not running_as_root():
        raise ValueError("drop_privileges=True needs a parent running as root")
    if isinstance(outputs, str):
        raise ValueError("outputs must be a collection of file names, not a single string")
    wanted = list(outputs)
    drop = running_as_root() if drop_privileges is None else drop_privileges
    level = _levels.choose(isolation)
    for name, folders in (("read_only", read_only), ("writable", writable)):
        if isinstance(folders, (str, bytes, os.PathLike)):
            raise ValueError(f"{name} must be a list of folders, not a single path")
        for folder in folders:
            if not os.path.isdir(folder):
                raise ValueError(f"{name} folders must exist, got {os.fspath(folder)!r}")

    lease: UidLease | None = acquire_uid() if drop and level == "uid" else None
    try:
        sandbox = Sandbox(
            limits, lease, level=level, uid=pick_uid() if drop and level == "namespaces" else None,
            cwd=cwd, extra_env=env, read_only=read_only, writable=writable,
            programs=True, writable_stage=True,
        )
        try:
            for name, data in (inputs or {}).items():
                if isinstance(data, str):
                    data = data.encode("utf-8")
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise ValueError(f"inputs[{name!r}] must be bytes or str, got {type(data).__name__}")
                sandbox.write_input(name, bytes(data))
            spec = sandbox.spec(cpu_soft=limits.cpu, cpu_hard=limits.cpu + 1)
            # the host is visible read-only to a program: the harness copy too, at its own path
            launcher = [*python_argv(level), f"{harness_dir()}/_sandbox.py", "exec",
                        spec_json(spec), "--"]
            started = time.monotonic()
            sandbox.spawn([*launcher, *argv])
            state = sandbox.wait_exit(started + limits.wall)
            status = sandbox.kill()
            seconds = time.monotonic() - started
            collected = {}
            for name in wanted:
                data = sandbox.read_output(name, limits.file_size)
                if data is not None:
                    collected[name] = data
            stdout = sandbox.stdout.text() if sandbox.stdout else ""
            stderr = sandbox.stderr.text() if sandbox.stderr else ""
            isolation_used = Isolation(level, sandbox.limits_scope)
        finally:
            sandbox.close()
    finally:
        if lease is not None:
            lease.release()
    timed_out = state == "timeout"
    return ProcessResult(
        command=argv,
        exit_code=status if status is not None and status >= 0 else None,
        signal=-status if status is not None and status < 0 else None,
        timed_out=timed_out,
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
        outputs=collected,
        isolation=isolation_used,
    )
