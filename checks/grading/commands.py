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

from .assignment import builtin_assignments
from .report import FORMATS
from .seeds import draw_seed, read_secret, seed_for, seed_line

__all__ = ["add_arguments", "add_limit_arguments", "limits_from_args", "run",
           "add_assignments_arguments", "run_assignments"]

#: ``--OPTION`` -> the ``Limits`` field it sets (seconds).
_LIMIT_OPTIONS = (("statement-limit", "statement",
                   "seconds one top-level statement or notebook cell statement may run while the "
                   "submission loads; one that runs longer is stopped and reported, and loading "
                   "goes on (default 5, or the assignment's [limits] statement)"),
                  ("load-limit", "load",
                   "seconds for loading the whole submission, all its statements together "
                   "(default 20, or [limits] load)"),
                  ("call-limit", "wall",
                   "wall-clock seconds one call of a graded function may take (default 10, or "
                   "[limits] wall)"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``grade``."""
    parser.add_argument("submission",
                        help="the student's submission: a .py or .ipynb file, a folder (helper "
                             "files, a package such as cs231n/) or a .zip of one")
    parser.add_argument("--assignment", default="step-by-step",
                        help=f"a built-in assignment ({', '.join(builtin_assignments())}) or "
                             "the path of a declaration file (.toml or .json); default: "
                             "step-by-step")
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
    add_limit_arguments(parser)
    _add_require_sandbox(parser)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError(f"expected seconds > 0 (at most 86400), got {value!r}")
    return seconds


def add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    """``--statement-limit``, ``--load-limit``, ``--call-limit`` (of ``grade`` and ``grade-all``)."""
    for option, _, text in _LIMIT_OPTIONS:
        parser.add_argument(f"--{option}", type=_seconds, default=None, metavar="S", help=text)


def limits_from_args(args: argparse.Namespace, assignment: object):
    """The sandbox limits of a run: the defaults, the assignment's ``[limits]``, then the options;
    None when neither the assignment nor an option sets any (the engine's defaults)."""
    from .assignment import load_assignment
    from .engine import effective_limits

    given = {name: getattr(args, option.replace("-", "_"), None)
             for option, name, _ in _LIMIT_OPTIONS}
    given = {name: value for name, value in given.items() if value is not None}
    if not given:
        return None
    return effective_limits(load_assignment(assignment), None).replace(**given)


def _add_require_sandbox(parser: argparse.ArgumentParser) -> None:
    from gradref.checks.isolation.levels import add_require_sandbox_argument

    add_require_sandbox_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Grade ``args.submission``; see the module docstring for the exit codes."""
    from gradref.checks.isolation import IsolationError

    from .assignment import AssignmentError
    from .engine import SubmissionError, grade_submission
    from .outputs import atomic_write_text
    from .report import render

    points = dict(args.points) or None
    try:
        seed, how = _seed(args)
        if getattr(args, "require_sandbox", False):
            from gradref.checks.isolation.levels import require_sandbox

            require_sandbox()
        report = grade_submission(args.submission, args.assignment, seed=seed,
                                  points=points, limits=limits_from_args(args, args.assignment))
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
            target = Path(args.out)
            if target.exists() and not target.is_file():   # /dev/stdout, a pipe
                target.write_text(text, encoding="utf-8", errors="surrogateescape")
            else:
                atomic_write_text(target, text)   # private (0600), like every grading output
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
    from .loading import fingerprint

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


def add_assignments_arguments(parser: argparse.ArgumentParser) -> None:
    """``gradref assignments [show NAME]``."""
    parser.description = ("List the built-in assignments, or print one's declaration (`show NAME`), "
                          "the starting point of an own one: `extends = \"NAME\"` in a TOML "
                          "inherits it and overrides what it names.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    show = sub.add_parser("show", help="print a built-in assignment's declaration",
                          description="print a built-in assignment's declaration (TOML)")
    show.add_argument("name", metavar="NAME", help="a built-in assignment, e.g. step-by-step")


def run_assignments(args: argparse.Namespace) -> int:
    from .assignment import AssignmentError, builtin_assignments, builtin_declaration, load_assignment

    if getattr(args, "action", None) == "show":
        try:
            _, text = builtin_declaration(args.name)
        except AssignmentError as exc:
            print(f"gradref assignments show: error: {exc}", file=sys.stderr)
            return 2
        _write_stdout(text)
        return 0
    for name in builtin_assignments():
        asg = load_assignment(name)
        print(f"{name}: {asg.title} ({len(asg.functions)} functions, {asg.max_score:g} points, "
              f"{asg.layout} layout)")
    print("`gradref assignments show NAME` prints one; `extends = \"NAME\"` in your TOML "
          "inherits it.")
    return 0
