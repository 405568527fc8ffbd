"""Training: standardisation, optimizers, the training loop, predictions and accuracy.

Oracles are facts that do not restate the code: Adam's bias correction makes a step of
magnitude exactly lr for a constant gradient; an exponential average of a constant tends to
that constant; gradient descent on ½‖θ‖² shrinks θ by (1 - η) per step; standardisation makes
training invariant to a per-feature affine change of the inputs; the cost at given parameters
comes from the network's public, validated ``cost``.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
from gradref.reference.datasets import moons
from gradref.reference.network import Network
from gradref.reference.training import (
    OPTIMIZERS,
    SGD,
    Adam,
    Momentum,
    Standardizer,
    TrainingDiverged,
    accuracy,
    make_optimizer,
    optimizer_names,
    predict,
    train,
)
from hypothesis import given
from hypothesis import strategies as st

# A learning rate that is small for each optimizer on the standardised toy problems below.
SAFE_LR = {"sgd": 0.1, "momentum": 0.1, "sgd_momentum": 0.02, "nesterov": 0.02,
           "rmsprop": 0.01, "adam": 0.01}


@pytest.fixture
def small_problem():
    X, Y = moons(60, noise=0.1, seed=3)
    return Network([2, 6, 1], "tanh,sigmoid", "bce"), X, Y


def quadratic_grads(params):
    """Gradients of f(θ) = ½ Σ‖θ_k‖², i.e. g_k = θ_k, in the network's key convention."""
    return {"d" + k: v.copy() for k, v in params.items()}


# --------------------------------------------------------------------------- Standardizer
def test_standardizer_gives_zero_mean_unit_variance(rng):
    X = rng.normal(loc=[[3.0], [-7.0], [0.5]], scale=[[2.0], [0.01], [40.0]], size=(3, 500))
    Z = Standardizer().fit_transform(X)
    np.testing.assert_allclose(Z.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=1), 1.0, rtol=1e-12)


def test_standardizer_maps_constant_feature_to_zero(rng):
    X = np.vstack([rng.normal(size=50), np.full(50, 4.2)])
    s = Standardizer().fit(X)
    Z = s.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(Z[1], 0.0)
    np.testing.assert_array_equal(s.transform(np.array([[0.0], [5.2]]))[1], 1.0)


def test_standardizer_treats_rounding_level_spread_as_constant():
    X = np.array([[0.3, 0.1 + 0.2, 0.3, 0.1 + 0.2], [1.0, 2.0, 3.0, 4.0]])
    s = Standardizer().fit(X)
    assert s.scale_[0, 0] == 1.0
    assert np.max(np.abs(s.transform(X)[0])) < 1e-15


def test_standardizer_uses_the_statistics_it_was_fitted_on(rng):
    X_train = rng.normal(size=(2, 200))
    s = Standardizer().fit(X_train)
    X_new = X_train + np.array([[10.0], [-3.0]])
    Z = s.transform(X_new)
    # Not refitted: the shift shows up, divided by the training standard deviation.
    np.testing.assert_allclose(Z.mean(axis=1), [10.0 / X_train[0].std(), -3.0 / X_train[1].std()],
                               rtol=1e-10)
    np.testing.assert_allclose(s.inverse_transform(Z), X_new, rtol=1e-12, atol=1e-12)


def test_standardizer_refuses_unfitted_and_wrong_width():
    with pytest.raises(ValueError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 3)))
    s = Standardizer().fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"fitted on 2 features"):
        s.transform(np.zeros((3, 4)))


# --------------------------------------------------------------------------- optimizers
def test_adam_first_step_has_magnitude_lr_against_the_gradient(rng):
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=(4, 1))}
    grads = {"dW1": rng.choice([-1, 1], size=(4, 3)) * rng.uniform(1e-3, 1e3, size=(4, 3)),
             "db1": rng.choice([-1, 1], size=(4, 1)) * rng.uniform(1e-3, 1e3, size=(4, 1))}
    lr = 0.0375
    new = Adam(lr).step(params, grads)
    for k in params:
        delta = new[k] - params[k]
        np.testing.assert_allclose(np.abs(delta), lr, rtol=1e-4)
        np.testing.assert_array_equal(np.sign(delta), -np.sign(grads["d" + k]))


def test_adam_constant_gradient_steps_stay_exactly_lr():
    # With g constant, m̂ = g and v̂ = g² at every t thanks to the bias correction.
    params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}
    grads = {"dW1": np.array([[0.3, -4.0]]), "db1": np.array([[1e-2]])}
    opt = Adam(0.01)
    for _ in range(50):
        new = opt.step(params, grads)
        np.testing.assert_allclose(np.abs(new["W1"] - params["W1"]), 0.01, rtol=1e-6)
        params = new


def test_momentum_step_tends_to_sgd_step_for_constant_gradient():
    params = {"W1": np.zeros((2, 2)), "b1": np.zeros((2, 1))}
    grads = {"dW1": np.array([[1.0, -2.0], [3.0, 0.5]]), "db1": np.array([[1.0], [-1.0]])}
    opt = Momentum(0.1, beta=0.9)
    first = opt.step(params, grads)
    # The exponential average starts at 0: the first step is (1 - β) of an SGD step.
    np.testing.assert_allclose(first["W1"], -0.1 * 0.1 * grads["dW1"], rtol=1e-12)
    for _ in range(400):
        before, params = params, opt.step(params, grads)
    np.testing.assert_allclose(params["W1"] - before["W1"], -0.1 * grads["dW1"], rtol=1e-9)


def test_sgd_on_a_quadratic_shrinks_geometrically(rng):
    theta0 = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(3, 1))}
    opt = make_optimizer("sgd", lr=0.25)
    params = theta0
    for _ in range(10):
        params = opt.step(params, quadratic_grads(params))
    for k in theta0:
        np.testing.assert_allclose(params[k], theta0[k] * 0.75 ** 10, rtol=1e-12)


@pytest.mark.parametrize("name", optimizer_names())
def test_every_optimizer_minimises_a_quadratic(name, rng):
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(3, 1))}
    # RMSProp's steps stay near lr·g/|g| until its average of g² has decayed: a smaller lr.
    opt = make_optimizer(name, lr=0.005 if name == "rmsprop" else 0.05)
    for _ in range(2000):
        params = opt.step(params, quadratic_grads(params))
    assert max(float(np.max(np.abs(v))) for v in params.values()) < 1e-2


@pytest.mark.parametrize("name", optimizer_names())
def test_step_leaves_the_callers_arrays_alone(name, rng):
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=(3, 1))}
    grads = {"dW1": rng.normal(size=(3, 2)), "db1": rng.normal(size=(3, 1))}
    p_copy = {k: v.copy() for k, v in params.items()}
    g_copy = {k: v.copy() for k, v in grads.items()}
    opt = make_optimizer(name, lr=0.1)
    for _ in range(3):
        new = opt.step(params, grads)
        for k in params:
            assert new[k] is not params[k]
            np.testing.assert_array_equal(params[k], p_copy[k])
            np.testing.assert_array_equal(grads["d" + k], g_copy["d" + k])


def test_registry_names_match_the_optimizers():
    assert optimizer_names() == ["sgd", "momentum", "sgd_momentum", "nesterov", "rmsprop", "adam"]
    assert set(OPTIMIZERS) == set(optimizer_names())
    for name in OPTIMIZERS:
        assert make_optimizer(name).name == name
    for cls in (SGD, Momentum, Adam):
        assert cls().name == cls.name
        assert cls().hyper == make_optimizer(cls.name, lr=cls().lr).hyper


# --------------------------------------------------------------------------- train
@given(seed=st.integers(0, 2**16),
       hidden=st.lists(st.integers(3, 6), min_size=0, max_size=2),
       act=st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu"]),
       opt=st.sampled_from(optimizer_names()))
def test_training_reduces_the_cost(seed, hidden, act, opt):
    X, Y = moons(40, noise=0.1, seed=seed)
    net = Network([2, *hidden, 1], [act] * len(hidden) + ["sigmoid"], "bce")
    result = train(net, X, Y, epochs=15, batch_size=8, lr=SAFE_LR[opt], optimizer=opt,
                   seed=seed, progress=False)
    assert result.costs.shape == (16,)
    assert result.costs[-1] < result.costs[0]


@pytest.mark.parametrize("name", optimizer_names())
def test_each_optimizer_decreases_the_cost_a_lot(name, small_problem):
    net, X, Y = small_problem
    result = train(net, X, Y, epochs=60, batch_size=10, lr=SAFE_LR[name], optimizer=name,
                   seed=1, progress=False)
    assert result.costs[-1] < 0.5 * result.costs[0]
    assert result.accuracy(X, Y) > 0.85


def test_same_seed_same_numbers_bit_for_bit(small_problem):
    net, X, Y = small_problem
    kw = dict(epochs=5, batch_size=7, lr=0.01, optimizer="adam", progress=False)
    a = train(net, X, Y, seed=11, **kw)
    b = train(net, X, Y, seed=11, **kw)
    c = train(net, X, Y, seed=np.random.default_rng(11), **kw)
    d = train(net, X, Y, seed=12, **kw)
    for other in (b, c):
        assert np.array_equal(a.costs, other.costs)
        for k in a.params:
            assert np.array_equal(a.params[k], other.params[k])
    assert not np.array_equal(a.costs, d.costs)


def test_cost_history_is_the_networks_cost_at_the_start(small_problem, rng):
    net, X, Y = small_problem
    p0 = net.init_params("xavier", seed=5)
    p0_copy = {k: v.copy() for k, v in p0.items()}
    result = train(net, X, Y, epochs=3, params=p0, seed=0, progress=False)
    assert result.costs[0] == net.cost(p0, result.standardizer.transform(X), Y)
    assert result.final_cost == pytest.approx(result.cost(X, Y), rel=1e-12)
    for k in p0:  # the initial parameters were not modified
        np.testing.assert_array_equal(p0[k], p0_copy[k])


def test_full_batch_is_independent_of_the_shuffle(small_problem):
    # With batch_size >= m each step sees every example, whatever the permutation.
    net, X, Y = small_problem
    kw = dict(epochs=4, batch_size=1000, lr=0.1, optimizer="momentum", progress=False)
    p0 = net.init_params(seed=4)
    a = train(net, X, Y, params=p0, seed=1, **kw)
    b = train(net, X, Y, params=p0, seed=2, **kw)
    np.testing.assert_allclose(a.costs, b.costs, rtol=1e-12)


def test_one_full_batch_sgd_epoch_is_one_gradient_step(small_problem):
    net, X, Y = small_problem
    p0 = net.init_params(seed=9)
    result = train(net, X, Y, epochs=1, batch_size=len(Y[0]), lr=0.3, optimizer="sgd",
                   params=p0, standardize=False, seed=0, progress=False)
    _, grads = net.gradients(p0, X, Y)
    for k in p0:
        np.testing.assert_allclose(result.params[k], p0[k] - 0.3 * grads["d" + k],
                                   rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("schedule, k, T, want", [
    ("constant", 1.0, 1000, [0.3, 0.3, 0.3, 0.3]),
    ("inverse_time", 0.5, 1000, [0.3, 0.3 / 1.5, 0.3 / 2, 0.3 / 2.5]),
    ("stepped", 1.0, 2, [0.3, 0.3, 0.15, 0.15]),
])
def test_full_batch_sgd_epochs_follow_the_schedule(small_problem, schedule, k, T, want):
    # Oracle: gradient steps by hand from the network's public gradients, one per epoch.
    net, X, Y = small_problem
    p = net.init_params(seed=9)
    result = train(net, X, Y, epochs=4, batch_size=1000, lr=0.3, optimizer="sgd", params=p,
                   standardize=False, schedule=schedule, decay_rate=k, time_interval=T,
                   seed=0, progress=False)
    assert result.learning_rates.tolist() == pytest.approx(want, rel=1e-15)
    for lr in want:
        _, grads = net.gradients(p, X, Y)
        p = {key: p[key] - lr * grads["d" + key] for key in p}
    for key in p:
        np.testing.assert_allclose(result.params[key], p[key], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["momentum", "sgd_momentum", "nesterov", "rmsprop", "adam"])
def test_training_carries_the_state_of_the_pure_steps(small_problem, name):
    # Oracle: the same full-batch steps through the validated public step function.
    from gradref.reference.optimizers import step

    net, X, Y = small_problem
    p = net.init_params(seed=2)
    result = train(net, X, Y, epochs=3, batch_size=1000, lr=0.02, optimizer=name, params=p,
                   standardize=False, seed=0, progress=False)
    state = None
    for _ in range(3):
        _, grads = net.gradients(p, X, Y)
        p, state = step(name, p, grads, state, learning_rate=0.02)
    assert result.optimizer.t == state["t"] == 3
    for key in p:
        np.testing.assert_allclose(result.params[key], p[key], rtol=1e-12, atol=1e-14)


def test_optimizer_options_take_short_and_course_names():
    a = make_optimizer("adam", lr=0.1, eps=1e-3, beta1=0.5)
    b = make_optimizer("adam", lr=0.1, epsilon=1e-3, beta1=0.5)
    assert a.hyper == b.hyper == {"lr": 0.1, "beta1": 0.5, "beta2": 0.999, "eps": 1e-3}
    assert make_optimizer("rmsprop", decay_rate=0.5).hyper["decay_rate"] == 0.5
    assert make_optimizer("nesterov", momentum=0.5).hyper == {"lr": 0.01, "momentum": 0.5}
    with pytest.raises(ValueError, match=r"epsilon .* got 0\.0"):
        make_optimizer("adam", epsilon=0.0)
    with pytest.raises(ValueError, match=r"'learning_rate' for optimizer 'sgd'; valid: none"):
        make_optimizer("sgd", learning_rate=0.1)
    with pytest.raises(ValueError, match=r"lr .* got -1\.0"):
        make_optimizer("sgd").lr = -1.0
    opt = make_optimizer("momentum", lr=0.2)
    assert opt.t == 0 and repr(opt) == "Optimizer('momentum', lr=0.2, beta=0.9)"


def test_standardisation_makes_training_affine_invariant(small_problem):
    net, X, Y = small_problem
    X2 = X * np.array([[250.0], [0.002]]) + np.array([[-40.0], [7.0]])
    kw = dict(epochs=5, batch_size=8, lr=0.01, seed=3, progress=False)
    a, b = train(net, X, Y, **kw), train(net, X2, Y, **kw)
    np.testing.assert_allclose(a.costs, b.costs, rtol=1e-8)
    np.testing.assert_array_equal(a.predict(X), b.predict(X2))
    np.testing.assert_allclose(b.standardizer.mean_.ravel(), X2.mean(axis=1), rtol=1e-12)


def test_l2_comes_from_the_network_and_shrinks_weights(small_problem):
    _, X, Y = small_problem
    kw = dict(epochs=40, batch_size=10, lr=0.01, seed=0, progress=False)
    plain = train(Network([2, 6, 1], "tanh,sigmoid", "bce"), X, Y, **kw)
    decayed = train(Network([2, 6, 1], "tanh,sigmoid", "bce", l2=5.0), X, Y, **kw)

    def norm(p):
        return math.sqrt(sum(float(np.sum(p[k] ** 2)) for k in p if k[0] == "W"))

    assert norm(decayed.params) < 0.7 * norm(plain.params)


def test_divergence_raises_naming_epoch_and_lr():
    X, Y = moons(30, seed=0)
    net = Network([2, 8, 1], "relu,linear", "square")
    with pytest.raises(TrainingDiverged, match=r"epoch \d+.*lr = 1e\+20"):
        train(net, X, Y, epochs=30, batch_size=30, lr=1e20, optimizer="sgd", seed=0,
              progress=False)


def test_progress_bar_can_be_forced_and_silenced(small_problem, capsys):
    pytest.importorskip("tqdm")
    net, X, Y = small_problem
    train(net, X, Y, epochs=2, progress=True)
    assert "epoch" in capsys.readouterr().err
    train(net, X, Y, epochs=2, progress=False)
    assert capsys.readouterr().err == ""


def test_training_works_without_tqdm(small_problem, monkeypatch, capsys):
    net, X, Y = small_problem
    with_tqdm = train(net, X, Y, epochs=2, seed=0, progress=True)
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` fail
    without = train(net, X, Y, epochs=2, seed=0, progress=True)
    assert capsys.readouterr().err == ""
    assert np.array_equal(with_tqdm.costs, without.costs)


# --------------------------------------------------------------------------- predict, accuracy
def test_predict_thresholds_sigmoid_outputs_at_one_half():
    net = Network([1, 2], "sigmoid", "bce")
    params = {"W1": np.array([[1.0], [-1.0]]), "b1": np.zeros((2, 1))}
    X = np.array([[-2.0, -0.1, 0.0, 0.1, 3.0]])
    expected = np.array([[0, 0, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=float)
    np.testing.assert_array_equal(predict(net, params, X), expected)


def test_predict_softmax_gives_one_hot_columns_first_max_on_ties():
    net = Network([1, 3], "softmax", "cross_entropy")
    params = {"W1": np.array([[1.0], [0.0], [-1.0]]), "b1": np.zeros((3, 1))}
    X = np.array([[2.0, -0.5, 0.0]])
    expected = np.array([[1, 0, 1], [0, 0, 0], [0, 1, 0]], dtype=float)
    np.testing.assert_array_equal(predict(net, params, X), expected)


def test_predict_linear_output_is_raw():
    net = Network([2, 1], "linear", "square")
    params = {"W1": np.array([[2.0, -1.0]]), "b1": np.array([[0.5]])}
    X = np.array([[1.0, 0.0, -3.0], [4.0, 1.0, 2.0]])
    np.testing.assert_array_equal(predict(net, params, X), [[-1.5, -0.5, -7.5]])


def test_result_predict_standardises_raw_inputs(small_problem):
    net, X, Y = small_problem
    result = train(net, X, Y, epochs=2, seed=0, progress=False)
    np.testing.assert_array_equal(result.predict(X),
                                  predict(net, result.params, result.standardizer.transform(X)))


def test_accuracy_counts_whole_columns():
    Y = np.array([[1, 0, 1, 0], [0, 1, 0, 1]], dtype=float)
    P = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=float)
    assert accuracy(P, Y) == 0.5
    assert accuracy(np.array([[1.0, 0.0, 1.0]]), np.array([[1.0, 1.0, 1.0]])) == pytest.approx(2 / 3)
    assert accuracy([1, 0], [1, 1]) == 0.5
    with pytest.raises(ValueError, match=r"Y_pred has shape \(1, 3\) but Y has shape \(3, 1\)"):
        accuracy(np.zeros((1, 3)), np.zeros((3, 1)))


# --------------------------------------------------------------------------- bad arguments
NET = Network([2, 3, 1], "relu,sigmoid", "bce")
GOOD_X, GOOD_Y = moons(10, seed=0)

BAD_CALLS = [
    # (id, overrides, exception, message fragment)
    ("network-not-a-Network", {"network": "2,3,1"}, TypeError, r"network .*'2,3,1'"),
    ("epochs-zero", {"epochs": 0}, ValueError, r"epochs .* got 0"),
    ("epochs-negative", {"epochs": -3}, ValueError, r"epochs .* got -3"),
    ("epochs-float", {"epochs": 2.5}, TypeError, r"epochs .* 2\.5"),
    ("epochs-bool", {"epochs": True}, TypeError, r"epochs .* True"),
    ("batch-size-zero", {"batch_size": 0}, ValueError, r"batch_size .* got 0"),
    ("batch-size-str", {"batch_size": "8"}, TypeError, r"batch_size .* '8'"),
    ("lr-zero", {"lr": 0.0}, ValueError, r"lr .* got 0\.0"),
    ("lr-negative", {"lr": -0.1}, ValueError, r"lr .* got -0\.1"),
    ("lr-nan", {"lr": float("nan")}, ValueError, r"lr .* got nan"),
    ("lr-inf", {"lr": float("inf")}, ValueError, r"lr .* got inf"),
    ("lr-str", {"lr": "0.1"}, TypeError, r"lr .* '0\.1'"),
    ("optimizer-unknown", {"optimizer": "adamw"}, ValueError,
     r"unknown optimizer 'adamw'; valid names: sgd, momentum, sgd_momentum, nesterov, rmsprop, "
     r"adam"),
    ("optimizer-not-str", {"optimizer": 3}, TypeError, r"optimizer .* 3"),
    ("optimizer-option-unknown", {"optimizer": "momentum", "optimizer_options": {"rho": 0.9}},
     ValueError, r"'rho' for optimizer 'momentum'; valid: beta"),
    ("momentum-beta-one", {"optimizer": "momentum", "optimizer_options": {"beta": 1.0}},
     ValueError, r"beta .* got 1\.0"),
    ("adam-beta2-negative", {"optimizer_options": {"beta2": -0.5}}, ValueError,
     r"beta2 .* got -0\.5"),
    ("adam-eps-zero", {"optimizer_options": {"eps": 0.0}}, ValueError, r"eps .* got 0\.0"),
    ("optimizer-options-list", {"optimizer_options": [0.9]}, TypeError,
     r"optimizer_options .* \[0\.9\]"),
    ("schedule-unknown", {"schedule": "cosine"}, ValueError,
     r"unknown schedule 'cosine'; valid: constant, inverse_time, stepped"),
    ("schedule-not-str", {"schedule": 1}, ValueError, r"unknown schedule 1"),
    ("decay-rate-negative", {"decay_rate": -0.5}, ValueError, r"decay_rate .* got -0\.5"),
    ("time-interval-zero", {"time_interval": 0}, ValueError, r"time_interval .* got 0"),
    ("rmsprop-decay-one", {"optimizer": "rmsprop", "optimizer_options": {"decay_rate": 1.0}},
     ValueError, r"decay_rate .* got 1\.0"),
    ("nesterov-option-beta", {"optimizer": "nesterov", "optimizer_options": {"beta": 0.9}},
     ValueError, r"'beta' for optimizer 'nesterov'; valid: momentum"),
    ("init-unknown", {"init": "orthogonal"}, ValueError, r"init 'orthogonal'; valid schemes: he"),
    ("seed-negative", {"seed": -1}, TypeError, r"seed .* -1"),
    ("seed-str", {"seed": "abc"}, TypeError, r"seed .* 'abc'"),
    ("standardize-str", {"standardize": "yes"}, TypeError, r"standardize .* 'yes'"),
    ("progress-int", {"progress": 2}, TypeError, r"progress .* 2"),
    ("X-wrong-rows", {"X": np.zeros((3, 10))}, ValueError, r"X has shape \(3, 10\)"),
    ("X-nan", {"X": np.full((2, 10), np.nan)}, ValueError, r"X contains .* non-finite"),
    ("Y-wrong-columns", {"Y": np.zeros((1, 9))}, ValueError, r"Y has shape \(1, 9\)"),
    ("Y-1d", {"Y": np.zeros(10)}, ValueError, r"Y has shape \(10,\).*reshape"),
    ("Y-outside-bce-domain", {"Y": np.full((1, 10), 2.0)}, ValueError, r"Y must lie in \[0, 1\]"),
    ("params-wrong-shape", {"params": {"W1": np.zeros((3, 3)), "b1": np.zeros((3, 1)),
                                       "W2": np.zeros((1, 3)), "b2": np.zeros((1, 1))}},
     ValueError, r"params\['W1'\] has shape \(3, 3\), expected \(3, 2\)"),
]


@pytest.mark.parametrize("overrides, exc, message", [c[1:] for c in BAD_CALLS],
                         ids=[c[0] for c in BAD_CALLS])
def test_train_refuses_bad_arguments(overrides, exc, message):
    kwargs = {"network": NET, "X": GOOD_X, "Y": GOOD_Y, "epochs": 1, "progress": False}
    kwargs.update(overrides)
    network, X, Y = kwargs.pop("network"), kwargs.pop("X"), kwargs.pop("Y")
    with pytest.raises(exc, match=message):
        train(network, X, Y, **kwargs)


def test_reference_imports_without_tqdm_or_matplotlib():
    code = ("import sys; sys.modules['tqdm'] = None; sys.modules['matplotlib'] = None; "
            "import reference, reference.cli, reference.plotting; "
            "X, Y = reference.moons(20); net = reference.Network([2, 3, 1], 'relu,sigmoid'); "
            "r = reference.train(net, X, Y, epochs=2, progress=True); "
            "assert r.costs.shape == (3,)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
