r"""The mutant catalogue of optimiser steps: wrong update rules written as student code.

Each :class:`StepMutant` is a step function in the reference's convention,
``fn(params, grads, state, **hyper) -> (new_params, new_state)`` (``state`` as in
:mod:`gradref.reference.optimizers`: ``t`` and one dict of arrays per slot), written the way a
student writes it (a loop over the keys, ``v["W1"] = beta * v["W1"] + …``), with one planted
mistake, and the diagnosis :func:`gradref.checks.diagnosis.optimizers.diagnose_step` must give
for it: the finding's ``kind``, the ``variant`` it names and ``words`` its message must contain.
``acceptable`` entries are correct steps written in another style (in place on copies, the course
orders of operations) that must *not* be flagged. :func:`example_case` gives inputs on which
every mistake of an optimiser shows (ε = 1e-2, β₁ = 0.8, β₂ = 0.888, t = 2: the DLS 2021+ test's
hyper-parameters, which separate ε inside and outside the root).

This catalogue is kept apart from :mod:`gradref.checks.mutants`, whose mutants are backward
passes of a network.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["StepMutant", "STEP_MUTANTS", "example_case"]


@dataclass(frozen=True)
class StepMutant:
    """One planted mistake (or, with ``acceptable``, a correct step in another style)."""

    id: str
    optimizer: str
    fn: Callable
    description: str
    kind: str | None = "step_mistake"
    variant: str | None = None
    words: tuple[str, ...] = ()
    acceptable: bool = False


# --------------------------------------------------------------------------- adam
def _adam_student(correct_v=True, correct_s=True, t_shift=0, eps_inside=False, write_t=True,
                  root=True, square=True, swap=False):
    def fn(params, grads, state, learning_rate, beta1, beta2, epsilon):
        if swap:
            beta1, beta2 = beta2, beta1
        state = copy.deepcopy(state)
        t = state["t"]
        if t_shift >= 0:
            t = t + 1 + t_shift          # increment before use (twice when t_shift = 1)
        out = {}
        for key in params:
            g = grads["d" + key]
            state["v"][key] = beta1 * state["v"][key] + (1 - beta1) * g
            state["s"][key] = beta2 * state["s"][key] + (1 - beta2) * (g ** 2 if square else g)
            v_corr = state["v"][key] / (1 - beta1 ** t) if correct_v else state["v"][key]
            s_corr = state["s"][key] / (1 - beta2 ** t) if correct_s else state["s"][key]
            if eps_inside:
                denominator = np.sqrt(s_corr + epsilon)
            elif root:
                denominator = np.sqrt(s_corr) + epsilon
            else:
                denominator = s_corr + epsilon
            out[key] = params[key] - learning_rate * v_corr / denominator
        if t_shift < 0:
            t = t + 1                     # incremented after it was used
        if write_t:
            state["t"] = t if t_shift <= 0 else state["t"] + 1
        return out, state
    return fn


def _adam_in_place(params, grads, state, learning_rate, beta1, beta2, epsilon):
    """A correct Adam step in the DLS style: in place on deep copies, corrected dicts."""
    parameters, v, s = copy.deepcopy(params), copy.deepcopy(state["v"]), copy.deepcopy(state["s"])
    t = state["t"] + 1
    v_corrected, s_corrected = {}, {}
    for name in parameters:
        v[name] = beta1 * v[name] + (1 - beta1) * grads["d" + name]
        v_corrected[name] = v[name] / (1 - math.pow(beta1, t))
        s[name] = beta2 * s[name] + (1 - beta2) * np.square(grads["d" + name])
        s_corrected[name] = s[name] / (1 - math.pow(beta2, t))
        parameters[name] -= learning_rate * v_corrected[name] / (np.sqrt(s_corrected[name])
                                                                  + epsilon)
    return parameters, {"t": t, "v": v, "s": s}


def _adam_folded(params, grads, state, learning_rate, beta1, beta2, epsilon):
    """Kingma & Ba's "efficient" form: the corrections folded into the step size."""
    state = copy.deepcopy(state)
    state["t"] += 1
    t = state["t"]
    alpha = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    out = {}
    for key in params:
        dx = grads["d" + key]
        state["v"][key] = beta1 * state["v"][key] + (1 - beta1) * dx
        state["s"][key] = beta2 * state["s"][key] + (1 - beta2) * dx * dx
        out[key] = params[key] - alpha * state["v"][key] / (np.sqrt(state["s"][key]) + epsilon)
    return out, state


# --------------------------------------------------------------------------- momentum forms
def _momentum_student(mistake=None):
    def fn(params, grads, state, learning_rate, beta):
        state = copy.deepcopy(state)
        out = {}
        t = state["t"] + 1
        for key in params:
            old = state["v"][key]
            if mistake == "no_one_minus":
                state["v"][key] = beta * old + grads["d" + key]
            elif mistake == "velocity":
                state["v"][key] = beta * old - learning_rate * grads["d" + key]
            elif mistake == "velocity_lr_in_v":
                state["v"][key] = beta * old + learning_rate * grads["d" + key]
            elif mistake == "not_carried":
                state["v"][key] = (1 - beta) * grads["d" + key]
            else:
                state["v"][key] = beta * old + (1 - beta) * grads["d" + key]
            if mistake == "stale":
                out[key] = params[key] - learning_rate * old
            elif mistake == "corrected":
                out[key] = params[key] - learning_rate * state["v"][key] / (1 - beta ** t)
            elif mistake == "plus":
                out[key] = params[key] + learning_rate * state["v"][key]
            elif mistake == "velocity":
                out[key] = params[key] + state["v"][key]
            elif mistake == "velocity_lr_in_v":
                out[key] = params[key] - state["v"][key]
            else:
                out[key] = params[key] - learning_rate * state["v"][key]
        state["t"] = t
        return out, state
    return fn


def _velocity_student(mistake=None, nesterov=False):
    def fn(params, grads, state, learning_rate, momentum):
        state = copy.deepcopy(state)
        next_w = {}
        for key in params:
            w, dw = params[key], grads["d" + key]
            v_prev = state["v"][key]
            if mistake == "lr_outside":
                v = momentum * v_prev - dw
                next_w[key] = w + learning_rate * v
            else:
                v = momentum * v_prev - learning_rate * dw
                if nesterov and mistake != "plain":
                    next_w[key] = w - momentum * v_prev + (1 + momentum) * v
                elif mistake == "subtracted":
                    next_w[key] = w - v
                else:
                    next_w[key] = w + v
            state["v"][key] = v
        state["t"] += 1
        return next_w, state
    return fn


# --------------------------------------------------------------------------- rmsprop
def _rmsprop_student(mistake=None):
    def fn(params, grads, state, learning_rate, decay_rate, epsilon):
        state = copy.deepcopy(state)
        next_w = {}
        for key in params:
            dw = grads["d" + key]
            keep = 1 if mistake == "no_one_minus" else 1 - decay_rate
            cache = decay_rate * state["s"][key] + keep * dw * dw
            if mistake == "eps_inside":
                next_w[key] = params[key] - learning_rate * dw / np.sqrt(cache + epsilon)
            elif mistake == "no_sqrt":
                next_w[key] = params[key] - learning_rate * dw / (cache + epsilon)
            else:
                next_w[key] = params[key] - learning_rate * dw / (np.sqrt(cache) + epsilon)
            state["s"][key] = cache
        state["t"] += 1
        return next_w, state
    return fn


def _rmsprop_eps_key(params, grads, state, **config):
    state = copy.deepcopy(state)
    eps = config.get("eps", 1e-8)
    next_w = {}
    for key in params:
        dw = grads["d" + key]
        state["s"][key] = config["decay_rate"] * state["s"][key] + (1 - config["decay_rate"]) * dw ** 2
        next_w[key] = params[key] - config["learning_rate"] * dw / (np.sqrt(state["s"][key]) + eps)
    state["t"] += 1
    return next_w, state


def _sgd_student(mistake=None):
    def fn(params, grads, state, learning_rate):
        out = {}
        for key in params:
            if mistake == "ascent":
                out[key] = params[key] + learning_rate * grads["d" + key]
            elif mistake == "no_lr":
                out[key] = params[key] - grads["d" + key]
            elif mistake == "unchanged":
                out[key] = params[key].copy()
            else:
                out[key] = params[key] - learning_rate * grads["d" + key]
        return out, {"t": state["t"] + 1}
    return fn


STEP_MUTANTS: dict[str, StepMutant] = {m.id: m for m in (
    StepMutant("adam_no_bias_correction", "adam", _adam_student(False, False),
               "v and s used without dividing by 1 - beta^t",
               variant="adam_no_bias_correction", words=("skips the bias correction",)),
    StepMutant("adam_no_first_correction", "adam", _adam_student(correct_v=False),
               "only s is bias-corrected", variant="adam_no_first_correction",
               words=("first moment v is not bias-corrected",)),
    StepMutant("adam_no_second_correction", "adam", _adam_student(correct_s=False),
               "only v is bias-corrected", variant="adam_no_second_correction",
               words=("second moment s is not bias-corrected",)),
    StepMutant("adam_t_after_use", "adam", _adam_student(t_shift=-1),
               "t incremented after the correction used it (CS231n before 2018)",
               variant="adam_t_before_increment",
               words=("before it is incremented", "t = 1 instead of 2")),
    StepMutant("adam_t_twice", "adam", _adam_student(t_shift=1),
               "t incremented inside although the caller already did (DLS)",
               variant="adam_t_incremented_twice", words=("t = 3 instead of 2", "one step ahead")),
    StepMutant("adam_eps_inside", "adam", _adam_student(eps_inside=True),
               "np.sqrt(s_corrected + epsilon)", variant="adam_eps_inside_sqrt",
               words=("epsilon is inside the square root",)),
    StepMutant("adam_no_root", "adam", _adam_student(root=False),
               "s_corrected + epsilon without the root", variant="adam_no_sqrt",
               words=("square root of s_hat is missing",)),
    StepMutant("adam_g_not_squared", "adam", _adam_student(square=False),
               "s averages g instead of g**2", variant="adam_gradient_not_squared",
               words=("not its square",)),
    StepMutant("adam_t_not_saved", "adam", _adam_student(write_t=False),
               "the update is right but t is not written back (CS231n's config['t'])",
               kind="step_state", words=("returned t is 1, expected 2",)),
    StepMutant("adam_folded_correction", "adam", _adam_folded,
               "lr * sqrt(1 - beta2^t) / (1 - beta1^t) with epsilon on the raw sqrt(s)",
               variant="adam_folded_correction", words=("folded into the learning rate",)),
    StepMutant("adam_betas_swapped", "adam", _adam_student(swap=True),
               "v averages with beta2 and s with beta1", variant="adam_betas_swapped",
               words=("beta1 and beta2 are swapped",)),
    StepMutant("adam_dls_in_place", "adam", _adam_in_place,
               "correct: in place on deep copies, DLS style", kind=None, acceptable=True),
    StepMutant("momentum_no_one_minus_beta", "momentum", _momentum_student("no_one_minus"),
               "v = beta v + dW in the exponential-average form",
               variant="momentum_no_one_minus_beta", words=("misses the factor (1 - beta)",)),
    StepMutant("momentum_stale_velocity", "momentum", _momentum_student("stale"),
               "W moved with the velocity of the previous step",
               variant="momentum_stale_velocity", words=("old velocity",)),
    StepMutant("momentum_bias_corrected", "momentum", _momentum_student("corrected"),
               "v / (1 - beta^t) in momentum", variant="momentum_bias_corrected",
               words=("has no bias correction",)),
    StepMutant("momentum_velocity_form", "momentum", _momentum_student("velocity"),
               "v = beta v - lr dW, W + v (CS231n's form in the DLS step)",
               variant="momentum_velocity_form", words=("velocity form",)),
    StepMutant("momentum_velocity_form_lr_in_v", "momentum", _momentum_student("velocity_lr_in_v"),
               "v = beta v + lr dW, W - v", variant="momentum_velocity_form_lr_in_v",
               words=("learning rate inside v",)),
    StepMutant("momentum_velocity_not_carried", "momentum", _momentum_student("not_carried"),
               "v = (1 - beta) dW: the previous velocity dropped",
               variant="momentum_velocity_not_carried", words=("forgets its past",)),
    StepMutant("momentum_ascent", "momentum", _momentum_student("plus"),
               "W + learning_rate v", variant="step_sign", words=("goes uphill",)),
    StepMutant("momentum_correct", "momentum", _momentum_student(),
               "correct, student style", kind=None, acceptable=True),
    StepMutant("velocity_subtracted", "sgd_momentum", _velocity_student("subtracted"),
               "next_w = w - v with v = mu v - lr dw", variant="step_sign",
               words=("goes uphill",)),
    StepMutant("velocity_lr_outside", "sgd_momentum", _velocity_student("lr_outside"),
               "v = mu v - dw; w + lr v", variant="velocity_lr_outside",
               words=("learning rate multiplies the whole velocity",)),
    StepMutant("nesterov_plain", "nesterov", _velocity_student("plain", nesterov=True),
               "Nesterov written as plain momentum (v_prev not kept)",
               variant="nesterov_plain_momentum", words=("plain momentum, not Nesterov",)),
    StepMutant("nesterov_correct", "nesterov", _velocity_student(nesterov=True),
               "correct, CS231n notes style", kind=None, acceptable=True),
    StepMutant("rmsprop_eps_inside", "rmsprop", _rmsprop_student("eps_inside"),
               "np.sqrt(cache + eps)", variant="rmsprop_eps_inside_sqrt",
               words=("epsilon is inside the square root",)),
    StepMutant("rmsprop_no_sqrt", "rmsprop", _rmsprop_student("no_sqrt"),
               "cache + eps without the root", variant="rmsprop_no_sqrt",
               words=("square root of the cache is missing",)),
    StepMutant("rmsprop_no_one_minus_decay", "rmsprop", _rmsprop_student("no_one_minus"),
               "cache = d cache + dw**2", variant="rmsprop_no_one_minus_decay",
               words=("misses the factor (1 - decay_rate)",)),
    StepMutant("rmsprop_eps_key", "rmsprop", _rmsprop_eps_key,
               "reads config.get('eps', 1e-8): the given epsilon is never used",
               variant="hyper_ignored:epsilon", words=("ignores the given epsilon = 0.01",)),
    StepMutant("sgd_ascent", "sgd", _sgd_student("ascent"), "w + lr dw", variant="step_sign",
               words=("goes uphill",)),
    StepMutant("sgd_no_lr", "sgd", _sgd_student("no_lr"), "w - dw",
               variant="step_no_learning_rate", words=("learning rate is missing",)),
    StepMutant("sgd_unchanged", "sgd", _sgd_student("unchanged"), "returns w",
               variant="step_not_taken", words=("not updated",)),
    StepMutant("sgd_correct", "sgd", _sgd_student(), "correct, student style", kind=None,
               acceptable=True),
)}


#: The hyper-parameters of :func:`example_case` (DLS 2021+'s Adam test values where they apply).
EXAMPLE_HYPER = {
    "sgd": {"learning_rate": 0.02},
    "momentum": {"learning_rate": 0.02, "beta": 0.8},
    "sgd_momentum": {"learning_rate": 0.02, "momentum": 0.8},
    "nesterov": {"learning_rate": 0.02, "momentum": 0.8},
    "rmsprop": {"learning_rate": 0.02, "decay_rate": 0.888, "epsilon": 1e-2},
    "adam": {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.888, "epsilon": 1e-2},
}


def example_case(optimizer: str, seed: int = 1):
    """``(params, grads, state, hyper)`` for a second step (state ``t = 1`` with non-zero
    slots) of ``optimizer``, two layers of small shapes, from a seeded generator."""
    from gradref.reference.optimizers import OPTIMIZERS

    rng = np.random.default_rng(seed)
    shapes = {"W1": (3, 2), "b1": (3, 1), "W2": (1, 3), "b2": (1, 1)}
    params = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = {"d" + k: rng.normal(size=s) for k, s in shapes.items()}
    state = {"t": 1}
    for slot in OPTIMIZERS[optimizer].slots:
        # s holds averages of squares: positive; v any sign
        state[slot] = {k: (rng.uniform(0.05, 0.5, size=s) if slot == "s"
                           else 0.3 * rng.normal(size=s)) for k, s in shapes.items()}
    return params, grads, state, dict(EXAMPLE_HYPER[optimizer])
