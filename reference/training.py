r"""Mini-batch gradient descent for :class:`~gradref.reference.network.Network`, seeded end to end.

1. **Standardisation.** A :class:`Standardizer` is fitted on the training inputs only:
   :math:`\mu_j = \frac1m\sum_i x_{ji}`, :math:`s_j = \sqrt{\frac1m\sum_i (x_{ji}-\mu_j)^2}`
   (or :math:`s_j = 1` when feature ``j`` is constant), and every input (training, test,
   prediction) becomes :math:`\tilde x_j = (x_j - \mu_j)/s_j`.
2. **Epochs.** One :class:`numpy.random.Generator` is made from ``seed`` once. It draws the
   initial parameters, then each epoch a permutation of the m columns, cut into consecutive
   mini-batches of ``batch_size`` columns, the remainder last
   (:func:`~gradref.reference.optimizers.partition`).
3. **Steps.** For each mini-batch :math:`B`, the gradients of
   :math:`J_B = \frac1{|B|}\sum_{i\in B}\ell_i + \frac{\lambda}{2|B|}\sum_l\lVert W_l\rVert_F^2`
   (the network's own cost, L2 through its ``l2``) update the parameters through a pure step
   function of :mod:`gradref.reference.optimizers` (``sgd``, ``momentum`` as an exponential
   average, ``sgd_momentum`` as a velocity, ``nesterov``, ``rmsprop``, ``adam`` with bias
   correction; see there for the formulas and the defaults), the state carried from step to
   step by an :class:`Optimizer`. The learning rate of epoch e = 1, 2, … is
   ``SCHEDULES[schedule](lr, e - 1, decay_rate, time_interval)``: constant by default, or
   :math:`\eta_0/(1 + k(e-1))`, or :math:`\eta_0/(1 + k\lfloor (e-1)/T\rfloor)`, so the first
   epoch always runs at η₀. (DLS's ``model`` sets the rate after epoch i from ``i`` itself, which
   makes its second epoch run at η₀ too: the same sequence one epoch later.)
4. **History.** ``costs[0]`` is J on the whole (standardised) training set before the first
   step and ``costs[e]`` is J after epoch e, so ``len(costs) == epochs + 1``.

Inputs are validated once per call through the network's public API; the inner loop uses the
unchecked ``_forward``/``_cost``/``_backward``. The same seed gives the same numbers, bit for
bit. tqdm draws a progress bar when it is installed and ``progress`` allows it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_float_array, check_positive_int, check_real, describe
from .init import INITIALIZERS, as_generator
from .network import Network
from .optimizers import (
    OPTIMIZERS,
    SCHEDULES,
    _apply,
    check_hyper,
    get_optimizer,
    init_state,
    optimizer_names,
    partition,
)

__all__ = [
    "Standardizer", "Optimizer", "SGD", "Momentum", "Adam", "OPTIMIZERS", "optimizer_names",
    "make_optimizer", "TrainResult", "TrainingDiverged", "train", "predict", "accuracy",
]

Params = dict[str, np.ndarray]

#: With ``progress=None`` the bar appears only once a run has lasted this many seconds (and only
#: when stderr is a terminal).
PROGRESS_DELAY = 1.0


# --------------------------------------------------------------------------- checks
def _check_bool(name: str, value: object, allow_none: bool = False) -> bool | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        extra = ", or None" if allow_none else ""
        raise TypeError(f"{name} must be True or False{extra}, got {describe(value)}")
    return bool(value)


# --------------------------------------------------------------------------- standardisation
class Standardizer:
    r"""Per-feature standardisation :math:`\tilde x_j = (x_j - \mu_j)/s_j` for X of shape (n_0, m).

    ``fit`` sets ``mean_`` (:math:`\mu`, shape (n_0, 1)) and ``scale_`` (:math:`s`, shape
    (n_0, 1)) from the columns of X: :math:`s_j` is the population standard deviation, replaced
    by 1 when the feature is constant or its spread is at rounding level
    (:math:`s_j \le 10^{-12} \max_i |x_{ji}|`), so that a constant feature maps to exactly 0
    rather than to NaN or to amplified rounding noise.
    """

    #: Relative spread below which a feature counts as constant.
    RELATIVE_FLOOR = 1e-12

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: object) -> Standardizer:
        """Learn :math:`\\mu` and :math:`s` from ``X`` (n_0, m); returns ``self``."""
        X = as_float_array("X", X, ndim=2)
        mean = np.mean(X, axis=1, keepdims=True)
        # The mean of equal values may round away from them: take a constant feature's value.
        constant = np.ptp(X, axis=1, keepdims=True) == 0.0
        mean = np.where(constant, X[:, :1], mean)
        std = np.sqrt(np.mean((X - mean) ** 2, axis=1, keepdims=True))
        flat = constant | (std <= self.RELATIVE_FLOOR * np.max(np.abs(X), axis=1, keepdims=True))
        self.mean_ = mean
        self.scale_ = np.where(flat, 1.0, std)
        return self

    def _check_fitted(self, X: object) -> np.ndarray:
        if self.mean_ is None:
            raise ValueError("this Standardizer is not fitted yet; call fit(X_train) first")
        X = as_float_array("X", X, ndim=2)
        if X.shape[0] != self.mean_.shape[0]:
            raise ValueError(f"X has shape {X.shape}, expected ({self.mean_.shape[0]}, m): the "
                             f"Standardizer was fitted on {self.mean_.shape[0]} features")
        return X

    def transform(self, X: object) -> np.ndarray:
        """Return :math:`(X - \\mu)/s` as a new array."""
        X = self._check_fitted(X)
        return (X - self.mean_) / self.scale_

    def inverse_transform(self, X: object) -> np.ndarray:
        """Return :math:`\\tilde X s + \\mu` as a new array."""
        X = self._check_fitted(X)
        return X * self.scale_ + self.mean_

    def fit_transform(self, X: object) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "Standardizer(unfitted)"
        return (f"Standardizer(mean={self.mean_.ravel().tolist()}, "
                f"scale={self.scale_.ravel().tolist()})")


# --------------------------------------------------------------------------- optimizers
#: The training API's short spellings of the courses' hyper-parameter names.
_SHORT = {"learning_rate": "lr", "epsilon": "eps"}
_LONG = {v: k for k, v in _SHORT.items()}


class Optimizer:
    """An optimiser of :data:`~gradref.reference.optimizers.OPTIMIZERS` with its state, for the
    training loop: ``step(params, grads)`` returns new parameter arrays through the pure step
    function, and keeps the returned state (velocities, moments, the step count ``t``).

    ``params`` is ``{"W1", "b1", …}`` and ``grads`` holds ``"dW1", "db1", …`` as returned by
    :meth:`Network.backward`. The arrays passed in are never modified. ``options`` are the other
    hyper-parameters under the registry's names (``eps`` may stand for ``epsilon``).
    """

    name: str = ""

    def __init__(self, name: str, lr: float = 0.01, **options: float) -> None:
        self.name = get_optimizer(name).name
        given = {_LONG.get(k, k): v for k, v in options.items()}
        given["learning_rate"] = lr
        self.config = check_hyper(name, given, labels={**_SHORT, **{_LONG.get(k, k): k
                                                                    for k in options}})
        self.state: dict | None = None

    @property
    def lr(self) -> float:
        """The current learning rate (a schedule changes it between epochs)."""
        return self.config["learning_rate"]

    @lr.setter
    def lr(self, value: float) -> None:
        self.config["learning_rate"] = check_real("lr", value, low=0.0, low_open=True)

    @property
    def t(self) -> int:
        """The number of steps taken."""
        return 0 if self.state is None else self.state["t"]

    @property
    def hyper(self) -> dict[str, float]:
        """The hyper-parameters under the training API's names (``lr`` first), JSON-ready."""
        return {_SHORT.get(k, k): v for k, v in self.config.items()}

    def step(self, params: Mapping[str, np.ndarray],
             grads: Mapping[str, np.ndarray]) -> Params:
        if self.state is None:
            self.state = init_state(self.name, params)
        new, self.state = _apply(OPTIMIZERS[self.name], params,
                                 {k: grads["d" + k] for k in params}, self.state, self.config)
        return new

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.hyper.items())
        return f"Optimizer({self.name!r}, {args})"


class SGD(Optimizer):
    r"""Plain gradient descent: :math:`\theta \leftarrow \theta - \eta g`."""

    name = "sgd"

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__("sgd", lr)


class Momentum(Optimizer):
    r"""Momentum as an exponential average (DLS): :math:`v \leftarrow \beta v + (1-\beta) g`,
    :math:`\theta \leftarrow \theta - \eta v`, :math:`v_0 = 0` (no bias correction)."""

    name = "momentum"

    def __init__(self, lr: float = 0.01, beta: float = 0.9) -> None:
        super().__init__("momentum", lr, beta=beta)


class Adam(Optimizer):
    r"""Adam with bias correction (Kingma & Ba, 2015); the first step corrects with t = 1."""

    name = "adam"

    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__("adam", lr, beta1=beta1, beta2=beta2, eps=eps)


def make_optimizer(name: object, lr: float = 0.01, **options: object) -> Optimizer:
    """A fresh :class:`Optimizer` of :data:`OPTIMIZERS` by ``name`` with learning rate ``lr``.

    ``options`` are its other hyper-parameters (``beta`` for momentum; ``momentum`` for
    sgd_momentum and nesterov; ``decay_rate``, ``eps`` for rmsprop; ``beta1``, ``beta2``,
    ``eps`` for adam). An unknown name or option raises an error listing the valid ones.
    """
    spec = get_optimizer(name)
    valid = [_SHORT.get(k, k) for k in spec.defaults if k != "learning_rate"]
    unknown = [k for k in options if k not in valid and k not in spec.defaults]
    if "learning_rate" in options:
        unknown.append("learning_rate")
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for optimizer "
                         f"{name!r}; valid: {', '.join(valid) or 'none'} (the learning rate is lr)")
    return Optimizer(spec.name, lr, **options)


# --------------------------------------------------------------------------- prediction
def _output_kind(network: Network) -> str:
    name = network.activations[-1].name
    return {"sigmoid": "threshold", "softmax": "onehot"}.get(name, "raw")


def predict(network: Network, params: Mapping[str, np.ndarray], X: object,
            standardizer: Standardizer | None = None) -> np.ndarray:
    r"""Predictions of shape (n_L, m) for inputs ``X`` (n_0, m), standardised first if given.

    By the output activation:

    - ``sigmoid``: :math:`[a_k \ge 0.5]` per output unit (0.0 or 1.0);
    - ``softmax``: the one-hot column of :math:`\arg\max_k a_k` (the first on ties), so that
      predictions have the shape of one-hot targets (``argmax(axis=0)`` gives class indices);
    - anything else (linear, tanh, … for the squared losses): the raw output :math:`A_L`.
    """
    if not isinstance(network, Network):
        raise TypeError(f"network must be a reference Network, got {describe(network)}")
    if standardizer is not None:
        X = standardizer.transform(network.check_X(X))
    AL, _ = network.forward(params, X)
    kind = _output_kind(network)
    if kind == "threshold":
        return (AL >= 0.5).astype(np.float64)
    if kind == "onehot":
        out = np.zeros_like(AL)
        out[np.argmax(AL, axis=0), np.arange(AL.shape[1])] = 1.0
        return out
    return AL


def accuracy(Y_pred: object, Y: object) -> float:
    """The fraction of examples (columns) whose predicted column equals the target column.

    ``Y_pred`` and ``Y`` have the same shape (n_L, m): 0/1 labels (one row per sigmoid unit,
    all must match) or one-hot columns. A 1-D pair of label vectors of equal length is also
    accepted.
    """
    Y_pred = as_float_array("Y_pred", Y_pred)
    Y = as_float_array("Y", Y)
    if Y_pred.shape != Y.shape or Y.ndim not in (1, 2):
        raise ValueError(f"Y_pred has shape {Y_pred.shape} but Y has shape {Y.shape}; "
                         f"expected equal shapes (n_L, m)")
    if Y.ndim == 1:
        return float(np.mean(Y_pred == Y))
    return float(np.mean(np.all(Y_pred == Y, axis=0)))


# --------------------------------------------------------------------------- training
class TrainingDiverged(FloatingPointError):
    """The training cost became NaN or infinite; the message names the epoch and the lr."""


@dataclass(eq=False)
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    params : dict
        The trained parameters ``{"W1", "b1", …}`` (for *standardised* inputs).
    costs : ndarray, shape (epochs + 1,)
        ``costs[0]`` before training, ``costs[e]`` after epoch e, on the standardised training
        set, L2 term included.
    standardizer : Standardizer or None
        Fitted on the training inputs (``None`` when ``standardize=False``).
    network : Network
    optimizer : Optimizer
        The optimizer in its final state.
    epochs, batch_size, seed
        The arguments of the call.
    learning_rates : ndarray, shape (epochs,)
        The learning rate of each epoch (the schedule's values).
    seconds : float
        Wall time of the call.
    """

    params: Params
    costs: np.ndarray
    standardizer: Standardizer | None
    network: Network
    optimizer: Optimizer
    epochs: int
    batch_size: int
    seed: object = None
    learning_rates: np.ndarray | None = None
    seconds: float = field(default=0.0, compare=False)

    @property
    def final_cost(self) -> float:
        """``costs[-1]``, the training cost after the last epoch."""
        return float(self.costs[-1])

    def _inputs(self, X: object) -> np.ndarray:
        X = self.network.check_X(X)
        return X if self.standardizer is None else self.standardizer.transform(X)

    def predict(self, X: object) -> np.ndarray:
        """:func:`predict` on raw inputs ``X`` (standardised with the training statistics)."""
        return predict(self.network, self.params, X, self.standardizer)

    def output(self, X: object) -> np.ndarray:
        """The network output :math:`A_L` for raw inputs ``X``, shape (n_L, m)."""
        return self.network.forward(self.params, self._inputs(X))[0]

    def cost(self, X: object, Y: object) -> float:
        """The network's cost J on raw inputs ``X`` and targets ``Y`` (L2 term with this m)."""
        return self.network.cost(self.params, self._inputs(X), Y)

    def accuracy(self, X: object, Y: object) -> float:
        """:func:`accuracy` of :meth:`predict` against ``Y``."""
        return accuracy(self.predict(X), Y)


def _progress_bar(progress: bool | None, epochs: int):
    """A tqdm bar over the epochs, or ``None`` (``progress=False`` or tqdm missing)."""
    if progress is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    if progress:
        return tqdm(total=epochs, desc="train", unit="epoch", leave=False)
    # Auto: hidden when stderr is not a terminal (disable=None) and for short runs (delay).
    return tqdm(total=epochs, desc="train", unit="epoch", leave=False, disable=None,
                delay=PROGRESS_DELAY)


def train(network: Network, X: object, Y: object, *, epochs: int = 100, batch_size: int = 64,
          lr: float = 0.01, optimizer: str = "adam",
          optimizer_options: Mapping[str, float] | None = None,
          schedule: str = "constant", decay_rate: float = 1.0, time_interval: int = 1000,
          init: str = "he", params: Mapping[str, np.ndarray] | None = None,
          standardize: bool = True, seed: object = 0,
          progress: bool | None = None) -> TrainResult:
    r"""Train ``network`` on ``X`` (n_0, m) and ``Y`` (n_L, m) by mini-batch gradient descent.

    Parameters
    ----------
    network : Network
        Architecture, activations, loss and λ (the L2 strength is the network's ``l2``).
    X, Y : array_like
        Training inputs and targets in the canonical layout; validated once.
    epochs : int
        Number of passes over the data (>= 1).
    batch_size : int
        Columns per mini-batch (>= 1); values above m mean full-batch descent.
    lr : float
        Learning rate η > 0.
    optimizer : str
        A name from :data:`OPTIMIZERS`: ``"sgd"``, ``"momentum"``, ``"sgd_momentum"``,
        ``"nesterov"``, ``"rmsprop"`` or ``"adam"``.
    optimizer_options : mapping, optional
        Other hyper-parameters of the optimizer (``{"beta": 0.95}``, ``{"beta1": 0.8}``, …).
    init : str
        Initialisation scheme from :data:`~gradref.reference.init.INITIALIZERS`, used when ``params`` is
        not given.
    params : mapping, optional
        Initial parameters (validated, never modified). By default drawn from ``seed``.
    standardize : bool
        Fit a :class:`Standardizer` on X and train on standardised inputs (default True).
    schedule : str
        A learning-rate schedule of :data:`~gradref.reference.optimizers.SCHEDULES`:
        ``"constant"`` (default), ``"inverse_time"`` or ``"stepped"``.
    decay_rate : float
        k >= 0 of the schedule (default 1, as DLS's ``model``).
    time_interval : int
        T >= 1 of the stepped schedule (default 1000, as DLS's ``schedule_lr_decay``).
    seed : int, None or numpy Generator
        Seeds the one generator used for the initial parameters and every epoch's permutation.
    progress : bool or None
        True: always a tqdm bar; False: never; None (default): a bar on a terminal once the
        run has lasted ``PROGRESS_DELAY`` seconds. Without tqdm, never a bar.

    Returns
    -------
    TrainResult

    Raises
    ------
    TypeError, ValueError
        For any bad argument, naming it and its value.
    TrainingDiverged
        When the cost becomes NaN or infinite (lower ``lr``).
    """
    start = time.perf_counter()
    if not isinstance(network, Network):
        raise TypeError(f"network must be a reference Network, got {describe(network)}")
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    if optimizer_options is None:
        optimizer_options = {}
    if not isinstance(optimizer_options, Mapping):
        raise TypeError(f"optimizer_options must be a dict of hyper-parameters, "
                        f"got {describe(optimizer_options)}")
    opt = make_optimizer(optimizer, lr, **optimizer_options)
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid: {', '.join(SCHEDULES)}")
    decay_rate = check_real("decay_rate", decay_rate, low=0.0)
    time_interval = check_positive_int("time_interval", time_interval)
    lr_of = SCHEDULES[schedule]
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise ValueError(f"unknown init {init!r}; valid schemes: {', '.join(INITIALIZERS)}")
    standardize = _check_bool("standardize", standardize)
    progress = _check_bool("progress", progress, allow_none=True)
    rng = as_generator(seed)

    # Validate once through the public API.
    X = network.check_X(X)
    m = X.shape[1]
    Y = network.check_Y(Y, m)
    standardizer = Standardizer().fit(X) if standardize else None
    Xs = standardizer.transform(X) if standardize else X
    if params is None:
        params = network.init_params(init, seed=rng)
    else:
        params = {k: np.array(v, copy=True) for k, v in network.check_params(params).items()}
    costs = np.empty(epochs + 1)
    rates = np.empty(epochs)
    costs[0] = network.cost(params, Xs, Y)

    bar = _progress_bar(progress, epochs)
    try:
        for epoch in range(1, epochs + 1):
            opt.lr = rates[epoch - 1] = lr_of(lr, epoch - 1, decay_rate, time_interval)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for idx in partition(m, batch_size, rng):
                    Xb, Yb = Xs[:, idx], Y[:, idx]
                    _, cache = network._forward(params, Xb)
                    params = opt.step(params, network._backward(params, cache, Yb))
                _, cache = network._forward(params, Xs)
                costs[epoch] = network._cost(params, cache, Y)
            if not math.isfinite(costs[epoch]):
                raise TrainingDiverged(f"training diverged at epoch {epoch}: cost = "
                                       f"{costs[epoch]} (lr = {opt.lr:g}, optimizer {optimizer!r}); "
                                       f"try a smaller lr")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(cost=f"{costs[epoch]:.4g}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return TrainResult(params=params, costs=costs, standardizer=standardizer, network=network,
                       optimizer=opt, epochs=epochs, batch_size=batch_size, seed=seed,
                       learning_rates=rates, seconds=time.perf_counter() - start)
