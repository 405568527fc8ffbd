"""The whole network: backward against autograd, the batch equations against per-example runs.

Architectures: depth 1-5, widths 1-8, batch 1-16, every activation in hidden layers, every valid
(output activation, loss) pairing, with and without L2 (``gradref.checks.strategies``).
"""

import numpy as np
import pytest
from gradref.checks.oracle import oracle_cost, oracle_gradients
from gradref.checks.strategies import architectures, network_cases, network_inputs, valid_pairings
from gradref.checks.tolerances import NETWORK_ATOL, NETWORK_RTOL
from gradref.reference import INITIALIZERS, Network, init_params
from hypothesis import assume, given, note
from hypothesis import strategies as st


def assert_matches(actual: dict, expected: dict, keys) -> None:
    for key in keys:
        a, e = actual[key], expected[key]
        assert a.shape == e.shape, f"{key}: shape {a.shape} != {e.shape}"
        err = float(np.max(np.abs(a - e)))
        bound = NETWORK_RTOL * float(np.max(np.abs(e))) + NETWORK_ATOL
        assert err <= bound, f"{key}: max abs error {err:.3g} > {bound:.3g}"


def all_keys(net):
    keys = [f"d{p}{l}" for l in range(1, net.L + 1) for p in ("W", "b", "Z")]
    return keys + [f"dA{l}" for l in range(net.L)]


@pytest.mark.parametrize("l2", [(0.0,), (0.1, 0.7, 5.0)], ids=["no-l2", "l2"])
@given(data=st.data())
def test_backward_matches_autograd(l2, data):
    """backward and the cost against autograd, without and with the L2 term."""
    net, params, X, Y = data.draw(network_cases(l2=l2))
    note(repr(net))
    J, grads = net.gradients(params, X, Y)
    assert_matches(grads, oracle_gradients(net, params, X, Y), all_keys(net))
    assert J == pytest.approx(oracle_cost(net, params, X, Y), rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("output, loss", valid_pairings(), ids=lambda v: str(v))
@given(data=st.data())
def test_every_pairing_matches_autograd(output, loss, data):
    """Each (output activation, loss) pairing on its own, so none can be skipped by chance."""
    net = data.draw(architectures(max_depth=3, pairings=[(output, loss)]))
    params, X, Y = data.draw(network_inputs(net))
    _, grads = net.gradients(params, X, Y)
    assert_matches(grads, oracle_gradients(net, params, X, Y), all_keys(net))


@given(network_cases(l2=(0.0,), min_batch=2, max_batch=8))
def test_batch_equations_against_per_example_runs(case):
    """dW = mean_i dW(x_i), db = mean_i db(x_i), dZ[:, i] = dZ(x_i), from m runs with m = 1."""
    net, params, X, Y = case
    _, batch = net.gradients(params, X, Y)
    m = X.shape[1]
    singles = [net.gradients(params, X[:, i:i + 1], Y[:, i:i + 1])[1] for i in range(m)]
    mean = {k: np.mean([s[k] for s in singles], axis=0) for k in singles[0]
            if k[:2] in ("dW", "db")}
    assert_matches(batch, mean, list(mean))
    for l in range(1, net.L + 1):
        stacked = {f"dZ{l}": np.hstack([s[f"dZ{l}"] for s in singles]),
                   f"dA{l - 1}": np.hstack([s[f"dA{l - 1}"] for s in singles])}
        assert_matches(batch, stacked, list(stacked))


@given(network_cases())
def test_dA_prev_is_W_transpose_times_oracle_dZ(case):
    """dA_{l-1} = W_l^T dZ_l, with dZ_l taken from autograd, not from the code under test."""
    net, params, X, Y = case
    _, grads = net.gradients(params, X, Y)
    oracle = oracle_gradients(net, params, X, Y)
    for l in range(1, net.L + 1):
        expected = {f"dA{l - 1}": params[f"W{l}"].T @ oracle[f"dZ{l}"]}
        assert_matches(grads, expected, list(expected))


@given(network_cases(max_batch=6), st.floats(1e-3, 1e-1))
def test_gradient_step_decreases_cost(case, lr):
    """A small step against the gradient lowers J (first-order: J - lr*|g|^2 + O(lr^2))."""
    net, params, X, Y = case
    J, grads = net.gradients(params, X, Y)
    true = oracle_gradients(net, params, X, Y)
    # the oracle, not the code under test, says whether there is a slope to follow: a
    # backward that returns zeros takes no step and fails below
    assume(sum(float(np.sum(true[k] ** 2)) for k in true if k[:2] in ("dW", "db")) > 1e-12)
    sq = sum(float(np.sum(grads[k] ** 2)) for k in grads if k[:2] in ("dW", "db"))
    eta = min(lr, 1e-3 / np.sqrt(max(sq, 1e-300)))
    new = {k: v - eta * grads["d" + k] for k, v in params.items()}
    assert net.cost(new, X, Y) < J


def test_forward_cache_holds_every_layer(rng):
    net = Network([3, 4, 2], "relu,sigmoid", "bce")
    params = net.init_params(seed=1)
    X = rng.standard_normal((3, 5))
    AL, cache = net.forward(params, X)
    assert sorted(cache) == ["A0", "A1", "A2", "Z1", "Z2"]
    assert cache["A0"] is not None and AL is cache["A2"]
    # independent restatement of the first layer in plain NumPy
    assert np.allclose(cache["Z1"], params["W1"] @ X + params["b1"], rtol=0, atol=1e-15)
    assert np.allclose(cache["A1"], np.maximum(cache["Z1"], 0), rtol=0, atol=0)


def test_inputs_are_not_modified(rng):
    net = Network([3, 4, 2], "tanh,softmax", "cross_entropy", l2=0.3)
    params = net.init_params(seed=2)
    X, Y = rng.standard_normal((3, 6)), np.eye(2)[:, rng.integers(0, 2, 6)]
    before = ({k: v.copy() for k, v in params.items()}, X.copy(), Y.copy())
    net.gradients(params, X, Y)
    assert all(np.array_equal(params[k], before[0][k]) for k in params)
    assert np.array_equal(X, before[1]) and np.array_equal(Y, before[2])


def test_integer_inputs_are_accepted_as_float64():
    net = Network([2, 1], ["sigmoid"], "bce")
    J, grads = net.gradients({"W1": [[1, -1]], "b1": [[0]]}, [[1, 2], [3, 4]], [[1, 0]])
    assert grads["dW1"].dtype == np.float64
    assert J == pytest.approx(np.log(1 + np.exp(2)) / 2 + np.log(1 + np.exp(-2)) / 2)


@pytest.mark.parametrize("scheme", list(INITIALIZERS))
def test_init_schemes_shapes_seeding_and_scale(scheme):
    sizes = [400, 300, 2]
    a, b = init_params(sizes, scheme, seed=7), init_params(sizes, scheme, seed=7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], init_params(sizes, scheme, seed=8)["W1"])
    assert a["W1"].shape == (300, 400) and a["b1"].shape == (300, 1) and not a["b1"].any()
    expected = {"he": np.sqrt(2 / 400), "xavier": np.sqrt(2 / 700), "glorot": np.sqrt(2 / 700),
                "small": 0.01}[scheme]
    assert np.std(a["W1"]) == pytest.approx(expected, rel=0.02)


def test_describe_and_repr_round_trip():
    net = Network([2, 3, 1], ["leaky_relu(0.05)", "sigmoid"], "bce", l2=0.5)
    d = net.describe()
    assert d == {"layer_sizes": [2, 3, 1], "activations": ["leaky_relu(0.05)", "sigmoid"],
                 "loss": "bce", "l2": 0.5}
    again = Network(d["layer_sizes"], d["activations"], d["loss"], d["l2"])
    assert again.activations == net.activations and again.n_params == 3 * 3 + 4


@pytest.mark.parametrize("key", ["W1", "b1", "W2"])
def test_one_non_finite_parameter_is_refused(key):
    """A float64 array of the right shape with a single NaN (or inf) is refused, naming it;
    the fast path for well-formed arrays must not let it through."""
    net = Network([2, 3, 1], "tanh,sigmoid", "bce")
    params = net.init_params(seed=0)
    X, Y = np.ones((2, 4)), np.array([[0.0, 1.0, 1.0, 0.0]])
    for bad in (np.nan, np.inf):
        p = {k: v.copy() for k, v in params.items()}
        p[key][0, 0] = bad
        with pytest.raises(ValueError, match=rf"params\['{key}'\] contains 1 non-finite"):
            net.forward(p, X)
        with pytest.raises(ValueError, match=rf"params\['{key}'\]"):
            net.gradients(p, X, Y)
