"""The mutant catalogue against the diagnosis, with the autograd oracle as the truth.

Every mutant, on every architecture of ``ARCHITECTURES`` it applies to, must be diagnosed with
one of its declared kinds and a message containing its declared words; correct gradients (the
reference's and the catalogue's own correct pass, on random architectures) must never be flagged.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradref.checks.api import check_network
from gradref.checks.diagnosis import KINDS, diagnose
from gradref.checks.mutants import (
    ARCHITECTURES,
    MUTANTS,
    Backprop,
    Mutant,
    architecture,
    correct_backward,
    example_case,
    mutants_for,
)
from gradref.checks.oracle import oracle_gradients
from gradref.checks.strategies import network_cases
from hypothesis import given, settings

PAIRS = [(mu.id, arch) for mu in MUTANTS.values() for arch in ARCHITECTURES
         if mu.applies(architecture(arch))]


def _context(net, params, X, Y, m=None):
    return {"m": X.shape[1] if m is None else m, "net": net, "params": params, "cache": None,
            "X": X, "Y": Y}


def _caught(mutant: Mutant, findings) -> bool:
    """Every planted mistake (two for a composite mutant) named by a finding of its kind."""
    return all(any(f.kind in kinds and all(w.lower() in f.message.lower() for w in words)
                   for f in findings) for kinds, words in mutant.expectations())


# --------------------------------------------------------------------------- the catalogue
def test_catalogue_has_at_least_30_real_mistakes_with_valid_metadata():
    real = [mu for mu in MUTANTS.values() if not mu.acceptable]
    assert len(real) >= 30
    for mu in MUTANTS.values():
        assert mu.id and mu.description and mu.requires
        assert set(mu.kinds) <= set(KINDS), mu.id
        assert all(set(kinds) <= set(KINDS) and kinds and words for kinds, words in mu.also), mu.id
        assert bool(mu.kinds) != mu.acceptable and not (mu.acceptable and mu.also), mu.id
        assert mu.layers in ("all", "first", "middle", "last")
        assert set(mu.keys) <= {"dW", "db", "dZ", "dA"}
        json.dumps(mu.to_dict())


def test_catalogue_covers_the_required_mistakes():
    kinds = {k for mu in MUTANTS.values() for k in mu.kinds}
    for kind in ("times_m", "over_m", "times_2", "half", "sign", "transpose", "wrong_axis",
                 "keepdims", "activation_derivative", "loss_derivative", "dA_prev", "a_prev",
                 "bias", "l2_missing", "l2_wrong", "l2_bias", "near_miss"):
        assert kind in kinds
    layers = {mu.layers for mu in MUTANTS.values()}
    assert {"first", "middle", "last"} <= layers


def test_catalogue_has_composite_mutants_in_the_same_and_in_different_layers():
    composite = {mu.id: mu for mu in MUTANTS.values() if mu.also}
    assert len(composite) >= 5 and "buggy_py" in composite
    for mu in composite.values():  # two different mistakes: two different findings
        assert not set(mu.kinds) & {k for kinds, _ in mu.also for k in kinds}, mu.id


def test_buggy_py_mutant_names_both_mistakes_and_no_false_consequence():
    mutant = MUTANTS["buggy_py"]
    net, params, X, Y = example_case("relu_bce", seed=3)
    findings = diagnose(mutant(net, params, X, Y), oracle_gradients(net, params, X, Y),
                        _context(net, params, X, Y))
    assert [f.kind for f in findings] == ["times_m", "activation_derivative"]
    assert findings[0].names == ("db3", "db2", "db1")
    assert {"dZ2", "dZ1"} <= set(findings[1].names) and "dZ3" not in findings[1].names
    assert all("consequence" not in f.message for f in findings)


@pytest.mark.parametrize("mutant_id", sorted(MUTANTS))
def test_every_mutant_applies_to_some_architecture(mutant_id):
    assert any(mid == mutant_id for mid, _ in PAIRS)


@pytest.mark.parametrize("mutant_id,arch", PAIRS)
def test_mutant_is_caught_with_the_expected_diagnosis(mutant_id, arch):
    mutant = MUTANTS[mutant_id]
    net, params, X, Y = example_case(arch, seed=11, kinks=mutant.acceptable)
    expected = oracle_gradients(net, params, X, Y)
    grads = mutant(net, params, X, Y)
    changed = [k for k in expected if k in grads and (np.shape(grads[k]) != expected[k].shape
                                                       or not np.allclose(grads[k], expected[k],
                                                                          rtol=1e-12, atol=0))]
    assert changed, "the mutant must differ from the truth on its example"
    for keys in ("all", "parameters"):
        analytic = grads if keys == "all" else {k: v for k, v in grads.items() if k[1] in "Wb"}
        findings = diagnose(analytic, expected, _context(net, params, X, Y))
        if mutant.acceptable:
            assert findings == [], [f.message for f in findings]
            continue
        assert _caught(mutant, findings), (keys, [(f.kind, f.message) for f in findings])
        hit = [f for f in findings if f.kind in mutant.kinds]
        affected = set(mutant.affected_keys(net))
        assert any(affected & set(f.names) for f in hit) or mutant.propagates
        for f in findings:
            assert f.kind in KINDS
            json.dumps(f.to_dict())


@pytest.mark.parametrize("mutant_id,arch", PAIRS)
def test_check_network_fails_every_mutant_with_the_expected_diagnosis(mutant_id, arch):
    mutant = MUTANTS[mutant_id]
    net, params, X, Y = example_case(arch, seed=11, kinks=mutant.acceptable)
    result = check_network(mutant.bind(net), net, params, X, Y)
    if mutant.acceptable:
        assert result.passed and result.diagnosis == []
        return
    assert not result.passed
    assert _caught(mutant, result.diagnosis), [(f.kind, f.message) for f in result.diagnosis]


def test_acceptable_kink_mutant_really_differs_at_the_kinks():
    mutant = MUTANTS["relu_mask_z_nonneg"]
    net, params, X, Y = example_case("relu_bce", kinks=True)
    _, cache = net.forward(params, X)
    assert np.any(cache["Z1"] == 0.0)
    grads, truth = mutant(net, params, X, Y), correct_backward(net, params, X, Y)
    assert not np.allclose(grads["dZ1"], truth["dZ1"])
    assert diagnose(grads, oracle_gradients(net, params, X, Y),
                    _context(net, params, X, Y)) == []


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_correct_pass_is_never_flagged_on_the_catalogue_architectures(arch):
    for seed in range(3):
        net, params, X, Y = example_case(arch, seed=seed)
        expected = oracle_gradients(net, params, X, Y)
        assert diagnose(correct_backward(net, params, X, Y), expected,
                        _context(net, params, X, Y)) == []


@settings(max_examples=60)
@given(network_cases(max_depth=4, max_width=6, max_batch=12))
def test_correct_gradients_are_never_flagged_on_random_architectures(case):
    net, params, X, Y = case
    expected = oracle_gradients(net, params, X, Y)
    _, reference = net.gradients(params, X, Y)
    ctx = _context(net, params, X, Y)
    assert diagnose(reference, expected, ctx) == []
    assert diagnose(correct_backward(net, params, X, Y), expected, ctx) == []
    assert diagnose(reference, expected, None) == []


# --------------------------------------------------------------------------- m = 1 and m = 2
def test_missing_mean_is_undetectable_with_one_example_and_not_claimed():
    mutant = MUTANTS["dw_db_no_mean"]
    net, params, X, Y = example_case("relu_bce", m=1)
    findings = diagnose(mutant(net, params, X, Y), oracle_gradients(net, params, X, Y),
                        _context(net, params, X, Y))
    assert findings == []  # with m = 1, dZ·Aᵀ and dZ·Aᵀ/m are the same numbers


def test_missing_mean_with_two_examples_reports_both_candidates():
    mutant = MUTANTS["dw_no_mean"]
    net, params, X, Y = example_case("relu_bce", m=2)
    findings = diagnose(mutant(net, params, X, Y), oracle_gradients(net, params, X, Y),
                        _context(net, params, X, Y))
    assert [f.kind for f in findings] == ["m_or_2"]
    text = findings[0].message
    assert "1/m" in text and "factor 2" in text and "another m" in text


# --------------------------------------------------------------------------- the API
def test_mutant_bind_and_direct_call_agree():
    mutant = MUTANTS["tanh_not_squared"]
    net, params, X, Y = example_case(mutant)
    a, b = mutant(net, params, X, Y), mutant.bind(net)(params, X, Y)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert mutant in mutants_for(net)
    assert set(mutant.affected_keys(net)) >= {"dZ1", "dZ2"}


def test_correct_backward_matches_the_oracle_exactly_enough():
    net, params, X, Y = example_case("deep_mixed", seed=5)
    expected = oracle_gradients(net, params, X, Y)
    ours = correct_backward(net, params, X, Y)
    for k, v in expected.items():
        np.testing.assert_allclose(ours[k], v, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("call,error,words", [
    (lambda: MUTANTS["softmax_elementwise"](*example_case("relu_bce")), ValueError,
     "does not apply"),
    (lambda: example_case(3.5), TypeError, "which must be"),
    (lambda: example_case("nope"), ValueError, "unknown architecture"),
    (lambda: example_case("relu_bce", m=0), ValueError, "m must be"),
    (lambda: Backprop("net", {}, None, None), TypeError, "net must be"),
    (lambda: MUTANTS["dw_no_mean"].targets("net"), TypeError, "net must be"),
], ids=["not-applicable", "which-type", "which-name", "m-zero", "backprop-net", "targets-net"])
def test_bad_calls_raise_naming_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()
