"""LayeredFD's estimates restated element by element, with oracles of its own.

* Smooth elements: the central differences restated from scratch on the autograd oracle's cost
  (``oracle._cost_fn``, an independent rendition of the network in ``autograd.numpy``, whose
  ``pert`` argument is the additive perturbation of an intermediate), at the steps
  h·max(1, |θ|)/2^s, combined as finite_diff's docstring states: order 2 takes D(h) with error
  (4/3)|D(h) − D(h/2)|, order 4 Richardson's (4D(h/2) − D(h))/3 with error (16/15)|R0 − R1|,
  each plus the rounding term ``rounding``·scale·cost_noise/h. Large steps (given through
  ``tolerances``) make the truncation part dominate, so every step of the schedule shows.
* The rounding allowance: on plain networks it is NetworkFD's, computed there by its own code.
* Kinked elements: a relu unit placed 1e-9 from its kink for one example, the one-sided slopes
  the estimate brackets are autograd's gradients on either side of the kink.
* The bookkeeping: evaluations are two per level (the h/4 level only at a kink), and the
  counters accumulate over calls.
"""

import time

import numpy as np
import pytest
from gradref.checks.layered_fd import LayeredFD
from gradref.checks.network_fd import NetworkFD
from gradref.checks.oracle import _cost_fn, oracle_gradients
from gradref.checks.tolerances import fd_tolerances
from gradref.reference import Network

#: Steps large enough that the truncation error dominates the rounding error.
BIG = dict(step=2e-2, step_richardson=1e-1)
#: How close the kinked unit sits to its kink (far below every step: the slopes the estimate
#: measures are those on either side of its point, off by about jump·TINY/h).
TINY = 1e-12


def _layered(rng, normalization=None, dropout=None, l2=0.0, m=5):
    net = Network([3, 4, 3, 1], "tanh,softplus,sigmoid", "bce", normalization=normalization,
                  dropout=dropout, l2=l2)
    params = net.init_params(seed=3)
    for k in params:   # γ, β away from 1, 0; b away from 0: max(1, |θ|) takes both branches
        params[k] = params[k] + 0.4 * rng.standard_normal(params[k].shape)
    params["b1"][0, 0] = 3.5
    X = rng.standard_normal((3, m))
    Y = (rng.random((1, m)) < 0.5) * 1.0
    if net.mask_shapes(m):
        net = net.with_masks(net.draw_masks(m, rng))
    return net, params, X, Y


def _restated(net, params, X, Y, name, tol, order, cost_noise):
    """(numeric, error, step, rounding term) of every element of ``name`` restated on the oracle's cost."""
    cost, zeros = _cost_fn(net, X, Y)
    m = X.shape[1]
    is_param = name in params
    base = params[name] if is_param else zeros[name]
    values = base if is_param else net.forward(params, X)[1][name]
    scale = 1.0 if is_param else float(m)
    s0 = tol["step"] if order == 2 else tol["step_richardson"]
    levels = 2 if order == 2 else 3

    def J(i, delta):
        p = {k: v.copy() for k, v in params.items()}
        q = {k: v.copy() for k, v in zeros.items()}
        arr = p[name] if is_param else q[name]
        old = arr.flat[i]
        arr.flat[i] = old + delta
        return float(cost(p, q)), arr.flat[i] - old

    out = []
    for i in range(values.size):
        h = s0 * max(1.0, abs(float(values.flat[i])))
        D, hs = [], []
        for s in range(levels):
            (jp, hp), (jm, hm) = J(i, h / 2 ** s), J(i, -h / 2 ** s)
            D.append(scale * (jp - jm) / (hp - hm))
            hs.append(0.5 * (hp - hm))
        rounding = tol["rounding"] * scale * cost_noise / hs[0]
        if order == 2:
            numeric, error = D[0], 4.0 / 3.0 * abs(D[0] - D[1]) + rounding
        else:
            R0, R1 = (4 * D[1] - D[0]) / 3, (4 * D[2] - D[1]) / 3
            numeric, error = R0, 16.0 / 15.0 * abs(R0 - R1) + 3 * rounding
        out.append((numeric, error, hs[0], rounding))
    return np.array(out).T


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("normalization,dropout", [("batchnorm", [0.6, None]),
                                                   ("layernorm", None), (None, 0.7)])
def test_estimates_are_the_restated_central_differences(rng, normalization, dropout, order):
    net, params, X, Y = _layered(rng, normalization, dropout, l2=0.3)
    tol = fd_tolerances(np.float64, overrides=BIG)
    fd = LayeredFD(net, params, X, Y, order=order, tolerances=tol)
    names = ["W1", "W3", "Z1", "A1"] + (["gamma1", "beta2"] if normalization else []) + (
        [] if normalization == "batchnorm" else ["b1"])   # J does not depend on b1 there
    for name in names:
        est = fd.parameter(name) if name in params else fd.intermediate(name)
        numeric, error, step, rounding = _restated(net, params, X, Y, name, tol, order, fd.cost_noise)
        assert not est.kink.any(), name
        assert np.mean(error > 100 * rounding) > 0.5, name   # truncation dominates (not: dropped)
        np.testing.assert_allclose(est.numeric, numeric, rtol=1e-9, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(est.error, error, rtol=1e-4, atol=1e-13, err_msg=name)
        np.testing.assert_allclose(est.step, step, rtol=1e-12, err_msg=name)
        assert est.order == order


def test_default_steps_are_accurate(rng):
    """At the default steps the estimate is within its error of autograd's gradient, and the
    error is small (a one-sided or mis-scaled difference is off by far more)."""
    net, params, X, Y = _layered(rng, "batchnorm", [0.7, None])
    fd = LayeredFD(net, params, X, Y)
    exact = oracle_gradients(net, params, X, Y)
    for name in ["W1", "b2", "gamma1", "beta2", "Z1", "A2", "Z3"]:
        est = fd.parameter(name) if name in params else fd.intermediate(name)
        want = exact[f"d{name}"].reshape(-1)
        assert np.all(np.abs(est.numeric - want) <= est.error + 1e-13), name
        assert np.all(est.error <= 1e-8 * (1.0 + np.abs(want))), name


@pytest.mark.parametrize("gains", ["autograd", None])
def test_rounding_allowance_is_network_fds_on_plain_networks(rng, gains):
    net, params, X, Y = _layered(rng, l2=0.7)
    a, b = LayeredFD(net, params, X, Y, gains=gains), NetworkFD(net, params, X, Y, gains=gains)
    np.testing.assert_allclose(a.example_noise, b.example_noise, rtol=1e-13)
    np.testing.assert_allclose(a.cost_noise, b.cost_noise, rtol=1e-13)
    assert a.cost_noise > np.mean(a.example_noise) > 0   # the L2 term adds to it


def test_counters_accumulate(rng):
    net, params, X, Y = _layered(rng, "layernorm")
    for order, levels in ((2, 2), (4, 3)):
        fd = LayeredFD(net, params, X, Y, order=order)
        assert (fd.evaluations, fd.seconds) == (0, 0.0)
        e1 = fd.parameter("W2", [0, 3, 5])
        e2 = fd.intermediate("Z2", [1])
        assert (e1.evaluations, e2.evaluations) == (2 * levels * 3, 2 * levels)
        assert fd.evaluations == e1.evaluations + e2.evaluations
        assert e1.seconds > 0 and e2.seconds > 0
        assert fd.seconds == pytest.approx(e1.seconds + e2.seconds, rel=1e-12)
        np.testing.assert_array_equal(e1.index, [0, 3, 5])


# ---------------------------------------------------------------------------- kinks
def _kinked(rng, normalization):
    """Two relu layers; unit 1 of layer 1 sits TINY above its kink for example 0 only."""
    m = 6
    net = Network([3, 4, 3, 1], "relu,relu,sigmoid", "bce", normalization=normalization)
    params = net.init_params(seed=5)
    params["b2"] = params["b2"] + 0.5
    X = rng.standard_normal((3, m))
    Y = (rng.random((1, m)) < 0.5) * 1.0
    key = net.activation_input(1)
    shift = "beta1" if normalization else "b1"
    for _ in range(2):   # batch norm: the shift of beta moves every example alike
        Z = net.forward(params, X)[1][key]
        params[shift][1, 0] += TINY - Z[1, 0]
    Z = net.forward(params, X)[1][key]
    assert abs(Z[1, 0] - TINY) < 1e-14 and np.all(np.abs(Z[1, 1:]) > 1e-3)
    assert np.all(np.abs(net.forward(params, X)[1]["Z2"]) > 1e-3)
    return net, params, X, Y, shift


def _sides(net, params, X, Y, shift, key):
    """autograd's gradient of ``key`` just below and just above the kink."""
    out = []
    for d in (-2 * TINY, 0.0):
        p = {k: v.copy() for k, v in params.items()}
        p[shift][1, 0] += d
        out.append(oracle_gradients(net, p, X, Y)[key])
    return out


@pytest.mark.parametrize("order", [2, 4])
@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_a_crossed_kink_gives_the_one_sided_slopes(rng, normalization, order):
    net, params, X, Y, shift = _kinked(rng, normalization)
    fd = LayeredFD(net, params, X, Y, order=order)
    m = X.shape[1]
    for name, index in ((shift, 1), ("Z1", 1 * m + 0)):
        est = fd.parameter(name) if name in params else fd.intermediate(name)
        below, above = (g.reshape(-1) for g in _sides(net, params, X, Y, shift, f"d{name}"))
        assert abs(below[index] - above[index]) > 1e-3   # a real kink
        want = np.zeros(est.numeric.size, bool)
        want[index] = True
        if name == "Z1" and normalization:   # batch norm: Z1[1, :] all move Ztilde1[1, 0]
            want[1 * m:2 * m] = est.kink[1 * m:2 * m]
            assert est.kink[index]
        np.testing.assert_array_equal(est.kink, want, err_msg=name)
        lo, hi = sorted((below[index], above[index]))
        assert not est.unverified[index]
        err = est.error[index] + est.step[index]   # + the one-sided slopes' O(h)
        assert est.error[index] < 1e-4 * (hi - lo), name
        assert abs(est.lower[index] - lo) <= err and abs(est.upper[index] - hi) <= err, name
        assert abs(est.numeric[index] - 0.5 * (lo + hi)) <= err, name
        smooth = ~est.kink
        assert np.all(np.abs(est.numeric[smooth] - above[smooth])
                      <= est.error[smooth] + 1e-12), name
        levels = 2 if order == 2 else 3
        assert est.evaluations == 2 * levels * est.numeric.size + (
            2 * int(est.kink.sum()) if order == 2 else 0)


def test_bad_indices_and_names_are_refused(rng):
    net, params, X, Y = _layered(rng, "layernorm")
    fd = LayeredFD(net, params, X, Y)
    for bad in ([-1, 2], [0, 12], [12, 0]):   # W1 has 12 entries
        with pytest.raises(ValueError, match=r"indices must lie in \[0, 12\)"):
            fd.parameter("W1", bad)
    with pytest.raises(ValueError, match="name must be one of Z1, Z2, Z3, A0, A1, A2, got 'Z4'"):
        fd.intermediate("Z4")
    with pytest.raises(ValueError, match="got 'A3'"):
        fd.intermediate("A3")


def test_seconds_are_the_time_spent(rng):
    net, params, X, Y = _layered(rng, "batchnorm")
    fd = LayeredFD(net, params, X, Y)
    t0 = time.perf_counter()
    est = fd.parameter("gamma1")
    spent = time.perf_counter() - t0
    assert 0 < est.seconds <= spent and fd.seconds == est.seconds
