"""The files of one submission, copied into the folder its child will work in.

A submission is an *entry file* (the source the child executes, under its real relative file
name) plus optional extra files and folders (helper modules beside a notebook, a package folder
such as ``cs231n/``), each placed at a relative path.  :func:`stage` writes them all into a
fresh directory, never following a symbolic link and never opening a special file (FIFO,
device, socket) of the submitter's, with one byte budget for the whole submission:

* a ``bytes`` value is written as the file's content;
* a path value is opened with ``O_NOFOLLOW``: a regular file is copied, a directory is copied
  recursively (descending through directory descriptors, so a directory swapped for a
  symbolic link half-way cannot redirect the copy); inside a directory, symbolic links,
  special files, ``__pycache__`` and ``.git`` are left out and listed in the result;
* a path value that is itself a symbolic link or a special file is refused with a
  ``ValueError`` naming it.

Relative paths are checked (:func:`relative_path`): no absolute path, no ``..``, no empty or
``.`` component, no NUL.  File names that are not valid UTF-8 (``surrogateescape``) are kept.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping, Union

__all__ = ["FileSpec", "StagedFiles", "read_regular_file", "relative_path", "stage"]

#: What a submission's extra file may be given as: its content, or a path to copy.
FileSpec = Union[bytes, str, "os.PathLike[str]"]

_SKIPPED_NAMES = ("__pycache__", ".git")
_MAX_ENTRIES = 20_000
_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass
class StagedFiles:
    """What :func:`stage` wrote: byte and entry counts, and what it left out (and why)."""

    bytes: int = 0
    entries: int = 0
    skipped: list[str] = field(default_factory=list)


def relative_path(name: object, what: str) -> PurePosixPath:
    """``name`` as a safe relative POSIX path, or ``ValueError`` naming ``what`` and the value."""
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name or "\0" in name:
        raise ValueError(f"{what} must be a non-empty relative path, got {name!r}")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(
            f"{what} must be a relative path inside the submission's folder (no leading '/', "
            f"no '.' or '..' parts, no empty parts), got {name!r}"
        )
    return path


def _open_no_follow(path: str | os.PathLike[str], what: str) -> int:
    """A descriptor of ``path`` opened without following a symbolic link; the errors name
    ``what`` and the path (``FileNotFoundError``, else ``ValueError``)."""
    try:
        return os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {os.fspath(path)!r}") from None
    except OSError as error:
        if os.path.islink(path):
            raise ValueError(
                f"{what} {os.fspath(path)!r} is a symbolic link; symbolic links are refused "
                "(copy the file itself)"
            ) from None
        raise ValueError(f"cannot open {what} {os.fspath(path)!r}: {error.strerror}") from None


def read_regular_file(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The bytes of ``path``, which must be a regular file (not a symbolic link, FIFO, device
    or socket) of at most ``limit`` bytes; ``ValueError``/``FileNotFoundError`` otherwise."""
    fd = _open_no_follow(path, what)
    try:
        return _read_fd(fd, limit, f"{what} {os.fspath(path)!r}")
    finally:
        os.close(fd)


def _read_fd(fd: int, limit: int, label: str) -> bytes:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{label} is not a regular file ({_kind(info.st_mode)}); refused")
    if info.st_size > limit:
        raise ValueError(f"{label} has {info.st_size} bytes, more than the limit of {limit}")
    chunks, size = [], 0
    while True:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise ValueError(f"{label} has more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


class _Writer:
    def __init__(self, root: Path, limit: int, owner: tuple[int, int] | None) -> None:
        self.root, self.limit, self.owner = root, limit, owner
        self.result = StagedFiles()

    def _account(self, size: int, where: str) -> None:
        self.result.bytes += size
        self.result.entries += 1
        if self.result.bytes > self.limit:
            raise ValueError(
                f"the submission's files exceed the limit of {self.limit} bytes "
                f"(Limits.disk) at {where!r}"
            )
        if self.result.entries > _MAX_ENTRIES:
            raise ValueError(f"the submission has more than {_MAX_ENTRIES} files and folders")

    def directory(self, relative: PurePosixPath) -> Path:
        target = self.root
        for part in relative.parts:
            target = target / part
            if not os.path.lexists(target):
                os.mkdir(target, 0o755)
                if self.owner is not None:
                    os.chown(target, *self.owner)
            elif os.path.islink(target) or not os.path.isdir(target):
                raise ValueError(f"{relative} is given both as a file and as a folder")
        return target

    def write(self, relative: PurePosixPath, data: bytes) -> None:
        self._account(len(data), str(relative))
        folder = self.directory(relative.parent)
        target = folder / relative.name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(target, flags, 0o644)
        except FileExistsError:
            raise ValueError(f"{relative} is given twice") from None
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if self.owner is not None:
                os.fchown(fd, *self.owner)
        finally:
            os.close(fd)

    def copy_tree(self, dir_fd: int, relative: PurePosixPath, label: str) -> None:
        self._account(0, str(relative))
        self.directory(relative)
        with os.scandir(dir_fd) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            child = relative / name
            shown = f"{label}/{name}"
            if name in _SKIPPED_NAMES:
                self.result.skipped.append(f"{shown} (not copied: {name})")
                continue
            try:
                fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
            except OSError:
                try:
                    mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
                    why = _kind(mode)
                except OSError as error:
                    why = error.strerror or "unreadable"
                self.result.skipped.append(f"{shown} (not copied: {why})")
                continue
            try:
                info = os.fstat(fd)
                if stat.S_ISDIR(info.st_mode):
                    self.copy_tree(fd, child, shown)
                elif stat.S_ISREG(info.st_mode):
                    self.write(child, _read_fd(fd, self.limit, shown))
                else:
                    self.result.skipped.append(f"{shown} (not copied: {_kind(info.st_mode)})")
            finally:
                os.close(fd)


def stage(
    root: Path,
    files: Mapping[PurePosixPath, FileSpec],
    *,
    limit: int,
    owner: tuple[int, int] | None = None,
) -> StagedFiles:
    """Write ``files`` (relative path -> bytes or a path to copy) below ``root``.

    ``limit`` bounds the total bytes; ``owner`` (uid, gid) receives every created entry.
    Raises ``ValueError`` naming the offending entry (symbolic link, special file, over the
    limit, path given twice) and ``FileNotFoundError`` for a missing path.
    """
    writer = _Writer(root, limit, owner)
    for relative, spec in files.items():
        if isinstance(spec, (bytes, bytearray, memoryview)):
            writer.write(relative, bytes(spec))
            continue
        if not isinstance(spec, (str, os.PathLike)):
            raise ValueError(
                f"files[{str(relative)!r}] must be bytes (the content) or a path, got "
                f"{type(spec).__name__}"
            )
        label = os.fspath(spec)
        fd = _open_no_follow(spec, f"files[{str(relative)!r}]")
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                writer.copy_tree(fd, relative, label)
            else:
                writer.write(relative, _read_fd(fd, limit, f"files[{str(relative)!r}] ({label!r})"))
        finally:
            os.close(fd)
    return writer.result
