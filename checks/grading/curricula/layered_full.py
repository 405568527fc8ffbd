r"""Computations of the built-in ``layered-full`` assignment (CS231n assignment 2, row-major).

Every expected value comes from the reference: :mod:`gradref.reference.rowmajor` (batch norm,
layer norm, dropout in the course's ``(N, D)`` form with flat ``gamma``/``beta``),
:mod:`gradref.reference.optimizers` (the update rules) and :class:`gradref.reference.Network`
(the fully connected net with its normalisation layers). Row-major: ``x`` is (N, D) with
N = the case's m and D = its width.

Case data, chosen so that correct code of every style passes and the classic mistakes fail:

* normalisation: each feature is ``mu + sigma * randn`` with ``|mu| / sigma`` at most
  :data:`~gradref.checks.grading.tolerances.NORM_CASE_MAX_MEAN_OVER_STD` (one-pass variances
  stay exact to ~1e-13), ``gamma`` in [0.5, 2] (a forgotten γ shows), ``beta`` random, ``eps``
  1e-5 (the default, absent from ``bn_param``) or given as 1e-3/1e-2 (ε outside the root then
  differs by more than the tolerance), ``momentum`` 0.9 (absent) or given as 0.7 with random
  non-zero running statistics (swapped momentum, or running stats never written back, show);
* dropout: ``|x| >= DROPOUT_CASE_MIN_ABS_X``, N·D >= 400, ``p`` in {0.25, 0.3, 0.7, 0.8} (never
  0.5, where keeping and dropping with probability p coincide), a ``seed`` in ``dropout_param``
  as the notebook passes; the train-mode output is :class:`InvertedDropout` (any mask of the
  right distribution, p read as the keep probability, or, accepted with a note, as the drop
  probability of the 2016–17 docstrings);
* update rules: a full ``config`` (every hyper-parameter and state entry given, as the notebook
  passes them), Adam with ``t`` in 0…9 and β1 < 0.95, so a missing bias correction or a t used
  before its increment is off by far more than the tolerance.
"""

from __future__ import annotations

import numpy as np
from gradref.checks.diagnosis import layered_full as _diag
from gradref.reference import Network, optimizers, rowmajor
from gradref.reference import dropout as _drop

from ..computations import Built, Computation, Judged, RandomWeights, _off_kinks, register
from ..tolerances import (
    CASE_MIN_ABS_Z,
    DROPOUT_CASE_MIN_ABS_X,
    DROPOUT_FRACTION_SIGMAS,
    INIT_STD_MAX,
    INIT_STD_MIN,
    NORM_CASE_MAX_MEAN_OVER_STD,
)

__all__ = ["InvertedDropout", "DROPOUT_PS", "RULES"]

#: Dropout probabilities of the cases (never 0.5: see the module docstring).
DROPOUT_PS = (0.25, 0.3, 0.7, 0.8)
#: The CS231n update rules graded, with the reference optimiser each is and the config's state
#: keys as ``{config key: reference slot}`` (CS231n's Adam ``m``/``v`` are the reference's
#: ``v``/``s``; RMSProp's ``cache`` is ``s``).
RULES = {"sgd": {}, "sgd_momentum": {"velocity": "v"}, "rmsprop": {"cache": "s"},
         "adam": {"m": "v", "v": "s"}}
_RESAMPLE = 60


def _context(**items) -> dict:
    base = {"m": None, "net": None, "params": None, "cache": None, "X": None, "Y": None}
    base.update(items)
    return base


# --------------------------------------------------------------------------- normalisation
def _features(rng, N: int, D: int, axis: int) -> np.ndarray:
    """x (N, D): mu + sigma * randn per feature (axis 0: batch norm) or per example (axis 1:
    layer norm), |mu| / sigma <= NORM_CASE_MAX_MEAN_OVER_STD."""
    k = D if axis == 0 else N
    sigma = rng.uniform(0.5, 3.0, size=k)
    mu = rng.uniform(-1.0, 1.0, size=k) * np.minimum(10.0, NORM_CASE_MAX_MEAN_OVER_STD * sigma)
    shape = (1, D) if axis == 0 else (N, 1)
    return mu.reshape(shape) + sigma.reshape(shape) * rng.standard_normal((N, D))


def _affine(rng, D: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0.5, 2.0, size=D), 0.5 * rng.standard_normal(D)


def _bn_param(rng, D: int, mode: str) -> dict:
    param: dict = {"mode": mode}
    if rng.random() < 0.5:
        param["eps"] = float(rng.choice([1e-3, 1e-2]))
    if rng.random() < 0.5 or mode == "test":
        param["momentum"] = 0.7
        param["running_mean"] = rng.standard_normal(D)
        param["running_var"] = rng.uniform(0.5, 2.0, size=D)
    return param


def _build_bn(case, lay, spec, options, mode: str | None = None):
    mode = mode or case.variant or "train"
    (D,), N = case.layer_dims, case.m
    rng = case.rng()
    x = _features(rng, N, D, axis=0)
    gamma, beta = _affine(rng, D)
    bn_param = _bn_param(rng, D, mode)
    after = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
             for k, v in bn_param.items()}
    out, cache = rowmajor.batchnorm_forward(x, gamma, beta, after)
    dout = rng.standard_normal((N, D))
    dx, dgamma, dbeta = rowmajor.batchnorm_backward(dout, cache)
    q = {"x": x, "gamma": gamma, "beta": beta, "bn_param": bn_param, "out": out,
         "bn_cache": cache, "dout": dout, "dx": dx, "dgamma": dgamma, "dbeta": dbeta,
         "bn_param_after": {"running_mean": after["running_mean"],
                            "running_var": after["running_var"]}}
    return Built(q, _context(m=N, layer="batchnorm", mode=mode))


register(Computation(
    "batchnorm_forward",
    "Batch norm of x (N, D) per column: train mode normalises with the batch mean and biased "
    "variance, out = gamma * (x - mu) / sqrt(var + eps) + beta, and writes running = momentum * "
    "running + (1 - momentum) * batch back into bn_param; test mode uses the running statistics.",
    "array",
    inputs={"x": "(N, D)", "gamma": "(D,)", "beta": "(D,)",
            "bn_param": "{'mode', optional 'eps', 'momentum', 'running_mean', 'running_var'}"},
    outputs={"out": "(N, D)", "bn_cache": "the student's own (not compared)",
             "bn_param_after": "bn_param after the call: running_mean, running_var (D,)"},
    kinds={"bn_cache": "cache", "bn_param_after": "dict"},
    variant="mode", variants=("train", "test"),
    build=_build_bn, diagnose_outputs=_diag.diagnose_batchnorm_forward,
))

register(Computation(
    "batchnorm_backward",
    "The train-mode batch-norm backward from dout (N, D) and the cache of the student's own "
    "batchnorm_forward (cache_from): dx through the batch mean and variance, dgamma = "
    "sum_rows(dout * xhat), dbeta = sum_rows(dout).",
    "array",
    inputs={"dout": "(N, D)", "bn_cache": "the cache of the student's batchnorm_forward",
            "x": "(N, D)", "gamma": "(D,)", "beta": "(D,)", "bn_param": "train mode"},
    outputs={"dx": "(N, D)", "dgamma": "(D,)", "dbeta": "(D,)"},
    build=lambda case, lay, spec, options: _build_bn(case, lay, spec, options, "train"),
    diagnose_outputs=_diag.diagnose_norm_backward,
))


def _build_ln(case, lay, spec, options):
    (D,), N = case.layer_dims, case.m
    rng = case.rng()
    x = _features(rng, N, D, axis=1)
    gamma, beta = _affine(rng, D)
    ln_param = {"eps": float(rng.choice([1e-3, 1e-2]))} if rng.random() < 0.5 else {}
    out, cache = rowmajor.layernorm_forward(x, gamma, beta, ln_param)
    dout = rng.standard_normal((N, D))
    dx, dgamma, dbeta = rowmajor.layernorm_backward(dout, cache)
    q = {"x": x, "gamma": gamma, "beta": beta, "ln_param": ln_param, "out": out,
         "ln_cache": cache, "dout": dout, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    return Built(q, _context(m=N, layer="layernorm", mode="train"))


register(Computation(
    "layernorm_forward",
    "Layer norm of x (N, D): each row normalised over its D features (no mode, no running "
    "statistics), out = gamma * xhat + beta.",
    "array",
    inputs={"x": "(N, D)", "gamma": "(D,)", "beta": "(D,)", "ln_param": "{optional 'eps'}"},
    outputs={"out": "(N, D)", "ln_cache": "the student's own (not compared)"},
    kinds={"ln_cache": "cache"},
    build=_build_ln, diagnose_outputs=_diag.diagnose_layernorm_forward,
))

register(Computation(
    "layernorm_backward",
    "The layer-norm backward from dout and the cache of the student's own layernorm_forward "
    "(cache_from): the batch-norm formula with the means over each row's features.",
    "array",
    inputs={"dout": "(N, D)", "ln_cache": "the cache of the student's layernorm_forward",
            "x": "(N, D)", "gamma": "(D,)", "beta": "(D,)", "ln_param": "{optional 'eps'}"},
    outputs={"dx": "(N, D)", "dgamma": "(D,)", "dbeta": "(D,)"},
    build=_build_ln, diagnose_outputs=_diag.diagnose_norm_backward,
))


# --------------------------------------------------------------------------- dropout
class InvertedDropout(Judged):
    """The expected train-mode output of ``dropout_forward(x, {'p': p, …})``: ``x ⊙ D / q`` for
    some mask D whose kept fraction is q within ``DROPOUT_FRACTION_SIGMAS`` binomial deviations;
    q = p (the keep probability, 2018+) or, accepted with a note, q = 1 - p (the drop
    probability of the 2016–17 docstrings). Anything else is named (:mod:`…diagnosis.layered_full`)."""

    def __init__(self, x: np.ndarray, p: float) -> None:
        self.x, self.p, self.shape = x, float(p), x.shape

    def reading(self, got: np.ndarray) -> str | None:
        """"keep" or "drop" when ``got`` is a valid inverted dropout of x under that reading."""
        kept, scale = _diag.read_mask(self.x, got)
        if scale is None:
            return None
        n = kept.size
        if kept.shape[0] > 1 and kept.shape[1] > 1 and np.all(kept == kept[:1]):
            return None          # one mask row shared by every example: not independent draws
        for name, q in (("keep", self.p), ("drop", 1.0 - self.p)):
            spread = DROPOUT_FRACTION_SIGMAS * np.sqrt(n * q * (1 - q)) + 1
            if abs(kept.sum() - n * q) <= spread and np.isclose(scale, 1.0 / q, rtol=1e-6):
                return name
        return None

    def problem(self, label: str, got: np.ndarray) -> str | None:
        if self.reading(got) is not None:
            return None
        return f"{label} is not x ⊙ mask / p: " + _diag.dropout_forward_problem(self.x, self.p,
                                                                              got)

    def accepted(self, got: np.ndarray) -> tuple[str, str] | None:
        if self.reading(got) != "drop":
            return None
        return ("p as the drop probability (the 2016–17 docstring)",
                f"dropout_param['p'] = {self.p:g} was read as the probability of dropping a "
                f"unit (kept fraction about {1 - self.p:g}, scaled by 1/(1 - p)); from 2018 the "
                f"course reads p as the keep probability")


def _build_dropout(case, lay, spec, options):
    mode = case.variant or "train"
    (D,), N = case.layer_dims, case.m
    rng = case.rng()
    x = rng.standard_normal((N, D))
    x = np.where(np.abs(x) < DROPOUT_CASE_MIN_ABS_X, np.sign(x + 1e-300) * 0.5, x)
    p = float(rng.choice(DROPOUT_PS))
    seed = int(rng.integers(0, 2**31 - 1))
    param = {"mode": mode, "p": p, "seed": seed}
    out, cache = rowmajor.dropout_forward(x, param)
    dout = rng.standard_normal((N, D))
    dx = rowmajor.dropout_backward(dout, cache)
    q = {"x": x, "dropout_param": param, "dropout_cache": cache, "dout": dout, "dx": dx,
         "out": InvertedDropout(x, p) if mode == "train" else out}
    return Built(q, _context(m=N, mode=mode, p=p))


def _refine_dropout(built: Built, forward: dict) -> Built:
    """dropout_backward's expected dx from the student's own forward: the reference backward
    with the mask that forward drew (read back from its out = x ⊙ D / q), so another sampler or
    the 2016–17 reading of p costs the backward nothing."""
    q = built.quantities
    if q["dropout_param"]["mode"] != "train":
        return built
    kept, scale = _diag.read_mask(q["x"], forward.get("out"))
    if scale is None or not 1.0 <= scale < np.inf:
        return built
    dx = _drop.dropout_backward(q["dout"].T, {"mask": kept.T, "keep_prob": 1.0 / scale}).T
    context = dict(built.context, scale=scale, kept=kept)
    return Built({**q, "dx": dx}, context)


register(Computation(
    "dropout_forward",
    "Inverted dropout of x (N, D): train mode out = x * mask / p with a mask of keep "
    "probability p (any sampler; p as the drop probability of 2016–17 accepted with a note), "
    "test mode out = x.",
    "array",
    inputs={"x": "(N, D)", "dropout_param": "{'mode', 'p', 'seed'}"},
    outputs={"out": "(N, D)", "dropout_cache": "the student's own (not compared)"},
    kinds={"dropout_cache": "cache"},
    variant="mode", variants=("train", "test"),
    build=_build_dropout, diagnose_outputs=_diag.diagnose_dropout_forward,
))

register(Computation(
    "dropout_backward",
    "dx = dout * mask (the mask of the student's own dropout_forward, with its 1/p) in train "
    "mode, dout in test mode.",
    "array",
    inputs={"dout": "(N, D)", "dropout_cache": "the cache of the student's dropout_forward",
            "x": "(N, D)", "dropout_param": "{'mode', 'p', 'seed'}"},
    outputs={"dx": "(N, D)"},
    variant="mode", variants=("train", "test"),
    build=_build_dropout, refine=_refine_dropout, diagnose_outputs=_diag.diagnose_dropout_backward,
))


# --------------------------------------------------------------------------- update rules
def _hyper_and_state(rng, rule: str, shape) -> tuple[dict, dict]:
    """A full CS231n config and the reference state it is."""
    if rule == "sgd":
        return {"learning_rate": float(rng.uniform(1e-2, 1e-1))}, {"t": 0}
    if rule == "sgd_momentum":
        config = {"learning_rate": float(rng.uniform(1e-2, 1e-1)),
                  "momentum": float(rng.uniform(0.5, 0.95)),
                  "velocity": 0.1 * rng.standard_normal(shape)}
    elif rule == "rmsprop":
        config = {"learning_rate": float(rng.uniform(1e-3, 1e-2)),
                  "decay_rate": float(rng.uniform(0.9, 0.999)), "epsilon": 1e-8,
                  "cache": rng.uniform(0.05, 1.0, size=shape)}
    else:
        config = {"learning_rate": float(rng.uniform(1e-3, 1e-2)),
                  "beta1": float(rng.uniform(0.8, 0.95)), "beta2": float(rng.uniform(0.99, 0.9995)),
                  "epsilon": 1e-8, "m": 0.1 * rng.standard_normal(shape),
                  "v": rng.uniform(0.01, 0.5, size=shape), "t": int(rng.integers(0, 10))}
    state = {"t": int(config.get("t", 0))}
    for key, slot in RULES[rule].items():
        state[slot] = {"w": config[key]}
    return config, state


def _build_update(case, lay, spec, options):
    rule = options.get("rule", "sgd")
    if rule not in RULES:
        raise ValueError(f"options.rule must be one of {', '.join(RULES)}, got {rule!r}")
    n_prev, n = case.layer_dims
    rng = case.rng()
    w = rng.standard_normal((n_prev, n))
    dw = rng.standard_normal((n_prev, n))
    config, state = _hyper_and_state(rng, rule, w.shape)
    hyper = {k: v for k, v in config.items() if k in optimizers.OPTIMIZERS[rule].defaults}
    new, new_state = optimizers.step(rule, {"w": w}, {"dw": dw}, state, **hyper)
    next_config = {key: new_state[slot]["w"] for key, slot in RULES[rule].items()}
    if rule == "adam":
        next_config["t"] = np.array(float(new_state["t"]))
    q = {"w": w, "dw": dw, "config": config, "next_w": new["w"], "next_config": next_config}
    return Built(q, _context(rule=rule, hyper=hyper, state=state, keys=RULES[rule]))


register(Computation(
    "cs231n_update",
    "One step of a CS231n update rule rule(w, dw, config) -> (next_w, config) (option rule: "
    "sgd, sgd_momentum, rmsprop, adam; Adam increments t before the bias correction); the "
    "returned config holds the new velocity / cache / m, v and t.",
    "layer",
    inputs={"w": "(D, M) (or any shape)", "dw": "its gradient",
            "config": "every hyper-parameter and state entry, as the notebook passes them"},
    outputs={"next_w": "the updated w",
             "next_config": "the state entries of the returned config (velocity; cache; m, v, t)"},
    kinds={"next_config": "dict"},
    options={"rule": "sgd"},
    build=_build_update, diagnose_outputs=_diag.diagnose_update,
))


# --------------------------------------------------------------------------- the class
def _flat(d: dict) -> dict:
    """Column-major parameters or gradients in the course's row-major form: W transposed, b,
    gamma and beta flat (D,)."""
    return {k: (v.T.copy() if k[:1] == "W" else v.ravel().copy()) for k, v in d.items()}


def _norm_net_inputs(case, kind: str | None, reg: float):
    dims, m = list(case.layer_dims), case.m
    L = len(dims) - 1
    net = Network(dims, ["relu"] * (L - 1) + ["softmax"], "cross_entropy", l2=reg * m,
                  normalization=kind)
    rng = case.rng()
    for attempt in range(2 * _RESAMPLE):
        params = {}
        for l in range(1, L + 1):
            params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
            params[f"b{l}"] = 0.3 * rng.standard_normal((dims[l], 1))
            if kind and l < L:
                params[f"gamma{l}"] = rng.uniform(0.5, 1.5, size=(dims[l], 1))
                params[f"beta{l}"] = 0.3 * rng.standard_normal((dims[l], 1))
        X = rng.standard_normal((dims[0], m))
        _, cache = net.forward(params, X)
        key = "Ztilde" if kind else "Z"
        # wide, deep cases with large m: shift each hidden row off the kink (a draw as it comes
        # first, as the layered computations do)
        for l in range(1, L) if attempt >= _RESAMPLE else ():
            shift = "beta" if kind else "b"
            params[f"{shift}{l}"] = params[f"{shift}{l}"] + _off_kinks("relu", cache[f"{key}{l}"])
            _, cache = net.forward(params, X)
        if all(np.min(np.abs(cache[f"{key}{l}"])) >= CASE_MIN_ABS_Z for l in range(1, L)):
            break
    else:
        raise RuntimeError(f"could not draw a network away from the relu kink for {case}")
    labels = rng.integers(0, dims[-1], size=m)
    return net, params, X, np.eye(dims[-1])[:, labels], labels, cache


def _build_fc(case, lay, spec, options):
    kind = options.get("normalization")
    reg = float(case.variant or 0.0)
    net, params, X, Y, labels, cache = _norm_net_inputs(case, kind, reg)
    J, grads = net.gradients(params, X, Y)
    dims = case.layer_dims
    wanted = {k[1:]: v for k, v in grads.items()
              if k[:2] in ("dW", "db") or k.startswith(("dgamma", "dbeta"))}
    q = {"X": X.T.copy(), "labels": labels.astype(np.int64), "params": _flat(params),
         "reg": reg, "input_dim": int(dims[0]), "hidden_dims": [int(n) for n in dims[1:-1]],
         "num_classes": int(dims[-1]), "normalization": kind, "use_batchnorm": kind == "batchnorm",
         "dropout_keep_ratio": float(options.get("keep", 1.0)), "seed": 0, "dtype": "float64",
         "weight_scale": 1e-2, "loss": float(J), "grads": _flat(wanted),
         "scores": cache[f"Z{net.L}"].T.copy(),
         "parameters": _init_expected(dims, kind)}
    return Built(q, _context(m=case.m, net=net, params=params, cache=cache, X=X, Y=Y, reg=reg))


def _init_expected(dims, kind) -> dict:
    out: dict = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = RandomWeights((dims[l - 1], dims[l]), 1e-3, 0.1)
        out[f"b{l}"] = np.zeros(dims[l])
        if kind and l < len(dims) - 1:
            out[f"gamma{l}"] = np.ones(dims[l])
            out[f"beta{l}"] = np.zeros(dims[l])
    return out


register(Computation(
    "fc_net_layers",
    "FullyConnectedNet with its options (option normalization: batchnorm, layernorm or none; "
    "option keep: the dropout keep ratio passed to the constructor): the train-mode loss with "
    "0.5·reg·Σ‖W‖² (W only), its gradients keyed like params (W, b, gamma, beta), the "
    "test-mode scores (no dropout) and the initial params (gamma ones, beta zeros).",
    "network",
    inputs={"X": "(N, D)", "labels": "(N,)", "params": "{'W1', 'b1', 'gamma1', 'beta1', …}",
            "reg": "the L2 strength (the variant)", "input_dim": "D",
            "hidden_dims": "[H1, …]", "num_classes": "C",
            "normalization": "'batchnorm', 'layernorm' or None (2018+)",
            "use_batchnorm": "True for batch norm (2016–17)",
            "dropout_keep_ratio": "option keep (1: no dropout)", "seed": "0",
            "dtype": "'float64' (the course's default float32 would round X)",
            "weight_scale": "1e-2"},
    outputs={"loss": "scalar", "grads": "keyed like params", "scores": "(N, C) pre-softmax",
             "parameters": "initial params: W small random, b zeros, gamma ones, beta zeros"},
    kinds={"loss": "scalar", "grads": "dict", "parameters": "dict"},
    variant="reg", variants=(0.0, 0.3),
    options={"normalization": None, "keep": 1.0, "std_min": INIT_STD_MIN, "std_max": INIT_STD_MAX},
    build=_build_fc, diagnose_outputs=_diag.diagnose_fc_net,
))
