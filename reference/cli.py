r"""``gradref train``: a network trained on a toy dataset (see :mod:`gradref.checks.cli`).

``train`` (unset options take the dataset's recipe, :attr:`DatasetSpec.recipe`):

1. spawn three independent generators from ``--seed`` (data, split, training);
2. generate the dataset from :data:`~gradref.reference.datasets.DATASETS` (``--n``, ``--noise``);
   with an output layer of 2 units the labels become one-hot columns
   :math:`(1-y, y)^\top`;
3. hold out ``--test-fraction`` of the columns (:func:`~gradref.reference.datasets.train_test_split`);
4. train (:func:`~gradref.reference.training.train`; the standardiser is fitted on the training part);
5. print the final training and test cost J and accuracy; write ``--out`` (in ``--format``;
   ``--json PATH`` is ``--format json --out PATH``) and ``--plot``.

Exit codes: 0 success; 1 training diverged; 2 bad arguments (or ``--plot`` without matplotlib).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from .activations import activation_names
from .argtypes import (
    UsageError,
    activation_list,
    add_output_arguments,
    int_at_least,
    layer_sizes,
    output_of,
    real_in,
    writable_path,
)
from .datasets import DATASETS, dataset_names, train_test_split
from .init import INITIALIZERS
from .losses import loss_names
from .network import Network
from .optimizers import SCHEDULES
from .training import TrainingDiverged, optimizer_names, train

__all__ = ["add_train_arguments", "run_train"]

PROG = "gradref"


# --------------------------------------------------------------------------- argument types
_POSITIVE_INT, _NONNEGATIVE_INT = int_at_least(1), int_at_least(0)
_POSITIVE, _NONNEGATIVE = real_in(0.0, low_open=True), real_in(0.0)
_FRACTION = real_in(0.0, 1.0, low_open=True)


# --------------------------------------------------------------------------- train
_OUTPUT_ACTIVATION = {"bce": "sigmoid", "cross_entropy": "softmax"}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``train``; defaults marked "recipe" come from the dataset."""
    p.epilog = ("(default: recipe) means: taken from the chosen dataset's training recipe, the "
                "layer sizes, activations, loss, epochs, batch size, learning rate, optimizer "
                "and λ it is known to train with; any option given replaces that entry.")
    p.add_argument("--dataset", required=True, choices=dataset_names(), metavar="NAME",
                   help=f"dataset, one of: {', '.join(dataset_names())}")
    p.add_argument("--n", type=_POSITIVE_INT, metavar="N",
                   help="number of points (default: the dataset's)")
    p.add_argument("--noise", type=_NONNEGATIVE, metavar="S",
                   help="noise standard deviation (default: the dataset's; not for halfplanes)")
    p.add_argument("--test-fraction", type=_FRACTION, default=0.2, metavar="F",
                   help="share of the points held out for testing (default 0.2)")
    p.add_argument("--layers", type=layer_sizes, metavar="2,8,4,1",
                   help="layer sizes n_0,…,n_L; n_0 = 2 features, n_L = 1 (labels) or 2 "
                        "(one-hot classes) (default: recipe)")
    p.add_argument("--activations", type=activation_list, metavar="relu,…,sigmoid",
                   help=f"one per layer, from: {', '.join(activation_names())} "
                        f"(default: recipe, or its hidden activation then the loss's output)")
    p.add_argument("--loss", choices=loss_names(), metavar="LOSS",
                   help=f"one of: {', '.join(loss_names())} (default: recipe)")
    p.add_argument("--epochs", type=_POSITIVE_INT, metavar="N", help="(default: recipe)")
    p.add_argument("--batch-size", type=_POSITIVE_INT, metavar="B", help="(default: recipe)")
    p.add_argument("--lr", type=_POSITIVE, metavar="R", help="learning rate (default: recipe)")
    p.add_argument("--optimizer", choices=optimizer_names(), metavar="OPT",
                   help=f"one of: {', '.join(optimizer_names())} (default: recipe)")
    p.add_argument("--lr-schedule", choices=list(SCHEDULES), default="constant", metavar="NAME",
                   help=f"learning rate per epoch e = 0, 1, …, one of: {', '.join(SCHEDULES)} "
                        f"(lr, lr/(1 + k·e), lr/(1 + k·floor(e/T)); default constant)")
    p.add_argument("--decay-rate", type=_NONNEGATIVE, default=1.0, metavar="K",
                   help="k of the schedule (default 1)")
    p.add_argument("--time-interval", type=_POSITIVE_INT, default=1000, metavar="T",
                   help="T of the stepped schedule, in epochs (default 1000)")
    p.add_argument("--l2", type=_NONNEGATIVE, metavar="L",
                   help="L2 strength λ (default: recipe)")
    p.add_argument("--init", choices=list(INITIALIZERS), metavar="SCHEME",
                   help=f"one of: {', '.join(INITIALIZERS)} (default: recipe)")
    p.add_argument("--seed", type=_NONNEGATIVE_INT, default=0, metavar="S",
                   help="seeds data, split and training (default 0)")
    add_output_arguments(p, json_alias=True)
    p.add_argument("--plot", type=writable_path, metavar="PNG",
                   help="save the cost curve and decision boundary (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, print nothing")


def _resolve(args: argparse.Namespace) -> dict:
    """Fill unset options from the dataset recipe and check them against the dataset."""
    spec = DATASETS[args.dataset]
    recipe = spec.recipe
    settings = {k: recipe[k] for k in ("loss", "epochs", "batch_size", "lr", "optimizer", "l2",
                                       "init")}
    for key in settings:
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)

    data = spec.defaults
    if args.n is not None:
        if args.n < 2:
            raise UsageError("--n", f"expected at least 2 points, got {args.n}")
        data["n"] = args.n
    if args.noise is not None:
        if "noise" not in data:
            raise UsageError("--noise", f"dataset {args.dataset!r} takes no noise "
                                        f"(its options: {', '.join(data) or 'none'})")
        data["noise"] = args.noise

    layers = tuple(args.layers) if args.layers is not None else tuple(recipe["layers"])
    if args.activations is not None:
        activations = tuple(args.activations)
    elif args.layers is None:
        activations = tuple(recipe["activations"])
    else:
        out = _OUTPUT_ACTIVATION.get(settings["loss"], recipe["activations"][-1])
        activations = (recipe["activations"][0],) * (len(layers) - 2) + (out,)
    if len(activations) != len(layers) - 1:
        raise UsageError("--activations", f"{len(activations)} activation(s) "
                                          f"{','.join(activations)} for --layers "
                                          f"{','.join(map(str, layers))}, which needs "
                                          f"{len(layers) - 1} (one per layer)")
    return {"dataset": args.dataset, "data": data, "layers": layers,
            "activations": activations, "test_fraction": args.test_fraction,
            "seed": args.seed, "lr_schedule": args.lr_schedule, "decay_rate": args.decay_rate,
            "time_interval": args.time_interval, **settings}


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def run_train(args: argparse.Namespace) -> int:
    """The ``train`` command; returns the exit code."""
    cfg = _resolve(args)
    fmt, out = output_of(args)
    if args.plot is not None:
        from .plotting import MissingMatplotlib, require_matplotlib
        try:
            require_matplotlib()
        except MissingMatplotlib as exc:
            raise UsageError("--plot", str(exc)) from None

    data_rng, split_rng, train_rng = (np.random.default_rng(s)
                                      for s in np.random.SeedSequence(cfg["seed"]).spawn(3))
    X, Y = DATASETS[cfg["dataset"]].generate(**cfg["data"], seed=data_rng)
    layers = cfg["layers"]
    if layers[0] != X.shape[0]:
        raise UsageError("--layers", f"input size {layers[0]} in {','.join(map(str, layers))} "
                                     f"does not match dataset {cfg['dataset']!r}, which has "
                                     f"{X.shape[0]} features")
    if layers[-1] == 2:
        Y = np.vstack([1.0 - Y, Y])  # one-hot columns (class 0, class 1)
    elif layers[-1] != 1:
        raise UsageError("--layers", f"output size {layers[-1]} in {','.join(map(str, layers))}; "
                                     f"a binary dataset needs 1 (labels) or 2 (one-hot classes)")
    try:
        network = Network(layers, list(cfg["activations"]), cfg["loss"], cfg["l2"])
    except (TypeError, ValueError) as exc:
        raise UsageError("--loss", f"{exc} (with --activations {','.join(cfg['activations'])})"
                         ) from None
    try:
        split = train_test_split(X, Y, cfg["test_fraction"], seed=split_rng)
    except ValueError as exc:
        raise UsageError("--test-fraction", str(exc)) from None
    try:
        network.check_Y(split.Y_train, split.Y_train.shape[1])
    except ValueError as exc:
        raise UsageError("--loss", f"{exc}; the targets are 0/1 labels, or one-hot columns "
                                   f"when the output size is 2") from None

    quiet = args.quiet or (fmt == "json" and out is None)   # stdout is then the JSON alone
    say = (lambda *a: None) if quiet else print
    say(f"{cfg['dataset']}: {split.X_train.shape[1]} training and {split.X_test.shape[1]} test "
        f"points; {network!r}; {cfg['optimizer']} lr={cfg['lr']:g}, {cfg['epochs']} epochs of "
        f"batches of {cfg['batch_size']}")
    try:
        result = train(network, split.X_train, split.Y_train, epochs=cfg["epochs"],
                       batch_size=cfg["batch_size"], lr=cfg["lr"], optimizer=cfg["optimizer"],
                       schedule=cfg["lr_schedule"], decay_rate=cfg["decay_rate"],
                       time_interval=cfg["time_interval"], init=cfg["init"], seed=train_rng,
                       progress=False if args.quiet else None)
    except TrainingDiverged as exc:
        print(f"{PROG} train: error: {exc}", file=sys.stderr)
        return 1
    report = {
        "train_accuracy": result.accuracy(split.X_train, split.Y_train),
        "test_accuracy": result.accuracy(split.X_test, split.Y_test),
        "final_cost": result.final_cost,
        "train_cost": result.cost(split.X_train, split.Y_train),
        "test_cost": result.cost(split.X_test, split.Y_test),
        "epochs": cfg["epochs"],
        "seconds": result.seconds,
        "n_train": int(split.X_train.shape[1]),
        "n_test": int(split.X_test.shape[1]),
        "network": network.describe(),
        "optimizer": {"name": cfg["optimizer"], **result.optimizer.hyper, "lr": cfg["lr"]},
        "arguments": {**{k: v for k, v in cfg.items() if k != "data"}, **cfg["data"],
                      "layers": list(layers), "activations": list(cfg["activations"])},
        "cost_history": [_finite_or_none(c) for c in result.costs],
        "learning_rates": result.learning_rates.tolist(),
    }
    lines = [f"train  cost {report['train_cost']:.6f}  accuracy {report['train_accuracy']:.4f}",
             f"test   cost {report['test_cost']:.6f}  accuracy {report['test_accuracy']:.4f}",
             f"({report['seconds']:.2f} s)"]
    for line in lines:
        say(line)
    text = (json.dumps(report, indent=2, allow_nan=False) if fmt == "json" else "\n".join(lines)) + "\n"
    if out is not None:
        out.write_text(text, encoding="utf-8")
        say(f"wrote {out}")
    elif fmt == "json":
        sys.stdout.write(text)
    if args.plot is not None:
        from .plotting import plot_training
        plot_training(result, split.X_train, split.Y_train, args.plot, X_test=split.X_test,
                      Y_test=split.Y_test, title=f"{cfg['dataset']}: {network!r}")
        say(f"wrote {args.plot}")
    return 0
