r"""Computations of the built-in `initialization` assignment (and of `planar`'s initialiser).

``initialize_layers``: fresh parameters ``{"W1", "b1", …}`` for ``layers_dims`` (or the planar
network's ``n_x, n_h, n_y``), :math:`W_l` of shape (n_l, n_{l-1}) and :math:`b_l = 0` (n_l, 1),
in the course's RNG convention: ``np.random.seed(seed)`` once, then one
``np.random.randn(n_l, n_{l-1})`` per layer, in layer order, times the scheme's scale

* ``zeros``: every weight 0 (no draw);
* ``scaled``: the constant ``scale`` (×10 in initialize_parameters_random, ×0.01 in planar);
* ``he``: :math:`\sqrt{2/n_{l-1}}`; ``xavier``: :math:`\sqrt{1/n_{l-1}}` (the course's
  "Xavier").

``draws = "exact"`` (the default) expects exactly those values; ``draws = "any"`` accepts them and
any other draw whose spread is right: a standard deviation within ``band`` (relative, widened to
five standard errors of the estimate on a small matrix) of the scheme's and a mean near zero.
The reference draw is NumPy's legacy ``RandomState(seed)``, the generator behind
``np.random.seed`` and ``np.random.randn``; the scales are those of :mod:`gradref.reference.init`
(``he``, ``small``) restated per scheme.

A failing weight is named (:func:`diagnose`): the seeded draw times another scale (Xavier's
:math:`\sqrt{1/n_{l-1}}` for He's, the layer's own size :math:`n_l` for :math:`n_{l-1}`, ×0.01
for ×10, no scale), the transposed draw ``randn(n_{l-1}, n_l).T``, another seed, a uniform
``rand`` draw, random weights where zeros are asked, a right spread without the seeded values.
"""

from __future__ import annotations

import math

import numpy as np
from gradref.checks.diagnosis import Finding
from gradref.reference.init import INITIALIZERS

from ..computations import Built, Computation, RandomWeights, register

__all__ = ["SCHEMES", "DRAWS", "scheme_std", "seeded_draws", "diagnose"]

#: The initialisation schemes of the courses.
SCHEMES = ("zeros", "scaled", "he", "xavier")
#: ``exact``: the seeded values only; ``any``: any draw of the right distribution (and those).
DRAWS = ("exact", "any")
#: Other seeds tried when a weight is not the seeded draw (a student's seed(1) for seed(3)).
_OTHER_SEEDS = range(0, 11)
#: Relative agreement of a weight with a scaled reference draw (rounding only).
_PROPORTIONAL_RTOL = 1e-6


def scheme_std(scheme: str, fan_in: int, fan_out: int, scale: float) -> float:
    """The standard deviation of W_l's entries under ``scheme`` (0 for zeros)."""
    if scheme == "zeros":
        return 0.0
    if scheme == "scaled":
        return float(scale)
    if scheme == "he":
        return INITIALIZERS["he"](fan_in, fan_out)
    return math.sqrt(1.0 / fan_in)


def seeded_draws(seed: int, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """``np.random.seed(seed)`` then one ``np.random.randn(*shape)`` per shape, unscaled."""
    rs = np.random.RandomState(seed)
    return [rs.randn(*shape) for shape in shapes]


def _wrong_scales(scheme: str, fan_in: int, fan_out: int, scale: float,
                  prev: str, own: str) -> tuple[tuple[float, str], ...]:
    """Other standard deviations, each with the mistake it names (the right one left out)."""
    right = scheme_std(scheme, fan_in, fan_out, scale)
    table = (
        (math.sqrt(1.0 / fan_in), f"that is sqrt(1/{prev}), Xavier initialisation; He "
                                  f"initialisation multiplies by sqrt(2/{prev})"),
        (math.sqrt(2.0 / fan_in), f"that is sqrt(2/{prev}), He initialisation"),
        (math.sqrt(2.0 / fan_out), f"that is sqrt(2/{own}): the layer's own size {own} "
                                   f"where the previous layer's {prev} belongs"),
        (math.sqrt(1.0 / fan_out), f"that is sqrt(1/{own}): the layer's own size {own} "
                                   f"where the previous layer's {prev} belongs, and 1 for 2"),
        (math.sqrt(2.0 / (fan_in + fan_out)), f"that is sqrt(2/({prev} + {own})), Glorot's "
                                              f"normal scale"),
        (2.0 / fan_in, f"that is 2/{prev}: the square root is missing"),
        (10.0, "that is ×10, initialize_parameters_random's scale"),
        (0.01, "that is ×0.01, the small scale of other assignments"),
        (1.0, "that is plain np.random.randn(...): the scale factor is missing"),
    )
    return tuple((v, text) for v, text in table
                 if right == 0 or abs(v / right - 1) > _PROPORTIONAL_RTOL)


def _scale_text(scheme: str, std: float, prev: str, scale: float) -> str:
    return {"scaled": f"×{scale:g}", "he": f"sqrt(2/{prev})", "xavier": f"sqrt(1/{prev})",
            "zeros": "0"}[scheme]


def _names(inputs: str, l: int, L: int) -> tuple[str, str]:
    """How the previous and the own layer size read in the student's code."""
    if inputs == "planar":
        sizes = ["n_x", "n_h", "n_y"] if L == 2 else [f"n_{k}" for k in range(L + 1)]
        return sizes[l - 1], sizes[l]
    return f"layers_dims[{l - 1}]", f"layers_dims[{l}]"


def _build(case, lay, spec, options) -> Built:
    dims = [int(n) for n in case.layer_dims]
    L = len(dims) - 1
    scheme, scale = options.get("scheme", "he"), float(options.get("scale", 0.01))
    seed, draws = options.get("seed", 3), options.get("draws", "exact")
    band = float(options.get("band", 0.1))
    inputs = options.get("names", "layers_dims")
    if scheme not in SCHEMES:
        raise ValueError(f"options.scheme: {scheme!r} is not one of {', '.join(SCHEMES)}")
    if draws not in DRAWS:
        raise ValueError(f"options.draws: {draws!r} is not one of {', '.join(DRAWS)}")
    shapes = [(dims[l], dims[l - 1]) for l in range(1, L + 1)]
    raw = seeded_draws(int(seed), shapes) if scheme != "zeros" else [np.zeros(s) for s in shapes]
    params: dict[str, object] = {}
    stds = {}
    for l in range(1, L + 1):
        prev, own = _names(inputs, l, L)
        std = scheme_std(scheme, dims[l - 1], dims[l], scale)
        stds[l] = std
        exact = raw[l - 1] * std
        if draws == "any" and scheme != "zeros":
            n = exact.size
            params[f"W{l}"] = RandomWeights(
                exact.shape, std_max=math.inf, target=std,
                band=max(band, 5.0 / math.sqrt(2.0 * n)),
                scale_text=_scale_text(scheme, std, prev, scale),
                wrong_scales=_wrong_scales(scheme, dims[l - 1], dims[l], scale, prev, own),
                exact=lay.weight(exact))
        else:
            params[f"W{l}"] = lay.weight(exact)
        params[f"b{l}"] = np.zeros(lay.bias_shape(dims[l]))
    q = {"layers_dims": dims, "n_x": dims[0], "n_h": dims[1] if L > 1 else dims[-1],
         "n_y": dims[-1], "parameters": params}
    init = {"dims": dims, "scheme": scheme, "scale": scale, "seed": int(seed), "stds": stds,
            "inputs": inputs}
    return Built(q, {"m": None, "net": None, "params": None, "cache": None, "X": None, "Y": None,
                     "init": init})


def _proportional(got: np.ndarray, draw: np.ndarray) -> float | None:
    """The factor c with got = c·draw (to rounding), or None."""
    if got.shape != draw.shape or not np.any(draw):
        return None
    c = float(np.vdot(got, draw) / np.vdot(draw, draw))
    fit = c * draw
    if np.max(np.abs(got - fit)) <= _PROPORTIONAL_RTOL * max(float(np.max(np.abs(fit))), 1e-300):
        return c
    return None


def _finding(key: str, text: str, **details) -> Finding:
    return Finding((key,), "initialization", text, details)


def diagnose(key: str, got: np.ndarray | None, expected: object, built: Built) -> Finding | None:
    """The initialisation mistake that ``got`` (the student's ``key``, ``"W2"`` or ``"b2"``)
    shows, or None when none of the known ones fits."""
    init = built.context.get("init")
    if got is None or init is None or not isinstance(expected, np.ndarray) or key[:1] not in "Wb":
        return None
    l = int(key[1:]) if key[1:].isdigit() else 0
    dims, scheme, seed = init["dims"], init["scheme"], init["seed"]
    if not 1 <= l < len(dims):
        return None
    prev, own = _names(init["inputs"], l, len(dims) - 1)
    if key[0] == "b":
        if got.size and np.any(got != 0):
            return _finding(key, f"{key} must start at zero: np.zeros(({own}, 1)); only the "
                                 f"weights are random")
        return None
    if got.shape != expected.shape:
        if got.shape == expected.shape[::-1]:
            return _finding(key, f"{key} has shape {got.shape}, the transpose of {expected.shape}: "
                                 f"W{l} is ({own}, {prev})")
        return None
    if scheme == "zeros":
        if np.any(got != 0):
            return _finding(key, f"{key} is not all zeros: initialize_parameters_zeros sets "
                                 f"every weight to 0, np.zeros(({own}, {prev}))")
        return None
    if not np.any(got):
        return _finding(key, f"{key} is all zeros: the weights must be random, or every unit of "
                             f"the layer computes the same (symmetry is never broken)")
    std = init["stds"][l]
    right = _scale_text(scheme, std, prev, init["scale"])
    draw_call = f"np.random.randn({own}, {prev})"
    shapes = [(dims[k], dims[k - 1]) for k in range(1, len(dims))]
    c = _proportional(got, seeded_draws(seed, shapes)[l - 1])
    if c is not None:
        named = [text for v, text in _wrong_scales(scheme, dims[l - 1], dims[l], init["scale"],
                                                   prev, own)
                 if abs(c / v - 1) <= 1e-6]
        return _finding(key, f"{key} is the right seeded draw {draw_call} times {c:.6g} where "
                             f"{right} = {std:.6g} is expected"
                        + (f": {named[0]}" if named else ""), factor=c)
    transposed = [d.T for d in seeded_draws(seed, [s[::-1] for s in shapes])]
    if _proportional(got, transposed[l - 1]) is not None:
        return _finding(key, f"{key} is np.random.randn({prev}, {own}) transposed: the same "
                             f"numbers in another order; draw {draw_call} as the course does")
    for other in _OTHER_SEEDS:
        if other != seed and _proportional(got, seeded_draws(other, shapes)[l - 1]) is not None:
            return _finding(key, f"{key} is the draw after np.random.seed({other}); the "
                                 f"assignment seeds np.random.seed({seed})", seed=other)
    if float(np.min(got)) >= 0:
        return _finding(key, f"{key} has only non-negative entries: np.random.rand draws "
                             f"uniformly from [0, 1); the weights are normal draws, "
                             f"np.random.randn")
    spread = float(np.std(got))
    return _finding(key, f"{key} is not the values of np.random.seed({seed}) followed by one "
                         f"np.random.randn(n_l, n_(l-1)) per layer in layer order, with the scale {right} "
                         f"(its standard deviation is {spread:.3g}, the expected {std:.3g}): the "
                         f"seed call is missing, a draw is extra or missing, or the layers are "
                         f"drawn in another order")


register(Computation(
    "initialize_layers",
    "Fresh parameters in the course's RNG convention: np.random.seed(seed), then per layer "
    "W_l = np.random.randn(n_l, n_(l-1)) times the scheme's scale (zeros: 0; scaled: scale; "
    "he: sqrt(2/n_(l-1)); xavier: sqrt(1/n_(l-1))), b_l zeros. draws = 'exact': those values; "
    "'any': those or any draw with the right spread.",
    "network",
    inputs={"layers_dims": "[n_0, …, n_L] as a list of int", "n_x": "n_0",
            "n_h": "n_1 (the hidden layer)", "n_y": "n_L"},
    outputs={"parameters": "{'W1', 'b1', …}"},
    kinds={"parameters": "dict"},
    options={"scheme": "he", "scale": 0.01, "seed": 3, "draws": "exact", "band": 0.1,
             "names": "layers_dims"},
    build=_build, batched=False, diagnose_leaf=diagnose,
    option_choices={"scheme": SCHEMES, "draws": DRAWS, "names": ("layers_dims", "planar")},
))
