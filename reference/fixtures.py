r"""Golden fixtures: ``gradref fixtures --out DIR``.

Every registered activation and loss, and the edge cases (batch of one, width one, saturated
units, pre-activations exactly at a kink, leaky slope 0.05, L2) as case files of format
``gradref-fixtures/1`` holding the inputs, the parameters, every ``Z{l}`` and ``A{l}``, the cost
``J`` and every gradient; plus ``index.json`` and the format document as ``README.md``
(:data:`gradref.reference.casefile.FORMAT_DOC`). Output is deterministic, byte for byte: each fixture
draws from a generator seeded by its name.
"""

from __future__ import annotations

import argparse
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .activations import activation_names
from .casefile import (
    FIXTURE_FORMAT,
    FORMAT_DOC,
    Case,
    CaseFileError,
    _json_text,
    read_case,
    write_case,
)
from .network import Network

__all__ = ["FixtureSpec", "FIXTURES", "fixture_inputs", "fixture_arrays", "write_fixtures",
           "load_fixtures", "add_arguments", "run"]

#: Parametrised activations covered besides each registered default.
EXTRA_ACTIVATIONS = ("leaky_relu(0.05)", "elu(0.5)")


@dataclass(frozen=True)
class FixtureSpec:
    """One golden case: architecture, batch size, how the data are drawn, what it covers.

    ``data``: ``"normal"`` (Glorot-normal weights × ``scale``, small biases, standard-normal
    inputs) or ``"integer"`` (small integers everywhere, so some pre-activations are exactly 0).
    """

    name: str
    layer_sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    m: int = 5
    l2: float = 0.0
    data: str = "normal"
    scale: float = 1.0
    tags: tuple[str, ...] = ()
    description: str = ""
    network: Network = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", self.name):
            raise ValueError(f"fixture name must be lower-case letters, digits and _, "
                             f"got {self.name!r}")
        if self.data not in ("normal", "integer"):
            raise ValueError(f"fixture {self.name}: data must be 'normal' or 'integer', "
                             f"got {self.data!r}")
        object.__setattr__(self, "network",
                           Network(self.layer_sizes, list(self.activations), self.loss, self.l2))

    @property
    def all_tags(self) -> list[str]:
        """The edge-case tags, then ``activation:SPEC`` for each activation and ``loss:NAME``."""
        acts = dict.fromkeys(a.spec for a in self.network.activations)
        return [*self.tags, *(f"activation:{a}" for a in acts), f"loss:{self.loss}"]


def _slug(spec: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", spec.lower()).strip("_")


def _default_fixtures() -> list[FixtureSpec]:
    specs = []
    for act in activation_names() + list(EXTRA_ACTIVATIONS):
        specs.append(FixtureSpec(
            f"activation_{_slug(act)}", (3, 4, 3), (act, act), "square",
            tags=("leaky-slope",) if act == "leaky_relu(0.05)" else (),
            description=f"{act} in the hidden and the output layer, squared loss"))
    specs += [
        FixtureSpec("loss_bce", (3, 4, 2), ("tanh", "sigmoid"), "bce",
                    description="binary cross-entropy after sigmoid, two output units"),
        FixtureSpec("loss_cross_entropy", (3, 4, 3), ("relu", "softmax"), "cross_entropy",
                    description="categorical cross-entropy after softmax, one-hot targets"),
        FixtureSpec("loss_square", (3, 4, 2), ("tanh", "linear"), "square",
                    description="squared error (no 1/2) after a linear output"),
        FixtureSpec("loss_half_square", (3, 4, 2), ("sigmoid", "tanh"), "half_square",
                    description="half squared error after a tanh output"),
        FixtureSpec("batch_1", (3, 4, 1), ("relu", "sigmoid"), "bce", m=1, tags=("batch-1",),
                    description="a single example (m = 1)"),
        FixtureSpec("width_1", (1, 1, 1, 1), ("tanh", "leaky_relu", "sigmoid"), "bce", m=4,
                    tags=("width-1",), description="every layer one unit wide"),
        FixtureSpec("saturated_sigmoid_bce", (2, 3, 2), ("tanh", "sigmoid"), "bce", m=6,
                    scale=25.0, tags=("saturated",),
                    description="weights ×25: tanh and sigmoid saturated, confident right and "
                                "wrong predictions"),
        FixtureSpec("saturated_softmax", (2, 3, 3), ("sigmoid", "softmax"), "cross_entropy",
                    m=6, scale=25.0, tags=("saturated",),
                    description="weights ×25: saturated sigmoid units and near one-hot softmax"),
        FixtureSpec("kinks_relu", (3, 4, 3, 1), ("relu", "relu", "sigmoid"), "bce", m=6,
                    data="integer", tags=("kinks",),
                    description="small integers everywhere: relu pre-activations exactly 0, "
                                "where the derivative is taken as 0"),
        FixtureSpec("kinks_leaky_relu", (3, 4, 3, 1), ("leaky_relu(0.05)", "leaky_relu(0.05)",
                                                       "sigmoid"), "bce", m=6, data="integer",
                    tags=("kinks", "leaky-slope"),
                    description="leaky_relu slope 0.05 with pre-activations exactly 0, where "
                                "the derivative is taken as the slope"),
        FixtureSpec("l2", (3, 5, 2), ("relu", "sigmoid"), "bce", l2=0.7, tags=("l2",),
                    description="L2 penalty λ = 0.7 on the weights"),
        FixtureSpec("deep_mixed", (4, 5, 4, 3, 3), ("gelu", "elu(0.5)", "silu", "softmax"),
                    "cross_entropy", m=7, l2=0.1, tags=("l2",),
                    description="four layers of mixed activations, softmax and L2"),
    ]
    return specs


#: The fixtures written by :func:`write_fixtures`, in index order.
FIXTURES: tuple[FixtureSpec, ...] = tuple(_default_fixtures())


def _targets(net: Network, m: int, rng: np.random.Generator) -> np.ndarray:
    n, loss = net.layer_sizes[-1], net.loss.name
    if loss == "bce":
        return (rng.random((n, m)) < 0.5).astype(np.float64)
    if loss == "cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    lo, hi = net.activations[-1].output_range
    if np.isfinite(lo) and np.isfinite(hi):
        return lo + (hi - lo) * rng.random((n, m))
    return rng.standard_normal((n, m))


def _kinks_reached(net: Network, params: dict, X: np.ndarray, Y: np.ndarray) -> bool:
    _, cache = net.forward(params, X)
    grads = net.backward(params, cache, Y)
    return all(np.any((cache[f"Z{l}"] == 0) & (grads[f"dA{l}"] != 0))
               for l in range(1, net.L) if net.activations[l - 1].kinks)


def fixture_inputs(spec: FixtureSpec) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Canonical ``(params, X, Y)`` of ``spec``, from a generator seeded by its name."""
    net = spec.network
    rng = np.random.default_rng(zlib.crc32(spec.name.encode()))
    sizes = net.layer_sizes
    if spec.data == "integer":
        while True:  # redraw until every hidden kink layer has a 0 that the gradient reaches
            params = {}
            for l in range(1, net.L + 1):
                params[f"W{l}"] = rng.integers(-1, 2, size=(sizes[l], sizes[l - 1])).astype(float)
                params[f"b{l}"] = rng.integers(-1, 2, size=(sizes[l], 1)).astype(float)
            X = rng.integers(-1, 2, size=(sizes[0], spec.m)).astype(float)
            Y = _targets(net, spec.m, rng)
            if _kinks_reached(net, params, X, Y):
                return params, X, Y
    else:
        params = net.init_params("xavier", seed=rng)
        for l in range(1, net.L + 1):
            params[f"W{l}"] *= spec.scale
            params[f"b{l}"] = 0.1 * rng.standard_normal((sizes[l], 1))
        X = rng.standard_normal((sizes[0], spec.m))
    return params, X, _targets(net, spec.m, rng)


def fixture_arrays(spec: FixtureSpec) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
    """``(inputs, expected, J)``: canonical inputs (``X``, ``Y``, ``W1``, ``b1``, …) and the
    reference's results (``Z1``, ``A1``, …, ``J``, ``dW1``, ``db1``, …)."""
    net = spec.network
    params, X, Y = fixture_inputs(spec)
    _, cache = net.forward(params, X)
    J, grads = net.gradients(params, X, Y)
    expected = {}
    for l in range(1, net.L + 1):
        expected[f"Z{l}"] = cache[f"Z{l}"]
        expected[f"A{l}"] = cache[f"A{l}"]
    expected["J"] = np.float64(J)
    for key in net.param_shapes():
        expected[f"d{key}"] = grads[f"d{key}"]
    return {"X": X, "Y": Y, **params}, expected, J


def write_fixtures(out: str | Path, specs: Sequence[FixtureSpec] = FIXTURES) -> list[Path]:
    """Write ``specs`` into ``out`` (created if needed) with ``index.json`` and ``README.md``;
    returns the paths of the ``.npz`` files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {str(out)!r} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"fixture names must be unique, got {names}")
    written, entries = [], []
    for spec in specs:
        inputs, expected, J = fixture_arrays(spec)
        params = {k: v for k, v in inputs.items() if k not in ("X", "Y")}
        path = write_case(out / f"{spec.name}.npz", spec.network, params, inputs["X"],
                          inputs["Y"], format=FIXTURE_FORMAT, extra_arrays=expected,
                          extra={"name": spec.name, "description": spec.description,
                                 "tags": spec.all_tags, "cost": J})
        written.append(path)
        entries.append({"name": spec.name, "npz": f"{spec.name}.npz", "json": f"{spec.name}.json",
                        "network": spec.network.describe(), "tags": spec.all_tags,
                        "description": spec.description})
    index = {"format": FIXTURE_FORMAT, "generator": "gradref fixtures",
             "readme": "README.md", "fixtures": entries}
    (out / "index.json").write_text(_json_text(index), encoding="utf-8")
    (out / "README.md").write_text(FORMAT_DOC, encoding="utf-8")
    return written


def load_fixtures(directory: str | Path) -> list[Case]:
    """Every fixture listed in ``directory/index.json``, read and checked (expected arrays
    included in each :class:`~gradref.reference.casefile.Case`'s ``arrays``)."""
    import json

    directory = Path(directory)
    index_path = directory / "index.json"
    if not index_path.is_file():
        raise CaseFileError(f"fixtures index {str(index_path)!r} does not exist")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CaseFileError(f"fixtures index {str(index_path)!r} is not valid JSON: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != FIXTURE_FORMAT:
        raise CaseFileError(f"fixtures index {str(index_path)!r} must have format "
                            f"{FIXTURE_FORMAT!r}")
    cases = []
    for entry in index.get("fixtures", []):
        case = read_case(directory / entry["npz"])
        if case.format != FIXTURE_FORMAT:
            raise CaseFileError(f"{entry['npz']}: format {case.format!r}, expected "
                                f"{FIXTURE_FORMAT!r}")
        cases.append(case)
    return cases


# --------------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``gradref fixtures``."""
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory to write the fixtures into (created if needed)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")


def run(args: argparse.Namespace) -> int:
    """Write the fixtures; exit code 0, or 2 (as a usage error) when ``--out`` is unusable."""
    from .cli import UsageError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError("--out", f"{args.out!r} exists and is not a directory")
    try:
        written = write_fixtures(out)
    except OSError as exc:
        raise UsageError("--out", f"cannot write into {args.out!r}: {exc}") from None
    if not args.quiet:
        print(f"wrote {len(written)} fixtures ({FIXTURE_FORMAT}) with index.json and README.md "
              f"to {out}")
    return 0
