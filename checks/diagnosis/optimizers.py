r"""Diagnosis of an optimiser step: which known mistake, if any, produced a student's update.

:func:`diagnose_step` takes the inputs of one step (``params``, ``grads``, ``state``, the
hyper-parameters) and what a student's step returned (``new_params``, and ``new_state`` when the
step returns one), replays the reference step of :mod:`gradref.reference.optimizers` and each
:data:`STEP_VARIANTS` entry for that optimiser (the step with one mistake planted), and names the
variant that reproduces the student's output. The update :math:`\Delta = \theta' - \theta` is
compared, not :math:`\theta'` itself (a small learning rate would hide a wrong update inside the
parameters' own magnitude), with the diagnosis' ``MATCH_RTOL``/``MATCH_ATOL`` of the largest
expected entry; NaN and infinity must sit where the variant has them (a correction with
:math:`t = 0` divides by :math:`1 - \beta^0 = 0`).

Returned findings (:class:`~gradref.checks.diagnosis.findings.Finding`):

- none when the reference step fits (the student's step is right on this case);
- ``step_mistake``: the one variant that fits, its id in ``details["variant"]`` and a sentence for
  a student ("the bias correction uses t before it is incremented: …"); variants that fit as
  well are listed in ``details["also_fits"]``. Besides :data:`STEP_VARIANTS` and
  :data:`GENERIC_VARIANTS`, ``hyper_ignored:<name>`` is the correct rule with that
  hyper-parameter at its registry default (a misspelt config key);
- ``step_state``: the update is right but the returned state is not (``t`` not written back, a
  moment not saved);
- ``step_mismatch``: no variant fits: the relative error and the worst element.

:func:`indistinguishable` lists the variants a case cannot tell from the correct step (ε inside
or outside the root at ε = 1e-8 and moments of order 1, for example): a grader's case should
leave it empty. The variants are restatements of the wrong rules, written here; the mutant
catalogue (:mod:`gradref.checks.optimizer_mutants`) writes the same mistakes as student code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from gradref.reference.optimizers import (
    OPTIMIZERS,
    _apply,
    _arrays_like,
    _check_grads,
    _check_params,
    _check_state,
    check_hyper,
)

from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from ..tolerances import DIAGNOSIS_MATCH_RTOL as MATCH_RTOL
from .compare import _absmax
from .findings import Finding

__all__ = ["StepVariant", "STEP_VARIANTS", "COMBINED_VARIANTS", "GENERIC_VARIANTS", "diagnose_step",
           "indistinguishable", "variants_for"]


@dataclass(frozen=True)
class StepVariant:
    """A known mistake in an optimiser step.

    ``optimizers``: the registry names it applies to. ``kernel``: the wrong update of one array,
    with the signature of the reference kernels (``(theta, g, slots, t, hyper) -> (theta',
    slots')``, ``t`` the step number the correct step uses). ``message``: the sentence for a
    student; ``{t}`` is replaced by that step number, ``{t_before}`` by t - 1, ``{t_after}`` by
    t + 1 and ``{name}`` by the optimiser's name.
    """

    id: str
    optimizers: tuple[str, ...]
    kernel: Callable
    message: str


# --------------------------------------------------------------------------- wrong kernels
def _adam_parts(theta, g, slots, h):
    b1, b2 = h["beta1"], h["beta2"]
    v = b1 * slots["v"] + (1.0 - b1) * g
    s = b2 * slots["s"] + (1.0 - b2) * (g * g)
    return v, s


def _adam_with(correct_v: bool, correct_s: bool, shift: int = 0, eps_inside: bool = False):
    def kernel(theta, g, slots, t, h):
        v, s = _adam_parts(theta, g, slots, h)
        tc = t + shift
        with np.errstate(divide="ignore", invalid="ignore"):
            v_hat = v / (1.0 - h["beta1"] ** tc) if correct_v else v
            s_hat = s / (1.0 - h["beta2"] ** tc) if correct_s else s
            denom = np.sqrt(s_hat + h["epsilon"]) if eps_inside else np.sqrt(s_hat) + h["epsilon"]
            return theta - h["learning_rate"] * v_hat / denom, {"v": v, "s": s}
    return kernel


def _adam_no_sqrt(theta, g, slots, t, h):
    v, s = _adam_parts(theta, g, slots, h)
    v_hat, s_hat = v / (1.0 - h["beta1"] ** t), s / (1.0 - h["beta2"] ** t)
    return theta - h["learning_rate"] * v_hat / (s_hat + h["epsilon"]), {"v": v, "s": s}


def _adam_g_not_squared(theta, g, slots, t, h):
    b1, b2 = h["beta1"], h["beta2"]
    v = b1 * slots["v"] + (1.0 - b1) * g
    s = b2 * slots["s"] + (1.0 - b2) * g
    v_hat, s_hat = v / (1.0 - b1 ** t), s / (1.0 - b2 ** t)
    with np.errstate(invalid="ignore"):
        return theta - h["learning_rate"] * v_hat / (np.sqrt(s_hat) + h["epsilon"]), {"v": v, "s": s}


def _adam_folded(theta, g, slots, t, h):
    v, s = _adam_parts(theta, g, slots, h)
    alpha = h["learning_rate"] * np.sqrt(1.0 - h["beta2"] ** t) / (1.0 - h["beta1"] ** t)
    return theta - alpha * v / (np.sqrt(s) + h["epsilon"]), {"v": v, "s": s}


def _adam_betas_swapped(theta, g, slots, t, h):
    b1, b2 = h["beta2"], h["beta1"]
    v = b1 * slots["v"] + (1.0 - b1) * g
    s = b2 * slots["s"] + (1.0 - b2) * (g * g)
    v_hat, s_hat = v / (1.0 - b1 ** t), s / (1.0 - b2 ** t)
    return theta - h["learning_rate"] * v_hat / (np.sqrt(s_hat) + h["epsilon"]), {"v": v, "s": s}


def _momentum_velocity(sign: float):
    """The velocity form written into the exponential-average slot: v = βv − η g, θ + v
    (``sign`` −1), or v = βv + η g, θ − v (``sign`` +1)."""
    def kernel(theta, g, slots, t, h):
        v = h["beta"] * slots["v"] + sign * h["learning_rate"] * g
        return theta - sign * v, {"v": v}
    return kernel


def _momentum_not_carried(theta, g, slots, t, h):
    v = (1.0 - h["beta"]) * g
    return theta - h["learning_rate"] * v, {"v": v}


def _momentum_no_one_minus(theta, g, slots, t, h):
    v = h["beta"] * slots["v"] + g
    return theta - h["learning_rate"] * v, {"v": v}


def _momentum_stale(theta, g, slots, t, h):
    v = h["beta"] * slots["v"] + (1.0 - h["beta"]) * g
    return theta - h["learning_rate"] * slots["v"], {"v": v}


def _momentum_corrected(theta, g, slots, t, h):
    v = h["beta"] * slots["v"] + (1.0 - h["beta"]) * g
    return theta - h["learning_rate"] * v / (1.0 - h["beta"] ** t), {"v": v}


def _velocity_lr_outside(theta, g, slots, t, h):
    v = h["momentum"] * slots["v"] - g
    return theta + h["learning_rate"] * v, {"v": v}


def _nesterov_plain(theta, g, slots, t, h):
    v = h["momentum"] * slots["v"] - h["learning_rate"] * g
    return theta + v, {"v": v}


def _rmsprop_with(eps_inside: bool = False, root: bool = True, one_minus: bool = True):
    def kernel(theta, g, slots, t, h):
        d = h["decay_rate"]
        s = d * slots["s"] + ((1.0 - d) if one_minus else 1.0) * (g * g)
        if not root:
            denom = s + h["epsilon"]
        elif eps_inside:
            denom = np.sqrt(s + h["epsilon"])
        else:
            denom = np.sqrt(s) + h["epsilon"]
        return theta - h["learning_rate"] * g / denom, {"s": s}
    return kernel


_EMA = ("momentum",)
_VELOCITY = ("sgd_momentum", "nesterov")

#: The optimiser-specific mistakes, by id.
STEP_VARIANTS: dict[str, StepVariant] = {v.id: v for v in (
    StepVariant("adam_no_bias_correction", ("adam",), _adam_with(False, False),
                "the Adam step skips the bias correction: divide v by (1 - beta1^t) and s by "
                "(1 - beta2^t) before the update (here t = {t})"),
    StepVariant("adam_no_first_correction", ("adam",), _adam_with(False, True),
                "the first moment v is not bias-corrected: the update needs v / (1 - beta1^t) "
                "(here t = {t}); s is corrected right"),
    StepVariant("adam_no_second_correction", ("adam",), _adam_with(True, False),
                "the second moment s is not bias-corrected: the update needs s / (1 - beta2^t) "
                "(here t = {t}); v is corrected right"),
    StepVariant("adam_t_before_increment", ("adam",), _adam_with(True, True, shift=-1),
                "the bias correction uses t before it is incremented (t = {t_before} instead of "
                "{t}): increment t first, so that the first step corrects with t = 1"),
    StepVariant("adam_t_incremented_twice", ("adam",), _adam_with(True, True, shift=1),
                "the bias correction uses t = {t_after} instead of {t}: t is one step ahead "
                "(incremented twice, or started at 1 instead of 0)"),
    StepVariant("adam_eps_inside_sqrt", ("adam",), _adam_with(True, True, eps_inside=True),
                "epsilon is inside the square root: the update divides by sqrt(s_hat + epsilon) "
                "instead of sqrt(s_hat) + epsilon"),
    StepVariant("adam_no_sqrt", ("adam",), _adam_no_sqrt,
                "the square root of s_hat is missing: the update divides by s_hat + epsilon "
                "instead of sqrt(s_hat) + epsilon"),
    StepVariant("adam_gradient_not_squared", ("adam",), _adam_g_not_squared,
                "the second moment averages the gradient, not its square: s = beta2 s + "
                "(1 - beta2) g**2"),
    StepVariant("adam_folded_correction", ("adam",), _adam_folded,
                "the bias correction is folded into the learning rate (lr sqrt(1 - beta2^t) / "
                "(1 - beta1^t), the Adam paper's efficient form): epsilon then sits on the "
                "uncorrected sqrt(s), a different step; the course divides by sqrt(s_hat) + "
                "epsilon"),
    StepVariant("adam_betas_swapped", ("adam",), _adam_betas_swapped,
                "beta1 and beta2 are swapped: the first moment v averages with beta1 "
                "(v = beta1 v + (1 - beta1) g) and the second moment s with beta2 "
                "(s = beta2 s + (1 - beta2) g**2), each corrected with its own beta"),
    StepVariant("momentum_velocity_form", _EMA, _momentum_velocity(-1.0),
                "this is momentum in the velocity form (v = beta v - learning_rate dW, then "
                "W + v): this course's momentum is the exponential average v = beta v + "
                "(1 - beta) dW, then W = W - learning_rate v"),
    StepVariant("momentum_velocity_form_lr_in_v", _EMA, _momentum_velocity(1.0),
                "this is momentum in the velocity form with the learning rate inside v (v = beta "
                "v + learning_rate dW, then W - v): this course's momentum is the exponential "
                "average v = beta v + (1 - beta) dW, then W = W - learning_rate v"),
    StepVariant("momentum_velocity_not_carried", _EMA, _momentum_not_carried,
                "the velocity forgets its past: v = (1 - beta) dW drops the beta v term "
                "(v = beta v + (1 - beta) dW carries the previous velocity; from a zero "
                "velocity, the first step cannot show it)"),
    StepVariant("momentum_no_one_minus_beta", _EMA, _momentum_no_one_minus,
                "the velocity misses the factor (1 - beta): in this exponential-average form "
                "v = beta v + (1 - beta) dW (v = beta v + dW is another course's convention)"),
    StepVariant("momentum_stale_velocity", _EMA, _momentum_stale,
                "the parameters move with the old velocity: update v first, then W = W - "
                "learning_rate * v with the new v"),
    StepVariant("momentum_bias_corrected", _EMA, _momentum_corrected,
                "the velocity is bias-corrected by (1 - beta^t): this momentum has no bias "
                "correction (only Adam's moments do)"),
    StepVariant("velocity_lr_outside", _VELOCITY, _velocity_lr_outside,
                "the learning rate multiplies the whole velocity: v = mu v - learning_rate dw, "
                "then w + v (not v = mu v - dw, then w + learning_rate v)"),
    StepVariant("nesterov_plain_momentum", ("nesterov",), _nesterov_plain,
                "this is plain momentum, not Nesterov: the update is w - mu v_prev + (1 + mu) v "
                "with v_prev the velocity before this step"),
    StepVariant("rmsprop_eps_inside_sqrt", ("rmsprop",), _rmsprop_with(eps_inside=True),
                "epsilon is inside the square root: the update divides by sqrt(cache + epsilon) "
                "instead of sqrt(cache) + epsilon"),
    StepVariant("rmsprop_no_sqrt", ("rmsprop",), _rmsprop_with(root=False),
                "the square root of the cache is missing: the update divides by cache + epsilon "
                "instead of sqrt(cache) + epsilon"),
    StepVariant("rmsprop_no_one_minus_decay", ("rmsprop",), _rmsprop_with(one_minus=False),
                "the cache misses the factor (1 - decay_rate): cache = decay_rate cache + "
                "(1 - decay_rate) dw**2"),
)}

#: The Adam mistakes that combine (each an option of :func:`_adam_with`).
_ADAM_PARTS = {"adam_no_first_correction": {"correct_v": False},
               "adam_no_second_correction": {"correct_s": False},
               "adam_t_before_increment": {"shift": -1},
               "adam_t_incremented_twice": {"shift": 1},
               "adam_eps_inside_sqrt": {"eps_inside": True}}


def _combined() -> dict[str, StepVariant]:
    out = {}
    names = list(_ADAM_PARTS)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if set(_ADAM_PARTS[a]) & set(_ADAM_PARTS[b]) or {a, b} == {
                    "adam_no_first_correction", "adam_no_second_correction"}:
                continue        # t - 1 with t + 1 is no mistake; both corrections: one variant
            options = {**_ADAM_PARTS[a], **_ADAM_PARTS[b]}
            options = {"correct_v": True, "correct_s": True, **options}
            kernel = _adam_with(options.pop("correct_v"), options.pop("correct_s"), **options)
            out[f"{a}+{b}"] = StepVariant(
                f"{a}+{b}", ("adam",), kernel,
                f"two mistakes: {STEP_VARIANTS[a].message}; and {STEP_VARIANTS[b].message}")
    return out


#: Two of Adam's mistakes at once (tried after every single one): e.g. s used uncorrected in
#: the update *and* epsilon inside the root.
COMBINED_VARIANTS: dict[str, StepVariant] = _combined()

#: Mistakes of any optimiser, stated on the correct update Δ: id -> (Δ -> wrong Δ, message).
GENERIC_VARIANTS: dict[str, tuple[Callable[[np.ndarray, Mapping], np.ndarray], str]] = {
    "step_sign": (lambda d, h: -d,
                  "the step goes uphill: the update has the wrong sign (parameters must move "
                  "against the gradient)"),
    "step_no_learning_rate": (lambda d, h: d / h["learning_rate"],
                              "the learning rate is missing from the update (the step is "
                              "1 / learning_rate times too large)"),
    "step_not_taken": (lambda d, h: np.zeros_like(d),
                       "the parameters were not updated (the step returns them unchanged)"),
}


def variants_for(name: str) -> list[StepVariant]:
    """The :data:`STEP_VARIANTS` that apply to optimiser ``name``, in registry order."""
    return [v for v in STEP_VARIANTS.values() if name in v.optimizers]


# --------------------------------------------------------------------------- comparison
def _same(a: np.ndarray, e: np.ndarray) -> bool:
    """Equal as the diagnosis counts it: the same shape, non-finite values at the same places
    with the same values, and the finite ones within MATCH_RTOL of the largest finite expected
    entry (plus MATCH_ATOL)."""
    if a.shape != e.shape:
        return False
    fa, fe = np.isfinite(a), np.isfinite(e)
    if not np.array_equal(fa, fe) or not np.array_equal(a[~fa], e[~fe], equal_nan=True):
        return False
    if not fe.any():
        return True
    return float(np.max(np.abs(a[fa] - e[fe]))) <= MATCH_RTOL * _absmax(e[fe]) + MATCH_ATOL


def _same_all(student: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray]) -> bool:
    return all(_same(student[k], expected[k]) for k in expected)


def _updates(new: Mapping[str, np.ndarray], params: Mapping[str, np.ndarray]) -> dict:
    with np.errstate(invalid="ignore", over="ignore"):
        return {k: new[k] - params[k] for k in params}


def _candidates(name, params, grads, state, hyper):
    """``[(id, message, Δ, new_state)]``: the correct step first, then each variant (messages
    with the step number filled in)."""
    spec = OPTIMIZERS[name]
    t = state["t"] + 1
    right, right_state = _apply(spec, params, grads, state, hyper)
    delta = _updates(right, params)
    out = [("correct", "", delta, right_state)]
    for v in variants_for(name) + [c for c in COMBINED_VARIANTS.values() if name in c.optimizers]:
        new, new_state = _apply(replace(spec, kernel=v.kernel), params, grads, state, hyper)
        text = v.message.format(t=t, t_before=t - 1, t_after=t + 1, name=name)
        out.append((v.id, text, _updates(new, params), new_state))
    for vid, (fn, message) in GENERIC_VARIANTS.items():
        out.append((vid, message, {k: fn(d, hyper) for k, d in delta.items()}, right_state))
    for key, default in spec.defaults.items():
        if hyper[key] != default:   # a student who reads the wrong config key gets the default
            new, new_state = _apply(spec, params, grads, state, {**hyper, key: default})
            out.append((f"hyper_ignored:{key}",
                        f"the step ignores the given {key} = {hyper[key]:g} and uses "
                        f"{default:g}, the usual default: read {key!r} from the "
                        f"hyper-parameters (the config), under that name",
                        _updates(new, params), new_state))
    return out


def _inputs(name, params, grads, state, hyper):
    hyper = check_hyper(name, hyper)
    params = _check_params(params)
    grads = _check_grads(grads, params)
    state = _check_state(name, state, params)
    return params, grads, state, hyper


def indistinguishable(name: str, params: Mapping, grads: Mapping, state: Mapping | None = None,
                      **hyper: float) -> list[str]:
    """The ids of the variants whose update equals the correct one on this case (to the
    diagnosis' tolerance): mistakes a test built on this case cannot detect."""
    params, grads, state, hyper = _inputs(name, params, grads, state, hyper)
    cands = _candidates(name, params, grads, state, hyper)
    right = cands[0][2]
    return [vid for vid, _, delta, _ in cands[1:] if _same_all(delta, right)]


def _state_problem(spec, student_state, right_state) -> str | None:
    """What is wrong in the returned state (None when it matches the correct one)."""
    if not isinstance(student_state, Mapping):
        return f"the step returns no state dict (got {type(student_state).__name__})"
    if student_state.get("t") != right_state["t"]:
        return (f"the returned t is {student_state.get('t')!r}, expected {right_state['t']}: "
                f"write the incremented t back into the state")
    for slot in spec.slots:
        arrays = student_state.get(slot)
        if not isinstance(arrays, Mapping):
            return f"the returned state has no {slot!r}: save the new {slot} for the next step"
        for k, e in right_state[slot].items():
            a = arrays.get(k)
            if a is None or not _same(np.asarray(a, dtype=np.float64), e):
                return (f"the returned {slot}[{k!r}] is not the updated one: save the new "
                        f"{slot} for the next step")
    return None


def diagnose_step(name: str, params: Mapping, grads: Mapping, state: Mapping | None,
                  new_params: Mapping, new_state: Mapping | None = None,
                  **hyper: float) -> list[Finding]:
    """Findings about a student's step of optimiser ``name`` (see the module docstring).

    ``params``, ``grads``, ``state`` and ``hyper`` are the step's inputs in the reference's
    convention (``state`` None for a first step); ``new_params`` what the student's step
    returned, and ``new_state`` its state (checked only when given). Empty when it is right.
    """
    params, grads, state, hyper = _inputs(name, params, grads, state, hyper)
    student = _arrays_like("new_params", new_params, params, finite=False)
    delta = _updates(student, params)
    spec = OPTIMIZERS[name]
    cands = _candidates(name, params, grads, state, hyper)
    keys = tuple(params)
    t = state["t"] + 1
    fitting = [(vid, msg, st) for vid, msg, d, st in cands if _same_all(delta, d)]
    if new_state is not None and fitting:
        # several rules give this update (from a zero velocity, v = beta v + g and the velocity
        # form take the same first step; from a zero state Adam's first step does not depend on
        # the betas): those whose state fits too come first
        fitting.sort(key=lambda c: _state_problem(spec, new_state, c[2]) is not None)
    fits = [(vid, msg) for vid, msg, _ in fitting]
    if fits and fits[0][0] == "correct":
        if new_state is None:
            return []
        problem = _state_problem(spec, new_state, cands[0][3])
        if problem is None:
            return []
        return [Finding(keys, "step_state", f"{name}: the update is right but {problem}",
                        {"optimizer": name})]
    if fits:
        vid, text = fits[0]
        return [Finding(keys, "step_mistake", f"{name}: {text}",
                        {"optimizer": name, "variant": vid, "t": t,
                         "also_fits": [f for f, _ in fits[1:]]})]
    right = cands[0][2]
    worst_key, worst_err, worst_idx = keys[0], -1.0, ()
    for k in keys:
        with np.errstate(invalid="ignore"):
            err = np.abs(delta[k] - right[k])
        err = np.where(np.isfinite(err), err, np.inf)
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        if float(err[idx]) > worst_err:
            worst_key, worst_err, worst_idx = k, float(err[idx]), tuple(int(i) for i in idx)
    scale = max(_absmax(right[k]) for k in keys)
    rel = worst_err / scale if scale > 0 else float("inf")
    return [Finding(keys, "step_mismatch",
                    f"{name}: the update matches no known mistake; the largest difference is in "
                    f"{worst_key}{list(worst_idx)}: {float(delta[worst_key][worst_idx]):.6g} "
                    f"instead of {float(right[worst_key][worst_idx]):.6g} (relative error "
                    f"{rel:.3g} of the largest update)",
                    {"optimizer": name, "worst": worst_key, "index": list(worst_idx),
                     "relative_error": rel})]
