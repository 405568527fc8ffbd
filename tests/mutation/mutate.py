"""Mutants of one Python module: single, small, syntactically valid edits (not collected by
pytest; used by ``run.py``).

A mutant is one of:

* an arithmetic operator swapped (``+``/``-``, ``*``/``/``, ``//`` to ``/``, ``**`` to
  ``*``, ``%`` to ``*``), also in augmented assignments;
* a comparison moved across its boundary (``<``/``<=``, ``>``/``>=``) or negated
  (``==``/``!=``, ``in``/``not in``, ``is``/``is not``);
* ``and``/``or`` swapped; a ``not`` or a unary minus dropped;
* a number changed (an int k to k + 1, a float x to 2x, 0.0 to 1.0) or a bool flipped (this
  covers ``keepdims=True``, and ``axis=k`` becomes ``axis=k+1``);
* a reduction swapped: ``all``/``any``, ``min``/``max``, ``minimum``/``maximum``,
  ``argmin``/``argmax``;
* a statement dropped (replaced by ``pass``): expression statements other than docstrings,
  augmented assignments, assignments to an element or attribute, ``raise``, ``continue``,
  ``break``.

Strings, f-strings, annotations and docstrings are never mutated. A mutant is named
``LINE:COL:what`` after the node it changes (``#2`` … for nested nodes starting at the same
place), which stays stable while the file does.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass

__all__ = ["Mutant", "mutants"]

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
           ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.Mult}
_CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
           ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
           ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_SWAPS = {"all": "any", "any": "all", "min": "max", "max": "min", "minimum": "maximum",
          "maximum": "minimum", "argmin": "argmax", "argmax": "argmin", "amin": "amax",
          "amax": "amin"}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Pow: "**", ast.Mod: "%", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
           ast.Eq: "==", ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in", ast.Is: "is",
           ast.IsNot: "is not"}


@dataclass(frozen=True)
class Mutant:
    """One mutant: ``name`` (``LINE:COL:what``) and the module's mutated source."""

    name: str
    line: int
    source: str


def _protected(tree: ast.AST) -> set[int]:
    """ids of nodes never mutated: docstrings, strings, f-strings, annotations, __all__."""
    skip: set[int] = set()

    def cover(node):
        if node is not None:
            skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.JoinedStr, ast.AnnAssign)):
            cover(node.annotation if isinstance(node, ast.AnnAssign) else node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            skip.add(id(node))
        elif isinstance(node, ast.arg):
            cover(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            cover(node.returns)
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            cover(node)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == "__all__":
            cover(node)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                cover(body[0])
    return skip


def _sites(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(index in ast.walk order, kind, description) of every mutation site."""
    skip = _protected(tree)
    out = []
    for i, node in enumerate(ast.walk(tree)):
        if id(node) in skip:
            continue
        if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BINOPS:
            new = _BINOPS[type(node.op)]
            out.append((i, "binop", f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new]}"))
        elif isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                new = _CMPOPS[type(op)]
                out.append((i, f"cmp{j}", f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}"))
        elif isinstance(node, ast.BoolOp):
            out.append((i, "boolop", "and -> or" if isinstance(node.op, ast.And)
                        else "or -> and"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            out.append((i, "unary", "drop not" if isinstance(node.op, ast.Not)
                        else "drop unary -"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            v = node.value
            if isinstance(v, bool):
                out.append((i, "const", f"{v} -> {not v}"))
            elif isinstance(v, int):
                out.append((i, "const", f"{v} -> {v + 1}"))
            else:
                out.append((i, "const", f"{v!r} -> {(2 * v if v else 1.0)!r}"))
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) \
                else None
            if name in _SWAPS:
                out.append((i, "call", f"{name} -> {_SWAPS[name]}"))
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                for k, stmt in enumerate(getattr(node, field, []) or []):
                    if id(stmt) in skip:
                        continue
                    droppable = isinstance(stmt, (ast.Expr, ast.AugAssign, ast.Raise,
                                                  ast.Continue, ast.Break)) or (
                        isinstance(stmt, ast.Assign) and all(
                            isinstance(t, (ast.Subscript, ast.Attribute)) for t in stmt.targets))
                    if droppable:
                        out.append((i, f"drop:{field}:{k}", f"drop line {stmt.lineno}"))
    return out


def _apply(tree: ast.AST, index: int, kind: str) -> ast.AST:
    tree = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
    if kind == "binop":
        node.op = _BINOPS[type(node.op)]()
    elif kind.startswith("cmp"):
        j = int(kind[3:])
        node.ops[j] = _CMPOPS[type(node.ops[j])]()
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind == "const":
        v = node.value
        node.value = (not v) if isinstance(v, bool) else v + 1 if isinstance(v, int) \
            else (2 * v if v else 1.0)
    elif kind == "call":
        f = node.func
        if isinstance(f, ast.Attribute):
            f.attr = _SWAPS[f.attr]
        else:
            f.id = _SWAPS[f.id]
    elif kind.startswith("drop:"):
        _, field, k = kind.split(":")
        body = getattr(node, field)
        body[int(k)] = ast.Pass()
        ast.copy_location(body[int(k)], node)
    return tree


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source`` (module docstring), in a stable order."""
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    out: list[Mutant] = []
    seen: dict[str, int] = {}
    for index, kind, what in _sites(tree):
        node = nodes[index]
        mutated = copy.deepcopy(tree)
        target = list(ast.walk(mutated))[index]
        if kind == "unary":
            # replace the unary node by its operand in its parent
            _replace_child(mutated, target, target.operand)
        else:
            mutated = _apply(tree, index, kind)
        ast.fix_missing_locations(mutated)
        line = getattr(node, "lineno", 0)
        col = getattr(node, "col_offset", 0)
        if kind.startswith("drop:"):
            stmt = getattr(node, kind.split(":")[1])[int(kind.split(":")[2])]
            line, col = stmt.lineno, stmt.col_offset
        name = f"{line}:{col}:{what}"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:      # nested nodes starting at the same place: a*b*c
            name += f" #{seen[name]}"
        out.append(Mutant(name, line, ast.unparse(mutated)))
    return out


def _replace_child(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if item is old:
                        value[k] = new
                        return
    raise LookupError("node not found")
