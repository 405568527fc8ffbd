"""The grader's comparison (checks.grading.compare) branch by branch, with boundaries: written to
kill the mutants that the grading tests let survive (a tolerance scaled by the smallest instead
of the largest |expected|, ``>`` turned into ``>=``, dropped checks)."""

import numpy as np
import pytest
from gradref.checks.grading.compare import MISSING, PRINT_MAX, Leaf, describe, leaf_problem, numeric, show
from gradref.checks.grading.computations import RandomWeights


def leaf(got, expected, kind="array", problem=None):
    return Leaf("dW1", "dW1", kind, got, expected, problem)


# --------------------------------------------------------------------------- helpers
def test_describe():
    assert describe(np.zeros((2, 3), np.float32)) == \
        "an array of shape (2, 3) and dtype float32"
    assert describe([1, 2]) == "a list of 2 item(s)"
    assert describe((1,)) == "a tuple of 1 item(s)"
    assert describe({k: 0 for k in "abcdefghij"}) == \
        "a dict with keys ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']"
    assert describe(3.5) == "float 3.5"
    long = "x" * 60
    assert describe(long) == "str " + repr(long)[:37] + "..."
    assert describe("y" * 38) == "str " + repr("y" * 38)       # 40 characters: shown whole


@pytest.mark.parametrize("value", [None, "1.0", b"1", {"a": 1}, np.array([True]),
                                   np.array([1j]), [[1.0], [1.0, 2.0]], object()])
def test_numeric_refuses_what_is_not_a_real_array(value):
    assert numeric(value) is None


@pytest.mark.parametrize("value", [3, 2.5, [1, 2], np.arange(3, dtype=np.uint8),
                                   np.ones((2, 2), np.float32)])
def test_numeric_accepts_real_arrays(value):
    np.testing.assert_array_equal(numeric(value), np.asarray(value))


def test_show():
    assert show(np.zeros(PRINT_MAX + 1)) == f"(shape ({PRINT_MAX + 1},), not shown)"
    assert "not shown" not in show(np.zeros(PRINT_MAX))
    text = show(np.arange(6.0).reshape(3, 2), indent=4)
    assert text.splitlines()[1].startswith("     [")


# --------------------------------------------------------------------------- values
def test_the_tolerance_is_scaled_by_the_largest_expected_entry():
    exp = np.array([[1.0, 100.0]])
    # bound = 1e-3 * 100 + 0 = 0.1: an error of 0.05 on the large entry passes...
    assert leaf_problem("values", leaf(exp + [[0.0, 0.05]], exp), 1e-3, 0.0) is None
    # ... and so does 0.05 on the small one (normwise, not elementwise)
    assert leaf_problem("values", leaf(exp + [[0.05, 0.0]], exp), 1e-3, 0.0) is None
    msg = leaf_problem("values", leaf(exp + [[0.0, 0.2]], exp), 1e-3, 0.0)
    assert msg == "dW1 is wrong: largest difference 0.2 (relative error 0.002, allowed 0.001)"


def test_the_bound_is_inclusive_and_atol_adds():
    exp = np.array([2.0, -1.0])
    # bound = 0.25 * 2 + 0.5 = 1.0 (exact in binary)
    assert leaf_problem("values", leaf(exp + [1.0, 0.0], exp), 0.25, 0.5) is None
    assert leaf_problem("values", leaf(exp + [1.0 + 2 ** -40, 0.0], exp), 0.25, 0.5)
    assert leaf_problem("values", leaf(exp - [0.0, 1.0], exp), 0.25, 0.5) is None
    assert leaf_problem("values", leaf(exp + [0.75, 0.0], exp), 0.25, 0.0)


def test_all_zero_expected():
    exp = np.zeros(3)
    assert leaf_problem("values", leaf(np.zeros(3), exp), 1e-3, 0.0) is None
    assert leaf_problem("values", leaf(np.array([0.0, 1e-3, 0.0]), exp), 1e-3, 0.0) == \
        "dW1 is wrong: largest difference 0.001 (expected all zeros)"
    assert leaf_problem("values", leaf(np.array([0.0, 1e-3, 0.0]), exp), 1e-3, 1e-3) is None


def test_values_of_arrays():
    exp = np.arange(4.0).reshape(4, 1)
    assert leaf_problem("values", leaf(np.arange(4.0), exp), 1e-6, 0.0) is None   # (4,) ~ (4, 1)
    assert leaf_problem("values", leaf(np.arange(4), exp), 1e-6, 0.0) is None     # ints compare
    assert leaf_problem("values", leaf(np.zeros(3), exp), 1e-6, 0.0) == \
        "dW1 cannot be compared: shape (3,), expected (4, 1)"
    assert leaf_problem("values", leaf(np.zeros((2, 2)), exp), 1e-6, 0.0) == \
        "dW1 cannot be compared: shape (2, 2), expected (4, 1)"
    bad = exp.copy()
    bad[1, 0], bad[2, 0] = np.nan, np.inf
    assert leaf_problem("values", leaf(bad, exp), 1e-6, 0.0) == \
        "dW1 contains 2 NaN or infinite value(s)"
    assert leaf_problem("values", leaf("x", exp), 1e-6, 0.0) == \
        "dW1 is not a number or a numeric array: got str 'x'"
    assert leaf_problem("values", leaf(exp, exp, problem="missing key 'dW1'"), 1e-6, 0.0) == \
        "missing key 'dW1'"


def test_values_of_scalars():
    assert leaf_problem("values", leaf(2.0, 2.0, "scalar"), 1e-9, 0.0) is None
    assert leaf_problem("values", leaf(np.array([[2.0]]), 2.0, "scalar"), 1e-9, 0.0) is None
    assert leaf_problem("values", leaf(np.array([1.0, 2.0]), 2.0, "scalar"), 1e-9, 0.0) == \
        "dW1 should be a single number, got an array of shape (2,)"
    assert leaf_problem("values", leaf(float("nan"), 2.0, "scalar"), 1e-9, 0.0) == \
        "dW1 is nan, expected 2"
    # bound rtol*|want| + atol = 0.25 * 2 + 0.5 = 1, inclusive; |want|, not want
    assert leaf_problem("values", leaf(3.0, 2.0, "scalar"), 0.25, 0.5) is None
    assert leaf_problem("values", leaf(-3.0, -2.0, "scalar"), 0.25, 0.5) is None
    assert leaf_problem("values", leaf(3.5, 2.0, "scalar"), 0.25, 0.5) == \
        "dW1 is 3.5, expected 2"
    assert leaf_problem("values", leaf(2.6, 2.0, "scalar"), 0.25, 0.0) == \
        "dW1 is 2.6, expected 2"


# --------------------------------------------------------------------------- random weights
@pytest.mark.parametrize("got, message", [
    ("w", "dW1 should be an array of random numbers, got str 'w'"),
    (np.zeros((0, 2)), "dW1 is empty or contains NaN/inf"),
    (np.array([[0.01, np.nan]]), "dW1 is empty or contains NaN/inf"),
    (np.full((3, 2), 0.01), "dW1 is constant (standard deviation 0): the weights must be "
                            "random, or every unit of the layer stays the same (symmetry is "
                            "never broken)"),
    (np.array([[-1.0, 1.0]]), "dW1 has standard deviation 1, more than 0.5: the random weights "
                              "must be small (e.g. np.random.randn(...) * 0.01)"),
], ids=["not-numeric", "empty", "nan", "constant", "too-large"])
def test_random_weights_problems(got, message):
    spec = RandomWeights((3, 2), std_min=1e-6, std_max=0.5)
    assert leaf_problem("values", leaf(got, spec, "random"), 1e-6, 0.0) == message


def test_random_weights_at_the_edges_of_the_allowed_spread():
    spec = RandomWeights((1, 2), std_min=0.25, std_max=0.5)
    assert leaf_problem("values", leaf(np.array([[-0.25, 0.25]]), spec, "random"), 0, 0) is None
    assert leaf_problem("values", leaf(np.array([[-0.5, 0.5]]), spec, "random"), 0, 0) is None
    assert leaf_problem("values", leaf(np.array([[-0.2, 0.2]]), spec, "random"), 0, 0)
    assert leaf_problem("values", leaf(np.array([[-0.6, 0.6]]), spec, "random"), 0, 0)


# --------------------------------------------------------------------------- shape, dtype
def test_shape_problems():
    exp = np.zeros((2, 3))
    assert leaf_problem("shape", leaf(np.ones((2, 3)), exp), 0, 0) is None
    assert leaf_problem("shape", leaf(np.ones((3, 2)), exp), 0, 0) == \
        "dW1 has shape (3, 2), expected (2, 3)"
    assert leaf_problem("shape", leaf(None, exp), 0, 0) == \
        "dW1 should be an array of shape (2, 3), got NoneType None"
    assert leaf_problem("shape", leaf(np.ones((2, 3)), RandomWeights((2, 3))), 0, 0) is None
    assert leaf_problem("shape", leaf(MISSING, exp, problem="missing key"), 0, 0) == \
        "missing key"
    for ok in (1.0, np.array(1.0), np.array([[1.0]]), np.array([1.0])):
        assert leaf_problem("shape", leaf(ok, 1.0, "scalar"), 0, 0) is None
    for bad in (np.zeros(2), np.zeros((1, 1, 1)), "1"):
        msg = leaf_problem("shape", leaf(bad, 1.0, "scalar"), 0, 0)
        assert msg.startswith("dW1 should be a single number (a float, a 0-d or a (1, 1) "
                              "array), got ")


def test_dtype_problems():
    exp = np.zeros(2)
    assert leaf_problem("dtype", leaf(np.ones(2), exp), 0, 0) is None
    assert leaf_problem("dtype", leaf(np.ones(2, np.float32), exp), 0, 0) is None
    assert leaf_problem("dtype", leaf(1.5, 1.0, "scalar"), 0, 0) is None
    assert leaf_problem("dtype", leaf(np.ones(2, np.int64), exp), 0, 0) == \
        "dW1 has dtype int64, expected floating point (float64)"
    assert leaf_problem("dtype", leaf(3, 1.0, "scalar"), 0, 0) == \
        "dW1 has dtype int64, expected floating point (float64)"
    assert leaf_problem("dtype", leaf("a", exp), 0, 0) == \
        "dW1 should be a floating-point array, got str 'a'"
    assert leaf_problem("dtype", leaf(exp, exp, problem="gone"), 0, 0) == "gone"


# --------------------------------------------------------------------------- caches
def cache_leaf(got, expected):
    return Leaf("cache", "cache", "cache", got, expected)


def test_cache_trees():
    A, Z, W = np.ones((2, 3)), np.full((2, 3), 2.0), np.full((2, 2), 3.0)
    exp = ((A, W), Z)
    assert leaf_problem("cache", cache_leaf(((A, W), Z), exp), 1e-9, 0) is None
    assert leaf_problem("cache", cache_leaf([[A, W], Z], exp), 1e-9, 0) is None
    assert leaf_problem("cache", cache_leaf(((Z, W), A), exp), 1e-9, 0) == \
        "cache[0][0] holds what belongs in cache[1]: the parts of the cache are in the wrong order"
    assert leaf_problem("cache", cache_leaf(((A, W), Z + 1), exp), 1e-9, 0) == \
        "cache[1] holds the wrong values (max |yours - expected| = 1)"
    assert leaf_problem("cache", cache_leaf(((A, W), Z + 1e-12), exp), 1e-9, 0) is None
    assert leaf_problem("cache", cache_leaf(((A, W.T[:1]), Z), exp), 1e-9, 0) == \
        "cache[0][1] has shape (1, 2), expected (2, 2)"
    assert leaf_problem("cache", cache_leaf(((A, W, W), Z), exp), 1e-9, 0) == \
        "cache[0] should have 2 items, got 3"
    assert leaf_problem("cache", cache_leaf((A, Z), exp), 1e-9, 0) == \
        "cache[0] should be a tuple of 2, got an array of shape (2, 3) and dtype float64"
    assert leaf_problem("cache", cache_leaf(((A, "W"), Z), exp), 1e-9, 0) == \
        "cache[0][1] should be an array of shape (2, 2), got str 'W'"
    assert leaf_problem("cache", Leaf("cache", "cache", "cache", None, exp, "no cache"),
                        1e-9, 0) == "no cache"


def test_cache_comparison_uses_the_largest_entry_and_is_inclusive():
    Z = np.array([[1.0, 100.0]])
    assert leaf_problem("cache", cache_leaf((Z + [[0.05, 0.0]],), (Z,)), 1e-3, 0.0) is None
    assert leaf_problem("cache", cache_leaf((Z + [[0.0, 1.0]],), (Z,)), 0.0, 1.0) is None
    assert leaf_problem("cache", cache_leaf((Z + [[0.0, 0.2]],), (Z,)), 1e-3, 0.0)
    nan = Z.copy()
    nan[0, 0] = np.nan
    assert leaf_problem("cache", cache_leaf((nan,), (Z,)), 1.0, 1.0)


def test_show_formatting_is_pinned():
    """Up to 24 entries are printed, five significant digits, scientific notation kept for
    tiny entries, 100 characters a line, continuation lines as numpy indents them."""
    assert PRINT_MAX == 24
    assert "not shown" not in show(np.zeros(24)) and "not shown" in show(np.zeros(25))
    assert show(np.array([1 / 3, 1e-8])) == "[3.33333e-01, 1.00000e-08]"
    assert show(np.arange(6.0).reshape(3, 2)) == "[[0., 1.],\n [2., 3.],\n [4., 5.]]"
    wide = show(np.full((2, 12), 11111.5))
    assert max(len(line) for line in wide.splitlines()) <= 100
    assert wide.splitlines()[0].count("11111.5") == 10


def test_messages_report_the_measured_errors():
    exp = np.array([0.5, -0.25])                  # largest |expected| below 1
    assert leaf_problem("values", leaf(exp + [0.0, 0.1], exp), 1e-3, 0.0) == \
        "dW1 is wrong: largest difference 0.1 (relative error 0.2, allowed 0.001)"
    A = np.zeros((2, 2))
    assert leaf_problem("cache", cache_leaf((A + 0.25,), (A,)), 1e-9, 0) == \
        "cache[0] holds the wrong values (max |yours - expected| = 0.25)"
