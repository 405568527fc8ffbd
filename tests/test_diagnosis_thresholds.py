"""The diagnosis's pattern thresholds at their boundaries (checks/tolerances.py, DIAGNOSIS_*).

Each test puts an array just inside and just outside one documented limit (written here as a
literal: a factor needs 2 supporting entries, a near miss is within 1e-3 relative or at most 3
wrong elements) and checks what the diagnosis claims.
"""

import numpy as np
from gradref.checks.diagnosis import diagnose_array

E = np.array([[0.8, -1.3, 0.45], [2.1, -0.6, 1.7]])


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
