"""``python -m checks COMMAND …``: one table of subcommands, each living in its own module.

A command module provides ``add_arguments(parser)`` and ``run(args) -> int`` (the names can be
chosen per entry). Exit codes: whatever ``run`` returns; 2 for bad arguments (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["COMMANDS", "build_parser", "main"]

#: name -> (module, add-arguments function, run function, one-line help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "verify": ("checks.verify", "add_arguments", "run",
               "verify the reference against finite differences and autograd"),
    "validate": ("checks.validate", "add_arguments", "run",
                 "validate another implementation's gradients against the reference"),
    "grade": ("checks.grading.commands", "add_arguments", "run",
              "grade one student submission (.py or .ipynb)"),
    "grade-all": ("checks.grading.batch", "add_arguments", "run",
                  "grade every submission in a folder into a gradebook"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the ``selected`` command's module is imported (all when ``None``)."""
    parser = argparse.ArgumentParser(
        prog="python -m checks",
        description="gradref's checker: verify the reference, validate implementations, grade.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, add, run, help_) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_, description=help_)
        if selected in (None, name):
            mod = importlib.import_module(module)
            getattr(mod, add)(cmd)
            cmd.set_defaults(_run=getattr(mod, run))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(selected if selected in COMMANDS else None).parse_args(argv)
    return int(args._run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
