r"""Optional figures (matplotlib, the ``gradref[plot]`` extra): cost curve and decision boundary.

Only this module imports matplotlib, and only inside its functions, so the reference stays
importable with NumPy alone. Figures are drawn on the Agg canvas directly (no ``pyplot``, no
global backend switch), which works without a display.

1. Left panel: the training cost :math:`J` after each epoch (``result.costs``, epoch 0 is the
   initial cost), on a log scale when every value is positive.
2. Right panel (two input features only): the network output on a 200 × 200 grid spanning the
   data, the contour :math:`a = 0.5`, and the points coloured by label (training points as
   dots, test points as crosses), at most ``max_points`` of each, chosen with a seeded
   generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["MissingMatplotlib", "require_matplotlib", "plot_training"]

INSTALL_HINT = "pip install 'gradref[plot]' (or pip install matplotlib)"


class MissingMatplotlib(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> None:
    """Raise :class:`MissingMatplotlib` unless matplotlib (with its Agg canvas) can be imported."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as exc:
        raise MissingMatplotlib(f"plotting needs matplotlib, which is not installed: "
                                f"{INSTALL_HINT}") from exc


def _positive_class(output: np.ndarray) -> np.ndarray:
    """The score of class 1 per example: the only row of a one-unit output, else row 1."""
    return output[0] if output.shape[0] == 1 else output[1]


def _labels(Y: np.ndarray) -> np.ndarray:
    return Y[0] if Y.shape[0] == 1 else np.argmax(Y, axis=0).astype(np.float64)


def plot_training(result, X: np.ndarray, Y: np.ndarray, path: str | Path, *,
                  X_test: np.ndarray | None = None, Y_test: np.ndarray | None = None,
                  title: str | None = None, max_points: int = 2000, seed: int = 0) -> Path:
    """Save a PNG with the cost curve and, for 2-D inputs, the decision boundary.

    ``result`` is a :class:`~gradref.reference.training.TrainResult`; ``X`` (2, m) and ``Y`` (n_L, m)
    are raw (unstandardised) training data, ``X_test``/``Y_test`` optional test data. Returns the
    path written.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    two_d = X.shape[0] == 2
    fig = Figure(figsize=(11.0 if two_d else 5.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if two_d else 1, squeeze=False)[0]

    ax = axes[0]
    costs = np.asarray(result.costs)
    ax.plot(np.arange(len(costs)), costs, color="tab:blue")
    if np.all(costs > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cost J")
    ax.set_title("cost")
    ax.grid(True, alpha=0.3)

    if two_d:
        ax = axes[1]
        rng = np.random.default_rng(seed)
        parts = [(X, Y, "o", "train")]
        if X_test is not None and Y_test is not None:
            parts.append((X_test, Y_test, "x", "test"))
        allX = np.hstack([p[0] for p in parts])
        lo, hi = allX.min(axis=1), allX.max(axis=1)
        pad = 0.1 * np.maximum(hi - lo, 1e-9)
        g0 = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 200)
        g1 = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 200)
        G0, G1 = np.meshgrid(g0, g1)
        score = _positive_class(result.output(np.vstack([G0.ravel(), G1.ravel()])))
        score = score.reshape(G0.shape)
        ax.contourf(G0, G1, score, levels=np.linspace(min(score.min(), 0.0),
                                                      max(score.max(), 1.0), 21),
                    cmap="RdBu_r", alpha=0.35)
        if score.min() < 0.5 < score.max():
            ax.contour(G0, G1, score, levels=[0.5], colors="k", linewidths=1.0)
        for Xp, Yp, marker, label in parts:
            keep = np.arange(Xp.shape[1])
            if keep.size > max_points:
                keep = np.sort(rng.choice(keep, size=max_points, replace=False))
            ax.scatter(Xp[0, keep], Xp[1, keep], c=_labels(Yp)[keep], cmap="RdBu_r", vmin=0,
                       vmax=1, marker=marker, s=8 if marker == "o" else 14,
                       linewidths=0.8 if marker == "x" else 0.0, label=label)
        ax.set_xlim(g0[0], g0[-1])
        ax.set_ylim(g1[0], g1[-1])
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_title("decision boundary (output = 0.5)")
        ax.legend(loc="upper right", fontsize="small")
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, format="png", dpi=100)
    return path
