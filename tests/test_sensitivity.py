"""The sensitivity statements of checks/tolerances.py against their formulas, each checked by
other means (the Gaussian bound through math.erf, not through the module's own inverse)."""

import math

import pytest
from gradref.checks.tolerances import sensitivity


def test_full_mode_is_twice_the_largest_tolerance():
    s = sensitivity("full", [1e-8, 3e-8, 2e-8])
    assert (s.mode, s.threshold, s.probability) == ("full", 6e-8, 1.0)
    assert "at most 6e-08" in s.statement
    assert s.to_dict() == {"mode": "full", "threshold": 6e-8, "probability": 1.0,
                           "statement": s.statement}


def test_sampled_mode_probability_is_the_sampled_fraction():
    s = sensitivity("sampled", [1e-8, 4e-8], checked=2, total=8)
    assert (s.threshold, s.probability) == (8e-8, 0.25)
    assert s.statement.startswith("2 of 8 elements are checked")
    assert sensitivity("sampled", [1.0], checked=8, total=8).probability == 1.0
    assert sensitivity("sampled", [1.0], checked=0, total=8).probability == 0.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(checked=3, total=2), r"checked=3 must lie in \[0, total=2\]"),
    (dict(checked=1, total=0), "total > 0"),
    (dict(checked=-1, total=2), "checked as an int >= 0, got -1"),
    (dict(checked=1, total=2.0), "total as an int >= 0, got 2.0"),
    (dict(checked=None, total=2), "checked as an int >= 0, got None"),
])
def test_sampled_mode_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sensitivity("sampled", [1.0], **kwargs)


def test_rademacher_directions_catch_twice_the_smallest_tolerance():
    s = sensitivity("directional", [3e-8, 1e-8, 2e-8])
    assert (s.threshold, s.probability) == (2e-8, 1.0)
    assert s.statement.startswith("3 Rademacher direction(s)")


@pytest.mark.parametrize("n, q", [(1, 0.99), (3, 0.99), (8, 0.9), (2, 0.5)])
def test_gaussian_directions_bound_holds_with_its_probability(n, q):
    """A draw misses an error e on element i when |v_i| e <= 2 tol, i.e. |v_i| <= s with
    s = 2 tol / threshold; all n draws (one tolerance each) miss with probability
    erf(s/sqrt 2)^n = 1 - q."""
    tols = [1e-8] * (n - 1) + [2e-8]
    s = sensitivity("directional", tols, direction="gaussian", confidence=q)
    assert s.probability == q
    cut = 2 * max(tols) / s.threshold
    assert math.erf(cut / math.sqrt(2)) ** n == pytest.approx(1 - q, rel=1e-9)
    assert f">= {q:g}" in s.statement


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5])
def test_gaussian_confidence_must_be_a_probability(confidence):
    with pytest.raises(ValueError, match="confidence must lie in"):
        sensitivity("directional", [1.0], direction="gaussian", confidence=confidence)


@pytest.mark.parametrize("tol", [[1.0, float("nan")], [-1e-9], [float("inf")]])
def test_tolerances_must_be_finite_and_non_negative(tol):
    with pytest.raises(ValueError, match="finite non-negative"):
        sensitivity("full", tol)


def test_nothing_checked():
    s = sensitivity("directional", [])
    assert (s.threshold, s.probability) == (math.inf, 0.0)
    assert sensitivity("full", [0.0]).threshold == 0.0


def test_more_sensitivity_arguments():
    with pytest.raises(ValueError, match="finite non-negative"):
        sensitivity("full", [1.0, -1e-9])
    assert sensitivity("sampled", [1.0], checked=1, total=1).probability == 1.0
    default = sensitivity("directional", [1.0, 1.0], direction="gaussian")
    assert default.probability == 0.99
    with pytest.raises(ValueError, match="direction must be 'rademacher' or 'gaussian', got "
                                         "'uniform'"):
        sensitivity("directional", [1.0], direction="uniform")
    with pytest.raises(ValueError, match="mode must be 'full', 'sampled' or 'directional', "
                                         "got 'exhaustive'"):
        sensitivity("exhaustive", [1.0])


def test_a_sensitivity_statement_is_immutable():
    import dataclasses

    s = sensitivity("full", [1.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.threshold = 0.0
