"""The sensitivity statements of every mode hold (errors planted just above the stated bound
are caught, with the stated probability), and bisection finds a planted element in
O(log P) evaluations."""

import math

import numpy as np
import pytest
from gradref.checks.api import check_gradients, check_network
from gradref.checks.directional import direction, directions
from gradref.checks.finite_diff import judge
from gradref.checks.network_fd import NetworkFD
from gradref.checks.oracle import oracle_gradients
from gradref.checks.tolerances import fd_tolerances, sensitivity
from gradref.reference import Network
from hypothesis import given
from hypothesis import strategies as st

TOL = fd_tolerances()


def small_case(seed: int, sizes=(4, 6, 5, 3), acts="tanh,gelu,softmax", loss="cross_entropy"):
    net = Network(list(sizes), acts, loss, l2=0.1)
    rng = np.random.default_rng(seed)
    params = net.init_params("xavier", seed=rng)
    params = {k: v + (0.1 * rng.standard_normal(v.shape) if k[0] == "b" else 0)
              for k, v in params.items()}
    m = 5
    X = rng.standard_normal((sizes[0], m))
    Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)]
    _, grads = net.gradients(params, X, Y)
    return net, params, X, Y, {k: v for k, v in grads.items() if k[1] in "Wb"}


def planted(grads: dict, key: str, index: tuple, delta: float):
    g = {k: v.copy() for k, v in grads.items()}
    g[key][index] += delta
    return lambda params, X, Y: {k: v.copy() for k, v in g.items()}


# --------------------------------------------------------------------------- full
@given(st.integers(0, 2**32 - 1))
def test_full_mode_catches_every_error_just_above_twice_its_tolerance(seed):
    net, params, X, Y, grads = small_case(seed % 1000)
    fd = NetworkFD(net, params, X, Y)
    expected = oracle_gradients(net, params, X, Y)
    sign = np.random.default_rng(seed).choice([-1.0, 1.0])
    for k in params:
        est = fd.parameter(k)
        a = grads[f"d{k}"].ravel()
        tol = judge(a, est, TOL).tol
        s = sensitivity("full", tol)
        assert s.threshold == pytest.approx(2 * np.max(tol), rel=1e-12, abs=0) and s.probability == 1.0
        # the premise: the finite difference is within its tolerance of the truth
        assert np.all(np.abs(est.numeric - expected[f"d{k}"].ravel()) <= tol)
        # every element, planted independently just above 2 tol_i, is caught
        assert judge(a + sign * 2.02 * tol, est, TOL).failed.all()


def test_full_mode_statement_through_the_api():
    net, params, X, Y, grads = small_case(3)
    res = check_network(lambda p, x, y: grads, net, params, X, Y, oracle="fd")
    assert res.passed
    thr = res.sensitivity[0].threshold
    for key, idx in (("dW1", (2, 1)), ("db2", (4, 0)), ("dW3", (0, 4))):
        bad = check_network(planted(grads, key, idx, 1.01 * thr), net, params, X, Y,
                            oracle="fd")
        assert not bad.passed and bad.array(key, "fd").failed == 1
        assert bad.array(key, "fd").worst[0].index == idx


# --------------------------------------------------------------------------- sampled
def test_sampled_mode_catches_exactly_when_the_element_is_sampled():
    """An error above the bound is caught iff its element is sampled, which happens with the
    stated probability k_a / P_a (checked over 120 seeds, within 4 binomial sigmas)."""
    net, params, X, Y, grads = small_case(5)
    target = planted(grads, "dW2", (3, 2), 1e-4)
    caught = 0
    seeds = range(120)
    for seed in seeds:
        res = check_network(target, net, params, X, Y, mode="sampled", samples=20,
                            oracle="fd", seed=seed)
        checked = res.array("dW2", "fd").checked
        caught += not res.passed
    p = checked / params["W2"].size
    stated = [s for s in res.sensitivity if s.mode == "sampled"][0]
    assert stated.probability <= p
    n = len(seeds)
    assert abs(caught - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1


def test_sampled_allocation_is_stratified():
    net, params, X, Y, grads = small_case(6)
    res = check_network(lambda p, x, y: grads, net, params, X, Y, mode="sampled", samples=30,
                        oracle="fd")
    counts = {a.name: a.checked for a in res.arrays}
    P = net.n_params
    for k, v in params.items():
        assert counts[f"d{k}"] == min(v.size, max(1, round(30 * v.size / P)))


# --------------------------------------------------------------------------- directional
@pytest.mark.parametrize("seed", range(6))
def test_rademacher_catches_any_element_above_twice_the_smallest_draw_tolerance(seed):
    net, params, X, Y, grads = small_case(10 + seed)
    clean = check_network(lambda p, x, y: grads, net, params, X, Y, mode="directional",
                          draws=3, oracle="fd", seed=seed)
    assert clean.passed
    s = clean.sensitivity[0]
    assert s.probability == 1.0
    assert s.threshold == pytest.approx(2 * min(d.tol for d in clean.draws), rel=1e-12, abs=0)
    rng = np.random.default_rng(seed)
    key = ["dW1", "db1", "dW2", "dW3", "db3"][seed % 5]
    idx = tuple(int(rng.integers(n)) for n in grads[key].shape)
    sign = rng.choice([-1.0, 1.0])
    res = check_network(planted(grads, key, idx, sign * 1.02 * s.threshold), net, params, X,
                        Y, mode="directional", draws=3, oracle="fd", seed=seed)
    assert not res.passed
    assert any(d.failed for d in res.draws)


def test_gaussian_statement_holds_with_its_probability():
    """Planted just above the 0.99-confidence bound of 3 Gaussian draws: caught in at least
    95 of 100 seeds (expected 99 or more)."""
    net, params, X, Y, grads = small_case(20, sizes=(3, 4, 2), acts="tanh,sigmoid",
                                          loss="bce")
    Y = (Y > 0).astype(float)
    _, g = net.gradients(params, X, Y)
    grads = {k: v for k, v in g.items() if k[1] in "Wb"}
    caught = 0
    for seed in range(100):
        clean = check_network(lambda p, x, y: grads, net, params, X, Y, mode="directional",
                              draws=3, direction_kind="gaussian", oracle="fd", seed=seed,
                              localise=False)
        assert clean.passed, clean.to_text()
        thr = clean.sensitivity[0].threshold
        assert clean.sensitivity[0].probability == 0.99
        res = check_network(planted(grads, "dW1", (1, 2), 1.01 * thr), net, params, X, Y,
                            mode="directional", draws=3, direction_kind="gaussian",
                            oracle="fd", seed=seed, localise=False)
        caught += not res.passed
    assert caught >= 95


def test_sensitivity_bad_arguments():
    with pytest.raises(ValueError, match="mode must be"):
        sensitivity("exhaustive", [1.0])
    with pytest.raises(ValueError, match="needs checked"):
        sensitivity("sampled", [1.0])
    with pytest.raises(ValueError, match="direction must be"):
        sensitivity("directional", [1.0], direction="uniform")
    with pytest.raises(ValueError, match="confidence"):
        sensitivity("directional", [1.0], direction="gaussian", confidence=1.0)
    assert sensitivity("full", []).probability == 0.0


# --------------------------------------------------------------------------- bisection
@pytest.mark.parametrize("seed", range(5))
def test_bisection_finds_the_planted_element_in_log_p_evaluations(seed):
    net, params, X, Y, grads = small_case(30 + seed, sizes=(7, 9, 8, 3))
    rng = np.random.default_rng(seed)
    keys = list(grads)
    key = keys[int(rng.integers(len(keys)))]
    idx = tuple(int(rng.integers(n)) for n in grads[key].shape)
    res = check_network(planted(grads, key, idx, 1e-3), net, params, X, Y,
                        mode="directional", draws=2, oracle="fd", seed=seed)
    assert res.localisations, res.to_text()
    P = net.n_params
    for loc in res.localisations:
        assert (f"d{loc.name}", loc.index) == (key, idx)
        assert loc.failed
        assert loc.evaluations <= 2 * (math.ceil(math.log2(P)) + 2)
        assert loc.path[0].startswith("W1..") and len(loc.path) - 1 == loc.evaluations // 2


def test_bisection_with_two_errors_finds_one_of_them():
    net, params, X, Y, grads = small_case(40)
    g = {k: v.copy() for k, v in grads.items()}
    g["dW1"][0, 0] += 1e-3
    g["db3"][1, 0] -= 2e-3
    res = check_network(lambda p, x, y: g, net, params, X, Y, mode="directional", draws=3,
                        oracle="fd", seed=1)
    found = {(x.name, x.index) for x in res.localisations}
    assert found and found <= {("W1", (0, 0)), ("b3", (1, 0))}


def test_directions_are_seeded_and_distributed():
    rng = np.random.default_rng(0)
    v = direction(rng, 10_000, "rademacher")
    assert set(np.unique(v)) == {-1.0, 1.0} and abs(v.mean()) < 0.05
    g = direction(np.random.default_rng(0), 10_000, "gaussian")
    assert abs(g.std() - 1) < 0.05
    assert np.array_equal(direction(np.random.default_rng(3), 5, "gaussian"),
                          direction(np.random.default_rng(3), 5, "gaussian"))
    with pytest.raises(ValueError, match="direction must be one of"):
        direction(rng, 3, "sobol")


# --------------------------------------------------------------------------- spanning directions
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 16])
@pytest.mark.parametrize("count", [1, 2, 3, 4, 8])
def test_rademacher_directions_span_and_never_repeat_up_to_sign(size, count):
    for seed in range(5):
        rows = directions(np.random.default_rng(seed), size, count, "rademacher")
        assert rows.shape == (count, size) and set(np.unique(rows)) <= {-1.0, 1.0}
        # a basis of R^size when size <= count, else count independent directions
        assert np.linalg.matrix_rank(rows) == min(size, count)
        up_to_sign = {tuple(r * r[0]) for r in rows}
        assert len(up_to_sign) == min(count, 2 ** (size - 1))    # all there are, for size 1-3


def test_large_sizes_draw_the_same_directions_as_before():
    # nothing to reject: the sequence of one-at-a-time draws, so large checks are unchanged
    rows = directions(np.random.default_rng(7), 300, 4, "rademacher")
    rng = np.random.default_rng(7)
    assert np.array_equal(rows, np.stack([direction(rng, 300, "rademacher") for _ in range(4)]))
    g = directions(np.random.default_rng(7), 3, 4, "gaussian")
    rng = np.random.default_rng(7)
    assert np.array_equal(g, np.stack([direction(rng, 3, "gaussian") for _ in range(4)]))
    assert directions(np.random.default_rng(0), 5, 0, "rademacher").shape == (0, 5)
    with pytest.raises(ValueError, match="direction must be one of"):
        directions(np.random.default_rng(0), 3, 2, "sobol")


@pytest.mark.parametrize("name", ["var", "std", "difference"])
def test_a_small_error_in_a_gradient_that_sums_to_zero_is_caught_with_every_seed(name):
    # before: the default seed's four directions were all +-(1, 1, 1), blind to any error
    # that sums to zero, such as var's gradient scaled by 1.001
    f, grad = {
        "var": (np.var, lambda x: 2 * (x - x.mean()) / x.size),
        "std": (np.std, lambda x: (x - x.mean()) / (x.size * np.std(x))),
        "difference": (lambda x: x[0] - x[1], lambda x: np.array([1.0, -1.0])),
    }[name]
    x = np.array([0.3, -1.2, 2.1]) if name != "difference" else np.array([0.4, 1.7])
    assert abs(np.sum(grad(x))) < 1e-12
    for seed in range(40):
        right = check_gradients(f, grad, x, mode="directional", seed=seed)
        assert right.passed, (seed, right)
        wrong = check_gradients(f, lambda z: 1.001 * grad(z), x, mode="directional", seed=seed)
        assert not wrong.passed, (seed, wrong)
