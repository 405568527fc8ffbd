r"""Row-major ``(N, D)`` adapters of the layers, in the CS231n form, around the canonical core.

The core (:mod:`~gradref.reference.normalization`, :mod:`~gradref.reference.dropout`) is
column-major: ``Z`` (n, m), ``gamma`` (n, 1). Here ``x`` is (N, D), one example per row, and
``gamma``, ``beta`` and the running statistics are flat (D,), as CS231n's ``layers.py`` writes
them. Each adapter transposes at the boundary and calls the core; nothing is computed twice:

.. math::

    x = Z^\top, \qquad \text{out}^{rows} = (\text{out}^{cols})^\top, \qquad
    dx = dZ^\top, \qquad d\gamma^{rows} = d\gamma^{cols}\ \text{flattened}.

Parameter dicts as the course defines them:

* ``bn_param``: ``"mode"`` (``"train"``/``"test"``, required), ``"eps"`` (1e-5),
  ``"momentum"`` (0.9), ``"running_mean"``/``"running_var"`` (zeros (D,) by default). The train
  mode writes the updated running statistics back into ``bn_param``, as the course's template
  does.
* ``ln_param``: ``"eps"`` only (a ``"mode"`` key, which the course's network sets on every
  normalisation dict, is ignored).
* ``dropout_param``: ``"p"`` the **keep** probability (the 2018+ meaning), ``"mode"``, and the
  mask's source in train mode, one of: ``"seed"`` (every call reseeds and draws
  ``RandomState(seed).rand(N, D) < p``, the stream of the course's ``np.random.seed(seed)``
  followed by ``np.random.rand``), ``"rng"`` (a ``numpy.random.Generator``, one
  ``rng.random((N, D))`` draw) or ``"mask"`` (an
  explicit (N, D) keep mask). Without any of them the call is refused: a draw from NumPy's
  global state could not be reproduced.

Unknown keys are refused (a misspelt ``"epsilon"`` would otherwise be silently ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

import numpy as np

from . import dropout as _drop
from . import normalization as _norm
from ._validate import as_float_array, describe

__all__ = ["batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
           "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward"]

_BN_KEYS = ("mode", "eps", "momentum", "running_mean", "running_var")
_LN_KEYS = ("eps", "mode")
_DROPOUT_KEYS = ("p", "mode", "seed", "rng", "mask")


def _check_param(name: str, param: object, allowed: tuple[str, ...], required=()) -> Mapping:
    if not isinstance(param, Mapping):
        raise TypeError(f"{name} must be a dict, got {describe(param)}")
    unknown = [k for k in param if k not in allowed]
    if unknown:
        raise ValueError(f"{name} has unknown key(s) {unknown}; allowed: {', '.join(allowed)}")
    for key in required:
        if key not in param:
            raise ValueError(f"{name} is missing {key!r}")
    return param


def _rows(name: str, x: object) -> np.ndarray:
    return as_float_array(name, x, ndim=2)


def _column(name: str, v: object, D: int) -> np.ndarray:
    arr = as_float_array(name, v, ndim=1)
    if arr.shape != (D,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({D},) = (D,), one entry per "
                         f"column of x")
    return arr.reshape(D, 1)


def batchnorm_forward(x: object, gamma: object, beta: object, bn_param: MutableMapping):
    """``(out, cache)`` for ``x`` (N, D): batch norm per column over the N rows (module
    docstring for ``bn_param``)."""
    _check_param("bn_param", bn_param, _BN_KEYS, required=("mode",))
    x = _rows("x", x)
    D = x.shape[1]
    mode = _norm.check_mode(bn_param["mode"], "bn_param['mode']")
    running = {k: (None if bn_param.get(k) is None else _column(f"bn_param[{k!r}]", bn_param[k], D))
               for k in ("running_mean", "running_var")}
    out, cache, (rm, rv) = _norm.batchnorm_forward(
        x.T, _column("gamma", gamma, D), _column("beta", beta, D), mode=mode,
        eps=bn_param.get("eps", _norm.BN_EPS), momentum=bn_param.get("momentum", _norm.BN_MOMENTUM),
        **running)
    bn_param["running_mean"] = rm.ravel()
    bn_param["running_var"] = rv.ravel()
    return out.T, cache


def batchnorm_backward(dout: object, cache: Mapping):
    """``(dx, dgamma, dbeta)``, shapes (N, D), (D,), (D,)."""
    dZ, dgamma, dbeta = _norm.batchnorm_backward(_rows("dout", dout).T, cache)
    return dZ.T, dgamma.ravel(), dbeta.ravel()


#: The course asks for a second, simplified backward; the reference's is already the closed form.
batchnorm_backward_alt = batchnorm_backward


def layernorm_forward(x: object, gamma: object, beta: object, ln_param: Mapping):
    """``(out, cache)`` for ``x`` (N, D): each row normalised over its D entries."""
    _check_param("ln_param", ln_param, _LN_KEYS)
    x = _rows("x", x)
    D = x.shape[1]
    out, cache = _norm.layernorm_forward(x.T, _column("gamma", gamma, D), _column("beta", beta, D),
                             eps=ln_param.get("eps", _norm.BN_EPS))
    return out.T, cache


def layernorm_backward(dout: object, cache: Mapping):
    """``(dx, dgamma, dbeta)``, shapes (N, D), (D,), (D,)."""
    dZ, dgamma, dbeta = _norm.layernorm_backward(_rows("dout", dout).T, cache)
    return dZ.T, dgamma.ravel(), dbeta.ravel()


def dropout_forward(x: object, dropout_param: Mapping):
    """``(out, cache)`` with ``cache = (dropout_param, mask)``, the mask a bool (N, D) keep
    mask in train mode and ``None`` in test mode."""
    _check_param("dropout_param", dropout_param, _DROPOUT_KEYS, required=("p", "mode"))
    x = _rows("x", x)
    p = _drop.check_keep_prob(dropout_param["p"], "dropout_param['p']")
    mode = _norm.check_mode(dropout_param["mode"], "dropout_param['mode']")
    if mode == "test":
        out, core = _drop.dropout_forward(x.T, p, mode="test")
        return out.T, (dict(dropout_param), None)
    sources = [k for k in ("seed", "rng", "mask") if dropout_param.get(k) is not None]
    if len(sources) != 1:
        raise ValueError(f"dropout_param in train mode needs exactly one of 'seed', 'rng' and "
                         f"'mask', got {sources or 'none'}")
    if sources == ["seed"]:
        seed = dropout_param["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ValueError(f"dropout_param['seed'] must be an integer in [0, 2**32), got "
                             f"{describe(seed)}")
        mask = (np.random.RandomState(int(seed)).rand(*x.shape) < p).T
        out, core = _drop.dropout_forward(x.T, p, mask=mask)
    elif sources == ["rng"]:
        mask = _drop.draw_mask(x.shape, p, dropout_param["rng"]).T
        out, core = _drop.dropout_forward(x.T, p, mask=mask)
    else:
        mask = np.asarray(dropout_param["mask"])
        if mask.shape != x.shape:
            raise ValueError(f"dropout_param['mask'] has shape {mask.shape}, expected {x.shape}, "
                             f"the shape of x")
        out, core = _drop.dropout_forward(x.T, p, mask=mask.T)
    return out.T, (dict(dropout_param), core["mask"].T)


def dropout_backward(dout: object, cache: object) -> np.ndarray:
    """dx = dout ⊙ mask / p in train mode, dout in test mode."""
    if not (isinstance(cache, tuple) and len(cache) == 2 and isinstance(cache[0], Mapping)):
        raise TypeError(f"cache must be the (dropout_param, mask) pair returned by "
                        f"dropout_forward, got {describe(cache)}")
    param, mask = cache
    core = {"mask": None if mask is None else mask.T,
            "keep_prob": _drop.check_keep_prob(param["p"], "dropout_param['p']")}
    return _drop.dropout_backward(_rows("dout", dout).T, core).T
