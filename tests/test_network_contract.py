"""Network's public contract where the property tests do not look: ``backward`` on a cache (the
keys it returns, every cached array checked), ``gradients(intermediates=False)``, the parameter
keys and the ``activations`` argument. The oracle is autograd (``oracle_gradients``)."""

import numpy as np
import pytest
from gradref.checks.oracle import oracle_gradients
from gradref.checks.tolerances import NETWORK_ATOL, NETWORK_RTOL
from gradref.reference import Network

NET = Network([3, 4, 2, 1], ["tanh", "relu", "sigmoid"], "bce", l2=0.1)
RNG = np.random.default_rng(7)
PARAMS = NET.init_params("xavier", seed=3)
X = RNG.standard_normal((3, 5))
Y = (RNG.random((1, 5)) > 0.5).astype(float)
WEIGHTS = {f"{p}{l}" for l in (1, 2, 3) for p in ("dW", "db")}


def _close(a, e):
    return np.allclose(a, e, rtol=NETWORK_RTOL, atol=NETWORK_ATOL * max(1.0, np.max(np.abs(e))))


def test_backward_on_a_cache_returns_every_documented_key_right():
    _, cache = NET.forward(PARAMS, X)
    grads = NET.backward(PARAMS, cache, Y)
    assert set(grads) == WEIGHTS | {"dZ1", "dZ2", "dZ3", "dA0", "dA1", "dA2"}
    truth = oracle_gradients(NET, PARAMS, X, Y)
    for key in WEIGHTS:
        assert _close(grads[key], truth[key]), key


def test_without_intermediates_only_the_parameter_gradients_come_back_all_of_them():
    J, grads = NET.gradients(PARAMS, X, Y, intermediates=False)
    assert set(grads) == WEIGHTS
    _, full = NET.gradients(PARAMS, X, Y)
    for key in WEIGHTS:
        assert np.array_equal(grads[key], full[key]), key


@pytest.mark.parametrize("key", ["Z1", "A1", "Z3", "A3"])
def test_every_cached_array_is_checked(key):
    _, cache = NET.forward(PARAMS, X)
    cache = dict(cache)
    cache[key] = cache[key][:, :-1]
    with pytest.raises(ValueError, match=rf"cache\['{key}'\] has shape"):
        NET.backward(PARAMS, cache, Y)


def test_a_renamed_parameter_is_named_missing():
    params = dict(PARAMS)
    params["W9"] = params.pop("W1")
    with pytest.raises(ValueError, match=r"missing \['W1'\], unexpected \['W9'\]"):
        NET.gradients(params, X, Y)


@pytest.mark.parametrize("activations", [5, NET.activations[0]])
def test_activations_must_be_a_list(activations):
    with pytest.raises(TypeError, match="activations must be a list of names or Activation objects"):
        Network([2, 1], activations)


def test_the_default_seed_is_zero():
    assert all(np.array_equal(a, b) for a, b in zip(NET.init_params().values(),
                                                    NET.init_params(seed=0).values(), strict=True))
    assert not np.array_equal(NET.init_params()["W1"], NET.init_params(seed=1)["W1"])


def test_parameters_of_another_dtype_or_shape_are_converted_or_refused():
    params32 = {k: v.astype(np.float32) for k, v in PARAMS.items()}
    _, grads = NET.gradients(params32, X, Y, intermediates=False)
    assert all(g.dtype == np.float64 for g in grads.values())
    wrong = dict(PARAMS)
    wrong["W2"] = PARAMS["W2"].T.copy()
    with pytest.raises(ValueError, match=r"params\['W2'\] has shape"):
        NET.gradients(wrong, X, Y)


@pytest.mark.parametrize("empty", [np.zeros((1, 0)), np.array([]), []])
def test_empty_targets_are_told_the_shape_they_need(empty):
    with pytest.raises(ValueError, match=r"Y has shape .*expected \(1, 5\) = \(n_L, m\)"):
        NET.cost(PARAMS, X, empty)
