"""The source the sandbox runs for a submission: the student's code plus the grader's small helpers.

Three pieces, all plain Python text (the sandbox executes one module):

* **support modules** an assignment provides (``[support_modules]`` in the declaration, e.g. the
  course's ``dnn_utils`` with ``sigmoid``/``relu_backward``) and **stub modules**
  (``stub_modules``: stand-ins for ``testCases``, ``h5py``, ``matplotlib.pyplot``… whose every
  attribute is a do-nothing object, so ``plt.rcParams[...] = …`` or ``from testCases import *``
  do not stop a notebook's first cell): served by an import hook placed *last* on
  ``sys.meta_path``, so a real installed module of the same name always wins and nothing is
  imported unless the submission asks for it;
* the submission: a ``.py`` file runs as written; a **notebook** runs cell by cell, and a cell
  that raises is skipped - as after "Run all" in Jupyter, where a failing test cell
  (``from public_tests import *``) does not undefine the functions of the other cells. Skipped
  cells are reported (:data:`SKIPPED_FUNCTION`);
* the call wrapper (:data:`WRAPPER_FUNCTION`) through which methods and attributes of a class are
  reached, since the sandbox calls module-level functions only.

Line numbers of the student's code are kept: a ``.py`` without support modules is the file itself
followed by the helpers; otherwise the code is compiled under its own file name (``hw.py``,
``cell 7``) and registered with ``linecache`` so tracebacks show the student's lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["WRAPPER_FUNCTION", "SKIPPED_FUNCTION", "STUB_SOURCE", "build_source", "split_cells"]

WRAPPER_FUNCTION = "__gradref_call__"
SKIPPED_FUNCTION = "__gradref_skipped_cells__"

_WRAPPER = f'''

# ---- appended by the grader (gradref): reaches methods and attributes of a class ----
def {WRAPPER_FUNCTION}(class_name, constructor, attributes, method, attribute, args, kwargs):
    cls = globals().get(class_name)
    if cls is None:
        raise NameError(f"class {{class_name}} is not defined in the submission")
    obj = cls(**constructor)
    for name, value in attributes.items():
        setattr(obj, name, value)
    if method is not None:
        return getattr(obj, method)(*args, **kwargs)
    return getattr(obj, attribute)


def {SKIPPED_FUNCTION}():
    return list(globals().get("__gradref_skipped__", []))
'''

_SUPPORT = '''
def __gradref_support__(modules):
    import importlib.abc
    import importlib.util
    import sys

    packages = {name.rpartition(".")[0] for name in modules if "." in name}

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name in modules:
                return importlib.util.spec_from_loader(name, self, is_package=name in packages)
            return None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            label = f"<{module.__name__}, provided by the assignment>"
            exec(compile(modules[module.__name__], label, "exec"), module.__dict__)

    sys.meta_path.append(Finder())


__gradref_support__(__MODULES__)
del __gradref_support__
'''

#: The source of a stub module: every public attribute is a do-nothing object.
STUB_SOURCE = '''
class _Anything:
    """Stands in for anything: call it, index it, set items, read attributes, iterate (empty)."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Anything(self._name + "." + name)

    def __call__(self, *args, **kwargs):
        return _Anything(self._name + "()")

    def __getitem__(self, key):
        return _Anything(self._name + "[]")

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        return iter(())

    def __repr__(self):
        return "<stub " + self._name + ">"


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Anything(__name__ + "." + name)
'''

_RUN_FILE = '''
def __gradref_run__(filename, source):
    import linecache
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec", dont_inherit=True), globals())


__gradref_run__(__FILENAME__, __SOURCE__)
del __gradref_run__
'''

_RUN_CELLS = '''
def __gradref_run_cells__(cells):
    import linecache
    skipped = []
    for number, source in cells:
        filename = f"cell {number}"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec", dont_inherit=True), globals())
        except Exception as error:
            skipped.append((number, f"{type(error).__name__}: {error}"[:300]))
    return skipped


__gradref_skipped__ = __gradref_run_cells__(__CELLS__)
del __gradref_run_cells__
'''

_MARKER = re.compile(r"^# %% \[cell (\d+)\](.*)$", re.M)
_PLACEHOLDER = re.compile(r"__(MODULES|CELLS|FILENAME|SOURCE)__")


def _fill(template: str, **values: object) -> str:
    """``template`` with each ``__NAME__`` placeholder replaced by ``repr(values[NAME])`` in one
    pass: text a submission controls (its file name, its source) is never searched for the next
    placeholder, as it would be by chained ``str.replace``."""
    return _PLACEHOLDER.sub(lambda match: repr(values[match.group(1)])
                            if match.group(1) in values else match.group(0), template)


def split_cells(source: str) -> list[tuple[int, str]]:
    """``[(cell number, code), …]`` from :func:`gradref.checks.isolation.load_source`'s notebook text,
    whose code cells are each preceded by a ``# %% [cell N]`` line (cell magics: no code)."""
    marks = list(_MARKER.finditer(source))
    cells = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(source)
        code = source[mark.end():end].strip("\n")
        if code.strip() and "skipped:" not in mark.group(2):
            cells.append((int(mark.group(1)), code + "\n"))
    return cells


def build_source(source: str, *, notebook: bool = False, filename: str = "submission.py",
                 support: Mapping[str, str] | None = None,
                 stubs: tuple[str, ...] | list[str] = ()) -> str:
    """The text the sandbox executes for ``source`` (see the module docstring)."""
    support = {**{name: STUB_SOURCE for name in stubs}, **dict(support or {})}
    if not notebook and not support:
        return source + _WRAPPER
    parts = ["# ---- generated by the grader (gradref): the submission runs below ----\n"]
    if support:
        parts.append(_fill(_SUPPORT, MODULES=support))
    if notebook:
        parts.append(_fill(_RUN_CELLS, CELLS=split_cells(source)))
    else:
        parts.append(_fill(_RUN_FILE, FILENAME=filename, SOURCE=source))
    parts.append(_WRAPPER)
    return "".join(parts)
