"""Implementations under validation ("targets") for :mod:`gradref.checks.validation`.

A function target answers ``invoke(args, arch, positional) -> Answer``: the implementation's
return value for one call, or a sentence saying why there is none; the architecture ``arch`` is
passed as the keyword ``arch=`` when the function accepts it, else as a 4th positional argument
when ``positional`` (random architectures), else not at all. A command target
(``speaks_files``) answers ``call(case, params) -> Answer`` from the file the command wrote.
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

from gradref.reference.casefile import (
    CaseFileError,
    read_json_answer,
    read_npz,
    write_case,
    write_case_json,
)

__all__ = ["Answer", "Target", "callable_target", "python_target", "command_target",
           "parse_function_spec", "IO_FORMATS", "EXIT_UNSUPPORTED"]

#: Case and answer file formats of ``--command`` (``--io``).
IO_FORMATS = ("npz", "json")
#: A command's exit status for "this case is not supported" (reported as skipped).
EXIT_UNSUPPORTED = 3


@dataclass(frozen=True)
class Answer:
    """What one call of the implementation gave: ``value``, or ``error`` (a sentence), or
    ``skipped`` (why the implementation does not support the case). ``reading`` says how a
    value that is not a plain gradient dict was read; ``dtype`` is the precision it came in;
    ``problem`` names what is wrong with an answer that could not be read as the contract says
    (then ``value`` is empty and every array counts as missing)."""

    value: object = None
    error: str | None = None
    seconds: float = 0.0
    output: str = ""
    skipped: str | None = None
    reading: str = ""
    dtype: str = "float64"
    problem: str | None = None  # a wrong answer that cannot be compared array by array
    arguments: object = None  # the parameters dict as the call left it (capture mode)


class Target:
    """An implementation under validation. Function targets implement :meth:`invoke`,
    command targets (``speaks_files = True``) :meth:`call`."""

    description = "implementation"
    speaks_files = False
    in_process = False  # whether changes to the arguments are visible after a call

    def ready(self) -> str | None:
        """None when the implementation can be called, else why not (load error, …)."""
        return None

    def invoke(self, args: tuple, arch: dict, positional: bool) -> Answer:
        """One call ``FUNCTION(*args[, arch])`` (see the module docstring)."""
        raise NotImplementedError

    def call(self, case, params: Mapping | None = None) -> Answer:
        """One run on ``case`` with canonical ``params`` (command targets)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release processes and files."""


def _takes_arch_keyword(fn: Callable) -> bool:
    import inspect

    try:
        parameter = inspect.signature(fn).parameters.get("arch")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind != parameter.POSITIONAL_ONLY


def _arch_call(args: tuple, arch: dict, positional: bool, keyword: bool) -> tuple[tuple, dict]:
    if keyword:
        return args, {"arch": arch}
    return ((*args, arch) if positional else args), {}


class _Callable(Target):
    in_process = True

    def __init__(self, fn: Callable, description: str) -> None:
        self.fn = fn
        self.description = description
        self.keyword = _takes_arch_keyword(fn)

    def invoke(self, args, arch, positional):
        start = time.perf_counter()
        args, kwargs = _arch_call(args, arch, positional, self.keyword)
        try:
            value = self.fn(*args, **kwargs)
        except Exception as exc:  # the implementation's fault, reported, never raised
            frames = traceback.extract_tb(exc.__traceback__)
            where = (f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})"
                     if frames else "")
            text = "".join(traceback.format_list(frames[1:])).rstrip()
            return Answer(error=f"{self.description} raised {type(exc).__name__}: {exc}{where}"
                                f"{_tail(text, 8)}",
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


#: The entry file of a capturing child: it imports the implementation's module from its folder
#: (an import root) and returns each answer together with the parameters as the call left
#: them, so that a function updating its arguments in place can be compared before and after.
_CAPTURE_ENTRY = """\
import importlib as _importlib

_impl = _importlib.import_module({module!r})


def _gradref_functions():
    return sorted(n for n, v in vars(_impl).items() if callable(v) and not n.startswith("__"))


def _gradref_call(_name, *args, **kwargs):
    answer = getattr(_impl, _name)(*args, **kwargs)
    return {{"answer": answer, "params": args[0] if args else None}}
"""


class _Submission(Target):
    """``FILE.py:FUNCTION`` in a persistent sandboxed child (shared per file). With ``capture``
    the child's entry is :data:`_CAPTURE_ENTRY` and every answer carries the arguments."""

    def __init__(self, path: Path, function: str, submission, roots=(),
                 capture: bool = False) -> None:
        self.path, self.function, self.sub = path, function, submission
        self.roots = list(roots)
        self.capture = capture
        self.description = f"{path}:{function}"
        self.argv = [f"{path}:{function}"]
        self.keyword: bool | None = None  # whether it takes arch=; learnt on the first call

    def ready(self):
        failure = self.sub.start()
        if failure is not None:
            hint = _missing_module_hint(failure.exception, failure.message, self.path,
                                        self.roots)
            return (f"could not load {self.path}: {failure.message}"
                    f"{_tail(failure.stderr or failure.traceback)}{hint}")
        functions = self.sub.functions
        if self.capture:
            listed = self.sub.call("_gradref_functions")
            if not listed.ok:
                return f"could not load {self.path}: {listed.message}{_tail(listed.traceback)}"
            functions = listed.value
        if self.function not in functions:
            names = ", ".join(sorted(functions)) or "none"
            return f"{self.path} defines no function {self.function!r} (its functions: {names})"
        return None

    def _call(self, *args, **kwargs):
        if self.capture:
            return self.sub.call("_gradref_call", self.function, *args, **kwargs)
        return self.sub.call(self.function, *args, **kwargs)

    def invoke(self, args, arch, positional):
        if self.keyword is None:
            result = self._call(*args, arch=arch)
            self.keyword = not (not result.ok and result.exception == "TypeError"
                                and "unexpected keyword argument 'arch'" in result.message)
            if self.keyword:
                return self._answer(result)
        call_args, kwargs = _arch_call(args, arch, positional, self.keyword)
        return self._answer(self._call(*call_args, **kwargs))

    def _answer(self, result) -> Answer:
        if result.ok and self.capture:
            return Answer(value=result.value["answer"], arguments=result.value["params"],
                          seconds=result.seconds, output=result.stdout)
        if result.ok:
            return Answer(value=result.value, seconds=result.seconds, output=result.stdout)
        hint = _missing_module_hint(result.exception, result.message, self.path, self.roots)
        return Answer(error=f"{self.description}: {result.kind}: {result.message}"
                            f"{_tail(result.stderr or result.traceback)}{hint}",
                      seconds=result.seconds, output=result.stdout)

    def close(self):
        self.sub.close()


def _tail(text: str, lines: int = 6) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    return "\n" + "\n".join("    " + line for line in text.splitlines()[-lines:])


def python_target(spec: str, *, limits=None, same_user: bool = False, paths=(),
                  capture: bool = False, _shared: dict | None = None) -> Target:
    """``"FILE.py:FUNCTION"`` run in a sandboxed child process (:mod:`gradref.checks.isolation`).

    The file keeps its own name (``__file__``, tracebacks); its folder and every folder of
    ``paths`` are import roots (read-only, at their own paths), so ``import sibling`` works as
    when the file is run. Raises ``ValueError`` naming ``spec`` when it is malformed or the file
    does not exist, and naming the folder when one of ``paths`` is not a directory.
    ``capture``: also return the parameters as each call leaves them (for functions that
    update their arguments in place; needs a ``.py`` file whose name is a module name).
    """
    from ..isolation import Limits, PythonSubmission

    path, function = parse_function_spec(spec, "target")
    roots = [path.resolve().parent]
    for p in paths:
        if not Path(p).is_dir():
            raise ValueError(f"path {str(p)!r} is not a directory (an import root for {spec!r})")
        roots.append(Path(p).resolve())
    capture = capture and path.suffix == ".py" and path.stem.isidentifier()
    key = (str(path.resolve()), capture)
    shared = {} if _shared is None else _shared
    if key not in shared:
        source = (_CAPTURE_ENTRY.format(module=path.stem) if capture else path)
        shared[key] = PythonSubmission(source,
                                       filename="gradref_capture.py" if capture else path.name,
                                       import_roots=list(dict.fromkeys(roots)),
                                       limits=limits or Limits(),
                                       drop_privileges=False if same_user else None)
    return _Submission(path, function, shared[key], roots, capture)


def _missing_module_hint(exception: str | None, message: str, path: Path,
                         roots: list[Path]) -> str:
    """What to pass when the implementation imports a module gradref cannot find."""
    import re

    found = re.search(r"No module named '([^']+)'", message or "")
    if exception != "ModuleNotFoundError" or not found:
        return ""
    module = found.group(1)
    top = module.split(".")[0]
    there = [r for r in roots if (r / f"{top}.py").exists() or (r / top).is_dir()]
    if there:
        return (f"\n    {top!r} is in {str(there[0])!r}, but the sandbox could not read it: as "
                f"root, the implementation runs as a throw-away uid, which cannot enter private "
                f"folders (mode 700, e.g. under /root or /tmp/pytest-of-root); --same-user runs "
                f"it as you, or make the folder readable by others")
    return (f"\n    the module {module!r} is neither in {str(path.parent) or '.'!r} (the file's "
            f"folder) nor in any --path: pass --path DIR (repeatable) for the folder that holds "
            f"{top!r}")


class _Command(Target):
    speaks_files = True

    def __init__(self, template: str, limits, same_user: bool, cwd: str, io: str) -> None:
        self.template, self.limits, self.same_user, self.cwd = template, limits, same_user, cwd
        self.io = io
        self.description = f"command {template!r}"
        self.argv = ["--command", template] + (["--io", io] if io != "npz" else [])
        self.dir = Path(tempfile.mkdtemp(prefix="gradref-validate-"))
        os.chmod(self.dir, 0o1777)  # the sandbox uid writes {out} here; sticky: no renames
        self.count = 0

    def call(self, case, params=None):
        from ..isolation import run_command

        self.count += 1
        case_path = self.dir / f"case_{self.count}.{self.io}"
        out_path = self.dir / f"out_{self.count}.{self.io}"
        params = case.params if params is None else params
        write = write_case_json if self.io == "json" else write_case
        extra = {"lr": case.lr} if getattr(case, "lr", None) is not None else None
        write(case_path, case.net, params, case.X, case.Y, layout=case.layout, bias=case.bias,
              extra=extra)
        for p in {case_path, case_path.with_suffix(".json")}:
            os.chmod(p, 0o644)
        command = (self.template.replace("{case}", shlex.quote(str(case_path)))
                   .replace("{out}", shlex.quote(str(out_path)))
                   .replace("{python}", shlex.quote(sys.executable)))
        result = run_command(command, self.limits, cwd=self.cwd, writable=[self.dir],
                             drop_privileges=False if self.same_user else None)
        try:
            if result.exit_code == EXIT_UNSUPPORTED and not result.timed_out:
                reason = (result.stderr or "").strip().splitlines()
                return Answer(skipped=reason[-1] if reason else "the command exited 3",
                              seconds=result.seconds, output=result.stdout)
            if not result.ok:
                hint = ""
                unreadable = any(text in (result.stderr or "") for text in (
                    "Permission denied", "Cannot find module", "No such file"))
                if ((result.exit_code in (126, 127) or unreadable) and not self.same_user
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
                value = (read_json_answer(out_path, "the command's {out} file")
                         if self.io == "json" else read_npz(out_path, "the command's {out} file"))
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
                   cwd: str | os.PathLike | None = None, io: str = "npz") -> Target:
    """A command line run once per case through :func:`gradref.checks.isolation.run_command`.

    ``template`` must contain ``{case}`` and ``{out}``; ``{python}`` is replaced by this
    interpreter. ``io`` is ``"npz"`` (``.npz`` + ``.json`` sidecar in, ``.npz`` out) or
    ``"json"`` (one ``.json`` in, one out; see ``docs/formats.md``). Exit status
    :data:`EXIT_UNSUPPORTED` (3) skips the case (the last line of stderr says why). Raises
    ``ValueError`` naming the template or ``io`` otherwise.
    """
    if io not in IO_FORMATS:
        raise ValueError(f"io must be one of {', '.join(IO_FORMATS)}, got {io!r}")
    from ..isolation import Limits

    if not isinstance(template, str) or not template.strip():
        raise ValueError(f"command must be a non-empty string, got {template!r}")
    missing = [p for p in ("{case}", "{out}") if p not in template]
    if missing:
        raise ValueError(f"command {template!r} must contain {' and '.join(missing)} "
                         f"(replaced by the case file and the gradients file to write)")
    return _Command(template, limits or Limits(), same_user, os.fspath(cwd or os.getcwd()), io)
