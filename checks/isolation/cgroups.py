"""Memory and process limits for a whole submission (all its processes together): a cgroup.

``RLIMIT_AS`` and ``RLIMIT_NPROC`` bind each process (or each uid) separately, so six forked
processes may each use the memory limit.  Where the machine lets the grader create a cgroup,
:func:`create` makes one per submission with

* cgroup v2 (the unified hierarchy, when its ``memory`` and ``pids`` controllers are enabled
  for the grader's own cgroup): ``memory.max``, ``memory.swap.max = 0``, ``pids.max``;
* cgroup v1 (separate ``memory`` and ``pids`` hierarchies): ``memory.limit_in_bytes`` (and
  ``memory.memsw.limit_in_bytes`` where swap is accounted) and ``pids.max``.

The sandbox's first process joins it before it runs anything (``/bin/sh`` writes its own pid to
``cgroup.procs`` and ``exec``'s the rest), so every descendant is inside.  :meth:`Cgroup.kill`
ends every process in it (``cgroup.kill`` on v2, SIGKILL to each listed pid on v1) and
:meth:`Cgroup.remove` deletes it.  When nothing can be created (no permission, read-only
``/sys/fs/cgroup``, no controllers), :func:`create` returns None and the limits stay per
process; the report says so.  Set ``GRADREF_CGROUPS=0`` to never use cgroups.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

__all__ = ["Cgroup", "create"]

_REMOVE_DEADLINE = 5.0
_status: dict[str, object] = {}


class Cgroup:
    """One cgroup per submission (v2: one directory; v1: one per controller)."""

    def __init__(self, scope: str, directories: list[Path]) -> None:
        self.scope = scope
        self.directories = directories

    @property
    def procs_files(self) -> list[str]:
        return [str(directory / "cgroup.procs") for directory in self.directories]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for name in self.procs_files:
            try:
                with open(name) as handle:
                    found.update(int(line) for line in handle.read().split())
            except (OSError, ValueError):
                pass
        return found

    def kill(self) -> None:
        """SIGKILL every process in the cgroup, until it is empty (or a deadline passes)."""
        if not self.directories:
            return
        deadline = time.monotonic() + _REMOVE_DEADLINE
        kill_file = self.directories[0] / "cgroup.kill"
        while True:
            pids = self.pids()
            if not pids:
                return
            if self.scope == "cgroup v2" and kill_file.exists():
                try:
                    kill_file.write_text("1")
                except OSError:
                    pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)

    def remove(self) -> None:
        """Kill what is left, then delete the cgroup's directories (best effort)."""
        self.kill()
        deadline = time.monotonic() + _REMOVE_DEADLINE
        for directory in self.directories:
            while True:
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)

    def memory_events(self) -> str:
        """``oom_kill`` count as text when the kernel reports it ('' otherwise)."""
        for name in ("memory.events", "memory.oom_control"):
            try:
                text = (self.directories[0] / name).read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("oom_kill "):
                    return line.split()[1]
        return ""


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, filesystem type, super options) of the cgroup filesystems."""
    found = []
    try:
        with open("/proc/self/mountinfo") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """Controller (``""`` for v2) -> the grader's cgroup path within that hierarchy."""
    paths = {}
    try:
        with open("/proc/self/cgroup") as handle:
            for line in handle.read().splitlines():
                _, controllers, path = line.split(":", 2)
                for controller in controllers.split(",") if controllers else [""]:
                    paths[controller] = path
    except (OSError, ValueError):
        pass
    return paths


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _inside(mount: str, relative: str) -> Path:
    base = Path(mount)
    candidate = base / relative.lstrip("/")
    # inside a cgroup namespace the own path may not exist below the mount: use the mount
    return candidate if candidate.is_dir() else base


def _v2(mount: str, own: str, name: str, memory: int, processes: int) -> Cgroup | None:
    parent = _inside(mount, own)
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    if not {"memory", "pids"} <= set(enabled):
        try:
            _write(parent / "cgroup.subtree_control", "+memory +pids")
        except OSError:
            return None
    directory = parent / name
    try:
        directory.mkdir(mode=0o755)
        _write(directory / "memory.max", str(memory))
        _write(directory / "pids.max", str(processes))
        if (directory / "memory.swap.max").exists():
            _write(directory / "memory.swap.max", "0")
    except OSError:
        Cgroup("cgroup v2", [directory]).remove()
        return None
    return Cgroup("cgroup v2", [directory])


def _v1(mounts: dict[str, str], own: dict[str, str], name: str, memory: int,
        processes: int) -> Cgroup | None:
    directories: list[Path] = []
    try:
        memory_dir = _inside(mounts["memory"], own.get("memory", "/")) / name
        memory_dir.mkdir(mode=0o755)
        directories.append(memory_dir)
        _write(memory_dir / "memory.limit_in_bytes", str(memory))
        swap = memory_dir / "memory.memsw.limit_in_bytes"
        if swap.exists():
            try:
                _write(swap, str(memory))
            except OSError:
                pass
        pids_dir = _inside(mounts["pids"], own.get("pids", "/")) / name
        pids_dir.mkdir(mode=0o755)
        directories.append(pids_dir)
        _write(pids_dir / "pids.max", str(processes))
    except (OSError, KeyError):
        Cgroup("cgroup v1", directories).remove()
        return None
    return Cgroup("cgroup v1", directories)


def create(name: str, *, memory: int, processes: int) -> Cgroup | None:
    """A fresh cgroup named ``name`` limiting memory (bytes) and processes, or None."""
    if os.environ.get("GRADREF_CGROUPS", "").strip() == "0":
        return None
    if _status.get("broken"):
        return None
    mounts = _mounts()
    own = _own_paths()
    for mount, fstype, _options in mounts:
        if fstype == "cgroup2":
            made = _v2(mount, own.get("", "/"), name, memory, processes)
            if made is not None:
                return made
    v1 = {}
    for mount, fstype, options in mounts:
        if fstype == "cgroup":
            for controller in ("memory", "pids"):
                if controller in options:
                    v1[controller] = mount
    made = _v1(v1, own, name, memory, processes) if {"memory", "pids"} <= set(v1) else None
    if made is None:
        _status["broken"] = True  # do not retry for every submission
    return made
