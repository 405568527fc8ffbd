"""``gradref gradebook merge``: combine the per-student results of several runs into one gradebook.

A course that outgrows one machine grades its folder in shares (``gradref grade-all DIR --shard
K/N --out gradebook-K.csv``, one job per share on the cluster scheduler it has: a Slurm job
array, a Kubernetes indexed Job; ``docs/sharding.md``) and then merges::

    gradref gradebook merge gradebook-*.csv --out gradebook.csv

Each input is a gradebook CSV (its ``<stem>_reports/`` folder is read) or a reports folder. The
per-student JSON reports are copied into ``<out stem>_reports/`` and the CSV and the class report
are written from them exactly as ``grade-all`` writes them, so the merged gradebook is the one a
single run would have produced. Refused, with the student and the files named: two different
results for one student, and results graded with different settings (assignment, its file's
hash, seed, points).

Exit status: 0 merged; 1 the gradebook cannot be written; 2 bad arguments or inputs that do
not go together.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gradref.reference.argtypes import make_parent

from .assignment import AssignmentError, load_assignment
from .batch import (
    _RECORD_KEY,
    atomic_write_text,
    private_dir,
    reports_dir_for,
    summary_paths,
    write_gradebook,
)

__all__ = ["MergeError", "merge", "add_arguments", "run"]

_SETTINGS = ("assignment", "assignment_sha256", "seed", "secret_sha256", "points")


class MergeError(ValueError):
    """The inputs cannot be merged; the message names the student or setting and the files."""


def _reports_dir(source: Path) -> Path:
    if source.is_dir():
        return source
    if source.suffix.lower() == ".csv":
        folder = reports_dir_for(source)
        if folder.is_dir():
            return folder
        raise MergeError(f"{source}: its reports folder {folder} does not exist")
    raise MergeError(f"{source}: expected a gradebook .csv or a reports folder")


def _records(folder: Path) -> list[tuple[Path, str, dict[str, Any]]]:
    out = []
    for path in sorted(folder.glob("*.json")):
        if path.is_symlink():
            continue
        text = path.read_text(encoding="utf-8")
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise MergeError(f"{path} is not valid JSON: {exc}") from None
        meta = record.get(_RECORD_KEY) if isinstance(record, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("student"), str):
            raise MergeError(f"{path} is not a grade-all report (no {_RECORD_KEY!r} record)")
        out.append((path, text, record))
    return out


def merge(sources: list[str | Path], out: str | Path) -> list[dict[str, Any]]:
    """Merge the results of ``sources`` into the gradebook ``out``; returns the CSV's rows."""
    if not sources:
        raise MergeError("nothing to merge: give gradebook CSVs or reports folders")
    out = Path(out)
    target = reports_dir_for(out)
    chosen: dict[str, tuple[Path, str, dict[str, Any]]] = {}
    settings: tuple | None = None
    settings_from: Path | None = None
    for source in map(Path, sources):
        folder = _reports_dir(source)
        if folder.resolve() == target.resolve():
            continue
        for path, text, record in _records(folder):
            meta = record[_RECORD_KEY]
            these = tuple(meta.get(k) for k in _SETTINGS)
            if settings is None:
                settings, settings_from = these, path
            elif these != settings:
                diff = [f"{k} {a!r} vs {b!r}" for k, a, b in zip(_SETTINGS, settings, these,
                                                               strict=True) if a != b]
                raise MergeError(f"{path} and {settings_from} were graded with different "
                                 f"settings ({'; '.join(diff)}); merge results of one setting")
            sid = meta["student"]
            if sid in chosen and chosen[sid][1] != text:
                raise MergeError(f"student {sid!r} has two different results: {chosen[sid][0]} "
                                 f"and {path}")
            chosen[sid] = (path, text, record)
    if not chosen:
        raise MergeError(f"no per-student reports in {', '.join(map(str, sources))}")
    private_dir(target)
    for sid, (_, text, _) in chosen.items():
        atomic_write_text(target / f"{sid}.json", text)
    records = [record for _, _, record in chosen.values()]
    assignment = records[0][_RECORD_KEY].get("assignment")
    functions: list[str] = []
    title = str(assignment)
    try:
        declared = load_assignment(assignment)
        functions = list(dict.fromkeys(f.display for f in declared.functions))
        title = declared.title
    except (AssignmentError, TypeError, ValueError):
        pass            # the column order then follows the reports' tests
    return write_gradebook(out, records, functions, title)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Gradebooks: `merge` combines the per-student results of several "
                          "grade-all runs (e.g. --shard K/N jobs) into one CSV, its reports and "
                          "its class report.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = sub.add_parser("merge", help="merge gradebooks (CSVs or reports folders) into one",
                       description=__doc__.split("\n\n")[0])
    m.add_argument("sources", nargs="+", metavar="GRADEBOOK",
                   help="gradebook CSVs (their <stem>_reports/ folders are read) or reports folders")
    m.add_argument("--out", "-o", required=True, metavar="CSV",
                   help="the merged gradebook to write, e.g. gradebook.csv")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if out.is_dir():
            raise ValueError(f"--out {args.out!r} is a folder; expected a CSV path")
        make_parent(out)
    except ValueError as exc:
        print(f"gradref gradebook merge: error: {exc}", file=sys.stderr)
        return 2
    try:
        rows = merge(args.sources, out)
    except MergeError as exc:
        print(f"gradref gradebook merge: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"gradref gradebook merge: cannot write the gradebook: {exc}", file=sys.stderr)
        return 1
    md, page = summary_paths(out)
    print(f"{len(rows)} students merged: gradebook {out}, reports in {reports_dir_for(out)}, "
          f"class report {md} and {page}")
    return 0
