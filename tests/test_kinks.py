"""Kinks: detection from the perturbed pre-activations, one-sided intervals example by example,
subgradient conventions accepted, wrong values still caught, and nothing loosened elsewhere."""

import numpy as np
import pytest
from gradref.checks.api import check_network
from gradref.checks.finite_diff import combine, judge
from gradref.checks.kinks import crosses, example_intervals
from gradref.checks.network_fd import NetworkFD
from gradref.checks.strategies import architectures
from gradref.checks.tolerances import fd_tolerances
from gradref.reference import Network
from hypothesis import given, note
from hypothesis import strategies as st

TOL = fd_tolerances()


def relu_net_on_integers(seed: int = 0, sizes=(3, 4, 2), acts="relu,sigmoid", loss="bce"):
    """Integer X, W and zero b: Z1 = W1 X has exact zeros (asserted)."""
    net = Network(list(sizes), acts, loss)
    rng = np.random.default_rng(seed)
    params = {k: (rng.integers(-1, 2, size=s).astype(float) if k[0] == "W" else np.zeros(s))
              for k, s in net.param_shapes().items()}
    X = rng.integers(-2, 3, size=(sizes[0], 6)).astype(float)
    Y = (rng.random((sizes[-1], 6)) < 0.5).astype(float)
    _, cache = net.forward(params, X)
    assert np.any(cache["Z1"] == 0)
    return net, params, X, Y


def test_crosses_follows_the_branch_convention():
    z0 = np.array([-1.0, 0.0, 0.0, 1e-9, 2.0])
    up = np.array([-0.5, 1e-6, -1e-6, -1e-6, 3.0])
    assert crosses(up, z0, (0.0,)).tolist() == [False, True, False, True, False]
    assert crosses(z0, z0, (0.0,)).tolist() == [False] * 5       # no move, no crossing
    assert crosses(np.array([1.5]), np.array([0.5]), (0.0, 1.0)).tolist() == [True]


def test_reference_is_never_flagged_on_integer_data_and_kinks_are_reported():
    net, params, X, Y = relu_net_on_integers()
    res = check_network(net, net, params, X, Y)
    assert res.passed, res.to_text()
    kinks = sum(a.kinks for a in res.arrays if a.oracle == "fd")
    assert kinks > 0
    assert "kinks" in res.to_text()


@given(architectures(max_depth=3, max_width=4,
                     hidden=["relu", "leaky_relu", "leaky_relu(0.05)", "elu(0.5)"]),
       st.integers(0, 2**32 - 1))
def test_kinked_networks_on_integer_data_pass(net, seed):
    note(repr(net))
    rng = np.random.default_rng(seed)
    params = {k: (rng.integers(-1, 2, size=s).astype(float) if k[0] == "W" else np.zeros(s))
              for k, s in net.param_shapes().items()}
    m = int(rng.integers(1, 5))
    X = rng.integers(-2, 3, size=(net.layer_sizes[0], m)).astype(float)
    from gradref.checks.strategies import make_targets
    res = check_network(net, net, params, X, make_targets(net, m, rng))
    assert res.passed, res.to_text()


def _with_mask(net, mask):
    """The reference's backward with relu'(z) replaced by ``mask(z)``."""
    def grads(params, X, Y):
        _, cache = net.forward(params, X)
        out = {}
        dZ = net.activations[-1].vjp(cache[f"Z{net.L}"], cache[f"A{net.L}"],
                                     net.loss.derivative(cache[f"A{net.L}"], Y))
        if net.loss.fused_with(net.activations[-1]):
            dZ = net.loss.fused_with(net.activations[-1]).dz(cache[f"Z{net.L}"],
                                                             cache[f"A{net.L}"], Y)
        m = X.shape[1]
        for l in range(net.L, 0, -1):
            out[f"dW{l}"] = dZ @ cache[f"A{l - 1}"].T / m
            out[f"db{l}"] = dZ.sum(axis=1, keepdims=True) / m
            if l > 1:
                dZ = (params[f"W{l}"].T @ dZ) * mask(cache[f"Z{l - 1}"])
        return out
    return grads


def test_another_subgradient_convention_is_accepted():
    """relu'(0) = 1 instead of 0: autograd disagrees at the kink elements, the one-sided
    differences accept both conventions, so the check passes and counts them."""
    net, params, X, Y = relu_net_on_integers(1)
    res = check_network(_with_mask(net, lambda z: (z >= 0).astype(float)), net, params, X, Y)
    assert res.passed, res.to_text()
    ag = res.array("dW1", "autograd")
    assert ag.adjudicated > 0
    assert res.array("dW1", "fd").kinks > 0


def test_a_slope_outside_the_one_sided_interval_fails():
    """relu'(0) = 3 (and 1 elsewhere on the right): outside [left, right] at the kink."""
    net, params, X, Y = relu_net_on_integers(1)
    mask = lambda z: np.where(z > 0, 1.0, np.where(z == 0, 3.0, 0.0))  # noqa: E731
    res = check_network(_with_mask(net, mask), net, params, X, Y, oracle="fd")
    assert not res.passed
    worst = res.array("dW1", "fd").worst[0]
    assert worst.kink and worst.error > worst.tol
    assert "outside the one-sided interval" in res.to_text()


def test_kinks_elsewhere_do_not_loosen_smooth_elements():
    """A wrong element away from any kink is caught as tightly as in a smooth network."""
    net, params, X, Y = relu_net_on_integers(2)
    fd = NetworkFD(net, params, X, Y)
    est = fd.parameter("W2")
    assert not est.kink.all()
    _, grads = net.gradients(params, X, Y)
    a = grads["dW2"].ravel().copy()
    i = int(np.flatnonzero(~est.kink)[0])
    clean = judge(a, est, TOL)
    assert not clean.failed.any() and clean.kink_accepted.sum() == est.kink.sum()
    tol = clean.tol[i]
    assert tol < 1e-7
    a[i] += 2.01 * tol
    assert judge(a, est, TOL).failed[i]


def test_two_units_crossing_within_one_example_are_unverified_not_failed():
    """f(x) = relu(x) - relu(-x) = x is smooth, but relu'(0) = 0 gives a derivative of 0: the
    two kinked units of one example move in opposite directions and no one-sided difference
    bounds every convention. Reported as unverified, not as a failure."""
    net = Network([1, 2, 1], "relu,linear", "half_square")
    params = {"W1": np.array([[1.0], [-1.0]]), "b1": np.zeros((2, 1)),
              "W2": np.array([[1.0, -1.0]]), "b2": np.zeros((1, 1))}
    X, Y = np.zeros((1, 1)), np.array([[1.0]])
    res = check_network(net, net, params, X, Y)
    assert res.passed, res.to_text()
    dA0 = res.array("dA0", "fd")
    assert dA0.unverified == 1 and dA0.failed == 0
    est = NetworkFD(net, params, X, Y).intermediate("A0")
    assert est.unverified[0] and est.lower[0] <= -1 + 1e-6   # the true slope, (a - y) * 1


def test_per_example_intervals_add_up():
    """Two examples, one kinked unit each, moving in opposite directions: the Minkowski sum
    contains every convention (slopes s and 1 of a leaky relu per example)."""
    s, h = 0.1, 1e-3
    hs = np.array([[h], [h / 2], [h / 4]])
    # example 1: f1(t) = g(t) (right slope 1, left s); example 2: f2(t) = -g(-t)
    g = lambda t: np.where(t > 0, t, s * t)  # noqa: E731
    ex_plus = np.stack([[[g(x), -g(-x)]] for x in hs[:, 0]])          # (3, 1, 2)
    ex_minus = np.stack([[[-g(-x), g(x)]] for x in hs[:, 0]])
    dplus, dminus = ex_plus.sum(axis=2), ex_minus.sum(axis=2)
    lo, hi, err, unv = example_intervals(dplus, dminus, ex_plus, ex_minus,
                                         np.array([[1, 1]]), hs, hs, np.array([1e-16]))
    assert lo[0] == pytest.approx(2 * s) and hi[0] == pytest.approx(2.0) and not unv[0]
    # the true derivative 1 + s and every per-unit convention lie inside
    for a in (2 * s, 1 + s, 2.0):
        assert lo[0] - 1e-9 <= a <= hi[0] + 1e-9


def test_combine_without_examples_treats_the_sum_as_one_example():
    h = np.array([[1e-3], [5e-4], [2.5e-4]])
    f = lambda t: abs(t)  # noqa: E731
    dplus = np.array([[f(x)] for x in h[:, 0]])
    dminus = np.array([[-f(-x)] for x in h[:, 0]])
    numeric, error, step, lower, upper, unv = combine(dplus, dminus, h, h, 1e-16,
                                                      np.array([True]), TOL, 2)
    assert lower[0] == pytest.approx(-1) and upper[0] == pytest.approx(1) and not unv[0]
    with pytest.raises(ValueError, match="need the steps h, h/2 and h/4"):
        combine(dplus[:2], dminus[:2], h[:2], h[:2], 1e-16, np.array([True]), TOL, 2)


def test_examples_that_cross_no_kink_add_nothing_to_the_interval():
    """A third example that crossed no kinked unit belongs to the smooth part, estimated by
    the central difference D(h) with error 4/3 |D(h) - D(h/2)|; the interval of the two
    kinked examples is added to it unchanged."""
    s, h = 0.1, 1e-3
    hs = np.array([[h], [h / 2], [h / 4]])
    g = lambda t: np.where(t > 0, t, s * t)  # noqa: E731
    f3 = lambda t: 3.0 * t + 50.0 * t ** 3  # noqa: E731   smooth: D(h) = 3 + 50 h^2
    ex_plus = np.stack([[[g(x), -g(-x), f3(x)]] for x in hs[:, 0]])
    ex_minus = np.stack([[[-g(-x), g(x), -f3(-x)]] for x in hs[:, 0]])
    dplus, dminus = ex_plus.sum(axis=2), ex_minus.sum(axis=2)
    lo, hi, err, unv = example_intervals(dplus, dminus, ex_plus, ex_minus,
                                         np.array([[1, 1, 0]]), hs, hs, np.array([1e-16]))
    D0 = 3.0 + 50.0 * h ** 2
    assert lo[0] == pytest.approx(D0 + 2 * s, abs=1e-12)
    assert hi[0] == pytest.approx(D0 + 2.0, abs=1e-12)
    # 4/3 |D(h) - D(h/2)| = 4/3 * 50 * (3/4) h^2 = 50 h^2, plus 20 x the rounding
    assert err[0] == pytest.approx(50.0 * h ** 2 + 20e-16, rel=1e-6)
    assert not unv[0]
    many = example_intervals(dplus, dminus, ex_plus, ex_minus, np.array([[2, 0, 0]]), hs, hs,
                             np.array([1e-16]))
    assert many[3][0]                               # two kinked units in one example


def test_curved_one_sided_slopes_are_extrapolated_with_their_spread():
    """One example, relu(t) + c t^3 at 0: right slopes 1 + c h_s^2, left slopes c h_s^2.
    Per side the extrapolations E0 = 2D(h/2) - D(h), E1 = 2D(h/4) - D(h/2) and the spread
    |E0 - E1|/3 = c h^2/8 give the hull [-c h^2/4, 1 + c h^2]."""
    h, c = 2.0 ** -7, 100.0
    hs = np.array([[h], [h / 2], [h / 4]])
    f = lambda t: np.maximum(t, 0.0) + c * t ** 3  # noqa: E731
    dplus = np.array([[f(x) - f(0.0)] for x in hs[:, 0]])
    dminus = np.array([[f(0.0) - f(-x)] for x in hs[:, 0]])
    lo, hi, err, unv = example_intervals(dplus, dminus, dplus[:, :, None], dminus[:, :, None],
                                         np.array([[1]]), hs, hs, np.array([0.0]))
    q = c * h ** 2
    assert lo[0] == pytest.approx(-q / 4, rel=1e-9)
    assert hi[0] == pytest.approx(1 + q, rel=1e-9)
    assert err[0] == 0.0 and not unv[0]


def test_concave_one_sided_slopes_keep_the_raw_extremes():
    """relu(t) - c t^3 at 0: right slopes 1 - c h_s^2 (below their extrapolation 1 + c h^2/8),
    left slopes -c h_s^2: the hull keeps the lowest raw slope and the extrapolation plus its
    spread, [-c h^2, 1 + c h^2/4]."""
    h, c = 2.0 ** -7, 100.0
    hs = np.array([[h], [h / 2], [h / 4]])
    f = lambda t: np.maximum(t, 0.0) - c * t ** 3  # noqa: E731
    dplus = np.array([[f(x) - f(0.0)] for x in hs[:, 0]])
    dminus = np.array([[f(0.0) - f(-x)] for x in hs[:, 0]])
    lo, hi, _, _ = example_intervals(dplus, dminus, dplus[:, :, None], dminus[:, :, None],
                                     np.array([[1]]), hs, hs, np.array([0.0]))
    q = c * h ** 2
    assert lo[0] == pytest.approx(-q, rel=1e-9)
    assert hi[0] == pytest.approx(1 + q / 4, rel=1e-9)
