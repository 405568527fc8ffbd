"""NetworkFD's documented parts, each against a restatement by other means: the rounding scale
of every example (explicit loops over the docstring's formula), the cost's L2 allowance, the
measured sensitivities, the rank-1 fast path with coordinates in any order, a single kink
crossed through an intermediate, and the counters."""

import time

import numpy as np
import pytest
from gradref.checks.network_fd import NetworkFD, naive_elementwise, noise_scale
from gradref.checks.oracle import oracle_gradients
from gradref.reference import Network

EPS = float(np.finfo(np.float64).eps)
NET = Network([2, 3, 2, 1], "tanh,relu,sigmoid", "bce", l2=0.4)
RNG = np.random.default_rng(11)
PARAMS = NET.init_params("xavier", seed=5)
for _l in (1, 2, 3):   # non-zero biases, so their term shows
    PARAMS[f"b{_l}"] = 0.3 * RNG.standard_normal(PARAMS[f"b{_l}"].shape)
X = RNG.standard_normal((2, 4))
Y = np.array([[1.0, 0.0, 0.0, 1.0]])
#: a linear output far from its targets: |A_L - Y| > 1, where max(1, |A_L - Y|) is not 1
FAR = Network([2, 3, 2], "tanh,linear", "square")
FAR_PARAMS = {"W1": RNG.standard_normal((3, 2)), "b1": RNG.standard_normal((3, 1)),
              "W2": RNG.standard_normal((2, 3)), "b2": RNG.standard_normal((2, 1))}
FAR_Y = np.array([[4.0, -3.0, 5.0, -4.0], [-6.0, 2.5, 3.0, 7.0]])


def _loop_noise_scale(net, params, cache, Y, gains):
    """s_i = |ℓ_i| + Σ_k (|Z_L| + |A_L| + |Y|)_ki max(1, |A_L − Y|_ki)
    + Σ_l Σ_u |dZ_l|_ui (Σ_j |W_l|_uj |A_{l-1}|_ji + |b_l|_u) + Σ_{l<L} Σ_u |dA_l|_ui (|A_l| + |Z_l|)_ui,
    one example and one unit at a time."""
    L, m = net.L, Y.shape[1]
    losses = net._losses(cache, Y)
    out = []
    for i in range(m):
        s = abs(losses[i])
        ZL, AL = cache[f"Z{L}"][:, i], cache[f"A{L}"][:, i]
        for k in range(Y.shape[0]):
            s += (abs(ZL[k]) + abs(AL[k]) + abs(Y[k, i])) * max(1.0, abs(AL[k] - Y[k, i]))
        for l in range(1, L + 1):
            W, b, A_prev = params[f"W{l}"], params[f"b{l}"], cache[f"A{l - 1}"][:, i]
            for u in range(W.shape[0]):
                terms = sum(abs(W[u, j]) * abs(A_prev[j]) for j in range(W.shape[1])) + abs(b[u, 0])
                s += abs(gains[f"dZ{l}"][u, i]) * terms
                if l < L:
                    s += abs(gains[f"dA{l}"][u, i]) * (abs(cache[f"A{l}"][u, i])
                                                       + abs(cache[f"Z{l}"][u, i]))
        out.append(s)
    return np.array(out)


@pytest.mark.parametrize("net,params,Y", [(NET, PARAMS, Y), (FAR, FAR_PARAMS, FAR_Y)],
                         ids=["bce", "square-far"])
def test_the_rounding_scale_of_every_example_follows_its_formula(net, params, Y):
    _, cache = net._forward(params, X)
    grads = oracle_gradients(net, params, X, Y)
    gains = {k: v for k, v in grads.items() if k[1] in "ZA"}
    got = noise_scale(net, params, cache, Y, gains)
    assert got == pytest.approx(_loop_noise_scale(net, params, cache, Y, gains), rel=1e-12, abs=0)
    # a dA_L among the gains (a dict from any source) is not added: the loss term covers A_L
    with_output = dict(gains, **{f"dA{net.L}": np.ones_like(cache[f"A{net.L}"])})
    assert noise_scale(net, params, cache, Y, with_output) == pytest.approx(got, rel=1e-12, abs=0)
    loss_only = noise_scale(net, params, cache, Y)
    zero = {k: 0 * v for k, v in gains.items()}
    assert loss_only == pytest.approx(_loop_noise_scale(net, params, cache, Y, zero), rel=1e-12,
                                      abs=0)


def test_the_cost_allowance_adds_the_l2_terms_rounding():
    fd = NetworkFD(NET, PARAMS, X, Y)
    squares = sum(float(w) ** 2 for l in (1, 2, 3) for w in PARAMS[f"W{l}"].ravel())
    assert fd.l2_sum == pytest.approx(squares, rel=1e-12, abs=0)
    expected = float(np.mean(fd.example_noise)) + EPS * 0.4 / (2 * 4) * squares
    assert fd.cost_noise == pytest.approx(expected, rel=1e-12, abs=0)


def test_measured_sensitivities_replace_the_oracles():
    fd = NetworkFD(NET, PARAMS, X, Y, gains="measured")
    assert sorted(fd.gains) == ["dA1", "dA2", "dZ1", "dZ2", "dZ3"]
    truth = oracle_gradients(NET, PARAMS, X, Y)
    for k, v in fd.gains.items():   # both per example (m times the gradient of J)
        assert np.allclose(v, truth[k], rtol=1e-6, atol=1e-9), k
    _, cache = NET._forward(PARAMS, X)
    assert fd.example_noise == pytest.approx(
        EPS * _loop_noise_scale(NET, PARAMS, cache, Y, fd.gains), rel=1e-12, abs=0)


@pytest.mark.parametrize("name,indices", [
    ("W2", [0, 4, 1]),        # rows 0, 2, 0 of W2 (3 columns): the first and last share a row
    ("W2", [5, 1, 3, 4]),     # rows 2, 0, 1, 1
    ("W3", [1, 0]),           # one row: the outer-product path
])
def test_coordinates_in_any_order_give_the_naive_loops_numbers(name, indices):
    fast = NetworkFD(NET, PARAMS, X, Y).parameter(name, indices)
    naive = naive_elementwise(NET, PARAMS, X, Y, names=[name], indices={name: indices})[name]
    assert np.allclose(fast.numeric, naive.numeric, rtol=1e-8, atol=1e-12)
    truth = oracle_gradients(NET, PARAMS, X, Y)[f"d{name}"].ravel()[indices]
    assert np.all(np.abs(fast.numeric - truth) <= 8 * fast.error + 1e-12)


def test_one_kinked_unit_crossed_through_an_intermediate_is_judged_not_unverified():
    """Z1[0, 0] is exactly 0 (relu's kink) and no other unit is near one: perturbing A0[:, 0]
    crosses that single unit, so the element is at a kink and judged by its interval."""
    net = Network([2, 3, 1], "relu,sigmoid", "bce")
    params = net.init_params("he", seed=1)
    Xk = np.array([[0.7, -1.2, 0.4], [1.1, 0.3, -0.8]])
    params["b1"][0, 0] = -float(params["W1"][0] @ Xk[:, 0])
    _, cache = net._forward(params, Xk)
    assert cache["Z1"][0, 0] == 0.0 and np.all(np.abs(cache["Z1"].ravel()[1:]) > 1e-3)
    fd = NetworkFD(net, params, Xk, np.array([[1.0, 0.0, 1.0]]))
    est = fd.intermediate("A0", [0])
    assert est.kink.tolist() == [True] and est.unverified.tolist() == [False]
    # all six coordinates at once: only the two of example 0 (flat 0 and 3) cross it
    every = fd.intermediate("A0")
    assert every.kink.tolist() == [True, False, False, True, False, False]
    assert not every.unverified.any()


def test_counters_accumulate_wall_time():
    t0 = time.perf_counter()
    fd = NetworkFD(NET, PARAMS, X, Y)
    assert fd.seconds == 0.0 and fd.evaluations == 0
    a = fd.parameter("W1")
    b = fd.parameter("b2")
    wall = time.perf_counter() - t0
    assert 0 < a.seconds and 0 < b.seconds and a.seconds + b.seconds <= wall
    assert fd.seconds == pytest.approx(a.seconds + b.seconds, rel=1e-12, abs=0)
    t1 = time.perf_counter()
    naive = naive_elementwise(NET, PARAMS, X, Y, names=["b1"])["b1"]
    assert 0 < naive.seconds <= time.perf_counter() - t1


def test_the_naive_loop_refuses_what_is_not_a_network():
    with pytest.raises(TypeError, match="net must be a reference Network, got dict"):
        naive_elementwise({}, PARAMS, X, Y)


def test_defaults_one_blas_thread_and_no_l2_sum_without_l2():
    plain = Network([2, 3, 1], "tanh,sigmoid", "bce")
    fd = NetworkFD(plain, plain.init_params(seed=1), X, Y)
    assert fd.threads == 1 and fd.l2_sum == 0.0


@pytest.mark.parametrize("large", [False, True], ids=["xavier", "W1-1e6"])
@pytest.mark.parametrize("offset", np.logspace(-10, -4, 13))
def test_the_kink_screening_never_misses_a_crossing_the_naive_loop_sees(offset, large):
    """Z2[0, 0] of a relu layer sits ``offset`` from its kink. Perturbing W1 and b1 moves it
    through the rank-1 entry into layer 2, where only units within reach are compared; the
    naive loop compares every unit. Offsets across the perturbations' sizes (1e-10 … 1e-4)
    put it inside and outside the reach of each coordinate. With W1 of size 1e6 (and W2 of
    1e-6) the steps of W1, relative to it, move A1 by more than 1."""
    net = Network([2, 3, 2, 1], ("linear" if large else "tanh") + ",relu,sigmoid", "bce")
    params = net.init_params("xavier", seed=4)
    if large:
        params["W1"], params["W2"] = 1e6 * params["W1"], 1e-6 * params["W2"]
    _, cache = net._forward(params, X)
    params["b2"][0, 0] += offset - cache["Z2"][0, 0]
    _, cache = net._forward(params, X)
    assert abs(cache["Z2"][0, 0] - offset) <= 1e-15
    fd = NetworkFD(net, params, X, Y)
    naive = naive_elementwise(net, params, X, Y, names=["W1", "b1"])
    for name in ("W1", "b1"):
        assert fd.parameter(name).kink.tolist() == naive[name].kink.tolist(), name


def test_non_finite_oracle_sensitivities_are_measured_instead():
    """elu at Z = 800: the oracle's dZ1 is NaN there (exp overflows in the branch it does not
    take) while its other intermediates are finite; the sensitivities are then measured, and
    the allowance stays finite."""
    net = Network([1, 2, 1], "elu,sigmoid", "bce")
    params = {"W1": np.array([[800.0], [1.0]]), "b1": np.zeros((2, 1)),
              "W2": np.array([[1.0, 1.0]]), "b2": np.zeros((1, 1))}
    Xe, Ye = np.array([[1.0, -1.0]]), np.array([[1.0, 0.0]])
    with np.errstate(all="ignore"):
        truth = oracle_gradients(net, params, Xe, Ye)
    assert not np.all(np.isfinite(truth["dZ1"])) and np.all(np.isfinite(truth["dZ2"]))
    fd = NetworkFD(net, params, Xe, Ye)
    assert sorted(fd.gains) == ["dA1", "dZ1", "dZ2"]
    assert all(np.all(np.isfinite(v)) for v in fd.gains.values())
    assert np.all(np.isfinite(fd.example_noise)) and np.isfinite(fd.cost_noise)


def test_the_naive_loop_takes_the_fast_modes_allowance_for_every_choice_of_gains():
    """GELU far left loses eps|z| in its hidden layer: the sensitivities raise the allowance
    some 300 times over the loss's own rounding. The naive loop must follow the choice."""
    net = Network([1, 1, 1], "gelu,tanh", "square")
    params = {"W1": np.array([[30.61378682]]), "b1": np.array([[0.04180988]]),
              "W2": np.array([[-38.33497547]]), "b2": np.array([[-0.05677696]])}
    Xg, Yg = np.array([[-0.45264929, -0.21559716]]), np.array([[0.4691543, -0.77265596]])
    errors = {}
    for gains in (None, "autograd", "measured"):
        naive = naive_elementwise(net, params, Xg, Yg, gains=gains)
        fast = NetworkFD(net, params, Xg, Yg, gains=gains)
        for k in params:   # the truncation parts differ by rounding only
            assert naive[k].error == pytest.approx(fast.parameter(k).error, rel=0.05, abs=0)
        errors[gains] = np.concatenate([naive[k].error for k in params])
    assert np.all(errors[None] * 100 < errors["autograd"])
    assert errors["measured"] == pytest.approx(errors["autograd"], rel=1e-3, abs=0)


def test_a_unit_just_inside_the_largest_change_is_screened_in():
    """Example 0 has X = 0, so a step h of b1[0] moves Z1[0, 0] from 0 to h exactly (linear
    layer 1) and Z2[0, 0] by P = W2[0, 0]·h exactly; with Z2[0, 0] = −P(1 − 1e-13) that step
    crosses relu's kink by 1e-13 of P. The screening must compare the unit (its reach is P up
    to a margin of 1e-12), as the naive loop does."""
    net = Network([2, 2, 2, 1], "linear,relu,sigmoid", "bce")
    Xs = np.array([[0.0, 0.8, -0.6], [0.0, -0.5, 0.9]])
    Ys = np.array([[1.0, 0.0, 1.0]])
    params = {"W1": np.array([[0.7, -0.4], [0.3, 0.9]]), "b1": np.zeros((2, 1)),
              "W2": np.array([[0.75, -0.5], [0.6, 0.2]]), "b2": np.array([[0.0], [1.5]]),
              "W3": np.array([[1.0, -1.0]]), "b3": np.zeros((1, 1))}
    h = NetworkFD(net, params, Xs, Ys).parameter("b1", [0]).step[0]
    P = 0.75 * h
    params["b2"][0, 0] = -P * (1 - 1e-13)
    _, cache = net._forward(params, Xs)
    assert cache["Z2"][0, 0] == params["b2"][0, 0] and np.all(np.abs(cache["Z2"][:, 1:]) > 1e-3)
    assert P + cache["Z2"][0, 0] > 0                  # the step does cross
    fast = NetworkFD(net, params, Xs, Ys).parameter("b1")
    naive = naive_elementwise(net, params, Xs, Ys, names=["b1"])["b1"]
    assert naive.kink.tolist() == [True, False]
    assert fast.kink.tolist() == [True, False]


def test_units_crossed_only_by_the_quarter_step_are_counted():
    """silu is not monotone: with Z1 = z* − h/4 (z* its minimum) the step +h/4 lowers A1 most,
    so a relu unit fed by −A1 and placed 2e-13 below its kink is crossed by +h/4 alone (which
    moves it by 4e-13; the steps ±h and ±h/2 move it the other way or not at all). A second
    unit sits on its kink and is crossed by the first steps. Example 0 then crosses two kinked
    units: unverified, as the naive loop (which compares every step) says."""
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    lo, hi = -2.0, -1.0          # silu'(z) = σ(z)(1 + z(1 − σ(z))) has its one root here
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if 1 + mid * (1 - sig(mid)) > 0 else (mid, hi)
    zstar = 0.5 * (lo + hi)
    net = Network([2, 1, 2, 1], "silu,relu,sigmoid", "bce")
    Xq, Yq = np.array([[0.0, 0.9, -0.7], [0.0, -0.4, 0.8]]), np.array([[1.0, 0.0, 1.0]])
    step = NetworkFD(net, {"W1": np.ones((1, 2)), "b1": np.array([[zstar]]),
                           "W2": np.ones((2, 1)), "b2": np.zeros((2, 1)), "W3": np.ones((1, 2)),
                           "b3": np.zeros((1, 1))}, Xq, Yq).parameter("b1").step[0]
    params = {"W1": np.array([[0.8, -0.6]]), "b1": np.array([[zstar - step / 4]]),
              "W2": np.array([[-1.0], [1.0]]), "b2": np.zeros((2, 1)),
              "W3": np.array([[1.0, -1.0]]), "b3": np.zeros((1, 1))}
    _, cache = net._forward(params, Xq)
    params["b2"] = np.array([[-cache["Z2"][0, 0] - 2e-13], [-cache["Z2"][1, 0]]])
    _, cache = net._forward(params, Xq)
    assert cache["Z2"][1, 0] == 0.0 and -3e-13 < cache["Z2"][0, 0] < -1e-13
    assert np.all(np.abs(cache["Z2"][:, 1:]) > 1e-3)
    fast = NetworkFD(net, params, Xq, Yq).parameter("b1")
    naive = naive_elementwise(net, params, Xq, Yq, names=["b1"])["b1"]
    assert naive.kink.tolist() == [True] and naive.unverified.tolist() == [True]
    assert fast.kink.tolist() == [True] and fast.unverified.tolist() == [True]
