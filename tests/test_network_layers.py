"""The network with normalisation and dropout: backward against autograd, cache, modes, errors.

Architectures: depth 1-4, widths 1-6, batch 1-12, each hidden layer drawn with no
normalisation, batch norm or layer norm and with no dropout or keep probability 0.5/0.8 (masks
fixed from a Hypothesis seed), every valid pairing, with and without L2.
"""

import numpy as np
import pytest
from gradref.checks.oracle import oracle_cost, oracle_gradients
from gradref.checks.strategies import network_cases
from gradref.checks.tolerances import NETWORK_ATOL, NETWORK_RTOL
from gradref.reference import Network
from gradref.reference import normalization as norm
from gradref.reference.dropout import dropout_forward
from hypothesis import given, note

OPTIONS = dict(normalization=(None, "batchnorm", "layernorm"), dropout=(None, 0.5, 0.8))


def assert_matches(actual, expected, keys):
    for key in keys:
        a, e = actual[key], expected[key]
        assert a.shape == e.shape, f"{key}: shape {a.shape} != {e.shape}"
        err = float(np.max(np.abs(a - e)))
        bound = NETWORK_RTOL * float(np.max(np.abs(e))) + NETWORK_ATOL
        assert err <= bound, f"{key}: max abs error {err:.3g} > {bound:.3g}"


def layer_keys(net):
    keys = [f"d{k}" for k in net.param_shapes()]
    keys += [f"dZ{l}" for l in range(1, net.L + 1)] + [f"dA{l}" for l in range(net.L)]
    return keys


@given(network_cases(max_depth=4, max_width=6, max_batch=12, l2=(0.0, 0.3), **OPTIONS))
def test_backward_with_layers_matches_autograd(case):
    net, params, X, Y = case
    note(repr(net))
    J, grads = net.gradients(params, X, Y)
    assert_matches(grads, oracle_gradients(net, params, X, Y), layer_keys(net))
    assert J == pytest.approx(oracle_cost(net, params, X, Y), rel=1e-12, abs=1e-14)


@given(network_cases(min_depth=2, max_depth=3, max_width=5, min_batch=2, max_batch=8,
                     normalization=("batchnorm",), dropout=(0.6,)))
def test_every_hidden_layer_batchnorm_and_dropout(case):
    """The "for all" form: every hidden layer normalised and dropped out."""
    net, params, X, Y = case
    assert all(net.normalization[:-1]) and all(net.keep_probs[:-1])
    _, grads = net.gradients(params, X, Y)
    assert_matches(grads, oracle_gradients(net, params, X, Y), layer_keys(net))


def test_forward_is_the_layers_composed(rng):
    """Layer by layer through the public layer functions (batch norm, relu, dropout)."""
    net = Network([3, 4, 2, 1], "relu,tanh,sigmoid", "bce",
                  normalization=["batchnorm", "layernorm"], dropout=[0.5, None])
    params = net.init_params(seed=1)
    params["gamma1"] = rng.standard_normal((4, 1))
    params["beta2"] = rng.standard_normal((2, 1))
    X = rng.standard_normal((3, 6))
    masks = net.draw_masks(6, np.random.default_rng(3))
    AL, cache = net.forward(params, X, masks=masks)
    Z1 = params["W1"] @ X + params["b1"]
    U1, _, (rm, rv) = norm.batchnorm_forward(Z1, params["gamma1"], params["beta1"])
    A1, _ = dropout_forward(np.maximum(U1, 0), 0.5, mask=masks["D1"])
    U2, _ = norm.layernorm_forward(params["W2"] @ A1 + params["b2"], params["gamma2"],
                                   params["beta2"])
    Z3 = params["W3"] @ np.tanh(U2) + params["b3"]
    np.testing.assert_allclose(AL, 1 / (1 + np.exp(-Z3)), rtol=1e-12)
    np.testing.assert_array_equal(cache["D1"], masks["D1"])
    np.testing.assert_allclose(cache["A1"], A1, rtol=1e-13)
    np.testing.assert_allclose(cache["running_mean1"], rm, rtol=1e-13)
    np.testing.assert_allclose(cache["running_var1"], rv, rtol=1e-13)
    for key in ("Zhat1", "mu1", "var1", "Ztilde1", "Zhat2", "mu2", "var2", "G1"):
        assert key in cache
    assert "running_mean2" not in cache


def test_test_mode_uses_running_statistics_and_no_dropout(rng):
    net = Network([2, 3, 1], "relu,sigmoid", "bce", normalization="batchnorm", dropout=0.5)
    params = net.init_params(seed=2)
    X = rng.standard_normal((2, 5))
    running = {"running_mean1": rng.standard_normal((3, 1)), "running_var1": rng.random((3, 1))}
    AL, cache = net.forward(params, X, mode="test", running=running)
    Z1 = params["W1"] @ X + params["b1"]
    A1 = np.maximum((Z1 - running["running_mean1"]) / np.sqrt(running["running_var1"] + 1e-5), 0)
    Z2 = params["W2"] @ A1 + params["b2"]
    np.testing.assert_allclose(AL, 1 / (1 + np.exp(-Z2)), rtol=1e-12)
    assert "D1" not in cache
    grads = net.backward(params, cache, np.ones((1, 5)))
    assert grads["dW1"].shape == (3, 2)


def test_masks_from_generator_and_fixed_masks_agree(rng):
    net = Network([3, 5, 1], "tanh,sigmoid", "bce", dropout=0.7)
    params = net.init_params(seed=0)
    X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) < 0.5) * 1.0
    J1, g1 = net.gradients(params, X, Y, rng=np.random.default_rng(9))
    masks = net.draw_masks(8, np.random.default_rng(9))
    J2, g2 = net.with_masks(masks).gradients(params, X, Y)
    assert J1 == J2
    np.testing.assert_array_equal(g1["dW1"], g2["dW1"])
    np.testing.assert_array_equal(masks["D1"], np.random.default_rng(9).random((5, 8)) < 0.7)


def test_options_off_is_the_plain_network(rng):
    """normalization=None, dropout=None or 1.0: the same numbers as the plain network."""
    X, Y = rng.standard_normal((3, 4)), (rng.random((1, 4)) < 0.5) * 1.0
    plain = Network([3, 4, 1], "relu,sigmoid", "bce")
    params = plain.init_params(seed=3)
    for net in (Network([3, 4, 1], "relu,sigmoid", "bce", normalization=[None], dropout=[1.0]),
                Network([3, 4, 1], "relu,sigmoid", "bce", dropout=1.0)):
        J, g = net.gradients(params, X, Y)
        J0, g0 = plain.gradients(params, X, Y)
        assert J == J0 and set(g) == set(g0)
        for k in g0:
            np.testing.assert_array_equal(g[k], g0[k])
        assert not net.has_layers


def test_parameters_named_as_the_courses():
    net = Network([2, 3, 3, 1], "relu,relu,sigmoid", normalization="layernorm")
    params = net.init_params()
    assert [k for k in params if k[0] in "gb" and not k.startswith("b") or "beta" in k] == \
        ["gamma1", "beta1", "gamma2", "beta2"]
    np.testing.assert_array_equal(params["gamma2"], np.ones((3, 1)))
    np.testing.assert_array_equal(params["beta1"], np.zeros((3, 1)))
    assert net.n_params == 2 * 3 + 3 + 3 * 3 + 3 + 3 + 1 + 4 * 3


BAD = {
    "norm no hidden": (lambda: Network([2, 1], "sigmoid", normalization="batchnorm"),
                       ValueError, "normalization", "'batchnorm'"),
    "norm name": (lambda: Network([2, 3, 1], "relu,sigmoid", normalization="batch"),
                  ValueError, "normalization", "'batch'"),
    "norm length": (lambda: Network([2, 3, 1], "relu,sigmoid", normalization=[None, None]),
                    ValueError, "normalization", "2 entries"),
    "dropout 0": (lambda: Network([2, 3, 1], "relu,sigmoid", dropout=0), ValueError, "dropout",
                  "0"),
    "dropout list": (lambda: Network([2, 3, 3, 1], "relu,relu,sigmoid", dropout=[0.5, 1.5]),
                     ValueError, "dropout[1]", "1.5"),
    "eps": (lambda: Network([2, 3, 1], "relu,sigmoid", eps=-1.0), ValueError, "eps", "-1"),
    "momentum": (lambda: Network([2, 3, 1], "relu,sigmoid", momentum=2), ValueError, "momentum",
                 "2"),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
def test_bad_options_name_argument_and_value(case):
    call, exc, name, value = case
    with pytest.raises(exc) as info:
        call()
    assert name in str(info.value) and value in str(info.value), str(info.value)


def test_dropout_without_masks_is_refused(rng):
    net = Network([2, 3, 1], "relu,sigmoid", dropout=0.5)
    params, X = net.init_params(), rng.standard_normal((2, 4))
    with pytest.raises(ValueError, match="masks=.*rng="):
        net.forward(params, X)
    with pytest.raises(ValueError, match=r"masks\['D1'\] has shape \(3, 5\)"):
        net.forward(params, X, masks={"D1": np.ones((3, 5))})
    with pytest.raises(ValueError, match=r"D1"):
        net.forward(params, X, masks={"D2": np.ones((3, 4))})
    with pytest.raises(ValueError, match="not both"):
        net.forward(params, X, masks={"D1": np.ones((3, 4))}, rng=np.random.default_rng())
    with pytest.raises(ValueError, match=r"running\['running_mean1'\]"):
        Network([2, 3, 1], "relu,sigmoid", normalization="batchnorm").forward(
            Network([2, 3, 1], "relu,sigmoid", normalization="batchnorm").init_params(), X,
            running={"running_mean1": np.ones((2, 1))})
