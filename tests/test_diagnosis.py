"""Unit tests of the diagnosis, one recogniser at a time, on hand-built arrays.

Each recogniser is also checked for what it must *not* say: a random error is never "m times",
m = 1 never claims a missing 1/m, m = 2 reports both candidates, and so on. Network-aware cases
take their truth from the autograd oracle.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from gradref.checks import diagnosis, tolerances
from gradref.checks.api import check_network
from gradref.checks.diagnosis import KINDS, Finding, diagnose, diagnose_array
from gradref.checks.mutants import example_case
from gradref.checks.oracle import oracle_gradients
from gradref.reference import Network

RNG_SEED = 1234
BUGGY = Path(__file__).resolve().parents[1] / "examples" / "implementations" / "buggy.py"


@pytest.fixture
def arrays():
    rng = np.random.default_rng(RNG_SEED)
    return rng, rng.standard_normal((5, 8)), rng.standard_normal((4, 1))


def _ctx(net, params, X, Y, **extra):
    return {"m": X.shape[1], "net": net, "params": params, "cache": None, "X": X, "Y": Y,
            **extra}


def _net_case(arch="relu_bce", seed=2, m=16):
    net, params, X, Y = example_case(arch, seed=seed, m=m)
    return net, params, X, Y, oracle_gradients(net, params, X, Y)


# --------------------------------------------------------------------------- Finding
def test_finding_is_frozen_validated_and_serialisable():
    f = Finding(["dW1", "db1"], "times_m", "text", {"ratio": 16.0})
    assert f.names == ("dW1", "db1")
    assert f.to_dict() == {"names": ["dW1", "db1"], "kind": "times_m", "message": "text",
                           "details": {"ratio": 16.0}}
    json.dumps(f.to_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.kind = "sign"
    with pytest.raises(ValueError, match="kind must be one of"):
        Finding(("dW1",), "nonsense", "text")
    with pytest.raises(TypeError, match="names must be"):
        Finding("dW1", "sign", "text")


def test_tolerances_are_ordered():
    assert 0 < diagnosis.MATCH_RTOL < diagnosis.SCALE_RTOL < diagnosis.NEAR_MISS_RTOL < 1e-2
    assert diagnosis.FACTOR_RTOL < 1e-3 and diagnosis.NEAR_MISS_MAX_ELEMENTS >= 1
    assert diagnosis.FLAG_RTOL < diagnosis.MATCH_RTOL


def test_tolerances_live_in_the_tolerances_module_and_flag_like_the_checker():
    for name in ("MATCH_RTOL", "MATCH_ATOL", "FLAG_RTOL", "FLAG_ATOL", "MODEL_RTOL", "SCALE_RTOL",
                 "FACTOR_RTOL", "SCALE_MIN_SUPPORT", "NEAR_MISS_RTOL", "NEAR_MISS_MAX_ELEMENTS",
                 "FIT2_MIN_SIZE", "COLLINEAR_COS"):
        assert getattr(diagnosis, name) == getattr(tolerances, "DIAGNOSIS_" + name), name
        assert "DIAGNOSIS_" + name in tolerances.__all__
    table = tolerances.fd_tolerances(np.float64)
    assert (diagnosis.FLAG_RTOL, diagnosis.FLAG_ATOL) == (table["autograd_rtol"],
                                                          table["autograd_atol"])


# --------------------------------------------------------------------------- equal means silent
def test_equal_up_to_rounding_gives_no_finding(arrays):
    rng, e, b = arrays
    noise = e * (1 + 1e-13 * rng.standard_normal(e.shape))
    assert diagnose_array("dW2", noise, e, {"m": 16}) is None
    assert diagnose({"dW2": noise, "db2": b.copy()}, {"dW2": e, "db2": b}, {"m": 16}) == []
    assert diagnose({}, {}, None) == []


def test_a_difference_the_checker_flags_is_reported_even_below_the_match_tolerance(arrays):
    _, e, b = arrays
    wrong = e.copy()
    wrong[2, 3] += 3e-10 * np.max(np.abs(e))  # below MATCH_RTOL, above the checker's rule
    assert np.max(np.abs(wrong - e)) < diagnosis.MATCH_RTOL * np.max(np.abs(e))
    f = diagnose_array("dW2", wrong, e, {"m": 16})
    assert f.kind == "near_miss" and f.details["elements"] == [[2, 3]]
    assert f.message.startswith("1 of 40 elements differs: dW2[2,3] is ")
    [g] = diagnose({"dW2": wrong, "db2": b.copy()}, {"dW2": e, "db2": b}, {"m": 16})
    assert (g.kind, g.names) == ("near_miss", ("dW2",))
    everywhere = e * (1 + 4e-10 * np.sign(e))  # every element, still below MATCH_RTOL
    f = diagnose_array("dW2", everywhere, e, {"m": 16})
    assert f.kind == "near_miss" and "40 of 40 elements of dW2 differ slightly" in f.message
    assert "4.0e-10 of the largest entry" in f.message


def test_every_array_the_checker_fails_gets_a_finding():
    net, params, X, Y = example_case("relu_bce", seed=4)

    def almost(p, X_, Y_):
        _, grads = net.gradients(p, X_, Y_)
        grads["dW2"] = grads["dW2"].copy()
        grads["dW2"][1, 2] += 3e-10 * np.max(np.abs(grads["dW2"]))
        return grads

    result = check_network(almost, net, params, X, Y, oracle="autograd")
    assert not result.passed
    assert [(f.kind, f.names) for f in result.diagnosis] == [("near_miss", ("dW2",))]
    assert "dW2[1,2]" in result.diagnosis[0].message


def test_optional_intermediates_may_be_absent_but_parameters_may_not(arrays):
    _, e, b = arrays
    expected = {"dW1": e, "db1": b, "dZ1": e, "dA0": e}
    assert diagnose({"dW1": e, "db1": b}, expected) == []
    [f] = diagnose({"dW1": e}, expected)
    assert (f.kind, f.names) == ("missing", ("db1",)) and "(4, 1)" in f.message


# --------------------------------------------------------------------------- constant factors
@pytest.mark.parametrize("name,factor,m,kind,words", [
    ("dW2", 16.0, 16, "times_m", "dW2 is m = 16 times too large: the 1/m averaging is missing"),
    ("db2", 16.0, 16, "times_m", "db2 is m = 16 times too large: the 1/m averaging is missing"),
    ("dW2", 1 / 16, 16, "over_m", "dW2 is m = 16 times too small: divided by m twice"),
    ("dZ1", 1 / 16, 16, "over_m", "per-example"),
    ("dW2", 2.0, 16, "times_2", "2 times too large"),
    ("dW2", 0.5, 16, "half", "a factor 2 is missing"),
    ("dW2", -1.0, 16, "sign", "dW2 has the wrong sign: following it is gradient ascent"),
    ("dW2", -16.0, 16, "times_m", "the sign is wrong"),
    ("dW2", 3.7, 16, "scale", "3.7 times the expected value"),
    ("dW2", 1.0001, 16, "near_miss", "1.0001× the expected value"),
    ("dW2", 0.0, 16, "zero", "all zeros"),
], ids=lambda v: str(v))
def test_constant_factors_are_named(arrays, name, factor, m, kind, words):
    _, e, _ = arrays
    f = diagnose_array(name, factor * e, e, {"m": m})
    assert f.kind == kind and f.names == (name,)
    assert words in f.message


def test_factor_in_db_only_names_db_only(arrays):
    _, e, b = arrays
    findings = diagnose({"dW1": e, "db1": 16 * b, "dW2": e, "db2": 16 * b},
                        {"dW1": e, "db1": b, "dW2": e, "db2": b}, {"m": 16})
    assert [(f.kind, set(f.names)) for f in findings] == [("times_m", {"db1", "db2"})]
    assert findings[0].message.startswith("db2 and db1 are m = 16 times too large")


def test_a_random_error_is_not_called_a_factor(arrays):
    rng, e, _ = arrays
    for _ in range(20):
        wrong = e + rng.standard_normal(e.shape) * 10 ** rng.uniform(-3, 1)
        f = diagnose_array("dW2", wrong, e, {"m": 16})
        assert f.kind in ("mismatch", "near_miss")
        assert "m = 16" not in f.message and "times too" not in f.message


def test_a_factor_with_noise_is_not_claimed(arrays):
    rng, e, _ = arrays
    f = diagnose_array("dW2", 16 * e + 1e-4 * rng.standard_normal(e.shape), e, {"m": 16})
    assert f.kind == "mismatch"
    assert "relative error" in f.message and "dW2[" in f.message


def test_m_equal_2_reports_both_candidates(arrays):
    _, e, _ = arrays
    up, down = diagnose_array("dW2", 2 * e, e, {"m": 2}), diagnose_array("dW2", e / 2, e, {"m": 2})
    assert up.kind == down.kind == "m_or_2"
    assert "1/m averaging is missing" in up.message and "extra factor 2" in up.message
    assert "divided by m twice" in down.message and "factor 2 is missing" in down.message


def test_m_equal_1_never_claims_m_and_says_why(arrays):
    _, e, _ = arrays
    f = diagnose_array("dW2", 2 * e, e, {"m": 1})
    assert f.kind == "times_2" and "m = 1" in f.message and "cannot show" in f.message
    f = diagnose_array("dW2", 16 * e, e, {"m": 1})
    assert f.kind == "scale" and "m = 1" in f.message


def test_unknown_m_gives_a_conditional_statement(arrays):
    _, e, _ = arrays
    f = diagnose_array("dW2", 16 * e, e, None)
    assert f.kind == "scale" and "if m = 16" in f.message


def test_a_single_number_needs_a_named_factor(arrays):
    assert diagnose_array("cost", 3.7, 1.0, {"m": 16}).kind == "mismatch"
    f = diagnose_array("cost", 16.0, 1.0, {"m": 16})
    assert f.kind == "times_m"
    f = diagnose_array("cost", -2.5, 2.5, {"m": 16})
    assert f.kind == "sign" and "gradient ascent" not in f.message


# --------------------------------------------------------------------------- shapes
def test_shapes(arrays):
    _, e, b = arrays
    ctx = {"m": 16}
    f = diagnose_array("dW2", e.T, e, ctx)
    assert f.kind == "transpose" and "(8, 5) instead of (5, 8)" in f.message
    assert "right once transposed" in f.message
    f = diagnose_array("dW2", 16 * e.T, e, ctx)
    assert f.kind == "transpose" and f.details["then"] == "times_m" and "1/m" in f.message
    f = diagnose_array("db2", b.ravel(), b, ctx)
    assert f.kind == "keepdims" and "keepdims=True" in f.message and "values are right" in f.message
    f = diagnose_array("db2", b.T, b, ctx)
    assert f.kind == "transpose" and "row" in f.message and "column" in f.message
    f = diagnose_array("db2", np.ones((1, 16)), b, ctx)
    assert f.kind == "wrong_axis" and "one entry per example" in f.message
    f = diagnose_array("db2", np.ones(16), b, ctx)
    assert f.kind == "wrong_axis"
    f = diagnose_array("db2", 0.5, b, ctx)
    assert f.kind == "wrong_axis" and "single number" in f.message
    f = diagnose_array("dW2", e[:3], e, ctx)
    assert f.kind == "shape" and "(3, 8) but should be (5, 8)" in f.message
    f = diagnose_array("dW2", np.ones((5, 16)), e, ctx)
    assert f.kind == "shape" and "one column per example" in f.message
    f = diagnose_array("dW2", np.ones((5, 5)), e, ctx)
    assert f.kind == "shape" and "A2" in f.message


def test_square_transpose_and_symmetric_matrices(arrays):
    rng, _, _ = arrays
    s = rng.standard_normal((4, 4))
    f = diagnose_array("dW2", s.T, s, {"m": 16})
    assert f.kind == "transpose" and "square" in f.message
    sym = s + s.T
    assert diagnose_array("dW2", sym.T, sym, {"m": 16}) is None


def test_wrong_axis_values_are_verified_against_dZ():
    net, params, X, Y, truth = _net_case()
    dZ = truth["dZ2"]
    f = diagnose_array("db2", np.sum(dZ, axis=0, keepdims=True) / 16, truth["db2"],
                       _ctx(net, params, X, Y))
    assert f.kind == "wrong_axis" and f.details["verified"] == "Σ over axis 0, over m"
    f = diagnose_array("db2", np.sum(dZ) / 16, truth["db2"], _ctx(net, params, X, Y))
    assert f.kind == "wrong_axis" and "Σ of all of dZ" in f.message


# --------------------------------------------------------------------------- bad values
def test_missing_type_and_nonfinite(arrays):
    _, e, _ = arrays
    assert diagnose_array("dW2", None, e).kind == "missing"
    f = diagnose_array("dW2", "abc", e)
    assert f.kind == "type" and "str" in f.message
    assert diagnose_array("dW2", np.ones((5, 8), dtype=bool), e).kind == "type"
    bad = e.copy()
    bad[1, 2] = np.nan
    f = diagnose_array("dW2", bad, e)
    assert f.kind == "nonfinite" and "dW2[1,2]" in f.message


# --------------------------------------------------------------------------- near misses
def test_near_miss_names_the_element_and_the_factor(arrays):
    _, e, _ = arrays
    wrong = e.copy()
    wrong[3, 1] *= 1.0001
    f = diagnose_array("dW2", wrong, e, {"m": 16})
    assert f.kind == "near_miss"
    assert f.message == "1 of 40 elements differs: dW2[3,1] is 1.0001× the expected value"
    wrong[0, 0] = 0.0
    f = diagnose_array("dW2", wrong, e, {"m": 16})
    assert f.kind == "near_miss" and f.message.startswith("2 of 40 elements differ")


def test_tiny_relative_errors_everywhere_are_a_near_miss(arrays):
    rng, e, _ = arrays
    f = diagnose_array("dW2", e * (1 + 1e-5 * rng.standard_normal(e.shape)), e, {"m": 16})
    assert f.kind == "near_miss" and "near miss" in f.message


def test_fallback_reports_error_and_worst_element_only(arrays):
    rng, e, _ = arrays
    wrong = rng.standard_normal(e.shape)
    f = diagnose_array("dW2", wrong, e, {"m": 16})
    worst = np.unravel_index(np.argmax(np.abs(wrong - e)), e.shape)
    assert f.kind == "mismatch" and f.details["worst"] == list(worst)
    assert f"dW2[{worst[0]},{worst[1]}]" in f.message
    assert f.details["relative_error"] == pytest.approx(np.linalg.norm(wrong - e)
                                                        / np.linalg.norm(e))


# --------------------------------------------------------------------------- L2
@pytest.mark.parametrize("term,kind,words", [
    (lambda lam, m, W: 0 * W, "l2_missing", "missing the L2 term"),
    (lambda lam, m, W: lam * W, "l2_wrong", "λ·W1 instead of λ/m·W1"),
    (lambda lam, m, W: 2 * lam / m * W, "l2_wrong", "2λ/m·W1"),
    (lambda lam, m, W: lam / (2 * m) * W, "l2_wrong", "λ/(2m)"),
    (lambda lam, m, W: -lam / m * W, "l2_wrong", "wrong sign"),
], ids=["missing", "no-m", "double", "half", "sign"])
def test_wrong_l2_terms(term, kind, words):
    net, params, X, Y, truth = _net_case("tanh_square_l2")
    lam, m, W = net.l2, X.shape[1], params["W1"]
    data = truth["dW1"] - lam / m * W
    f = diagnose_array("dW1", data + term(lam, m, W), truth["dW1"], _ctx(net, params, X, Y))
    assert f.kind == kind and words in f.message


def test_factor_on_the_data_part_with_a_right_l2_term():
    net, params, X, Y, truth = _net_case("tanh_square_l2")
    lam, m, W = net.l2, X.shape[1], params["W2"]
    wrong = m * (truth["dW2"] - lam / m * W) + lam / m * W
    f = diagnose_array("dW2", wrong, truth["dW2"], _ctx(net, params, X, Y))
    assert f.kind == "times_m" and "data part" in f.message and "L2 term λ/m·W is right" in f.message


def test_l2_on_the_bias():
    net, params, X, Y, truth = _net_case("tanh_square_l2")
    wrong = truth["db1"] + net.l2 / X.shape[1] * params["b1"]
    f = diagnose_array("db1", wrong, truth["db1"], _ctx(net, params, X, Y))
    assert f.kind == "l2_bias" and "not regularised" in f.message


# --------------------------------------------------------------------------- activation derivatives
def test_activation_derivative_is_named_from_the_cache():
    net, params, X, Y, truth = _net_case("sigmoid_softmax")
    _, cache = net.forward(params, X)
    s = cache["A1"]
    wrong_dZ1 = truth["dA1"] * s
    f = diagnose_array("dZ1", wrong_dZ1, truth["dZ1"], _ctx(net, params, X, Y))
    assert f.kind == "activation_derivative"
    assert "dZ1 matches s instead of s·(1−s)" in f.message and "missing a factor" in f.message
    analytic = dict(truth, dZ1=wrong_dZ1, dW1=wrong_dZ1 @ X.T / 16,
                    db1=np.sum(wrong_dZ1, axis=1, keepdims=True) / 16,
                    dA0=params["W1"].T @ wrong_dZ1)
    [f] = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert f.kind == "activation_derivative" and f.message.startswith(
        "dZ1 matches s instead of s·(1−s)")
    assert "dW2 and db2 are right" in f.message


def test_relu_mask_at_exact_kinks_is_not_a_mistake():
    net, params, X, Y = example_case("relu_bce", kinks=True)
    truth = oracle_gradients(net, params, X, Y)
    _, cache = net.forward(params, X)
    dZ2 = truth["dA2"] * (cache["Z2"] >= 0)
    assert not np.allclose(dZ2, truth["dZ2"])
    assert diagnose_array("dZ2", dZ2, truth["dZ2"], _ctx(net, params, X, Y)) is None
    assert diagnose_array("dZ2", dZ2, truth["dZ2"], {"m": 16}) is not None  # no cache: no kinks known


def test_candidate_tables_are_consistent():
    ids = [c.id for c in diagnosis.STEP_CANDIDATES] + [c.id for c in diagnosis.LOSS_CANDIDATES]
    assert len(ids) == len(set(ids))
    for c in diagnosis.DERIVATIVE_CANDIDATES:
        assert (c.factor is None) != (c.vjp is None), c.id
    kinds = {c.kind for c in diagnosis.STEP_CANDIDATES + diagnosis.LOSS_CANDIDATES}
    assert kinds <= set(KINDS)


# --------------------------------------------------------------------------- by layer
def test_upper_layers_right_lower_layers_wrong():
    net, params, X, Y, truth = _net_case()
    rng = np.random.default_rng(7)
    analytic = {k: v for k, v in truth.items() if k[1] in "Wb"}
    for k in ("dW2", "db2", "dW1", "db1"):
        analytic[k] = analytic[k] + rng.standard_normal(analytic[k].shape)
    [f] = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert f.kind == "lower_layers"
    assert f.message.startswith("dW3 and db3 are right, layers 1–2 are wrong")
    assert "passed back" in f.message and set(f.names) == {"dW2", "db2", "dW1", "db1"}


def test_a_local_error_below_right_layers_is_not_blamed_on_passing_back():
    net, params, X, Y, truth = _net_case()
    analytic = {k: v for k, v in truth.items() if k[1] in "Wb"}
    analytic["dW2"] = analytic["dW2"] + np.random.default_rng(3).standard_normal((4, 5))
    [f] = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert f.kind == "mismatch" and f.names == ("dW2",)


def test_lower_layers_wrong_after_an_explained_top_layer_are_called_propagated():
    net, params, X, Y, truth = _net_case()
    rng = np.random.default_rng(5)
    analytic = {k: v for k, v in truth.items() if k[1] in "Wb"}
    analytic["dW3"], analytic["db3"] = -analytic["dW3"], -analytic["db3"]
    for k in ("dW2", "db2", "dW1", "db1"):
        analytic[k] = analytic[k] + rng.standard_normal(analytic[k].shape)
    findings = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert [f.kind for f in findings] == ["sign", "propagated"]
    assert "fix layer 3 first" in findings[1].message


def test_whole_network_explanation_beats_per_array_findings():
    net, params, X, Y, truth = _net_case("tanh_square_l2")
    _, cache = net.forward(params, X)
    # layer 2's tanh derivative written 1 - t: layer 3 right, layer 1 wrong as a consequence
    analytic = {}
    dZ = truth["dZ3"]
    for l in (3, 2, 1):
        analytic[f"dW{l}"] = dZ @ cache[f"A{l - 1}"].T / 16 + net.l2 / 16 * params[f"W{l}"]
        analytic[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / 16
        dA = params[f"W{l}"].T @ dZ
        if l == 3:
            dZ = dA * (1 - cache["A2"])
        elif l == 2:
            dZ = dA * (1 - cache["A1"] ** 2)
    [f] = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert f.kind == "activation_derivative" and "1−t instead of 1−t²" in f.message
    assert "dW3 and db3 are right" in f.message and "layer 1 is wrong only as a consequence" in f.message


def test_a_lower_layer_is_not_blamed_on_a_mistake_that_is_not_passed_back():
    net, params, X, Y, truth = _net_case()
    rng = np.random.default_rng(5)
    analytic = {k: v for k, v in truth.items() if k[1] in "Wb"}
    analytic["db3"] = 16 * analytic["db3"]  # db is never passed back
    for k in ("dW2", "db2", "dW1", "db1"):
        analytic[k] = analytic[k] + rng.standard_normal(analytic[k].shape)
    for ctx in (_ctx(net, params, X, Y), {"m": 16}):
        findings = diagnose(analytic, truth, ctx)
        assert [f.kind for f in findings] == ["times_m", "lower_layers"]
        text = findings[1].message
        assert "not as a consequence of the mistake in layer 3" in text
        assert "dW3 is right" in text and "db is never passed back" in text
        assert "mistake of their own" in text and "probably only as a consequence" not in text


# --------------------------------------------------------------------------- several mistakes
def _buggy_gradients():
    """examples/implementations/buggy.py: db without 1/m, relu backward dA * relu(Z)."""
    spec = importlib.util.spec_from_file_location("buggy_example", BUGGY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.gradients


def test_buggy_py_gets_both_mistakes_named_and_no_false_consequence():
    net, params, X, Y, truth = _net_case("relu_bce")
    analytic = _buggy_gradients()(params, X, Y)
    findings = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert [f.kind for f in findings] == ["times_m", "activation_derivative"]
    mean, relu = findings
    assert mean.names == ("db3", "db2", "db1")
    assert mean.message.startswith("db3, db2 and db1 are m = 16 times too large: the 1/m "
                                   "averaging is missing")
    assert relu.message.startswith("dW2 and dW1 match the activation value A = g(Z) instead of "
                                   "the mask [Z > 0] as the relu derivative in layers 1–2")
    assert {"dW2", "dW1"} <= set(relu.names) and "dW3" not in relu.names
    assert all("consequence" not in f.message for f in findings)


def test_two_mistakes_in_one_layer_and_a_third_below():
    net, params, X, Y, truth = _net_case("tanh_square_l2")
    _, cache = net.forward(params, X)
    lam, m = net.l2, X.shape[1]
    analytic, dZ = {}, truth["dZ3"]
    for l in (3, 2, 1):  # layer 2: tanh derivative 1 − t and dW without the 1/m; layer 1: no L2
        data = dZ @ cache[f"A{l - 1}"].T / m
        analytic[f"dW{l}"] = (m * data if l == 2 else data) + (lam / m * params[f"W{l}"]
                                                             if l != 1 else 0)
        analytic[f"db{l}"] = np.sum(dZ, axis=1, keepdims=True) / m
        dA = params[f"W{l}"].T @ dZ
        if l > 1:
            A = cache[f"A{l - 1}"]
            dZ = dA * ((1 - A) if l == 3 else (1 - A ** 2))
    findings = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert [f.kind for f in findings] == ["activation_derivative", "times_m", "l2_missing"]
    assert "1−t instead of 1−t²" in findings[0].message and "layer 2" in findings[0].message
    assert findings[1].names == ("dW2",) and "the 1/m averaging is missing" in findings[1].message
    assert findings[2].names == ("dW1",) and "L2 term λ/m·W1 is missing" in findings[2].message


def test_a_layer_that_no_slip_explains_is_left_unexplained_below_the_named_mistakes():
    net, params, X, Y, truth = _net_case("relu_bce")
    analytic = _buggy_gradients()(params, X, Y)
    dW1 = analytic["dW1"]
    analytic["dW1"] = dW1 * (1 + 1e-6 * np.arange(dW1.size).reshape(dW1.shape))  # no candidate
    findings = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert [f.kind for f in findings] == ["times_m", "activation_derivative", "lower_layers"]
    assert findings[0].names == ("db3", "db2")
    assert "relu derivative in layer 2" in findings[1].message and "dW1" not in findings[1].names
    assert findings[2].names == ("dW1", "db1")
    assert "no known slip in layer 1 reproduces them" in findings[2].message
    assert all("only as a consequence" not in f.message for f in findings)


# --------------------------------------------------------------------------- all zeros
def test_an_all_zero_gradient_is_all_zeros_even_when_a_candidate_gives_zeros_too():
    net, params, X, Y = example_case("relu_bce", seed=2)
    params["b3"] = params["b3"] - 30.0  # every Z3 < 0: relu's derivative at the output is 0
    truth = oracle_gradients(net, params, X, Y)
    analytic = {k: np.zeros_like(v) for k, v in truth.items() if k[1] in "Wb"}
    [f] = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert f.kind == "zero" and "all zeros" in f.message and "relu" not in f.message
    assert set(f.names) == set(analytic)


def test_all_zero_arrays_come_first():
    net, params, X, Y, truth = _net_case()
    analytic = {k: v for k, v in truth.items() if k[1] in "Wb"}
    analytic["dW3"], analytic["dW1"] = 16 * analytic["dW3"], np.zeros_like(analytic["dW1"])
    findings = diagnose(analytic, truth, _ctx(net, params, X, Y))
    assert [(f.kind, f.names) for f in findings][0] == ("zero", ("dW1",))
    assert ("times_m", ("dW3",)) in [(f.kind, f.names) for f in findings]


# --------------------------------------------------------------------------- dA_prev of layer 1
def _one_layer_case(n_out, n_in, m=5, seed=1):
    """A single layer as the grader replays it: a linear layer, half-square target Y = A − dZ."""
    rng = np.random.default_rng(seed)
    W, b = rng.standard_normal((n_out, n_in)), rng.standard_normal((n_out, 1))
    A_prev, dZ = rng.standard_normal((n_in, m)), rng.standard_normal((n_out, m))
    net = Network([n_in, n_out], ["linear"], "half_square")
    params = {"W1": W, "b1": b}
    A, cache = net.forward(params, A_prev)
    Y = A - dZ
    truth = oracle_gradients(net, params, A_prev, Y)
    ctx = {"m": m, "net": net, "params": params, "cache": cache, "X": A_prev, "Y": Y}
    return W, dZ, truth, ctx


@pytest.mark.parametrize("n_out,n_in,words", [
    (3, 3, "dA0 is computed as W1·dZ1 instead of W1ᵀ·dZ1 in layer 1 (W1 must be transposed)"),
    (2, 3, "dA0 is computed as reshape(W1)·dZ1 instead of W1ᵀ·dZ1 in layer 1 (W1 must be "
           "transposed: a reshape"),
], ids=["square-no-transpose", "reshape"])
def test_dA_prev_without_the_transpose_is_named_in_layer_1(n_out, n_in, words):
    W, dZ, truth, ctx = _one_layer_case(n_out, n_in)
    wrong = W.reshape(n_in, n_out) @ dZ  # W itself when square
    analytic = {"dW1": truth["dW1"], "db1": truth["db1"], "dA0": wrong}
    [f] = diagnose(analytic, {k: truth[k] for k in analytic}, ctx)
    assert f.kind == "dA_prev" and words in f.message and f.message.startswith("dW1 and db1 are right")
    f = diagnose_array("dA0", wrong, truth["dA0"], ctx)
    assert f.kind == "dA_prev" and f.message.startswith(words)


# --------------------------------------------------------------------------- degrading context
@pytest.mark.parametrize("ctx_change", [
    {"params": None}, {"Y": None}, {"net": None}, {"X": None, "cache": None},
    {"params": {"W1": np.zeros((2, 2))}}, {"cache": {"A0": np.zeros((3, 16))}},
    {"net": "not a network"}, {"Y": np.zeros((3, 3))},
], ids=["no-params", "no-Y", "no-net", "no-X", "bad-params", "bad-cache", "net-str", "bad-Y"])
def test_incomplete_context_degrades_to_array_level(ctx_change):
    net, params, X, Y, truth = _net_case()
    analytic = {k: v for k, v in truth.items() if k[1] in "Wb"}
    analytic["dW2"] = 16 * analytic["dW2"]
    ctx = dict(_ctx(net, params, X, Y), **ctx_change)
    [f] = diagnose(analytic, truth, ctx)
    assert f.kind == "times_m" and f.names == ("dW2",)


def test_a_context_that_does_not_reproduce_expected_is_ignored():
    net, params, X, Y, truth = _net_case("sigmoid_softmax")
    _, cache = net.forward(params, X)
    wrong = truth["dA1"] * cache["A1"]
    other = {k: v + 0.5 for k, v in params.items()}  # context from other parameters
    f = diagnose_array("dZ1", wrong, truth["dZ1"], _ctx(net, other, X, Y))
    assert f.kind != "activation_derivative"
    [g] = diagnose({"dZ1": wrong, "dW1": truth["dW1"]}, {"dZ1": truth["dZ1"], "dW1": truth["dW1"]},
                   _ctx(net, other, X, Y))
    assert g.kind != "activation_derivative"


def test_an_estimated_truth_is_replaced_by_the_networks_exact_gradients():
    net, params, X, Y, truth = _net_case()
    rng = np.random.default_rng(9)
    estimate = {k: v * (1 + 1e-8 * rng.standard_normal(v.shape)) for k, v in truth.items()}
    ctx = _ctx(net, params, X, Y)
    assert diagnose(truth, estimate, ctx) == []
    assert diagnose_array("dW2", truth["dW2"], estimate["dW2"], ctx) is None
    [f] = diagnose(dict(truth, dW2=16 * truth["dW2"]), estimate, ctx)
    assert f.kind == "times_m" and f.names == ("dW2",)
    assert diagnose_array("dW2", truth["dW2"], estimate["dW2"], {"m": 16}) is not None


# --------------------------------------------------------------------------- bad calls
@pytest.mark.parametrize("call,error,words", [
    (lambda: diagnose([], {}), TypeError, "analytic must be a dict"),
    (lambda: diagnose({}, [1]), TypeError, "expected must be a dict"),
    (lambda: diagnose({}, {"dW1": "x"}), TypeError, r"expected\['dW1'\]"),
    (lambda: diagnose({}, {"dW1": [np.nan]}), ValueError, "NaN"),
    (lambda: diagnose({}, {}, context=[1]), TypeError, "context must be a dict"),
    (lambda: diagnose({}, {}, context={"m": 0}), ValueError, r"context\['m'\]"),
    (lambda: diagnose({}, {}, context={"m": "16"}), TypeError, r"context\['m'\]"),
    (lambda: diagnose({}, {}, context={"m": True}), TypeError, r"context\['m'\]"),
    (lambda: diagnose_array(3, 1.0, 1.0), TypeError, "name must be"),
    (lambda: diagnose_array("", 1.0, 1.0), TypeError, "name must be"),
    (lambda: diagnose_array("dW1", 1.0, None), TypeError, r"expected\['dW1'\]"),
], ids=["analytic-list", "expected-list", "expected-str", "expected-nan", "context-list",
        "m-zero", "m-str", "m-bool", "name-int", "name-empty", "expected-none"])
def test_bad_calls_raise_naming_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()
