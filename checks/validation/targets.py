"""Implementations under validation ("targets") for :mod:`gradref.checks.validation`.

A :class:`Target` answers ``call(case, params=None) -> Answer``: the implementation's return
value for one case (arguments in the case's layout), or a sentence saying why there is none.
Three kinds: a callable run in-process (:func:`callable_target`), ``FILE.py:FUNCTION`` in a
persistent sandboxed child (:func:`python_target`), and a command line run once per case on a
case file (:func:`command_target`). The implementation's faults never raise.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gradref.reference.casefile import CaseFileError, read_npz, write_case

__all__ = ["Answer", "Target", "callable_target", "python_target", "command_target",
           "parse_function_spec"]


@dataclass(frozen=True)
class Answer:
    """What one call of the implementation gave: ``value`` or ``error`` (a sentence)."""

    value: object = None
    error: str | None = None
    seconds: float = 0.0
    output: str = ""


class Target:
    """An implementation under validation. Subclasses implement :meth:`call`."""

    description = "implementation"

    def ready(self) -> str | None:
        """None when the implementation can be called, else why not (load error, …)."""
        return None

    def call(self, case, params: Mapping | None = None) -> Answer:
        raise NotImplementedError

    def close(self) -> None:
        """Release processes and files."""


class _Callable(Target):
    def __init__(self, fn: Callable, description: str) -> None:
        self.fn = fn
        self.description = description

    def call(self, case, params=None):
        start = time.perf_counter()
        try:
            value = self.fn(*case.args(params))
        except Exception as exc:  # the implementation's fault, reported, never raised
            tb = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f" (at {Path(tb[0].filename).name}:{tb[0].lineno})" if tb else ""
            return Answer(error=f"{self.description} raised {type(exc).__name__}: {exc}{where}",
                          seconds=time.perf_counter() - start)
        return Answer(value=value, seconds=time.perf_counter() - start)


def callable_target(fn: Callable, description: str | None = None) -> Target:
    """An in-process target: ``fn(params, X, Y[, arch])`` is called directly (no isolation)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    return _Callable(fn, description or f"{getattr(fn, '__qualname__', repr(fn))}()")


def parse_function_spec(spec: str, what: str) -> tuple[Path, str]:
    """``"FILE.py:FUNCTION"`` -> (path, name); ``ValueError`` naming ``what`` and ``spec``."""
    path, sep, function = str(spec).rpartition(":")
    if not sep or not path or not function.isidentifier():
        raise ValueError(f"{what} must be FILE.py:FUNCTION, got {spec!r}")
    if not path.endswith((".py", ".ipynb")):
        raise ValueError(f"{what}: {path!r} must be a .py or .ipynb file (in {spec!r})")
    if not Path(path).is_file():
        raise ValueError(f"{what}: file {path!r} does not exist (in {spec!r})")
    return Path(path), function


class _Submission(Target):
    """``FILE.py:FUNCTION`` in a persistent sandboxed child (shared per file)."""

    def __init__(self, path: Path, function: str, submission) -> None:
        self.path, self.function, self.sub = path, function, submission
        self.description = f"{path}:{function}"

    def ready(self):
        failure = self.sub.start()
        if failure is not None:
            return f"could not load {self.path}: {failure.message}{_tail(failure.stderr)}"
        if self.function not in self.sub.functions:
            names = ", ".join(sorted(self.sub.functions)) or "none"
            return f"{self.path} defines no function {self.function!r} (its functions: {names})"
        return None

    def call(self, case, params=None):
        result = self.sub.call(self.function, *case.args(params))
        if result.ok:
            return Answer(value=result.value, seconds=result.seconds, output=result.stdout)
        return Answer(error=f"{self.description}: {result.kind}: {result.message}"
                            f"{_tail(result.stderr or result.traceback)}",
                      seconds=result.seconds, output=result.stdout)

    def close(self):
        self.sub.close()


def _tail(text: str, lines: int = 6) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    return "\n" + "\n".join("    " + line for line in text.splitlines()[-lines:])


def python_target(spec: str, *, limits=None, same_user: bool = False,
                  _shared: dict | None = None) -> Target:
    """``"FILE.py:FUNCTION"`` run in a sandboxed child process (:mod:`gradref.checks.isolation`).

    Raises ``ValueError`` naming ``spec`` when it is malformed or the file does not exist.
    """
    from ..isolation import Limits, PythonSubmission

    path, function = parse_function_spec(spec, "target")
    key = str(path.resolve())
    shared = {} if _shared is None else _shared
    if key not in shared:
        shared[key] = PythonSubmission(path, limits=limits or Limits(),
                                       drop_privileges=False if same_user else None)
    return _Submission(path, function, shared[key])


class _Command(Target):
    def __init__(self, template: str, limits, same_user: bool, cwd: str) -> None:
        self.template, self.limits, self.same_user, self.cwd = template, limits, same_user, cwd
        self.description = f"command {template!r}"
        self.dir = Path(tempfile.mkdtemp(prefix="gradref-validate-"))
        os.chmod(self.dir, 0o1777)  # the sandbox uid writes {out} here; sticky: no renames
        self.count = 0

    def call(self, case, params=None):
        from ..isolation import run_command

        self.count += 1
        case_path = self.dir / f"case_{self.count}.npz"
        out_path = self.dir / f"out_{self.count}.npz"
        params = case.params if params is None else params
        write_case(case_path, case.net, params, case.X, case.Y, layout=case.layout,
                   bias=case.bias)
        for p in (case_path, case_path.with_suffix(".json")):
            os.chmod(p, 0o644)
        command = (self.template.replace("{case}", shlex.quote(str(case_path)))
                   .replace("{out}", shlex.quote(str(out_path)))
                   .replace("{python}", shlex.quote(sys.executable)))
        result = run_command(command, self.limits, cwd=self.cwd, writable=[self.dir],
                             drop_privileges=False if self.same_user else None)
        try:
            if not result.ok:
                hint = ""
                if (result.exit_code in (126, 127) and not self.same_user
                        and hasattr(os, "geteuid") and os.geteuid() == 0):
                    hint = ("\n    (as root, the command runs as a throw-away unprivileged uid, "
                            "which cannot reach private directories such as /root; "
                            "--same-user runs it as you)")
                return Answer(error=f"the command failed: {result.reason}"
                                    f"{_tail(result.stderr)}{hint}",
                              seconds=result.seconds, output=result.stdout)
            try:
                info = os.lstat(out_path)
            except FileNotFoundError:
                return Answer(error=f"the command exited 0 but wrote no {{out}} file "
                                    f"({out_path.name}){_tail(result.stderr)}",
                              seconds=result.seconds, output=result.stdout)
            if not stat.S_ISREG(info.st_mode):
                return Answer(error="the command's {out} is not a regular file",
                              seconds=result.seconds)
            try:
                value = read_npz(out_path, "the command's {out} file")
            except CaseFileError as exc:
                return Answer(error=str(exc), seconds=result.seconds, output=result.stdout)
            return Answer(value=value, seconds=result.seconds, output=result.stdout)
        finally:
            for p in (case_path, case_path.with_suffix(".json"), out_path):
                try:
                    p.unlink()
                except OSError:
                    pass

    def close(self):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def command_target(template: str, *, limits=None, same_user: bool = False,
                   cwd: str | os.PathLike | None = None) -> Target:
    """A command line run once per case through :func:`gradref.checks.isolation.run_command`.

    ``template`` must contain ``{case}`` and ``{out}``; ``{python}`` is replaced by this
    interpreter. Raises ``ValueError`` naming the template otherwise.
    """
    from ..isolation import Limits

    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"command must be a non-empty string, got {template!r}")
    missing = [p for p in ("{case}", "{out}") if p not in template]
    if missing:
        raise ValueError(f"command {template!r} must contain {' and '.join(missing)} "
                         f"(replaced by the case file and the gradients file to write)")
    return _Command(template, limits or Limits(), same_user, os.fspath(cwd or os.getcwd()))
