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

import io
import os
import re
import tokenize
from pathlib import Path

from .files import read_regular_file

__all__ = ["MAX_NOTEBOOK_BYTES", "MAX_SOURCE_BYTES", "load_source", "notebook_to_source"]

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


def _clean_cell(source: str) -> str | None:
    """The cell with IPython lines neutralised, or None for a cell magic."""
    lines = source.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        return None
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if _looks_like_ipython(stripped) and _at_statement_start(kept):
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass  # skipped IPython line: {stripped[:60]}")
        else:
            kept.append(line)
    return "\n".join(kept)


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
