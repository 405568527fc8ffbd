"""Hypothesis strategies for random architectures and well-conditioned network inputs.

Public and stable, for gradref's own suite and for other projects' tests::

    from hypothesis import given
    from gradref.checks.strategies import network_cases

    @given(network_cases(max_depth=3))
    def test_my_backprop(case):
        net, params, X, Y = case
        ...

Every strategy takes keyword-only arguments with small documented defaults and validates them
when it is built, raising an error that names the argument and its value. Arrays are drawn from
a NumPy Generator seeded by Hypothesis, so examples are reproducible and shrink by structure
(depth, widths, batch size) rather than by individual floats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gradref.reference import LOSSES, Network, activation_names, get_activation, get_loss
from hypothesis import strategies as st

__all__ = ["valid_pairings", "hidden_activations", "architectures", "network_inputs",
           "network_cases", "make_targets"]

#: Parametrised activations the strategies include besides each registered default.
EXTRA_ACTIVATIONS = ("leaky_relu(0.05)", "elu(0.5)")


def hidden_activations() -> list[str]:
    """Every registered activation (default parameters) plus :data:`EXTRA_ACTIVATIONS`."""
    return activation_names() + list(EXTRA_ACTIVATIONS)


def valid_pairings() -> list[tuple[str, str]]:
    """Every (output activation spec, loss name) pair that the loss accepts."""
    pairs = []
    for loss_name in LOSSES:
        loss = get_loss(loss_name)
        pairs += [(act, loss_name) for act in hidden_activations()
                  if loss.accepts(get_activation(act))]
    return pairs


def _check_range(lo_name: str, lo: int, hi_name: str, hi: int, floor: int) -> None:
    for name, value in ((lo_name, lo), (hi_name, hi)):
        if isinstance(value, bool) or not isinstance(value, int) or value < floor:
            raise ValueError(f"{name} must be an integer >= {floor}, got {value!r}")
    if lo > hi:
        raise ValueError(f"{lo_name}={lo} must not exceed {hi_name}={hi}")


def _check_activations(name: str, values: Sequence[str] | None) -> list[str]:
    if values is None:
        return hidden_activations()
    if isinstance(values, str) or not values:
        raise ValueError(f"{name} must be a non-empty list of activation names, got {values!r}")
    for v in values:
        get_activation(v)  # raises, naming the valid activations, on an unknown one
    return list(values)


@st.composite
def _architectures(draw, min_depth, max_depth, min_width, max_width, hidden, pairs, l2,
                   normalization=(None,), dropout=(None,)):
    depth = draw(st.integers(min_depth, max_depth))
    sizes = draw(st.lists(st.integers(min_width, max_width), min_size=depth + 1,
                          max_size=depth + 1))
    output, loss = draw(st.sampled_from(pairs))
    if loss == "cross_entropy" and sizes[-1] < 2:
        sizes[-1] = 2  # a categorical target needs at least two classes to be interesting
    acts = [draw(st.sampled_from(hidden)) for _ in range(depth - 1)] + [output]
    lam = draw(st.sampled_from(l2))
    options = {}
    # drawn only when there is a choice, so the plain architectures' examples are unchanged
    if len(normalization) > 1 or normalization[0] is not None:
        options["normalization"] = [draw(st.sampled_from(normalization)) for _ in range(depth - 1)]
    if len(dropout) > 1 or dropout[0] is not None:
        options["dropout"] = [draw(st.sampled_from(dropout)) for _ in range(depth - 1)]
    return Network(sizes, acts, loss, l2=lam, **options)


def architectures(*, min_depth: int = 1, max_depth: int = 5, min_width: int = 1,
                  max_width: int = 8, hidden: Sequence[str] | None = None,
                  pairings: Sequence[tuple[str, str]] | None = None,
                  l2: Sequence[float] = (0.0, 0.7),
                  normalization: Sequence[str | None] = (None,),
                  dropout: Sequence[float | None] = (None,)) -> st.SearchStrategy[Network]:
    """Random :class:`~gradref.reference.Network` objects.

    Depth (number of layers with parameters) in [min_depth, max_depth], every width (input and
    output included) in [min_width, max_width], hidden activations drawn from ``hidden`` (default
    :func:`hidden_activations`), the output activation and loss from ``pairings`` (default
    :func:`valid_pairings`), λ from ``l2``; each hidden layer's normalisation from
    ``normalization`` (None, "batchnorm", "layernorm") and its keep probability from
    ``dropout`` (None or p in (0, 1]). A network with dropout still needs its masks
    (:func:`network_cases` fixes them).
    """
    _check_range("min_depth", min_depth, "max_depth", max_depth, 1)
    _check_range("min_width", min_width, "max_width", max_width, 1)
    hidden = _check_activations("hidden", hidden)
    if pairings is None:
        pairings = valid_pairings()
    elif not pairings:
        raise ValueError(f"pairings must be a non-empty list of (activation, loss), got {pairings!r}")
    else:
        for act, loss in pairings:
            if not get_loss(loss).accepts(get_activation(act)):
                raise ValueError(f"pairings contains ({act!r}, {loss!r}), which the loss does "
                                 f"not accept")
    if not l2 or any(not isinstance(v, (int, float)) or v < 0 for v in l2):
        raise ValueError(f"l2 must be a non-empty list of non-negative numbers, got {l2!r}")
    for name, values, check in (("normalization", normalization, Network._check_norm),
                                ("dropout", dropout, Network._check_keep)):
        if isinstance(values, str) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{name} must be a non-empty list of choices, got {values!r}")
        for i, v in enumerate(values):
            check(f"{name}[{i}]", v)
    return _architectures(min_depth, max_depth, min_width, max_width, hidden,
                          list(pairings), list(l2), tuple(normalization), tuple(dropout))


def make_targets(net: Network, m: int, rng: np.random.Generator) -> np.ndarray:
    """Targets of shape (n_L, m) inside the loss's domain, drawn from ``rng``.

    bce: 0/1 labels; cross_entropy: one-hot columns; squared losses: standard normal values
    (in the output activation's range when it is bounded).
    """
    n = net.layer_sizes[-1]
    name = net.loss.name
    if name == "bce":
        return (rng.random((n, m)) < 0.5).astype(np.float64)
    if name == "cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    lo, hi = net.activations[-1].output_range
    y = rng.standard_normal((n, m))
    if np.isfinite(lo) and np.isfinite(hi):
        y = lo + (hi - lo) * rng.random((n, m))
    return y


def _params(net: Network, rng: np.random.Generator, scale: float) -> dict[str, np.ndarray]:
    params = net.init_params("xavier", seed=rng)
    for l in range(1, net.L + 1):
        params[f"W{l}"] = params[f"W{l}"] * scale
        params[f"b{l}"] = 0.1 * rng.standard_normal(params[f"b{l}"].shape)
        if f"gamma{l}" in params:
            params[f"gamma{l}"] = 1.0 + 0.5 * rng.standard_normal(params[f"gamma{l}"].shape)
            params[f"beta{l}"] = 0.3 * rng.standard_normal(params[f"beta{l}"].shape)
    return params


@st.composite
def _inputs(draw, net, min_batch, max_batch, scale):
    m = draw(st.integers(min_batch, max_batch))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    params = _params(net, rng, scale)
    X = rng.standard_normal((net.layer_sizes[0], m))
    return params, X, make_targets(net, m, rng)


def network_inputs(net: Network, *, min_batch: int = 1, max_batch: int = 16,
                   scale: float = 1.0) -> st.SearchStrategy:
    """``(params, X, Y)`` for ``net``: Glorot-normal weights times ``scale``, small random
    biases (γ near 1, small β), standard-normal ``X`` of batch size in [min_batch,
    max_batch], valid targets."""
    if not isinstance(net, Network):
        raise TypeError(f"net must be a reference Network, got {type(net).__name__}")
    _check_range("min_batch", min_batch, "max_batch", max_batch, 1)
    if not isinstance(scale, (int, float)) or not 0 < scale < 100:
        raise ValueError(f"scale must be a number in (0, 100), got {scale!r}")
    return _inputs(net, min_batch, max_batch, float(scale))


def network_cases(*, min_batch: int = 1, max_batch: int = 16, scale: float = 1.0,
                  **arch) -> st.SearchStrategy:
    """``(net, params, X, Y)``: :func:`architectures` (keyword arguments passed on) with
    :func:`network_inputs`; a network with dropout comes with its masks fixed
    (:meth:`~gradref.reference.Network.with_masks`, drawn from a Hypothesis seed)."""
    return architectures(**arch).flatmap(
        lambda net: network_inputs(net, min_batch=min_batch, max_batch=max_batch,
                                   scale=scale).flatmap(lambda p: _with_masks(net, p)))


def _with_masks(net: Network, case: tuple) -> st.SearchStrategy:
    if not net.mask_shapes(1):
        return st.just((net, *case))
    m = case[1].shape[1]
    return st.integers(0, 2**32 - 1).map(
        lambda seed: (net.with_masks(net.draw_masks(m, np.random.default_rng(seed))), *case))
