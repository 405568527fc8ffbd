"""Resource limits applied to every sandboxed child (one ``Limits`` value, validated once).

The same ``Limits`` drive both entry points: :class:`~gradref.checks.isolation.PythonSubmission`
(one persistent child serving many calls, so time limits are *per call*) and
:func:`~gradref.checks.isolation.run_command` (one process run, so they are per run).

How each field is enforced:

``wall``
    measured by the parent with ``poll`` deadlines; when it expires the parent SIGKILLs the
    whole process group (and, when running as a dedicated uid, every process of that uid).
``cpu``
    ``RLIMIT_CPU``.  For a persistent child the harness re-arms the soft limit before each
    call to "CPU used so far + ``cpu``", so the limit is per call; exceeding it delivers
    SIGXCPU (reported as a ``"timeout"``).  The hard limit is a lifetime budget and the parent
    recycles the child before it can be reached by well-behaved calls.
``memory``
    ``RLIMIT_AS`` (virtual address space, bytes) of each process; Python code sees a
    ``MemoryError`` (reported as ``"memory"``).
``processes``
    ``RLIMIT_NPROC``: processes *and threads* of the child's real uid.  It only bites for an
    unprivileged uid, which is why a root parent runs children as a dedicated throw-away uid.
``output``
    bytes of stdout and, separately, of stderr kept per call (head and tail are kept, the middle
    is replaced by a marker).  Output always goes to files, never to the protocol channel.
``load``
    wall-clock seconds (and CPU seconds) for executing the submission's top level.
``file_size``
    ``RLIMIT_FSIZE``: the largest file the child may write, including its captured
    stdout/stderr files; exceeding it kills the child with SIGXFSZ (reported as a crash).
``transfer``
    the largest message (JSON header + arrays) the parent accepts from the child.
``budget``
    wall-clock seconds for the whole submission (every start, load and call together).  Once it
    has run out, the running call is killed and later calls are not run; their results say so
    (kind ``"budget"``).
``statement``
    wall-clock seconds one top-level statement (or notebook cell statement) of a graded
    submission may run while it loads; one that runs longer is stopped and reported, and loading
    goes on with the next statement (the grader's unit runner, :mod:`gradref.checks.grading.driver`,
    enforces it inside ``load``).
``disk``
    bytes the submission may store: the size of its private tmpfs under the ``namespaces``
    level (working folder, ``/tmp`` and ``/dev/shm`` together), and the cap on the files
    copied into its working folder at every level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["Limits"]

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# A floor for the address-space limit: it catches values given in the wrong unit (MiB instead
# of bytes).  The child imports numpy *before* its limits are applied and then occupies about
# 100 MB of address space, so limits near the floor leave the submission almost nothing.
_MIN_MEMORY = 64 * MiB


@dataclass(frozen=True)
class Limits:
    """Per-call resource limits for sandboxed code; every field is checked in ``__post_init__``.

    Defaults: ``wall=10.0`` s per call, ``cpu=10.0`` s per call, ``memory=1 GiB``,
    ``processes=64``, ``output=64 KiB`` per stream per call, ``load=20.0`` s for the
    submission's top level, ``file_size=64 MiB``, ``transfer=256 MiB`` per response,
    ``budget=300.0`` s for the whole submission, ``disk=256 MiB``, ``statement=5.0`` s per
    top-level statement while loading.

    A bad value raises ``ValueError`` naming the field and the value.
    """

    wall: float = 10.0
    cpu: float = 10.0
    memory: int = 1 * GiB
    processes: int = 64
    output: int = 64 * KiB
    load: float = 20.0
    file_size: int = 64 * MiB
    transfer: int = 256 * MiB
    budget: float = 300.0
    disk: int = 256 * MiB
    statement: float = 5.0

    def __post_init__(self) -> None:
        for name in ("wall", "cpu", "load", "budget", "statement"):
            _check_seconds(name, getattr(self, name))
        _check_int("memory", self.memory, minimum=_MIN_MEMORY, unit="bytes")
        _check_int("processes", self.processes, minimum=1, unit="processes")
        _check_int("output", self.output, minimum=0, unit="bytes")
        _check_int("file_size", self.file_size, minimum=1 * MiB, unit="bytes")
        _check_int("transfer", self.transfer, minimum=1 * KiB, unit="bytes")
        _check_int("disk", self.disk, minimum=1 * MiB, unit="bytes")

    def replace(self, **changes: object) -> Limits:
        """Return a copy with some fields changed (validated like the constructor)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Limits has no field(s) {', '.join(map(repr, unknown))}")
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Limits(**values)  # type: ignore[arg-type]


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Limits.{name} must be a number of seconds, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"Limits.{name} must be a finite number of seconds > 0, got {value!r}")
    if value > 24 * 3600:
        raise ValueError(f"Limits.{name} must be at most one day (86400 s), got {value!r}")


def _check_int(name: str, value: object, *, minimum: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"Limits.{name} must be an int ({unit}), got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"Limits.{name} must be >= {minimum} {unit}, got {value!r}")
    if value >= 2**62:
        raise ValueError(f"Limits.{name} must be < 2**62 {unit}, got {value!r}")
