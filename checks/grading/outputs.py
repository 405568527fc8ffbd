"""The files grading writes: private to the grader's user and replaced all at once.

Shared by ``grade --out``, ``grade-all``'s gradebook and reports, the class summary and the
Gradescope results, so that none of them can be read by a submission at the ``uid`` isolation
level or left truncated by an interrupted run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

__all__ = ["atomic_write", "atomic_write_text", "private_dir"]

#: Every file grading writes (gradebook, per-student reports, class summary, ``grade --out``)
#: is private to the grader's user, whatever the umask: a report holds a student's grade, and
#: at the ``uid`` isolation level a submission shares the grader's filesystem.  Share them on
#: purpose (``chmod``).
_FILE_MODE = 0o600
#: ... and the folders grading makes for them (``<out>_reports``).
_DIR_MODE = 0o700


def private_dir(path: str | os.PathLike) -> Path:
    """Create folder ``path`` (mode 0700) or, when it exists and is ours, make it 0700."""
    path = Path(path)
    path.mkdir(mode=_DIR_MODE, exist_ok=True)
    info = os.stat(path)
    if info.st_uid == os.geteuid() and info.st_mode & 0o077:
        os.chmod(path, _DIR_MODE)
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> None:
    """Create or replace ``path`` all at once: ``write(f)`` fills a temporary file in the same
    folder, which then replaces ``path`` (``os.replace``).

    On any failure (also ``KeyboardInterrupt``) the temporary file is removed and ``path`` is left
    as it was: never a truncated file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            os.fchmod(f.fileno(), _FILE_MODE)  # private (mkstemp's 0600, said explicitly)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """:func:`atomic_write` of ``text`` (no newline translation).  A file name that is not valid
    UTF-8 (its bytes kept as surrogates by ``os.fsdecode``) is written back as those bytes
    (``surrogateescape``) instead of failing the whole gradebook."""
    data = text.encode(encoding, "surrogateescape")
    atomic_write(path, lambda f: f.write(data))
