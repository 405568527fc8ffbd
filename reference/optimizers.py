r"""Optimiser steps as pure functions, learning-rate schedules and mini-batch partitioning.

Every step has the form ``step(params, grads, state, **hyper) -> (new_params, new_state)``:

- ``params`` is ``{"W1": W1, "b1": b1, …}`` and ``grads`` holds ``"dW1", "db1", …`` (the keys of
  :meth:`gradref.reference.network.Network.backward`), each gradient of its parameter's shape;
- ``state`` is what the optimiser carries between steps, ``None`` for the first step:
  ``{"t": steps taken so far, <slot>: {"W1": …, "b1": …}, …}`` with one array per parameter in
  each slot (``"v"`` velocity or first moment, ``"s"`` squared-gradient average);
- ``hyper`` are keyword hyper-parameters under the courses' names (``learning_rate``, ``beta``,
  ``momentum``, ``decay_rate``, ``beta1``, ``beta2``, ``epsilon``); omitted ones take the defaults
  of :data:`OPTIMIZERS`.

Nothing passed in is modified: the results are new arrays and a new state. With :math:`\theta` one
parameter array, :math:`g` its gradient and :math:`\eta` the learning rate (element-wise):

=================  ===========================================================================
``sgd``            :math:`\theta \leftarrow \theta - \eta g`
``momentum``       exponential average (DLS C2W2): :math:`v \leftarrow \beta v + (1-\beta) g`,
                   :math:`\theta \leftarrow \theta - \eta v`
``sgd_momentum``   velocity (CS231n ``sgd_momentum``): :math:`v \leftarrow \mu v - \eta g`,
                   :math:`\theta \leftarrow \theta + v`
``nesterov``       Nesterov in the velocity form (CS231n notes): :math:`v' = \mu v - \eta g`,
                   :math:`\theta \leftarrow \theta - \mu v + (1+\mu) v' = \theta + \mu v' - \eta g`
``rmsprop``        :math:`s \leftarrow d\,s + (1-d) g^2`,
                   :math:`\theta \leftarrow \theta - \eta g / (\sqrt{s} + \varepsilon)`
``adam``           :math:`t \leftarrow t+1`, :math:`v \leftarrow \beta_1 v + (1-\beta_1) g`,
                   :math:`s \leftarrow \beta_2 s + (1-\beta_2) g^2`,
                   :math:`\hat v = v/(1-\beta_1^t)`, :math:`\hat s = s/(1-\beta_2^t)`,
                   :math:`\theta \leftarrow \theta - \eta \hat v / (\sqrt{\hat s} + \varepsilon)`
=================  ===========================================================================

All slots start at zero. ε is *outside* the square root in RMSProp and Adam, as in both courses.

**Adam's t.** ``state["t"]`` counts the steps already taken (0 before the first). A step first
increments it and then corrects with the new value, so the first step corrects with
:math:`t = 1` (:math:`\hat v = g`, :math:`\hat s = g^2`: a step of magnitude about η per
coordinate). The two courses map onto this as follows:

- DLS ``update_parameters_with_adam(parameters, grads, v, s, t, …)``: the caller increments its
  own ``t`` *before* each call and the function corrects with the ``t`` it is given (1 on the
  first call). That call is this step with ``state["t"] = t_DLS - 1``.
- CS231n ``adam(w, dw, config)``: ``config['t']`` is incremented *before* it is used, so a config
  holding ``t = 5`` corrects with 6 (the notebook's test). That call is this step with
  ``state["t"] = config['t']`` unchanged; the returned ``state["t"]`` is the config's new ``t``.

The other optimisers count ``t`` too (it is never read by them).

**Schedules** (:data:`SCHEDULES`, DLS C2W2 2021+): :func:`inverse_time_decay`
:math:`\eta_e = \eta_0/(1 + k\,e)` and :func:`stepped_inverse_time_decay`
:math:`\eta_e = \eta_0/(1 + k\lfloor e/T\rfloor)`, with e the epoch number.

**Mini-batches** (:func:`partition`, :func:`mini_batches`): one permutation of the m columns of
``X`` (n_0, m), then ⌊m/B⌋ full batches of B consecutive permuted columns, then the remainder
(if any). :func:`course_mini_batches` draws the permutation as DLS ``random_mini_batches`` does
after ``np.random.seed(seed)``, without touching NumPy's global generator.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_float_array, check_positive_int, check_real, describe

__all__ = [
    "OptimizerSpec", "OPTIMIZERS", "optimizer_names", "get_optimizer", "check_hyper",
    "init_state", "step", "sgd", "momentum", "sgd_momentum", "nesterov", "rmsprop", "adam",
    "SCHEDULES", "inverse_time_decay", "stepped_inverse_time_decay", "constant_lr",
    "partition", "mini_batches", "course_mini_batches",
]

Params = dict[str, np.ndarray]
#: One array's update: ``kernel(theta, g, slots, t, hyper) -> (new_theta, new_slots)`` where
#: ``slots`` maps slot names to this array's state and ``t`` is the step number (1 for the first).
Kernel = Callable[[np.ndarray, np.ndarray, dict, int, Mapping], tuple]


# --------------------------------------------------------------------------- kernels
def _sgd(theta, g, slots, t, h):
    return theta - h["learning_rate"] * g, {}


def _momentum(theta, g, slots, t, h):
    v = h["beta"] * slots["v"] + (1.0 - h["beta"]) * g
    return theta - h["learning_rate"] * v, {"v": v}


def _sgd_momentum(theta, g, slots, t, h):
    v = h["momentum"] * slots["v"] - h["learning_rate"] * g
    return theta + v, {"v": v}


def _nesterov(theta, g, slots, t, h):
    mu = h["momentum"]
    v = mu * slots["v"] - h["learning_rate"] * g
    return theta - mu * slots["v"] + (1.0 + mu) * v, {"v": v}


def _rmsprop(theta, g, slots, t, h):
    d = h["decay_rate"]
    s = d * slots["s"] + (1.0 - d) * (g * g)
    return theta - h["learning_rate"] * g / (np.sqrt(s) + h["epsilon"]), {"s": s}


def _adam(theta, g, slots, t, h):
    b1, b2 = h["beta1"], h["beta2"]
    v = b1 * slots["v"] + (1.0 - b1) * g
    s = b2 * slots["s"] + (1.0 - b2) * (g * g)
    v_hat = v / (1.0 - b1 ** t)
    s_hat = s / (1.0 - b2 ** t)
    return theta - h["learning_rate"] * v_hat / (np.sqrt(s_hat) + h["epsilon"]), {"v": v, "s": s}


# --------------------------------------------------------------------------- registry
#: The allowed range of each hyper-parameter: (low, high, low_open, high_open).
_RANGES = {
    "learning_rate": (0.0, math.inf, True, True),
    "beta": (0.0, 1.0, False, True),
    "momentum": (0.0, 1.0, False, True),
    "decay_rate": (0.0, 1.0, False, True),
    "beta1": (0.0, 1.0, False, True),
    "beta2": (0.0, 1.0, False, True),
    "epsilon": (0.0, math.inf, True, True),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """One registered optimiser.

    ``defaults`` are the hyper-parameters a step takes (names and default values); ``slots`` the
    per-parameter state arrays it keeps; ``courses`` the defaults and names each course uses, for
    reference; ``kernel`` the update of one array (unchecked; see :data:`Kernel`).
    """

    name: str
    kernel: Kernel
    defaults: Mapping[str, float]
    slots: tuple[str, ...]
    summary: str
    courses: Mapping[str, str] = field(default_factory=dict)


OPTIMIZERS: dict[str, OptimizerSpec] = {s.name: s for s in (
    OptimizerSpec("sgd", _sgd, {"learning_rate": 1e-2}, (),
                  "plain gradient descent",
                  {"DLS C2W2": "update_parameters_with_gd(parameters, grads, learning_rate)",
                   "CS231n": "sgd(w, dw, config): learning_rate 1e-2 (updates w in place)"}),
    OptimizerSpec("momentum", _momentum, {"learning_rate": 1e-2, "beta": 0.9}, ("v",),
                  "momentum as an exponential average v = βv + (1−β)g, θ −= ηv",
                  {"DLS C2W2": "update_parameters_with_momentum(parameters, grads, v, beta, "
                               "learning_rate); model: beta 0.9, learning_rate 0.0007"}),
    OptimizerSpec("sgd_momentum", _sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9},
                  ("v",), "momentum as a velocity v = μv − ηg, θ += v",
                  {"CS231n": "sgd_momentum(w, dw, config): learning_rate 1e-2, momentum 0.9, "
                             "velocity"}),
    OptimizerSpec("nesterov", _nesterov, {"learning_rate": 1e-2, "momentum": 0.9}, ("v",),
                  "Nesterov momentum, velocity form θ += −μv + (1+μ)(μv − ηg)",
                  {"CS231n": "lecture notes: x += -mu * v_prev + (1 + mu) * v"}),
    OptimizerSpec("rmsprop", _rmsprop,
                  {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}, ("s",),
                  "RMSProp s = d·s + (1−d)g², θ −= ηg/(√s + ε)",
                  {"CS231n": "rmsprop(w, dw, config): learning_rate 1e-2, decay_rate 0.99, "
                             "epsilon 1e-8, cache"}),
    OptimizerSpec("adam", _adam,
                  {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
                  ("v", "s"), "Adam with bias correction (t incremented before it is used)",
                  {"DLS C2W2": "update_parameters_with_adam(parameters, grads, v, s, t, "
                               "learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8)",
                   "CS231n": "adam(w, dw, config): learning_rate 1e-3, beta1 0.9, beta2 0.999, "
                             "epsilon 1e-8, m, v, t"}),
)}


def optimizer_names() -> list[str]:
    """The registered optimiser names, in registry order."""
    return list(OPTIMIZERS)


def get_optimizer(name: object) -> OptimizerSpec:
    """The :class:`OptimizerSpec` registered as ``name``; an error lists the valid names."""
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name, one of {', '.join(OPTIMIZERS)}; "
                        f"got {describe(name)}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def check_hyper(name: str, hyper: Mapping[str, object],
                labels: Mapping[str, str] | None = None) -> dict[str, float]:
    """The complete hyper-parameters of optimiser ``name``: ``hyper`` over its defaults, each
    checked against its range (learning rate and ε > 0; β, μ and the decay rate in [0, 1)).

    An unknown key, a wrong type or a value out of range raises an error naming it (under
    ``labels[key]`` when given: the spelling the caller used) and the value.
    """
    spec = get_optimizer(name)
    labels = labels or {}
    unknown = [k for k in hyper if k not in spec.defaults]
    if unknown:
        raise ValueError(f"unknown hyper-parameter(s) {', '.join(map(repr, unknown))} for "
                         f"optimizer {name!r}; valid: {', '.join(spec.defaults)}")
    out = dict(spec.defaults)
    for key, value in hyper.items():
        low, high, low_open, high_open = _RANGES[key]
        out[key] = check_real(labels.get(key, key), value, low=low, high=high,
                              low_open=low_open, high_open=high_open)
    return out


def init_state(name: str, params: Mapping[str, object]) -> dict:
    """The state before the first step of optimiser ``name``: ``t = 0`` and every slot zeros of
    each parameter's shape (DLS ``initialize_velocity``/``initialize_adam``, CS231n's
    ``config.get('velocity', zeros)``)."""
    spec = get_optimizer(name)
    params = _check_params(params)
    state: dict = {"t": 0}
    for slot in spec.slots:
        state[slot] = {k: np.zeros_like(p) for k, p in params.items()}
    return state


# --------------------------------------------------------------------------- checks
def _check_params(params: object) -> Params:
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"params must be a non-empty dict of arrays such as {{'W1': …, 'b1': …}}, "
                        f"got {describe(params)}")
    return {k: as_float_array(f"params[{k!r}]", v) for k, v in params.items()}


def _arrays_like(what: str, arrays: object, params: Params, prefix: str = "",
                 finite: bool = True) -> Params:
    """``{k: arrays[prefix + k]}`` for every key k of ``params``, each a float64 array of
    ``params[k]``'s shape (finite unless ``finite=False``); errors name ``what`` and the key."""
    if not isinstance(arrays, Mapping):
        raise TypeError(f"{what} must be a dict of arrays keyed like params, got "
                        f"{describe(arrays)}")
    out = {}
    for k, p in params.items():
        key = prefix + k
        if key not in arrays:
            raise ValueError(f"{what} has no {key!r} for params[{k!r}] ({what} has: "
                             f"{', '.join(map(repr, arrays)) or 'nothing'})")
        label = f"{what}[{key!r}]"
        if finite:
            a = as_float_array(label, arrays[key])
        else:
            a = np.asarray(arrays[key])
            if a.dtype.kind not in "iuf":
                raise TypeError(f"{label} must be a real numeric array, got {describe(a)}")
            a = a.astype(np.float64)
        if a.shape != p.shape:
            raise ValueError(f"{label} has shape {a.shape} but params[{k!r}] has shape "
                             f"{p.shape}; it needs its parameter's shape")
        out[k] = a
    return out


def _check_grads(grads: object, params: Params) -> Params:
    return _arrays_like("grads", grads, params, prefix="d")


def _check_state(name: str, state: object, params: Params) -> dict:
    spec = OPTIMIZERS[name]
    if state is None:
        return init_state(name, params)
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict (or None for the first step), got {describe(state)}")
    for key in ("t", *spec.slots):
        if key not in state:
            raise ValueError(f"state of optimizer {name!r} has no {key!r}; it needs "
                             f"{', '.join(map(repr, ('t', *spec.slots)))} (init_state gives them)")
    t = state["t"]
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"state['t'] must be the number of steps taken, an int >= 0, "
                         f"got {describe(t)}")
    out: dict = {"t": int(t)}
    for slot in spec.slots:
        out[slot] = _arrays_like(f"state[{slot!r}]", state[slot], params)
    return out


# --------------------------------------------------------------------------- steps
def _apply(spec: OptimizerSpec, params: Mapping, grads: Mapping, state: Mapping,
           hyper: Mapping) -> tuple[Params, dict]:
    """The step without checks: ``grads`` keyed like ``params`` (no ``d`` prefix)."""
    t = state["t"] + 1
    new_params: Params = {}
    new_state: dict = {"t": t, **{slot: {} for slot in spec.slots}}
    for k, theta in params.items():
        slots = {slot: state[slot][k] for slot in spec.slots}
        new_params[k], new_slots = spec.kernel(theta, grads[k], slots, t, hyper)
        for slot in spec.slots:
            new_state[slot][k] = new_slots[slot]
    return new_params, new_state


def step(name: str, params: Mapping[str, object], grads: Mapping[str, object],
         state: Mapping | None = None, **hyper: float) -> tuple[Params, dict]:
    """One step of optimiser ``name`` (see the module docstring for the rule and the state).

    Every input is validated (shapes, finiteness, state keys, hyper-parameter ranges) and none is
    modified. Returns ``(new_params, new_state)``.
    """
    spec = get_optimizer(name)
    full = check_hyper(name, hyper)
    p = _check_params(params)
    g = _check_grads(grads, p)
    s = _check_state(name, state, p)
    return _apply(spec, p, g, s, full)


def _named_step(name: str) -> Callable:
    def fn(params, grads, state=None, **hyper):
        return step(name, params, grads, state, **hyper)

    spec = OPTIMIZERS[name]
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"{spec.summary[0].upper()}{spec.summary[1:]}: ``step({name!r}, …)``.\n\n"
                  f"Hyper-parameters (defaults): "
                  f"{', '.join(f'{k}={v:g}' for k, v in spec.defaults.items())}.")
    return fn


sgd = _named_step("sgd")
momentum = _named_step("momentum")
sgd_momentum = _named_step("sgd_momentum")
nesterov = _named_step("nesterov")
rmsprop = _named_step("rmsprop")
adam = _named_step("adam")


# --------------------------------------------------------------------------- schedules
def _check_epoch(epoch: object) -> int:
    if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
        raise ValueError(f"epoch_num must be an int >= 0, got {describe(epoch)}")
    return int(epoch)


def constant_lr(learning_rate0: float, epoch_num: int, decay_rate: float = 0.0,
                time_interval: int = 1) -> float:
    r""":math:`\eta_e = \eta_0` (no decay; ``decay_rate`` and ``time_interval`` are ignored)."""
    _check_epoch(epoch_num)
    return check_real("learning_rate0", learning_rate0, low=0.0, low_open=True)


def inverse_time_decay(learning_rate0: float, epoch_num: int, decay_rate: float,
                       time_interval: int = 1) -> float:
    r""":math:`\eta_e = \eta_0 / (1 + k\,e)` (DLS ``update_lr``; ``time_interval`` ignored).

    ``learning_rate0`` > 0, ``epoch_num`` e an int >= 0, ``decay_rate`` k >= 0.
    """
    lr0 = check_real("learning_rate0", learning_rate0, low=0.0, low_open=True)
    e = _check_epoch(epoch_num)
    k = check_real("decay_rate", decay_rate, low=0.0)
    return lr0 / (1.0 + k * e)


def stepped_inverse_time_decay(learning_rate0: float, epoch_num: int, decay_rate: float,
                               time_interval: int = 1000) -> float:
    r""":math:`\eta_e = \eta_0 / (1 + k \lfloor e / T \rfloor)` (DLS ``schedule_lr_decay``).

    The rate falls only every T = ``time_interval`` epochs: (0.5, 10, 1, 100) gives 0.5.
    """
    lr0 = check_real("learning_rate0", learning_rate0, low=0.0, low_open=True)
    e = _check_epoch(epoch_num)
    k = check_real("decay_rate", decay_rate, low=0.0)
    interval = check_positive_int("time_interval", time_interval)
    return lr0 / (1.0 + k * (e // interval))


#: Learning-rate schedules: ``schedule(learning_rate0, epoch_num, decay_rate, time_interval)``.
SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant_lr,
    "inverse_time": inverse_time_decay,
    "stepped": stepped_inverse_time_decay,
}


# --------------------------------------------------------------------------- mini-batches
def _check_batch_size(batch_size: object) -> int:
    return check_positive_int("mini_batch_size", batch_size)


def partition(m: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Column indices of the mini-batches of ``m`` examples: one permutation drawn from ``rng``
    (``None``: the identity, no shuffle), cut into ⌊m/B⌋ batches of B = ``batch_size`` then the
    remainder (absent when B divides m; one batch of m when B >= m)."""
    m = check_positive_int("m", m)
    b = _check_batch_size(batch_size)
    if rng is None:
        order = np.arange(m)
    elif isinstance(rng, np.random.Generator | np.random.RandomState):
        order = rng.permutation(m)
    else:
        raise TypeError(f"rng must be a numpy Generator (or RandomState, or None for no "
                        f"shuffle), got {describe(rng)}")
    return [order[lo:lo + b] for lo in range(0, m, b)]


def mini_batches(X: object, Y: object, batch_size: int = 64,
                 rng: np.random.Generator | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(X_b, Y_b), …]`` for ``X`` (n_0, m) and ``Y`` (n_L, m) cut by :func:`partition`."""
    X = as_float_array("X", X, ndim=2)
    Y = as_float_array("Y", Y, ndim=2)
    if Y.shape[1] != X.shape[1]:
        raise ValueError(f"Y has shape {Y.shape} but X has shape {X.shape}: both need m = "
                         f"{X.shape[1]} columns (one per example)")
    return [(X[:, idx], Y[:, idx]) for idx in partition(X.shape[1], batch_size, rng)]


def course_mini_batches(X: object, Y: object, mini_batch_size: int = 64,
                        seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """DLS ``random_mini_batches``: the permutation ``np.random.seed(seed)`` then
    ``np.random.permutation(m)`` would give (from a private ``RandomState(seed)``, the same
    stream; NumPy's global generator is left alone)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {describe(seed)}")
    return mini_batches(X, Y, mini_batch_size, np.random.RandomState(int(seed)))
