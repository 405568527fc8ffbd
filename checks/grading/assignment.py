"""Assignment declarations: the file an instructor writes, validated into an :class:`Assignment`.

A declaration (TOML, or the same structure in JSON) names the assignment, its layout, its network,
the case ranges, default points per check, and one ``[[functions]]`` entry per graded function:
how to call it, which reference computation it maps to (:mod:`gradref.checks.grading.computations`),
which of that computation's quantities feed its arguments and which it must return, and the
checks with their points. ``docs/assignments.md`` documents every key.

Every problem is reported by :class:`AssignmentError` naming the key path and the value, e.g.
``functions[3] (linear_backward).maps_to: unknown computation 'linear_bakward'; valid: …``.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as _toml

from gradref.checks.isolation.source import _PARSE_LOCK

from . import curricula  # noqa: F401  (registers the curriculum assignments' computations)
from .cases import CaseRanges
from .computations import COMPUTATIONS, Computation, NetworkSpec
from .tolerances import FD_DEFAULT_POLICY, FD_POLICIES, VALUES_ATOL, VALUES_RTOL

__all__ = ["Assignment", "AssignmentError", "Alternative", "Version", "Check", "FunctionSpec",
           "Package",
           "CHECK_KINDS", "CALL_FORMS", "LIMIT_KEYS", "COMPAT_SWITCHES", "VISIBILITIES",
           "builtin_assignments", "builtin_declaration", "load_assignment", "parse_assignment"]

#: What a check verifies, on the selected outputs of every case.
CHECK_KINDS = ("shape", "dtype", "values", "cache")
#: How a graded name is called: a module-level function, a method of an object built with a
#: constructor, or an attribute of such an object.
CALL_FORMS = ("function", "method", "attribute")
#: What ``compat`` may switch on: ``numpy`` supplies the spellings removed from NumPy;
#: ``python2`` translates code written for Python 2 with 2to3 (:mod:`.python2`).
COMPAT_SWITCHES = ("numpy", "python2")
#: Gradescope's visibilities.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

_DEFAULT_POINTS = {"shape": 1.0, "dtype": 0.5, "values": 2.0, "cache": 0.5}
_TOP_KEYS = ("name", "title", "description", "layout", "bias", "network", "cases", "tolerance",
             "points", "support_modules", "module_aliases", "stub_modules", "course_modules",
             "compat", "package", "limits", "extends", "functions", "finite_differences")
_FUNCTION_KEYS = ("name", "label", "call", "class", "constructor", "set", "method", "attribute",
                  "maps_to", "args", "kwargs", "returns", "rename", "variants", "options", "cases",
                  "points", "checks", "uses", "visibility", "accept", "versions", "steps",
                  "provide", "provide_with", "global_seed", "cache_from", "inplace")
_CHECK_KEYS = ("check", "points", "of", "title")
_CASE_KEYS = ("count", "depth", "input_width", "width", "output_width", "m", "large")
_LARGE_KEYS = ("count", "depth", "input_width", "width", "m")
_ACCEPT_KEYS = ("name", "keys", "note")
_VERSION_KEYS = ("name", "note", "args", "kwargs", "returns", "constructor")
_STEPS_KEYS = ("count", "feed")
#: The most steps a ``steps`` table may ask for.
MAX_STEPS = 20
#: ``dA{l}`` / ``dA{l+1}``: a dict key template with the layer index and an offset.
_KEY_TEMPLATE = r"^([A-Za-z_][A-Za-z_0-9]*?)\{l([+-][0-9]+)?\}$"


class AssignmentError(ValueError):
    """A declaration cannot be read or does not validate; the message names the key and value."""


@dataclass(frozen=True)
class Check:
    """One graded check: its kind, points, the outputs it looks at (fnmatch patterns over output
    names and dict keys; empty = the kind's default) and its title in the test name."""

    kind: str
    points: float
    of: tuple[str, ...] = ()
    title: str = ""

    def selects(self, label: str, is_cache: bool, output: str = "") -> bool:
        """Whether the check looks at a leaf: ``label`` (an output's name or a dict output's
        key) or the dict ``output`` it belongs to matches a pattern of ``of``."""
        if self.of:
            return any(fnmatch.fnmatchcase(label, p) or (output and fnmatch.fnmatchcase(output, p))
                       for p in self.of)
        return is_cache if self.kind == "cache" else not is_cache


@dataclass(frozen=True)
class Alternative:
    """An accepted alternative convention of a dict output: the student's key for each expected
    key (``dA{l}`` expected is found under ``dA{l+1}``), and the note shown when it is used."""

    name: str
    keys: tuple[tuple[str, int, str, int], ...]     # (expected prefix, offset, student's, offset)
    note: str = ""

    def student_key(self, key: str) -> str | None:
        """The student's key for the expected ``key`` under this convention (None: unchanged)."""
        import re

        for prefix, offset, theirs, their_offset in self.keys:
            match = re.fullmatch(re.escape(prefix) + r"([0-9]+)", key)
            if match:
                return f"{theirs}{int(match.group(1)) - offset + their_offset}"
        return None


@dataclass(frozen=True)
class Version:
    """Another course version's signature of a graded function: its call form (``args``,
    ``kwargs``, ``constructor``) and what it returns, each the primary's where the declaration
    leaves it out, and the note shown when a student's code is graded under it."""

    name: str
    args: tuple[str, ...]
    kwargs: dict[str, str]
    constructor: dict[str, str]
    returns: tuple[str, ...]
    returns_tuple: bool
    note: str = ""

    def form(self) -> tuple:
        """The call form, comparable between versions: (args, kwargs, constructor)."""
        return (self.args, tuple(sorted(self.kwargs.items())),
                tuple(sorted(self.constructor.items())))

    def shape(self) -> tuple[int, tuple[str, ...], tuple[str, ...]]:
        """What binding needs to know of the form: the number of positional arguments and the
        keyword and constructor parameter names (the values do not matter)."""
        return (len(self.args), tuple(self.kwargs), tuple(self.constructor))

    def fits(self, value: object) -> bool:
        """Whether a returned ``value`` has this version's structure (a tuple of the right
        length when it returns several values; any value when it returns one)."""
        if not self.returns_tuple:
            return True
        return isinstance(value, (tuple, list)) and len(value) == len(self.returns)


@dataclass(frozen=True)
class Package:
    """A package layout the assignment accepts (``cs231n/`` with ``layers.py``…)."""

    name: str
    modules: tuple[str, ...]


@dataclass(frozen=True)
class FunctionSpec:
    """One ``[[functions]]`` entry, validated."""

    name: str
    computation: Computation
    args: tuple[str, ...]
    returns: tuple[str, ...]
    returns_tuple: bool
    checks: tuple[Check, ...]
    ranges: CaseRanges
    label: str = ""
    call: str = "function"
    cls: str | None = None
    constructor: dict[str, str] = field(default_factory=dict)
    set_attributes: dict[str, str] = field(default_factory=dict)
    method: str | None = None
    attribute: str | None = None
    kwargs: dict[str, str] = field(default_factory=dict)
    variants: tuple = (None,)
    options: dict[str, object] = field(default_factory=dict)
    uses: tuple[str, ...] = ()
    visibility: str = "visible"
    rename: dict[str, str] = field(default_factory=dict)
    accept: tuple[Alternative, ...] = ()
    versions: tuple[Version, ...] = ()
    #: ``steps.count``: calls per case (a stepped computation's trajectory), and ``steps.feed``:
    #: ``{input quantity: output}`` the student's previous call's output passed as that input
    steps: int = 1
    feed: dict[str, str] = field(default_factory=dict)
    #: ``provide``: ``{global name: "support_module.attribute"}`` bound in the submission's
    #: namespace for each call (and put back after it): the grader's own helpers in place of
    #: the student's; with ``provide_with`` (a computation input) each attribute is a factory
    #: called with that case's quantity, and what it returns is bound
    provide: dict[str, str] = field(default_factory=dict)
    provide_with: str | None = None
    #: ``np.random.seed(global_seed)`` runs in the sandbox before every call (None: never)
    global_seed: int | None = None
    #: ``cache_from``: the declared forward whose returned cache feeds this function's cache
    #: argument(s), resolved into ``forward`` = (name, args, kwargs, returns, returns_tuple).
    cache_from: str | None = None
    forward: tuple | None = None
    #: ``inplace``: ``{argument quantity: output quantity}``: the argument as the call left it
    #: is graded as that output (a ``bn_param`` whose running statistics are written back).
    inplace: dict[str, str] = field(default_factory=dict)

    @property
    def primary(self) -> Version:
        """The declared (current) signature, as a :class:`Version` named ``""``."""
        return Version("", self.args, self.kwargs, self.constructor, self.returns,
                       self.returns_tuple)

    @property
    def all_versions(self) -> tuple[Version, ...]:
        """The primary signature first, then the declared versions in order."""
        return (self.primary,) + self.versions

    @property
    def display(self) -> str:
        """The prefix of every test name: the function's name, plus the label if any."""
        return f"{self.name} ({self.label})" if self.label else self.name

    def test_name(self, check: Check) -> str:
        return f"{self.display}: {check.title}"

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def signature(self) -> str:
        """``linear_backward(dZ, linear_cache) -> (dA_prev, dW, db)`` for messages."""
        args = ", ".join([self.rename.get(a, a) for a in self.args]
                         + [f"{k}={v}" for k, v in self.kwargs.items()])
        shown = [self.rename.get(r, r).replace("{key}", "…") for r in self.returns]
        ret = f"({', '.join(shown)})" if self.returns_tuple else shown[0]
        return f"{self.name}({args}) -> {ret}"


@dataclass(frozen=True)
class Assignment:
    """A validated declaration."""

    name: str
    title: str
    description: str
    layout: str
    bias: str
    network: NetworkSpec
    rtol: float
    atol: float
    functions: tuple[FunctionSpec, ...]
    source: str = ""
    support_modules: dict[str, str] = field(default_factory=dict)
    stub_modules: tuple[str, ...] = ()
    compat: tuple[str, ...] = ()
    package: Package | None = None
    #: ``[limits]``: sandbox limits in seconds (``wall``, ``cpu``, ``load``, ``statement``,
    #: ``budget``), the defaults of ``grade``/``grade-all`` (their options override them)
    limits: dict[str, float] = field(default_factory=dict)
    #: The course's own ungraded modules: ``{module: names it exports}`` (see driver.py).
    course_modules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: what a gradient of finite-difference accuracy gets (:data:`.tolerances.FD_POLICIES`)
    finite_differences: str = FD_DEFAULT_POLICY

    @property
    def max_score(self) -> float:
        return sum(f.max_score for f in self.functions)

    def test_names(self) -> list[str]:
        return [f.test_name(c) for f in self.functions for c in f.checks]

    def with_points(self, points: Mapping[str, float] | None) -> Assignment:
        """Override points: a key naming a function (its display name) rescales that
        function's checks to the given total; a key naming a test sets that test's points."""
        if not points:
            return self
        if not isinstance(points, Mapping):
            raise TypeError(f"points must be a mapping of names to numbers, got {points!r}")
        displays = {f.display for f in self.functions}
        tests = set(self.test_names())
        for key, value in points.items():
            if key not in displays and key not in tests:
                raise ValueError(f"points: unknown function or test {key!r}; valid functions: "
                                 f"{', '.join(sorted(displays))}; or a full test name such as "
                                 f"{self.test_names()[0]!r}")
            _number(f"points[{key!r}]", value, minimum=0.0)
        new = []
        for f in self.functions:
            checks = list(f.checks)
            if f.display in points:
                total = f.max_score
                target = float(points[f.display])
                checks = [replace(c, points=(c.points * target / total) if total else
                                  target / len(checks)) for c in checks]
            checks = [replace(c, points=float(points[f.test_name(c)]))
                      if f.test_name(c) in points else c for c in checks]
            new.append(replace(f, checks=tuple(checks)))
        return replace(self, functions=tuple(new))


# --------------------------------------------------------------------------- value helpers
def _fail(where: str, message: str) -> AssignmentError:
    return AssignmentError(f"{where}: {message}")


def _number(where: str, value: object, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(where, f"must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise _fail(where, f"must be >= {minimum:g}, got {value!r}")
    return float(value)


def _string(where: str, value: object, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"must be a non-empty string, got {value!r}")
    if choices is not None and value not in choices:
        raise _fail(where, f"{value!r} is not one of {', '.join(choices)}")
    return value


def _table(where: str, value: object) -> dict:
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a table (mapping), got {value!r}")
    return dict(value)


def _strings(where: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise _fail(where, f"must be a list of strings, got {value!r}")
    return tuple(_string(f"{where}[{i}]", v) for i, v in enumerate(value))


def _known_keys(where: str, table: Mapping, valid: tuple[str, ...]) -> None:
    for key in table:
        if key not in valid:
            raise _fail(where, f"unknown key {key!r}; valid keys: {', '.join(valid)}")


def _ranges(where: str, value: object, base: CaseRanges) -> CaseRanges:
    table = _table(where, value)
    _known_keys(where, table, _CASE_KEYS)
    changes: dict[str, object] = {}
    for key, item in table.items():
        if key == "large":
            changes["large"] = _large(f"{where}.large", item, base.large)
        else:
            changes[key] = _range_entry(where, key, item, count=(1, 50))
    return base.replace(**changes)


def _large(where: str, value: object, base) -> object:
    table = _table(where, value)
    _known_keys(where, table, _LARGE_KEYS)
    return base.replace(**{key: _range_entry(where, key, item, count=(0, 20))
                           for key, item in table.items()})


def _range_entry(where: str, key: str, item: object, *, count: tuple[int, int]) -> object:
    """One entry of a ``[cases]`` table: ``count`` (an integer within ``count``) or a size
    range ``[low, high]`` with 1 <= low <= high <= 4096."""
    if key == "count":
        low, high = count
        if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
            raise _fail(f"{where}.count", f"must be an integer from {low} to {high}, got {item!r}")
        return item
    ok = (isinstance(item, (list, tuple)) and len(item) == 2
          and all(isinstance(v, int) and not isinstance(v, bool) for v in item))
    if not ok or not 1 <= item[0] <= item[1] or item[1] > 4096:
        raise _fail(f"{where}.{key}", f"must be [low, high] with 1 <= low <= high <= 4096, "
                                      f"got {item!r}")
    return (int(item[0]), int(item[1]))


def _key_template(where: str, text: object) -> tuple[str, int]:
    import re

    text = _string(where, text)
    match = re.match(_KEY_TEMPLATE, text)
    if not match:
        raise _fail(where, f"{text!r} is not a key template such as 'dA{{l}}' or 'dA{{l+1}}'")
    return match.group(1), int(match.group(2) or 0)


def _alternatives(where: str, raw: object, comp: Computation,
                  returns: tuple[str, ...]) -> tuple[Alternative, ...]:
    if not isinstance(raw, list):
        raise _fail(where, f"must be a list of tables, got {raw!r}")
    if not any(comp.kind(r) == "dict" for r in returns):
        raise _fail(where, f"alternative key conventions need a dict output; {comp.name} "
                           f"returns {', '.join(returns)}")
    out = []
    for j, item in enumerate(raw):
        aw = f"{where}[{j}]"
        item = _table(aw, item)
        _known_keys(aw, item, _ACCEPT_KEYS)
        for key in ("name", "keys"):
            if key not in item:
                raise _fail(aw, f"missing required key {key!r}")
        keys = []
        for expected, theirs in _table(f"{aw}.keys", item["keys"]).items():
            e_prefix, e_off = _key_template(f"{aw}.keys", expected)
            t_prefix, t_off = _key_template(f"{aw}.keys.{expected}", theirs)
            keys.append((e_prefix, e_off, t_prefix, t_off))
        if not keys:
            raise _fail(f"{aw}.keys", "must map at least one key template")
        out.append(Alternative(_string(f"{aw}.name", item["name"]), tuple(keys),
                               str(item.get("note", ""))))
    return tuple(out)


def _entries(where: str, raw: object, valid: tuple[str, ...]):
    """``(where[j], table)`` for each table of a non-empty list, its keys among ``valid``."""
    if not isinstance(raw, list) or not raw:
        raise _fail(where, f"must be a non-empty list of tables, got {raw!r}")
    for j, item in enumerate(raw):
        item_where = f"{where}[{j}]"
        item = _table(item_where, item)
        _known_keys(item_where, item, valid)
        yield item_where, item


# --------------------------------------------------------------------------- functions
def _checks(where: str, entry: dict, comp: Computation, returns: tuple[str, ...],
            default_points: dict[str, float]) -> tuple[Check, ...]:
    has_cache = any(comp.kind(r) == "cache" for r in returns)
    has_dict = any(comp.kind(r) == "dict" for r in returns)
    if "checks" in entry:
        if "points" in entry:
            raise _fail(where, "give either 'points' (per check kind) or 'checks' (explicit "
                               "list), not both")
        checks = []
        for cw, item in _entries(f"{where}.checks", entry["checks"], _CHECK_KEYS):
            if "check" not in item:
                raise _fail(cw, f"missing key 'check' (one of {', '.join(CHECK_KINDS)})")
            kind = _string(f"{cw}.check", item["check"], CHECK_KINDS)
            pts = _number(f"{cw}.points", item.get("points", default_points[kind]), minimum=0.0)
            of = _strings(f"{cw}.of", item["of"]) if "of" in item else ()
            for p in of:
                if not has_dict and not any(fnmatch.fnmatchcase(r, p) for r in returns):
                    raise _fail(f"{cw}.of", f"pattern {p!r} matches none of the returned "
                                            f"outputs {', '.join(returns)}")
            if kind == "cache" and not of and not has_cache:
                raise _fail(cw, f"a 'cache' check needs a returned cache; {comp.name} returns "
                                f"{', '.join(returns)} and none is a cache")
            title = item.get("title")
            if title is None:
                title = ({"shape": "shapes", "dtype": "dtypes", "values": "values",
                          "cache": "cache"}[kind] + (f" of {', '.join(of)}" if of else ""))
            checks.append(Check(kind, pts, of, _string(f"{cw}.title", title)))
        return tuple(checks)
    pts_table = dict(default_points)
    if "points" in entry:
        table = _table(f"{where}.points", entry["points"])
        _known_keys(f"{where}.points", table, CHECK_KINDS)
        for k, v in table.items():
            pts_table[k] = _number(f"{where}.points.{k}", v, minimum=0.0)
    titles = {"shape": "shapes", "dtype": "dtypes", "values": "values", "cache": "cache"}
    return tuple(Check(k, pts_table[k], (), titles[k]) for k in CHECK_KINDS
                 if pts_table[k] > 0 and (k != "cache" or has_cache))


def _inputs_table(where: str, raw: object, comp: Computation) -> dict[str, str]:
    """``{parameter = quantity}``: every quantity an input of ``comp``."""
    out = {k: _string(f"{where}.{k}", v) for k, v in _table(where, raw).items()}
    for q in out.values():
        if q not in comp.inputs:
            raise _fail(where, f"unknown input {q!r} of computation {comp.name!r}; valid: "
                               f"{', '.join(comp.inputs)}")
    return out


def _call_form(where: str, entry: Mapping, comp: Computation, base: Mapping) -> tuple:
    """``(args, kwargs, constructor)`` of an entry, each ``base``'s where the entry lacks it."""
    if "args" in entry or "args" not in base:
        args = _strings(f"{where}.args", entry.get("args", []))
        for q in args:
            if q not in comp.inputs:
                raise _fail(f"{where}.args", f"unknown input {q!r} of computation "
                                             f"{comp.name!r}; valid: {', '.join(comp.inputs)}")
    else:
        args = base["args"]
    kwargs = _inputs_table(f"{where}.kwargs", entry["kwargs"], comp) if "kwargs" in entry \
        else dict(base.get("kwargs", {}))
    constructor = _inputs_table(f"{where}.constructor", entry["constructor"], comp) \
        if "constructor" in entry else dict(base.get("constructor", {}))
    return args, kwargs, constructor


def _returns(where: str, raw: object, comp: Computation) -> tuple[tuple[str, ...], bool]:
    """A ``returns`` value: a string (one value) or a list (a tuple of these outputs)."""
    if isinstance(raw, str):
        returns, returns_tuple = (raw,), False
    else:
        returns, returns_tuple = _strings(where, raw), True
        if not returns:
            raise _fail(where, "must name at least one output")
    for r in returns:
        if r not in comp.outputs:
            raise _fail(where, f"unknown output {r!r} of computation {comp.name!r}; "
                               f"valid: {', '.join(comp.outputs)}")
    if len(set(returns)) != len(returns):
        raise _fail(where, f"names an output twice: {list(returns)}")
    return returns, returns_tuple


def _versions(where: str, raw: object, comp: Computation, call: str,
              primary: tuple) -> tuple[Version, ...]:
    """The ``versions`` list: other course versions' signatures, each validated like the
    primary's, and each different from the primary and from the versions before it."""
    args, kwargs, constructor, returns, returns_tuple = primary
    base = {"args": args, "kwargs": kwargs, "constructor": constructor}
    seen = {(Version("", *primary[:3], returns, returns_tuple).form(), returns, returns_tuple)}
    names: set[str] = set()
    out = []
    for vw, item in _entries(where, raw, _VERSION_KEYS):
        if "name" not in item:
            raise _fail(vw, "missing required key 'name'")
        name = _string(f"{vw}.name", item["name"])
        if not name or name in names:
            raise _fail(f"{vw}.name", f"must be a non-empty name used once, got {name!r}")
        names.add(name)
        if not set(item) - {"name", "note"}:
            raise _fail(vw, "must change at least one of args, kwargs, returns, constructor")
        if call == "function" and "constructor" in item:
            raise _fail(f"{vw}.constructor", "only allowed with call = 'method' or 'attribute'")
        if call == "attribute" and ("args" in item or "kwargs" in item):
            raise _fail(f"{vw}.args", "an attribute takes no arguments")
        v_args, v_kwargs, v_ctor = _call_form(vw, item, comp, base)
        v_returns, v_tuple = _returns(f"{vw}.returns", item["returns"], comp) \
            if "returns" in item else (returns, returns_tuple)
        version = Version(name, v_args, v_kwargs, v_ctor, v_returns, v_tuple,
                          _string(f"{vw}.note", item["note"]) if "note" in item else "")
        key = (version.form(), v_returns, v_tuple)
        if key in seen:
            raise _fail(vw, f"is the same signature as the declared one or an earlier version "
                            f"({name!r}): a version must change the call or what it returns")
        seen.add(key)
        out.append(version)
    return tuple(out)


def _steps(where: str, raw: object, comp: Computation, versions: tuple[Version, ...]
           ) -> tuple[int, dict[str, str]]:
    """The ``steps`` table: ``count`` calls per case, ``feed`` = {input: output} carried from
    one call to the next; every fed input is passed in every version's call and every feeding
    output is returned by every version."""
    table = _table(where, raw)
    _known_keys(where, table, _STEPS_KEYS)
    if not comp.stepped:
        raise _fail(where, f"computation {comp.name!r} is not stepped (a trajectory of optimiser "
                           f"steps); stepped: "
                           f"{', '.join(c.name for c in COMPUTATIONS.values() if c.stepped)}")
    count = table.get("count", 3)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_STEPS:
        raise _fail(f"{where}.count", f"must be an integer from 1 to {MAX_STEPS}, got {count!r}")
    feed = {k: _string(f"{where}.feed.{k}", v)
            for k, v in _table(f"{where}.feed", table.get("feed", {})).items()}
    for quantity, output in feed.items():
        if quantity not in comp.inputs:
            raise _fail(f"{where}.feed", f"unknown input {quantity!r} of computation "
                                         f"{comp.name!r}; valid: {', '.join(comp.inputs)}")
        for v in versions:
            label = f"version {v.name!r}" if v.name else "the declared signature"
            if quantity not in v.args and quantity not in v.kwargs.values():
                raise _fail(f"{where}.feed.{quantity}", f"{quantity!r} is not an argument of "
                                                        f"{label}")
            if output not in v.returns:
                raise _fail(f"{where}.feed.{quantity}", f"{output!r} is not returned by {label} "
                                                        f"(returns: {', '.join(v.returns)})")
    return count, feed


def _provide(where: str, entry: dict, comp: Computation,
             call: str) -> tuple[dict[str, str], str | None]:
    """``provide`` ({global name: "module.attribute"}) and ``provide_with`` (an input)."""
    provide = {}
    for key, value in _table(f"{where}.provide", entry.get("provide", {})).items():
        if not key.isidentifier():
            raise _fail(f"{where}.provide", f"{key!r} is not a Python name")
        value = _string(f"{where}.provide.{key}", value)
        module, _, attr = value.rpartition(".")
        if not module or not attr.isidentifier() or \
                not all(part.isidentifier() for part in module.split(".")):
            raise _fail(f"{where}.provide.{key}", f"must be 'support_module.attribute', got "
                                                  f"{value!r}")
        provide[key] = value
    if provide and call != "function":
        raise _fail(f"{where}.provide", "only for call = 'function'")
    provide_with = entry.get("provide_with")
    if provide_with is not None:
        provide_with = _string(f"{where}.provide_with", provide_with)
        if not provide:
            raise _fail(f"{where}.provide_with", "needs 'provide'")
        if provide_with not in comp.inputs:
            raise _fail(f"{where}.provide_with", f"unknown input {provide_with!r} of computation "
                                                 f"{comp.name!r}; valid: {', '.join(comp.inputs)}")
    return provide, provide_with


def _inplace(where: str, raw: object, comp: Computation, call: str, args: tuple[str, ...],
             versions: tuple[Version, ...]) -> dict[str, str]:
    """``inplace = {argument = output}``: an argument of every call form, graded as it is left
    after the call as one of the computation's outputs."""
    table = _table(where, raw)
    if table and call != "function":
        raise _fail(where, "only allowed with call = 'function'")
    out = {}
    for arg, output in table.items():
        output = _string(f"{where}.{arg}", output)
        if any(arg not in v_args for v_args in (args, *(v.args for v in versions))):
            raise _fail(where, f"{arg!r} is not a positional argument of every call form "
                               f"(args: {', '.join(args) or 'none'})")
        if output not in comp.outputs:
            raise _fail(f"{where}.{arg}", f"unknown output {output!r} of computation "
                                          f"{comp.name!r}; valid: {', '.join(comp.outputs)}")
        out[arg] = output
    return out


def _resolve_cache_from(i: int, fn: FunctionSpec, functions: tuple[FunctionSpec, ...]
                        ) -> FunctionSpec:
    """``fn`` with its ``cache_from`` forward resolved and checked: a declared module-level
    function returning a cache under a name this function takes as an argument, whose own
    arguments this function's computation provides."""
    where = f"functions[{i}] ({fn.name}).cache_from"
    found = [f for f in functions if f.name == fn.cache_from and f.call == "function"]
    if not found or found[0] is fn:
        raise _fail(where, f"{fn.cache_from!r} is not another declared module-level function; "
                           f"declared: {', '.join(sorted({f.name for f in functions}))}")
    fwd = found[0]
    caches = [r for r in fwd.returns if fwd.computation.kind(r) == "cache"]
    if not fwd.returns_tuple or not set(caches) & set(fn.args):
        raise _fail(where, f"{fwd.name} returns no cache that {fn.name} takes: its cache outputs "
                           f"({', '.join(caches) or 'none'}) must be among {fn.name}'s args "
                           f"({', '.join(fn.args)})")
    needed = [q for q in (*fwd.args, *fwd.kwargs.values()) if q not in fn.computation.inputs]
    if needed:
        raise _fail(where, f"computation {fn.computation.name!r} does not provide {fwd.name}'s "
                           f"input(s) {', '.join(needed)}")
    return replace(fn, forward=(fwd.name, fwd.args, dict(fwd.kwargs), fwd.returns,
                                fwd.returns_tuple))


def _function(i: int, raw: object, defaults: dict) -> FunctionSpec:
    where = f"functions[{i}]"
    entry = _table(where, raw)
    if isinstance(entry.get("name"), str):
        where = f"functions[{i}] ({entry['name']})"
    _known_keys(where, entry, _FUNCTION_KEYS)
    for key in ("name", "maps_to", "returns"):
        if key not in entry:
            raise _fail(where, f"missing required key {key!r}")
    name = _string(f"{where}.name", entry["name"])
    comp_name = _string(f"{where}.maps_to", entry["maps_to"])
    if comp_name not in COMPUTATIONS:
        raise _fail(f"{where}.maps_to", f"unknown computation {comp_name!r}; valid: "
                                        f"{', '.join(COMPUTATIONS)}")
    comp = COMPUTATIONS[comp_name]

    args, kwargs, constructor = _call_form(where, entry, comp, {})
    call = _string(f"{where}.call", entry.get("call", "function"), CALL_FORMS)
    set_attrs = _inputs_table(f"{where}.set", entry.get("set", {}), comp)
    cls = method = attribute = None
    if call == "function":
        for key in ("class", "constructor", "set", "method", "attribute"):
            if key in entry:
                raise _fail(f"{where}.{key}", "only allowed with call = 'method' or 'attribute'")
        if not name.isidentifier():
            raise _fail(f"{where}.name", f"{name!r} is not a Python function name (for a "
                                         f"method, set call = 'method', class and method)")
    else:
        if "class" not in entry:
            raise _fail(where, f"call = {call!r} needs the key 'class'")
        cls = _string(f"{where}.class", entry["class"])
        if call == "method":
            method = _string(f"{where}.method", entry.get("method", name.rpartition(".")[2]))
            if "attribute" in entry:
                raise _fail(f"{where}.attribute", "only allowed with call = 'attribute'")
        else:
            attribute = _string(f"{where}.attribute", entry.get("attribute", ""))
            if args or kwargs:
                raise _fail(f"{where}.args", "an attribute takes no arguments")
        for ident_where, ident in ((f"{where}.class", cls), (f"{where}.method", method),
                                   (f"{where}.attribute", attribute)):
            if ident is not None and not ident.isidentifier():
                raise _fail(ident_where, f"{ident!r} is not a Python identifier")

    returns, returns_tuple = _returns(f"{where}.returns", entry["returns"], comp)
    versions = _versions(f"{where}.versions", entry["versions"], comp, call,
                         (args, kwargs, constructor, returns, returns_tuple)) \
        if "versions" in entry else ()
    inplace = _inplace(f"{where}.inplace", entry.get("inplace", {}), comp, call, args, versions)
    cache_from = None
    if "cache_from" in entry:
        if call != "function":
            raise _fail(f"{where}.cache_from", "only allowed with call = 'function'")
        cache_from = _string(f"{where}.cache_from", entry["cache_from"])
    if "provide" in entry and (cache_from is not None or inplace):
        raise _fail(f"{where}.provide", "cannot be combined with cache_from or inplace (one "
                                        "wrapper calls the function: give one of them)")
    all_returns = tuple(dict.fromkeys(returns + tuple(r for v in versions for r in v.returns)
                                      + tuple(inplace.values())))
    all_args = tuple(dict.fromkeys(args + tuple(a for v in versions for a in v.args)))
    rename = {}
    for key, value in _table(f"{where}.rename", entry.get("rename", {})).items():
        if key not in all_returns and key not in all_args:
            raise _fail(f"{where}.rename", f"{key!r} is neither an argument nor a returned "
                                           f"output; valid: {', '.join(all_args + all_returns)}")
        rename[key] = _string(f"{where}.rename.{key}", value)
        if "{key}" in value and comp.kind(key) != "dict":
            raise _fail(f"{where}.rename.{key}", f"'{{key}}' is only for dict outputs, got {value!r}")

    if "variants" in entry:
        if comp.variant is None:
            raise _fail(f"{where}.variants", f"computation {comp.name!r} has no variants")
        variants = entry["variants"]
        if not isinstance(variants, list) or not variants:
            raise _fail(f"{where}.variants", f"must be a non-empty list, got {variants!r}")
        variants = tuple(variants)
    else:
        variants = comp.variants or (None,)
    options = _table(f"{where}.options", entry.get("options", {}))
    for key in options:
        if key not in comp.options:
            valid = ", ".join(comp.options) or "none"
            raise _fail(f"{where}.options", f"unknown option {key!r} for computation "
                                            f"{comp.name!r}; valid: {valid}")
        default = comp.options[key]
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            _number(f"{where}.options.{key}", options[key])     # a number stays a number
        choices = comp.option_choices.get(key)
        if choices is not None and options[key] not in choices:
            raise _fail(f"{where}.options.{key}", f"{options[key]!r} is not one of "
                                                  f"{', '.join(map(repr, choices))}")
    ranges = defaults["cases"]
    if "cases" in entry:
        ranges = _ranges(f"{where}.cases", entry["cases"], ranges)
    checks = _checks(where, entry, comp, all_returns, defaults["points"])
    accept = _alternatives(f"{where}.accept", entry["accept"], comp, returns) \
        if "accept" in entry else ()
    label = entry.get("label", "")
    if label:
        label = _string(f"{where}.label", label)
    primary = Version("", args, kwargs, constructor, returns, returns_tuple)
    steps, feed = _steps(f"{where}.steps", entry["steps"], comp, (primary, *versions)) \
        if "steps" in entry else (1, {})
    provide, provide_with = _provide(where, entry, comp, call)
    global_seed = entry.get("global_seed")
    if global_seed is not None and (isinstance(global_seed, bool) or not isinstance(global_seed, int)
                                    or not 0 <= global_seed < 2**32):
        raise _fail(f"{where}.global_seed", f"must be an integer from 0 to 2**32 - 1 (the "
                                            f"argument of np.random.seed), got {global_seed!r}")
    return FunctionSpec(
        name=name, computation=comp, args=args, returns=returns, returns_tuple=returns_tuple,
        checks=checks, ranges=ranges, label=label, call=call, cls=cls, constructor=constructor,
        set_attributes=set_attrs, method=method, attribute=attribute, kwargs=kwargs,
        variants=variants, options=options,
        uses=_strings(f"{where}.uses", entry.get("uses", [])), rename=rename, accept=accept,
        versions=versions, steps=steps, feed=feed, provide=provide, provide_with=provide_with,
        global_seed=global_seed, inplace=inplace, cache_from=cache_from,
        visibility=_string(f"{where}.visibility", entry.get("visibility", "visible"), VISIBILITIES))


# --------------------------------------------------------------------------- whole file
def parse_assignment(data: object, source: str = "<declaration>") -> Assignment:
    """Validate a parsed declaration (a dict from TOML or JSON) into an :class:`Assignment`."""
    try:
        return _parse(_extend(data, source), source)
    except AssignmentError as exc:
        raise AssignmentError(f"{source}: {exc}") from None


def _parse(data: object, source: str) -> Assignment:
    top = _table("declaration", data)
    _known_keys("declaration", top, _TOP_KEYS)
    for key in ("name", "functions"):
        if key not in top:
            raise _fail("declaration", f"missing required key {key!r}")
    name = _string("name", top["name"])
    layout = _string("layout", top.get("layout", "columns"), ("columns", "rows"))
    bias = _string("bias", top.get("bias", "column" if layout == "columns" else "row"),
                   ("column", "row", "flat"))
    net_table = _table("network", top.get("network", {}))
    _known_keys("network", net_table, ("hidden", "output", "loss"))
    network = NetworkSpec(**{k: _string(f"network.{k}", v) for k, v in net_table.items()})
    try:
        network.network([2, 2, 2])
    except (ValueError, TypeError) as exc:
        raise _fail("network", str(exc)) from None
    tol = _table("tolerance", top.get("tolerance", {}))
    _known_keys("tolerance", tol, ("rtol", "atol"))
    rtol = _number("tolerance.rtol", tol.get("rtol", VALUES_RTOL), minimum=0.0)
    atol = _number("tolerance.atol", tol.get("atol", VALUES_ATOL), minimum=0.0)
    points = dict(_DEFAULT_POINTS)
    pts = _table("points", top.get("points", {}))
    _known_keys("points", pts, CHECK_KINDS)
    for k, v in pts.items():
        points[k] = _number(f"points.{k}", v, minimum=0.0)
    defaults = {"cases": _ranges("cases", top.get("cases", {}), CaseRanges()), "points": points}
    raw_functions = top["functions"]
    if not isinstance(raw_functions, list) or not raw_functions:
        raise _fail("functions", f"must be a non-empty list of tables, got {raw_functions!r}")
    functions = tuple(_function(i, f, defaults) for i, f in enumerate(raw_functions))
    functions = tuple(_resolve_cache_from(i, f, functions) if f.cache_from else f
                      for i, f in enumerate(functions))
    seen: dict[str, int] = {}
    for i, f in enumerate(functions):
        if f.display in seen:
            raise _fail(f"functions[{i}] ({f.name})", f"{f.display!r} is declared twice "
                                                      f"(also functions[{seen[f.display]}]); "
                                                      f"give one a 'label'")
        seen[f.display] = i
        titles = [c.title for c in f.checks]
        dup = {t for t in titles if titles.count(t) > 1}
        if dup:
            raise _fail(f"functions[{i}] ({f.name}).checks", f"duplicate check title(s) "
                                                             f"{sorted(dup)}; set 'title'")
    support = {}
    for key, code in _table("support_modules", top.get("support_modules", {})).items():
        where = f"support_modules.{key}"
        if not all(part.isidentifier() for part in key.split(".")):
            raise _fail(where, f"{key!r} is not a module name")
        if not isinstance(code, str):
            raise _fail(where, f"must be Python source text, got {code!r}")
        try:
            with _PARSE_LOCK:       # CPython 3.11's parser is not thread-safe (grade-all --jobs)
                compile(code, f"<{key}>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise _fail(where, f"is not valid Python: {exc.msg} (line {exc.lineno})") from None
        support[key] = code
    for key, target in _table("module_aliases", top.get("module_aliases", {})).items():
        where = f"module_aliases.{key}"
        if not all(part.isidentifier() for part in key.split(".")):
            raise _fail(where, f"{key!r} is not a module name")
        if not isinstance(target, str) or target not in support:
            raise _fail(where, f"must name a support module ({', '.join(support) or 'none'}), "
                               f"got {target!r}")
        support[key] = support[target]
    compat = _strings("compat", top.get("compat", []))
    for i, switch in enumerate(compat):
        if switch not in COMPAT_SWITCHES:
            raise _fail(f"compat[{i}]", f"{switch!r} is not one of {', '.join(COMPAT_SWITCHES)}")
    finite_differences = top.get("finite_differences", FD_DEFAULT_POLICY)
    if finite_differences not in FD_POLICIES:
        raise _fail("finite_differences", f"must be one of {', '.join(FD_POLICIES)}, got "
                                          f"{finite_differences!r}")
    package = None
    if "package" in top:
        table = _table("package", top["package"])
        _known_keys("package", table, ("name", "modules"))
        if "name" not in table or "modules" not in table:
            raise _fail("package", "needs 'name' (e.g. 'cs231n') and 'modules' (e.g. "
                                   "['layers', 'classifiers.fc_net'])")
        pname = _string("package.name", table["name"])
        modules = _strings("package.modules", table["modules"])
        for i, item in enumerate((pname, *modules)):
            if not all(part.isidentifier() for part in item.split(".")):
                raise _fail("package.name" if i == 0 else f"package.modules[{i - 1}]",
                            f"{item!r} is not a module name")
        package = Package(pname, modules)
    stubs = _strings("stub_modules", top.get("stub_modules", []))
    for i, key in enumerate(stubs):
        if not all(part.isidentifier() for part in key.split(".")):
            raise _fail(f"stub_modules[{i}]", f"{key!r} is not a module name")
    limits = _limits(top.get("limits", {}))
    course = {}
    for key, exported in _table("course_modules", top.get("course_modules", {})).items():
        where = f"course_modules.{key}"
        if not all(part.isidentifier() for part in key.split(".")):
            raise _fail(where, f"{key!r} is not a module name")
        if key in support or key in stubs:
            raise _fail(where, f"{key!r} is also a support or stub module; declare it once")
        exported = _strings(where, exported)
        for i, item in enumerate(exported):
            if not item.isidentifier() or item.startswith("_"):
                raise _fail(f"{where}[{i}]", f"{item!r} is not a public name")
        course[key] = exported
    names = {f.name for f in functions}
    for i, f in enumerate(functions):
        for key, value in f.provide.items():
            if value.rpartition(".")[0] not in support:
                raise _fail(f"functions[{i}] ({f.name}).provide.{key}",
                            f"{value!r} names no support module ({', '.join(support) or 'none'})")
        for u in f.uses:
            if u not in names:
                raise _fail(f"functions[{i}] ({f.name}).uses",
                            f"{u!r} is not a declared function; declared: "
                            f"{', '.join(sorted(names))}")
    return Assignment(name=name, title=str(top.get("title", name)),
                      description=str(top.get("description", "")), layout=layout, bias=bias,
                      network=network, rtol=rtol, atol=atol, functions=functions, source=source,
                      support_modules=support, stub_modules=stubs, compat=compat,
                      package=package, limits=limits, course_modules=course,
                      finite_differences=finite_differences)


#: The keys of ``[limits]`` (seconds; the fields of ``checks.isolation.Limits`` of that name).
LIMIT_KEYS = ("wall", "cpu", "load", "statement", "budget")


def _limits(raw: object) -> dict[str, float]:
    from gradref.checks.isolation import Limits

    table = _table("limits", raw)
    _known_keys("limits", table, LIMIT_KEYS)
    out = {key: _number(f"limits.{key}", value, minimum=0.0) for key, value in table.items()}
    try:
        Limits().replace(**out)
    except ValueError as exc:
        raise _fail("limits", str(exc)) from None
    return out


def builtin_assignments() -> list[str]:
    """Names of the declarations shipped in ``checks/grading/assignments``."""
    folder = resources.files("gradref.checks.grading").joinpath("assignments")
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir()
                  if p.name.endswith((".toml", ".json")))


def _decode(path: Path, text: str) -> object:
    try:
        return json.loads(text) if path.suffix == ".json" else _toml.loads(text)
    except (ValueError, _toml.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise AssignmentError(f"{path}: not valid {kind}: {exc}") from None


def builtin_declaration(name: str) -> tuple[str, str]:
    """``(file name, text)`` of the built-in declaration ``name``; ``AssignmentError`` if none."""
    folder = resources.files("gradref.checks.grading").joinpath("assignments")
    for ext in (".toml", ".json"):
        entry = folder.joinpath(name + ext)
        if name in builtin_assignments() and entry.is_file():
            return name + ext, entry.read_text(encoding="utf-8")
    raise AssignmentError(f"unknown built-in assignment {name!r}; built-in: "
                          f"{', '.join(builtin_assignments())}")


#: Tables merged key by key when a declaration ``extends`` another (the others are replaced).
_MERGED_TABLES = ("network", "cases", "tolerance", "points", "support_modules", "module_aliases",
                  "limits")


def _extend(data: object, source: str, _seen: tuple[str, ...] = ()) -> object:
    """``data`` with its ``extends = "step-by-step"`` resolved: the built-in's declaration, then
    this one's keys over it. Tables in :data:`_MERGED_TABLES` merge key by key; a
    ``[[functions]]`` entry whose ``name`` (and ``label``) the built-in declares overrides that
    entry key by key (``points`` replaces the built-in's ``checks`` and vice versa), a new name
    is added; every other key replaces the built-in's."""
    if not isinstance(data, dict) or "extends" not in data:
        return data
    base_name = data["extends"]
    if not isinstance(base_name, str) or not base_name.strip():
        raise AssignmentError(f"extends: must name a built-in assignment "
                              f"({', '.join(builtin_assignments())}), got {base_name!r}")
    try:
        file_name, text = builtin_declaration(base_name)
    except AssignmentError as exc:
        raise AssignmentError(f"extends: {exc}") from None
    if base_name in _seen:
        raise AssignmentError(f"extends: {' -> '.join((*_seen, base_name))} is a cycle")
    # a built-in may extend another (layered-full extends layered): resolved first
    base = _extend(_decode(Path(file_name), text), file_name, (*_seen, base_name))
    merged = {k: v for k, v in base.items()}
    for key, value in data.items():
        if key == "extends":
            continue
        if key in _MERGED_TABLES and isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        elif key == "functions" and isinstance(value, list):
            functions = [dict(f) for f in merged.get("functions", [])]
            index = {(f.get("name"), f.get("label", "")): i for i, f in enumerate(functions)}
            for entry in value:
                if not isinstance(entry, Mapping):
                    functions.append(entry)
                    continue
                at = index.get((entry.get("name"), entry.get("label", "")))
                if at is None:
                    functions.append(dict(entry))
                    continue
                old = dict(functions[at])
                if "points" in entry:
                    old.pop("checks", None)
                if "checks" in entry:
                    old.pop("points", None)
                functions[at] = {**old, **entry}
            merged["functions"] = functions
        else:
            merged[key] = value
    return merged


def _read(path: Path, text: str) -> Assignment:
    return parse_assignment(_decode(path, text), str(path))


def load_assignment(spec: object = "step-by-step") -> Assignment:
    """An :class:`Assignment` from a built-in name, a path to a .toml/.json file, or unchanged.

    Raises :class:`AssignmentError` for an unknown name, an unreadable or malformed file.
    """
    if isinstance(spec, Assignment):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"assignment must be a built-in name, a path or an Assignment, got {spec!r}")
    text_spec = os.fspath(spec)
    builtins = builtin_assignments()
    if text_spec in builtins:
        file_name, text = builtin_declaration(text_spec)
        return _read(Path(file_name), text)
    path = Path(text_spec)
    if path.suffix not in (".toml", ".json"):
        raise AssignmentError(f"unknown assignment {text_spec!r}; built-in: {', '.join(builtins)}; "
                              f"or give the path of a .toml or .json declaration")
    if not path.is_file():
        raise AssignmentError(f"assignment file {text_spec!r} does not exist (or is not a file)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"cannot read assignment file {text_spec!r}: {exc}") from None
    return _read(path, text)
