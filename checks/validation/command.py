"""``gradref validate``'s options and entry point (see :mod:`gradref.checks.validation`).

Option values are checked by argparse types, so a bad value exits with status 2 and a message
naming the option and the value; combinations are checked after parsing, with the same form
of message and status.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable

from gradref.reference.argtypes import (
    activation_list,
    add_output_arguments,
    int_at_least,
    layer_sizes,
    loss_list,
    real_in,
)
from gradref.reference.layouts import BIASES, LAYOUTS

from ..isolation import IsolationError, Limits
from .engine import EXIT_ERROR, Settings, validate
from .targets import Target, command_target, parse_function_spec

__all__ = ["add_arguments", "run"]

def _function_spec(text: str) -> str:
    try:
        parse_function_spec(text, "FILE.py:FUNCTION")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``gradref validate``."""
    p.add_argument("target", nargs="?", type=_function_spec,
                   metavar="FILE.py:FUNCTION",
                   help="the gradient function: grads = FUNCTION(params, X, Y[, arch])")
    p.add_argument("--layers", type=layer_sizes, metavar="2,16,16,1",
                   help="layer sizes n_0,…,n_L (with --random-architectures: the largest "
                        "depth and width explored)")
    p.add_argument("--activations", required=True, type=activation_list,
                   metavar="relu,…,sigmoid",
                   help="one per layer (with --random-architectures: the pool to draw from)")
    p.add_argument("--loss", required=True, type=loss_list, metavar="LOSS",
                   help="the loss (with --random-architectures: comma-separated pool)")
    p.add_argument("--layout", choices=LAYOUTS, default="columns",
                   help="columns: X (n_0, m), W (n_l, n_{l-1}); rows: X (m, n_0), "
                        "W (n_{l-1}, n_l) (default columns)")
    p.add_argument("--bias", choices=BIASES,
                   help="bias shape: column (n,1), row (1,n) or flat (n,) (default: column "
                        "for columns, row for rows)")
    p.add_argument("--leaky-slope", type=real_in(-math.inf), metavar="S",
                   help="the negative-side slope of every leaky_relu in --activations")
    p.add_argument("--l2", type=real_in(0.0), default=0.0, metavar="L",
                   help="L2 strength λ of the cost (default 0)")
    p.add_argument("--random-architectures", action="store_true",
                   help="explore random architectures; FUNCTION gets a 4th argument "
                        "{layer_sizes, activations, loss, l2}")
    p.add_argument("--cases", type=int_at_least(1), default=5, metavar="N",
                   help="number of random cases (default 5)")
    p.add_argument("--seed", type=int_at_least(0), default=0, metavar="S",
                   help="seed of the cases (default 0)")
    p.add_argument("--rtol", type=real_in(0.0), metavar="R",
                   help="accept |got - expected| <= R·|expected| + R·max|expected| per element "
                        "(default: the checker's autograd tolerances, ~1e-10; use ~1e-4 for "
                        "float32 code)")
    p.add_argument("--timeout", type=real_in(0.0, low_open=True), default=10.0,
                   metavar="SECONDS", help="limit per call or command run (default 10)")
    add_output_arguments(p, ("text", "json", "junit"))
    p.add_argument("--forward", type=_function_spec,
                   metavar="FILE.py:FUNC",
                   help="the implementation's cost J = FUNC(params, X, Y[, arch]), to tell a "
                        "wrong forward from a wrong backward")
    p.add_argument("--command", metavar='"CMD {case} {out}"',
                   help="validate a program instead of a Python function: it reads {case} "
                        "(.npz + .json, see docs/formats.md) and writes the gradients to {out} "
                        "(.npz); {python} is this interpreter")
    p.add_argument("--same-user", action="store_true",
                   help="run the implementation as the current user, not a throw-away uid "
                        "(matters only as root; for toolchains that uid cannot read)")
    p.add_argument("--no-shrink", action="store_true",
                   help="do not look for a smaller failing case")
    from ..isolation.levels import add_require_sandbox_argument

    add_require_sandbox_argument(p)


def _settings_from(args: argparse.Namespace, error: Callable[[str], None]) -> Settings:
    activations = list(args.activations)
    if args.leaky_slope is not None:
        if "leaky_relu" not in activations:
            error(f"argument --leaky-slope: {args.leaky_slope:g} given, but --activations "
                  f"{','.join(activations)} has no plain leaky_relu to apply it to")
        activations = [f"leaky_relu({args.leaky_slope:g})" if a == "leaky_relu" else a
                       for a in activations]
    if not args.random_architectures:
        if args.layers is None:
            error("argument --layers: required unless --random-architectures is given")
        if len(activations) != len(args.layers) - 1:
            error(f"argument --activations: {len(activations)} activation(s) "
                  f"{','.join(activations)} for --layers {','.join(map(str, args.layers))}, "
                  f"which needs {len(args.layers) - 1} (one per layer)")
        if len(args.loss) != 1:
            error(f"argument --loss: one loss for a fixed architecture, got "
                  f"{','.join(args.loss)} (a list needs --random-architectures)")
    bias = args.bias or ("column" if args.layout == "columns" else "row")
    try:
        return Settings(tuple(activations), tuple(args.loss), args.layers, args.layout, bias,
                        args.l2, args.random_architectures, args.cases, args.seed,
                        rtol=args.rtol, shrink=not args.no_shrink)
    except ValueError as exc:
        option = "--loss" if "loss" in str(exc) else "--activations"
        error(f"argument {option}: {exc}")
    raise AssertionError("unreachable")  # pragma: no cover


def run(args: argparse.Namespace) -> int:
    """``gradref validate``; returns the exit code."""
    def error(message: str) -> None:
        print(f"gradref validate: error: {message}", file=sys.stderr)
        raise _UsageExit()

    if args.require_sandbox:
        from ..isolation.levels import require_sandbox

        try:
            require_sandbox()
        except IsolationError as exc:
            print(f"gradref validate: --require-sandbox: {exc}", file=sys.stderr)
            return EXIT_ERROR
    try:
        if (args.target is None) == (args.command is None):
            error("give exactly one of FILE.py:FUNCTION and --command "
                  f"(got {'both' if args.target else 'neither'})")
        settings = _settings_from(args, error)
        limits = Limits(wall=args.timeout, cpu=args.timeout)
        target = args.target
        if args.command is not None:
            try:
                target = command_target(args.command, limits=limits, same_user=args.same_user)
            except ValueError as exc:
                error(f"argument --command: {exc}")
    except _UsageExit:
        return EXIT_ERROR
    try:
        report = validate(target, settings, forward=args.forward, limits=limits,
                          same_user=args.same_user)
    except IsolationError as exc:
        print(f"gradref validate: the sandbox could not run: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if isinstance(target, Target):
            target.close()
    text = report.render(args.format)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(report.summary())
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return report.exit_code


class _UsageExit(Exception):
    pass
