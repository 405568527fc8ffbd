"""The measuring conditions and the timer shared by every part of the benchmark.

Conditions (:func:`ensure_environment`): the BLAS and OpenMP pools have one thread (the variables
must be set before NumPy is imported, so ``run.py`` re-executes itself with them), glibc's
``malloc`` keeps freed memory instead of returning it to the kernel (large arrays would otherwise
be ``mmap``-ed and page-faulted afresh on every call, which swings the large timings by tens of
per cent), and the process is pinned to one CPU (:func:`pin`) so that no library (XLA's thread
pool, PyTorch's inter-op pool) runs on a second core.

Timer (:func:`measure`): every callable is warmed up, its batch size calibrated so one batch lasts
about ``batch_seconds``, then the callables are timed in interleaved rounds (in an order shuffled
each round) with the garbage collector off; a sample is one batch's time divided by its size and
the result is the median of the samples. Interleaving matters on a shared machine: a burst of
load hits every side of a ratio alike instead of one side only.

This module imports only the standard library.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field

__all__ = ["PINNED_ENV", "ORIGINAL_ENV_KEY", "ensure_environment", "environment_ok", "original_env",
           "pin", "unpinned", "Timing", "measure", "time_once", "load_average"]

#: Set before the interpreter starts (``run.py`` re-executes itself with these).
PINNED_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    # XLA's CPU backend: no Eigen thread pool for one computation
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    # glibc malloc: allocations up to 32 MiB (the largest threshold glibc accepts on 64-bit)
    # come from the heap, and the heap is never trimmed back to the kernel.
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(1024 ** 3),
    "MALLOC_TOP_PAD_": str(64 * 1024 * 1024),
}

#: Holds, as JSON, the values the pinned variables had before the re-exec (None: unset).
ORIGINAL_ENV_KEY = "GRADREF_BENCH_ORIGINAL_ENV"


def environment_ok() -> bool:
    """True when every pinned variable has its value in this process's environment."""
    return all(os.environ.get(k) == v for k, v in PINNED_ENV.items())


def ensure_environment(script: str, argv: list[str]) -> None:
    """Re-execute ``script`` with the pinned environment unless it is already in place.

    Must be called before NumPy (or anything that loads a BLAS) is imported.
    """
    if environment_ok():
        return
    if any(name in sys.modules for name in ("numpy", "torch", "jax")):
        raise RuntimeError("ensure_environment must run before numpy, torch or jax is imported")
    env = dict(os.environ)
    env.setdefault(ORIGINAL_ENV_KEY, json.dumps({k: os.environ.get(k) for k in PINNED_ENV}))
    env.update(PINNED_ENV)
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, script, *argv], env)


def original_env() -> dict[str, str]:
    """This process's environment with the pinned variables restored to their values before the
    re-exec: what a user's shell would give a subprocess such as ``make check``."""
    env = dict(os.environ)
    saved = json.loads(env.pop(ORIGINAL_ENV_KEY, "null") or "null")
    if saved is None:
        return env
    for key, value in saved.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


_ALL_CPUS: set[int] | None = None


def pin(cpu: int | None = None) -> int | None:
    """Pin this process to one CPU (default: the highest-numbered one allowed); returns it, or
    None where the platform has no ``sched_setaffinity``."""
    global _ALL_CPUS
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    if _ALL_CPUS is None:
        _ALL_CPUS = set(allowed)
    cpu = max(allowed) if cpu is None else cpu
    os.sched_setaffinity(0, {cpu})
    return cpu


@contextlib.contextmanager
def unpinned() -> Iterator[None]:
    """Every CPU allowed inside the block (subprocesses started there inherit it), the pinning
    restored afterwards."""
    if not hasattr(os, "sched_setaffinity") or _ALL_CPUS is None:
        yield
        return
    current = os.sched_getaffinity(0)
    os.sched_setaffinity(0, _ALL_CPUS)
    try:
        yield
    finally:
        os.sched_setaffinity(0, current)


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


@dataclass
class Timing:
    """Seconds per call of one callable: the median and spread of the samples."""

    median: float
    minimum: float
    q1: float
    q3: float
    number: int
    samples: list[float] = field(repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["samples"] = [float(f"{s:.6g}") for s in self.samples]
        return out


def _batch(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def _quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def measure(fns: Mapping[str, Callable[[], object]], *, repeats: int = 15,
            batch_seconds: float = 0.02, warmup_seconds: float = 0.05,
            max_number: int = 100_000, seed: int = 0) -> dict[str, Timing]:
    """Median seconds per call of each callable, timed in interleaved rounds.

    ``repeats`` rounds of one batch per callable, in an order shuffled each round (seeded by
    ``seed``); a batch repeats the call ``number`` times, the
    smallest power of two (at most ``max_number``) lasting ``batch_seconds``. Each callable is
    first called for ``warmup_seconds`` (and at least twice). The garbage collector is off
    during the batches.
    """
    names = list(fns)
    shuffle = random.Random(seed).shuffle
    numbers = {}
    for name in names:
        fn = fns[name]
        fn()
        start, calls = time.perf_counter(), 1
        while calls < 2 or time.perf_counter() - start < warmup_seconds:
            fn()
            calls += 1
        number = 1
        while number < max_number:
            if _batch(fn, number) >= batch_seconds:
                break
            number *= 2
        numbers[name] = number
    samples: dict[str, list[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            order = list(names)
            shuffle(order)  # a rotation would keep the same neighbours in every round
            for name in order:
                samples[name].append(_batch(fns[name], numbers[name]) / numbers[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    out = {}
    for name in names:
        xs = samples[name]
        q1, q3 = _quartiles(xs)
        out[name] = Timing(statistics.median(xs), min(xs), q1, q3, numbers[name], xs)
    return out


def time_once(fn: Callable[[], object], repeats: int = 1) -> tuple[Timing, object]:
    """Median wall time of ``repeats`` single calls of a slow callable (no warm-up batch); also
    returns the last call's result."""
    xs, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        xs.append(time.perf_counter() - start)
    q1, q3 = _quartiles(xs)
    return Timing(statistics.median(xs), min(xs), q1, q3, 1, xs), result
