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
from gradref.reference.dropout import check_keep_prob
from gradref.reference.layouts import BIASES, LAYOUTS, default_bias

from ..isolation import IsolationError, Limits
from . import bound, constraints, reproduce
from .conventions import REDUCTIONS, RETURNS
from .engine import DATA_FAMILIES, EXIT_ERROR, EXTRA_FAMILIES, Settings, validate
from .targets import IO_FORMATS, Target, command_target, parse_function_spec

__all__ = ["add_arguments", "run"]

def _function_spec(text: str) -> str:
    try:
        parse_function_spec(text, "FILE.py:FUNCTION")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _families(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in DATA_FAMILIES + EXTRA_FAMILIES]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of "
                                         f"{','.join(DATA_FAMILIES + EXTRA_FAMILIES)}, "
                                         f"got {text!r}")
    return tuple(dict.fromkeys(names))


def _directory(text: str) -> str:
    import os

    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"expected an existing directory, got {text!r}")
    return text


def _sign(text: str) -> int:
    value = {"1": 1, "+1": 1, "-1": -1, "positive": 1, "negative": -1}.get(text.strip())
    if value is None:
        raise argparse.ArgumentTypeError(f"expected 1 or -1, got {text!r}")
    return value


def _keep_probability(text: str) -> float:
    """A keep probability in (0, 1]."""
    try:
        return check_keep_prob(float(text), "P")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a keep probability in (0, 1], got "
                                         f"{text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``gradref validate``."""
    p.add_argument("target", nargs="?", type=_function_spec,
                   metavar="FILE.py:FUNCTION",
                   help="the gradient function: grads = FUNCTION(params, X, Y[, arch])")
    p.add_argument("--layers", type=layer_sizes, metavar="2,16,16,1",
                   help="layer sizes n_0,…,n_L (fixed architecture)")
    p.add_argument("--activations", type=activation_list,
                   metavar="relu,…,sigmoid",
                   help="one per layer (with --random-architectures: the pool to draw from; "
                        "softmax only as an output)")
    p.add_argument("--hidden", type=activation_list, metavar="relu,tanh",
                   help="hidden activations: one per hidden layer, or one for all (with "
                        "--random-architectures: the pool); use with --output")
    p.add_argument("--output", type=activation_list, metavar="sigmoid",
                   help="the output activation, e.g. sigmoid, softmax or linear (with "
                        "--random-architectures: a comma-separated pool)")
    p.add_argument("--loss", required=True, type=loss_list, metavar="LOSS",
                   help="the loss (with --random-architectures: comma-separated pool)")
    p.add_argument("--max-depth", type=int_at_least(1), metavar="D",
                   help="with --random-architectures: at most D layers with weights "
                        "(default 3)")
    p.add_argument("--max-width", type=int_at_least(1), metavar="W",
                   help="with --random-architectures: at most W units per layer (default 5)")
    p.add_argument("--layout", choices=LAYOUTS, default="columns",
                   help="columns: X (n_0, m), W (n_l, n_{l-1}); rows: X (m, n_0), "
                        "W (n_{l-1}, n_l); torch: X (m, n_0), W (n_l, n_{l-1}), b flat "
                        "(nn.Linear) (default columns)")
    p.add_argument("--bias", choices=BIASES,
                   help="bias shape: column (n,1), row (1,n) or flat (n,) (default: column "
                        "for columns, row for rows, flat for torch)")
    p.add_argument("--bias-sign", type=_sign, default=1, metavar="{1,-1}",
                   help="-1: biases enter as Z = W·A - b (a bias input fixed at -1), so "
                        "db has the opposite sign (default 1)")
    p.add_argument("--reduction", choices=REDUCTIONS, default="mean",
                   help="sum: the cost (and so every gradient) is summed over the batch, "
                        "Σℓ + λ/2·ΣW², instead of averaged; mean_all: averaged over the batch "
                        "and the output units, as PyTorch's MSELoss/BCELoss (default mean)")
    p.add_argument("--per-example", action="store_true",
                   help="FUNCTION takes one example (x as a column (n_0,1), a row in the rows "
                        "layouts) and returns that example's gradient; gradref averages them")
    p.add_argument("--returns", choices=RETURNS, default="gradient",
                   help="update: FUNCTION returns the step -lr·gradient, or the new "
                        "parameters, or updates them in place; a --command writes the steps "
                        "as dW1, … or the new parameters as W1, … (needs --lr) (default "
                        "gradient)")
    p.add_argument("--lr", type=real_in(0.0, low_open=True), metavar="R",
                   help="the learning rate of --returns update")
    p.add_argument("--data", type=_families, default=DATA_FAMILIES, metavar="normal,…",
                   help=f"data families cycled through the cases (default all: "
                        f"{','.join(DATA_FAMILIES)}; saturated puts sigmoids in their tails, "
                        f"integer puts pre-activations exactly on kinks)")
    p.add_argument("--leaky-slope", type=real_in(-math.inf), metavar="S",
                   help="the negative-side slope of every plain leaky_relu named in "
                        "--activations, --hidden or --output")
    p.add_argument("--normalization", choices=("batchnorm", "layernorm"), default=None,
                   help="batch or layer normalisation between the affine map and the "
                        "activation of every hidden layer (parameters gamma1, beta1, … in the "
                        "bias form of --bias; train mode, batch statistics)")
    p.add_argument("--dropout", type=_keep_probability,
                   default=None, metavar="P",
                   help="inverted dropout with keep probability P after every hidden "
                        "activation; the function must take an arch keyword and use the keep "
                        "masks arch['masks']['D1'], … (bool, in its layout); a --command "
                        "program finds them in the case file")
    p.add_argument("--l2", type=real_in(0.0), default=0.0, metavar="L",
                   help="L2 strength λ of the cost (default 0)")
    p.add_argument("--random-architectures", action="store_true",
                   help="explore random architectures (see --max-depth, --max-width); "
                        "FUNCTION gets the architecture {layer_sizes, activations, loss, l2} "
                        "as arch= when it has such a parameter, else as a 4th argument")
    p.add_argument("--cases", type=int_at_least(1), default=5, metavar="N",
                   help="number of random cases (default 5)")
    p.add_argument("--seed", type=int_at_least(0), default=0, metavar="S",
                   help="seed of the cases (default 0)")
    p.add_argument("--rtol", type=real_in(0.0), metavar="R",
                   help="accept |got - expected| <= R·|expected| + R·max|expected| per element "
                        "(default: the checker's autograd tolerances for the answer's dtype, "
                        "~1e-10 for float64 and ~1e-4 for float32 arrays)")
    p.add_argument("--timeout", type=real_in(0.0, low_open=True), default=10.0,
                   metavar="SECONDS", help="limit per call or command run (default 10)")
    add_output_arguments(p, ("text", "json", "junit"))
    p.add_argument("--forward", type=_function_spec,
                   metavar="FILE.py:FUNC",
                   help="the implementation's cost J = FUNC(params, X, Y[, arch]), to tell a "
                        "wrong forward from a wrong backward")
    p.add_argument("--command", metavar='"CMD {case} {out}"',
                   help="validate a program instead of a Python function: it reads {case} "
                        "and writes the gradients to {out} (see docs/formats.md and --io); "
                        "{python} is this interpreter; exit status 3 means 'unsupported case'")
    p.add_argument("--io", choices=IO_FORMATS, default="npz",
                   help="--command's files: npz (.npz + .json sidecar in, .npz out) or json "
                        "(one JSON file in, one out) (default npz)")
    p.add_argument("--path", action="append", type=_directory, default=[], metavar="DIR",
                   help="an extra import root for FILE.py (repeatable); the file's own folder "
                        "is always one")
    p.add_argument("--same-user", action="store_true",
                   help="run the implementation as the current user, not a throw-away uid "
                        "(matters only as root; for toolchains that uid cannot read)")
    bound.add_arguments(p)
    constraints.add_arguments(p)
    reproduce.add_arguments(p)
    p.add_argument("--no-shrink", action="store_true",
                   help="do not look for a smaller failing case")
    from ..isolation.levels import add_require_sandbox_argument

    add_require_sandbox_argument(p)


def _architecture(args: argparse.Namespace, error: Callable[[str], None]):
    """(activations, hidden pool, output pool) from --activations or --hidden/--output."""
    def leaky(names):
        if names is None:
            return None
        return [f"leaky_relu({args.leaky_slope:g})"
                if a == "leaky_relu" and args.leaky_slope is not None else a for a in names]

    split = args.hidden is not None or args.output is not None
    if split and args.activations is not None:
        error("argument --activations: give either --activations or --hidden/--output, "
              "not both")
    if not split and args.activations is None:
        error("argument --activations: required (or --hidden and --output)")
    named = [*(args.activations or []), *(args.hidden or []), *(args.output or [])]
    if args.leaky_slope is not None and "leaky_relu" not in named:
        error(f"argument --leaky-slope: {args.leaky_slope:g} given, but the activations "
              f"{','.join(named)} have no plain leaky_relu to apply it to")
    if not split:
        return tuple(leaky(args.activations)), None, None
    if args.output is None:
        error("argument --output: required with --hidden (the output activation)")
    hidden, output = leaky(args.hidden or []), leaky(args.output)
    if args.random_architectures:
        return tuple(hidden + output), tuple(hidden) if args.hidden else (), tuple(output)
    if len(output) != 1:
        error(f"argument --output: one output activation for a fixed architecture, got "
              f"{','.join(output)}")
    if args.layers is None:
        error("argument --layers: required unless --random-architectures is given")
    n_hidden = len(args.layers) - 2
    if len(hidden) == 1 and n_hidden > 1:
        hidden = hidden * n_hidden
    if len(hidden) != n_hidden:
        error(f"argument --hidden: {len(hidden)} activation(s) {','.join(hidden) or '(none)'} "
              f"for --layers {','.join(map(str, args.layers))}, which has {n_hidden} hidden "
              f"layer(s) (give one per hidden layer, or one for all)")
    return tuple(hidden + output), None, None


def _settings_from(args: argparse.Namespace, error: Callable[[str], None]) -> Settings:
    activations, hidden, outputs = _architecture(args, error)
    if args.random_architectures:
        if args.layers is not None:
            error(f"argument --layers: not used with --random-architectures (it would be "
                  f"only a bound); say --max-depth {len(args.layers) - 1} --max-width "
                  f"{max(args.layers)}")
    else:
        for option in ("max_depth", "max_width"):
            if getattr(args, option) is not None:
                error(f"argument --{option.replace('_', '-')}: only with "
                      f"--random-architectures")
        if args.layers is None:
            error("argument --layers: required unless --random-architectures is given")
        if len(activations) != len(args.layers) - 1:
            error(f"argument --activations: {len(activations)} activation(s) "
                  f"{','.join(activations)} for --layers {','.join(map(str, args.layers))}, "
                  f"which needs {len(args.layers) - 1} (one per layer)")
        if len(args.loss) != 1:
            error(f"argument --loss: one loss for a fixed architecture, got "
                  f"{','.join(args.loss)} (a list needs --random-architectures)")
    if args.returns == "update" and args.lr is None:
        error("argument --lr: required with --returns update (the update is -lr·gradient)")
    if args.returns != "update" and args.lr is not None:
        error(f"argument --lr: {args.lr:g} given without --returns update")
    if args.reduction == "mean_all" and (args.l2 or "cross_entropy" in args.loss):
        error("argument --reduction: mean_all (the loss averaged over the batch and the output "
              "units) needs --l2 0 and a loss other than cross_entropy (softmax cross-entropy "
              "sums over the classes)")
    if args.per_example and args.l2:
        error(f"argument --per-example: the L2 term belongs to the batch, not to one example; "
              f"validate per-example code with --l2 0 (got --l2 {args.l2:g})")
    if args.per_example and args.command is not None:
        error("argument --per-example: a --command reads whole batches; loop over the "
              "examples in the program")
    bias = args.bias or default_bias(args.layout)
    try:
        return Settings(activations, tuple(args.loss), args.layers, args.layout, bias,
                        args.l2, args.random_architectures, 1 if args.case else args.cases, args.seed,
                        rtol=args.rtol, shrink=not args.no_shrink, hidden=hidden,
                        outputs=outputs, max_depth=args.max_depth, max_width=args.max_width,
                        data=args.data, reduction=args.reduction,
                        per_example=args.per_example, returns=args.returns, lr=args.lr,
                        bias_sign=args.bias_sign, normalization=args.normalization,
                        dropout=args.dropout, **constraints.settings_kwargs(args),
                        **reproduce.first_case(args))
    except ValueError as exc:
        text = str(exc)
        option = constraints.option_of(text) or (
            "--per-example" if "per_example" in text else "--loss" if "loss" in text
            else "--hidden" if "hidden" in text
            else "--dropout" if "dropout" in text
            else "--normalization" if "normalization" in text else "--activations")
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
        given = [x for x in (args.target, args.command, args.model) if x is not None]
        if len(given) != 1:
            error("give exactly one of FILE.py:FUNCTION and --command "
                  f"(got {'neither' if not given else 'both'}), or --model with --call")
        settings = _settings_from(args, error)
        limits = Limits(wall=args.timeout, cpu=args.timeout)
        target = bound.target_from(args, settings, limits, error) or args.target
        if args.command is not None:
            try:
                target = command_target(args.command, limits=limits, same_user=args.same_user,
                                        io=args.io)
            except ValueError as exc:
                error(f"argument --command: {exc}")
    except _UsageExit:
        return EXIT_ERROR
    try:
        report = validate(target, settings, forward=args.forward, limits=limits,
                          same_user=args.same_user, paths=args.path)
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
