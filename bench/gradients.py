r"""Part 1: one gradient of the reference against the bare NumPy script and the autodiff peers.

What every side computes (see :mod:`bench.peers`): the mean BCE cost of an MLP with ReLU hidden
layers and a sigmoid output, computed from the logits, and its gradient with respect to every
``W_l`` and ``b_l`` — nothing else (no per-example ``dZ``/``dA``, no gradient for the input).

* ``gradref``: ``net.gradients(params, X, Y, intermediates=False)`` — validation of
  ``params``, ``X`` and ``Y`` (dtype, shapes, finiteness, targets in [0, 1]) and the kernel;
* ``gradref_kernel``: the same with ``check=False`` (inputs validated once, outside the loop);
* ``numpy``: the bare script, ``torch``, ``autograd``, ``jax``: the peers.

The fraction of matmul peak divides the matrix-product FLOPs of one gradient
(:func:`bench.peers.matmul_flops`) by its time, and that by the single-thread float64 GEMM rate
of a large square product (``A @ B`` into a preallocated output) timed *in the same interleaved
rounds* as the gradients of that shape: a burst of load from another process then lowers the
peak and the gradient alike instead of inflating the fraction. A separate 2048² product at the
start is reported too (:func:`gemm_peak`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import peers
from .timing import measure

__all__ = ["SHAPES", "SIDES", "gemm_peak", "gradient_cases", "run_gradients"]

#: name -> (layer sizes, batch size m)
SHAPES: dict[str, tuple[list[int], int]] = {
    "tiny": ([2, 8, 4, 1], 64),
    "medium": ([100, 64, 32, 8, 1], 256),
    "large": ([784, 512, 512, 10], 512),
}

SIDES = ("gradref", "gradref_kernel", "numpy", "torch", "autograd", "jax")

COMPUTES = {
    "gradref": "net.gradients(params, X, Y, intermediates=False): validates params, X, Y; "
               "returns J (float) and dW_l, db_l (dict of arrays)",
    "gradref_kernel": "net.gradients(params, X, Y, intermediates=False, check=False): no "
                      "validation; returns J and dW_l, db_l",
    "numpy": "bare NumPy script: J (stable BCE from logits) and [dW_l, db_l]",
    "torch": "PyTorch eager, 1 thread: J.item() and torch.autograd.grad(J, [W_l, b_l])",
    "autograd": "HIPS autograd.value_and_grad(cost)([W_l, b_l])",
    "jax": "jax.jit(jax.value_and_grad(cost)), float64, block_until_ready",
}


def gemm_peak(n: int = 2048, repeats: int = 5) -> dict:
    """Single-thread float64 GEMM rate of an ``n × n`` product into a preallocated output."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    C = np.empty((n, n))
    t = measure({"gemm": lambda: np.matmul(A, B, out=C)}, repeats=repeats, batch_seconds=0.0,
                warmup_seconds=0.0)["gemm"]
    flops = 2.0 * n ** 3
    return {"n": n, "flops": flops, "timing": t.to_dict(), "gflops": flops / t.median / 1e9,
            "gflops_best": flops / t.minimum / 1e9}


def _gemm(n: int) -> tuple[Callable[[], object], float]:
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    C = np.empty((n, n))
    return (lambda: np.matmul(A, B, out=C)), 2.0 * n ** 3


def _network(layer_sizes: Sequence[int]):
    from gradref.reference import Network

    return Network(list(layer_sizes), ["relu"] * (len(layer_sizes) - 2) + ["sigmoid"], "bce")


def gradient_cases(layer_sizes: Sequence[int], m: int, sides: Sequence[str] = SIDES,
                   seed: int = 0) -> tuple[dict[str, Callable[[], object]], dict[str, str]]:
    """The zero-argument callables of one shape, and the skip reason of each side left out."""
    params = peers.init_mlp(layer_sizes, seed)
    X, Y = peers.random_batch(layer_sizes, m, seed + 1)
    net = _network(layer_sizes)
    d = {f"{p}{l}": params[2 * (l - 1) + i] for l in range(1, net.L + 1)
         for i, p in enumerate("Wb")}
    fns: dict[str, Callable[[], object]] = {}
    skips: dict[str, str] = {}
    for side in sides:
        if side == "gradref":
            fns[side] = lambda: net.gradients(d, X, Y, intermediates=False)
        elif side == "gradref_kernel":
            fns[side] = lambda: net.gradients(d, X, Y, intermediates=False, check=False)
        else:
            try:
                fns[side] = peers.PEERS[side][0](params, X, Y)
            except peers.PeerUnavailable as exc:
                skips[side] = str(exc)
    return fns, skips


def _agreement(fns: Mapping[str, Callable[[], object]]) -> dict[str, float]:
    """Largest relative deviation of each side's J and gradient from ``gradref``'s."""
    J0, g0 = peers.to_numpy(fns["gradref"]())
    out = {}
    for side, fn in fns.items():
        J, g = peers.to_numpy(fn())
        dev = abs(J - J0) / max(abs(J0), 1e-300)
        for a, b in zip(g, g0, strict=True):
            dev = max(dev, float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(b))), 1e-300))
        out[side] = dev
    return out


def run_gradients(shapes: Mapping[str, tuple[Sequence[int], int]] = SHAPES, *,
                  sides: Sequence[str] = SIDES, repeats: int = 15, batch_seconds: float = 0.05,
                  peak_n: int = 2048, round_peak_n: int = 2048,
                  log: Callable[[str], None] = print) -> dict:
    """Measure every side on every shape; returns the JSON-ready section. The fraction of peak
    uses a ``round_peak_n``² GEMM timed in the same rounds as each shape."""
    section: dict = {"computes": {s: COMPUTES[s] for s in sides}, "shapes": {}}
    log(f"  GEMM peak: {peak_n}x{peak_n} float64 product, 1 thread …")
    section["peak"] = peak = gemm_peak(peak_n, repeats=max(3, repeats // 3))
    log(f"    {peak['gflops']:.1f} GFLOP/s (median), {peak['gflops_best']:.1f} best")
    gemm, gemm_flops = _gemm(round_peak_n)
    for name, (sizes, m) in shapes.items():
        log(f"  {name} {list(sizes)}, m={m} …")
        fns, skips = gradient_cases(sizes, m, sides)
        agreement = _agreement(fns)
        extra = {"gemm": gemm}
        params = peers.init_mlp(sizes, 0)
        X, Y = peers.random_batch(sizes, m, 1)
        for lib in ("numpy", "torch"):
            try:
                extra[f"matmuls_{lib}"] = peers.make_matmuls(params, X, Y, lib)
            except peers.PeerUnavailable as exc:
                skips[f"matmuls_{lib}"] = str(exc)
        timings = measure({**fns, **extra}, repeats=repeats, batch_seconds=batch_seconds)
        t_gemm = timings.pop("gemm")
        matmuls = {k: timings.pop(k) for k in list(timings) if k.startswith("matmuls_")}
        shape_peak = gemm_flops / t_gemm.median
        flops = peers.matmul_flops(sizes, m)
        med = {s: t.median for s, t in timings.items()}
        ratios = {}
        for mine in ("gradref", "gradref_kernel"):
            if mine in med:
                for peer in med:
                    if peer != mine:
                        ratios[f"{mine}/{peer}"] = med[mine] / med[peer]
        section["shapes"][name] = {
            "layer_sizes": list(sizes), "m": m,
            "n_params": sum(n_out * (n_in + 1) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)),
            "matmul_flops": flops,
            "timings": {s: t.to_dict() for s, t in timings.items()},
            "ratios": ratios,
            "peak": {"n": round_peak_n, "timing": t_gemm.to_dict(),
                     "gflops": shape_peak / 1e9,
                     "note": "GEMM timed in the same interleaved rounds as this shape"},
            "fraction_of_peak": {s: flops / t / shape_peak for s, t in med.items()},
            "matmuls_only": {k: {"timing": t.to_dict(), "fraction_of_peak": flops / t.median / shape_peak,
                                 "note": "only the matrix products of one gradient, same operands"}
                             for k, t in matmuls.items()},
            "max_relative_deviation_from_gradref": agreement,
            "skipped": skips,
        }
        log("    " + ", ".join(f"{s} {t * 1e3:.4g} ms" for s, t in med.items())
            + f"; GEMM {shape_peak / 1e9:.1f} GFLOP/s; "
            + ", ".join(f"{k} {t.median * 1e3:.4g} ms" for k, t in matmuls.items()))
    return section
