r"""The feed-forward network: forward pass with cache, backward pass, cost with L2.

Canonical (column-major) layout: ``X`` is (n_0, m), one column per example; ``W_l`` is
(n_l, n_{l-1}); ``b_l`` is (n_l, 1). For l = 1 … L:

.. math::

    Z_l = W_l A_{l-1} + b_l, \qquad A_l = g_l(Z_l), \qquad A_0 = X,

    J = \frac1m \sum_{i=1}^m \ell(a_i, y_i) + \frac{\lambda}{2m}\sum_{l=1}^L \lVert W_l\rVert_F^2 .

Backward, with :math:`dA` and :math:`dZ` the *per-example* gradients (not divided by m):

.. math::

    dZ_L = \partial\ell/\partial Z_L \;(\text{fused}) \text{ or } g_L^\top(dA_L), \quad
    dA_L = \partial\ell/\partial A_L,

    dZ_l = dA_l \odot g_l'(Z_l), \qquad dA_{l-1} = W_l^\top dZ_l,

    dW_l = \tfrac1m\, dZ_l A_{l-1}^\top + \tfrac{\lambda}{m} W_l, \qquad
    db_l = \tfrac1m \textstyle\sum_{\text{columns}} dZ_l ,

so that :math:`dW_l = \partial J/\partial W_l` and :math:`db_l = \partial J/\partial b_l`.

Parameters live in plain dicts ``{"W1", "b1", …}`` separate from the :class:`Network`, which
holds only the architecture, the loss and λ: the checker perturbs parameters freely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._validate import as_float_array, check_nonnegative_float, check_positive_int, describe
from .activations import Activation, get_activation
from .init import init_params
from .losses import Loss, get_loss

__all__ = ["Network"]

Params = dict[str, np.ndarray]


class Network:
    """A fully connected feed-forward network (architecture, activations, loss and L2 strength).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_0, n_1, …, n_L]``: input size, hidden widths, output size (at least two entries).
    activations : sequence of (str or Activation), or a comma-separated string
        One per layer, ``L`` in all; e.g. ``"relu,relu,sigmoid"`` or
        ``["leaky_relu(0.05)", "softmax"]``.
    loss : str or Loss
        ``"bce"``, ``"cross_entropy"``, ``"square"``, ``"half_square"`` or a registered loss.
        The loss must accept the output activation (bce after sigmoid, cross_entropy after
        softmax; the squared losses after anything).
    l2 : float
        λ ≥ 0 of the L2 penalty :math:`\\frac{\\lambda}{2m}\\sum_l \\lVert W_l\\rVert_F^2`.
    """

    def __init__(self, layer_sizes: Sequence[int], activations: object, loss: object = "bce",
                 l2: float = 0.0) -> None:
        if isinstance(layer_sizes, (str, bytes, Mapping)) or not hasattr(layer_sizes, "__len__"):
            raise TypeError(f"layer_sizes must be a sequence of positive integers, "
                            f"got {describe(layer_sizes)}")
        sizes = [check_positive_int(f"layer_sizes[{i}]", n) for i, n in enumerate(layer_sizes)]
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs at least an input and an output size, "
                             f"got {list(layer_sizes)}")
        if isinstance(activations, str):
            activations = [a for a in activations.split(",") if a.strip()]
        if isinstance(activations, Activation) or not isinstance(activations, Sequence):
            raise TypeError(f"activations must be a list of names or Activation objects, "
                            f"got {describe(activations)}")
        if len(activations) != len(sizes) - 1:
            raise ValueError(f"activations has {len(activations)} entries, expected one per layer: "
                             f"{len(sizes) - 1} for layer_sizes {sizes}")
        self.layer_sizes: list[int] = sizes
        self.activations: list[Activation] = [get_activation(a) for a in activations]
        self.loss: Loss = get_loss(loss)
        self.l2: float = check_nonnegative_float("l2", l2)
        out = self.activations[-1]
        if not self.loss.accepts(out):
            raise ValueError(f"loss {self.loss.name!r} cannot follow output activation "
                             f"{out.spec!r}; it accepts: {', '.join(self.loss.output_activations)}")
        self._fused = self.loss.fused_with(out)
        self._shapes = self.param_shapes()
        # per layer l = 1..L: the dict keys used in the hot loops, formatted once
        self._keys = [(f"W{l}", f"b{l}", f"Z{l}", f"A{l}", f"A{l - 1}", f"dW{l}", f"db{l}",
                       f"dZ{l}", f"dA{l - 1}") for l in range(1, len(sizes))]

    # ------------------------------------------------------------------ description
    @property
    def L(self) -> int:
        """Number of layers with parameters."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(n * (p + 1) for p, n in zip(self.layer_sizes[:-1], self.layer_sizes[1:], strict=True))

    def param_shapes(self) -> dict[str, tuple[int, int]]:
        """``{"W1": (n_1, n_0), "b1": (n_1, 1), …}`` in the canonical layout."""
        shapes = {}
        for l in range(1, self.L + 1):
            shapes[f"W{l}"] = (self.layer_sizes[l], self.layer_sizes[l - 1])
            shapes[f"b{l}"] = (self.layer_sizes[l], 1)
        return shapes

    def describe(self) -> dict:
        """A JSON-ready description: layer sizes, activation specs, loss name, λ."""
        return {"layer_sizes": list(self.layer_sizes),
                "activations": [a.spec for a in self.activations],
                "loss": self.loss.name, "l2": self.l2}

    def __repr__(self) -> str:
        acts = ",".join(a.spec for a in self.activations)
        return f"Network({self.layer_sizes}, {acts!r}, loss={self.loss.name!r}, l2={self.l2:g})"

    # ------------------------------------------------------------------ validation
    def init_params(self, scheme: str = "he", seed: object = 0) -> Params:
        """Fresh parameters; see :func:`gradref.reference.init.init_params`."""
        return init_params(self.layer_sizes, scheme=scheme, seed=seed)

    def check_params(self, params: object, name: str = "params") -> Params:
        """Validate ``params`` and return a float64 copy-free dict in canonical layout."""
        if not isinstance(params, Mapping):
            raise TypeError(f"{name} must be a dict of arrays {{'W1', 'b1', …}}, "
                            f"got {describe(params)}")
        shapes = self._shapes
        if len(params) != len(shapes) or any(k not in params for k in shapes):
            missing = [k for k in shapes if k not in params]
            extra = [k for k in params if k not in shapes]
            raise ValueError(f"{name} keys do not match layer_sizes {self.layer_sizes}: "
                             f"missing {missing or 'none'}, unexpected {extra or 'none'}")
        checked = {}
        for key, shape in shapes.items():
            arr = params[key]
            if (type(arr) is np.ndarray and arr.dtype == np.float64 and arr.shape == shape
                    and np.isfinite(arr).all()):
                checked[key] = arr  # the common case, without building messages
                continue
            arr = as_float_array(f"{name}[{key!r}]", arr, ndim=2)
            if arr.shape != shape:
                what = "(n_l, n_{l-1})" if key[0] == "W" else "(n_l, 1)"
                raise ValueError(f"{name}[{key!r}] has shape {arr.shape}, expected {shape} = {what} "
                                 f"for layer_sizes {self.layer_sizes}")
            checked[key] = arr
        return checked

    def check_X(self, X: object, name: str = "X") -> np.ndarray:
        """Validate inputs of shape (n_0, m) with m ≥ 1."""
        arr = as_float_array(name, X, allow_empty=True)
        if arr.ndim != 2 or arr.shape[0] != self.layer_sizes[0]:
            raise ValueError(f"{name} has shape {arr.shape}, expected ({self.layer_sizes[0]}, m) = "
                             f"(n_0, m), one column per example")
        if arr.shape[1] == 0:
            raise ValueError(f"{name} has m = 0 examples (shape {arr.shape}); need m >= 1")
        return arr

    def check_Y(self, Y: object, m: int, name: str = "Y") -> np.ndarray:
        """Validate targets of shape (n_L, m) inside the loss's domain."""
        arr = as_float_array(name, Y, allow_empty=True)
        expected = (self.layer_sizes[-1], m)
        if arr.shape != expected:
            hint = " (reshape a 1-D label vector to (1, m))" if arr.ndim == 1 else ""
            raise ValueError(f"{name} has shape {arr.shape}, expected {expected} = (n_L, m) "
                             f"to match the output{hint}")
        self.loss.check_targets(arr, name)
        return arr

    # ------------------------------------------------------------------ computation
    def forward(self, params: Params, X: object) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return ``(A_L, cache)`` with ``cache = {"A0": X, "Z1", "A1", …, "ZL", "AL"}``."""
        params = self.check_params(params)
        return self._forward(params, self.check_X(X))

    def cost(self, params: Params, X: object, Y: object) -> float:
        """The cost J (mean loss plus the L2 term)."""
        params = self.check_params(params)
        X = self.check_X(X)
        Y = self.check_Y(Y, X.shape[1])
        _, cache = self._forward(params, X)
        return self._cost(params, cache, Y)

    def backward(self, params: Params, cache: Mapping[str, np.ndarray],
                 Y: object) -> dict[str, np.ndarray]:
        """Gradients from a forward cache.

        Returns ``{"dW1", "db1", …, "dWL", "dbL"}`` (gradients of J) together with the
        per-example intermediates ``"dZ1" … "dZL"`` and ``"dA0" … "dA{L-1}"``.
        """
        params = self.check_params(params)
        if not isinstance(cache, Mapping):
            raise TypeError(f"cache must be the dict returned by forward, got {describe(cache)}")
        for key in ("A0", *(f"{p}{l}" for l in range(1, self.L + 1) for p in "ZA")):
            if key not in cache:
                raise ValueError(f"cache is missing {key!r}; pass the cache returned by forward")
        A0 = self.check_X(cache["A0"], "cache['A0']")
        m = A0.shape[1]
        checked = {"A0": A0}
        for l in range(1, self.L + 1):
            for key in (f"Z{l}", f"A{l}"):
                arr = as_float_array(f"cache[{key!r}]", cache[key], ndim=2)
                if arr.shape != (self.layer_sizes[l], m):
                    raise ValueError(f"cache[{key!r}] has shape {arr.shape}, expected "
                                     f"{(self.layer_sizes[l], m)} = (n_{l}, m); pass the cache "
                                     f"returned by forward")
                checked[key] = arr
        return self._backward(params, checked, self.check_Y(Y, m))

    def gradients(self, params: Params, X: object, Y: object, *, intermediates: bool = True,
                  check: bool = True) -> tuple[float, dict[str, np.ndarray]]:
        """``(J, grads)`` for one batch: validation, forward, cost and backward.

        With ``intermediates=False`` only ``dW*`` and ``db*`` are returned, and ``dA0`` (the
        gradient with respect to the input, a whole extra matrix product) is not computed.
        ``check=False`` skips the validation of ``params``, ``X`` and ``Y``: for hot loops over
        inputs that were validated once (float64 arrays of the right shapes, finite, targets in
        the loss's domain); anything else then gives undefined results instead of an error.
        """
        if check:
            params = self.check_params(params)
            X = self.check_X(X)
            Y = self.check_Y(Y, X.shape[1])
        _, cache = self._forward(params, X)
        return self._cost(params, cache, Y), self._backward(params, cache, Y, intermediates)

    # ------------------------------------------------------------------ unchecked core
    # The underscore methods trust their inputs (float64, right shapes); the checker and the
    # trainer call them in loops after validating once.
    def _forward(self, params: Params, X: np.ndarray):
        cache = {"A0": X}
        A = X
        for act, (W, b, Zk, Ak, *_) in zip(self.activations, self._keys, strict=True):
            Z = params[W] @ A + params[b]
            A = act.value(Z)
            cache[Zk] = Z
            cache[Ak] = A
        return A, cache

    def _losses(self, cache: Mapping[str, np.ndarray], Y: np.ndarray) -> np.ndarray:
        """Per-example losses ℓ_i, shape (m,)."""
        if self._fused is not None:
            return self._fused.value(cache[self._keys[-1][2]], Y)
        return self.loss.value(cache[self._keys[-1][3]], Y)

    def _cost(self, params: Params, cache: Mapping[str, np.ndarray], Y: np.ndarray) -> float:
        m = Y.shape[1]
        J = float(np.sum(self._losses(cache, Y))) / m
        if self.l2:
            J += self.l2 / (2.0 * m) * sum(float(np.sum(params[k[0]] ** 2)) for k in self._keys)
        return J

    def _backward(self, params: Params, cache: Mapping[str, np.ndarray], Y: np.ndarray,
                  intermediates: bool = True):
        m = Y.shape[1]
        grads: dict[str, np.ndarray] = {}
        _, _, ZL, AL, *_ = self._keys[-1]
        if self._fused is not None:
            dZ = self._fused.dz(cache[ZL], cache[AL], Y)
        else:
            dZ = self.activations[-1].vjp(cache[ZL], cache[AL], self.loss.derivative(cache[AL], Y))
        for l in range(self.L, 0, -1):
            W, _, _, _, A_prev, dW_key, db_key, dZ_key, dA_key = self._keys[l - 1]
            W = params[W]
            dW = dZ @ cache[A_prev].T
            dW *= 1.0 / m
            if self.l2:
                dW += (self.l2 / m) * W
            grads[dW_key] = dW
            grads[db_key] = np.sum(dZ, axis=1, keepdims=True) * (1.0 / m)
            if intermediates:
                grads[dZ_key] = dZ
            if l == 1 and not intermediates:
                break
            dA = W.T @ dZ
            if intermediates:
                grads[dA_key] = dA
            if l > 1:
                _, _, Z_prev, A_prev_key, *_ = self._keys[l - 2]
                dZ = self.activations[l - 2].vjp(cache[Z_prev], cache[A_prev_key], dA)
        return grads
