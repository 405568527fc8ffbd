"""``gradref grade SUBMISSION``: grade one submission and print or write the report.

Exit codes: 0 when the submission was graded (whatever its score); 2 when grading could not run
(a missing or unsupported submission file, an unknown assignment or a malformed declaration, a
bad option value, a sandbox that could not start).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradref.reference.argtypes import add_output_arguments, int_at_least, name_equals_number

from .report import FORMATS
from .seeds import draw_seed, read_secret, seed_for, seed_line

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``grade``."""
    parser.add_argument("submission", help="the student's .py or .ipynb file")
    parser.add_argument("--assignment", default="step-by-step",
                        help="a built-in assignment (step-by-step, layered) or the path of a "
                             "declaration file (.toml or .json); default: step-by-step")
    add_output_arguments(parser, tuple(FORMATS))
    parser.add_argument("--seed", type=int_at_least(0), default=None,
                        help="seed of the random cases, to reproduce a grade (same seed, same "
                             "grade); default: drawn for this run, or derived from --secret-file; "
                             "the report records it")
    parser.add_argument("--secret-file", metavar="FILE", default=None,
                        help="an instructor's secret: the seed is derived from it and the "
                             "submission's content (the Gradescope bundle carries one)")
    parser.add_argument("--points", type=name_equals_number, action="append", default=[],
                        metavar="NAME=POINTS",
                        help="override points: a function's name rescales its checks, a full "
                             "test name ('linear_backward: values of dW') sets one check "
                             "(repeatable)")
    _add_require_sandbox(parser)


def _add_require_sandbox(parser: argparse.ArgumentParser) -> None:
    from gradref.checks.isolation.levels import add_require_sandbox_argument

    add_require_sandbox_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Grade ``args.submission``; see the module docstring for the exit codes."""
    from gradref.checks.isolation import IsolationError

    from .assignment import AssignmentError
    from .engine import SubmissionError, grade_submission
    from .report import render

    points = dict(args.points) or None
    try:
        seed, how = _seed(args)
        if getattr(args, "require_sandbox", False):
            from gradref.checks.isolation.levels import require_sandbox

            require_sandbox()
        report = grade_submission(args.submission, args.assignment, seed=seed,
                                  points=points)
        if how:
            report.output += "\n" + seed_line(seed, how)
    except (AssignmentError, SubmissionError, FileNotFoundError, ValueError, TypeError) as exc:
        print(f"gradref grade: error: {exc}", file=sys.stderr)
        return 2
    except IsolationError as exc:
        print(f"gradref grade: the sandbox could not run: {exc}", file=sys.stderr)
        return 2
    text = render(report, args.format)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            print(f"gradref grade: error: cannot write --out {args.out!r}: {exc}",
                  file=sys.stderr)
            return 2
    else:
        _write_stdout(text)
    return 0


def _seed(args: argparse.Namespace) -> tuple[int, str]:
    """The seed to grade with and how it was chosen ("" for an explicit ``--seed``)."""
    if args.seed is not None:
        if args.secret_file is not None:
            raise ValueError("--seed and --secret-file exclude each other: give one")
        return args.seed, ""
    if args.secret_file is None:
        return draw_seed(), "drawn for this run"
    from .batch import fingerprint

    secret = read_secret(args.secret_file)
    if not Path(args.submission).exists():
        raise FileNotFoundError(f"submission not found: {args.submission}")
    return seed_for(secret, fingerprint(Path(args.submission))[0]), "derived from the secret"


def _write_stdout(text: str) -> None:
    """``text`` on stdout; a file name that is not UTF-8 (surrogates) is written as its bytes."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode(sys.stdout.encoding or "utf-8", "surrogateescape"))
        sys.stdout.flush()
