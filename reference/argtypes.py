"""argparse types shared by every command line of gradref (``python -m reference``, ``python -m
checks``): each parses one option's text or raises ``argparse.ArgumentTypeError`` with a message
that says what was expected and repeats the text; argparse adds the option's name.

Standard library only, so the reference stays importable with NumPy alone.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["int_at_least", "real_in", "name_equals_number"]


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
