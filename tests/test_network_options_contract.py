"""The network's optional layers at their edges: the per-layer lists, the masks, the running
statistics, the cache a backward pass needs and the checkers' perturbation hook.

Oracles: the documented contracts restated (one entry per layer, the output's None; the error
each bad input gets), the autograd oracle's cost and gradients (``oracle._cost_fn`` takes the
same additive perturbations of ``A0``, ``Z{l}``, ``A{l}``), and dZtilde restated as
dA·g'(Ztilde) with autograd's dA and tanh' = 1 − tanh².
"""

import numpy as np
import pytest
from gradref.checks.oracle import _cost_fn, oracle_gradients
from gradref.reference import Network


def _net(**options):
    return Network([3, 4, 3, 1], "tanh,tanh,sigmoid", "bce", **options)


def _data(rng, m=5):
    return rng.standard_normal((3, m)), (rng.random((1, m)) < 0.5) * 1.0


def test_one_entry_per_layer_the_outputs_none():
    net = _net()
    assert net.normalization == [None] * 3 and net.keep_probs == [None] * 3
    net = _net(normalization="layernorm", dropout=0.5)
    assert net.normalization == ["layernorm", "layernorm", None]
    assert net.keep_probs == [0.5, 0.5, None]


@pytest.mark.parametrize("value", [{0.5, 0.8}, b"ab", iter([0.5, 0.5])])
def test_an_option_that_is_not_a_list_is_refused(value):
    with pytest.raises(TypeError, match="dropout must be None, one value for every hidden"):
        _net(dropout=value)


def test_describe_gives_the_hidden_layers_options():
    net = _net(normalization=["batchnorm", None], dropout=[None, 0.8], momentum=0.7)
    d = net.describe()
    assert d["normalization"] == ["batchnorm", None]
    assert d["dropout"] == [1.0, 0.8]
    assert (d["eps"], d["momentum"]) == (1e-5, 0.7)
    assert "normalization" not in Network([3, 4, 1], "tanh,sigmoid").describe()


# ---------------------------------------------------------------------------- masks
def test_with_masks_on_a_network_without_dropout_is_a_copy_with_no_masks():
    net = _net(normalization="batchnorm")
    for masks in ({}, None):
        out = net.with_masks(masks)
        assert out is not net and out.masks == {} and net.masks is None


@pytest.mark.parametrize("masks", [None, {}, [np.ones((4, 5), bool)]])
def test_with_masks_needs_a_nonempty_dict_with_dropout(masks):
    with pytest.raises(TypeError, match="masks must be a dict"):
        _net(dropout=0.5).with_masks(masks)


def test_a_mask_of_the_wrong_dimension_is_refused_by_shape():
    net = _net(dropout=[0.5, None])
    with pytest.raises(ValueError, match=r"masks\['D1'\] has shape \(4,\)"):
        net.with_masks({"D1": np.ones(4, bool)})
    with pytest.raises(TypeError, match="masks must be a dict"):
        net.check_masks([np.ones((4, 5), bool)], 5)


def test_masks_or_rng_for_a_network_without_dropout_are_refused(rng):
    net = _net(normalization="layernorm")
    params = net.init_params()
    X, Y = _data(rng)
    for kw in (dict(rng=np.random.default_rng(0)), dict(masks={"D1": np.ones((4, 5))})):
        with pytest.raises(ValueError, match="this network has no dropout"):
            net.forward(params, X, **kw)
        with pytest.raises(ValueError, match="this network has no dropout"):
            net.cost(params, X, Y, **kw)


def test_gradients_with_masks_of_this_call(rng):
    """An unfixed dropout network differentiated with the masks passed: autograd on the network
    with those masks fixed is the oracle."""
    net = _net(dropout=[0.6, 0.8])
    params = net.init_params(seed=2)
    X, Y = _data(rng)
    masks = net.draw_masks(5, rng)
    J, grads = net.gradients(params, X, Y, masks=masks)
    want = oracle_gradients(net.with_masks(masks), params, X, Y)
    for k, v in want.items():
        np.testing.assert_allclose(grads[k], v, rtol=1e-9, atol=1e-12, err_msg=k)


def test_test_mode_takes_no_masks(rng):
    net = _net(dropout=0.5)
    params = net.init_params()
    X, _ = _data(rng)
    for kw in (dict(rng=np.random.default_rng(0)), dict(masks=net.draw_masks(5, rng))):
        with pytest.raises(ValueError, match="test mode has no dropout"):
            net.forward(params, X, mode="test", **kw)


# ---------------------------------------------------------------------------- running statistics
def test_running_statistics_are_checked(rng):
    net = _net(normalization=["batchnorm", "layernorm"])
    params = net.init_params()
    X, _ = _data(rng)
    with pytest.raises(TypeError, match="running must be a dict"):
        net.forward(params, X, mode="test", running=["running_mean1"])
    with pytest.raises(ValueError, match=r"unexpected key\(s\) \['running_mean2'\]"):
        net.forward(params, X, mode="test", running={"running_mean2": np.zeros((3, 1))})
    var = np.ones((4, 1))
    var[2] = -1e-3
    with pytest.raises(ValueError, match=r"running\['running_var1'\] must be >= 0"):
        net.forward(params, X, mode="test", running={"running_var1": var})
    # a variance of exactly 0 is a variance: test mode then divides by sqrt(eps)
    A, cache = net.forward(params, X, mode="test", running={"running_var1": np.zeros((4, 1))})
    np.testing.assert_allclose(cache["Zhat1"], cache["Z1"] / np.sqrt(1e-5), rtol=1e-12)


# ---------------------------------------------------------------------------- backward's cache
@pytest.mark.parametrize("options,missing", [
    (dict(normalization=["layernorm", None]), "Zhat1"),
    (dict(normalization=["layernorm", None]), "Ztilde1"),
    (dict(normalization=[None, "batchnorm"]), "inv_std2"),
    (dict(dropout=[0.5, None]), "D1"),
    (dict(dropout=[None, 0.5]), "G2"),
])
def test_backward_names_the_missing_cache_entry(rng, options, missing):
    net = _net(**options)
    params = net.init_params()
    X, Y = _data(rng)
    masks = net.draw_masks(5, rng)
    _, cache = net.forward(params, X, masks=masks)
    grads = net.backward(params, cache, Y)   # the whole cache: accepted, autograd agrees
    want = oracle_gradients(net.with_masks(masks), params, X, Y)
    for k in ("dW1", "db2", "dW3"):
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-9, atol=1e-12, err_msg=k)
    del cache[missing]
    with pytest.raises(ValueError, match=f"cache is missing '{missing}'"):
        net.backward(params, cache, Y)


def test_backward_checks_the_cached_masks(rng):
    net = _net(dropout=[0.5, None])
    params = net.init_params()
    X, Y = _data(rng)
    _, cache = net.forward(params, X, rng=rng)
    cache["D1"] = cache["D1"] * 0.5
    with pytest.raises(ValueError, match=r"cache\['D1'\] must hold only 0 and 1"):
        net.backward(params, cache, Y)


def test_dztilde_is_da_times_the_activations_derivative(rng):
    net = _net(normalization=["batchnorm", "layernorm"])
    params = net.init_params(seed=1)
    X, Y = _data(rng)
    _, grads = net.gradients(params, X, Y)
    _, cache = net.forward(params, X)
    want = oracle_gradients(net, params, X, Y)
    for l in (1, 2):
        restated = want[f"dA{l}"] * (1.0 - np.tanh(cache[f"Ztilde{l}"]) ** 2)
        np.testing.assert_allclose(grads[f"dZtilde{l}"], restated, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------- perturbation hook
@pytest.mark.parametrize("options", [{}, dict(normalization="batchnorm", dropout=[0.7, None])])
def test_perturbations_add_to_the_named_entries(rng, options):
    """``perturb`` of the unchecked forward pass, against the autograd oracle's cost with the
    same additive perturbations."""
    net = _net(**options)
    params = net.init_params(seed=3)
    X, Y = _data(rng)
    if net.mask_shapes(5):
        net = net.with_masks(net.draw_masks(5, rng))
    cost, zeros = _cost_fn(net, X, Y)
    for keys in (["A0"], ["Z1"], ["A1"], ["Z2", "A2"], ["A0", "Z1", "A1", "Z3"]):
        pert = {k: v.copy() for k, v in zeros.items()}
        for k in keys:
            pert[k] = 0.1 * rng.standard_normal(pert[k].shape)
        _, cache = net._forward(params, X, perturb={k: pert[k] for k in keys})
        assert net._cost(params, cache, Y) == pytest.approx(float(cost(params, pert)),
                                                            rel=1e-12), keys


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_check_params_returns_float64(dtype):
    """The documented result ("a float64 ... dict"): the checkers perturb these arrays in place,
    which an integer array would truncate."""
    net = _net(normalization="layernorm")
    params = {k: np.round(v * 4).astype(dtype) for k, v in net.init_params(seed=1).items()}
    checked = net.check_params(params)
    for k, v in checked.items():
        assert v.dtype == np.float64, k
        np.testing.assert_array_equal(v, params[k])
