"""argparse types shared by every subcommand of ``gradref``: each parses one option's text or
raises ``argparse.ArgumentTypeError`` with a message that says what was expected and repeats the
text; argparse adds the option's name. :class:`UsageError` is how a subcommand reports a bad
combination of options found after parsing.

Standard library only, so the reference stays importable with NumPy alone.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path

__all__ = ["UsageError", "int_at_least", "real_in", "name_equals_number", "writable_path", "make_parent",
           "layer_sizes", "activation_list", "loss_list",
           "add_output_arguments", "output_of"]


class UsageError(Exception):
    """A bad option value found after parsing; ``option`` names it (e.g. ``"--layers"``).

    ``gradref``'s :func:`~gradref.checks.cli.main` prints it as an argparse error (exit 2).
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"argument {option}: {message}")
        self.option = option


def int_at_least(minimum: int) -> Callable[[str], int]:
    """A type for integers >= ``minimum``: "expected a positive integer, got '0'"."""
    what = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what
    return parse


def real_in(low: float, high: float = math.inf, *, low_open: bool = False) -> Callable[[str], float]:
    """A type for finite numbers in [low, high) (or (low, high) with ``low_open``)."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g})"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and (value > low if low_open else value >= low)
                and value < high):
            raise argparse.ArgumentTypeError(f"expected a finite number in {interval}, got {text!r}")
        return value

    parse.__name__ = f"number in {interval}"
    return parse


def name_equals_number(text: str) -> tuple[str, float]:
    """``NAME=NUMBER`` (e.g. ``--points linear_backward=12``) as ``(name, number)``."""
    name, sep, number = text.rpartition("=")
    try:
        if sep and name:
            return name, float(number)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected NAME=POINTS with a number, got {text!r}")


def make_parent(path: Path) -> None:
    """Create the missing folders above the file ``path`` (every ``--out`` does: one behaviour);
    ``ValueError`` naming the path when one of them is a file or cannot be created."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"cannot write a file at {str(path)!r}: a part of {str(parent)!r} is a "
                         f"file, not a folder") from None
    except OSError as exc:
        raise ValueError(f"cannot create the folder {str(parent)!r} for {str(path)!r}: "
                         f"{exc.strerror or exc}") from None


def writable_path(text: str) -> Path:
    """A file path that can be written: not a folder; missing folders above it are created."""
    path = Path(text)
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write a file at {text!r} (it is a directory)")
    try:
        make_parent(path)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return path


def add_output_arguments(parser: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json"),
                         *, json_alias: bool = False) -> None:
    """``--format`` (the first of ``formats`` by default) and ``--out PATH``, the one spelling
    every subcommand uses; ``json_alias`` adds ``--json PATH`` = ``--format json --out PATH``."""
    parser.add_argument("--format", choices=formats, default=formats[0],
                        help=f"report format (default: {formats[0]})")
    parser.add_argument("--out", type=writable_path, metavar="PATH",
                        help="write the report to PATH instead of standard output")
    if json_alias:
        parser.add_argument("--json", type=writable_path, metavar="PATH",
                            help="the same as --format json --out PATH")


def output_of(args: argparse.Namespace) -> tuple[str, Path | None]:
    """(format, path or ``None`` for standard output) from :func:`add_output_arguments`'s options."""
    alias = getattr(args, "json", None)
    if alias is None:
        return args.format, args.out
    if args.out is not None and args.out != alias:
        raise UsageError("--json", f"{str(alias)!r} and --out {str(args.out)!r} both name the "
                                   f"report's file; give one of them")
    if args.format not in ("text", "json"):
        raise UsageError("--json", f"writes JSON, but --format {args.format} was given")
    return "json", alias


def layer_sizes(text: str) -> tuple[int, ...]:
    """``2,8,4,1``: at least two positive layer sizes n_0, …, n_L."""
    parts = [p.strip() for p in text.split(",")]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"expected at least two comma-separated positive "
                                         f"integers such as 2,8,4,1, got {text!r}")
    return sizes


_SPLIT_OUTSIDE_PARENS = re.compile(r",(?![^()]*\))")


def _registered_names(text: str, lookup: Callable[[str], object], example: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in _SPLIT_OUTSIDE_PARENS.split(text))
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated names such as {example}, "
                                         f"got {text!r}")
    for name in names:
        try:
            lookup(name)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"{exc} (in {text!r})") from None
    return names


def activation_list(text: str) -> tuple[str, ...]:
    """``relu,leaky_relu(0.05),sigmoid``: registered activation names (parameters allowed)."""
    from .activations import get_activation

    return _registered_names(text, get_activation, "relu,relu,sigmoid")


def loss_list(text: str) -> tuple[str, ...]:
    """``bce`` or ``bce,square``: registered loss names."""
    from .losses import get_loss

    return _registered_names(text, get_loss, "bce,cross_entropy")
