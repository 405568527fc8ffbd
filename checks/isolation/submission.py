"""Run untrusted Python (a student's assignment, an engineer's gradient function) in a child.

``PythonSubmission`` keeps one persistent child per submission: the child imports numpy and
loads the submission once, then serves calls, so a call costs one round trip over a pipe (well
under 10 ms for small arguments) instead of an interpreter start.  Any failure is reported in
the :class:`CallResult` of that call and never prevents the next call:

* timeout / death of the child / garbage on the protocol channel -> the parent SIGKILLs the
  process group and every process of the sandbox uid, and a fresh child (re-loading the
  submission) is started lazily for the next call;
* exceptions raised by the submission (``SystemExit`` and ``KeyboardInterrupt`` included), a
  missing function, an unsendable return value or a ``MemoryError`` -> the child survives and
  answers with the error; the next call reuses it.

A *load* failure (syntax error, exception, exit, crash or timeout while executing the top
level) is sticky: it is reported for every call without restarting, because loading is
deterministic and re-running a hanging top level for every call would multiply the time
spent on a broken submission.

Values returned by the submission come back through :mod:`.protocol` (JSON + ``.npy``, no
pickle): plain ``ndarray`` of a numeric dtype, Python scalars, ``str``, ``None`` and
``list``/``tuple``/``dict`` nests.  **numpy scalars come back as 0-d arrays of the same
dtype** (``np.float64(1.5)`` -> ``array(1.5)``; use ``float(x)`` or ``x[()]``).

A ``PythonSubmission`` is not thread-safe; use one object per thread (several objects in
several threads are fine: nothing here uses ``preexec_fn``).
"""

from __future__ import annotations

import fcntl
import keyword
import os
import signal
import site
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Mapping, Sequence

import numpy as np

from . import levels as _levels
from . import namespaces as _namespaces
from . import protocol
from .errors import IsolationError
from .files import FileSpec, relative_path
from .levels import Isolation
from .limits import Limits
from .namespaces import harness_dir
from .process import Sandbox, describe_status, python_argv, spec_json
from .source import load_source
from .uids import UidLease, acquire_uid, pick_uid, protect_installation, running_as_root

__all__ = ["BLOCKED_PACKAGES", "CallResult", "ERROR_KINDS", "PythonSubmission"]

#: Top-level packages a submission may not import in the child (gradref's own code).
BLOCKED_PACKAGES = ("reference", "checks", "gradref")

#: Values of ``CallResult.kind`` for failed calls.
ERROR_KINDS = (
    "timeout",  # wall-clock or CPU limit of the call exceeded (the child was killed)
    "crash",  # the child died (os._exit, signal, closed the protocol channel, ...)
    "exception",  # the function raised (message: "ValueError: ...", short traceback)
    "bad-output",  # the return value cannot be sent back, or the child sent garbage
    "missing-function",  # no callable of that name in the submission
    "load-error",  # the submission's top level failed; no function can be called
    "memory",  # MemoryError under the address-space limit
    "budget",  # the submission's wall-clock budget (Limits.budget) ran out: not run / stopped
)

_READY_TIMEOUT = 60.0  # interpreter + numpy start-up (infrastructure, not the submission)
_CPU_LIFETIME_CALLS = 20  # the child's hard CPU limit, in units of Limits.cpu (then recycle)
_MAX_TEXT = 8000
_PIPE_SIZE = 1 << 20
_CHUNK = 1 << 20
_EXIT_GRACE = 0.25


@dataclass(frozen=True)
class CallResult:
    """Outcome of one call into a submission.

    ``ok`` is True only when the function returned and its value was decoded; then ``value``
    holds it.  Otherwise ``kind`` is one of :data:`ERROR_KINDS` and ``message`` is a sentence
    naming the function and what happened.  ``exception`` is the exception type name for
    ``"exception"``/``"memory"``/``"load-error"`` results, ``traceback`` a short traceback
    formatted in the child.  ``stdout``/``stderr`` hold what the child printed during this
    call (or during loading for a load error), truncated to ``Limits.output`` bytes each.
    ``seconds`` is the wall-clock time of the call as seen by the parent.
    """

    function: str
    ok: bool
    value: Any = None
    kind: str | None = None
    message: str = ""
    exception: str | None = None
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


class _Timeout(Exception):
    pass


class _ChildGone(Exception):
    pass


class _Retry(Exception):
    """The child died before it received the request: try once more with a fresh one."""


@dataclass
class _Child:
    sandbox: Sandbox
    request_fd: int
    response_fd: int
    cpu_left: float | None = None

    def close(self) -> None:
        for fd in (self.request_fd, self.response_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.sandbox.close()


def _site_paths(level: str) -> list[str]:
    """Directories the child needs on sys.path: numpy's location (at the ``namespaces`` level
    nothing else of a site-packages folder is visible), and the site-packages folders."""
    numpy_home = [str(Path(np.__file__).resolve().parent.parent)]
    if level == "namespaces":
        return numpy_home
    candidates = list(site.getsitepackages()) + numpy_home
    paths = []
    for entry in candidates:
        if os.path.isdir(entry) and entry not in paths:
            paths.append(entry)
    return paths


def _clip(text: Any, limit: int = _MAX_TEXT) -> str:
    text = text if isinstance(text, str) else ""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + f"\n[... {len(text) - limit} characters omitted ...]\n" + text[-half:]


def _resolve_source(source: str | os.PathLike[str]) -> tuple[str, str | None]:
    """(source text, the file's name when ``source`` is a path)."""
    if isinstance(source, os.PathLike):
        return load_source(source), Path(source).name
    if not isinstance(source, str):
        raise TypeError(
            f"source must be Python source text (str) or a path (os.PathLike), got "
            f"{type(source).__name__}"
        )
    single_line = "\n" not in source and source.strip() == source
    if single_line and source.lower().endswith((".py", ".ipynb")):
        return load_source(source), Path(source).name
    return source, None


def _module_name(filename: PurePosixPath) -> str:
    """``hw.py`` -> ``hw``; ``cs231n/classifiers/fc_net.py`` -> ``cs231n.classifiers.fc_net``;
    ``submission`` when a part is not an identifier."""
    parts = [*filename.parent.parts, filename.name.partition(".")[0]]
    if all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        return ".".join(parts)
    return "submission"


def _import_roots(roots: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    if isinstance(roots, (str, bytes, os.PathLike)):
        raise ValueError("import_roots must be a list of folders, not a single path")
    checked = []
    for index, root in enumerate(roots):
        if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
            raise ValueError(f"import_roots[{index}] must be an existing folder, got {root!r}")
        checked.append(os.path.realpath(root))
    return tuple(checked)


class PythonSubmission:
    """A submission running in a persistent sandboxed child; see the module docstring.

    ``source`` is either Python source text (``str``) or the path of a ``.py``/``.ipynb``
    file (an ``os.PathLike``, or a one-line ``str`` ending in ``.py``/``.ipynb``; a notebook
    becomes its code cells, see :func:`~.source.load_source`).

    A submission may be several files, all copied into the child's private working folder:

    ``filename``
        the entry file's relative path there (default: the path's own name, else
        ``submission.py``): the source is written under that name, ``__file__`` points at it
        and tracebacks and messages show it (``hw.py``, ``cs231n/classifiers/fc_net.py``);
        paths in the working folder are always shown relative to it.
    ``files``
        ``{relative path: bytes | path}``: extra files, or whole folders (a path to a
        directory is copied recursively; symbolic links and special files are never followed
        and are listed in :attr:`skipped_files`), placed at their relative paths beside the
        entry file.  Everything together is capped at ``Limits.disk`` bytes.
    ``import_roots``
        extra folders put on ``sys.path`` after the working folder, visible read-only at their
        own paths (``validate --path DIR``).
    ``module``
        the entry's module name (default: from ``filename``: ``hw``, or the dotted
        ``cs231n.classifiers.fc_net`` -- then its package is imported first and relative
        imports work; ``submission`` when the name is not an identifier).  ``__name__`` is
        never ``"__main__"``, so ``if __name__ == "__main__":`` blocks do not run.

    ``sys.path`` in the child starts with the entry file's folder, then the working folder,
    then ``import_roots``; the child's current directory is the entry file's folder.

    ``isolation``: ``"auto"`` (the strongest level available, see :mod:`.levels`) or a level
    name; a level that cannot run here raises :class:`IsolationError` (``"namespaces"`` is
    how ``--require-sandbox`` is implemented).  :attr:`isolation` tells what was used.
    ``drop_privileges``: None (default) = run the child as a throw-away uid exactly when the
    parent is root; True requires root; False keeps the parent's uid (then ``processes`` does
    not bite for root, and, below the ``namespaces`` level, the child can touch whatever the
    parent can).

    Use as a context manager (``with PythonSubmission(code) as sub: sub.call("f", x)``) or
    call :meth:`close`; either way every process of the submission is gone afterwards.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        filename: str | None = None,
        files: Mapping[str, FileSpec] | None = None,
        import_roots: Sequence[str | os.PathLike[str]] = (),
        module: str | None = None,
        limits: Limits | None = None,
        drop_privileges: bool | None = None,
        isolation: str = "auto",
    ) -> None:
        if limits is None:
            limits = Limits()
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits instance, got {type(limits).__name__}")
        if drop_privileges not in (None, True, False):
            raise ValueError(f"drop_privileges must be None, True or False, got {drop_privileges!r}")
        if drop_privileges and not running_as_root():
            raise ValueError("drop_privileges=True needs a parent running as root")
        self.limits = limits
        self.source, own_name = _resolve_source(source)
        if filename is None:
            filename = own_name or "submission.py"
        self.filename = relative_path(filename, "filename")
        if module is None:
            module = _module_name(self.filename)
        elif not isinstance(module, str) or not all(
                part.isidentifier() for part in module.split(".")):
            raise ValueError(f"module must be a dotted Python name, got {module!r}")
        self.module = module
        if files is not None and not isinstance(files, Mapping):
            raise ValueError(f"files must be a mapping of relative path -> bytes or path, "
                             f"got {type(files).__name__}")
        self.files = {relative_path(name, f"files key {name!r}"): spec
                      for name, spec in (files or {}).items()}
        if self.filename in self.files:
            raise ValueError(f"files must not contain the entry file {str(self.filename)!r}")
        self.import_roots = _import_roots(import_roots)
        self.level = _levels.choose(isolation)
        self.skipped_files: list[str] = []
        self._limits_scope = "per process"
        self._budget_deadline: float | None = None
        self._drop = running_as_root() if drop_privileges is None else drop_privileges
        self._lease: UidLease | None = None
        self._child: _Child | None = None
        self._load_failure: CallResult | None = None
        self._functions: tuple[str, ...] | None = None
        self._closed = False
        self._next_id = 0
        self._answer_bytes: int | None = None  # call_bounded: arrays beyond it are dropped
        self.starts = 0
        self.child_uid: int | None = None
        self.last_start_seconds: float | None = None

    # ----------------------------------------------------------------------- lifecycle

    def __enter__(self) -> PythonSubmission:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._child else "idle")
        return f"<PythonSubmission {state} starts={self.starts} limits={self.limits}>"

    def start(self) -> CallResult | None:
        """Start the child and load the submission now (otherwise done by the first call).

        Returns None when loaded, or the sticky load-error result.  Raises ``IsolationError``
        when the isolation layer itself cannot start a child.
        """
        self._check_open()
        if self._load_failure is not None:
            return self._load_failure
        if self._child is None:
            return self._start_child()
        return None

    def close(self) -> None:
        """Kill the child and everything it started, delete its files (idempotent)."""
        self._closed = True
        try:
            self._stop_child()
        finally:
            if self._lease is not None:
                self._lease.release()
                self._lease = None

    @property
    def functions(self) -> tuple[str, ...]:
        """Names of the callables the submission defines (empty after a load error)."""
        if self._functions is None and self._load_failure is None:
            self.start()
        return self._functions or ()

    @property
    def load_error(self) -> CallResult | None:
        """The sticky load failure, if loading failed (after :meth:`start` or a call)."""
        return self._load_failure

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    @property
    def isolation(self) -> Isolation:
        """The isolation level and the scope of the memory/process limits (known once a
        child has started; ``"per process"`` before)."""
        return Isolation(self.level, self._limits_scope)

    @property
    def budget_exhausted(self) -> bool:
        """True once the submission's wall-clock budget (``Limits.budget``) has run out."""
        return self._budget_deadline is not None and time.monotonic() >= self._budget_deadline

    def _budget_result(self, function: str) -> CallResult:
        return CallResult(
            function=function, ok=False, kind="budget",
            message=f"{function}() was not run: the submission's wall-clock budget of "
                    f"{self.limits.budget:g} s (Limits.budget) has run out",
        )

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.sandbox.pid

    def _site_paths(self) -> list[str]:
        return _site_paths(self.level)

    def _check_open(self) -> None:
        if self._closed:
            raise IsolationError("this PythonSubmission is closed")

    def _stop_child(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.close()

    def _start_child(self) -> CallResult | None:
        if self._budget_deadline is None:
            self._budget_deadline = time.monotonic() + self.limits.budget
        elif self.budget_exhausted:
            return None
        uid = None
        if self.level == "uid":
            if self._drop and self._lease is None:
                protect_installation()
                self._lease = acquire_uid()
        elif self.level == "namespaces" and self._drop:
            uid = pick_uid()
        started = time.monotonic()
        sandbox = Sandbox(self.limits, self._lease, level=self.level, uid=uid,
                          read_only=self.import_roots,
                          packages=_namespaces.package_dirs() if self.level == "namespaces" else ())
        request_read = request_write = response_read = response_write = -1
        try:
            staged = sandbox.stage_files(
                {self.filename: self.source.encode("utf-8", "surrogateescape"), **self.files})
            self.skipped_files = staged.skipped
            workdir = sandbox.inside
            entry = f"{workdir}/{self.filename}"
            entry_dir = os.path.dirname(entry)
            request_read, request_write = os.pipe()
            response_read, response_write = os.pipe()
            for fd in (request_write, response_read):
                _enlarge_pipe(fd)
            harness = _namespaces.HARNESS if self.level == "namespaces" else str(harness_dir())
            spec = {
                "request_fd": request_read,
                "response_fd": response_write,
                "site_paths": self._site_paths(),
                "path_dirs": list(dict.fromkeys([entry_dir, workdir, *self.import_roots])),
                "blocked": list(BLOCKED_PACKAGES),
                "entry": entry,
                "module": self.module,
                "strip": workdir + "/",
                "transfer": self.limits.transfer,
                "load_seconds": self.limits.load,
                "call_seconds": self.limits.cpu,
                "sandbox": {**sandbox.spec(
                    cpu_soft=self.limits.load,
                    cpu_hard=self.limits.load + _CPU_LIFETIME_CALLS * self.limits.cpu,
                ), "chdir": entry_dir},
            }
            argv = [*python_argv(self.level), "-u", f"{harness}/_child.py", spec_json(spec)]
            sandbox.spawn(argv, pass_fds=(request_read, response_write))
        except BaseException:
            for fd in (request_read, request_write, response_read, response_write):
                if fd >= 0:
                    os.close(fd)
            sandbox.close()
            raise
        self._limits_scope = sandbox.limits_scope
        os.close(request_read)
        os.close(response_write)
        os.set_blocking(request_write, False)
        os.set_blocking(response_read, False)
        child = _Child(sandbox, request_write, response_read)
        self._child = child
        self.starts += 1

        # ready: everything up to here is the isolation layer's responsibility
        try:
            header, _ = self._receive(child, time.monotonic() + _READY_TIMEOUT)
            if header.get("status") != "ready":
                raise protocol.ProtocolError(f"unexpected first message {header!r}")
        except (_Timeout, _ChildGone, protocol.ProtocolError) as error:
            status = describe_status(sandbox.kill())
            stderr = sandbox.stderr.text()[-4000:] if sandbox.stderr else ""
            self._stop_child()
            raise IsolationError(
                f"the sandboxed Python child could not start ({type(error).__name__}: {error}; "
                f"{status}); its stderr:\n{stderr}"
            ) from None
        self.child_uid = header.get("uid") if isinstance(header.get("uid"), int) else None

        # loaded: from here on, failures are the submission's
        failure = None
        load_deadline = time.monotonic() + self.limits.load
        try:
            header, _ = self._receive(child, min(load_deadline, self._budget_deadline))
        except _Timeout:
            sandbox.kill()
            if load_deadline <= self._budget_deadline:
                why = f"took longer than the load limit of {self.limits.load:g} s"
            else:
                why = f"ran out of the submission's budget of {self.limits.budget:g} s"
            failure = ("load-error", None, f"executing its top level {why}", "")
        except _ChildGone:
            sandbox.wait_exit(time.monotonic() + _EXIT_GRACE)
            status = sandbox.kill()
            failure = ("load-error", None, f"the child process died while executing its top "
                       f"level ({self._death_reason(status, self.limits.load)})", "")
        except protocol.ProtocolError as error:
            sandbox.kill()
            failure = ("load-error", None, f"the child sent an invalid message while loading: {error}", "")
        else:
            status_text = header.get("status")
            if status_text == "loaded" and isinstance(header.get("functions"), list):
                self._functions = tuple(
                    name for name in header["functions"] if isinstance(name, str)
                )
            elif status_text == "load-error":
                failure = (
                    "load-error",
                    _clip(header.get("exception"), 200) or None,
                    _clip(header.get("message")),
                    _clip(header.get("traceback")),
                )
            else:
                sandbox.kill()
                failure = ("load-error", None, f"unexpected message while loading: {header!r:.200}", "")
        self.last_start_seconds = time.monotonic() - started
        if failure is None:
            return None
        kind, exception, message, text = failure
        self._load_failure = CallResult(
            function="<load>",
            ok=False,
            kind=kind,
            message=f"the submission failed to load: {message}",
            exception=exception,
            traceback=text,
            stdout=sandbox.stdout.text() if sandbox.stdout else "",
            stderr=sandbox.stderr.text() if sandbox.stderr else "",
            seconds=self.last_start_seconds,
        )
        self._stop_child()
        return self._load_failure

    # ----------------------------------------------------------------------- calls

    def call(self, function: str, /, *args: Any, **kwargs: Any) -> CallResult:
        """Call ``function(*args, **kwargs)`` in the child; never raises for the submission's
        faults (see :class:`CallResult`).

        Arguments are encoded with the protocol (the child gets fresh copies); an argument that
        cannot be encoded raises ``ValueError`` (the caller's bug), a closed object or a broken
        isolation layer raises ``IsolationError``.
        """
        self._check_open()
        if not isinstance(function, str) or not function.isidentifier():
            raise ValueError(f"function must be a Python identifier, got {function!r}")
        self._next_id += 1
        call_id = self._next_id
        try:
            request = protocol.pack(
                {"op": "call", "id": call_id, "function": function}, (args, kwargs)
            )
        except protocol.ProtocolError as error:
            text = str(error)
            for prefix, name in (("value[0]", "args"), ("value[1]", "kwargs")):
                if text.startswith(prefix):
                    text = name + text[len(prefix):]
            raise ValueError(f"cannot send the arguments of {function}(): {text}") from None
        for attempt in (1, 2):
            if self.budget_exhausted:
                return self._budget_result(function)
            load_failure = self.start()
            if load_failure is not None:
                return replace(
                    load_failure,
                    function=function,
                    message=f"could not call {function}(): {load_failure.message}",
                    seconds=0.0,
                )
            child = self._child
            if child is None:
                if self.budget_exhausted:
                    return self._budget_result(function)
                raise IsolationError("no child process after start()")  # pragma: no cover
            worn_out = child.cpu_left is not None and child.cpu_left < self.limits.cpu + 1
            if attempt == 1 and (worn_out or child.sandbox.has_exited()):
                # died between calls (e.g. a background thread exited it) or used up its
                # lifetime CPU budget: replace it without blaming this call
                self._stop_child()
                continue
            try:
                return self._exchange(function, call_id, child, request, attempt)
            except _Retry:
                continue
            except BaseException:
                # e.g. KeyboardInterrupt in the grader mid-call: the protocol stream is out of
                # step, so this child must not serve another call
                self._stop_child()
                raise
        raise IsolationError("unreachable: the second attempt always returns")  # pragma: no cover

    def call_bounded(self, answer_bytes: int | None, function: str, /, *args: Any,
                     **kwargs: Any) -> CallResult:
        """:meth:`call`, where an answer whose arrays hold more than ``answer_bytes`` bytes (None:
        no bound beyond ``Limits.transfer``) is dropped as it arrives, never held: the result
        is a ``"bad-output"`` saying how large it was, and the child keeps serving calls."""
        if answer_bytes is not None and (isinstance(answer_bytes, bool)
                                         or not isinstance(answer_bytes, int) or answer_bytes < 0):
            raise ValueError(f"answer_bytes must be None or an int >= 0, got {answer_bytes!r}")
        self._answer_bytes = answer_bytes
        try:
            return self.call(function, *args, **kwargs)
        finally:
            self._answer_bytes = None

    def _exchange(
        self, function: str, call_id: int, child: _Child, request: bytes, attempt: int
    ) -> CallResult:
        """Send one request and wait for its answer; raises _Retry to try a fresh child."""
        sandbox = child.sandbox
        for capture in (sandbox.stdout, sandbox.stderr):
            if capture is not None:
                capture.mark()
        marks = (0, 0)
        started = time.monotonic()
        deadline = min(started + self.limits.wall, self._budget_deadline or float("inf"))
        try:
            self._send(child, request, deadline)
        except _ChildGone:
            sandbox.kill()
            if attempt == 1:
                self._stop_child()
                raise _Retry() from None
            return self._finish(
                function, started, marks, child, kind="crash",
                message=f"the child process died before {function}() could be called "
                        f"(twice in a row; {self._death_reason(sandbox.returncode)})",
            )
        except _Timeout:
            sandbox.kill()
            return self._finish(function, started, marks, child, kind="timeout",
                                message=f"{function}() did not accept its arguments within "
                                        f"{self.limits.wall:g} s; the child was killed")
        return self._await_answer(function, call_id, child, started, deadline, marks)

    def _await_answer(
        self, function: str, call_id: int, child: _Child, started: float, deadline: float,
        marks: tuple[int, int],
    ) -> CallResult:
        sandbox = child.sandbox
        try:
            while True:
                header, value = self._receive(child, deadline)
                stale = header.get("id")
                # a late duplicate of an earlier answer: skip it, keep waiting for ours
                if not (type(stale) is int and 0 < stale < call_id):
                    break
        except _Timeout:
            sandbox.kill()
            return self._finish(
                function, started, marks, child, kind="timeout",
                message=f"{function}() did not return within the wall-clock limit of "
                        f"{self.limits.wall:g} s; the child was killed",
            )
        except _ChildGone:
            # EOF arrives while the exiting child is still closing its files: give it a
            # moment to become a zombie before concluding that it is still alive
            exited_by_itself = sandbox.wait_exit(time.monotonic() + _EXIT_GRACE) == "exited"
            status = sandbox.kill()
            if not exited_by_itself:
                return self._finish(
                    function, started, marks, child, kind="crash",
                    message=f"the child closed its result channel during {function}(); "
                            "it was killed",
                )
            if status == -signal.SIGXCPU:
                return self._finish(
                    function, started, marks, child, kind="timeout",
                    message=f"{function}() exceeded the CPU time limit of {self.limits.cpu:g} s; "
                            "the child was killed",
                )
            return self._finish(
                function, started, marks, child, kind="crash",
                message=f"the child process died during {function}() "
                        f"({self._death_reason(status)})",
            )
        except protocol.AnswerTooLarge as error:   # the stream is still in step: no kill
            return self._finish(
                function, started, marks, child, kind="bad-output",
                message=f"{function}() returned far more data than its answer can hold "
                        f"({error})",
            )
        except protocol.ProtocolError as error:
            sandbox.kill()
            return self._finish(
                function, started, marks, child, kind="bad-output",
                message=f"{function}(): the child sent an invalid answer ({error}); "
                        "the child was killed",
            )
        if header.get("id") != call_id or header.get("status") not in ("ok", "error"):
            sandbox.kill()
            return self._finish(
                function, started, marks, child, kind="bad-output",
                message=f"{function}(): the child sent an answer that does not belong to this "
                        "call; the child was killed",
            )
        cpu_left = header.get("cpu_left")
        numeric = isinstance(cpu_left, (int, float)) and not isinstance(cpu_left, bool)
        child.cpu_left = float(cpu_left) if numeric else None
        if header["status"] == "ok":
            return self._finish(function, started, marks, child, ok=True, value=value)
        kind = header.get("kind")
        detail = _clip(header.get("message"))
        exception = _clip(header.get("exception"), 200) or None
        if kind == "exception":
            message = f"{function}() raised {detail}"
        elif kind == "memory":
            message = (f"{function}() ran out of memory (limit "
                       f"{self.limits.memory / 2**20:g} MiB): {detail}")
        elif kind == "missing-function":
            message = f"cannot call {function}(): {detail}"
        elif kind == "bad-output":
            message = f"{function}() returned a value that cannot be sent back: {detail}"
        else:
            sandbox.kill()
            kind, message = "bad-output", f"{function}(): the child sent an unknown error kind {kind!r:.50}"
        return self._finish(
            function, started, marks, child, kind=kind, message=message,
            exception=exception, traceback=_clip(header.get("traceback")),
        )

    def _finish(
        self, function: str, started: float, marks: tuple[int, int], child: _Child, *,
        ok: bool = False, value: Any = None, kind: str | None = None, message: str = "",
        exception: str | None = None, traceback: str = "",
    ) -> CallResult:
        seconds = time.monotonic() - started
        sandbox = child.sandbox
        stdout = sandbox.stdout.text() if sandbox.stdout else ""
        stderr = sandbox.stderr.text() if sandbox.stderr else ""
        if kind == "timeout" and self.budget_exhausted:
            kind = "budget"
            message = (f"{function}() was stopped: the submission's wall-clock budget of "
                       f"{self.limits.budget:g} s (Limits.budget) ran out; the child was killed")
        if sandbox.returncode is not None or (not ok and kind in ("timeout", "crash")):
            # the child was killed: start a fresh one for the next call
            if self._child is child:
                self._stop_child()
            else:
                child.close()
        return CallResult(
            function=function, ok=ok, value=value, kind=kind, message=message,
            exception=exception, traceback=traceback, stdout=stdout, stderr=stderr,
            seconds=seconds,
        )

    def _death_reason(self, status: int | None, cpu_limit: float | None = None) -> str:
        if status == -signal.SIGXCPU:
            return f"CPU time limit of {cpu_limit or self.limits.cpu:g} s exceeded"
        if status == -signal.SIGXFSZ:
            return f"file size limit of {self.limits.file_size} bytes exceeded"
        if status == -signal.SIGKILL:
            return ("killed by signal 9 (SIGKILL): the CPU hard limit, the kernel's "
                    "out-of-memory killer, or the submission itself")
        return describe_status(status)

    # ----------------------------------------------------------------------- transport

    def _send(self, child: _Child, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(child.request_fd, view[:_CHUNK])
            except BlockingIOError:
                state = child.sandbox.wait_exit(deadline, extra_fd=child.request_fd, writable=True)
                if state == "timeout":
                    raise _Timeout() from None
                if state == "exited":
                    raise _ChildGone() from None
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _ChildGone() from None
            view = view[written:]

    def _receive(self, child: _Child, deadline: float) -> tuple[dict, Any]:
        exited = False

        def read_exact(size: int, keep: bool = True) -> bytes:
            nonlocal exited
            chunks = []
            while size > 0:
                try:
                    chunk = os.read(child.response_fd, min(size, _CHUNK))
                except BlockingIOError:
                    if exited:
                        raise _ChildGone() from None
                    state = child.sandbox.wait_exit(deadline, extra_fd=child.response_fd)
                    if state == "timeout":
                        raise _Timeout() from None
                    exited = state == "exited"
                    continue
                if not chunk:
                    raise _ChildGone()
                if keep:
                    chunks.append(chunk)
                size -= len(chunk)
            return b"".join(chunks)

        return protocol.read_frame(read_exact, max_bytes=self.limits.transfer,
                                   max_arrays_bytes=self._answer_bytes,
                                   discard=lambda size: read_exact(size, keep=False))


def _enlarge_pipe(fd: int) -> None:
    """Bigger pipe buffers (F_SETPIPE_SZ) make large arrays cross in fewer wake-ups."""
    try:
        fcntl.fcntl(fd, 1031, _PIPE_SIZE)  # F_SETPIPE_SZ
    except OSError:
        pass

