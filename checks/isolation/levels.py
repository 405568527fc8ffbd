"""Isolation levels: which boundary a sandboxed child runs behind, detected once per process.

Three levels, strongest first (:data:`LEVELS`); every child is started through one of them and
every report names the one it ran with:

``namespaces``
    bubblewrap (``bwrap``): the child has no network (its own empty network namespace), its own
    IPC, PID and UTS namespaces, a new session, and dies with the grader.  Its filesystem holds
    only the Python runtime, numpy and the harness, read-only, plus a private size-limited tmpfs
    (working folder, ``/tmp``, ``/dev/shm``) with a copy of the one submission: no path to
    gradref's source, to other submissions, to reports or to the grader's command line exists
    inside.  As root the child also drops to a throw-away uid with no capabilities.  At every
    level a seccomp filter (:mod:`.seccomp`) refuses the kernel objects that no namespace
    separates (keyrings, record locks and watches on shared host files, io_uring, socket
    families such as ``AF_VSOCK``), so nothing a submission can see is shared with a
    concurrent or a later one.  Memory and
    processes are limited for the whole submission by a cgroup where the machine lets us create
    one (see :mod:`.cgroups`), otherwise per process.
``uid``
    (root, without bubblewrap) the child runs as a throw-away uid with per-process limits.  It
    shares the grader's filesystem view; gradref's installed files are made unreadable to that
    uid before any child starts (or the child is refused), and the grader blanks its own
    command line (:func:`.process.hide_command_line`).  Where the kernel lets root create
    namespaces (:func:`.process.private_namespaces_problem`) the child enters its own mount,
    network, IPC and UTS namespaces with a ``hidepid`` ``/proc``: no network, no other
    process in sight.  Where it does not (an unprivileged container) it shares the network, the
    IPC and every process's command line.  What other world-readable files hold (e.g. other
    submissions in a world-readable folder) stays readable; grading's outputs are 0600.
``none``
    (not root, without bubblewrap) the child runs as the grader's own user with per-process
    limits: it can read and change whatever that user can.  For trusted code only.

``choose(requested)`` turns ``"auto"`` into the strongest available level and refuses a level
that cannot run here with an :class:`~.errors.IsolationError`.  The environment variable
``GRADREF_ISOLATION`` (``auto``/``namespaces``/``uid``/``none``) sets what ``"auto"`` means,
e.g. to try the fallback level on a machine that has bubblewrap; ``GRADREF_BWRAP`` names the
``bwrap`` program to use (default: the one on ``PATH``, ``/usr/bin``...).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass

from . import seccomp as _seccomp
from .errors import IsolationError

__all__ = [
    "LEVELS",
    "LEVEL_PROTECTIONS",
    "Isolation",
    "add_require_sandbox_argument",
    "available_level",
    "bwrap_executable",
    "choose",
    "require_sandbox",
]

LEVELS = ("namespaces", "uid", "none")

#: One sentence per level: what it protects against (used by reports and the README).
LEVEL_PROTECTIONS = {
    "namespaces": "bubblewrap namespaces: no network, private IPC/PID/UTS, a filesystem holding "
                  "only Python, numpy and the submission's own files, a private size-limited "
                  "tmpfs, no kernel keys, file locks, file watches or io_uring (seccomp)",
    "uid": "a throw-away uid with per-process limits and no kernel keys, file locks, file "
           "watches or io_uring (seccomp), the grader's command line blanked; where the kernel "
           "allows it no network, private IPC and a /proc of its own processes, else it shares "
           "them; reads every world-readable file (gradref's own files are made unreadable to "
           "it, grading outputs are 0600)",
    "none": "the grader's own user with per-process limits and no kernel keys, file locks, "
            "file watches or io_uring (seccomp); no protection of the grader's files, network "
            "or IPC",
}

_ENVIRONMENT = "GRADREF_ISOLATION"
_PROBE_TIMEOUT = 20.0
_SEARCH_PATH = "/usr/bin:/bin:/usr/local/bin:/usr/sbin:/sbin"
_bwrap_works: dict[str, str | None] = {}


@dataclass(frozen=True)
class Isolation:
    """The boundary a submission ran behind: ``level`` (one of :data:`LEVELS`) and how its
    memory/process limits were enforced (``limits_scope``: ``"cgroup v2"``, ``"cgroup v1"`` or
    ``"per process"``)."""

    level: str
    limits_scope: str = "per process"

    def describe(self) -> str:
        """One line for a report: the level, what it protects against, the limits' scope."""
        scope = ("memory and processes limited for the whole submission (" + self.limits_scope + ")"
                 if self.limits_scope.startswith("cgroup")
                 else "memory and processes limited per process (no cgroup available)")
        text = f"isolation: {self.level} ({LEVEL_PROTECTIONS[self.level]}; {scope})"
        if _seccomp.filter_program() is None:
            text += (f"; no seccomp filter on this machine ({platform.machine()}): kernel keys, "
                     "file locks and watches are NOT refused")
        return text


def bwrap_executable() -> str | None:
    """The path of ``bwrap`` (``$GRADREF_BWRAP`` when set), or None when it is not installed."""
    chosen = os.environ.get("GRADREF_BWRAP", "").strip()
    if chosen:
        return chosen if os.path.isfile(chosen) and os.access(chosen, os.X_OK) else None
    return shutil.which("bwrap", path=os.environ.get("PATH", "") + os.pathsep + _SEARCH_PATH)


def _probe(bwrap: str) -> str | None:
    """None when bubblewrap can create the namespaces we need here, else why not."""
    argv = [bwrap, "--ro-bind", "/", "/", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--die-with-parent", "--new-session", "--proc", "/proc",
            "--dev", "/dev"]
    if os.geteuid() != 0:
        argv.insert(1, "--unshare-user")
    else:
        argv[1:1] = ["--cap-drop", "ALL"]
    argv += ["/bin/sh", "-c", "exit 0"]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=_PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{bwrap} could not run: {error}"
    if done.returncode != 0:
        text = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{bwrap} cannot create namespaces here: {text[-1] if text else done.returncode}"
    return None


def namespaces_problem() -> str | None:
    """None when the ``namespaces`` level can run here, else the reason (cached)."""
    bwrap = bwrap_executable()
    if bwrap is None:
        return ("bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)")
    if bwrap not in _bwrap_works:
        _bwrap_works[bwrap] = _probe(bwrap)
    return _bwrap_works[bwrap]


def available_level() -> str:
    """The strongest level this machine allows."""
    if namespaces_problem() is None:
        return "namespaces"
    return "uid" if os.geteuid() == 0 else "none"


def choose(requested: str | None = "auto") -> str:
    """``requested`` (``"auto"``/None or a level name) as the level to use here.

    ``"auto"`` is ``$GRADREF_ISOLATION`` when set, else the strongest available level.  A
    level that cannot run here raises :class:`IsolationError` saying why; a name that is not a
    level raises ``ValueError``.
    """
    if requested is None or requested == "auto":
        requested = os.environ.get(_ENVIRONMENT, "").strip() or "auto"
        if requested not in ("auto", *LEVELS):
            raise ValueError(f"{_ENVIRONMENT} must be one of auto, {', '.join(LEVELS)}, "
                             f"got {requested!r}")
        if requested == "auto":
            return available_level()
    if requested not in LEVELS:
        raise ValueError(f"isolation must be 'auto' or one of {', '.join(LEVELS)}, "
                         f"got {requested!r}")
    if requested == "namespaces":
        problem = namespaces_problem()
        if problem is not None:
            raise IsolationError(f"the namespaces isolation level is not available: {problem}")
    if requested == "uid" and os.geteuid() != 0:
        raise IsolationError("the uid isolation level needs the grader to run as root")
    return requested


def require_sandbox() -> None:
    """``--require-sandbox``: raise :class:`IsolationError` unless the ``namespaces`` level can
    run here, and make every later ``"auto"`` in this process mean ``namespaces``."""
    choose("namespaces")
    os.environ[_ENVIRONMENT] = "namespaces"


def add_require_sandbox_argument(parser) -> None:  # type: ignore[no-untyped-def]
    """The ``--require-sandbox`` option of ``grade``, ``grade-all`` and ``validate``."""
    parser.add_argument("--require-sandbox", action="store_true",
                        help="refuse to run (exit 2) unless submissions can run behind the full "
                             "boundary (bubblewrap namespaces); without it the strongest "
                             "available level is used and every report names it")
