"""The source the sandbox runs for a submission: the student's code plus the grader's small helpers.

All plain Python text (the sandbox executes one module):

* **modules**: the student's own files (helper modules beside the solution, a package such as
  ``cs231n/``) are real files beside the entry in the sandbox's working folder
  (``PythonSubmission(files=...)``), found first as Python would from the notebook's folder;
  the assignment's **support modules** (``[support_modules]``, e.g. the
  course's ``dnn_utils`` with ``sigmoid``/``relu_backward``, under every name the course used)
  and **stub modules** (``stub_modules``: stand-ins for ``testCases_v4a``, ``h5py``,
  ``matplotlib.pyplot``… whose every attribute is a harmless callable) are served last, so a
  real installed module of the same name always wins and nothing is imported unless the
  submission asks for it. A support module also answers any attribute it does not define with
  a stand-in (``from dnn_app_utils_v3 import load_data`` works). **Course modules**
  (``course_modules``: ``cs231n.fast_layers``, ``cs231n.solver``…, ungraded) are served the
  same way, as :data:`COURSE_SOURCE` stand-ins whose functions raise a clear error when called;
  the student's own copy is found first and used when it imports, and replaced by the stand-in
  when it raises (reported through :data:`REPLACED_FUNCTION`);
* the submission, as **units** run one by one: a notebook's code cells, a ``.py`` file's
  top-level statements (:func:`gradref.checks.isolation.source.split_python`). A unit that
  raises is skipped and reported (:data:`SKIPPED_FUNCTION`), so a failing import, a test call
  or a stray statement never costs the functions around it. A unit that runs past its own
  limit (``Limits.statement``: a kept training cell, a ``while True: pass``) is stopped by a
  ``SIGALRM`` timer raising an exception in it, reported, and loading goes on with the next
  unit, within the load budget (``Limits.load``). The timer fires again every 0.25 s; a unit that
  swallows the stop for a second (``except BaseException`` in a loop of its own) gets a trace
  function that raises it on every line it runs, its except clauses included, until it has
  left. Only code that never runs a Python line (one long C call) or removes the trace itself
  runs on into the load limit, which the parent enforces by killing the child: then nothing can
  be graded. ``get_ipython()`` is a stand-in.
  When a unit fails on a name that a stub module's star import would have provided (``from
  testCases_v3 import *`` then ``linear_forward_test(linear_forward)``), the name is bound to a
  stand-in and the unit runs again - never a name the assignment grades or a helper provides;
* the **NumPy compatibility** shims when the assignment allows them (``compat = ["numpy"]``):
  the old spellings removed from NumPy (``np.float``, ``np.asscalar``, ``reshape(newshape=)``…)
  are put back before the submission runs;
* the call wrapper (:data:`WRAPPER_FUNCTION`) through which methods and attributes of a class are
  reached, the wrapper that calls a function with the grader's helpers in its namespace
  (:data:`PROVIDE_FUNCTION`, a declaration's ``provide``), since the sandbox calls
  module-level functions only, the global seeding before a call (:data:`SEED_FUNCTION`, a
  declaration's ``global_seed``), and the signature probe
  (:data:`PICK_FUNCTION`, :data:`PICK_SOURCE`) that tells which course version's call form a
  function, class or method accepts (a declaration's ``versions``).

Line numbers and file names of the student's code are kept: every unit is compiled under its own
file name (``hw.py``, ``cell 7``, ``cs231n/layers.py``) with its original line numbers and
registered with ``linecache``, so tracebacks show the student's lines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["WRAPPER_FUNCTION", "PROVIDE_FUNCTION", "PROVIDE_SOURCE", "NO_VALUE", "NOT_DEFINED",
           "PICK_FUNCTION", "PICK_SOURCE", "SEED_FUNCTION", "OBSERVED_FUNCTION",
           "OBSERVED_SOURCE", "SKIPPED_FUNCTION",
           "REPLACED_FUNCTION", "STOPPED", "NOT_RUN",
           "STUB_SOURCE", "COURSE_SOURCE", "NOT_PROVIDED", "NUMPY_COMPAT", "PYTHON2_COMPAT",
           "build_source"]

WRAPPER_FUNCTION = "__gradref_call__"
#: ``PROVIDE_FUNCTION(name, provide, value, args, kwargs)``: calls the submission's ``name`` with
#: the grader's helpers bound in its namespace (a declaration's ``provide``: ``{global name:
#: "support_module.attribute"}``, each attribute called with ``value`` first unless ``value`` is
#: :data:`NO_VALUE`) and the student's own bindings put back after the call, however it ends.
PROVIDE_FUNCTION = "__gradref_call_provided__"
#: The ``value`` of :data:`PROVIDE_FUNCTION` that binds the attributes themselves.
NO_VALUE = "__gradref_no_value__"
#: The words of its error when ``name`` is not defined (the engine reads it as a missing function).
NOT_DEFINED = "is not defined in the submission"
#: ``PICK_FUNCTION(name, method, shapes)``: the index of the first call form in ``shapes`` that
#: the submission's function ``name`` (or class ``name`` and its ``method``) accepts, or None.
PICK_FUNCTION = "__gradref_pick__"
#: The binding rule itself, ``__gradref_pick_form__(target, method, shapes)`` on a callable (the
#: in-process grader runs the same text). A shape is ``(n_args, keyword names, constructor
#: names)``; values do not matter for binding, so each is bound to None. A class must accept
#: the constructor's names, its method ``self`` and the arguments; a function the arguments.
#: A signature that cannot be read (a builtin) gives None: the declared form is used.
PICK_SOURCE = """
def __gradref_pick_form__(target, method, shapes):
    import inspect

    def binds(f, n, names):
        try:
            inspect.signature(f).bind(*([None] * n), **dict.fromkeys(names))
        except TypeError:
            return False
        return True

    try:
        for i, (n, names, constructor) in enumerate(shapes):
            if not isinstance(target, type):
                if binds(target, n, names):
                    return i
            elif binds(target, 0, constructor) and (
                    method is None or binds(getattr(target, method, None), n + 1, names)):
                return i
    except (ValueError, TypeError):
        return None
    return None
"""
#: The binding itself, ``__gradref_with_provided__(target, provide, value, args, kwargs, load,
#: fallback)``: each ``provide`` entry's attribute of the module ``load(name)`` returns (a
#: namespace dict), called with ``value`` unless it is :data:`NO_VALUE`, bound in the target's
#: globals (``fallback`` when it has none), the target called, the old bindings put back
#: however the call ends (the in-process grader runs the same text).
PROVIDE_SOURCE = f"""
def __gradref_with_provided__(target, provide, value, args, kwargs, load, fallback):
    space = getattr(target, "__globals__", None)
    space = space if isinstance(space, dict) else fallback
    unset = object()
    saved = {{}}
    try:
        for global_name, where in provide.items():
            module, _, attribute = where.rpartition(".")
            helper = load(module)[attribute]
            saved[global_name] = space.get(global_name, unset)
            space[global_name] = helper if value == {NO_VALUE!r} else helper(value)
        return target(*args, **kwargs)
    finally:
        for global_name, old in saved.items():
            if old is unset:
                space.pop(global_name, None)
            else:
                space[global_name] = old
"""
#: ``SEED_FUNCTION(seed)``: ``np.random.seed(seed)`` in the sandbox, called before each call of a
#: function declared with ``global_seed`` (the course's test seeds the global RNG itself).
SEED_FUNCTION = "__gradref_seed__"
#: ``OBSERVED_FUNCTION(name, args, kwargs, chain, observe)``: calls the submission's function
#: ``name`` and returns ``(value, observed, made)``: ``observed`` the arguments at the positions
#: ``observe`` as the call left them (``inplace``: a ``bn_param`` written back), ``made`` what
#: the forward of ``chain`` returned, its cache left out (None in its place). ``chain`` is None
#: or ``(forward name, its args, its kwargs, how many values it returns (0: one), [(argument
#: position, index of the value)])``: the forward is called first and its returned cache takes
#: those argument positions (``cache_from``: a backward graded on the cache of the student's
#: own forward).
OBSERVED_FUNCTION = "__gradref_observed__"
#: The rule itself on callables, ``__gradref_observed_call__(target, forward, args, kwargs,
#: chain, observe)`` (the in-process grader runs the same text).
OBSERVED_SOURCE = """
def __gradref_observed_call__(target, forward, args, kwargs, chain, observe):
    args = list(args)
    made = None
    if chain is not None:
        name, f_args, f_kwargs, count, slots = chain
        try:
            made = forward(*f_args, **f_kwargs)
        except Exception as error:
            raise RuntimeError(name + "() raised " + type(error).__name__ + ": " + str(error)
                               + "; its cache is what this function is graded on") from error
        if count and not (isinstance(made, (tuple, list)) and len(made) == count):
            raise TypeError(name + "() should return " + str(count) + " values (its cache is "
                            "what this function is graded on), got " + type(made).__name__)
        for position, index in slots:
            args[position] = made[index] if count else made
        # the cache stays here: only the forward's other outputs go back (a cache may be large,
        # or hold what cannot be sent, and is the student's business)
        used = {index for _, index in slots}
        made = [None if i in used else v for i, v in enumerate(made)] if count else None
    value = target(*args, **kwargs)
    return value, [args[i] for i in observe], made
"""
SKIPPED_FUNCTION = "__gradref_skipped_cells__"
REPLACED_FUNCTION = "__gradref_replaced_modules__"
#: The words every course stand-in's error carries (a test and a report can look for them).
NOT_PROVIDED = "is not provided by the grader"
#: The third field of a skipped unit (see :data:`SKIPPED_FUNCTION`) for a unit stopped after its
#: time limit, and for one not run because the load budget had run out (never a module name).
STOPPED = "<stopped>"
NOT_RUN = "<not run>"

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


def {OBSERVED_FUNCTION}(name, args, kwargs, chain, observe):
    target = globals().get(name)
    if target is None:
        raise NameError(f"{{name}} is not defined in the submission")
    forward = None
    if chain is not None:
        forward = globals().get(chain[0])
        if forward is None:
            raise NameError(f"{{chain[0]}} is not defined in the submission: {{name}} is graded on "
                            f"the cache your {{chain[0]}} returns")
    return __gradref_observed_call__(target, forward, args, kwargs, chain, observe)


def {PICK_FUNCTION}(name, method, shapes):
    target = globals().get(name)
    return None if target is None else __gradref_pick_form__(target, method, shapes)


def {PROVIDE_FUNCTION}(name, provide, value, args, kwargs):
    import importlib

    target = globals().get(name)
    if target is None or not callable(target):
        raise NameError(f"{{name}} {NOT_DEFINED}")
    return __gradref_with_provided__(target, provide, value, args, kwargs,
                                     lambda module: vars(importlib.import_module(module)),
                                     globals())


def {SEED_FUNCTION}(seed):
    import numpy
    numpy.random.seed(seed)


def {SKIPPED_FUNCTION}():
    return list(globals().get("__gradref_skipped__", []))


def {REPLACED_FUNCTION}():
    return [list(item) for item in globals().get("__gradref_replaced__", [])]
'''

#: The source of a stub module: every public attribute is a harmless callable stand-in.
STUB_SOURCE = '''
__gradref_stub__ = True


class _Anything:
    """Stands in for anything: call it, index it, set items, read attributes, iterate (empty),
    use it in arithmetic, format or compare it."""

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

    def __len__(self):
        return 0

    def __bool__(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __format__(self, spec):
        return repr(self)

    def _op(self, *other):
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _op
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = _op

    def __repr__(self):
        return "<stand-in " + self._name + ">"


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _Anything(__name__ + "." + name)
'''

#: The source of a course module's stand-in (``course_modules``): the names it exports (so a
#: ``from cs231n.fast_layers import *`` binds them) and any other attribute are functions that
#: raise a clear error when called, never when imported. ``__NAMES__`` is filled in.
COURSE_SOURCE = f'''
__gradref_stub__ = False


class NotProvidedByGrader(NotImplementedError):
    """A function of the course's own package that the grader does not supply."""


def __gradref_not_provided__(name):
    def not_provided(*args, **kwargs):
        raise NotProvidedByGrader(
            __name__ + "." + name + " {NOT_PROVIDED}: " + __name__ + " is one of the course's "
            "own modules, stood in for so that files importing it load; the graded functions "
            "do not need it")
    not_provided.__name__ = not_provided.__qualname__ = name
    return not_provided


__all__ = list(__NAMES__)
for __gradref_name__ in __all__:
    globals()[__gradref_name__] = __gradref_not_provided__(__gradref_name__)
del __gradref_name__


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return __gradref_not_provided__(name)
'''

#: Put back, in the child only, what NumPy removed since the course was written.
NUMPY_COMPAT = '''
def __gradref_numpy_compat__():
    import builtins
    import functools

    import numpy as np

    old = {"float": builtins.float, "int": builtins.int, "bool": builtins.bool,
           "object": builtins.object, "complex": builtins.complex, "str": builtins.str,
           "long": builtins.int, "unicode": builtins.str,
           "NaN": np.nan, "NAN": np.nan, "Inf": np.inf, "Infinity": np.inf, "infty": np.inf,
           "PINF": np.inf, "NINF": -np.inf, "PZERO": 0.0, "NZERO": -0.0,
           "float_": np.float64, "complex_": np.complex128, "string_": np.bytes_,
           "unicode_": np.str_, "int0": np.intp, "uint0": np.uintp, "bool8": np.bool_,
           "product": np.prod, "cumproduct": np.cumprod, "alltrue": np.all, "sometrue": np.any,
           "round_": np.round, "asscalar": lambda a: np.asarray(a).item(),
           "asfarray": lambda a, dtype=np.float64: np.asarray(a, dtype=dtype),
           "msort": lambda a: np.sort(a, axis=0), "row_stack": np.vstack,
           "trapz": getattr(np, "trapezoid", None), "in1d": np.isin}
    for name, value in old.items():
        if value is not None and name not in np.__dict__:
            setattr(np, name, value)
    reshape = np.reshape

    @functools.wraps(reshape)
    def reshape_with_newshape(a, *args, newshape=None, **kwargs):
        if newshape is not None and not args and "shape" not in kwargs:
            args = (newshape,)
        return reshape(a, *args, **kwargs)

    np.reshape = reshape_with_newshape


__gradref_numpy_compat__()
del __gradref_numpy_compat__
'''

#: Put back, in the child only, the Python 2 builtins that course files of 2016 call inside
#: graded code (``xrange`` in ``FullyConnectedNet``); syntax (``print x``) cannot be shimmed.
PYTHON2_COMPAT = '''
def __gradref_python2_compat__():
    import builtins
    import functools

    for name, value in {"xrange": range, "unicode": str, "basestring": str, "long": int,
                        "raw_input": input, "reduce": functools.reduce}.items():
        if not hasattr(builtins, name):
            setattr(builtins, name, value)


__gradref_python2_compat__()
del __gradref_python2_compat__
'''

_MODULES = '''
def __gradref_modules__(assignment, files, course):
    import importlib.abc
    import importlib.machinery
    import importlib.util
    import linecache
    import sys

    for filename, text in files.items():
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def __init__(self, modules):
            self.modules = dict(modules)
            for name in list(self.modules):
                parts = name.split(".")
                for i in range(1, len(parts)):
                    self.modules.setdefault(".".join(parts[:i]), ("", "", True))

        def find_spec(self, name, path=None, target=None):
            if name in self.modules:
                return importlib.util.spec_from_loader(name, self,
                                                       is_package=self.modules[name][2])
            return None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            label, source, _ = self.modules[module.__name__]
            if label:
                module.__file__ = label
            exec(compile(source, label or "<" + module.__name__ + ">", "exec",
                         dont_inherit=True), module.__dict__)

    class Guarded(importlib.abc.Loader):
        """The student's copy of a course module, replaced by the stand-in if it fails."""

        def __init__(self, loader, name):
            self.loader, self.name = loader, name

        def create_module(self, spec):
            return self.loader.create_module(spec)

        def exec_module(self, module):
            try:
                self.loader.exec_module(module)
            except (Exception, SystemExit) as error:
                keep = ("__name__", "__spec__", "__loader__", "__package__", "__path__",
                        "__file__", "__builtins__")
                for key in [k for k in module.__dict__ if k not in keep]:
                    del module.__dict__[key]
                label, source, _ = assignment[self.name]
                exec(compile(source, label, "exec", dont_inherit=True), module.__dict__)
                replaced.append((self.name, getattr(module, "__file__", None) or self.name,
                                 f"{type(error).__name__}: {error}"[:300]))

    class Fallback(importlib.abc.MetaPathFinder):
        """Course modules: the student's own file is found first (as Python would) and used
        when it imports; when it raises, the grader's stand-in takes its place."""

        def find_spec(self, name, path=None, target=None):
            if name not in course:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None or spec.submodule_search_locations:
                return None
            spec.loader = Guarded(spec.loader, name)
            return spec

    replaced = globals().setdefault("__gradref_replaced__", [])
    if assignment:
        sys.meta_path.append(Finder(assignment))
    if course:
        sys.meta_path.insert(0, Fallback())


__gradref_modules__(__ASSIGNMENT__, __FILES__, __COURSE__)
del __gradref_modules__
'''

_RUN_UNITS = '''
def __gradref_run_units__(units, protected, statement_seconds, budget_seconds):
    import signal
    import sys
    import time

    import importlib

    anything = importlib.import_module("_gradref_stand_in")._Anything

    class StatementTimeout(BaseException):
        pass

    armed = [False]
    fired = [0]

    def stop_every_line(frame, event, arg):
        # raising from a trace function turns tracing off, so only on a line (the alarm,
        # 0.25 s later, turns it on again for the next enclosing loop)
        if not armed[0]:
            return None
        if event == "line":
            raise StatementTimeout()
        return stop_every_line

    def on_alarm(signum, frame):
        if armed[0]:
            fired[0] += 1
            if fired[0] > 4:
                # the stop was swallowed for a second (except BaseException in a loop of its
                # own): from now on every line the statement runs raises it again, its except
                # clauses' lines too, until it has left the statement
                while frame is not None and frame.f_code is not timed_exec.__code__:
                    frame.f_trace = stop_every_line
                    frame = frame.f_back
                sys.settrace(stop_every_line)
            raise StatementTimeout()

    def stub_imported():
        return any(getattr(m, "__gradref_stub__", False) and m.__name__ != "_gradref_stand_in"
                   for m in list(sys.modules.values()))

    def uses_stand_in(source):
        try:
            names = compile(source, "<check>", "exec", dont_inherit=True).co_names
        except (SyntaxError, ValueError):
            return False
        return any(type(globals().get(n)).__name__ == "_Anything"
                   or isinstance(globals().get(n), type(sys)) and getattr(
                       globals().get(n), "__gradref_stub__", False) for n in names)

    def defines_only(source):
        import ast

        try:
            body = ast.parse(source).body
        except (SyntaxError, ValueError):
            return False
        kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
        return all(isinstance(node, kinds) for node in body)

    def timed_exec(code, seconds):
        try:
            armed[0] = True
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)   # re-fires if swallowed
            try:
                exec(code, globals())
            finally:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
                if fired[0] > 4:
                    sys.settrace(None)
                fired[0] = 0
        except StatementTimeout:
            return False
        return True

    if "get_ipython" not in globals():
        globals()["get_ipython"] = lambda: anything("get_ipython()")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    deadline = time.monotonic() + budget_seconds
    skipped = []
    for label, filename, source in units:
        left = deadline - time.monotonic()
        limit = min(statement_seconds, left)
        if limit <= 0.05:
            if not defines_only(source):
                skipped.append((label, f"not run: the load budget of {budget_seconds:g} s "
                                       "had run out", "<not run>"))
                continue
            limit = min(statement_seconds, 1.0)
        for _attempt in range(25):
            try:
                code = compile(source, filename, "exec", dont_inherit=True)
                if not timed_exec(code, limit):
                    skipped.append((label, f"stopped after {limit:g} s", "<stopped>"))
            except NameError as error:
                name = getattr(error, "name", None)
                frames = 0
                tb = error.__traceback__
                while tb is not None:
                    frames, tb = frames + 1, tb.tb_next
                if name and name not in protected and frames <= 3 and stub_imported():
                    globals()[name] = anything(name)
                    continue
                skipped.append((label, f"NameError: {error}"[:300], None))
            except (Exception, SystemExit) as error:
                module = None
                if isinstance(error, ImportError):
                    module = getattr(error, "name", None) or str(error)
                elif uses_stand_in(source):
                    module = ""         # a test cell of the course's helpers: not the student's
                skipped.append((label, f"{type(error).__name__}: {error}"[:300], module))
            break
    signal.signal(signal.SIGALRM, previous)
    return skipped


__gradref_skipped__ = __gradref_run_units__(__UNITS__, __PROTECTED__, __STATEMENT__, __BUDGET__)
del __gradref_run_units__
'''

_PLACEHOLDER = re.compile(r"__(ASSIGNMENT|FILES|UNITS|PROTECTED|STATEMENT|BUDGET|COURSE|NAMES)__")


def _fill(template: str, **values: object) -> str:
    """``template`` with each ``__NAME__`` placeholder replaced by ``repr(values[NAME])`` in one
    pass: text a submission controls (its file names, its code) is never searched for the next
    placeholder, as it would be by chained ``str.replace``."""
    return _PLACEHOLDER.sub(lambda match: repr(values[match.group(1)])
                            if match.group(1) in values else match.group(0), template)


def _module_table(modules: Mapping[str, tuple[str, str]], packages: set[str]) -> dict:
    return {name: (label, source, name in packages) for name, (label, source) in modules.items()}


def build_source(units: Sequence[tuple[str, str, str]], *,
                 files: Mapping[str, str] | None = None,
                 support: Mapping[str, str] | None = None,
                 stubs: Sequence[str] = (), protected: Sequence[str] = (),
                 course: Mapping[str, Sequence[str]] | None = None,
                 numpy_compat: bool = False, python2_compat: bool = False,
                 statement_seconds: float = 5.0,
                 budget_seconds: float = 20.0) -> str:
    """The text the sandbox executes (see the module docstring).

    ``units``: ``(label, filename, code)`` run one by one; ``files``: ``{filename: text}`` for
    tracebacks; ``support``/``stubs``: the assignment's modules; ``protected``: names never
    replaced by a stand-in; ``course``: ``{module: exported names}`` of the course's own
    ungraded modules (:data:`COURSE_SOURCE`; the student's copy wins when it imports);
    ``statement_seconds``: how long one unit may run before it is
    stopped (:data:`STOPPED`); ``budget_seconds``: how long all units together may run (later
    units that only define functions, classes or imports still run, the others are not run:
    :data:`NOT_RUN`). The student's other files are not here: they are copied beside the
    entry by the sandbox (:func:`student_files`)."""
    served = {name: (f"<{name}, a stand-in provided by the grader>", STUB_SOURCE)
              for name in ("_gradref_stand_in", *stubs)}
    for name, code in (support or {}).items():
        served[name] = (f"<{name}, provided by the assignment>",
                        code + "\n" + STUB_SOURCE + "\n__gradref_stub__ = False\n")
    for name, exported in (course or {}).items():
        served[name] = (f"<{name}, a stand-in provided by the grader>",
                        _fill(COURSE_SOURCE, NAMES=list(exported)))
    packages = {name.rpartition(".")[0] for name in served if "." in name}
    parts = ["# ---- generated by the grader (gradref): the submission runs below ----\n"]
    if numpy_compat:
        parts.append(NUMPY_COMPAT)
    if python2_compat:
        parts.append(PYTHON2_COMPAT)
    parts.append(_fill(_MODULES, ASSIGNMENT=_module_table(served, packages), FILES=dict(files or {}),
                       COURSE=sorted(course or {})))
    parts.append(_fill(_RUN_UNITS, UNITS=[tuple(u) for u in units], PROTECTED=sorted(set(protected)),
                       STATEMENT=float(statement_seconds), BUDGET=float(budget_seconds)))
    parts.append(_WRAPPER)
    parts.append(PICK_SOURCE)
    parts.append(PROVIDE_SOURCE)
    parts.append(OBSERVED_SOURCE)
    return "".join(parts)
