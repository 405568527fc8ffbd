"""Turn a submission file (``.py`` or Jupyter ``.ipynb``) into Python source text.

Notebooks are read with ``nbformat``; only code cells are kept, in order, each preceded by a
``# %% [cell N]`` comment so that line numbers in tracebacks can be traced back to a cell.
IPython-only syntax is removed, because plain Python cannot execute it:

* a cell whose first non-blank line starts with ``%%`` (a cell magic, e.g. ``%%timeit``) is
  skipped entirely;
* line magics (``%matplotlib inline``), shell escapes (``!pip install ...``), assignments
  from them (``files = !ls``, ``t = %timeit -o f()``) and help lines (``np.dot?``) are
  replaced by ``pass`` at the same indentation, which keeps the cell valid Python and keeps
  line numbers unchanged.  A line only counts as IPython syntax at the start of a statement,
  not inside brackets, a continued line or a multi-line string.

Nothing is executed here.  Errors name the path: ``FileNotFoundError`` for a missing file,
``ValueError`` for a directory, an unsupported extension, undecodable text or an invalid
notebook.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
import tokenize
from collections.abc import Iterator
from pathlib import Path

from .files import read_regular_file

__all__ = ["MAX_NOTEBOOK_BYTES", "MAX_SOURCE_BYTES", "load_source", "notebook_to_source",
           "split_python", "clean_ipython", "parse_python", "serialised_parsing"]

_SUFFIXES = (".py", ".ipynb")
_ASSIGN_FROM_IPYTHON = re.compile(r"^[\w.,()\[\]\s*]+=\s*[!%]")
_HELP = re.compile(r"^\?{0,2}[\w.]+\?{1,2}$")


#: Largest submission file the grader itself reads (a .py file, a notebook with its outputs).
MAX_SOURCE_BYTES = 8 * 2**20
MAX_NOTEBOOK_BYTES = 32 * 2**20


def load_source(path: str | os.PathLike[str]) -> str:
    """Return the Python source of a ``.py`` file or of a notebook's code cells.

    The file is opened with ``O_NOFOLLOW`` and must be a regular file: a symbolic link (to an
    instructor's solution, a secret) or a FIFO/device is refused with a ``ValueError``, and so
    is a file over :data:`MAX_SOURCE_BYTES` (``.py``) or :data:`MAX_NOTEBOOK_BYTES` (notebook,
    outputs included), before anything is parsed.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    file = Path(path)
    suffix = file.suffix.lower()
    if not os.path.lexists(file):
        raise FileNotFoundError(f"submission file not found: {file}")
    if file.is_symlink():
        raise ValueError(f"submission {file} is a symbolic link; symbolic links are refused "
                         "(submit the file itself)")
    if not file.is_file():
        raise ValueError(f"submission path is not a regular file: {file}")
    if suffix not in _SUFFIXES:
        raise ValueError(
            f"unsupported submission file {file}: expected a .py or .ipynb file, got "
            f"{suffix or 'no extension'!r}"
        )
    limit = MAX_SOURCE_BYTES if suffix == ".py" else MAX_NOTEBOOK_BYTES
    try:
        data = read_regular_file(file, limit, "submission")
    except ValueError as error:
        hint = ("; clear the notebook's outputs (Kernel > Restart & Clear Output) and submit "
                "it again" if suffix == ".ipynb" and "limit" in str(error) else "")
        raise ValueError(f"{error}{hint}") from None
    if suffix == ".py":
        try:  # honours a PEP 263 coding cookie
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
            return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except (UnicodeDecodeError, SyntaxError, LookupError) as error:
            raise ValueError(f"cannot decode the Python file {file}: {error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"the notebook {file} is not UTF-8 text: {error}") from None
    return notebook_to_source(text, name=str(file))


def notebook_to_source(text: str, *, name: str = "<notebook>") -> str:
    """Source of the code cells of the notebook JSON ``text`` (see the module docstring)."""
    import nbformat

    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises many types for malformed input
        raise ValueError(f"{name} is not a valid Jupyter notebook: {error}") from None
    language = (
        notebook.get("metadata", {}).get("kernelspec", {}).get("language")
        or notebook.get("metadata", {}).get("language_info", {}).get("name")
        or "python"
    )
    if str(language).lower() != "python":
        raise ValueError(f"{name} is a {language} notebook, not a Python one")
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise ValueError(f"{name} is not a valid Jupyter notebook: no list of cells")
    parts = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(line) for line in source)
        if not isinstance(source, str):
            raise ValueError(f"{name}: cell {number} has a source that is not text")
        cleaned = _clean_cell(source)
        if cleaned is None:
            parts.append(f"# %% [cell {number}] skipped: IPython cell magic\n")
        else:
            parts.append(f"# %% [cell {number}]\n{cleaned}\n")
    return "\n".join(parts)


def clean_ipython(source: str) -> str:
    """``source`` with IPython-only lines (magics, shell escapes, help) replaced by ``pass``
    at the same indentation; line numbers are kept. Cell magics are not special here."""
    lines = source.splitlines()
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if _looks_like_ipython(stripped) and _at_statement_start(kept):
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass  # skipped IPython line: {stripped[:60]}")
        else:
            kept.append(line)
    return "\n".join(kept) + ("\n" if source.endswith("\n") else "")


#: nbconvert's cell marker in a notebook exported as a script: ``# In[12]:`` or ``# In[ ]:``.
_IN_MARKER = re.compile(r"^# In\[\s*(\d*)\s*\]:[ \t]*$", re.M)


def split_python(source: str, *, clean: bool = True) -> list[tuple[str, int, str]]:
    """A ``.py`` submission as units that run one by one: ``[(label, first line, code), ...]``.

    One unit per top-level statement (decorators included), labelled ``line N``; when nbconvert's
    ``# In[N]:`` markers are present the label also names the exported cell (``In[7], line 30``).
    A file that does not parse is cut at every line in column 0 that is not a comment, a
    continuation, or inside brackets or a string, and each cell is parsed on its own, so a syntax
    error costs only the block that has it. ``code`` keeps the file's line numbers: it is preceded
    by as many newlines as there are lines before it. With ``clean``, IPython lines
    (``%matplotlib inline``, ``!pip``) are neutralised first (:func:`clean_ipython`). Nothing is
    executed here.
    """
    text = clean_ipython(source) if clean else source
    marks = list(_IN_MARKER.finditer(text))
    if not marks:
        return _statements(text, 1, "")
    units = _statements(text[: marks[0].start()], 1, "")
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        first = text.count("\n", 0, mark.start()) + 1
        units += _statements(text[mark.start():end], first, f"In[{mark.group(1) or ' '}], ")
    return units


def _statements(text: str, first: int, prefix: str) -> list[tuple[str, int, str]]:
    """Units of ``text``, whose first line is line ``first`` of the file."""
    lines = text.splitlines(True)
    starts = _statement_starts(text)
    if starts is None:
        starts = _block_starts(lines)
    units = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(lines) + 1
        body = "".join(lines[start - 1:end - 1])
        number = first + start - 1
        if _has_code(body):
            units.append((f"{prefix}line {number}", number, "\n" * (number - 1) + body))
    return units


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


#: ``ast.parse`` is not thread-safe in CPython 3.11: its C-to-Python conversion keeps one
#: recursion counter per interpreter, and when a garbage collection during it runs Python code
#: (Hypothesis registers ``gc.callbacks``) another thread can parse meanwhile and the first
#: fails with "SystemError: AST constructor recursion depth mismatch". One parse at a time.
_PARSE_LOCK = threading.RLock()
_PATCH_LOCK = threading.Lock()
_patched: list = []          # [the original ast.parse, the number of active users] while patched


@contextlib.contextmanager
def serialised_parsing() -> Iterator[None]:
    """While active, every ``ast.parse`` of the process takes :data:`_PARSE_LOCK`: not only
    :func:`parse_python`'s but NumPy's (``.npy`` headers are read with ``ast.literal_eval``,
    for every array the sandbox sends back), Hypothesis's (source reflection while drawing
    cases) and ``traceback``'s (error carets). ``grade_all`` wraps its worker threads in it; it
    nests and overlaps, and the last one out restores ``ast.parse``."""
    import ast

    with _PATCH_LOCK:
        if not _patched:
            original = ast.parse

            def parse(*args, **kwargs):
                with _PARSE_LOCK:
                    return original(*args, **kwargs)

            _patched[:] = [original, 0]
            ast.parse = parse
        _patched[1] += 1
    try:
        yield
    finally:
        with _PATCH_LOCK:
            _patched[1] -= 1
            if not _patched[1]:
                ast.parse = _patched[0]
                _patched.clear()


def parse_python(text: str):
    """``ast.parse(text)`` (warnings silenced), or None when it does not parse; thread-safe."""
    import ast
    import warnings

    with _PARSE_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return None


def _statement_starts(text: str) -> list[int] | None:
    """First lines of the top-level statements, or None when ``text`` does not parse."""
    tree = parse_python(text)
    if tree is None:
        return None
    starts = []
    for node in tree.body:
        decorators = getattr(node, "decorator_list", None) or []
        starts.append(min([node.lineno] + [d.lineno for d in decorators]))
    return starts or [1]


def _block_starts(lines: list[str]) -> list[int]:
    """Lines where a top-level block may start, for a file that does not parse."""
    starts = [1]
    depth = 0
    continued = False
    quote: str | None = None
    for number, line in enumerate(lines, start=1):
        at_top = depth == 0 and not continued and quote is None
        if (number > 1 and at_top and line[:1] not in ("", " ", "\t", "\n", "\r", "#", ")", "]",
                                                          "}")
                and not re.match(r"(else|elif|except|finally)\b", line)):
            starts.append(number)
        quote, depth = _scan(line, quote, depth)
        continued = quote is None and line.rstrip("\r\n").endswith("\\")
    return starts


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int]:
    """Bracket depth and open triple-quoted string after ``line`` (a rough tokenizer that
    survives syntax errors)."""
    i = 0
    while i < len(line):
        if quote is not None:
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 2 if line[i] == "\\" else 1
            continue
        ch = line[i]
        if ch == "#":
            break
        if line.startswith(('"""', "'''"), i):
            quote = line[i:i + 3]
            i += 3
            continue
        if ch in "\"'":
            end = i + 1
            while end < len(line) and line[end] != ch:
                end += 2 if line[end] == "\\" else 1
            i = end + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    return quote, depth


def _clean_cell(source: str) -> str | None:
    """The cell with IPython lines neutralised, or None for a cell magic."""
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return None
    return clean_ipython("\n".join(lines))


def _looks_like_ipython(stripped: str) -> bool:
    if not stripped:
        return False
    if stripped[0] in "%!":
        return True
    if _HELP.match(stripped):
        return True
    return bool(_ASSIGN_FROM_IPYTHON.match(stripped)) and "==" not in stripped.split("=", 1)[0]


def _at_statement_start(previous: list[str]) -> bool:
    """False when the next line continues a bracket, a backslash line or a string."""
    if not previous:
        return True
    if previous[-1].rstrip().endswith("\\"):
        return False
    text = "\n".join(previous) + "\n"
    try:
        for _ in tokenize.generate_tokens(io.StringIO(text).readline):
            pass
    except tokenize.TokenError:
        return False  # EOF inside a bracket or a multi-line string
    except (IndentationError, SyntaxError):
        return True
    return True
