"""Every loss derivative against autograd of the oracle; fused forms against the unfused chain."""

import autograd
import numpy as np
import pytest
from gradref.checks.oracle import ORACLE_FUSED, ORACLE_LOSSES
from gradref.checks.tolerances import ELEMENTWISE_ATOL, ELEMENTWISE_RTOL
from gradref.reference import LOSSES, get_activation, get_loss
from hypothesis import given
from hypothesis import strategies as st

shapes = st.tuples(st.integers(1, 5), st.integers(1, 8))
seeds = st.integers(0, 2**32 - 1)
FUSED = [(loss, act) for loss in LOSSES for act in get_loss(loss).fused]


def _case(loss_name, shape, seed):
    """Outputs A inside the loss's domain and valid targets Y, away from the domain's edges."""
    rng = np.random.default_rng(seed)
    n, m = shape
    if loss_name == "bce":
        return rng.uniform(0.02, 0.98, shape), rng.uniform(0, 1, shape)
    if loss_name == "cross_entropy":
        a = rng.uniform(0.05, 1, (n + 1, m))
        y = rng.uniform(0, 1, (n + 1, m))
        return a / a.sum(axis=0), y / y.sum(axis=0)
    return rng.standard_normal(shape), rng.standard_normal(shape)


def _close(actual, expected, scale=1.0):
    return np.all(np.abs(actual - expected)
                  <= ELEMENTWISE_RTOL * np.abs(expected) + ELEMENTWISE_ATOL * scale)


def test_every_registered_loss_has_an_oracle():
    assert sorted(LOSSES) == sorted(ORACLE_LOSSES)
    assert sorted(FUSED) == sorted(ORACLE_FUSED)


@pytest.mark.parametrize("name", list(LOSSES))
@given(shape=shapes, seed=seeds)
def test_value_matches_oracle(name, shape, seed):
    a, y = _case(name, shape, seed)
    assert _close(get_loss(name).value(a, y), ORACLE_LOSSES[name](a, y), scale=10)


@pytest.mark.parametrize("name", list(LOSSES))
@given(shape=shapes, seed=seeds)
def test_derivative_matches_autograd(name, shape, seed):
    """d l_i / d a equals autograd's gradient of sum_i l_i (examples are independent)."""
    a, y = _case(name, shape, seed)
    expected = autograd.grad(lambda a_: np.sum(ORACLE_LOSSES[name](a_, y)))(a)
    assert _close(get_loss(name).derivative(a, y), expected, scale=10)


@pytest.mark.parametrize("loss_name, act_name", FUSED)
@given(shape=shapes, seed=seeds)
def test_fused_form_equals_unfused_chain(loss_name, act_name, shape, seed):
    """The fused loss and dZ equal loss(g(Z)) and g's vjp of dl/dA, away from saturation."""
    loss, act = get_loss(loss_name), get_activation(act_name)
    _, y = _case(loss_name, shape, seed)
    z = np.random.default_rng(seed + 1).uniform(-4, 4, y.shape)
    a = act.value(z)
    fused = loss.fused_with(act)
    assert np.allclose(fused.value(z, y), loss.value(a, y), rtol=1e-12, atol=1e-14)
    assert np.allclose(fused.dz(z, a, y), act.vjp(z, a, loss.derivative(a, y)),
                       rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss_name, act_name", FUSED)
@given(shape=shapes, seed=seeds, scale=st.sampled_from([1.0, 30.0, 800.0]))
def test_fused_form_matches_autograd_even_saturated(loss_name, act_name, shape, seed, scale):
    """From logits of size up to 800 the fused forms stay finite and match autograd."""
    loss, act = get_loss(loss_name), get_activation(act_name)
    _, y = _case(loss_name, shape, seed)
    z = scale * np.random.default_rng(seed + 1).uniform(-1, 1, y.shape)
    fused = loss.fused_with(act)
    value = fused.value(z, y)
    dz = fused.dz(z, act.value(z), y)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(dz))
    oracle = ORACLE_FUSED[(loss_name, act_name)]
    expected = autograd.grad(lambda z_: np.sum(oracle(z_, y)))(z)
    assert np.allclose(value, oracle(z, y), rtol=1e-12, atol=1e-12)
    assert np.allclose(dz, expected, rtol=1e-10, atol=1e-14)


def test_square_has_no_half_and_half_square_has():
    """Known by definition: for a - y = 3, square gives 9 and 6, half_square 4.5 and 3."""
    a, y = np.array([[4.0]]), np.array([[1.0]])
    assert get_loss("square").value(a, y)[0] == 9.0
    assert get_loss("square").derivative(a, y)[0, 0] == 6.0
    assert get_loss("half_square").value(a, y)[0] == 4.5
    assert get_loss("half_square").derivative(a, y)[0, 0] == 3.0


def test_bce_from_logits_known_values():
    """bce(sigma(0), 1) = log 2; bce(sigma(800), 0) = 800 exactly (no log(0))."""
    fused = get_loss("bce").fused_with(get_activation("sigmoid"))
    assert fused.value(np.array([[0.0]]), np.array([[1.0]]))[0] == pytest.approx(np.log(2))
    assert fused.value(np.array([[800.0]]), np.array([[0.0]]))[0] == pytest.approx(800.0)


@pytest.mark.parametrize("name, y, message", [
    ("bce", [[0.5, 1.5]], r"Y must lie in \[0, 1\].*Y\[0, 1\] = 1.5"),
    ("bce", [[-0.1, 1.0]], r"first Y\[0, 0\] = -0.1"),
    ("cross_entropy", [[0.5, 1.0], [0.4, 0.0]], r"columns must sum to 1.*column 0 sums to 0.9"),
    ("cross_entropy", [[2.0], [-1.0]], r"must lie in \[0, 1\]"),
])
def test_targets_outside_domain(name, y, message):
    with pytest.raises(ValueError, match=message):
        get_loss(name).check_targets(np.array(y))


@pytest.mark.parametrize("name", ["bce", "cross_entropy"])
@given(shape=shapes, seed=seeds)
def test_exact_zero_one_targets(name, shape, seed):
    """Targets exactly 0 and 1 (one-hot columns for cross-entropy), where the reference takes
    its y == 0 branches: value and derivative against the oracle."""
    rng = np.random.default_rng(seed)
    a, _ = _case(name, shape, seed)
    n, m = a.shape
    if name == "bce":
        y = rng.integers(0, 2, (n, m)).astype(float)
    else:
        y = np.eye(n)[:, rng.integers(0, n, m)]
    loss = get_loss(name)
    assert _close(loss.value(a, y), ORACLE_LOSSES[name](a, y), scale=10)
    expected = autograd.grad(lambda a_: np.sum(ORACLE_LOSSES[name](a_, y)))(a)
    got = loss.derivative(a, y)
    assert _close(got, expected, scale=10)
    if name == "cross_entropy":
        assert np.all(got[y == 0] == 0.0) and np.all(got[y == 1] < 0)


def test_the_parametrized_inventory_is_pinned():
    assert list(LOSSES) == ["bce", "cross_entropy", "square", "half_square"]
    assert sorted(FUSED) == [("bce", "sigmoid"), ("cross_entropy", "softmax")]


def test_logsumexp_is_a_row_per_column():
    from gradref.reference.losses import logsumexp

    z = np.array([[0.0, 800.0], [np.log(3.0), 800.0]])
    out = logsumexp(z)
    assert out.shape == (1, 2)
    assert out[0, 0] == pytest.approx(np.log(4.0), rel=1e-15, abs=0)
    assert out[0, 1] == pytest.approx(800.0 + np.log(2.0), rel=1e-15, abs=0)


@pytest.mark.parametrize("loss, accepted", [
    ("bce", {"sigmoid"}), ("cross_entropy", {"softmax"}),
    ("square", {"sigmoid", "tanh", "relu", "linear", "softmax", "softplus"}),
    ("half_square", {"sigmoid", "tanh", "relu", "linear", "softmax", "softplus"}),
])
def test_which_output_activations_a_loss_accepts(loss, accepted):
    names = ["sigmoid", "tanh", "relu", "linear", "softmax", "softplus"]
    assert {n for n in names if get_loss(loss).accepts(get_activation(n))} == accepted


def test_loss_identity_docs_and_base_class():
    from gradref.reference.losses import Loss, register

    assert get_loss("bce") == get_loss("BCE") and get_loss("bce") != get_loss("square")
    assert get_loss("bce") != "bce"
    assert len({get_loss("bce"), get_loss("bce"), get_loss("square")}) == 2
    assert get_loss("bce").fused_with(get_activation("sigmoid")).__doc__ == \
        "sigmoid + bce from logits"
    assert get_loss("cross_entropy").fused_with(get_activation("softmax")).__doc__ == \
        "softmax + cross_entropy from logits"
    with pytest.raises(NotImplementedError):
        Loss().value(np.zeros((1, 1)), np.zeros((1, 1)))
    with pytest.raises(NotImplementedError):
        Loss().derivative(np.zeros((1, 1)), np.zeros((1, 1)))

    class Bce2(Loss):
        name = "bce"

    class Nameless(Loss):
        pass

    for cls in (Bce2, Nameless):
        with pytest.raises(ValueError, match="is empty or already registered"):
            register(cls)


def test_target_domains_are_closed_and_sums_are_checked():
    bce, ce = get_loss("bce"), get_loss("cross_entropy")
    bce.check_targets(np.array([[0.0, 1.0, 0.5]]))          # the closed interval
    ce.check_targets(np.array([[0.0, 1.0], [1.0, 0.0]]))    # one-hot
    ce.check_targets(np.array([[0.5 + 4e-7], [0.5]]))       # within SUM_TOLERANCE = 1e-6
    with pytest.raises(ValueError, match=r"Y must lie in \[0, 1\] for the bce loss; 2 value"):
        bce.check_targets(np.array([[-1e-300, 0.5, 1.0 + 2 ** -52]]))
    with pytest.raises(ValueError, match="1 do not, first column 1 sums to 1.00000199"):
        ce.check_targets(np.array([[0.5, 0.5 + 2e-6], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="first column 0 sums to 0.99999(79|80)"):
        ce.check_targets(np.array([[0.5 - 2e-6], [0.5]]))


def test_fused_cross_entropy_dz_uses_the_column_sums():
    """Targets summing to 1 - 5e-7 (accepted): dZ = a * sum(y) - y, which autograd of the
    oracle's LSE(z) sum(y) - sum(y z) confirms to 1e-12."""
    rng = np.random.default_rng(5)
    z = rng.standard_normal((3, 4))
    y = rng.uniform(0.1, 1, (3, 4))
    y = y / y.sum(axis=0) * (1 - 5e-7)
    loss, act = get_loss("cross_entropy"), get_activation("softmax")
    loss.check_targets(y)
    fused = loss.fused_with(act)
    expected = autograd.grad(lambda z_: np.sum(ORACLE_FUSED[("cross_entropy", "softmax")](z_, y)))(z)
    assert np.allclose(fused.dz(z, act.value(z), y), expected, rtol=1e-12, atol=1e-15)
