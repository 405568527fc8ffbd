r"""Computations of the built-in `optimization` assignment (DLS C2W2, every course version).

All expected values come from :mod:`gradref.reference.optimizers`: the steps (``sgd``,
``momentum`` in its exponential-average form, ``adam``), :func:`course_mini_batches` and the two
schedules. The course's conventions are adapters here, never a second optimiser:

* the state is keyed like the gradients (``v['dW1']``, ``s['db2']``), the reference's like the
  parameters (``state['v']['W1']``);
* DLS's ``t`` is supplied by the caller, already incremented (1 on the first call): the
  reference step with ``state['t'] = t - 1``;
* ``update_parameters_with_adam`` of 2021+ also returns ``v_corrected = v / (1 - beta1^t)`` and
  ``s_corrected = s / (1 - beta2^t)``, the only arithmetic stated here (the reference keeps
  them internal).

The three steps are *stepped* computations (``Computation.stepped``): a case is a trajectory of
steps along the reference, :attr:`Built.later` gives the quantities of each later step (fresh
gradients, ``t`` one more), and a declaration's ``steps`` key says how many steps are taken and
which of the student's outputs feed the next call. Their hyper-parameters are drawn so that every
known mistake of :mod:`gradref.checks.diagnosis.optimizers` changes the update by far more than
the tolerance (ε of the order of √ŝ separates ε inside from outside the root; β₁ and β₂ apart
separate swapped β's; t is 1 to 5, where 1 − β^t and 1 − β^(t±1) differ by a factor): a case
where a variant is :func:`~gradref.checks.diagnosis.optimizers.indistinguishable` is redrawn.
"""

from __future__ import annotations

import numpy as np
from gradref.reference import optimizers as opt

from ..computations import Built, Computation, register

__all__ = ["OPTIMIZER_OF", "state_to_reference", "to_reference_params"]

#: The stepped computation -> the reference optimiser it replays.
OPTIMIZER_OF = {"gd_step": "sgd", "momentum_step": "momentum", "adam_step": "adam"}
_RESAMPLE = 40


def _no_context() -> dict:
    return {"m": None, "net": None, "params": None, "cache": None, "X": None, "Y": None}


def _dims(case) -> list[int]:
    return [int(n) for n in case.layer_dims]


def _random_params(rng, dims) -> dict[str, np.ndarray]:
    out = {}
    for l in range(1, len(dims)):
        out[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1]))
        out[f"b{l}"] = rng.standard_normal((dims[l], 1))
    return out


def _grads(rng, params) -> dict[str, np.ndarray]:
    """Gradients of a realistic spread: entries from 0.05 to 1 in magnitude, either sign."""
    out = {}
    for k, p in params.items():
        mag = rng.uniform(0.05, 1.0, p.shape)
        out["d" + k] = mag * rng.choice([-1.0, 1.0], p.shape)
    return out


def to_reference_params(d) -> dict[str, np.ndarray]:
    """``{'dW1': …}`` (the course's state and gradient keys) -> ``{'W1': …}``."""
    return {(k[1:] if k[:2] in ("dW", "db") else k): np.asarray(v, dtype=np.float64)
            for k, v in d.items()}


def _course(d) -> dict[str, np.ndarray]:
    """``{'W1': …}`` -> ``{'dW1': …}``, copies."""
    return {"d" + k: np.array(v, dtype=np.float64) for k, v in d.items()}


def state_to_reference(name: str, q: dict) -> dict:
    """The reference state of the step whose course inputs are ``q`` (``v``, ``s``, ``t``)."""
    spec = opt.get_optimizer(name)
    state = {"t": int(q["t"]) - 1 if name == "adam" else 0}
    for slot in spec.slots:
        state[slot] = to_reference_params(q[slot])
    return state


def _hyper(name: str, rng) -> dict[str, float]:
    r = lambda lo, hi: float(np.round(rng.uniform(lo, hi), 3))  # noqa: E731
    if name == "sgd":
        return {"learning_rate": r(0.05, 0.9)}
    if name == "momentum":
        return {"beta": r(0.5, 0.85), "learning_rate": r(0.05, 0.5)}
    beta1 = r(0.6, 0.8)
    return {"learning_rate": r(0.01, 0.1), "beta1": beta1, "beta2": r(0.85, 0.95),
            "epsilon": r(0.02, 0.2)}


_HYPER_ORDER = {"sgd": ("learning_rate",), "momentum": ("beta", "learning_rate"),
                "adam": ("learning_rate", "beta1", "beta2", "epsilon")}


def _step_quantities(name: str, params, grads, state, hyper) -> tuple[dict, dict]:
    """The course's inputs and outputs of one reference step."""
    new, new_state = opt.step(name, params, grads, state, **hyper)
    q = {"parameters": {k: v.copy() for k, v in params.items()},
         "grads": {k: v.copy() for k, v in grads.items()},
         "parameters_new": new, **hyper}
    if name == "momentum":
        q["v"], q["v_new"] = _course(state["v"]), _course(new_state["v"])
    if name == "adam":
        t = new_state["t"]
        q.update(v=_course(state["v"]), s=_course(state["s"]), t=t,
                 v_new=_course(new_state["v"]), s_new=_course(new_state["s"]))
        q["v_corrected"] = {k: a / (1.0 - hyper["beta1"] ** t) for k, a in q["v_new"].items()}
        q["s_corrected"] = {k: a / (1.0 - hyper["beta2"] ** t) for k, a in q["s_new"].items()}
    return q, new_state


#: Mistakes no first step from a zero state can show (the later steps of the trajectory do):
#: a velocity that forgets its past, and Adam's β's (the first corrected step is g / (|g| + ε)
#: whatever β1 and β2 are).
_ZERO_STATE_BLIND = ("momentum_velocity_not_carried", "adam_betas_swapped", "hyper_ignored:beta1",
                     "hyper_ignored:beta2")


def _separates(name: str, params, grads, state, hyper, initial: bool) -> bool:
    """Every known mistake changes this step's update (a grader's case must tell them apart)."""
    from gradref.checks.diagnosis.optimizers import indistinguishable

    same = indistinguishable(name, params, grads, state, **hyper)
    return not [v for v in same if not (initial and v in _ZERO_STATE_BLIND)]


def _build_step(name: str):
    def build(case, lay, spec, options):
        dims = _dims(case)
        rng = case.rng()
        for _ in range(_RESAMPLE):
            params = _random_params(rng, dims)
            hyper = _hyper(name, rng)
            state = opt.init_state(name, params)
            if case.variant == "running":     # a state mid-run, as the course's tests give
                state["t"] = int(rng.integers(1, 5)) if name == "adam" else 0
                for slot in opt.get_optimizer(name).slots:
                    state[slot] = {k: (0.3 * rng.standard_normal(p.shape) if slot == "v"
                                       else rng.uniform(0.01, 0.5, p.shape))
                                   for k, p in params.items()}
            grads = _grads(rng, params)
            if _separates(name, params, grads, state, hyper, case.variant != "running"):
                break
        else:
            raise RuntimeError(f"could not draw a separating {name} step for {case}")
        trajectory = [(params, grads, state)]

        def later(k: int) -> Built:
            while len(trajectory) <= k:
                p, g, s = trajectory[-1]
                new, new_state = opt.step(name, p, g, s, **hyper)
                step_rng = np.random.default_rng([case.seed, case.salt, case.draw, len(trajectory)])
                trajectory.append((new, _grads(step_rng, new), new_state))
            q, _ = _step_quantities(name, *trajectory[k], hyper)
            return Built(q, _no_context())

        built = later(0)
        built.later = later
        return built
    return build


# --------------------------------------------------------------------------- diagnosis
#: The course's words for the variants about t (the caller increments t, the step must not).
_DLS_WORDS = {
    "adam_t_before_increment": "the bias correction uses t - 1 = {t_before} instead of the t = {t} "
                               "it is given: use t as passed (model increments it before each "
                               "call)",
    "adam_t_incremented_twice": "the bias correction uses t + 1 = {t_after} instead of the t = {t} "
                                "it is given: do not increment t inside "
                                "update_parameters_with_adam (model increments it before each "
                                "call)",
}


def _course_keys(text: str) -> str:
    """``v['W1']`` (the reference's state keys) -> ``v['dW1']`` (the course's)."""
    import re

    return re.sub(r"\b([vs])\['([Wb]\d+)'\]", r"\1['d\2']", text)


def _diagnose_step(name: str):
    def hook(given: dict, outputs: dict, expected: dict) -> list:
        from gradref.checks.diagnosis.findings import Finding
        from gradref.checks.diagnosis.optimizers import diagnose_step

        spec = opt.get_optimizer(name)
        params = to_reference_params(given["parameters"])
        grads = {k: np.asarray(given["grads"][k], dtype=np.float64) for k in expected["grads"]}
        state = state_to_reference(name, given) if spec.slots else None
        hyper = {k: float(given[k]) for k in _HYPER_ORDER[name]}
        new_state = None
        if spec.slots:
            new_state = {"t": state["t"] + 1}
            for slot in spec.slots:
                new_state[slot] = to_reference_params(outputs[f"{slot}_new"])
        found = diagnose_step(name, params, grads, state, outputs["parameters_new"], new_state,
                              **hyper)
        out = []
        for f in found:
            text = f.message.removeprefix(f"{name}: ")
            words = _DLS_WORDS.get(f.details.get("variant", ""))
            if words:
                t = int(given["t"])
                text = words.format(t=t, t_before=t - 1, t_after=t + 1)
            out.append(Finding(f.names, f.kind, _course_keys(text), f.details))
        if not out and name == "adam":
            out += _corrected_problem(given, outputs, Finding)
        return out
    return hook


def _corrected_problem(given: dict, outputs: dict, finding) -> list:
    """The 2021+ v_corrected / s_corrected, when the step itself is right."""
    t = int(given["t"])
    for slot, beta in (("v", "beta1"), ("s", "beta2")):
        got = outputs.get(f"{slot}_corrected")
        if got is None:
            continue
        new = outputs[f"{slot}_new"]
        for key, value in new.items():
            g, raw = np.asarray(got[key], dtype=np.float64), np.asarray(value, dtype=np.float64)
            want = raw / (1.0 - given[beta] ** t)
            if g.shape == want.shape and np.allclose(g, want, rtol=1e-9, atol=1e-12):
                continue
            why = ("it is the uncorrected " + slot if g.shape == raw.shape
                   and np.allclose(g, raw, rtol=1e-9, atol=1e-12) else "it is not")
            return [finding((f"{slot}_corrected",), "step_mistake",
                            f"the step is right, but {slot}_corrected['{key}'] should be "
                            f"{slot} / (1 - {beta}^t) with t = {t}: {why}",
                            {"optimizer": "adam", "variant": f"{slot}_corrected"})]
    return []


def _diagnose_batches(given: dict, outputs: dict, expected: dict) -> list:
    from gradref.checks.diagnosis.minibatches import diagnose_mini_batches

    return diagnose_mini_batches(given["X"], given["Y"], given["mini_batch_size"], given["seed"],
                                 outputs["mini_batches"])


def _diagnose_schedule(stepped: bool):
    def hook(given: dict, outputs: dict, expected: dict) -> list:
        from gradref.checks.diagnosis.schedules import diagnose_schedule

        return diagnose_schedule(given["learning_rate0"], given["epoch_num"], given["decay_rate"],
                                 given["time_interval"] if stepped else None,
                                 outputs["learning_rate"])
    return hook


_STEP_DOCS = {
    "gd_step": ("update_parameters_with_gd: W_l ← W_l − learning_rate·dW_l (and b), the "
                "reference sgd step.", {}),
    "momentum_step": ("update_parameters_with_momentum: v ← beta·v + (1 − beta)·g, then "
                      "W ← W − learning_rate·v (the exponential-average form), the reference "
                      "momentum step; v keyed dW1, db1, ….",
                      {"v": "the velocity {'dW1', 'db1', …}", "beta": "β"}),
    "adam_step": ("update_parameters_with_adam: v ← β1·v + (1 − β1)·g, s ← β2·s + (1 − β2)·g², "
                  "v̂ = v/(1 − β1^t), ŝ = s/(1 − β2^t), W ← W − lr·v̂/(√ŝ + ε) with the t given "
                  "(the reference adam step with state t − 1).",
                  {"v": "first moments {'dW1', …}", "s": "second moments {'dW1', …}",
                   "t": "the step number, supplied by the caller (1 on the first call)",
                   "beta1": "β1", "beta2": "β2", "epsilon": "ε"}),
}
for _comp, (_doc, _extra_inputs) in _STEP_DOCS.items():
    _name = OPTIMIZER_OF[_comp]
    _outputs = {"parameters_new": "the updated {'W1', 'b1', …}"}
    _kinds = {"parameters_new": "dict"}
    if _name != "sgd":
        _outputs["v_new"] = "the updated velocity / first moments {'dW1', …}"
    if _name == "adam":
        _outputs.update(s_new="the updated second moments {'dW1', …}",
                        v_corrected="v_new / (1 − β1^t)", s_corrected="s_new / (1 − β2^t)")
    _kinds.update({o: "dict" for o in _outputs})
    register(Computation(
        _comp, _doc, "network",
        inputs={"parameters": "{'W1', 'b1', …}", "grads": "{'dW1', 'db1', …}", **_extra_inputs,
                "learning_rate": "η"},
        outputs=_outputs, kinds=_kinds, variant="start", variants=("initial", "running"),
        build=_build_step(_name), batched=False, stepped=True,
        diagnose=_diagnose_step(_name),
    ))


# --------------------------------------------------------------------------- the state's start
def _build_state(case, lay, spec, options):
    dims = _dims(case)
    params = _random_params(case.rng(), dims)
    state = opt.init_state("adam", params)
    q = {"parameters": params, "v": _course(state["v"]), "s": _course(state["s"])}
    return Built(q, _no_context())


register(Computation(
    "optimizer_state",
    "initialize_velocity / initialize_adam: zeros of each parameter's shape, keyed like the "
    "gradients (dW1, db1, …): the reference's init_state.",
    "network",
    inputs={"parameters": "{'W1', 'b1', …}"},
    outputs={"v": "zeros {'dW1', 'db1', …}", "s": "zeros {'dW1', 'db1', …}"},
    kinds={"v": "dict", "s": "dict"}, build=_build_state, batched=False,
))


# --------------------------------------------------------------------------- mini-batches
def batch_size_for(m: int, exact: bool, rng) -> int:
    """A batch size for m examples: one that leaves a remainder (``exact`` False), or one that
    divides m (True; m itself when m is prime)."""
    if exact:
        divisors = [b for b in range(2, m // 2 + 1) if m % b == 0]
        return int(rng.choice(divisors)) if divisors else m
    sizes = [b for b in range(2, m) if m % b]
    return int(rng.choice(sizes)) if sizes else max(1, m - 1)


def _build_mini_batches(case, lay, spec, options):
    (n,) = case.layer_dims
    m = case.m
    rng = case.rng()
    X = np.round(rng.standard_normal((n, m)), 6)
    Y = (rng.random((1, m)) < 0.5).astype(np.float64)
    size = batch_size_for(m, case.variant == "exact", rng)
    seed = int(rng.integers(0, 10_000))
    batches = opt.course_mini_batches(X, Y, size, seed)
    q = {"X": X, "Y": Y, "mini_batch_size": size, "seed": seed,
         "mini_batches": [(bx, by) for bx, by in batches]}
    return Built(q, _no_context())


register(Computation(
    "mini_batches",
    "random_mini_batches: np.random.seed(seed), one np.random.permutation(m) of the columns of "
    "X and Y, ⌊m/size⌋ full batches then the remainder: a list of (X_b, Y_b) (the reference's "
    "course_mini_batches).",
    "array",
    inputs={"X": "(n_x, m)", "Y": "(1, m)", "mini_batch_size": "an int",
            "seed": "the seed random_mini_batches sets"},
    outputs={"mini_batches": "[(X_b, Y_b), …]"},
    kinds={"mini_batches": "cache"}, variant="batches", variants=("remainder", "exact"),
    build=_build_mini_batches, diagnose=_diagnose_batches,
))


# --------------------------------------------------------------------------- schedules
def _build_schedule(stepped: bool):
    def build(case, lay, spec, options):
        rng = case.rng()
        lr0 = float(np.round(rng.uniform(0.05, 1.0), 3))
        decay = float(np.round(rng.uniform(0.2, 2.0), 2))
        interval = int(rng.integers(2, 200))
        if case.variant == "early":           # before the first interval: the rate is lr0
            epoch = int(rng.integers(1, interval))
        else:                                 # k·T + r with k >= 1 and 0 < r < T
            epoch = int(rng.integers(1, 20)) * interval + int(rng.integers(1, interval))
        if stepped:
            lr = opt.stepped_inverse_time_decay(lr0, epoch, decay, interval)
        else:
            lr = opt.inverse_time_decay(lr0, epoch, decay)
        q = {"learning_rate0": lr0, "epoch_num": epoch, "decay_rate": decay,
             "time_interval": interval, "learning_rate": lr}
        return Built(q, _no_context())
    return build


for _comp, _stepped, _doc in (
        ("lr_decay", False, "update_lr: learning_rate0 / (1 + decay_rate·epoch_num), the "
                            "reference inverse_time_decay."),
        ("lr_schedule", True, "schedule_lr_decay: learning_rate0 / (1 + decay_rate·"
                              "⌊epoch_num / time_interval⌋), the reference "
                              "stepped_inverse_time_decay.")):
    register(Computation(
        _comp, _doc, "array",
        inputs={"learning_rate0": "η0", "epoch_num": "the epoch number e",
                "decay_rate": "k", "time_interval": "T (schedule_lr_decay)"},
        outputs={"learning_rate": "the decayed rate (a scalar)"},
        kinds={"learning_rate": "scalar"},
        variant="epoch", variants=("later", "early") if _stepped else ("later",),
        build=_build_schedule(_stepped), batched=False, diagnose=_diagnose_schedule(_stepped),
    ))
