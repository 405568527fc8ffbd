"""Read-only view of the process table through ``/proc`` (Linux), for cleanup and tests.

The isolation layer uses it to find every process of a sandbox uid (including zombies, whose
``status`` file still carries the uid), to reap the zombies that were re-parented to the
parent, and to pick sandbox uids nobody is using.  Processes may vanish at any moment while
the table is read; such entries are silently skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["ProcessInfo", "list_processes", "read_process"]


@dataclass(frozen=True)
class ProcessInfo:
    """One ``/proc/<pid>`` entry: ids, parent, state letter (``Z`` = zombie), start time."""

    pid: int
    ppid: int
    name: str  # the command name (``comm``), kept by zombies
    state: str
    uids: tuple[int, ...]  # real, effective, saved, filesystem
    pgrp: int
    session: int
    start_time: int  # clock ticks since boot; distinguishes a recycled pid

    @property
    def zombie(self) -> bool:
        return self.state in ("Z", "X")


def read_process(pid: int) -> ProcessInfo | None:
    """Return the entry for ``pid``, or None when it does not exist (any more)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("utf-8", "replace")
        with open(f"/proc/{pid}/status", "rb") as handle:
            status = handle.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may itself contain spaces or ')'
    open_ = stat.find("(")
    close = stat.rfind(")")
    fields = stat[close + 2 :].split()
    if open_ < 0 or close < 0 or len(fields) < 20:
        return None
    uids: tuple[int, ...] = ()
    for line in status.splitlines():
        if line.startswith("Uid:"):
            uids = tuple(int(part) for part in line.split()[1:])
            break
    try:
        return ProcessInfo(
            pid=pid,
            name=stat[open_ + 1 : close],
            state=fields[0],
            ppid=int(fields[1]),
            pgrp=int(fields[2]),
            session=int(fields[3]),
            start_time=int(fields[19]),
            uids=uids,
        )
    except ValueError:
        return None


def list_processes() -> list[ProcessInfo]:
    """Every process visible in ``/proc`` (threads are not listed separately)."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    result = []
    for name in names:
        if name.isdigit():
            info = read_process(int(name))
            if info is not None:
                result.append(info)
    return result


def has_environment_token(pid: int, token: bytes) -> bool:
    """True if ``/proc/<pid>/environ`` (readable for our own uid) contains ``token``."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return token in handle.read()
    except OSError:
        return False
