"""A submission as the grader runs it: the entry's units, and the student's other files as modules.

A submission is one of

* a ``.py`` file: run statement by statement (:func:`gradref.checks.isolation.source.split_python`);
* a ``.ipynb`` notebook: its code cells, each cell statement by statement;
* a **folder** or a **zip** (one student): the file to grade is chosen by :func:`choose_entry`
  (a solution spread one function per file: all of those files, :func:`split_solution`),
  and every other ``.py`` file in it is available to ``import`` under its module name
  (``dnn_utils.py`` -> ``dnn_utils``, ``cs231n/layers.py`` -> ``cs231n.layers``), so helper
  files and the course's package layout work, package-relative imports included. When the
  assignment declares a package (``[package] name = "cs231n"``) and the folder holds it, the
  entry is the package itself: its declared modules are imported one by one
  (``from cs231n.layers import *`` …), each failure reported on its own.

A ``.py`` or notebook graded alone (``gradref grade hw.ipynb``) also sees the ``.py`` files
beside it that it imports (a ``dnn_utils.py`` next to ``hw.ipynb``): they are the student's own
helpers. Not so with ``helpers=False``, which ``grade-all`` uses for a loose file of the class
folder: the files beside it are the classmates' submissions, so ``import bob`` in ``alice.py``
fails as a missing module, as it would on alice's own machine (a student's helpers come only
from the student's own folder or zip).

Files are read without following symbolic links; a folder or zip is capped in file count and
size (:data:`MAX_FILES`, :data:`MAX_BYTES`). Problems raise ``SubmissionError`` naming the path.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import stat
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gradref.checks.isolation.files import read_regular_file
from gradref.checks.isolation.source import (
    MAX_NOTEBOOK_BYTES,
    MAX_SOURCE_BYTES,
    notebook_to_source,
    parse_python,
    split_python,
)

from .assignment import Assignment

__all__ = ["LoadedSubmission", "SubmissionError", "load_submission", "choose_entry", "tree_files",
           "package_root", "split_solution", "fingerprint",
           "MAX_FILES", "MAX_BYTES", "MAX_DEPTH", "MAX_ENTRIES", "SUBMISSION_SUFFIXES"]

#: Files of one submission read at most (the others are ignored and reported).
MAX_FILES = 200
#: Bytes of one submission read at most (.py and .ipynb files together; each file also within
#: the sandbox's per-file caps).
MAX_BYTES = 32 * 2**20
#: Folder levels of one submission walked at most (a deeper one is refused, with the reason).
MAX_DEPTH = 32
#: Files and folders of one submission listed at most, whatever their kind.
MAX_ENTRIES = 50_000
#: What a submission can be, besides a folder.
SUBMISSION_SUFFIXES = (".py", ".ipynb", ".zip")
_IGNORED = frozenset({"__pycache__", "__MACOSX", ".ipynb_checkpoints", "node_modules", ".git"})
_PREFERRED = ("submission.py", "submission.ipynb")
_CELL = re.compile(r"^# %% \[cell (\d+)\](.*)$", re.M)


class SubmissionError(ValueError):
    """The submission cannot be graded at all (not a .py/.ipynb/folder/zip, not readable)."""


@dataclass
class LoadedSubmission:
    """What the driver needs: units to run, file texts for tracebacks, the student's modules."""

    name: str                                   # the entry as shown to the student
    units: list[tuple[str, str, str]]           # (label, filename, code)
    files: dict[str, str] = field(default_factory=dict)
    modules: dict[str, tuple[str, str]] = field(default_factory=dict)   # module -> (file, source)
    packages: set[str] = field(default_factory=set)
    notebook: bool = False
    notes: list[str] = field(default_factory=list)

    def module_files(self) -> dict[str, bytes]:
        """The student's modules as files for the sandbox's working folder, at the paths their
        names import from (``cs231n.layers`` -> ``cs231n/layers.py``)."""
        out = {}
        for module, (label, source) in self.modules.items():
            init = PurePosixPath(label).name == "__init__.py"
            rel = module.replace(".", "/") + ("/__init__.py" if init else ".py")
            out[rel] = source.encode("utf-8", "surrogatepass")
        return out


# --------------------------------------------------------------------------- units
def _notebook_units(text: str, name: str) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Units of a notebook's code cells (text from ``notebook_to_source``): each cell split into
    its top-level statements, labelled ``cell N`` (or ``cell N, line K``)."""
    units, files = [], {}
    marks = list(_CELL.finditer(text))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        code = text[mark.end():end].strip("\n")
        if not code.strip() or "skipped:" in mark.group(2):
            continue
        code += "\n"
        filename = f"cell {mark.group(1)}"
        files[filename] = code
        pieces = split_python(code, clean=False)
        for label, _, piece in pieces:
            shown = filename if len(pieces) == 1 else f"{filename}, {label}"
            units.append((shown, filename, piece))
    return units, files


def source_units(text: str, filename: str, *, notebook: bool) -> tuple[list, dict[str, str]]:
    """``(units, files)`` of a ``.py`` source or of ``notebook_to_source`` text."""
    if notebook:
        return _notebook_units(text, filename)
    units = [(label, filename, code) for label, _, code in split_python(text)]
    return units, {filename: text}


def _imported_names(text: str) -> set[str]:
    """Top-level module names ``text`` imports (by a regex, so a file that does not parse too)."""
    names = set()
    for match in re.finditer(r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w.]*)[ \t]+import|import[ \t]+"
                             r"([A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*))", text, re.M):
        if match.group(1):
            names.add(match.group(1).split(".")[0])
        else:
            names.update(part.strip().split(".")[0] for part in match.group(2).split(","))
    return names


# --------------------------------------------------------------------------- reading files
def _read(path: Path, budget: list[int]) -> bytes:
    """The bytes of a regular file, never through a symbolic link, within the per-file caps of
    the sandbox (:data:`MAX_SOURCE_BYTES`, :data:`MAX_NOTEBOOK_BYTES`) and the byte budget."""
    cap = MAX_NOTEBOOK_BYTES if path.suffix.lower() in (".ipynb", ".zip") else MAX_SOURCE_BYTES
    try:
        data = read_regular_file(path, min(cap, budget[0]), "submission file")
    except ValueError as exc:
        raise SubmissionError(str(exc)) from None
    budget[0] -= len(data)
    return data


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("latin-1")
        except UnicodeDecodeError as exc:      # pragma: no cover - latin-1 decodes anything
            raise SubmissionError(f"{where} is not text: {exc}") from None


def tree_files(folder: Path) -> dict[str, bytes]:
    """``{relative posix path: bytes}`` of the .py/.ipynb files under ``folder`` (no links).

    The walk is iterative and bounded: a folder nested deeper than :data:`MAX_DEPTH` levels or
    holding more than :data:`MAX_ENTRIES` files and folders in all is a ``SubmissionError``
    naming the limit (never a ``RecursionError`` or a walk without end)."""
    out: dict[str, bytes] = {}
    budget = [MAX_BYTES]
    seen = 0
    stack: list[tuple[Path, int]] = [(Path(folder), 0)]
    while stack:
        here, depth = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            raise SubmissionError(f"{here}: cannot list the folder: {exc.strerror or exc}") from None
        seen += len(entries)
        if seen > MAX_ENTRIES:
            raise SubmissionError(f"{folder}: more than {MAX_ENTRIES} files and folders in all; "
                                  f"a submission holds at most that many")
        subfolders = []
        for entry in entries:
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            path = here / entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in _IGNORED:
                    subfolders.append(path)
                continue
            if path.suffix.lower() not in (".py", ".ipynb"):
                continue
            if len(out) >= MAX_FILES:
                raise SubmissionError(f"{folder}: more than {MAX_FILES} .py/.ipynb files")
            out[path.relative_to(folder).as_posix()] = _read(path, budget)
        if subfolders and depth + 1 > MAX_DEPTH:
            raise SubmissionError(f"{folder}: folders nested more than {MAX_DEPTH} levels deep "
                                  f"(at {subfolders[0].relative_to(folder).as_posix()[:120]}…); "
                                  f"a submission is at most {MAX_DEPTH} levels deep")
        stack += [(sub, depth + 1) for sub in reversed(subfolders)]
    return out


def _zip_files(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    budget = MAX_BYTES
    try:
        archive = zipfile.ZipFile(io.BytesIO(_read(path, [MAX_BYTES])))
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{path} is not a readable zip file: {exc}") from None
    with archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISLNK(mode) or name.suffix.lower() not in (".py", ".ipynb"):
                continue
            if name.is_absolute() or ".." in name.parts or any(
                    p.startswith(".") or p in _IGNORED for p in name.parts):
                continue
            if len(name.parts) > MAX_DEPTH + 1:
                raise SubmissionError(f"{path}: {str(name)[:120]}… is nested more than "
                                      f"{MAX_DEPTH} folders deep")
            if len(out) >= MAX_FILES:
                raise SubmissionError(f"{path}: more than {MAX_FILES} .py/.ipynb files")
            if info.file_size > budget:
                raise SubmissionError(f"{path}: the submission is larger than {MAX_BYTES} bytes")
            with archive.open(info) as handle:
                data = handle.read(budget + 1)
            if len(data) > budget:
                raise SubmissionError(f"{path}: the submission is larger than {MAX_BYTES} bytes")
            budget -= len(data)
            out[name.as_posix()] = data
    return out


# --------------------------------------------------------------------------- choosing the entry
def _defines(text: str, names: set[str]) -> int:
    """How many of ``names`` (graded functions and classes) ``text`` defines at top level."""
    tree = parse_python(text)
    if tree is None:
        return sum(1 for n in names if re.search(rf"^(?:def|class)\s+{re.escape(n)}\b", text, re.M))
    return sum(1 for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
               and node.name in names)


def _graded_names(asg: Assignment) -> set[str]:
    return {fn.cls or fn.name for fn in asg.functions}


def choose_entry(files: dict[str, str], asg: Assignment | None, where: str) -> str:
    """The path (in ``files``) of the file to grade among a student's files.

    The ``.py``/``.ipynb`` files nearest the top (the folder itself, else its one sub-folder):
    one -> that one; several -> ``submission.py``/``submission.ipynb``, else the notebook or
    ``.py`` that defines most of the graded functions (a tie is an error naming the files)."""
    if not files:
        raise SubmissionError(f"no .py or .ipynb file in {where!r}")
    depth = min(len(PurePosixPath(p).parts) for p in files)
    top = sorted(p for p in files if len(PurePosixPath(p).parts) == depth)
    if len({PurePosixPath(p).parent for p in top}) > 1:
        raise SubmissionError(f"no .py or .ipynb file directly in {where!r}, and several "
                              f"folders hold some: {', '.join(top[:6])}")
    if len(top) == 1:
        return top[0]
    for preferred in _PREFERRED:
        for p in top:
            if PurePosixPath(p).name == preferred:
                return p
    if asg is not None:
        names = _graded_names(asg)
        scores = {p: _defines(_entry_code(p, files[p]), names) for p in top}
        best = max(scores.values())
        winners = [p for p, s in scores.items() if s == best]
        if best > 0 and len(winners) == 1:
            return winners[0]
    raise SubmissionError(f"several submissions in {where!r}: {', '.join(top)}; name the one to "
                          f"grade submission.py (or submission.ipynb)")


def _entry_code(path: str, text: str) -> str:
    if path.endswith(".ipynb"):
        try:
            return notebook_to_source(text, name=path)
        except ValueError:
            return ""
    return text


def _module_name(path: str) -> tuple[str, bool] | None:
    """``cs231n/classifiers/fc_net.py`` -> (``cs231n.classifiers.fc_net``, False); an
    ``__init__.py`` names its package (True); None when a part is not an identifier."""
    parts = list(PurePosixPath(path).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts), is_package


def _modules(texts: dict[str, str], root: str, label_prefix: str
             ) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """The ``.py`` files under ``root`` (a posix folder in ``texts``' keys, "" for all) as
    modules named relative to it."""
    modules, packages = {}, set()
    for path, text in texts.items():
        if not path.endswith(".py"):
            continue
        rel = path if not root else path[len(root) + 1:] if path.startswith(root + "/") else None
        if rel is None:
            continue
        named = _module_name(rel)
        if named is None:
            continue
        module, is_package = named
        modules[module] = (label_prefix + path, text)
        if is_package:
            packages.add(module)
        for i in range(1, module.count(".") + 1):
            packages.add(module.rsplit(".", i)[0])
    return modules, packages


def package_root(texts: dict[str, str], package: str) -> str | None:
    """The folder (posix, "" = the top) that holds ``package/`` in ``texts``, nearest the top."""
    candidates = sorted({str(PurePosixPath(p).parent) for p in texts
                         if package in PurePosixPath(p).parts[:-1]},
                        key=lambda p: len(PurePosixPath(p).parts))
    for parent in candidates:
        parts = PurePosixPath(parent).parts
        index = parts.index(package)
        root = "/".join(parts[:index])
        return root
    return None


# --------------------------------------------------------------------------- the entry point
def load_submission(path: str | os.PathLike, asg: Assignment | None = None, *,
                    helpers: bool = True) -> LoadedSubmission:
    """Read the submission at ``path`` (see the module docstring); ``helpers``: a lone
    ``.py``/``.ipynb`` file may import the ``.py`` files beside it."""
    if not isinstance(helpers, bool):
        raise TypeError(f"helpers must be a bool, got {helpers!r}")
    file = Path(path)
    if file.is_symlink():
        raise SubmissionError(f"{file} is a symbolic link; submissions are read without "
                              f"following links")
    if not file.exists():
        raise FileNotFoundError(f"submission not found: {file}")
    if file.is_dir():
        return _from_files(tree_files(file), asg, file.name, str(file))
    suffix = file.suffix.lower()
    if suffix == ".zip":
        return _from_files(_zip_files(file), asg, file.stem, str(file))
    if suffix not in (".py", ".ipynb"):
        raise SubmissionError(f"unsupported submission {file}: expected a .py or .ipynb file, a "
                              f"folder or a .zip, got {suffix or 'no extension'!r}")
    package = asg.package if asg is not None else None
    if package is not None and suffix == ".py" and helpers:
        parents = list(file.absolute().parents)
        holder = next((p for p in parents if p.name == package.name), None)
        if holder is not None and not holder.is_symlink():
            # a file of the student's package: grade the package it belongs to
            raw = {f"{package.name}/{rel}": data for rel, data in tree_files(holder).items()}
            loaded = _from_files(raw, asg, holder.parent.name or package.name, str(holder.parent))
            loaded.notes.append(f"{file.name} is part of your {package.name} package, graded "
                                f"as a whole")
            return loaded
    budget = [MAX_BYTES]
    text = _decode_source(file.name, _read(file, budget), str(file))
    loaded = _single(file.name, text, suffix == ".ipynb", str(file))
    # the student's own helpers beside it: the .py files it imports
    for module in sorted(_imported_names("\n".join(loaded.files.values())) if helpers else ()):
        helper = file.parent / f"{module}.py"
        if helper.name != file.name and helper.is_file() and not helper.is_symlink():
            source = _decode(_read(helper, budget), str(helper))
            loaded.modules[module] = (helper.name, source)
            loaded.files[helper.name] = source
            loaded.notes.append(f"uses your {helper.name} (beside {file.name})")
    return loaded


def _decode_source(name: str, data: bytes, where: str) -> str:
    """A ``.py`` file's text by its PEP 263 coding cookie (UTF-8 by default); a notebook's JSON."""
    if name.endswith(".py"):
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except (SyntaxError, LookupError, UnicodeDecodeError):
            pass
    return _decode(data, where)


def _single(name: str, text: str, notebook: bool, where: str) -> LoadedSubmission:
    if notebook:
        try:
            text = notebook_to_source(text, name=where)
        except ValueError as exc:
            raise SubmissionError(str(exc)) from None
    units, files = source_units(text, name, notebook=notebook)
    return LoadedSubmission(name=name, units=units, files=files, notebook=notebook)


def _from_files(raw: dict[str, bytes], asg: Assignment | None, name: str,
                where: str) -> LoadedSubmission:
    texts = {p: _decode_source(p, data, f"{where}/{p}") for p, data in raw.items()}
    package = asg.package if asg is not None else None
    if package is not None:
        root = package_root(texts, package.name)
        if root is not None:
            modules, packages = _modules(texts, root, "")
            prefix = f"{root}/" if root else ""
            units, files = [], {}
            for module in package.modules:
                full = f"{package.name}.{module}"
                code = f"from {full} import *\n"
                label = f"import of {prefix}{full.replace('.', '/')}.py"
                units.append((label, f"<{name}: imports your {package.name} package>", code))
            for file, text in modules.values():
                files[file] = text
            return LoadedSubmission(name=f"{name}/{prefix}{package.name}/", units=units,
                                    files=files, modules=modules, packages=packages,
                                    notes=[f"graded as the package {prefix}{package.name}/"])
    try:
        entries = [choose_entry(texts, asg, name)]
    except SubmissionError:
        entries = split_solution(texts, asg)
        if not entries:
            raise
    loaded = _single(entries[0], texts[entries[0]], entries[0].endswith(".ipynb"),
                     f"{where}/{entries[0]}")
    for entry in entries[1:]:       # the solution split over files: run them in name order
        more = _single(entry, texts[entry], entry.endswith(".ipynb"), f"{where}/{entry}")
        loaded.units += more.units
        loaded.files.update(more.files)
    if len(entries) > 1:
        loaded.notes.append(f"the graded functions are spread over {len(entries)} files "
                            f"({', '.join(entries)}), run in that order")
    root = str(PurePosixPath(entries[0]).parent)
    root = "" if root == "." else root
    modules, packages = _modules({p: t for p, t in texts.items() if p not in entries}, root, "")
    loaded.modules, loaded.packages = modules, packages
    for file, text in modules.values():
        loaded.files[file] = text
    loaded.name = f"{name}/{entries[0]}" if len(entries) == 1 else f"{name}/"
    return loaded


def split_solution(texts: dict[str, str], asg: Assignment | None) -> list[str]:
    """The files of a solution split one function (or a few) per file: the top-level files that
    define graded functions, when no graded function is defined twice and there are several;
    else []."""
    if asg is None or not texts:
        return []
    depth = min(len(PurePosixPath(p).parts) for p in texts)
    top = sorted(p for p in texts if len(PurePosixPath(p).parts) == depth)
    names = _graded_names(asg)
    defined: dict[str, str] = {}
    files = []
    for path in top:
        tree = parse_python(_entry_code(path, texts[path]))
        if tree is None:
            continue
        mine = {node.name for node in tree.body
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names}
        if not mine:
            continue
        if mine & set(defined):
            return []
        defined.update(dict.fromkeys(mine, path))
        files.append(path)
    return files if len(files) > 1 else []


def fingerprint(path: Path) -> tuple[str, int]:
    """(sha256 of what is graded, the newest mtime in ns): the file, or every .py/.ipynb file
    of a student's folder (names and contents)."""
    digest = hashlib.sha256()
    if path.is_dir():
        try:
            files = tree_files(path)
        except SubmissionError as exc:
            digest.update(str(exc).encode("utf-8"))
            return digest.hexdigest(), path.stat().st_mtime_ns
        newest = path.stat().st_mtime_ns
        for rel, data in sorted(files.items()):
            digest.update(rel.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
            newest = max(newest, (path / rel).stat().st_mtime_ns)
        return digest.hexdigest(), newest
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest(), path.stat().st_mtime_ns
