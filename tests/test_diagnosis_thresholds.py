"""The diagnosis's pattern thresholds at their boundaries (checks/tolerances.py, DIAGNOSIS_*).

Each test puts an array just inside and just outside one documented limit (written here as a
literal: a factor needs 2 supporting entries, a near miss is within 1e-3 relative or at most 3
wrong elements, a pattern fits to 1e-9 relative plus 1e-14, the context's network is trusted to
1e-5, the two-term L2 fit needs 4 entries and regressors whose cosine is at most 1 − 1e-6) and
checks what the diagnosis claims. Truths come from the autograd oracle.
"""

import numpy as np
import pytest
from gradref.checks.diagnosis import diagnose_array
from gradref.checks.mutants import example_case
from gradref.checks.oracle import oracle_gradients
from gradref.reference import Network

E = np.array([[0.8, -1.3, 0.45], [2.1, -0.6, 1.7]])
#: square and not symmetric, so its transpose is a different array of the same shape
S = np.array([[0.8, -1.3, 0.45], [2.1, -0.6, 1.7], [0.3, 1.1, -0.9]])
LAMBDA = 0.7


def _ctx(net, params, X, Y):
    return {"m": X.shape[1], "net": net, "params": params, "cache": None, "X": X, "Y": Y}


def test_an_unnamed_factor_needs_its_minimum_support():
    two = np.array([[1.5, -0.7]])
    f = diagnose_array("dW", 3.7 * two, two)
    assert f is not None and f.kind == "scale" and "3.7 times" in f.message
    one = np.array([[1.5, 0.0]])   # one non-negligible entry is no evidence of a constant factor
    f = diagnose_array("dW", 3.7 * one, one)
    assert f is None or f.kind != "scale"


def test_a_near_miss_is_within_its_relative_limit_and_not_beyond():
    inside = diagnose_array("dW", E * 1.0008, E)
    assert inside is not None and inside.kind == "near_miss", inside
    outside = diagnose_array("dW", E * 1.0015, E)
    assert outside is not None and outside.kind != "near_miss", outside


def test_a_few_wrong_elements_are_a_near_miss_up_to_the_limit_only():
    big = np.linspace(1.0, 2.0, 40).reshape(5, 8)
    few = big.copy()
    few.flat[[3, 11, 29]] *= 1.5
    f = diagnose_array("dW", few, big)
    assert f is not None and f.kind == "near_miss" and "3 of 40 elements differ" in f.message
    more = big.copy()
    more.flat[[3, 11, 29, 35]] *= 1.5
    f = diagnose_array("dW", more, big)
    assert f is None or "4 of 40 elements differ:" not in f.message


def test_a_factor_is_named_within_its_relative_distance_only():
    inside = diagnose_array("dW2", E * 6 * (1 + 5e-7), E, {"m": 6})
    assert inside is not None and inside.kind == "times_m" and "m = 6 times too large" in inside.message
    outside = diagnose_array("dW2", E * 6 * (1 + 1.5e-6), E, {"m": 6})
    assert outside is not None and outside.kind != "times_m" and "m = 6" not in outside.message


def test_a_constant_factor_must_fit_every_element_to_its_tolerance():
    # the fitted factor absorbs 43% of a change of the largest entry: 2.5e-8 leaves 1.4e-8
    for relative, claimed in ((5e-9, True), (2.5e-8, False)):
        got = 3.7 * E
        got[1, 0] *= 1 + relative          # the largest entry, so the limit is relative to it
        f = diagnose_array("dW", got, E)
        assert f is not None and (f.kind == "scale" and "3.7 times" in f.message) == claimed, f


@pytest.mark.parametrize("scale,bump,recognised", [
    (1.0, 5e-10 * 2.1, True), (1.0, 1.5e-9 * 2.1, False),      # relative: 1e-9 of max|e| = 2.1
    (1e-7, 5e-15, True), (1e-7, 1.5e-14, False),              # absolute: 1e-14 (tiny arrays)
])
def test_a_pattern_fits_to_float_rounding_only(scale, bump, recognised):
    expected = scale * S
    got = expected.T.copy()
    got[1, 0] += bump
    f = diagnose_array("dW", got, expected)
    assert f is not None and (f.kind == "transpose") == recognised, f


@pytest.mark.parametrize("off,trusted", [(0.8e-5, True), (1.5e-5, False)])
def test_the_context_network_is_trusted_within_its_relative_limit(off, trusted):
    net, params, X, Y = example_case("relu_bce", seed=2, m=16)
    truth = oracle_gradients(net, params, X, Y)["dW2"]
    estimate = truth.copy()
    estimate[np.unravel_index(np.argmin(np.abs(truth)), truth.shape)] += off * np.max(np.abs(truth))
    f = diagnose_array("dW2", 16 * truth, estimate, _ctx(net, params, X, Y))
    # trusted: the network's exact dW2 replaces the estimate, and the factor is exactly m = 16
    assert f is not None and (f.kind == "times_m" and "m = 16 times" in f.message) == trusted, f


def test_the_two_term_l2_fit_works_from_four_entries():
    net = Network([2, 2, 1], "tanh,sigmoid", "bce", l2=LAMBDA)   # W1 is 2×2
    _, params, X, Y = example_case(net, seed=3, m=16)
    truth = oracle_gradients(net, params, X, Y)["dW1"]
    W, m = params["W1"], X.shape[1]
    got = truth - LAMBDA / m * W + 1.37 * LAMBDA / m * W      # no candidate slip gives 1.37
    f = diagnose_array("dW1", got, truth, _ctx(net, params, X, Y))
    assert f is not None and f.kind == "l2_wrong" and "1.37·λ/m·W1" in f.message, f


@pytest.mark.parametrize("one_minus_cos,separated", [(1.5e-6, True), (0.5e-6, False)])
def test_the_l2_fit_refuses_nearly_collinear_terms(one_minus_cos, separated):
    """One linear layer, square loss: Y is chosen so that the data part dZ·Xᵀ/m is a multiple of
    W + εP (P ⟂ W), whose cosine with W is 1 − one_minus_cos."""
    net = Network([3, 4], "linear", "square", l2=LAMBDA)
    rng = np.random.default_rng(5)
    m = 16
    X = rng.standard_normal((3, m))
    params = {"W1": rng.standard_normal((4, 3)), "b1": 0.1 * rng.standard_normal((4, 1))}
    W = params["W1"]
    P = rng.standard_normal(W.shape)
    P -= np.vdot(P, W) / np.vdot(W, W) * W
    target = W + np.sqrt(2 * one_minus_cos) * np.linalg.norm(W) / np.linalg.norm(P) * P
    # dZ = c (A − Y) for the square loss, so dZ·Xᵀ/m ∝ target when A − Y ∝ target (XXᵀ)⁻¹ X
    Y = W @ X + params["b1"] - 0.3 * m * target @ np.linalg.solve(X @ X.T, X)
    truth = oracle_gradients(net, params, X, Y)["dW1"]
    data = truth - LAMBDA / m * W
    cos = np.vdot(data, W) / (np.linalg.norm(data) * np.linalg.norm(W))
    assert abs((1 - cos) - one_minus_cos) < 0.05 * one_minus_cos      # the construction holds
    f = diagnose_array("dW1", data + 1.37 * LAMBDA / m * W, truth, _ctx(net, params, X, Y))
    assert f is not None
    assert (f.kind == "l2_wrong" and "1.37·λ/m·W1" in f.message) == separated, f
