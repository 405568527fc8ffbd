"""check_network with normalisation and dropout: finite differences by full forward passes.

LayeredFD is checked against NetworkFD on plain networks (two independent implementations of
the same differences), then check_network against the reference with the new layers (fixed
masks) in every mode, and on wrong gradients with finite differences as the only oracle.
"""

import numpy as np
import pytest
from gradref.checks.api import check_network
from gradref.checks.layered_fd import LayeredFD
from gradref.checks.network_fd import NetworkFD
from gradref.checks.strategies import network_cases
from gradref.reference import Network
from hypothesis import given, note, settings

OPTIONS = dict(normalization=(None, "batchnorm", "layernorm"), dropout=(None, 0.5, 0.8))


@given(network_cases(max_depth=3, max_width=4, max_batch=5))
@settings(max_examples=10)
def test_layered_fd_agrees_with_network_fd_on_plain_networks(case):
    net, params, X, Y = case
    fast, slow = NetworkFD(net, params, X, Y), LayeredFD(net, params, X, Y)
    for name in params:
        a, b = fast.parameter(name), slow.parameter(name)
        assert np.all(np.abs(a.numeric - b.numeric) <= 2 * (a.error + b.error) + 1e-12), name
    for name in [f"Z{net.L}", "A0"]:
        a, b = fast.intermediate(name), slow.intermediate(name)
        assert np.all(np.abs(a.numeric - b.numeric) <= 2 * (a.error + b.error) + 1e-12), name


@pytest.mark.parametrize("mode", ["full", "sampled", "directional"])
@given(case=network_cases(max_depth=3, max_width=4, max_batch=6, **OPTIONS))
@settings(max_examples=8)
def test_reference_with_layers_passes_check_network(mode, case):
    net, params, X, Y = case
    note(repr(net))
    result = check_network(net, net, params, X, Y, mode=mode, samples=20)
    assert result.passed, result.report()


def _case(rng, normalization, dropout=None, m=6):
    net = Network([3, 4, 3, 1], "tanh,relu,sigmoid", "bce", normalization=normalization,
                  dropout=dropout)
    params = net.init_params(seed=4)
    for k in params:
        if k.startswith(("gamma", "beta")):
            params[k] = params[k] + 0.3 * rng.standard_normal(params[k].shape)
    X = rng.standard_normal((3, m))
    Y = (rng.random((1, m)) < 0.5) * 1.0
    if net.mask_shapes(m):
        net = net.with_masks(net.draw_masks(m, rng))
    return net, params, X, Y


@pytest.mark.parametrize("key", ["dgamma1", "dbeta2", "dW1", "dZ1"])
@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
def test_finite_differences_alone_catch_a_wrong_layer_gradient(rng, key, normalization):
    net, params, X, Y = _case(rng, normalization, dropout=[0.7, None])

    def wrong(p, X_, Y_):
        _, g = net.gradients(p, X_, Y_)
        g[key] = g[key] * 1.01
        return g

    result = check_network(wrong, net, params, X, Y, oracle="fd", explain=False)
    assert not result.passed
    failed = {a.name for a in result.arrays if not a.passed}
    assert key in failed, result.report()


def test_dropout_mask_is_part_of_the_cost(rng):
    """A gradient computed with another mask than the network's fixed one is caught."""
    net, params, X, Y = _case(rng, None, dropout=[0.5, 0.5])
    other = net.draw_masks(X.shape[1], np.random.default_rng(99))

    def other_mask(p, X_, Y_):
        return net.gradients(p, X_, Y_, masks=other)[1]

    assert not check_network(other_mask, net, params, X, Y, explain=False).passed
    assert check_network(net, net, params, X, Y).passed


def test_dropout_without_fixed_masks_is_reported(rng):
    net = Network([2, 3, 1], "relu,sigmoid", "bce", dropout=0.5)
    params = net.init_params()
    with pytest.raises(ValueError, match="with_masks"):
        check_network(net, net, params, rng.standard_normal((2, 4)), np.ones((1, 4)))


def test_layered_fd_bad_names(rng):
    net, params, X, Y = _case(rng, "batchnorm")
    fd = LayeredFD(net, params, X, Y)
    with pytest.raises(ValueError, match="'gamma9'"):
        fd.parameter("gamma9")
    with pytest.raises(ValueError, match="'Zhat1'"):
        fd.intermediate("Zhat1")
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 12\)"):
        fd.parameter("W1", [12])
