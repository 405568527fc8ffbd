"""reference/optimizers.py: each step against an independent restatement.

Autograd cannot differentiate an update rule, so the oracles are other statements of the same
rule: a scalar loop in pure Python (``math``, floats, one coordinate at a time) written from the
courses' formulas; closed forms of several steps (a constant gradient, a quadratic); Sutskever's
look-ahead statement of Nesterov momentum; the numbers the curriculum states (DLS's decay
tests, CS231n's t = 5 corrected at 6); NumPy's legacy global generator for the DLS shuffle; and
properties (β = 0 momentum is SGD, Adam's first step is about lr per coordinate).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from gradref.reference import optimizers as opt
from gradref.reference.optimizers import (
    OPTIMIZERS,
    SCHEDULES,
    check_hyper,
    course_mini_batches,
    init_state,
    inverse_time_decay,
    mini_batches,
    optimizer_names,
    partition,
    step,
    stepped_inverse_time_decay,
)
from hypothesis import given, settings
from hypothesis import strategies as st


# --------------------------------------------------------------------------- the restatement
def scalar_steps(name: str, theta: float, gs: list[float], h: dict) -> tuple[float, list]:
    """``len(gs)`` steps of ``name`` on one coordinate, in plain floats, from the formulas of
    the courses (not from the module): returns the final θ and the list of θ after each step."""
    lr = h["learning_rate"]
    v = s = 0.0
    out = []
    for t, g in enumerate(gs, start=1):
        if name == "sgd":
            theta = theta - lr * g
        elif name == "momentum":                  # DLS: v = βv + (1-β)g; W -= lr v
            v = h["beta"] * v + (1 - h["beta"]) * g
            theta = theta - lr * v
        elif name == "sgd_momentum":              # CS231n: v = μv - lr dw; w += v
            v = h["momentum"] * v - lr * g
            theta = theta + v
        elif name == "nesterov":                  # CS231n notes: v_prev = v; v = μv - lr dx;
            v_prev = v                            # x += -μ v_prev + (1 + μ) v
            v = h["momentum"] * v - lr * g
            theta = theta + (-h["momentum"] * v_prev + (1 + h["momentum"]) * v)
        elif name == "rmsprop":
            s = h["decay_rate"] * s + (1 - h["decay_rate"]) * g * g
            theta = theta - lr * g / (math.sqrt(s) + h["epsilon"])
        elif name == "adam":
            v = h["beta1"] * v + (1 - h["beta1"]) * g
            s = h["beta2"] * s + (1 - h["beta2"]) * g * g
            vc = v / (1 - h["beta1"] ** t)
            sc = s / (1 - h["beta2"] ** t)
            theta = theta - lr * vc / (math.sqrt(sc) + h["epsilon"])
        out.append(theta)
    return theta, out


def run(name, theta0, grads_seq, **hyper):
    """Steps of ``name`` from ``theta0`` (dict) with the gradient dicts ``grads_seq``."""
    params, state = theta0, None
    for g in grads_seq:
        params, state = step(name, params, g, state, **hyper)
    return params, state


HYPER = {
    "sgd": st.fixed_dictionaries({"learning_rate": st.floats(1e-4, 1.0)}),
    "momentum": st.fixed_dictionaries({"learning_rate": st.floats(1e-4, 1.0),
                                       "beta": st.floats(0.0, 0.999)}),
    "sgd_momentum": st.fixed_dictionaries({"learning_rate": st.floats(1e-4, 1.0),
                                           "momentum": st.floats(0.0, 0.999)}),
    "nesterov": st.fixed_dictionaries({"learning_rate": st.floats(1e-4, 1.0),
                                       "momentum": st.floats(0.0, 0.999)}),
    "rmsprop": st.fixed_dictionaries({"learning_rate": st.floats(1e-4, 1.0),
                                      "decay_rate": st.floats(0.0, 0.999),
                                      "epsilon": st.floats(1e-8, 1e-1)}),
    "adam": st.fixed_dictionaries({"learning_rate": st.floats(1e-4, 1.0),
                                   "beta1": st.floats(0.0, 0.999),
                                   "beta2": st.floats(0.0, 0.999),
                                   "epsilon": st.floats(1e-8, 1e-1)}),
}


def test_the_registry_is_what_the_hypothesis_strategies_cover():
    assert set(HYPER) == set(OPTIMIZERS) == set(optimizer_names())
    for name, spec in OPTIMIZERS.items():
        assert spec.name == name
        assert set(check_hyper(name, {})) == set(spec.defaults)


@pytest.mark.parametrize("name", optimizer_names())
@settings(max_examples=25, deadline=None)
@given(data=st.data(), shape=st.sampled_from([(1, 1), (3, 2), (4, 1), (2, 5)]),
       steps=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_every_step_equals_the_scalar_loop(name, data, shape, steps, seed):
    hyper = data.draw(HYPER[name])
    rng = np.random.default_rng(seed)
    theta0 = {"W1": rng.normal(size=shape), "b1": rng.normal(size=(shape[0], 1))}
    gs = [{"dW1": rng.normal(size=shape) * 3, "db1": rng.normal(size=(shape[0], 1))}
          for _ in range(steps)]
    got, state = run(name, theta0, gs, **hyper)
    assert state["t"] == steps
    h = {**OPTIMIZERS[name].defaults, **hyper}
    for k in theta0:
        for idx in np.ndindex(theta0[k].shape):
            want, _ = scalar_steps(name, float(theta0[k][idx]),
                                   [float(g["d" + k][idx]) for g in gs], h)
            assert got[k][idx] == pytest.approx(want, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- closed forms
def test_sgd_on_a_quadratic_is_geometric():
    # f = ½ a θ²: g = a θ, θ_t = θ_0 (1 - η a)^t.
    a, lr, theta = 3.0, 0.1, {"W1": np.array([[2.0, -1.0]])}
    th = theta
    for _ in range(7):
        th, _ = opt.sgd(th, {"dW1": a * th["W1"]}, learning_rate=lr)
    np.testing.assert_allclose(th["W1"], theta["W1"] * (1 - lr * a) ** 7, rtol=1e-13)


def test_momentum_forms_closed_form_for_a_constant_gradient():
    g, lr, beta, T = np.array([[1.5, -0.25]]), 0.2, 0.8, 9
    theta0 = {"W1": np.zeros((1, 2))}
    ema, st_ema = run("momentum", theta0, [{"dW1": g}] * T, learning_rate=lr, beta=beta)
    # v_t = (1 - β^t) g, so θ_T = -η g Σ_t (1 - β^t) = -η g (T - β(1 - β^T)/(1 - β)).
    np.testing.assert_allclose(ema["W1"], -lr * g * (T - beta * (1 - beta ** T) / (1 - beta)),
                               rtol=1e-12)
    np.testing.assert_allclose(st_ema["v"]["W1"], (1 - beta ** T) * g, rtol=1e-12)
    vel, st_vel = run("sgd_momentum", theta0, [{"dW1": g}] * T, learning_rate=lr, momentum=beta)
    # v_t = -η g (1 - μ^t)/(1 - μ): the velocity form is the EMA form with η/(1 - μ).
    np.testing.assert_allclose(vel["W1"], ema["W1"] / (1 - beta), rtol=1e-12)
    np.testing.assert_allclose(st_vel["v"]["W1"], -lr * g * (1 - beta ** T) / (1 - beta),
                               rtol=1e-12)


def test_rmsprop_and_adam_closed_forms_for_a_constant_gradient():
    g = np.array([[2.0, -0.5, 1e-3]])
    theta0 = {"W1": np.zeros((1, 3))}
    lr, d, eps = 0.01, 0.9, 1e-3
    th = run("rmsprop", theta0, [{"dW1": g}] * 4, learning_rate=lr, decay_rate=d, epsilon=eps)[0]
    # s_t = (1 - d^t) g²: the t-th step is η g / (|g| √(1 - d^t) + ε).
    want = -sum(lr * g / (np.abs(g) * math.sqrt(1 - d ** t) + eps) for t in range(1, 5))
    np.testing.assert_allclose(th["W1"], want, rtol=1e-12)
    th = run("adam", theta0, [{"dW1": g}] * 4, learning_rate=lr, epsilon=eps)[0]
    # Bias correction makes v̂ = g and ŝ = g² at every t.
    np.testing.assert_allclose(th["W1"], -4 * lr * g / (np.abs(g) + eps), rtol=1e-10)


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_nesterov_tracks_sutskevers_look_ahead_statement(mu):
    # Sutskever et al.: v = μv - η ∇f(x + μv), x = x + v. The velocity-form update of the
    # module keeps φ = x + μv instead of x and evaluates the gradient at its own parameters.
    a = np.array([[4.0, 0.5, 1.0]])                  # f = ½ Σ a θ²
    lr = 0.1
    x, v = np.array([[1.0, -2.0, 3.0]]), np.zeros((1, 3))
    phi, state = {"W1": x.copy()}, None
    for _ in range(12):
        v = mu * v - lr * a * (x + mu * v)
        x = x + v
        phi, state = step("nesterov", phi, {"dW1": a * phi["W1"]}, state, learning_rate=lr,
                          momentum=mu)
        np.testing.assert_allclose(phi["W1"], x + mu * v, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state["v"]["W1"], v, rtol=1e-12, atol=1e-14)


def test_nesterov_is_momentum_plus_the_velocity_change(rng):
    # θ_nesterov = θ_momentum + μ (v' - v): same velocity, one more look-ahead term.
    params = {"W1": rng.normal(size=(3, 2))}
    v0 = {"W1": rng.normal(size=(3, 2))}
    g = {"dW1": rng.normal(size=(3, 2))}
    state = {"t": 3, "v": v0}
    nag, s1 = opt.nesterov(params, g, state, learning_rate=0.05, momentum=0.7)
    mom, s2 = opt.sgd_momentum(params, g, state, learning_rate=0.05, momentum=0.7)
    np.testing.assert_array_equal(s1["v"]["W1"], s2["v"]["W1"])
    np.testing.assert_allclose(nag["W1"], mom["W1"] + 0.7 * (s1["v"]["W1"] - v0["W1"]),
                               rtol=1e-12)


# --------------------------------------------------------------------------- properties
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), lr=st.floats(1e-4, 1.0))
def test_zero_momentum_is_sgd(seed, lr):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(3, 3)), "b1": rng.normal(size=(3, 1))}
    grads = {"dW1": rng.normal(size=(3, 3)), "db1": rng.normal(size=(3, 1))}
    want = {k: params[k] - lr * grads["d" + k] for k in params}
    for name, h in (("momentum", {"beta": 0.0}), ("sgd_momentum", {"momentum": 0.0}),
                    ("nesterov", {"momentum": 0.0})):
        params_t, state = params, None
        for _ in range(2):   # the second step too: nothing is carried over
            got, state = step(name, params_t, grads, state, learning_rate=lr, **h)
            for k in params:
                np.testing.assert_allclose(got[k], params_t[k] - lr * grads["d" + k],
                                           rtol=1e-14, atol=1e-15)
            params_t = got
        assert opt.sgd(params, grads, learning_rate=lr)[0]["W1"] == pytest.approx(want["W1"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), lr=st.floats(1e-4, 1.0), b1=st.floats(0.0, 0.99),
       b2=st.floats(0.0, 0.999))
def test_adam_first_step_is_lr_per_coordinate(seed, lr, b1, b2):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(4, 3))}
    g = rng.choice([-1.0, 1.0], size=(4, 3)) * rng.uniform(1e-2, 1e2, size=(4, 3))
    new, state = opt.adam(params, {"dW1": g}, learning_rate=lr, beta1=b1, beta2=b2)
    delta = new["W1"] - params["W1"]
    # |Δ| = η |g| / (|g| + ε): within ε/|g| <= 1e-6 of η.
    np.testing.assert_allclose(np.abs(delta), lr, rtol=1e-6)
    np.testing.assert_array_equal(np.sign(delta), -np.sign(g))
    assert state["t"] == 1


def test_adam_t_convention_matches_both_courses(rng):
    params = {"W1": rng.normal(size=(4, 5))}
    g = {"dW1": rng.normal(size=(4, 5))}
    m0, v0 = rng.normal(size=(4, 5)), rng.uniform(0.1, 1.0, size=(4, 5))
    h = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}

    def corrected_at(t):      # the Adam update with the bias correction at t, by hand
        m = 0.9 * m0 + 0.1 * g["dW1"]
        v = 0.999 * v0 + 0.001 * g["dW1"] ** 2
        return params["W1"] - 1e-2 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)

    # CS231n: config['t'] = 5 is incremented before use, so the correction is at t = 6.
    new, state = opt.adam(params, g, {"t": 5, "v": {"W1": m0}, "s": {"W1": v0}}, **h)
    np.testing.assert_allclose(new["W1"], corrected_at(6), rtol=1e-13)
    assert state["t"] == 6
    assert np.max(np.abs(new["W1"] - corrected_at(5))) > 1e-6
    # DLS: the caller passes t = 2 and the correction is at 2: state t = t_DLS - 1.
    new, _ = opt.adam(params, g, {"t": 1, "v": {"W1": m0}, "s": {"W1": v0}}, **h)
    np.testing.assert_allclose(new["W1"], corrected_at(2), rtol=1e-13)


@pytest.mark.parametrize("name", optimizer_names())
def test_steps_never_modify_their_inputs(name, rng):
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(3, 1))}
    grads = {"dW1": rng.normal(size=(3, 2)), "db1": rng.normal(size=(3, 1))}
    state = init_state(name, params)
    for slot in OPTIMIZERS[name].slots:
        state[slot] = {k: rng.uniform(0.1, 1.0, size=p.shape) for k, p in params.items()}
    state["t"] = 2
    before = copy.deepcopy((params, grads, state))
    for _ in range(2):
        new, new_state = step(name, params, grads, state)
        for k in params:
            assert new[k] is not params[k]
            assert not np.shares_memory(new[k], params[k])
        for slot in OPTIMIZERS[name].slots:
            for k in params:
                assert not np.shares_memory(new_state[slot][k], state[slot][k])
    after = (params, grads, state)
    for b, a in zip(before, after, strict=True):
        assert b.keys() == a.keys()
    for k in params:
        np.testing.assert_array_equal(params[k], before[0][k])
        np.testing.assert_array_equal(grads["d" + k], before[1]["d" + k])
        for slot in OPTIMIZERS[name].slots:
            np.testing.assert_array_equal(state[slot][k], before[2][slot][k])
    assert state["t"] == 2


def test_init_state_is_zeros_of_each_shape():
    params = {"W1": np.ones((3, 2)), "b1": np.ones((3, 1))}
    s = init_state("adam", params)
    assert s["t"] == 0 and set(s) == {"t", "v", "s"}
    for slot in ("v", "s"):
        assert {k: a.shape for k, a in s[slot].items()} == {"W1": (3, 2), "b1": (3, 1)}
        assert all(not a.any() for a in s[slot].values())
    assert set(init_state("sgd", params)) == {"t"}
    assert set(init_state("rmsprop", params)) == {"t", "s"}


def test_defaults_are_the_courses():
    d = {n: dict(s.defaults) for n, s in OPTIMIZERS.items()}
    assert d["adam"] == {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
    assert d["rmsprop"] == {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}
    assert d["sgd_momentum"] == {"learning_rate": 1e-2, "momentum": 0.9}
    assert d["nesterov"] == {"learning_rate": 1e-2, "momentum": 0.9}
    assert d["momentum"] == {"learning_rate": 1e-2, "beta": 0.9}
    assert d["sgd"] == {"learning_rate": 1e-2}


def test_defaults_are_used_when_omitted(rng):
    params, g = {"W1": rng.normal(size=(2, 2))}, {"dW1": rng.normal(size=(2, 2))}
    for name, spec in OPTIMIZERS.items():
        a = step(name, params, g)[0]["W1"]
        b = step(name, params, g, None, **spec.defaults)[0]["W1"]
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(opt.sgd(params, g)[0]["W1"], params["W1"] - 0.01 * g["dW1"])


# --------------------------------------------------------------------------- schedules
def test_decay_schedules_give_the_dls_test_values():
    assert stepped_inverse_time_decay(0.5, 10, 1, 100) == 0.5
    assert stepped_inverse_time_decay(0.3, 1000, 0.25, 100) == pytest.approx(0.0857, abs=5e-5)
    assert stepped_inverse_time_decay(0.3, 1000, 0.25, 100) == pytest.approx(0.3 / 3.5)
    assert inverse_time_decay(0.5, 2, 1) == pytest.approx(0.5 / 3)
    assert inverse_time_decay(0.5, 0, 7.0) == 0.5
    # the floor: constant within an interval, one step down at each multiple
    assert [stepped_inverse_time_decay(1.0, e, 1.0, 3) for e in range(7)] == \
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 1 / 3]
    assert stepped_inverse_time_decay(1.0, 999, 1.0) == 1.0      # default interval 1000
    assert stepped_inverse_time_decay(1.0, 1000, 1.0) == 0.5
    assert SCHEDULES["constant"](0.2, 50, 3.0, 7) == 0.2
    assert SCHEDULES["inverse_time"] is inverse_time_decay


@pytest.mark.parametrize("call, exc, message", [
    (lambda: inverse_time_decay(-0.1, 1, 1), ValueError, r"learning_rate0 .* got -0\.1"),
    (lambda: inverse_time_decay(0.1, -1, 1), ValueError, r"epoch_num .* got -1"),
    (lambda: inverse_time_decay(0.1, 1.5, 1), ValueError, r"epoch_num .* got 1\.5"),
    (lambda: inverse_time_decay(0.1, 1, -2.0), ValueError, r"decay_rate .* got -2\.0"),
    (lambda: stepped_inverse_time_decay(0.1, 1, 1, 0), ValueError, r"time_interval .* got 0"),
    (lambda: stepped_inverse_time_decay(0.0, 1, 1, 1), ValueError, r"learning_rate0 .* got 0\.0"),
    (lambda: stepped_inverse_time_decay(0.1, True, 1), ValueError, r"epoch_num .* True"),
    (lambda: stepped_inverse_time_decay(0.1, 1, float("nan")), ValueError, r"decay_rate .* nan"),
    (lambda: SCHEDULES["constant"](0.0, 1), ValueError, r"learning_rate0 .* got 0\.0"),
    (lambda: SCHEDULES["constant"](0.1, -1), ValueError, r"epoch_num .* got -1"),
])
def test_schedules_refuse_bad_arguments(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# --------------------------------------------------------------------------- mini-batches
def test_dls_partition_of_148_examples_in_batches_of_64():
    X = np.arange(5 * 148, dtype=float).reshape(5, 148)
    Y = (np.arange(148) % 2).reshape(1, 148).astype(float)
    batches = course_mini_batches(X, Y, 64, seed=0)
    assert [b[0].shape for b in batches] == [(5, 64), (5, 64), (5, 20)]
    assert [b[1].shape for b in batches] == [(1, 64), (1, 64), (1, 20)]
    # the permutation np.random.seed(0); np.random.permutation(148) gives, the legacy global
    state = np.random.get_state()
    try:
        np.random.seed(0)
        perm = np.random.permutation(148)
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(np.hstack([b[0] for b in batches]), X[:, perm])
    np.testing.assert_array_equal(np.hstack([b[1] for b in batches]), Y[:, perm])
    # the global generator is left alone by the adapter
    state = np.random.get_state()
    course_mini_batches(X, Y, 64, seed=3)
    assert np.random.get_state()[1].tolist() == state[1].tolist()
    assert np.random.get_state()[2] == state[2]


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 60), b=st.integers(1, 70), seed=st.integers(0, 2**16))
def test_partition_is_one_permutation_cut_in_order(m, b, seed):
    idx = partition(m, b, np.random.default_rng(seed))
    perm = np.random.default_rng(seed).permutation(m)
    np.testing.assert_array_equal(np.concatenate(idx), perm)
    sizes = [len(i) for i in idx]
    assert sizes == [b] * (m // b) + ([m % b] if m % b else [])
    unshuffled = partition(m, b, None)
    np.testing.assert_array_equal(np.concatenate(unshuffled), np.arange(m))


def test_mini_batches_keep_columns_together(rng):
    X = rng.normal(size=(3, 10))
    Y = X[:1] * 2 + 1
    for Xb, Yb in mini_batches(X, Y, 4, np.random.default_rng(1)):
        np.testing.assert_array_equal(Yb, Xb[:1] * 2 + 1)
    assert len(mini_batches(X, Y, 100, np.random.default_rng(1))) == 1


@pytest.mark.parametrize("call, exc, message", [
    (lambda: partition(10, 0, None), ValueError, r"mini_batch_size .* got 0"),
    (lambda: partition(0, 3, None), ValueError, r"m .* got 0"),
    (lambda: partition(5, 2, 7), TypeError, r"rng .* 7"),
    (lambda: mini_batches(np.zeros((2, 5)), np.zeros((1, 4)), 2), ValueError,
     r"Y has shape \(1, 4\) but X has shape \(2, 5\)"),
    (lambda: mini_batches(np.zeros(5), np.zeros((1, 5)), 2), ValueError, r"X must be 2-D"),
    (lambda: course_mini_batches(np.zeros((2, 5)), np.zeros((1, 5)), 2, seed=-1), ValueError,
     r"seed .* -1"),
    (lambda: course_mini_batches(np.zeros((2, 5)), np.zeros((1, 5)), 2, seed=2**32), ValueError,
     r"seed .* 4294967296"),
    (lambda: course_mini_batches(np.zeros((2, 5)), np.zeros((1, 5)), 2, seed=1.0), ValueError,
     r"seed .* 1\.0"),
])
def test_mini_batches_refuse_bad_arguments(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_course_seed_bounds_are_inclusive_exclusive():
    X, Y = np.zeros((1, 3)), np.zeros((1, 3))
    assert len(course_mini_batches(X, Y, 2, seed=0)) == 2
    assert len(course_mini_batches(X, Y, 2, seed=2**32 - 1)) == 2


# --------------------------------------------------------------------------- bad input
P = {"W1": np.ones((2, 3)), "b1": np.ones((2, 1))}
G = {"dW1": np.ones((2, 3)), "db1": np.ones((2, 1))}

BAD_STEPS = [
    ("lr-negative", "sgd", P, G, None, {"learning_rate": -0.1}, ValueError,
     r"learning_rate .* got -0\.1"),
    ("lr-zero", "adam", P, G, None, {"learning_rate": 0.0}, ValueError,
     r"learning_rate .* got 0\.0"),
    ("beta-one", "momentum", P, G, None, {"beta": 1.0}, ValueError, r"beta .* \[0, 1\).*got 1\.0"),
    ("beta-negative", "momentum", P, G, None, {"beta": -0.1}, ValueError, r"beta .* got -0\.1"),
    ("beta1-one", "adam", P, G, None, {"beta1": 1.0}, ValueError, r"beta1 .* got 1\.0"),
    ("beta2-big", "adam", P, G, None, {"beta2": 1.5}, ValueError, r"beta2 .* got 1\.5"),
    ("momentum-one", "nesterov", P, G, None, {"momentum": 1.0}, ValueError,
     r"momentum .* got 1\.0"),
    ("decay-one", "rmsprop", P, G, None, {"decay_rate": 1.0}, ValueError,
     r"decay_rate .* got 1\.0"),
    ("eps-zero", "rmsprop", P, G, None, {"epsilon": 0.0}, ValueError, r"epsilon .* got 0\.0"),
    ("eps-str", "adam", P, G, None, {"epsilon": "1e-8"}, TypeError, r"epsilon .* '1e-8'"),
    ("unknown-hyper", "momentum", P, G, None, {"momentum": 0.9}, ValueError,
     r"unknown hyper-parameter\(s\) 'momentum' for optimizer 'momentum'; valid: learning_rate, "
     r"beta"),
    ("unknown-name", "adamw", P, G, None, {}, ValueError,
     r"unknown optimizer 'adamw'; valid names: sgd, momentum"),
    ("name-not-str", 3, P, G, None, {}, TypeError, r"optimizer must be a name.*got 3"),
    ("grads-missing", "sgd", P, {"dW1": np.ones((2, 3))}, None, {}, ValueError,
     r"grads has no 'db1' for params\['b1'\] \(grads has: 'dW1'\)"),
    ("grads-empty", "sgd", P, {}, None, {}, ValueError, r"grads has no 'dW1'.*nothing"),
    ("grads-shape", "sgd", P, {"dW1": np.ones((3, 2)), "db1": np.ones((2, 1))}, None, {},
     ValueError, r"grads\['dW1'\] has shape \(3, 2\) but params\['W1'\] has shape \(2, 3\); it needs"),
    ("grads-nan", "sgd", P, {**G, "db1": np.full((2, 1), np.nan)}, None, {}, ValueError,
     r"grads\['db1'\] contains"),
    ("grads-list", "sgd", P, [1.0], None, {}, TypeError, r"grads must be a dict.*\[1\.0\]"),
    ("grads-str", "sgd", P, {**G, "dW1": "x"}, None, {}, TypeError, r"grads\['dW1'\] must be"),
    ("params-empty", "sgd", {}, G, None, {}, TypeError, r"params must be a non-empty dict"),
    ("params-list", "sgd", [1.0], G, None, {}, TypeError, r"params must be .*\[1\.0\]"),
    ("params-str", "sgd", {"W1": "a"}, {"dW1": "a"}, None, {}, TypeError, r"params\['W1'\]"),
    ("state-missing-slot", "adam", P, G, {"t": 0, "v": P}, {}, ValueError,
     r"state of optimizer 'adam' has no 's'; it needs 't', 'v', 's'"),
    ("state-missing-t", "momentum", P, G, {"v": P}, {}, ValueError,
     r"state of optimizer 'momentum' has no 't'"),
    ("state-t-negative", "adam", P, G, {"t": -1, "v": P, "s": P}, {}, ValueError,
     r"state\['t'\] .* got -1"),
    ("state-t-float", "adam", P, G, {"t": 1.0, "v": P, "s": P}, {}, ValueError,
     r"state\['t'\] .* got 1\.0"),
    ("state-t-bool", "adam", P, G, {"t": True, "v": P, "s": P}, {}, ValueError,
     r"state\['t'\] .* got True"),
    ("state-slot-key", "momentum", P, G, {"t": 0, "v": {"W1": np.ones((2, 3))}}, {}, ValueError,
     r"state\['v'\] has no 'b1' for params\['b1'\] \(state\['v'\] has: 'W1'\)"),
    ("state-slot-empty", "momentum", P, G, {"t": 0, "v": {}}, {}, ValueError,
     r"state\['v'\] has no 'W1' for params\['W1'\] \(state\['v'\] has: nothing\)"),
    ("state-slot-shape", "rmsprop", P, G, {"t": 0, "s": {**P, "W1": np.ones((3, 2))}}, {},
     ValueError, r"state\['s'\]\['W1'\] has shape \(3, 2\) but params\['W1'\] has shape \(2, 3\)"),
    ("state-slot-list", "momentum", P, G, {"t": 0, "v": [1]}, {}, TypeError,
     r"state\['v'\] must be a dict"),
    ("state-list", "momentum", P, G, [1], {}, TypeError, r"state must be a dict.*\[1\]"),
]


@pytest.mark.parametrize("name, params, grads, state, hyper, exc, message",
                         [c[1:] for c in BAD_STEPS], ids=[c[0] for c in BAD_STEPS])
def test_steps_refuse_bad_input(name, params, grads, state, hyper, exc, message):
    with pytest.raises(exc, match=message):
        step(name, params, grads, state, **hyper)


def test_hyper_parameter_range_ends():
    # closed at 0 for β, μ, d; open at 1; open at 0 for lr and ε
    assert check_hyper("momentum", {"beta": 0.0})["beta"] == 0.0
    assert check_hyper("rmsprop", {"decay_rate": 0.0})["decay_rate"] == 0.0
    assert check_hyper("adam", {"beta1": 0.0, "beta2": 0.0}) == {
        "learning_rate": 1e-3, "beta1": 0.0, "beta2": 0.0, "epsilon": 1e-8}
    assert check_hyper("adam", {"learning_rate": 5.0})["learning_rate"] == 5.0
    with pytest.raises(ValueError, match=r"eps .* got 0"):
        check_hyper("adam", {"epsilon": 0}, labels={"epsilon": "eps"})
    with pytest.raises(ValueError, match=r"learning_rate .* inf"):
        check_hyper("sgd", {"learning_rate": float("inf")})


def test_named_steps_are_the_registry():
    for name in optimizer_names():
        fn = getattr(opt, name)
        assert fn.__name__ == name
        assert all(f"{k}=" in fn.__doc__ for k in OPTIMIZERS[name].defaults)


@pytest.mark.parametrize("name, key", [("momentum", "beta"), ("sgd_momentum", "momentum"),
                                       ("nesterov", "momentum"), ("rmsprop", "decay_rate"),
                                       ("adam", "beta1"), ("adam", "beta2")])
def test_every_decay_factor_lies_in_zero_one(name, key):
    # [0, 1): 0 and 0.999 are steps, 1 (no forgetting at all) and negatives are refused
    for ok in (0.0, 0.999):
        step(name, P, G, None, **{key: ok})
    for bad in (1.0, -1e-9, 1.5):
        with pytest.raises(ValueError, match=rf"{key} must be a finite number in \[0, 1\), "
                                             rf"got {bad!r}"):
            step(name, P, G, None, **{key: bad})


def test_named_step_docstrings_start_with_the_summary():
    for name, spec in OPTIMIZERS.items():
        assert getattr(opt, name).__doc__.lower().startswith(spec.summary.lower() + ":")


def test_mini_batch_defaults_are_the_courses():
    # DLS random_mini_batches(X, Y, mini_batch_size=64, seed=0)
    X = np.arange(2 * 130, dtype=float).reshape(2, 130)
    Y = np.zeros((1, 130))
    assert [b[0].shape[1] for b in mini_batches(X, Y)] == [64, 64, 2]
    np.testing.assert_array_equal(mini_batches(X, Y)[0][0], X[:, :64])      # no shuffle
    default = course_mini_batches(X, Y)
    explicit = course_mini_batches(X, Y, 64, seed=0)
    assert len(default) == 3
    for (a, _), (b, _) in zip(default, explicit, strict=True):
        np.testing.assert_array_equal(a, b)


def test_schedule_decay_rates_from_zero_and_a_positive_first_rate():
    assert inverse_time_decay(1.0, 4, 0.5) == pytest.approx(1 / 3)
    assert inverse_time_decay(1.0, 4, 0.0) == 1.0
    assert stepped_inverse_time_decay(1.0, 4, 0.0, 2) == 1.0
    for fn in (inverse_time_decay, stepped_inverse_time_decay):
        with pytest.raises(ValueError, match=r"learning_rate0 .* \(0, inf\), got 0\.0"):
            fn(0.0, 1, 1.0)


def test_the_registry_entries_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        OPTIMIZERS["adam"].defaults = {}
