"""Throw-away uids for sandboxes when the parent runs as root.

Root ignores ``RLIMIT_NPROC`` and may write the grader's files, so a root parent runs each
sandbox as a dedicated unprivileged uid.  We do *not* share ``nobody`` (65534): cleanup ends
with ``kill(-1, SIGKILL)`` as the sandbox uid, which would also kill unrelated ``nobody``
daemons and the sandboxes of a concurrent grader.  Instead each :class:`UidLease` owns one uid
from a large pool for its lifetime:

* the pool is ``[1_600_000_000, 1_601_000_000)`` (or ``GRADREF_ISOLATION_UIDS=start-end`` in
  the parent's environment), restricted to uids mapped in ``/proc/self/uid_map`` (user
  namespaces) and to uids without a ``passwd``/``group`` entry and without a live process;
* a uid is picked at random (so files a previous submission left in ``/tmp`` are unlikely to
  be met by the next one) and claimed with an exclusive ``flock`` on
  ``$TMPDIR/gradref-isolation-locks-<euid>/<uid>.lock`` (a root-owned 0700 directory that we
  verify before use), which serialises concurrent graders on one machine;
* on release, every process of the uid is killed (done by the sandbox), top-level entries it
  left in the world-writable temp directories are deleted, and the lock is dropped.

The gid is the same number as the uid (an unnamed group), and supplementary groups are
cleared when the child drops privileges.
"""

from __future__ import annotations

import errno
import fcntl
import grp
import os
import pwd
import random
import shutil
import stat
import tempfile
import weakref
from pathlib import Path

from . import procfs
from .errors import IsolationError

__all__ = ["UidLease", "acquire_uid", "pick_uid", "protect_installation", "running_as_root"]

_DEFAULT_POOL = (1_600_000_000, 1_601_000_000)
_ATTEMPTS = 64
_WORLD_WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def running_as_root() -> bool:
    return os.geteuid() == 0


def _pool() -> tuple[int, int]:
    text = os.environ.get("GRADREF_ISOLATION_UIDS", "").strip()
    if not text:
        return _DEFAULT_POOL
    try:
        start_text, end_text = text.split("-")
        start, end = int(start_text), int(end_text)
    except ValueError:
        raise IsolationError(
            f"GRADREF_ISOLATION_UIDS must look like 'START-END', got {text!r}"
        ) from None
    if not 1000 <= start < end <= 2**32 - 2:
        raise IsolationError(f"GRADREF_ISOLATION_UIDS range {text!r} is not usable")
    return start, end


def _mapped_ranges(path: str) -> list[tuple[int, int]]:
    """The id ranges usable inside this user namespace (``[(start, end), ...]``)."""
    try:
        with open(path) as handle:
            lines = handle.read().split("\n")
    except OSError:
        return [(0, 2**32 - 1)]
    ranges = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            inside, _outside, count = map(int, parts)
            ranges.append((inside, inside + count))
    return ranges


def _candidates() -> list[tuple[int, int]]:
    start, end = _pool()
    usable = []
    for low, high in _mapped_ranges("/proc/self/uid_map"):
        for glow, ghigh in _mapped_ranges("/proc/self/gid_map"):
            lo, hi = max(start, low, glow), min(end, high, ghigh)
            if lo < hi:
                usable.append((lo, hi))
    if not usable:
        raise IsolationError(
            f"no sandbox uid in {start}-{end} is mapped in this user namespace; "
            "set GRADREF_ISOLATION_UIDS to a free mapped range"
        )
    return usable


def _id_is_named(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return True
    except KeyError:
        return False


def _lock_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"gradref-isolation-locks-{os.geteuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.geteuid()
        or info.st_mode & 0o077
    ):
        raise IsolationError(
            f"refusing to use the uid lock directory {path}: it must be a directory owned by "
            f"uid {os.geteuid()} with mode 0700 (found uid {info.st_uid}, "
            f"mode {stat.filemode(info.st_mode)})"
        )
    return path


class UidLease:
    """Exclusive use of one sandbox uid/gid until :meth:`release`."""

    def __init__(self, uid: int, lock_fd: int, lock_path: Path) -> None:
        self.uid = uid
        self.gid = uid
        self._lock_fd: int | None = lock_fd
        self._lock_path = lock_path
        # a forgotten lease is released at garbage collection / interpreter exit (after the
        # sandboxes holding it, which reference it and are finalized first)
        self._finalizer = weakref.finalize(self, _release, uid, lock_fd, lock_path)

    @property
    def active(self) -> bool:
        return self._lock_fd is not None

    def release(self) -> None:
        """Delete what the uid left in world-writable temp dirs, then drop the lock.

        The caller must already have killed every process of the uid.
        """
        if self._lock_fd is None:
            return
        self._lock_fd = None
        self._finalizer()

    def __repr__(self) -> str:
        return f"UidLease(uid={self.uid}, active={self.active})"


def _release(uid: int, lock_fd: int, lock_path: Path) -> None:
    try:
        remove_files_owned_by(uid)
        try:
            os.unlink(lock_path)
        except OSError:
            pass
    finally:
        os.close(lock_fd)


def acquire_uid() -> UidLease:
    """Claim a free sandbox uid (requires root)."""
    if not running_as_root():
        raise IsolationError("only root can run sandboxes as a dedicated uid")
    ranges = _candidates()
    lock_dir = _lock_dir()
    busy = {uid for info in procfs.list_processes() for uid in info.uids}
    rng = random.SystemRandom()
    weights = [high - low for low, high in ranges]
    for _ in range(_ATTEMPTS):
        low, high = rng.choices(ranges, weights=weights)[0]
        uid = rng.randrange(low, high)
        if uid in busy or _id_is_named(uid):
            continue
        lease = _try_lock(uid, lock_dir)
        if lease is not None:
            return lease
    raise IsolationError(f"could not find a free sandbox uid after {_ATTEMPTS} attempts")


def _try_lock(uid: int, lock_dir: Path) -> UidLease | None:
    path = lock_dir / f"{uid}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    # The previous holder may have unlinked the file between our open and our flock: then we
    # locked an orphan inode and must retry with the current file.
    try:
        same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return None
    return UidLease(uid, fd, path)


def remove_files_owned_by(uid: int) -> None:
    """Remove top-level entries owned by ``uid`` in the world-writable temp directories."""
    directories = {tempfile.gettempdir(), *_WORLD_WRITABLE_DIRS}
    for directory in directories:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if info.st_uid != uid:
                continue
            try:
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(entry.path)  # never follows symlinks
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def pick_uid() -> int:
    """A random uid of the pool, without a lease: for the ``namespaces`` level, where the PID
    namespace and the private tmpfs already separate sandboxes (the uid only keeps a child from
    being root, and makes ``RLIMIT_NPROC`` count its own processes)."""
    low, high = random.SystemRandom().choice(_candidates())
    return random.SystemRandom().randrange(low, high)


_protected: set[str] = set()


def protect_installation() -> None:
    """``uid`` level: make gradref's own files unreachable to every sandbox uid, or refuse.

    The package root (the repository of an editable install, ``site-packages/gradref`` of a
    wheel) loses all permissions for "others" (``chmod o-rwx``: nothing below it can be reached
    by a uid that is neither its owner nor in its group).  The child still starts: it reaches
    the interpreter's and numpy's folders through descriptors opened before its privilege drop.
    If the permissions cannot be changed, no child is started as a throw-away uid.
    """
    import gradref

    root = os.path.dirname(os.path.realpath(gradref.__file__))
    if root in _protected:
        return
    try:
        info = os.stat(root)
        if info.st_mode & 0o007:
            os.chmod(root, stat.S_IMODE(info.st_mode) & ~0o007)
        if os.stat(root).st_mode & 0o007 or info.st_uid in _sandbox_range():
            raise OSError("permissions unchanged")
    except OSError as error:
        raise IsolationError(
            f"refusing to run a submission at the uid isolation level: gradref's files in {root} "
            f"stay readable to the sandbox uid ({error}); install bubblewrap for the namespaces "
            f"level, or remove read and search permission for others on {root}"
        ) from None
    _protected.add(root)


def _sandbox_range() -> range:
    start, end = _pool()
    return range(start, end)
