"""A seccomp filter that takes the kernel's shared objects away from every sandboxed child.

Namespaces separate most of what two submissions could share (network, abstract sockets,
SysV IPC and POSIX message queues, PIDs, the filesystem's writable parts), but a few kernel
objects are keyed by an inode of a *shared, read-only* host file or by a uid, and no
namespace the sandbox has separates them:

* **record locks** (``fcntl`` ``F_SETLK``/``F_OFD_SETLK``... and ``flock``) on a file such as
  ``/usr/bin/env``: one submission locks byte ranges, a concurrent one reads them back with
  ``F_GETLK``: a channel between two students graded at once;
* **leases and directory notifications** (``F_SETLEASE``, ``F_NOTIFY``) and **inotify /
  fanotify** watches on host files: one submission opens a file, another counts the events;
* the **kernel keyrings** (``add_key``, ``keyctl``, ``request_key``): a key with permissive
  permissions outlives the submission on the host and is read from ``/proc/keys`` by a later
  one (``request_key`` would even start the host's ``request-key`` helper);
* **io_uring**, whose operations do not pass through the system-call filter at all;
* socket families that are not separated by a network namespace (``AF_VSOCK`` reaches the
  virtual machine's host and other guests' sockets, ``AF_BLUETOOTH``, ...), and ``AF_UNIX``
  sockets made to *connect*: a path-named Unix socket of the host (an ssh or gpg agent, X11
  under ``/tmp/.X11-unix``, a database, ``docker.sock``) is reachable through a read-only
  bind, since ``connect`` writes nothing to the file system, and ``validate --command``
  programs see the host's files read-only. Only ``AF_INET``, ``AF_INET6`` (the private network
  namespace's loopback) and ``AF_NETLINK`` may be created by ``socket``; ``socketpair``, whose
  two ends are connected to each other and to nothing else, stays allowed (Python's
  ``socket.socketpair``, asyncio, libuv's child pipes use it).

:func:`filter_program` returns the classic BPF program (``struct sock_filter[]`` bytes) that
refuses exactly these: lock and notification commands of ``fcntl`` and ``flock`` fail with
``ENOLCK`` (what a file system without locks answers), socket families with ``EAFNOSUPPORT``,
everything else listed with ``EPERM``.  All other system calls, and every other ``fcntl``
command (``F_GETFL``, ``F_SETFD``, ``F_DUPFD``...), are allowed.  A system call made through
another ABI than the native one (``int 0x80`` on x86-64, the x32 ABI, AArch32 on arm64)
fails with ``ENOSYS``: the filter only knows the native numbers, so nothing can go around it.

The child installs the program itself (``_sandbox.enter``, with ``PR_SET_NO_NEW_PRIVS`` set
before), after its privilege drop and before any submission code runs, at every isolation
level.  Supported machines: x86-64, AArch64 and RISC-V 64 (:data:`ARCHITECTURES`); elsewhere
:func:`filter_program` returns None and the isolation description says the filter is absent.
"""

from __future__ import annotations

import errno
import functools
import platform
import struct
import sys

__all__ = ["ARCHITECTURES", "BLOCKED_FCNTL_COMMANDS", "ALLOWED_SOCKET_FAMILIES",
           "filter_program", "machine_syscalls", "spec"]

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR, _ARCH, _ARGS = 0, 4, 16
# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_X32_BIT = 0x40000000

#: fcntl commands refused (ENOLCK): record locks (POSIX and open-file-description), leases and
#: directory notifications, the ones that reach an object other processes share.
BLOCKED_FCNTL_COMMANDS = {
    "F_GETLK": 5, "F_SETLK": 6, "F_SETLKW": 7,
    "F_OFD_GETLK": 36, "F_OFD_SETLK": 37, "F_OFD_SETLKW": 38,
    "F_SETLEASE": 1024, "F_GETLEASE": 1025, "F_NOTIFY": 1026,
}
#: socket families a child may create with ``socket`` (the ones a network namespace separates;
#: not AF_UNIX, whose named sockets live in the host's file system).
ALLOWED_SOCKET_FAMILIES = {"AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16}

# the asm-generic system call table (AArch64, RISC-V 64)
_GENERIC = {
    "fcntl": 25, "flock": 32, "socket": 198,
    "inotify_init1": 26, "inotify_add_watch": 27, "fanotify_init": 262, "fanotify_mark": 263,
    "add_key": 217, "request_key": 218, "keyctl": 219,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "seccomp": 277,
}
#: ``machine -> (AUDIT_ARCH_* value, {system call: number}, has the x32 ABI)``
ARCHITECTURES = {
    "x86_64": (0xC000003E, {
        "fcntl": 72, "flock": 73, "socket": 41,
        "inotify_init": 253, "inotify_init1": 294, "inotify_add_watch": 254,
        "fanotify_init": 300, "fanotify_mark": 301,
        "add_key": 248, "request_key": 249, "keyctl": 250,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "seccomp": 317,
    }, True),
    "aarch64": (0xC00000B7, _GENERIC, False),
    "riscv64": (0xC00000F3, _GENERIC, False),
}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
#: refused outright with EPERM (fcntl, flock and socket are refused by argument instead)
_REFUSED = ("inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init",
            "fanotify_mark", "add_key", "request_key", "keyctl",
            "io_uring_setup", "io_uring_enter", "io_uring_register")


def machine_syscalls(machine: str | None = None) -> tuple[int, dict[str, int], bool] | None:
    """``(audit arch, system call numbers, has x32)`` for ``machine`` (default: this one)."""
    name = (machine or platform.machine()).lower()
    return ARCHITECTURES.get(_ALIASES.get(name, name))


class _Program:
    """Classic BPF with forward labels: ``jeq(k, label)`` jumps there when equal."""

    def __init__(self) -> None:
        self.code: list[tuple[int, int | str, int | str, int]] = []
        self.labels: dict[str, int] = {}

    def load(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, k: int, true: int | str = 0, false: int | str = 0) -> None:
        self.code.append((op, true, false, k))

    def ret(self, value: int) -> None:
        self.code.append((_RET_K, 0, 0, value))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def assemble(self) -> bytes:
        out = []
        for index, (op, true, false, k) in enumerate(self.code):
            offsets = []
            for target in (true, false):
                if isinstance(target, str):
                    target = self.labels[target] - index - 1
                if not 0 <= target <= 255:
                    raise ValueError(f"BPF jump of {target} at {index} is out of range")
                offsets.append(target)
            out.append(struct.pack("=HBBI", op, offsets[0], offsets[1], k))
        return b"".join(out)


@functools.lru_cache(maxsize=None)
def spec(machine: str | None = None) -> dict | None:
    """What ``_sandbox.enter`` needs to install the filter (``{"program": hex, "syscall":
    number of seccomp(2)}``), or None where :func:`filter_program` has none."""
    program = filter_program(machine)
    if program is None:
        return None
    return {"program": program.hex(), "syscall": machine_syscalls(machine)[1]["seccomp"]}


def filter_program(machine: str | None = None) -> bytes | None:
    """The filter (``struct sock_filter`` array, native byte order) for ``machine``, or None
    when the machine is not in :data:`ARCHITECTURES` (or is big-endian: the argument words
    are read at their little-endian offsets)."""
    found = machine_syscalls(machine)
    if found is None or sys.byteorder != "little":
        return None
    arch, numbers, x32 = found
    p = _Program()
    p.load(_ARCH)
    p.jump(_JEQ_K, arch, 0, "foreign")
    p.load(_NR)
    if x32:
        p.jump(_JGE_K, _X32_BIT, "foreign", 0)
    for name in _REFUSED:
        if name in numbers:
            p.jump(_JEQ_K, numbers[name], "eperm", 0)
    p.jump(_JEQ_K, numbers["flock"], "enolck", 0)
    p.jump(_JEQ_K, numbers["fcntl"], "fcntl", 0)
    p.jump(_JEQ_K, numbers["socket"], "socket", 0)
    p.ret(_RET_ALLOW)
    p.label("fcntl")  # the command: the low 32 bits of args[1] (the kernel reads an int)
    p.load(_ARGS + 8)
    for command in BLOCKED_FCNTL_COMMANDS.values():
        p.jump(_JEQ_K, command, "enolck", 0)
    p.ret(_RET_ALLOW)
    p.label("socket")  # the family: the low 32 bits of args[0]
    p.load(_ARGS)
    for family in ALLOWED_SOCKET_FAMILIES.values():
        p.jump(_JEQ_K, family, "allow", 0)
    p.ret(_RET_ERRNO | errno.EAFNOSUPPORT)
    p.label("allow")
    p.ret(_RET_ALLOW)
    p.label("enolck")
    p.ret(_RET_ERRNO | errno.ENOLCK)
    p.label("eperm")
    p.ret(_RET_ERRNO | errno.EPERM)
    p.label("foreign")
    p.ret(_RET_ERRNO | errno.ENOSYS)
    return p.assemble()
