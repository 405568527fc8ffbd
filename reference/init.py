r"""Weight initialisation schemes, seeded through :class:`numpy.random.Generator`.

Each scheme maps the fan-in :math:`n_{l-1}` and fan-out :math:`n_l` to the standard deviation of
a zero-mean normal draw for :math:`W_l` (shape (n_l, n_{l-1})); biases start at zero.

- ``he``: :math:`\sqrt{2/n_{l-1}}` (He et al., for relu-like layers);
- ``xavier`` (alias ``glorot``): :math:`\sqrt{2/(n_{l-1}+n_l)}` (Glorot normal);
- ``small``: 0.01, the classic "×0.01" of introductory courses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ._validate import describe

__all__ = ["INITIALIZERS", "init_params", "as_generator"]

INITIALIZERS: dict[str, Callable[[int, int], float]] = {
    "he": lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
    "xavier": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "glorot": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "small": lambda fan_in, fan_out: 0.01,
}


def as_generator(seed: object) -> np.random.Generator:
    """A Generator from an int seed, ``None`` (fresh entropy) or a Generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                        and seed >= 0):
        return np.random.default_rng(seed)
    raise TypeError(f"seed must be a non-negative int, None or a numpy Generator, "
                    f"got {describe(seed)}")


def init_params(layer_sizes: Sequence[int], scheme: str = "he",
                seed: object = 0) -> dict[str, np.ndarray]:
    """Parameters ``{"W1", "b1", …, "WL", "bL"}`` for ``layer_sizes`` = [n_0, …, n_L]."""
    if scheme not in INITIALIZERS:
        raise ValueError(f"unknown initialisation scheme {scheme!r}; valid: "
                         f"{', '.join(INITIALIZERS)}")
    rng = as_generator(seed)
    params: dict[str, np.ndarray] = {}
    for l in range(1, len(layer_sizes)):
        fan_in, fan_out = layer_sizes[l - 1], layer_sizes[l]
        std = INITIALIZERS[scheme](fan_in, fan_out)
        params[f"W{l}"] = rng.standard_normal((fan_out, fan_in)) * std
        params[f"b{l}"] = np.zeros((fan_out, 1))
    return params
