r"""Inverted dropout in the canonical column-major layout, forward and backward.

``A`` is (n, m). With keep probability p ∈ (0, 1] and a keep mask D ∈ {0, 1}^{n×m} (1 keeps a
unit), train mode computes

.. math::

    \text{out} = \frac{D \odot A}{p}, \qquad dA = \frac{D \odot dout}{p},

so the expected output equals A and test mode is the identity (out = A, dA = dout, no mask).
The mask is either given (``mask``: bool or numbers 0/1, the shape of A) or drawn from a
``numpy.random.Generator`` as :math:`D = [U < p]` with U uniform on [0, 1), one draw of the shape
of A, so a case is reproducible from its generator's seed. p = 1 keeps every unit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ._validate import as_float_array, check_real, describe
from .normalization import check_mode

__all__ = ["check_keep_prob", "draw_mask", "check_mask", "dropout_forward", "dropout_backward"]


def check_keep_prob(p: object, name: str = "keep_prob") -> float:
    """The keep probability p in (0, 1]."""
    return check_real(name, p, low=0.0, high=1.0, low_open=True, high_open=False)


def draw_mask(shape: tuple[int, ...], keep_prob: float, rng: object) -> np.ndarray:
    """A bool keep mask :math:`[U < p]` of ``shape``, from one ``rng.random(shape)`` draw."""
    keep_prob = check_keep_prob(keep_prob)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {describe(rng)}")
    return rng.random(shape) < keep_prob


def check_mask(mask: object, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """``mask`` as a bool array of ``shape``, refusing values other than 0/1 (or bool)."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        arr = as_float_array(name, mask, allow_empty=True)
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must hold only 0 and 1 (or bools), got "
                             f"{float(arr[first])!r} at "
                             f"index {first}")
        arr = arr == 1
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(shape)}, the shape of "
                         f"the activations it masks")
    return arr


def dropout_forward(A: object, keep_prob: float, *, mask: object = None, rng: object = None,
                    mode: str = "train"):
    """Inverted dropout of ``A`` (module docstring). Train mode needs exactly one of ``mask``
    and ``rng``; test mode takes neither and returns A unchanged.

    Returns ``(out, cache)`` with ``cache = {"mask": bool array or None, "keep_prob": p,
    "mode": mode}``.
    """
    mode = check_mode(mode)
    keep_prob = check_keep_prob(keep_prob)
    A = as_float_array("A", A, ndim=2)
    if mode == "test":
        if mask is not None or rng is not None:
            raise ValueError("test mode is the identity: pass neither mask nor rng, got "
                             f"mask={describe(mask)}, rng={describe(rng)}")
        return A.copy(), {"mask": None, "keep_prob": keep_prob, "mode": mode}
    if (mask is None) == (rng is None):
        raise ValueError("train mode needs exactly one of mask (the keep mask, the shape of A) "
                         f"and rng (a numpy.random.Generator), got mask={describe(mask)}, "
                         f"rng={describe(rng)}")
    D = check_mask(mask, A.shape) if mask is not None else draw_mask(A.shape, keep_prob, rng)
    return A * D / keep_prob, {"mask": D, "keep_prob": keep_prob, "mode": mode}


def dropout_backward(dout: object, cache: Mapping) -> np.ndarray:
    """dA = D ⊙ dout / p in train mode, dout in test mode."""
    if not isinstance(cache, Mapping) or "keep_prob" not in cache or "mask" not in cache:
        raise TypeError(f"cache must be the dict returned by dropout_forward, got "
                        f"{describe(cache)}")
    dout = as_float_array("dout", dout, ndim=2)
    D = cache["mask"]
    if D is None:
        return dout.copy()
    if dout.shape != D.shape:
        raise ValueError(f"dout has shape {dout.shape}, expected {D.shape}, the shape of the "
                         f"mask")
    return dout * D / cache["keep_prob"]
