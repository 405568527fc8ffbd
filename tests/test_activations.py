"""Every activation's hand-written derivative against autograd's derivative of the oracle.

The oracle (``gradref.checks.oracle.ORACLE_ACTIVATIONS``) restates each function in autograd.numpy,
often in another form; autograd differentiates it. Points within ``KINK_MARGIN`` of a declared
kink are excluded here and tested on their own below, as are the edge points.
"""

import autograd
import numpy as np
import pytest
from gradref.checks.oracle import ORACLE_ACTIVATIONS, oracle_activation
from gradref.checks.strategies import hidden_activations
from gradref.checks.tolerances import ELEMENTWISE_ATOL, ELEMENTWISE_RTOL
from gradref.reference import ACTIVATIONS, get_activation
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

KINK_MARGIN = 1e-6
ELEMENTWISE = [a for a in hidden_activations() if get_activation(a).elementwise]
KINKED = [a for a in ELEMENTWISE if get_activation(a).kinks]
EDGE_POINTS = np.array([0.0, 1e-8, -1e-8, 30.0, -30.0, 800.0, -800.0])

# Subnormal inputs are left out of the comparison with the oracle: autograd's rule for |z|
# (z/|z|) loses precision on them, so there the oracle, not the reference, is off (0.50000000004
# for softplus' at 2e-313). The reference's values at 5e-324 are pinned in test_known_values.
finite_z = arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                  elements=st.floats(-40, 40, allow_nan=False, allow_subnormal=False))


def _away_from_kinks(act, z):
    keep = np.ones(z.shape, bool)
    for k in act.kinks:
        keep &= np.abs(z - k) > KINK_MARGIN
    return keep


def _close(actual, expected):
    return np.abs(actual - expected) <= ELEMENTWISE_RTOL * np.abs(expected) + ELEMENTWISE_ATOL


def test_every_registered_activation_has_an_oracle():
    assert sorted(ACTIVATIONS) == sorted(ORACLE_ACTIVATIONS)


def test_the_parametrized_inventory_is_pinned():
    """The lists the proofs below are parametrized with come from the registry: pin them, so
    that a registry that loses an entry (or all) fails here instead of skipping proofs (an
    empty parameter set also fails at collection: pyproject's empty_parameter_set_mark)."""
    assert ELEMENTWISE == ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softplus", "elu",
                           "gelu", "silu", "leaky_relu(0.05)", "elu(0.5)"]
    assert KINKED == ["relu", "leaky_relu", "leaky_relu(0.05)", "elu(0.5)"]
    assert sorted(ACTIVATIONS) == ["elu", "gelu", "leaky_relu", "linear", "relu", "sigmoid",
                                   "silu", "softmax", "softplus", "tanh"]


@pytest.mark.parametrize("spec, kinks, at_zero, left, right", [
    ("relu", (0.0,), 0.0, 0.0, 1.0), ("leaky_relu", (0.0,), 0.01, 0.01, 1.0),
    ("leaky_relu(0.05)", (0.0,), 0.05, 0.05, 1.0), ("elu(0.5)", (0.0,), 0.5, 0.5, 1.0),
    ("elu", (), 1.0, 1.0, 1.0), ("sigmoid", (), 0.25, 0.25, 0.25),
])
def test_the_kink_location_and_the_convention_at_it_are_pinned(spec, kinks, at_zero, left,
                                                                right):
    """The declared kinks, the derivative and the vjp exactly at 0 (the left slope, the
    convention of relu'(0) = 0), and the one-sided slopes there: values of the mathematics."""
    act = get_activation(spec)
    assert act.kinks == kinks
    z = np.zeros((1, 3))
    assert act.derivative(z).tolist() == [[at_zero] * 3]
    da = np.array([[2.0, -3.0, 0.5]])
    assert act.vjp(z, act.value(z), da).tolist() == (at_zero * da).tolist()
    lo, hi = act.one_sided(z)
    assert lo.tolist() == [[left] * 3] and hi.tolist() == [[right] * 3]


@pytest.mark.parametrize("spec", ELEMENTWISE)
@given(z=finite_z)
def test_derivative_matches_autograd(spec, z):
    act = get_activation(spec)
    expected = autograd.elementwise_grad(oracle_activation(act))(z)
    keep = _away_from_kinks(act, z)
    assert np.all(_close(act.derivative(z), expected)[keep])


@pytest.mark.parametrize("spec", ELEMENTWISE)
@given(z=finite_z)
def test_value_matches_oracle(spec, z):
    act = get_activation(spec)
    assert np.all(_close(act.value(z), oracle_activation(act)(z)))


@pytest.mark.parametrize("spec", ELEMENTWISE)
@given(z=finite_z, seed=st.integers(0, 2**32 - 1))
def test_vjp_is_derivative_times_upstream(spec, z, seed):
    act = get_activation(spec)
    da = np.random.default_rng(seed).standard_normal(z.shape)
    vjp, _ = autograd.make_vjp(oracle_activation(act))(z)
    keep = _away_from_kinks(act, z)
    assert np.all(_close(act.vjp(z, act.value(z), da), vjp(da))[keep])


@given(z=finite_z, seed=st.integers(0, 2**32 - 1))
def test_softmax_vjp_matches_autograd(z, seed):
    act = get_activation("softmax")
    da = np.random.default_rng(seed).standard_normal(z.shape)
    vjp, _ = autograd.make_vjp(oracle_activation(act))(z)
    got = act.vjp(z, act.value(z), da)
    assert np.allclose(got, vjp(da), rtol=ELEMENTWISE_RTOL, atol=ELEMENTWISE_ATOL * 10)


def test_softmax_columns_are_distributions_even_at_800():
    z = np.array([[800.0, -800.0, 0.0], [-800.0, -800.0, 1e-8], [0.0, 800.0, -1e-8]])
    a = get_activation("softmax").value(z)
    assert np.all(np.isfinite(a))
    assert np.allclose(a.sum(axis=0), 1.0, rtol=0, atol=1e-15)
    assert a[0, 0] == 1.0 and a[2, 1] == 1.0


def test_softmax_has_no_elementwise_derivative():
    with pytest.raises(TypeError, match="not elementwise"):
        get_activation("softmax").derivative(np.zeros((2, 2)))


# ------------------------------------------------------------------ edge points
@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_edge_points_finite_and_warning_free(spec):
    """±800 must not overflow (pytest turns any NumPy RuntimeWarning into an error)."""
    act = get_activation(spec)
    z = EDGE_POINTS.reshape(1, -1)
    assert np.all(np.isfinite(act.value(z)))
    assert np.all(np.isfinite(act.derivative(z)))
    left, right = act.one_sided(z)
    assert np.all(np.isfinite(left)) and np.all(np.isfinite(right))


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_edge_points_match_oracle(spec):
    """At 0 (off kinks), ±1e-8, ±30 and ±800 value and derivative equal the oracle's.

    The oracle may overflow internally at ±800 (e.g. cosh); its warnings are silenced there,
    and only points where its own result is finite are compared.
    """
    act = get_activation(spec)
    z = EDGE_POINTS.reshape(1, -1)
    with np.errstate(all="ignore"):
        value = oracle_activation(act)(z)
        deriv = autograd.elementwise_grad(oracle_activation(act))(z)
    keep = _away_from_kinks(act, z) & np.isfinite(deriv)
    assert np.all(_close(act.value(z), value)[np.isfinite(value)])
    assert np.all(_close(act.derivative(z), deriv)[keep])


@pytest.mark.parametrize("spec", KINKED)
def test_kink_derivative_lies_between_one_sided_slopes(spec):
    """The one-sided slopes at each declared kink against one-sided differences of the
    *oracle's* value (not the code's), and the derivative there between them: an activation
    whose derivative and one-sided slopes are all zero fails."""
    act = get_activation(spec)
    value = oracle_activation(act)
    for k in act.kinks:
        z = np.array([[k]])
        left, right = act.one_sided(z)
        h = 1e-7
        f0 = value(z).item()
        right_fd = (value(z + h).item() - f0) / h
        left_fd = (f0 - value(z - h).item()) / h
        assert left_fd != pytest.approx(right_fd, abs=1e-3), "a kink has two slopes"
        assert left.item() == pytest.approx(left_fd, rel=1e-6, abs=1e-6)
        assert right.item() == pytest.approx(right_fd, rel=1e-6, abs=1e-6)
        lo, hi = sorted((left.item(), right.item()))
        assert lo <= act.derivative(z).item() <= hi
        # the one-sided slopes are the limits of the derivative from each side
        assert act.derivative(np.array([[k - 1e-9]])).item() == pytest.approx(left_fd, rel=1e-6)
        assert act.derivative(np.array([[k + 1e-9]])).item() == pytest.approx(right_fd, rel=1e-6)


@pytest.mark.parametrize("spec, z, value, derivative", [
    ("sigmoid", 800.0, 1.0, 0.0), ("sigmoid", -800.0, 0.0, 0.0),
    ("sigmoid", 0.0, 0.5, 0.25), ("tanh", -800.0, -1.0, 0.0), ("tanh", 0.0, 0.0, 1.0),
    ("softplus", 800.0, 800.0, 1.0), ("softplus", -800.0, 0.0, 0.0),
    ("softplus", 0.0, np.log(2.0), 0.5), ("relu", -800.0, 0.0, 0.0), ("relu", 0.0, 0.0, 0.0),
    ("leaky_relu", -800.0, -8.0, 0.01), ("leaky_relu(0.05)", -2.0, -0.1, 0.05),
    ("elu", -800.0, -1.0, 0.0), ("elu", 0.0, 0.0, 1.0), ("silu", 800.0, 800.0, 1.0),
    ("silu", -800.0, 0.0, 0.0), ("silu", 0.0, 0.0, 0.5), ("gelu", 800.0, 800.0, 1.0),
    ("gelu", -800.0, 0.0, 0.0), ("gelu", 0.0, 0.0, 0.5), ("linear", -800.0, -800.0, 1.0),
    # the smallest subnormal: every smooth activation is at its value and slope at 0
    ("sigmoid", 5e-324, 0.5, 0.25), ("softplus", 5e-324, np.log(2.0), 0.5),
    ("tanh", -5e-324, -5e-324, 1.0), ("relu", 5e-324, 5e-324, 1.0), ("silu", 5e-324, 0.0, 0.5),
    ("gelu", 5e-324, 0.0, 0.5), ("elu", -5e-324, -5e-324, 1.0),
], ids=lambda v: str(v))
def test_known_values(spec, z, value, derivative):
    """Values known from the mathematics, not from running the code."""
    act = get_activation(spec)
    zz = np.array([[z]])
    assert act.value(zz).item() == pytest.approx(value, rel=1e-12, abs=1e-300)
    assert act.derivative(zz).item() == pytest.approx(derivative, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("z", [30.0, -30.0, 36.0, -36.0, 100.0, -700.0])
def test_saturated_sigmoid_derivative_keeps_relative_precision(z):
    """σ'(z) = e^-|z|/(1+e^-|z|)^2 (even in z); the naive σ(1-σ) loses three digits at 30 and
    everything beyond 36.7 (1 - σ rounds to 0). A relative tolerance only: the values are
    1e-13 … 1e-304, and approx's default absolute 1e-12 would accept 0."""
    t = np.exp(-abs(z))
    exact = t / (1 + t) ** 2
    got = get_activation("sigmoid").derivative(np.array([[z]])).item()
    assert got == pytest.approx(exact, rel=1e-14, abs=0)
    assert got > 0


@pytest.mark.parametrize("spec, expected", [
    ("leaky_relu(0.05)", 0.05), ("leaky_relu:0.05", 0.05), ("LEAKY_RELU", 0.01),
    (" leaky_relu ( 0.2 ) ", 0.2)])
def test_leaky_slope_is_expressible(spec, expected):
    act = get_activation(spec)
    assert act.slope == expected
    assert get_activation(act.spec) == act


def test_aliases():
    assert get_activation("swish") == get_activation("silu")
    assert get_activation("identity") == get_activation("linear")


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_one_sided_slopes_away_from_kinks_are_the_derivative(spec):
    """Off the kinks both one-sided slopes equal the derivative, on each side of every kink
    and far from it; checked against central differences of the oracle's value."""
    act = get_activation(spec)
    z = np.array([[-3.0, -0.5, -1e-3, 1e-3, 0.5, 3.0]])
    left, right = act.one_sided(z)
    h = 1e-6
    value = oracle_activation(act)
    numeric = (value(z + h) - value(z - h)) / (2 * h)
    np.testing.assert_allclose(left, numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(right, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("spec, lo, hi, lo_attained, hi_attained", [
    ("sigmoid", 0.0, 1.0, True, True), ("tanh", -1.0, 1.0, True, True),
    ("relu", 0.0, np.inf, True, False), ("leaky_relu", -np.inf, np.inf, False, False),
    ("linear", -np.inf, np.inf, False, False), ("softmax", 0.0, 1.0, True, True),
    ("softplus", 0.0, np.inf, True, False), ("elu", -1.0, np.inf, True, False),
    ("elu(0.5)", -0.5, np.inf, True, False), ("gelu", -0.1701, np.inf, True, False),
    ("silu", -0.28, np.inf, True, False),
])
def test_output_range_is_the_range_of_the_values(spec, lo, hi, lo_attained, hi_attained):
    """Declared ranges (they bound the targets drawn for the squared losses) against the
    values on a fine grid: inside, and the finite bounds approached to 1%."""
    act = get_activation(spec)
    assert act.output_range == (lo, hi)
    z = np.linspace(-40, 40, 200001).reshape(1, -1)
    if spec == "softmax":
        z = np.vstack([z, np.zeros_like(z)])
    a = act.value(z)
    assert np.all(a >= lo) and np.all(a <= hi)
    if lo_attained:
        assert a.min() - lo <= 0.01 * max(abs(lo), 1e-4)
    if hi_attained:
        assert a.max() >= hi - 1e-6


def test_linear_returns_copies():
    act = get_activation("linear")
    z, da = np.ones((2, 2)), np.full((2, 2), 3.0)
    a, dz = act.value(z), act.vjp(z, z, da)
    assert a is not z and dz is not da and not np.shares_memory(a, z)
    assert not np.shares_memory(dz, da)
    a[0, 0] = 5.0
    dz[0, 0] = 7.0
    assert z[0, 0] == 1.0 and da[0, 0] == 3.0


def test_identity_is_name_and_parameters():
    assert get_activation("relu") != get_activation("tanh")
    assert get_activation("relu") != "relu"
    assert get_activation("leaky_relu(0.05)") != get_activation("leaky_relu")
    assert get_activation("elu(1)") == get_activation("elu")
    assert get_activation("elu").params == {} and get_activation("elu").spec == "elu"
    assert get_activation("elu(0.5)").params == {"alpha": 0.5}
    assert get_activation("elu(2)").spec == "elu(2)" and get_activation("elu(2)").kinks == (0.0,)
    assert len({get_activation("relu"), get_activation("relu"), get_activation("tanh")}) == 2


def test_the_base_class_has_no_formula():
    from gradref.reference.activations import Activation

    base = Activation()
    with pytest.raises(NotImplementedError):
        base.value(np.zeros((1, 1)))
    with pytest.raises(NotImplementedError):
        base.derivative(np.zeros((1, 1)))
    assert base.output_range == (-np.inf, np.inf)


def test_registering_twice_or_without_a_name_is_refused():
    from gradref.reference.activations import Activation, register

    class Relu2(Activation):
        name = "relu"

    class Nameless(Activation):
        pass

    for cls in (Relu2, Nameless):
        with pytest.raises(ValueError, match="is empty or already registered"):
            register(cls)


@pytest.mark.parametrize("alpha", [0, 0.0, -1.0, float("nan"), float("inf"), True, "1"],
                         ids=["zero", "zero-float", "negative", "nan", "inf", "bool", "string"])
def test_elu_alpha_must_be_finite_and_positive(alpha):
    from gradref.reference.activations import ELU

    with pytest.raises(ValueError, match=f"elu alpha must be a finite positive number, got "
                                         f"{alpha!r}"):
        ELU(alpha)
