"""The ``namespaces`` level: the bubblewrap command line that builds a child's whole world.

:func:`bwrap_argv` returns ``bwrap [options] -- ARGV``.  The child gets

* its own network (empty: not even loopback is up), IPC, PID and UTS namespaces, a new
  session, ``--die-with-parent``; when the grader is root, every capability is dropped except
  ``CAP_SETUID``/``CAP_SETGID``/``CAP_CHOWN``, which the harness needs to hand the working
  folder to a throw-away uid and drop to it (that clears them too);
* read-only: the system's ``/usr`` and ``/lib*`` (the interpreter's shared libraries), the
  dynamic loader's configuration, the Python interpreter's prefix, and -- bound back one by
  one -- the packages it may import (numpy and its ``numpy.libs``).  Every ``site-packages``/
  ``dist-packages`` directory of this interpreter and gradref's own package folder are covered
  by an empty tmpfs, so neither gradref (editable or installed) nor another installed package
  is reachable; ``.pth`` files are never run (``-S``), so an editable finder cannot point
  anywhere either;
* the harness's three files (a private copy, :func:`harness_dir`), its submission's staged
  files (read-only, copied by the harness into the working folder), extra import roots;
* a private ``/proc`` (only the sandbox's own processes), a minimal ``/dev``, and one tmpfs of
  ``Limits.disk`` bytes at ``/tmp`` (the working folder :data:`WORKDIR` is inside it) plus one
  at ``/dev/shm``; finally ``/`` is remounted read-only.

Nothing else of the host exists inside: no gradref source, no other submission, no report, no
grader command line (the PID namespace hides the grader's ``/proc`` entry), no ``/run/lock``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import site
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from .errors import IsolationError

__all__ = [
    "COMMAND_WORKDIR",
    "HARNESS",
    "STAGE",
    "WORKDIR",
    "bwrap_argv",
    "harness_dir",
    "package_dirs",
]

#: Where things appear inside the sandbox: the harness and the stage at names drawn per grader
#: process, so that a submission cannot tell from a documented name that it is being graded.
HARNESS = f"/{secrets.token_hex(6)}"
STAGE = f"/{secrets.token_hex(6)}"
_HOSTNAME = secrets.token_hex(4)
WORKDIR = "/tmp/work"
COMMAND_WORKDIR = "/run/work"

_HARNESS_FILES = ("_child.py", "_sandbox.py", "protocol.py")
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
_LOADER_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                 "/etc/localtime")
_SHM_BYTES = 64 * 1024 * 1024
_harness: dict[str, Path] = {}


def harness_dir() -> Path:
    """A private folder holding only copies of the child's three harness files (made once per
    process; mode 0755/0644 so a throw-away uid can read it, owned by the grader)."""
    key = str(os.getpid())
    existing = _harness.get(key)
    if existing is not None and all((existing / name).is_file() for name in _HARNESS_FILES):
        return existing
    folder = Path(tempfile.mkdtemp(prefix=f"gradref-harness-{os.getpid()}-"))
    here = Path(__file__).parent
    for name in _HARNESS_FILES:
        shutil.copyfile(here / name, folder / name)
        os.chmod(folder / name, 0o644)
    os.chmod(folder, 0o755)
    _harness[key] = folder
    atexit.register(_remove_harness, folder, os.getpid())
    return folder


def _remove_harness(folder: Path, owner: int) -> None:
    if os.getpid() == owner:  # not from a forked copy of the grader
        shutil.rmtree(folder, ignore_errors=True)


def package_dirs(names: Iterable[str] = ("numpy",)) -> list[Path]:
    """The folders of the packages the child may import, with their vendored libraries."""
    import importlib.util

    found: list[Path] = []
    for name in names:
        spec = importlib.util.find_spec(name)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            raise IsolationError(f"cannot find the package {name!r} to expose to the sandbox")
        for location in locations:
            folder = Path(os.path.realpath(location))
            found.append(folder)
            libs = folder.with_name(folder.name + ".libs")
            if libs.is_dir():
                found.append(libs)
    return found


def _hidden_dirs() -> list[Path]:
    """Folders covered by an empty tmpfs: every place installed packages (gradref!) live."""
    candidates = list(site.getsitepackages()) + [site.getusersitepackages()]
    candidates += [entry for entry in sys.path
                   if entry.rstrip("/").endswith(("site-packages", "dist-packages"))]
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/usr/local"}:
        for lib in ("lib", "lib64"):
            base = Path(prefix) / lib
            for pattern in ("python3*/site-packages", "python3*/dist-packages", "python3/dist-packages"):
                candidates += [str(path) for path in base.glob(pattern)]
    import gradref  # the package root: the repository (editable install) or site-packages/gradref

    candidates.append(os.path.dirname(os.path.abspath(gradref.__file__)))
    hidden: list[Path] = []
    for entry in candidates:
        if entry and os.path.isdir(entry):
            path = Path(os.path.realpath(entry))
            if path not in hidden and str(path) != "/":
                hidden.append(path)
    return hidden


def _prefixes() -> list[Path]:
    executable = os.path.realpath(sys.executable)
    prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix),
                os.path.dirname(os.path.dirname(executable))}
    return sorted(Path(p) for p in prefixes if os.path.isdir(p))


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _parents(target: str, bound: Sequence[Path], made: set[str]) -> list[str]:
    """``--perms 0755 --dir`` for the missing ancestors of a mount point (bubblewrap would
    create them 0700, unreachable for the sandbox uid)."""
    out = []
    for parent in reversed(Path(target).parents):
        text = str(parent)
        if text == "/" or text in made or _under(parent, bound):
            continue
        made.add(text)
        out += ["--perms", "0755", "--dir", text]
    return out


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    *,
    disk: int,
    stage: Path | None = None,
    read_only: Sequence[str | os.PathLike[str]] = (),
    writable: Sequence[str | os.PathLike[str]] = (),
    packages: Sequence[Path] = (),
    programs: bool = False,
    chdir: str = "/tmp",
) -> list[str]:
    """``bwrap OPTIONS -- ARGV`` for one sandboxed child (see the module docstring).

    ``stage``: host folder with the submission's files, visible read-only at :data:`STAGE`;
    ``read_only``/``writable``: host folders visible at their own paths; ``packages``: package
    folders bound back after the site-packages folders were hidden; ``programs``: the view
    for external programs instead (:func:`_program_view`).
    """
    root = os.geteuid() == 0
    out = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
           "--unshare-cgroup-try", "--die-with-parent", "--new-session",
           "--hostname", _HOSTNAME]
    if root:
        out += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                "--cap-add", "CAP_CHOWN"]
    else:
        out += ["--unshare-user"]
    if programs:
        return out + _program_view(argv, disk=disk, stage=stage, writable=writable,
                                   chdir=chdir)
    bound: list[Path] = []
    for folder in _SYSTEM_DIRS:
        if os.path.islink(folder):
            out += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            out += ["--ro-bind", folder, folder]
            bound.append(Path(folder))
    for entry in _LOADER_FILES:
        if os.path.lexists(entry):
            out += ["--ro-bind-try", entry, entry]
    # first the private mounts, so that what is bound below /tmp afterwards stays visible
    out += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(disk), "--perms", "1777", "--tmpfs", "/tmp",
            "--size", str(min(disk, _SHM_BYTES)), "--perms", "1777", "--tmpfs", "/dev/shm"]
    made: set[str] = {"/tmp", "/dev", "/dev/shm", "/proc"}
    for prefix in _prefixes():
        if not _under(prefix, bound):
            out += _parents(str(prefix), bound, made)
            out += ["--ro-bind", str(prefix), str(prefix)]
            bound.append(prefix)
    for hidden in _hidden_dirs():
        if _under(hidden, bound):
            out += ["--tmpfs", str(hidden)]
    for folder in packages:
        out += _parents(str(folder), bound, made)
        out += ["--ro-bind", str(folder), str(folder)]
    out += ["--ro-bind", str(harness_dir()), HARNESS]
    if stage is not None:
        out += ["--ro-bind", str(stage), STAGE]
    for folder in read_only:
        path = os.path.realpath(folder)
        out += _parents(path, bound, made) + ["--ro-bind", path, path]
    for folder in writable:
        path = os.path.realpath(folder)
        out += _parents(path, bound, made) + ["--bind", path, path]
    out += ["--remount-ro", "/", "--chdir", chdir, "--", *argv]
    return out


def _program_view(argv: Sequence[str], *, disk: int, stage: Path | None,
                  writable: Sequence[str | os.PathLike[str]], chdir: str) -> list[str]:
    """The view of an external program (``validate --command``): it may be written in any
    language and live anywhere, so the host's filesystem is visible, **read-only**; ``/proc``,
    ``/dev``, ``/dev/shm`` and ``/run`` are private (the last two size-limited tmpfs), the
    working folder (``stage``, whose output files are read back) is bound read-write at
    :data:`COMMAND_WORKDIR`, and ``writable`` folders read-write at their own paths.  No
    network, private IPC/PID/UTS as for submissions."""
    out = ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
           "--size", str(min(disk, _SHM_BYTES)), "--perms", "1777", "--tmpfs", "/dev/shm",
           "--size", str(disk), "--perms", "0755", "--tmpfs", "/run"]
    if stage is not None:
        out += ["--bind", str(stage), COMMAND_WORKDIR]
    for folder in writable:
        path = os.path.realpath(folder)
        out += ["--bind", path, path]
    return out + ["--chdir", chdir, "--", *argv]
