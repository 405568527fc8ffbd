"""checks/diagnosis/optimizers.py and the catalogue checks/optimizer_mutants.py.

Every catalogue mutant (a wrong step written as student code, independently of the diagnosis'
own restatements of the mistakes) is named with its expected variant and words; the correct
steps, the reference's and the catalogue's acceptable ones, are never flagged; a case that
cannot separate two rules is reported as such; a step that fits nothing says where it differs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from gradref.checks.diagnosis.findings import KINDS
from gradref.checks.diagnosis.optimizers import (
    GENERIC_VARIANTS,
    STEP_VARIANTS,
    diagnose_step,
    indistinguishable,
    variants_for,
)
from gradref.checks.optimizer_mutants import STEP_MUTANTS, example_case
from gradref.reference.optimizers import OPTIMIZERS, init_state, optimizer_names, step
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("mid", list(STEP_MUTANTS))
def test_each_catalogue_mutant_is_named(mid):
    m = STEP_MUTANTS[mid]
    params, grads, state, hyper = example_case(m.optimizer)
    frozen = copy.deepcopy((params, grads, state))
    with np.errstate(invalid="ignore"):          # a root of a negative "s" is NaN, as for them
        new, new_state = m.fn(params, grads, state, **hyper)
    findings = diagnose_step(m.optimizer, params, grads, state, new, new_state, **hyper)
    if m.acceptable:
        assert findings == []
        return
    assert len(findings) == 1, findings
    f = findings[0]
    assert f.kind == m.kind
    assert f.details["optimizer"] == m.optimizer
    if m.variant is not None:
        assert f.details["variant"] == m.variant
        assert f.details["also_fits"] == []          # the example case separates them all
    for w in m.words:
        assert w in f.message, f.message
    assert "values differ" not in f.message
    # the diagnosis left its inputs alone
    for k in params:
        np.testing.assert_array_equal(params[k], frozen[0][k])


def test_the_catalogue_covers_every_variant_and_every_optimizer():
    named = {m.variant for m in STEP_MUTANTS.values() if m.variant}
    assert set(STEP_VARIANTS) <= named
    assert {n for n in named - set(STEP_VARIANTS) if not n.startswith("hyper_ignored:")} <= \
        set(GENERIC_VARIANTS)
    assert {m.optimizer for m in STEP_MUTANTS.values()} == set(OPTIMIZERS)
    for m in STEP_MUTANTS.values():
        assert m.kind is None or m.kind in KINDS
        assert m.acceptable == (m.kind is None)
    for v in STEP_VARIANTS.values():
        assert set(v.optimizers) <= set(OPTIMIZERS)
        assert v in variants_for(v.optimizers[0])


@pytest.mark.parametrize("name", optimizer_names())
def test_example_case_separates_every_variant(name):
    params, grads, state, hyper = example_case(name)
    assert indistinguishable(name, params, grads, state, **hyper) == []


@pytest.mark.parametrize("name", optimizer_names())
def test_variants_are_pairwise_distinct_on_the_example_case(name):
    from gradref.checks.diagnosis.optimizers import _candidates, _inputs, _same_all

    params, grads, state, hyper = example_case(name)
    with np.errstate(all="ignore"):
        cands = _candidates(name, *_inputs(name, params, grads, state, hyper))
    for i, (a, _, da, _) in enumerate(cands):
        for b, _, db, _ in cands[i + 1:]:
            assert not _same_all(da, db), (a, b)


def test_adam_eps_placement_is_indistinguishable_at_old_test_values():
    # The 2017/v1b DLS test: default ε = 1e-8 against moments of order 1, t = 2. At MATCH_RTOL
    # 1e-9 the placement still shows; with ε = 1e-14 it no longer does, and the function says so.
    params, grads, state, _ = example_case("adam")
    assert "adam_eps_inside_sqrt" not in indistinguishable("adam", params, grads, state)
    tiny = indistinguishable("adam", params, grads, state, epsilon=1e-14)
    assert tiny == ["adam_eps_inside_sqrt", "adam_folded_correction"]   # both only move ε
    # a student's ε-inside step on such a case is accepted, as nothing can tell it apart
    m = STEP_MUTANTS["adam_eps_inside"]
    new, new_state = m.fn(params, grads, state, learning_rate=0.01, beta1=0.9, beta2=0.999,
                          epsilon=1e-14)
    assert diagnose_step("adam", params, grads, state, new, new_state, epsilon=1e-14,
                         learning_rate=0.01) == []


@pytest.mark.parametrize("name", optimizer_names())
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), steps=st.integers(0, 3))
def test_the_reference_step_is_never_flagged(name, seed, steps):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=(3, 1))}
    state = None
    for _ in range(steps):
        g = {"d" + k: rng.normal(size=p.shape) for k, p in params.items()}
        params, state = step(name, params, g, state)
    g = {"d" + k: rng.normal(size=p.shape) for k, p in params.items()}
    new, new_state = step(name, params, g, state)
    assert diagnose_step(name, params, g, state, new, new_state) == []
    assert diagnose_step(name, params, g, state, new) == []


def test_first_adam_step_with_t_before_increment_divides_by_zero():
    # t = 0 in the correction: 1 - beta^0 = 0, so the student's step is NaN/inf; the variant has
    # its non-finite values at the same places.
    params, grads, _, hyper = example_case("adam")
    state = init_state("adam", params)
    m = STEP_MUTANTS["adam_t_after_use"]
    with np.errstate(all="ignore"):
        new, new_state = m.fn(params, grads, state, **hyper)
    assert not np.isfinite(new["W1"]).any()
    f, = diagnose_step("adam", params, grads, state, new, new_state, **hyper)
    assert f.details["variant"] == "adam_t_before_increment"
    assert "t = 0 instead of 1" in f.message


def test_a_step_that_fits_nothing_names_its_worst_element():
    params, grads, state, hyper = example_case("rmsprop")
    new, new_state = step("rmsprop", params, grads, state, **hyper)
    wrong = {k: v.copy() for k, v in new.items()}
    wrong["W2"][0, 1] += 0.5
    f, = diagnose_step("rmsprop", params, grads, state, wrong, new_state, **hyper)
    assert f.kind == "step_mismatch"
    assert "W2[0, 1]" in f.message and "matches no known mistake" in f.message
    assert f.details["worst"] == "W2" and f.details["index"] == [0, 1]
    delta = new["W2"][0, 1] - params["W2"][0, 1]
    scale = max(float(np.max(np.abs(new[k] - params[k]))) for k in params)
    assert f.details["relative_error"] == pytest.approx(0.5 / scale, rel=1e-9)
    assert f"{delta + 0.5:.6g}" in f.message and f"{delta:.6g}" in f.message


def test_a_nonfinite_student_step_is_a_mismatch_at_that_element():
    params, grads, state, hyper = example_case("sgd")
    new, new_state = step("sgd", params, grads, state, **hyper)
    new["b1"][2, 0] = np.nan
    f, = diagnose_step("sgd", params, grads, state, new, new_state, **hyper)
    assert f.kind == "step_mismatch" and f.details["worst"] == "b1"
    assert f.details["index"] == [2, 0]


@pytest.mark.parametrize("bad_state, words", [
    ({"t": 2}, "the returned state has no 'v'"),
    ("state", "returns no state dict (got str)"),
    (None, None),
])
def test_state_problems_are_named(bad_state, words):
    params, grads, state, hyper = example_case("momentum")
    new, right_state = step("momentum", params, grads, state, **hyper)
    if bad_state is None:   # the right update with a velocity that was not saved
        bad_state = {"t": 2, "v": state["v"]}
        words = "the returned v['W1'] is not the updated one"
    f, = diagnose_step("momentum", params, grads, state, new, bad_state, **hyper)
    assert f.kind == "step_state" and words in f.message
    assert "the update is right" in f.message
    missing_key = {"t": 2, "v": {k: a for k, a in right_state["v"].items() if k != "b2"}}
    f, = diagnose_step("momentum", params, grads, state, new, missing_key, **hyper)
    assert "v['b2']" in f.message


@pytest.mark.parametrize("new_params, exc, message", [
    ([1.0], TypeError, r"new_params must be a dict .* got \[1\.0\]"),
    ({"W1": np.zeros((3, 2))}, ValueError, r"new_params has no 'b1' for params\['b1'\] "
                                           r"\(new_params has: 'W1'\)"),
    ({}, ValueError, r"new_params has no 'W1' for params\['W1'\] \(new_params has: nothing\)"),
])
def test_bad_student_output_is_refused(new_params, exc, message):
    params, grads, state, hyper = example_case("sgd")
    with pytest.raises(exc, match=message):
        diagnose_step("sgd", params, grads, state, new_params, **hyper)


def test_wrong_shape_or_dtype_of_student_output_is_refused():
    params, grads, state, hyper = example_case("sgd")
    new, _ = step("sgd", params, grads, state, **hyper)
    with pytest.raises(ValueError, match=r"new_params\['W1'\] has shape \(2, 3\) but "
                                         r"params\['W1'\] has shape \(3, 2\)"):
        diagnose_step("sgd", params, grads, state, {**new, "W1": np.zeros((2, 3))}, **hyper)
    with pytest.raises(TypeError, match=r"new_params\['W1'\] must be a real numeric array"):
        diagnose_step("sgd", params, grads, state, {**new, "W1": np.array([["a"] * 2] * 3)},
                      **hyper)
    # integers are numbers: accepted and converted
    ints = {k: np.round(v * 0).astype(int) for k, v in new.items()}
    f, = diagnose_step("sgd", params, grads, state, ints, **hyper)
    assert f.kind == "step_mismatch"


def test_bad_step_inputs_are_refused_like_the_reference():
    params, grads, state, hyper = example_case("adam")
    with pytest.raises(ValueError, match=r"beta1 .* got 1\.0"):
        diagnose_step("adam", params, grads, state, params, beta1=1.0)
    with pytest.raises(ValueError, match=r"state of optimizer 'adam' has no 's'"):
        indistinguishable("adam", params, grads, {"t": 1, "v": state["v"]})


def test_generic_variants_are_named_for_every_optimizer():
    for name in optimizer_names():
        params, grads, state, hyper = example_case(name)
        new, new_state = step(name, params, grads, state, **hyper)
        up = {k: params[k] - (new[k] - params[k]) for k in params}
        f, = diagnose_step(name, params, grads, state, up, new_state, **hyper)
        assert f.details["variant"] == "step_sign"
        same = {k: params[k].copy() for k in params}
        f, = diagnose_step(name, params, grads, state, same, new_state, **hyper)
        assert f.details["variant"] == "step_not_taken"


def test_a_hyper_parameter_left_at_its_default_is_named():
    params, grads, state, hyper = example_case("adam")
    wrong, ws = step("adam", params, grads, state, **{**hyper, "beta2": 0.999})
    f, = diagnose_step("adam", params, grads, state, wrong, ws, **hyper)
    assert f.details["variant"] == "hyper_ignored:beta2"
    assert "ignores the given beta2 = 0.888 and uses 0.999" in f.message
    # a value equal to the default is no candidate (it would fit the correct step)
    new, ns = step("adam", params, grads, state, **{**hyper, "beta2": 0.999})
    assert diagnose_step("adam", params, grads, state, new, ns, **{**hyper, "beta2": 0.999}) == []


def test_ambiguous_fits_are_listed():
    # With lr = 1 the missing learning rate changes nothing: SGD fits, nothing is flagged; with
    # the sign flipped as well both "uphill" and nothing else fit.
    params, grads, state, _ = example_case("sgd")
    assert indistinguishable("sgd", params, grads, state, learning_rate=1.0) == [
        "step_no_learning_rate"]
    up = {k: params[k] + grads["d" + k] for k in params}
    f, = diagnose_step("sgd", params, grads, state, up, learning_rate=1.0)
    assert f.details["variant"] == "step_sign" and f.details["also_fits"] == []


def test_without_momentum_terms_the_corrections_cannot_be_seen():
    # β1 = β2 = 0: 1 - β^t = 1 for every t >= 1, so every correction mistake is the right step
    # (the folded form's factor √(1 - β2^t)/(1 - β1^t) is 1 as well; with β1 = β2, swapping
    # them changes nothing).
    params, grads, state, hyper = example_case("adam")
    hyper.update(beta1=0.0, beta2=0.0)
    assert indistinguishable("adam", params, grads, state, **hyper) == [
        "adam_no_bias_correction", "adam_no_first_correction", "adam_no_second_correction",
        "adam_t_before_increment", "adam_t_incremented_twice", "adam_folded_correction",
        "adam_betas_swapped",
        # and every pair of correction and t mistakes (COMBINED_VARIANTS)
        "adam_no_first_correction+adam_t_before_increment",
        "adam_no_first_correction+adam_t_incremented_twice",
        "adam_no_second_correction+adam_t_before_increment",
        "adam_no_second_correction+adam_t_incremented_twice"]


def test_every_variant_that_fits_is_listed():
    # β1 = 0: the first moment's correction is 1, so "no correction at all" and "s not
    # corrected" are the same step; the first in registry order is named, the other listed.
    params, grads, state, hyper = example_case("adam")
    hyper["beta1"] = 0.0
    m = STEP_MUTANTS["adam_no_bias_correction"]
    new, new_state = m.fn(params, grads, state, **hyper)
    f, = diagnose_step("adam", params, grads, state, new, new_state, **hyper)
    assert f.details["variant"] == "adam_no_bias_correction"
    # (then t only enters v's correction, which is 1: the pairs with a t mistake fit too)
    assert f.details["also_fits"] == ["adam_no_second_correction",
                                      "adam_no_second_correction+adam_t_before_increment",
                                      "adam_no_second_correction+adam_t_incremented_twice"]
    assert f.details["t"] == 2


def test_a_mismatch_against_a_zero_update_has_infinite_relative_error():
    params, grads, state, hyper = example_case("sgd")
    zero = {k: np.zeros_like(g) for k, g in grads.items()}
    moved = {k: p + 1.0 for k, p in params.items()}
    f, = diagnose_step("sgd", params, zero, state, moved, **hyper)
    assert f.kind == "step_mismatch" and f.details["relative_error"] == float("inf")


def test_same_compares_shapes_nonfinite_places_and_the_tolerance():
    from gradref.checks.diagnosis.compare import MATCH_ATOL
    from gradref.checks.diagnosis.optimizers import _same

    nan = np.nan
    assert not _same(np.zeros((2, 1)), np.zeros((1, 2)))
    # NaN at other places, the finite values equal once each side drops its own NaN
    assert not _same(np.array([nan, 1.0]), np.array([1.0, nan]))
    # NaN at the same place, the finite values differing
    assert not _same(np.array([nan, 1.0]), np.array([nan, 2.0]))
    assert _same(np.array([nan, 1.0]), np.array([nan, 1.0]))
    assert not _same(np.array([np.inf, 1.0]), np.array([-np.inf, 1.0]))
    # the bound itself counts as equal: |a - e| <= MATCH_RTOL·max|e| + MATCH_ATOL
    assert _same(np.array([MATCH_ATOL]), np.array([0.0]))
    assert not _same(np.array([2 * MATCH_ATOL]), np.array([0.0]))


def test_variants_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        STEP_VARIANTS["adam_no_sqrt"].message = "x"


def test_the_first_of_equally_wrong_arrays_is_reported():
    # zero parameters and gradients: both errors are exactly 0.5, a tie
    params, grads, state, hyper = example_case("sgd")
    params = {k: np.zeros_like(p) for k, p in params.items()}
    grads = {k: np.zeros_like(g) for k, g in grads.items()}
    wrong = {k: p.copy() for k, p in params.items()}
    wrong["W1"][0, 0] = wrong["W2"][0, 0] = 0.5
    f, = diagnose_step("sgd", params, grads, state, wrong, **hyper)
    assert f.details["worst"] == "W1" and f.details["index"] == [0, 0]


#: The catalogue entries whose planted mistake is in a slot's recurrence (their descriptions)
#: and the one that forgets to write t back; every other entry's state is the reference's.
SLOT_MISTAKES = {"adam_g_not_squared", "momentum_no_one_minus_beta", "velocity_lr_outside",
                 "rmsprop_no_one_minus_decay",
                 # the optimization assignment's (issue 18): the velocity or moments recur wrongly
                 "adam_betas_swapped", "momentum_velocity_form", "momentum_velocity_form_lr_in_v",
                 "momentum_velocity_not_carried"}
T_MISTAKES = {"adam_t_not_saved"}


@pytest.mark.parametrize("mid", list(STEP_MUTANTS))
def test_each_catalogue_mutant_plants_one_mistake_only(mid):
    """Outside its planted mistake a catalogue step keeps the state as the reference step does
    (t + 1 and the slots' recurrences), so the diagnosis it expects is for that mistake alone."""
    m = STEP_MUTANTS[mid]
    params, grads, state, hyper = example_case(m.optimizer)
    _, want = step(m.optimizer, params, grads, state, **hyper)
    with np.errstate(invalid="ignore"):
        _, got = m.fn(params, grads, state, **hyper)
    assert (got["t"] == want["t"]) == (mid not in T_MISTAKES)
    same = all(np.allclose(got[s][k], want[s][k], rtol=1e-12, atol=0)
               for s in OPTIMIZERS[m.optimizer].slots for k in params)
    assert same == (mid not in SLOT_MISTAKES), mid


def test_catalogue_entries_are_frozen():
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        STEP_MUTANTS["sgd_ascent"].words = ()


def test_example_case_uses_the_documented_hyper_parameters():
    """The module docstring's ε = 1e-2, β₁ = 0.8, β₂ = 0.888 (the values that separate ε inside
    and outside the root) and t = 2 for the step."""
    _, _, state, hyper = example_case("adam")
    assert (hyper["epsilon"], hyper["beta1"], hyper["beta2"], state["t"] + 1) == \
        (1e-2, 0.8, 0.888, 2)
    assert example_case("rmsprop")[3]["epsilon"] == 1e-2
