"""The ``gradref`` command: one table of subcommands, each living next to what it runs.

A subcommand is a :class:`Command`: a name, a one-line help, and two functions,
``add_arguments(parser)`` and ``run(args) -> exit code``. Each function is either a callable or
a ``"module:attribute"`` string imported only when that subcommand is the one being run, so
``gradref grade`` never pays for autograd and ``gradref --help`` imports nothing heavy.

Exit codes, for every subcommand: 0 success (or: everything matches), 1 something differs (a
gradient, a failed verification, a diverged training), 2 could not run (bad arguments, a
missing file, a sandbox that cannot start). A command reports a bad combination of options by
raising :class:`~gradref.reference.argtypes.UsageError`, which becomes an argparse-style error
(exit 2). :func:`main` never raises ``SystemExit``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from gradref.reference.argtypes import UsageError

__all__ = ["Command", "COMMANDS", "PROG", "UsageError", "register_command", "build_parser", "main"]

PROG = "gradref"


class Command(NamedTuple):
    """One subcommand; ``add_arguments`` and ``run`` are callables or ``"module:attr"`` strings."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | str
    run: Callable[[argparse.Namespace], int] | str


def _resolve(function: Callable | str) -> Callable:
    if callable(function):
        return function
    module, _, attribute = function.partition(":")
    return getattr(importlib.import_module(module), attribute)


#: The subcommands, in the order ``gradref --help`` lists them.
COMMANDS: list[Command] = [
    Command("verify", "verify the reference against finite differences and autograd",
            "gradref.checks.verify:add_arguments", "gradref.checks.verify:run"),
    Command("train", "train a network on a toy dataset and report cost and accuracy",
            "gradref.reference.cli:add_train_arguments", "gradref.reference.cli:run_train"),
    Command("fixtures", "write golden fixtures (.npz + JSON) for other implementations' tests",
            "gradref.reference.fixtures:add_arguments", "gradref.reference.fixtures:run"),
    Command("validate", "validate another implementation's gradients against the reference",
            "gradref.checks.validation.command:add_arguments",
            "gradref.checks.validation.command:run"),
    Command("grade", "grade one student submission (.py, .ipynb, a folder or a .zip)",
            "gradref.checks.grading.commands:add_arguments", "gradref.checks.grading.commands:run"),
    Command("grade-all", "grade every submission in a folder into a gradebook",
            "gradref.checks.grading.batch:add_arguments", "gradref.checks.grading.batch:run"),
    Command("assignments", "list the built-in assignments, or show one's declaration",
            "gradref.checks.grading.commands:add_assignments_arguments",
            "gradref.checks.grading.commands:run_assignments"),
    Command("bundle", "build the Gradescope autograder zip",
            "gradref.checks.grading.bundle:add_arguments", "gradref.checks.grading.bundle:run"),
    Command("gradebook", "merge gradebooks (e.g. of grade-all --shard jobs) into one",
            "gradref.checks.grading.gradebook:add_arguments", "gradref.checks.grading.gradebook:run"),
]


def register_command(command: Command) -> Command:
    """Add ``command`` to :data:`COMMANDS` (refusing a name already taken); returns it."""
    if not isinstance(command, Command):
        raise TypeError(f"command must be a gradref.checks.cli.Command, got {command!r}")
    if any(c.name == command.name for c in COMMANDS):
        raise ValueError(f"command {command.name!r} is already registered")
    COMMANDS.append(command)
    return command


def _version() -> str:
    import gradref

    return gradref.__version__


def build_parser(selected: str | None = None
                 ) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser and each subcommand's parser, by name.

    Only the ``selected`` command's options are declared (all of them when ``None``), so only
    its module is imported.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="gradref: a gradient-verified reference network, a gradient checker and a "
                    "grader. Exit codes: 0 success or match, 1 something differs, 2 could not run.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    subparsers = {}
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help,
                           prog=f"{PROG} {command.name}")
        if selected in (None, command.name):
            _resolve(command.add_arguments)(p)
            p.set_defaults(_run=command.run)
        subparsers[command.name] = p
    return parser, subparsers


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code.

    Argument errors print argparse's usage and message to stderr and return 2 (``--help`` and
    ``--version`` return 0).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    # Hypothesis (which draws the grader's case sizes) keeps a cache folder, by default
    # .hypothesis/ in the current folder: a command must not write into the user's folder.
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(cache, "gradref", "hypothesis"))
    names = {c.name for c in COMMANDS}
    selected = next((a for a in argv if not a.startswith("-")), None)
    parser, subparsers = build_parser(selected if selected in names else None)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the subcommand's parser, with its usage line
            subparsers[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
        try:
            return int(_resolve(args._run)(args))
        except UsageError as exc:
            subparsers[args.command].error(str(exc))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return 0  # pragma: no cover - error() always exits
