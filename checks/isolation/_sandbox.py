"""Enter the sandbox from *inside* the child process: rlimits, no-new-privileges, uid drop.

This file is never imported as part of the ``checks`` package in a child.  It is used in three
ways, all with the standard library only:

* run as a launcher by path: ``python -I -S _sandbox.py exec SPEC -- ARGV...`` applies
  :func:`enter` and then ``execvp``'s ``ARGV`` (used by ``run_command``);
* loaded by path from ``_child.py``, which calls :func:`enter` itself once the interpreter
  and numpy are imported (the Python harness needs to read the interpreter's files first: the
  interpreter may live in a directory the throw-away uid cannot read, see ``_child.py``);
* ``python -I -S _sandbox.py killall UID GID`` drops to ``UID`` and sends ``kill(-1,
  SIGKILL)``, which atomically kills every process of that uid (also those that escaped the
  process group with ``setsid``) except the caller;
* ``python -I -S _sandbox.py purgekeys UID GID KEYCTL`` drops to ``UID`` and removes the
  kernel keys it owns (:func:`purge_keys`; ``KEYCTL`` is the system call's number).

So there is exactly one piece of code that applies limits and drops privileges, whichever
entry point started the child.  Doing it in the child (rather than with ``preexec_fn`` in
the parent) keeps the parent thread-safe: ``subprocess`` forbids nothing, but Python code
between ``fork`` and ``exec`` in a threaded parent can deadlock.

SPEC is JSON::

    {"as": bytes, "fsize": bytes, "nproc": n, "cpu_soft": s, "cpu_hard": s,
     "uid": int | null, "gid": int | null, "parent": pid | null, "name": comm,
     "stage": path | null, "workdir": path, "chdir": path | null,
     "seccomp": {"program": hex, "syscall": n} | null}

``seccomp`` is the filter of :mod:`seccomp` (built by the parent), installed last.
``"private": true`` (the ``uid`` level, where the parent found it possible): before the
privilege drop the child enters new mount, network, IPC and UTS namespaces and mounts its own
``/proc`` with ``hidepid=invisible`` (:func:`private_namespaces`).

``cpu_soft``/``cpu_hard`` are seconds *on top of* the CPU time the process has already used.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import sys

_INFINITY = resource.RLIM_INFINITY


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _set_limit(which: int, soft: int, hard: int) -> None:
    current_soft, current_hard = resource.getrlimit(which)
    if os.geteuid() != 0 and current_hard != _INFINITY:
        # an unprivileged process cannot raise its hard limit: keep the stricter one
        hard = min(hard, current_hard)
    soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard))


def set_cpu_limit(soft_seconds: float, hard_seconds: float | None = None) -> None:
    """Arm RLIMIT_CPU to allow ``soft_seconds`` more CPU time from now (soft limit).

    With ``hard_seconds`` None the hard limit is left alone (the soft limit is clamped to it),
    which is how the persistent harness re-arms the limit before every call.
    """
    used = _cpu_used()
    soft = int(math.ceil(used + soft_seconds))
    if hard_seconds is None:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    else:
        hard = int(math.ceil(used + hard_seconds))
    if hard != _INFINITY:
        soft = min(soft, hard)
    _set_limit(resource.RLIMIT_CPU, soft, hard)


_libc = None


def _prctl(option: int, value: int) -> bool:
    """Best-effort ``prctl(option, value)``; ctypes is loaded before the privilege drop."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _no_new_privileges() -> bool:
    """PR_SET_NO_NEW_PRIVS: setuid binaries (su, sudo, ...) can no longer raise privileges."""
    return _prctl(38, 1)


def _set_name(name: str) -> None:
    """PR_SET_NAME: the command name, inherited by forked children and kept by zombies, lets
    a non-root parent recognise (and reap) sandbox zombies that left the process group."""
    try:
        import ctypes

        buffer = ctypes.create_string_buffer(name.encode()[:15])
        if _libc is not None:
            _libc.prctl(15, buffer, 0, 0, 0)
    except (OSError, AttributeError, ImportError):
        pass


def _die_with_parent(parent: int | None) -> None:
    """PR_SET_PDEATHSIG(SIGKILL): if the grader dies, the child dies too (set after the uid
    change, which clears it).  If the grader is already gone, exit now."""
    _prctl(1, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (real, effective and saved ids), without extra groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid):
        raise OSError(f"privilege drop to uid {uid} did not take effect")
    if uid != 0:
        try:
            os.setresuid(0, 0, 0)
        except PermissionError:
            pass
        else:  # pragma: no cover - would mean the drop is reversible
            raise OSError("privilege drop is reversible; refusing to run untrusted code")


def populate(stage: str, workdir: str, uid: int | None, gid: int | None) -> None:
    """Copy the submission's staged files into its private working folder (``namespaces``
    level: the stage is a read-only bind, the folder lives on the sandbox's tmpfs) and hand
    the folder to the sandbox uid."""
    import shutil

    os.makedirs(workdir, mode=0o700, exist_ok=True)
    shutil.copytree(stage, workdir, symlinks=True, dirs_exist_ok=True)
    if uid is None:
        return
    os.chown(workdir, uid, gid)
    for folder, directories, files in os.walk(workdir):
        for name in directories + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def install_filter(program: bytes, syscall: int) -> None:
    """Install the seccomp filter ``program`` (``struct sock_filter`` array) on every thread of
    this process (``seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)``); needs
    ``PR_SET_NO_NEW_PRIVS`` set before.  Failing raises: untrusted code never runs without it."""
    import ctypes

    class _Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _Program(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = _libc if _libc is not None else ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    done = libc.syscall(ctypes.c_long(syscall), ctypes.c_ulong(1), ctypes.c_ulong(1),
                        ctypes.byref(fprog))
    if done != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"could not install the seccomp filter: {os.strerror(number)}")


_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC, _CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x40000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000


def private_namespaces() -> None:
    """(root) New mount, network, IPC and UTS namespaces for this process, and a ``/proc`` of
    its own showing only the processes of its uid (``hidepid=invisible``, or ``2`` before Linux
    5.8): the grader's command line, other sandboxes, the host's network (loopback included)
    and SysV IPC are out of reach.  The mounts are made private first, so nothing propagates
    back to the host.  Raises OSError when the kernel refuses."""
    import ctypes

    libc = _libc if _libc is not None else ctypes.CDLL(None, use_errno=True)

    def check(result: int, what: str) -> None:
        if result != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"{what}: {os.strerror(number)}")

    check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS), "unshare")
    check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "private mounts")
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    if libc.mount(b"proc", b"/proc", b"proc", flags, b"hidepid=invisible") != 0:
        check(libc.mount(b"proc", b"/proc", b"proc", flags, b"hidepid=2"), "mount /proc")


def enter(spec: dict) -> None:
    """Apply the limits in ``spec`` to the current process, fill the working folder (at the
    ``namespaces`` level), then drop to the sandbox uid and change to ``spec["chdir"]``."""
    _set_limit(resource.RLIMIT_CORE, 0, 0)
    _set_limit(resource.RLIMIT_AS, spec["as"], spec["as"])
    _set_limit(resource.RLIMIT_FSIZE, spec["fsize"], spec["fsize"])
    set_cpu_limit(spec["cpu_soft"], spec["cpu_hard"])
    _set_limit(resource.RLIMIT_NPROC, spec["nproc"], spec["nproc"])
    os.umask(0o077)
    # before the drop: ctypes may live in a directory the sandbox uid cannot read
    _no_new_privileges()
    if spec.get("stage"):
        populate(spec["stage"], spec["workdir"], spec.get("uid"), spec.get("gid"))
    moved = False
    if spec.get("chdir"):
        try:  # before the drop, like a cwd set by the parent (a folder only root may enter)
            os.chdir(spec["chdir"])
            moved = True
        except PermissionError:  # a folder only the sandbox uid may enter
            pass
    if spec.get("private"):
        private_namespaces()
    if spec.get("uid") is not None:
        drop_privileges(spec["uid"], spec["gid"])
    if spec.get("chdir") and not moved:
        os.chdir(spec["chdir"])
    _die_with_parent(spec.get("parent"))
    if spec.get("name"):
        _set_name(spec["name"])
    if spec.get("seccomp"):
        install_filter(bytes.fromhex(spec["seccomp"]["program"]), spec["seccomp"]["syscall"])


def _execute(command: list[str]) -> None:
    """``execvp`` without its lazy imports (the stdlib may be unreadable after the drop)."""
    environment = dict(os.environ)
    if "/" in command[0]:
        os.execve(command[0], command, environment)
    error: OSError | None = None
    for directory in environment.get("PATH", "/usr/bin:/bin").split(":"):
        candidate = os.path.join(directory or ".", command[0])
        try:
            os.execve(candidate, command, environment)
        except PermissionError as failure:
            error = failure  # remember, but keep searching like execvp does
        except (FileNotFoundError, NotADirectoryError) as failure:
            error = error or failure
    raise error or FileNotFoundError(2, "No such file or directory")


def purge_keys(uid: int, keyctl: int) -> int:
    """As ``uid``: invalidate every key it owns that ``/proc/keys`` lists, then clear its user
    and user-session keyrings (what a submission left in the kernel when the seccomp filter
    was absent).  Returns how many keys could not be removed."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    failed = 0
    try:
        with open("/proc/keys") as handle:
            lines = handle.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) > 5 and fields[5] == str(uid):
            if libc.syscall(ctypes.c_long(keyctl), 21, int(fields[0], 16)) != 0:  # INVALIDATE
                failed += 1
    for keyring in (-4, -5):  # KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING
        libc.syscall(ctypes.c_long(keyctl), 7, keyring)  # KEYCTL_CLEAR
    return min(failed, 100)


def _main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "exec" and argv[2] == "--" and len(argv) >= 4:
        enter(json.loads(argv[1]))
        # Python ignores SIGPIPE and SIGXFSZ; programs we exec expect the defaults.
        for name in ("SIGPIPE", "SIGXFSZ"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        command = argv[3:]
        try:
            _execute(command)
        except OSError as error:
            sys.stderr.write(f"sandbox: cannot execute {command[0]!r}: {error.strerror}\n")
            sys.stderr.flush()
            os._exit(126 if isinstance(error, PermissionError) else 127)
    if len(argv) == 3 and argv[0] == "killall":
        uid, gid = int(argv[1]), int(argv[2])
        if uid == 0:
            return 2  # never kill(-1) as root
        drop_privileges(uid, gid)
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return 0
    if len(argv) == 4 and argv[0] == "purgekeys":
        uid, gid, keyctl = int(argv[1]), int(argv[2]), int(argv[3])
        if uid == 0:
            return 2
        import ctypes  # noqa: F401 - before the drop: the stdlib may be unreadable after it

        drop_privileges(uid, gid)
        return purge_keys(uid, keyctl)
    sys.stderr.write("usage: _sandbox.py exec SPEC -- ARGV... | killall UID GID | "
                     "purgekeys UID GID KEYCTL\n")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
