"""Datasets: layout, labels, balance, seeding, the geometry of each generator, the split.

The geometry is checked with noise 0 against the defining curves, and the halfplanes rule both
against the directions the API exposes and, without them, through the shape of the negative
region (one wedge at the origin whose opening is π minus the angle between the normals).
"""

import inspect
import math

import numpy as np
import pytest
from gradref.reference.datasets import (
    DATASETS,
    circles,
    dataset_names,
    get_dataset,
    halfplane_directions,
    halfplanes,
    moons,
    spirals,
    train_test_split,
)
from gradref.reference.network import Network

SMALL = {"halfplanes": 2000, "circles": 301, "moons": 301, "spirals": 301}


@pytest.mark.parametrize("name", dataset_names())
def test_layout_labels_and_determinism(name):
    gen = DATASETS[name].generate
    X, Y = gen(n=SMALL[name], seed=4)
    assert X.shape == (2, SMALL[name]) and Y.shape == (1, SMALL[name])
    assert X.dtype == np.float64 and Y.dtype == np.float64
    assert set(np.unique(Y)) == {0.0, 1.0}
    assert np.all(np.isfinite(X))
    X2, Y2 = gen(n=SMALL[name], seed=4)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)
    X3, _ = gen(n=SMALL[name], seed=5)
    assert not np.array_equal(X, X3)
    X4, Y4 = gen(n=SMALL[name], seed=np.random.default_rng(4))
    assert np.array_equal(X, X4) and np.array_equal(Y, Y4)


@pytest.mark.parametrize("name", ["circles", "moons", "spirals"])
def test_two_class_generators_are_balanced_and_shuffled(name):
    X, Y = DATASETS[name].generate(n=301, seed=0)
    assert int(Y.sum()) == 301 - 301 // 2
    # Shuffled: the labels are not sorted (both halves hold both classes).
    assert 0 < Y[0, :150].sum() < 150


def test_registry_defaults_come_from_the_signatures():
    for name, spec in DATASETS.items():
        sig = inspect.signature(spec.generate)
        assert spec.name == name == spec.generate.__name__
        assert spec.defaults == {k: p.default for k, p in sig.parameters.items() if k != "seed"}
        assert spec.doc
    assert DATASETS["halfplanes"].defaults == {"n": 100_000}
    assert DATASETS["circles"].defaults == {"n": 1000, "noise": 0.05, "factor": 0.5}
    assert DATASETS["moons"].defaults == {"n": 1000, "noise": 0.2}
    assert get_dataset("moons") is DATASETS["moons"]
    with pytest.raises(ValueError, match="unknown dataset 'blobs'; valid names: halfplanes"):
        get_dataset("blobs")


@pytest.mark.parametrize("name", dataset_names())
def test_recipes_build_a_network_for_the_data(name):
    recipe = DATASETS[name].recipe
    net = Network(list(recipe["layers"]), list(recipe["activations"]), recipe["loss"],
                  recipe["l2"])
    X, Y = DATASETS[name].generate(n=50, seed=0)
    net.check_X(X)
    net.check_Y(Y, 50)
    assert {"epochs", "batch_size", "lr", "optimizer", "init"} <= set(recipe)


# --------------------------------------------------------------------------- halfplanes
def test_halfplane_directions_are_unit_and_well_separated():
    for seed in range(50):
        v1, v2 = halfplane_directions(seed)
        assert np.linalg.norm(v1) == pytest.approx(1.0) and np.linalg.norm(v2) == pytest.approx(1.0)
        angle = math.acos(float(np.clip(v1 @ v2, -1, 1)))
        assert math.pi / 4 - 1e-12 <= angle <= 3 * math.pi / 4 + 1e-12


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_halfplanes_labels_follow_the_exposed_directions(seed):
    X, Y = halfplanes(5000, seed=seed)
    v1, v2 = halfplane_directions(seed)
    expected = np.array([float(v1 @ x > 0 or v2 @ x > 0) for x in X.T])
    np.testing.assert_array_equal(Y[0], expected)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_halfplanes_negative_region_is_one_wedge(seed):
    # Without using the directions: around the origin, the labels change exactly twice, and
    # the negative arc spans π - θ; the positive share is (π + θ)/(2π) for a rotation-invariant
    # point cloud.
    n = 20_000
    X, Y = halfplanes(n, seed=seed)
    angles = np.arctan2(X[1], X[0])
    order = np.argsort(angles)
    labels = Y[0, order]
    assert int(np.sum(labels != np.roll(labels, 1))) == 2
    neg = np.sort(angles[Y[0] == 0])
    gaps = np.diff(np.concatenate([neg, [neg[0] + 2 * math.pi]]))
    neg_span = 2 * math.pi - gaps.max()  # the arc that holds every negative point
    v1, v2 = halfplane_directions(seed)
    theta = math.acos(float(v1 @ v2))
    assert neg_span == pytest.approx(math.pi - theta, abs=0.01)
    p = (math.pi + theta) / (2 * math.pi)
    assert abs(Y.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    # Standard normal points: unit variance per coordinate, independent coordinates.
    np.testing.assert_allclose(np.cov(X), np.eye(2), atol=0.05)


# --------------------------------------------------------------------------- the curves
def test_circles_without_noise_lie_on_two_radii():
    X, Y = circles(400, noise=0.0, factor=0.3, seed=2)
    r = np.hypot(X[0], X[1])
    np.testing.assert_allclose(r[Y[0] == 0], 1.0, rtol=1e-12)
    np.testing.assert_allclose(r[Y[0] == 1], 0.3, rtol=1e-12)


def test_circles_noise_is_the_radial_spread():
    X, Y = circles(20_000, noise=0.02, seed=2)
    r = np.hypot(X[0], X[1])
    assert np.std(r[Y[0] == 0] - 1.0) == pytest.approx(0.02, rel=0.05)


def test_moons_without_noise_lie_on_the_two_arcs():
    X, Y = moons(400, noise=0.0, seed=2)
    up, low = X[:, Y[0] == 0], X[:, Y[0] == 1]
    np.testing.assert_allclose(np.hypot(up[0], up[1]), 1.0, rtol=1e-12)
    assert np.all(up[1] >= 0)
    np.testing.assert_allclose(np.hypot(low[0] - 1.0, low[1] - 0.5), 1.0, rtol=1e-12)
    assert np.all(low[1] <= 0.5)


def test_spirals_without_noise_are_half_a_turn_apart():
    turns = 1.75
    X, Y = spirals(400, noise=0.0, turns=turns, seed=2)
    r = np.hypot(X[0], X[1])
    assert np.all(r <= 1.0)
    # Angle grows with radius at 2π·turns per unit; the second arm is turned by π.
    phase = np.arctan2(X[1], X[0]) - 2 * math.pi * turns * r - math.pi * Y[0]
    np.testing.assert_allclose(np.cos(phase), 1.0, atol=1e-9)


# --------------------------------------------------------------------------- split
def test_train_test_split_partitions_columns_and_keeps_pairs():
    m = 50
    X = np.vstack([np.arange(m, dtype=float), -np.arange(m, dtype=float)])
    Y = np.arange(m, dtype=float).reshape(1, m) * 10
    X_copy = X.copy()
    s = train_test_split(X, Y, test_fraction=0.3, seed=1)
    assert s.X_train.shape == (2, 35) and s.X_test.shape == (2, 15)
    assert s.Y_train.shape == (1, 35) and s.Y_test.shape == (1, 15)
    ids = np.concatenate([s.X_train[0], s.X_test[0]])
    assert sorted(ids.tolist()) == list(range(m))
    np.testing.assert_array_equal(s.Y_train[0], 10 * s.X_train[0])
    np.testing.assert_array_equal(s.X_test[1], -s.X_test[0])
    np.testing.assert_array_equal(X, X_copy)
    again = train_test_split(X, Y, test_fraction=0.3, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(s, again, strict=True))
    other = train_test_split(X, Y, test_fraction=0.3, seed=2)
    assert not np.array_equal(s.X_test, other.X_test)


# --------------------------------------------------------------------------- bad arguments
BAD_CALLS = [
    ("n-one", moons, {"n": 1}, ValueError, r"n must be an integer >= 2 .* got 1"),
    ("n-float", circles, {"n": 10.0}, TypeError, r"n must be .* got 10\.0"),
    ("n-bool", halfplanes, {"n": True}, TypeError, r"n must be .* got True"),
    ("n-str", spirals, {"n": "100"}, TypeError, r"n must be .* got '100'"),
    ("noise-negative", moons, {"noise": -0.1}, ValueError, r"noise must be .* got -0\.1"),
    ("noise-nan", circles, {"noise": float("nan")}, ValueError, r"noise must be .* got nan"),
    ("noise-inf", spirals, {"noise": float("inf")}, ValueError, r"noise must be .* got inf"),
    ("noise-str", moons, {"noise": "0.1"}, TypeError, r"noise must be .* got '0\.1'"),
    ("factor-zero", circles, {"factor": 0.0}, ValueError, r"factor must be .*\(0, 1\), got 0\.0"),
    ("factor-one", circles, {"factor": 1}, ValueError, r"factor must be .*\(0, 1\), got 1"),
    ("turns-zero", spirals, {"turns": 0}, ValueError, r"turns must be .* got 0"),
    ("seed-negative", moons, {"seed": -2}, TypeError, r"seed must be .* got -2"),
    ("seed-float", halfplanes, {"seed": 1.5}, TypeError, r"seed must be .* got 1\.5"),
    ("split-fraction-zero", train_test_split, {"test_fraction": 0.0}, ValueError,
     r"test_fraction must be .* got 0\.0"),
    ("split-fraction-one", train_test_split, {"test_fraction": 1.0}, ValueError,
     r"test_fraction must be .* got 1\.0"),
    ("split-fraction-nan", train_test_split, {"test_fraction": float("nan")}, ValueError,
     r"test_fraction must be .* got nan"),
    ("split-too-few-test", train_test_split, {"test_fraction": 0.01}, ValueError,
     r"test_fraction=0\.01 of m=10 examples gives 0 test examples"),
    ("split-column-mismatch", train_test_split, {"Y": np.zeros((1, 9))}, ValueError,
     r"X has 10 columns .* Y has 9"),
    ("split-X-1d", train_test_split, {"X": np.zeros(10)}, ValueError, r"X must be 2-D"),
]


@pytest.mark.parametrize("fn, kwargs, exc, message", [c[1:] for c in BAD_CALLS],
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_arguments_are_refused_by_name(fn, kwargs, exc, message):
    if fn is train_test_split:
        kwargs = {"X": np.zeros((2, 10)), "Y": np.zeros((1, 10)), **kwargs}
    else:
        kwargs = {"n": 20, **kwargs}
    with pytest.raises(exc, match=message):
        fn(**kwargs)
