"""``check_network``: the reference and callables, every mode and oracle, malformed gradients
reported (not raised), planted mistakes failing with a diagnosis, and the renderings."""

import json
import re

import numpy as np
import pytest
from gradref.checks.api import check_network
from gradref.reference import Activation, Network


@pytest.fixture
def case(rng):
    net = Network([4, 5, 3], "relu,softmax", "cross_entropy", l2=0.1)
    params = net.init_params("he", seed=rng)
    params["b1"] = 0.1 * rng.standard_normal((5, 1))
    X = rng.standard_normal((4, 6))
    Y = np.eye(3)[:, rng.integers(0, 3, 6)]
    return net, params, X, Y


def reference_grads(net):
    def f(params, X, Y):
        return net.gradients(params, X, Y)[1]
    return f


def edited(net, edit):
    def f(params, X, Y):
        g = net.gradients(params, X, Y)[1]
        edit(g)
        return g
    return f


@pytest.mark.parametrize("mode", ["full", "sampled", "directional"])
@pytest.mark.parametrize("oracle", ["both", "fd", "autograd"])
def test_reference_passes_in_every_mode_and_oracle(case, mode, oracle):
    net, params, X, Y = case
    res = check_network(net, net, params, X, Y, mode=mode, oracle=oracle, samples=10)
    assert res.passed, res.to_text()
    assert res.oracles == (("fd", "autograd") if oracle == "both" else (oracle,))
    assert {a.oracle for a in res.arrays} <= set(res.oracles)
    if oracle == "autograd":
        assert res.evaluations == 0
    else:
        assert res.evaluations > 0 and res.seconds > 0
    assert res.sensitivity


def test_a_callable_target_gives_the_same_verdict(case):
    net, params, X, Y = case
    a = check_network(net, net, params, X, Y)
    b = check_network(reference_grads(net), net, params, X, Y)
    assert a.passed and b.passed
    assert [(x.name, x.oracle) for x in a.arrays] == [(x.name, x.oracle) for x in b.arrays]
    names = {x.name for x in a.arrays}
    assert names == {"dW1", "db1", "dW2", "db2", "dZ1", "dZ2", "dA0", "dA1"}


def test_dropping_the_one_over_m_fails_with_a_diagnosis(case):
    net, params, X, Y = case
    m = X.shape[1]

    def no_mean(g):
        for k in ("dW1", "db1", "dW2", "db2"):
            g[k] *= m

    res = check_network(edited(net, no_mean), net, params, X, Y)
    assert not res.passed
    assert {a.name for a in res.failures} >= {"dW1", "dW2", "db1", "db2"}
    assert res.diagnosis and any("1/m" in f.message for f in res.diagnosis)
    text = res.to_text()
    assert "FAILED" in text and "diagnosis" in text and "worst failing elements" in text


def test_a_wrong_intermediate_fails_only_there(case):
    net, params, X, Y = case
    res = check_network(edited(net, lambda g: g.__setitem__("dZ1", -g["dZ1"])),
                        net, params, X, Y)
    assert not res.passed
    assert {a.name for a in res.failures} == {"dZ1"}
    assert {a.oracle for a in res.failures} == {"fd", "autograd"}


@pytest.mark.parametrize("edit, key, message", [
    (lambda g: g.pop("dW2"), "dW2", "dW2 is missing from the returned dict"),
    (lambda g: g.__setitem__("db1", g["db1"].ravel()), "db1",
     r"db1 has shape \(5,\), expected \(5, 1\): keep the bias gradient a column"),
    (lambda g: g.__setitem__("db2", g["db2"].T), "db2",
     r"db2 has shape \(1, 3\), expected \(3, 1\)"),
    (lambda g: g.__setitem__("dW1", g["dW1"].T), "dW1", "it looks transposed"),
    (lambda g: g["dW1"].__setitem__((0, 1), np.nan), "dW1",
     r"dW1 contains 1 non-finite value\(s\) \(NaN or inf\), first at index \(0, 1\)"),
    (lambda g: g.__setitem__("dW2", "oops"), "dW2", "not a real numeric array"),
    (lambda g: g.__setitem__("dZ2", g["dZ2"][:, :2]), "dZ2", r"dZ2 has shape \(3, 2\)"),
], ids=["missing", "flat-bias", "row-bias", "transposed", "nan", "string", "short-dZ"])
def test_malformed_gradients_are_reported_not_raised(case, edit, key, message):
    net, params, X, Y = case
    res = check_network(edited(net, edit), net, params, X, Y)
    assert not res.passed
    problems = [a.problem for a in res.arrays if a.name == key and a.problem]
    assert problems and all(re.search(message, p) for p in problems)
    assert key in res.to_text()


@pytest.mark.parametrize("target, message", [
    (lambda p, X, Y: 1 / 0, "raised ZeroDivisionError: division by zero"),
    (lambda p, X, Y: [1, 2], "returned list, expected a dict"),
    (Network([4, 6, 3], "relu,softmax", "cross_entropy"), "raised ValueError"),
], ids=["raises", "list", "other-network"])
def test_broken_targets_are_reported(case, target, message):
    net, params, X, Y = case
    res = check_network(target, net, params, X, Y)
    assert not res.passed and message in res.problems[0]
    assert message in res.to_text()


def test_extra_keys_and_missing_intermediates_are_fine(case):
    net, params, X, Y = case

    def f(p, X, Y):
        g = {k: v for k, v in net.gradients(p, X, Y)[1].items() if k[1] in "Wb"}
        g["loss"] = 0.3
        return g

    res = check_network(f, net, params, X, Y)
    assert res.passed and {a.name for a in res.arrays} == {"dW1", "db1", "dW2", "db2"}


def test_the_target_cannot_tamper_with_the_check(case):
    net, params, X, Y = case
    before = {k: v.copy() for k, v in params.items()}

    def vandal(p, X_, Y_):
        g = net.gradients(p, X_, Y_)[1]
        for v in (*p.values(), X_, Y_):
            v[...] = 0.0
        return g

    assert check_network(vandal, net, params, X, Y).passed
    assert all(np.array_equal(before[k], params[k]) for k in params)


class Cube(Activation):
    """z**3: not in the autograd oracle's table."""

    name = "cube_for_tests"

    def value(self, z):
        return z ** 3

    def derivative(self, z):
        return 3 * z ** 2


def test_an_activation_autograd_cannot_model(rng):
    net = Network([2, 3, 1], [Cube(), "linear"], "square")
    params = net.init_params(seed=0)
    X, Y = rng.standard_normal((2, 4)), rng.standard_normal((1, 4))
    res = check_network(net, net, params, X, Y)
    assert res.passed and any("cannot model" in n for n in res.notes)
    only = check_network(net, net, params, X, Y, oracle="autograd")
    assert not only.passed and "cannot model" in only.problems[0]
    wrong = check_network(edited(net, lambda g: g["dW1"].__imul__(2)), net, params, X, Y,
                          oracle="fd")
    assert not wrong.passed and wrong.diagnosis   # diagnosed against the finite differences


def test_json_and_text(case):
    net, params, X, Y = case
    res = check_network(edited(net, lambda g: g["dW2"].__imul__(-1)), net, params, X, Y,
                        mode="full")
    d = json.loads(res.to_json())
    assert d == json.loads(json.dumps(res.to_dict()))
    assert d["passed"] is False and d["mode"] == "full" and d["seed"] == 0
    row = next(a for a in d["arrays"] if a["name"] == "dW2" and a["oracle"] == "fd")
    assert row["failed"] == row["checked"] == 15 and row["worst"][0]["index"]
    assert {"kinks", "kink_margin", "step", "max_tol", "max_rel_err"} <= set(row)
    assert d["cost"]["evaluations"] > 0 and d["diagnosis"]
    lines = res.to_text().splitlines()
    table = [ln for ln in lines if ln.startswith(("array ", "dW", "db", "dZ", "dA"))][:9]
    assert table[0].split()[:3] == ["array", "oracle", "shape"]
    # aligned: every row ends its status column at the same place
    assert len({len(ln) - len(ln.rstrip().split()[-1]) for ln in table[1:]}) == 1


def test_kink_margins_are_reported(rng):
    net = Network([3, 4, 1], "relu,linear", "half_square")
    params = {"W1": rng.integers(-1, 2, (4, 3)).astype(float), "b1": np.zeros((4, 1)),
              "W2": rng.integers(-1, 2, (1, 4)).astype(float), "b2": np.zeros((1, 1))}
    X = rng.integers(-2, 3, (3, 5)).astype(float)
    res = check_network(net, net, params, X, rng.standard_normal((1, 5)))
    assert res.passed
    kinked = [a for a in res.arrays if a.oracle == "fd" and a.kinks]
    assert kinked and all(a.kink_margin is not None and a.kink_margin >= 0 for a in kinked)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(net="net"), TypeError, "net must be a reference Network"),
    (dict(target=3), TypeError, "target must be a Network or a callable"),
    (dict(mode="exhaustive"), ValueError, "mode must be one of 'full', 'sampled'"),
    (dict(oracle="torch"), ValueError, "oracle must be one of 'both', 'fd', 'autograd'"),
    (dict(seed=-2), ValueError, "seed must be a non-negative integer, got -2"),
    (dict(seed=True), ValueError, "seed must be a non-negative integer"),
    (dict(order=6), ValueError, "order must be 2"),
    (dict(samples=0), ValueError, "samples must be a positive integer, got 0"),
    (dict(draws=-1), ValueError, "draws must be a positive integer"),
    (dict(direction_kind="sobol"), ValueError, "direction_kind must be one of"),
    (dict(tolerances={"safety": -1}), ValueError, "'safety' must be a finite number > 0"),
    (dict(X=np.ones((3, 6))), ValueError, r"X has shape \(3, 6\), expected \(4, m\)"),
    (dict(Y=np.ones((3, 6)) * 2), ValueError, "Y must lie in"),
    (dict(params={"W1": np.ones((5, 4))}), ValueError, "missing"),
], ids=["net", "target", "mode", "oracle", "negative-seed", "bool-seed", "order", "samples",
        "draws", "direction", "tolerances", "X-shape", "Y-domain", "params"])
def test_bad_calls(case, kwargs, error, match):
    net, params, X, Y = case
    args = dict(target=net, net=net, params=params, X=X, Y=Y)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        check_network(args.pop("target"), args.pop("net"), args.pop("params"), args.pop("X"),
                      args.pop("Y"), **args)


def test_fourth_order_richardson(case):
    net, params, X, Y = case
    res = check_network(net, net, params, X, Y, order=4, oracle="fd")
    assert res.passed and res.order == 4
    sizes, m = net.layer_sizes, X.shape[1]
    # six evaluations (h, h/2, h/4 on both sides) per parameter and per intermediate element
    assert res.evaluations == 6 * (net.n_params + m * (sum(sizes[1:]) + sum(sizes[:-1])))

    def nudge(g):
        g["db2"][1, 0] += 1e-6

    bad = check_network(edited(net, nudge), net, params, X, Y, order=4, oracle="fd")
    assert not bad.passed and bad.array("db2", "fd").worst[0].index == (1, 0)


def test_diagnosis_can_be_turned_off(case):
    net, params, X, Y = case
    res = check_network(edited(net, lambda g: g["dW2"].__imul__(3)), net, params, X, Y,
                        explain=False)
    assert not res.passed and res.diagnosis == []
