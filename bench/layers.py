r"""The cost of the new layers' gradient: gradref's reference against a bare NumPy script.

One network, {affine - batchnorm - relu - dropout} × 2 - affine - sigmoid with the mean bce, in
three sizes, column-major, the same parameters, data and dropout masks on both sides:

* ``gradref``: ``Network.gradients(params, X, Y, check=False, intermediates=False)`` on a network
  whose masks are fixed (``with_masks``): the reference's forward with its cache, the cost and
  the backward through dropout, relu and the closed-form batch-norm backward;
* ``numpy``: :func:`bare_gradients`, written here: the same mathematics in a flat NumPy script
  with nothing else (no validation, no cache dict, a one-pass mean), the floor an engineer
  porting the layers would write by hand.

Both are timed by :func:`bench.timing.measure` (interleaved rounds, median) after a check that
they agree to 1e-9 relative; the script prints each time and the ratio gradref ÷ numpy, and
``--quick`` runs the smallest size with one round (it proves the script works). It re-executes
itself with one BLAS thread first, as ``bench/run.py`` does::

    .venv/bin/python bench/layers.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import timing  # noqa: E402  (standard library only: safe before the re-exec)

#: name -> (layer sizes, m)
SIZES = {"small": ([16, 32, 32, 1], 64), "medium": ([64, 256, 256, 1], 256),
         "large": ([256, 1024, 1024, 1], 512)}
KEEP = 0.8
EPS = 1e-5


def bare_gradients(params, X, Y, masks):
    """The plain NumPy version (module docstring); returns {"dW1", "db1", "dgamma1", …}."""
    import numpy as np

    m = X.shape[1]
    A, stack = X, []
    for l in (1, 2):
        Z = params[f"W{l}"] @ A + params[f"b{l}"]
        mu = Z.mean(axis=1, keepdims=True)
        xc = Z - mu
        inv = 1.0 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + EPS)
        xhat = xc * inv
        U = params[f"gamma{l}"] * xhat + params[f"beta{l}"]
        D = masks[f"D{l}"]
        stack.append((A, U, xhat, inv, D))
        A = np.maximum(U, 0.0) * D / KEEP
    Z3 = params["W3"] @ A + params["b3"]
    dZ = 1.0 / (1.0 + np.exp(-Z3)) - Y
    g = {"dW3": dZ @ A.T / m, "db3": dZ.sum(axis=1, keepdims=True) / m}
    dA = params["W3"].T @ dZ
    for l in (2, 1):
        A_prev, U, xhat, inv, D = stack[l - 1]
        dU = dA * D / KEEP * (U > 0)
        G = params[f"gamma{l}"] * dU
        dZ = inv * (G - G.mean(axis=1, keepdims=True)
                    - xhat * (G * xhat).mean(axis=1, keepdims=True))
        g[f"dgamma{l}"] = (dU * xhat).sum(axis=1, keepdims=True) / m
        g[f"dbeta{l}"] = dU.sum(axis=1, keepdims=True) / m
        g[f"dW{l}"] = dZ @ A_prev.T / m
        g[f"db{l}"] = dZ.sum(axis=1, keepdims=True) / m
        if l > 1:
            dA = params[f"W{l}"].T @ dZ
    return g


def main(argv: list[str]) -> int:
    args = argparse.ArgumentParser(prog="bench/layers.py", description=__doc__.split("\n\n")[0])
    args.add_argument("--quick", action="store_true", help="the smallest size, one round")
    opts = args.parse_args(argv)
    timing.ensure_environment(__file__, argv)
    timing.pin()
    import numpy as np
    from gradref.reference import Network

    sizes = {"small": SIZES["small"]} if opts.quick else SIZES
    print(f"layer gradient cost: gradref ÷ bare NumPy ({'quick' if opts.quick else 'median'}"
          f"; one BLAS thread)")
    for name, (layers, m) in sizes.items():
        net = Network(layers, "relu,relu,sigmoid", "bce", normalization="batchnorm", dropout=KEEP)
        rng = np.random.default_rng(0)
        params = net.init_params("he", seed=rng)
        X = rng.standard_normal((layers[0], m))
        Y = (rng.random((1, m)) < 0.5).astype(float)
        masks = net.draw_masks(m, rng)
        fixed = net.with_masks(masks)
        _, ours = fixed.gradients(params, X, Y, check=False, intermediates=False)
        bare = bare_gradients(params, X, Y, masks)
        for k, v in bare.items():
            err = float(np.max(np.abs(ours[k] - v)))
            if err > 1e-9 * float(np.max(np.abs(v))) + 1e-15:
                print(f"  {name}: {k} disagrees by {err:.2e}: not timed")
                return 1
        def ours_call(f=fixed, p=params, x=X, y=Y):
            return f.gradients(p, x, y, check=False, intermediates=False)

        def bare_call(p=params, x=X, y=Y, d=masks):
            return bare_gradients(p, x, y, d)

        t = timing.measure({"gradref": ours_call, "numpy": bare_call},
                           repeats=1 if opts.quick else 15)
        ratio = t["gradref"].median / t["numpy"].median
        print(f"  {name:7s} {layers} m={m}: gradref {t['gradref'].median * 1e3:.3f} ms, "
              f"numpy {t['numpy'].median * 1e3:.3f} ms, ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
