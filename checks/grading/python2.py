"""Submissions written for Python 2 (``compat = ["python2"]``), translated with 2to3 before grading.

The CS231n files of 2016 are Python 2: ``print`` statements, ``xrange``, ``dict.iteritems``,
``except E, e``. Under Python 3 such a file does not compile (its functions are all lost) or
fails at the first ``xrange`` (the function is). With the switch on, every unit and module of a
submission that shows Python 2 (it does not compile as Python 3, or it calls one of the names
Python 3 removed, :data:`PYTHON2_CALLS`) is translated by the standard 2to3 fixers (the
standard library's ``lib2to3`` up to Python 3.12, its maintained fork ``fissix`` after) and
graded as translated, when the translation compiles; the report says which files were. Code
that is already Python 3 is never touched (2to3 would read ``print(a, b)`` as a tuple).

What 2to3 does not change is not changed: ``/`` between two ints is a float in Python 3, so a
2016 ``x[:N / 2]`` still fails, with Python 3's message.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import replace

from .loading import LoadedSubmission

__all__ = ["MAX_TRANSLATED_BYTES", "PYTHON2_CALLS", "translate", "translated"]

#: Larger units and modules are graded untranslated: 2to3 runs in the grader's own process (not
#: the sandbox), one at a time, at ~20 s per MiB; the course's largest file is ~40 KiB.
MAX_TRANSLATED_BYTES = 256 * 2**10

#: Calls and imports of what Python 3 removed; any of them marks a unit as Python 2.
PYTHON2_CALLS = re.compile(
    r"\bxrange\s*\(|\.iter(items|keys|values)\s*\(|\.has_key\s*\(|\braw_input\s*\(|"
    r"^\s*(import|from)\s+(cPickle|cStringIO|StringIO|urllib2|Queue|ConfigParser)\b|"
    r"\bitertools\.i(zip|map|filter)\b|\bunichr\s*\(",
    re.M)

_LOCK = threading.RLock()      # 2to3's tools are not known to be thread-safe
_TOOLS: dict[bool, object] = {}


def _tool(print_function: bool):
    """A 2to3 refactoring tool with every standard fixer (built once per grammar)."""
    with _LOCK:
        if print_function not in _TOOLS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")      # lib2to3 announces its removal
                try:
                    from lib2to3 import refactor
                    package = "lib2to3.fixes"
                except ImportError:                  # Python >= 3.13
                    from fissix import refactor
                    package = "fissix.fixes"
                fixers = refactor.get_fixers_from_package(package)
                _TOOLS[print_function] = refactor.RefactoringTool(
                    fixers, {"print_function": print_function})
        return _TOOLS[print_function]


def _compiles(code: str) -> bool:
    try:
        compile(code, "<python2>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def translate(code: str) -> str | None:
    """``code`` translated to Python 3 when it is Python 2 and its translation compiles;
    None when it is not Python 2, is larger than :data:`MAX_TRANSLATED_BYTES`, or cannot be
    translated: then it is graded as it is."""
    if len(code.encode("utf-8", "surrogatepass")) > MAX_TRANSLATED_BYTES:
        return None
    if _compiles(code) and not PYTHON2_CALLS.search(code):
        return None
    text = code if code.endswith("\n") else code + "\n"
    for print_function in (False, True):    # print statements first; print() with keywords
        try:
            with _LOCK, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = str(_tool(print_function).refactor_string(text, "<submission>"))
        except Exception:  # noqa: BLE001 - 2to3's parse errors have no common base class
            continue
        if out != text and _compiles(out):
            return out if code.endswith("\n") else out[:-1]
    return None


def translated(loaded: LoadedSubmission) -> LoadedSubmission:
    """``loaded`` with its Python 2 units, modules and file texts translated, and a note naming
    the files; unchanged (the same object) when nothing in it is Python 2."""
    done: dict[str, str | None] = {}

    def fix(code: str) -> str | None:
        if code not in done:
            done[code] = translate(code)
        return done[code]

    files_changed: list[str] = []
    units = []
    for label, filename, code in loaded.units:
        new = fix(code)
        units.append((label, filename, code if new is None else new))
        if new is not None and filename not in files_changed:
            files_changed.append(filename)
    modules = {}
    for module, (label, source) in loaded.modules.items():
        new = fix(source)
        modules[module] = (label, source if new is None else new)
        if new is not None and label not in files_changed:
            files_changed.append(label)
    if not files_changed:
        return loaded
    files = {name: fix(text) or text for name, text in loaded.files.items()}
    note = (f"written for Python 2: {', '.join(files_changed[:6])}"
            f"{' …' if len(files_changed) > 6 else ''} translated to Python 3 by 2to3 before "
            f"grading (compat python2)")
    return replace(loaded, units=units, modules=modules, files=files,
                   notes=list(loaded.notes) + [note])
