"""What the implementation can build, and the label convention it reads.

Architecture constraints, so that the random architectures never draw a case the
implementation cannot build (:class:`~.engine.Settings` fields, ``gradref validate`` options):

* ``min_width`` (``--min-width W``): every hidden layer at least W units wide;
* ``same_width`` (``--same-width``): all hidden layers of one width;
* ``one_hidden`` (``--one-hidden-activation``): one hidden activation for all hidden layers;
* ``pairs`` (``--pairs sigmoid:bce,softmax:cross_entropy``): the (output activation, loss)
  pairs the implementation supports.

``labels="index"`` (``--labels index``): the targets are integer class labels, shape (m,):
the index of the one-hot row for ``cross_entropy``, the 0/1 label for ``bce`` with one output
unit (random architectures then draw one output unit for ``bce``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LABELS", "INDEX_LOSSES", "to_labels", "check", "constrain", "parse_pairs",
           "add_arguments", "settings_kwargs", "option_of"]

LABELS = ("onehot", "index")
#: Losses whose targets are class labels.
INDEX_LOSSES = ("cross_entropy", "bce")


def to_labels(Y: np.ndarray, loss: str) -> np.ndarray:
    """Canonical targets ``Y`` (n_L, m) as integer labels (m,)."""
    if loss == "cross_entropy":
        return np.argmax(Y, axis=0).astype(np.int64)
    if loss == "bce" and Y.shape[0] == 1:
        return Y[0].astype(np.int64)
    raise ValueError(f"labels 'index' need cross_entropy, or bce with one output unit; got "
                     f"loss {loss!r} with {Y.shape[0]} output units")


def parse_pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``"sigmoid:bce,softmax:cross_entropy"`` -> pairs; ``ValueError`` naming a bad one."""
    from gradref.reference import get_activation, get_loss

    pairs = []
    for item in (x.strip() for x in str(text).split(",")):
        act, sep, loss = item.partition(":")
        if not sep or not act or not loss:
            raise ValueError(f"expected OUTPUT:LOSS pairs such as sigmoid:bce, got {item!r}")
        get_activation(act)
        get_loss(loss)
        pairs.append((act, loss))
    return tuple(dict.fromkeys(pairs))


def check(settings) -> None:
    """``ValueError`` naming the field for constraints that contradict the other settings."""
    if settings.labels not in LABELS:
        raise ValueError(f"labels must be one of {', '.join(LABELS)}, got {settings.labels!r}")
    if settings.labels == "index":
        bad = [x for x in settings.losses if x not in INDEX_LOSSES]
        if bad:
            raise ValueError(f"labels 'index' (integer class labels) need the loss "
                             f"cross_entropy or bce, got loss {', '.join(bad)}")
        if not settings.random_architectures and settings.losses == ("bce",) \
                and settings.layers[-1] != 1:
            raise ValueError(f"labels 'index' with bce need one output unit, got layers "
                             f"{list(settings.layers)}")
    given = [n for n in ("min_width", "same_width", "one_hidden", "pairs")
             if getattr(settings, n) not in (None, False)]
    if given and not settings.random_architectures:
        raise ValueError(f"{', '.join(given)} only constrain random architectures (a fixed "
                         f"architecture is built as given)")
    if settings.min_width is not None:
        if isinstance(settings.min_width, bool) or not isinstance(settings.min_width, int) \
                or settings.min_width < 1:
            raise ValueError(f"min_width must be a positive integer, got {settings.min_width!r}")
        if settings.min_width > (settings.max_width or 5):
            raise ValueError(f"min_width {settings.min_width} exceeds max_width "
                             f"{settings.max_width or 5}")


def constrain(settings, sizes: list[int], hidden: list[str], loss: str,
              rng: np.random.Generator) -> tuple[list[int], list[str]]:
    """The drawn widths and hidden activations under the constraints (draws nothing more
    when none is set, so the cases of unconstrained settings are unchanged)."""
    top = settings.max_width or 5
    if settings.min_width is not None:
        sizes[1:-1] = [w if w >= settings.min_width else
                       int(rng.integers(settings.min_width, top + 1)) for w in sizes[1:-1]]
    if settings.same_width and len(sizes) > 3:
        sizes[1:-1] = [sizes[1]] * (len(sizes) - 2)
    if settings.one_hidden and hidden:
        hidden = [hidden[0]] * len(hidden)
    if settings.labels == "index" and loss == "bce":
        sizes[-1] = 1
    return sizes, hidden


def add_arguments(p) -> None:
    """The options of this module for ``gradref validate``."""
    from gradref.reference.argtypes import int_at_least

    p.add_argument("--labels", choices=LABELS, default="onehot",
                   help="the targets as given to the implementation: one-hot Y (default) or "
                        "integer class labels, shape (m,) (cross_entropy, or bce with one "
                        "output)")
    p.add_argument("--min-width", type=int_at_least(1), metavar="W",
                   help="random architectures: every hidden layer at least W wide")
    p.add_argument("--same-width", action="store_true",
                   help="random architectures: all hidden layers of one width")
    p.add_argument("--one-hidden-activation", action="store_true",
                   help="random architectures: one hidden activation for all hidden layers")
    p.add_argument("--pairs", type=_pairs_type, metavar="sigmoid:bce,…",
                   help="random architectures: the output-activation:loss pairs the "
                        "implementation supports")


def _pairs_type(text: str):
    import argparse

    try:
        return parse_pairs(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_OPTIONS = {"labels": "--labels", "min_width": "--min-width", "same_width": "--same-width",
            "one_hidden": "--one-hidden-activation", "pairs": "--pairs"}


def option_of(message: str) -> str | None:
    """The option a :func:`check` message is about (it starts with the field's name)."""
    first = message.split(" ", 1)[0].rstrip(",")
    return _OPTIONS.get(first)


def settings_kwargs(args) -> dict:
    """The :class:`~.engine.Settings` keywords of the parsed options."""
    return {"labels": args.labels, "min_width": args.min_width,
            "same_width": args.same_width, "one_hidden": args.one_hidden_activation,
            "pairs": args.pairs}
