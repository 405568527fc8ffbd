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

Optional layers (``normalization=``, ``dropout=``) in the hidden layers l < L: normalisation
between the affine map and the activation, inverted dropout after the activation
(:mod:`~gradref.reference.normalization`, :mod:`~gradref.reference.dropout`):

.. math::

    Z_l = W_l A_{l-1} + b_l, \qquad \tilde Z_l = \gamma_l \odot \hat Z_l + \beta_l
    \;(\hat Z_l = \text{BN or LN of } Z_l), \qquad A_l = g_l(\tilde Z_l)\odot D_l / p_l,

with learned ``gamma{l}``, ``beta{l}`` (n_l, 1) (:math:`d\gamma_l = \tfrac1m\sum_i d\tilde Z_l
\odot \hat Z_l`, :math:`d\beta_l = \tfrac1m\sum_i d\tilde Z_l`) and the keep masks
:math:`D_l`. Backward: :math:`dA_l^{pre} = dA_l \odot D_l/p_l`,
:math:`d\tilde Z_l = dA_l^{pre}\odot g_l'(\tilde Z_l)`, and dZ_l from the normalisation's closed
form (its backward is linear in the upstream gradient, so the per-example convention carries
through). ``dA_l`` is the gradient with respect to :math:`A_l` after dropout. The cache holds
``"Zhat{l}"``, ``"mu{l}"``, ``"var{l}"`` (the statistics), ``"Ztilde{l}"``, ``"G{l}"``
(:math:`g_l(\tilde Z_l)` before dropout), ``"D{l}"`` (the mask) and, for batch norm in train
mode, the updated ``"running_mean{l}"``/``"running_var{l}"``.

The masks must be fixed for a gradient to be a derivative: ``forward``/``gradients``/``cost``
take ``masks={"D1": …}`` or ``rng=`` (a Generator, one draw per layer in layer order), and
:meth:`Network.with_masks` returns a network whose masks are fixed, which the checker uses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np

from . import normalization as _norm
from ._validate import as_float_array, check_nonnegative_float, check_positive_int, describe
from .activations import Activation, get_activation
from .dropout import check_keep_prob, check_mask, draw_mask
from .init import init_params
from .losses import Loss, get_loss

__all__ = ["Network", "NORMALIZATIONS"]

#: The normalisation layers a hidden layer can take.
NORMALIZATIONS = ("batchnorm", "layernorm")

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
        λ ≥ 0 of the L2 penalty :math:`\\frac{\\lambda}{2m}\\sum_l \\lVert W_l\\rVert_F^2`
        (on the weights only; not on b, γ or β).
    normalization : None, "batchnorm", "layernorm", or one entry per hidden layer
        Normalisation of the hidden layers' affine outputs (a string: all of them; a list of
        L - 1 entries, each None or a name: per layer).
    dropout : None, a keep probability p in (0, 1], or one entry per hidden layer
        Inverted dropout after the hidden layers' activations (p = 1 or None: none).
    eps, momentum : float
        ε of the normalisations (inside the root) and the running-average momentum of batch
        norm (the courses' 1e-5 and 0.9).
    """

    def __init__(self, layer_sizes: Sequence[int], activations: object, loss: object = "bce",
                 l2: float = 0.0, *, normalization: object = None, dropout: object = None,
                 eps: float = _norm.BN_EPS, momentum: float = _norm.BN_MOMENTUM) -> None:
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
        self.eps: float = _norm.check_eps(eps)
        self.momentum: float = _norm.check_momentum(momentum)
        self.normalization: list[str | None] = self._per_hidden("normalization", normalization,
                                                                self._check_norm)
        self.keep_probs: list[float | None] = self._per_hidden("dropout", dropout,
                                                               self._check_keep)
        #: the fixed dropout masks {"D1": bool (n_1, m), …} (see with_masks), or None
        self.masks: dict[str, np.ndarray] | None = None
        self._layered = any(self.normalization) or any(self.keep_probs)
        self._shapes = self.param_shapes()
        # per layer l = 1..L: the dict keys used in the hot loops, formatted once
        self._keys = [(f"W{l}", f"b{l}", f"Z{l}", f"A{l}", f"A{l - 1}", f"dW{l}", f"db{l}",
                       f"dZ{l}", f"dA{l - 1}") for l in range(1, len(sizes))]

    # ------------------------------------------------------------------ options
    def _per_hidden(self, name: str, value: object, check) -> list:
        """One entry per layer (L), the output layer's always None."""
        hidden = len(self.layer_sizes) - 2
        if value is None:
            return [None] * (hidden + 1)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            if hidden == 0 and check(f"{name}", value) is not None:
                raise ValueError(f"{name}={value!r} applies to hidden layers, and layer_sizes "
                                 f"{self.layer_sizes} has none")
            return [check(name, value)] * hidden + [None]
        if not isinstance(value, Sequence) or isinstance(value, bytes):
            raise TypeError(f"{name} must be None, one value for every hidden layer or a list "
                            f"of one per hidden layer, got {describe(value)}")
        if len(value) != hidden:
            raise ValueError(f"{name} has {len(value)} entries, expected one per hidden layer: "
                             f"{hidden} for layer_sizes {self.layer_sizes}")
        return [check(f"{name}[{i}]", v) for i, v in enumerate(value)] + [None]

    @staticmethod
    def _check_norm(name: str, value: object) -> str | None:
        if value is None or value == "none":
            return None
        if value not in NORMALIZATIONS:
            raise ValueError(f"{name} must be None, 'batchnorm' or 'layernorm', got "
                             f"{describe(value)}")
        return str(value)

    @staticmethod
    def _check_keep(name: str, value: object) -> float | None:
        if value is None:
            return None
        p = check_keep_prob(value, name)
        return None if p == 1.0 else p

    @property
    def has_layers(self) -> bool:
        """Whether any hidden layer has normalisation or dropout."""
        return self._layered

    def activation_input(self, l: int) -> str:
        """The cache key of layer l's activation input: ``"Ztilde{l}"`` after a normalisation,
        else ``"Z{l}"`` (where the activation's kinks are)."""
        return f"Ztilde{l}" if self.normalization[l - 1] else f"Z{l}"

    def mask_shapes(self, m: int) -> dict[str, tuple[int, int]]:
        """``{"D{l}": (n_l, m)}`` for the layers with dropout."""
        return {f"D{l}": (self.layer_sizes[l], m) for l in range(1, self.L + 1)
                if self.keep_probs[l - 1]}

    def draw_masks(self, m: int, rng: object) -> dict[str, np.ndarray]:
        """Keep masks for a batch of m examples from ``rng`` (one draw per layer, in order)."""
        m = check_positive_int("m", m)
        return {k: draw_mask(shape, self.keep_probs[int(k[1:]) - 1], rng)
                for k, shape in self.mask_shapes(m).items()}

    def check_masks(self, masks: object, m: int, name: str = "masks") -> dict[str, np.ndarray]:
        """Validate ``{"D{l}": keep mask (n_l, m)}`` for every dropout layer (bool or 0/1)."""
        shapes = self.mask_shapes(m)
        if not isinstance(masks, Mapping):
            raise TypeError(f"{name} must be a dict {{'D1': mask, …}}, got {describe(masks)}")
        if set(masks) != set(shapes):
            raise ValueError(f"{name} keys must be the dropout layers' {sorted(shapes) or 'none'}, "
                             f"got {sorted(map(str, masks))}")
        return {k: check_mask(masks[k], shape, f"{name}[{k!r}]") for k, shape in shapes.items()}

    def with_masks(self, masks: object) -> Network:
        """A copy of this network whose dropout masks are fixed (its cost is then a function of
        the parameters alone, so it can be differentiated and checked)."""
        if not isinstance(masks, Mapping) or not masks:
            if not self.mask_shapes(1):
                out = copy.copy(self)
                out.masks = {}
                return out
            raise TypeError(f"masks must be a dict {{'D1': mask, …}}, got {describe(masks)}")
        m = np.asarray(next(iter(masks.values()))).shape[-1]
        out = copy.copy(self)
        out.masks = self.check_masks(masks, m)
        return out

    def _masks_for(self, m: int, masks: object, rng: object) -> dict[str, np.ndarray]:
        if not self.mask_shapes(m):
            if masks not in (None, {}) or rng is not None:
                raise ValueError(f"this network has no dropout; got masks={describe(masks)}, "
                                 f"rng={describe(rng)}")
            return {}
        if masks is not None and rng is not None:
            raise ValueError(f"pass masks or rng, not both; got masks={describe(masks)}, "
                             f"rng={describe(rng)}")
        if masks is not None:
            return self.check_masks(masks, m)
        if rng is not None:
            return self.draw_masks(m, rng)
        if self.masks is not None:
            return self.check_masks(self.masks, m, "the network's fixed masks")
        raise ValueError("this network has dropout: pass masks={'D1': …} or rng= (a "
                         "numpy.random.Generator), or fix them with net.with_masks(masks)")

    # ------------------------------------------------------------------ description
    @property
    def L(self) -> int:
        """Number of layers with parameters."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(int(np.prod(s)) for s in self._shapes.values())

    def param_shapes(self) -> dict[str, tuple[int, int]]:
        """``{"W1": (n_1, n_0), "b1": (n_1, 1), …}`` in the canonical layout (with
        ``"gamma{l}"``, ``"beta{l}"`` (n_l, 1) for the normalised layers)."""
        shapes = {}
        for l in range(1, self.L + 1):
            shapes[f"W{l}"] = (self.layer_sizes[l], self.layer_sizes[l - 1])
            shapes[f"b{l}"] = (self.layer_sizes[l], 1)
            if self.normalization[l - 1]:
                shapes[f"gamma{l}"] = (self.layer_sizes[l], 1)
                shapes[f"beta{l}"] = (self.layer_sizes[l], 1)
        return shapes

    def describe(self) -> dict:
        """A JSON-ready description: layer sizes, activation specs, loss name, λ."""
        out = {"layer_sizes": list(self.layer_sizes),
               "activations": [a.spec for a in self.activations],
               "loss": self.loss.name, "l2": self.l2}
        if self._layered:
            out.update(normalization=self.normalization[:-1],
                       dropout=[1.0 if p is None else p for p in self.keep_probs[:-1]],
                       eps=self.eps, momentum=self.momentum)
        return out

    def __repr__(self) -> str:
        acts = ",".join(a.spec for a in self.activations)
        extra = ""
        if self._layered:
            extra = (f", normalization={self.normalization[:-1]!r}, "
                     f"dropout={self.keep_probs[:-1]!r}")
        return (f"Network({self.layer_sizes}, {acts!r}, loss={self.loss.name!r}, "
                f"l2={self.l2:g}{extra})")

    # ------------------------------------------------------------------ validation
    def init_params(self, scheme: str = "he", seed: object = 0) -> Params:
        """Fresh parameters; see :func:`gradref.reference.init.init_params` (γ = 1, β = 0 for
        the normalised layers, as the courses start them)."""
        params = init_params(self.layer_sizes, scheme=scheme, seed=seed)
        for l in range(1, self.L + 1):
            if self.normalization[l - 1]:
                params[f"gamma{l}"] = np.ones((self.layer_sizes[l], 1))
                params[f"beta{l}"] = np.zeros((self.layer_sizes[l], 1))
        return params

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
    def _net_for(self, m: int, masks: object, rng: object) -> Network:
        """Self, or a copy with the masks of this call fixed."""
        if not self.mask_shapes(m) and masks is None and rng is None:
            return self
        fixed = copy.copy(self)
        fixed.masks = self._masks_for(m, masks, rng)
        return fixed

    def forward(self, params: Params, X: object, *, masks: object = None, rng: object = None,
                mode: str = "train", running: Mapping | None = None
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Return ``(A_L, cache)`` with ``cache = {"A0": X, "Z1", "A1", …, "ZL", "AL"}`` (and
        the optional layers' entries, module docstring).

        ``masks``/``rng``: the dropout masks (train mode). ``mode="test"``: no dropout, batch
        norm on ``running`` = ``{"running_mean1": (n_1, 1), "running_var1": …}`` (zeros when
        absent, as in the courses); in train mode ``running`` is the start of the averages the
        cache returns updated.
        """
        params = self.check_params(params)
        X = self.check_X(X)
        mode = _norm.check_mode(mode)
        running = self._check_running(running)
        if mode == "test":
            if masks is not None or rng is not None:
                raise ValueError("test mode has no dropout: pass neither masks nor rng")
            return self._forward_layers(params, X, mode="test", running=running)
        net = self._net_for(X.shape[1], masks, rng)
        if running:
            return net._forward_layers(params, X, running=running)
        return net._forward(params, X)

    def _check_running(self, running: object) -> dict[str, np.ndarray]:
        if running is None:
            return {}
        if not isinstance(running, Mapping):
            raise TypeError(f"running must be a dict {{'running_mean1': …}}, got "
                            f"{describe(running)}")
        allowed = {f"{k}{l}": (self.layer_sizes[l], 1) for l in range(1, self.L + 1)
                   if self.normalization[l - 1] == "batchnorm"
                   for k in ("running_mean", "running_var")}
        extra = [k for k in running if k not in allowed]
        if extra:
            raise ValueError(f"running has unexpected key(s) {extra}; the batch-norm layers "
                             f"take {sorted(allowed) or 'none'}")
        out = {}
        for key, shape in allowed.items():
            if key in running:
                arr = as_float_array(f"running[{key!r}]", running[key], ndim=2)
                if arr.shape != shape:
                    raise ValueError(f"running[{key!r}] has shape {arr.shape}, expected {shape}")
                if key.startswith("running_var") and np.any(arr < 0):
                    raise ValueError(f"running[{key!r}] must be >= 0, got a minimum of "
                                     f"{float(np.min(arr))!r}")
                out[key] = arr
        return out

    def cost(self, params: Params, X: object, Y: object, *, masks: object = None,
             rng: object = None) -> float:
        """The cost J (mean loss plus the L2 term), train mode."""
        params = self.check_params(params)
        X = self.check_X(X)
        Y = self.check_Y(Y, X.shape[1])
        net = self._net_for(X.shape[1], masks, rng)
        _, cache = net._forward(params, X)
        return net._cost(params, cache, Y)

    def _cache_keys(self, train: bool = True) -> list[str]:
        keys = ["A0"]
        for l in range(1, self.L + 1):
            keys += [f"Z{l}", f"A{l}"]
            if self.normalization[l - 1]:
                keys += [f"Zhat{l}", f"Ztilde{l}", f"inv_std{l}"]
            if self.keep_probs[l - 1] and train:
                keys += [f"D{l}", f"G{l}"]
        return keys

    def backward(self, params: Params, cache: Mapping[str, np.ndarray],
                 Y: object) -> dict[str, np.ndarray]:
        """Gradients from a forward cache.

        Returns ``{"dW1", "db1", …, "dWL", "dbL"}`` (gradients of J; and ``"dgamma{l}"``,
        ``"dbeta{l}"`` for normalised layers) together with the per-example intermediates
        ``"dZ1" … "dZL"``, ``"dA0" … "dA{L-1}"`` (and ``"dZtilde{l}"``).
        """
        params = self.check_params(params)
        if not isinstance(cache, Mapping):
            raise TypeError(f"cache must be the dict returned by forward, got {describe(cache)}")
        train = cache.get("mode", "train") != "test"
        for key in self._cache_keys(train):
            if key not in cache:
                raise ValueError(f"cache is missing {key!r}; pass the cache returned by forward")
        A0 = self.check_X(cache["A0"], "cache['A0']")
        m = A0.shape[1]
        checked = dict(cache) if self._layered else {}
        checked["A0"] = A0
        for l in range(1, self.L + 1):
            for key in (f"Z{l}", f"A{l}"):
                arr = as_float_array(f"cache[{key!r}]", cache[key], ndim=2)
                if arr.shape != (self.layer_sizes[l], m):
                    raise ValueError(f"cache[{key!r}] has shape {arr.shape}, expected "
                                     f"{(self.layer_sizes[l], m)} = (n_{l}, m); pass the cache "
                                     f"returned by forward")
                checked[key] = arr
        if train and self.mask_shapes(m):
            checked.update(self.check_masks({k: cache[k] for k in self.mask_shapes(m)}, m,
                                            "cache"))
        return self._backward(params, checked, self.check_Y(Y, m))

    def gradients(self, params: Params, X: object, Y: object, *, intermediates: bool = True,
                  check: bool = True, masks: object = None,
                  rng: object = None) -> tuple[float, dict[str, np.ndarray]]:
        """``(J, grads)`` for one batch: validation, forward, cost and backward.

        With ``intermediates=False`` only ``dW*`` and ``db*`` are returned, and ``dA0`` (the
        gradient with respect to the input, a whole extra matrix product) is not computed.
        ``check=False`` skips the validation of ``params``, ``X`` and ``Y``: for hot loops over
        inputs that were validated once (float64 arrays of the right shapes, finite, targets in
        the loss's domain); anything else then gives undefined results instead of an error.
        ``masks``/``rng``: the dropout masks of this batch (or the network's fixed ones).
        """
        if check:
            params = self.check_params(params)
            X = self.check_X(X)
            Y = self.check_Y(Y, X.shape[1])
        net = self if masks is None and rng is None else self._net_for(X.shape[1], masks, rng)
        _, cache = net._forward(params, X)
        return net._cost(params, cache, Y), net._backward(params, cache, Y, intermediates)

    # ------------------------------------------------------------------ unchecked core
    # The underscore methods trust their inputs (float64, right shapes); the checker and the
    # trainer call them in loops after validating once.
    def _forward(self, params: Params, X: np.ndarray, perturb: Mapping | None = None):
        if self._layered or perturb:
            return self._forward_layers(params, X, perturb=perturb)
        cache = {"A0": X}
        A = X
        for act, (W, b, Zk, Ak, *_) in zip(self.activations, self._keys, strict=True):
            Z = params[W] @ A + params[b]
            A = act.value(Z)
            cache[Zk] = Z
            cache[Ak] = A
        return A, cache

    def _forward_layers(self, params: Params, X: np.ndarray, *, perturb: Mapping | None = None,
                        mode: str = "train", running: Mapping | None = None):
        """The forward pass with the optional layers; ``perturb`` adds arrays to named cache
        entries (``"A0"``, ``"Z{l}"``, ``"A{l}"``) as they are formed (for the checkers)."""
        perturb = perturb or {}
        running = running or {}
        masks = {} if mode == "test" else self._masks_for(X.shape[1], None, None)
        cache = {"A0": X + perturb["A0"] if "A0" in perturb else X}
        A = cache["A0"]
        for l, (act, (W, b, Zk, Ak, *_)) in enumerate(zip(self.activations, self._keys,
                                                          strict=True), start=1):
            Z = params[W] @ A + params[b]
            if Zk in perturb:
                Z = Z + perturb[Zk]
            cache[Zk] = U = Z
            kind = self.normalization[l - 1]
            if kind:
                n = Z.shape[0]
                rm = running.get(f"running_mean{l}", np.zeros((n, 1)))
                rv = running.get(f"running_var{l}", np.zeros((n, 1)))
                if kind == "layernorm":
                    mu, var, centred = _norm._moments(Z, axis=0)
                elif mode == "train":
                    mu, var, centred = _norm._moments(Z, axis=1)
                    cache[f"running_mean{l}"] = self.momentum * rm + (1.0 - self.momentum) * mu
                    cache[f"running_var{l}"] = self.momentum * rv + (1.0 - self.momentum) * var
                else:
                    mu, var, centred = rm, rv, Z - rm
                Zhat, inv_std = _norm._normalize(centred, var, self.eps)
                U = params[f"gamma{l}"] * Zhat + params[f"beta{l}"]
                cache.update({f"Zhat{l}": Zhat, f"mu{l}": mu, f"var{l}": var,
                              f"inv_std{l}": inv_std, f"Ztilde{l}": U})
            A = act.value(U)
            D = masks.get(f"D{l}")
            if D is not None:
                cache[f"G{l}"] = A
                cache[f"D{l}"] = D
                A = A * D / self.keep_probs[l - 1]
            if Ak in perturb and l < self.L:
                A = A + perturb[Ak]
            cache[Ak] = A
        if mode == "test":   # train-mode caches hold arrays only
            cache["mode"] = mode
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
                if self._layered:
                    dZ = self._hidden_backward(l - 1, params, cache, dA, grads, m, intermediates)
                    continue
                _, _, Z_prev, A_prev_key, *_ = self._keys[l - 2]
                dZ = self.activations[l - 2].vjp(cache[Z_prev], cache[A_prev_key], dA)
        return grads

    def _hidden_backward(self, k: int, params: Params, cache: Mapping, dA: np.ndarray,
                         grads: dict, m: int, intermediates: bool) -> np.ndarray:
        """dZ_k from dA_k through dropout, the activation and the normalisation of layer k."""
        G = cache[f"A{k}"]
        if self.keep_probs[k - 1] and f"D{k}" in cache:
            dA = dA * cache[f"D{k}"] / self.keep_probs[k - 1]
            G = cache[f"G{k}"]
        kind = self.normalization[k - 1]
        dU = self.activations[k - 1].vjp(cache[self.activation_input(k)], G, dA)
        if not kind:
            return dU
        if intermediates:
            grads[f"dZtilde{k}"] = dU
        local = {"Zhat": cache[f"Zhat{k}"], "inv_std": cache[f"inv_std{k}"],
                 "gamma": params[f"gamma{k}"]}
        axis = 0 if kind == "layernorm" else (1 if cache.get("mode", "train") == "train" else None)
        dZ, dgamma, dbeta = _norm._backward(dU, local, axis)
        grads[f"dgamma{k}"] = dgamma * (1.0 / m)
        grads[f"dbeta{k}"] = dbeta * (1.0 / m)
        return dZ
