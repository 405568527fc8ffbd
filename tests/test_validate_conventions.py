"""Conventions, architectures and data families of ``validate`` on in-process functions: each
adapter is checked against an independent restatement (the reference's gradients transformed
by hand), right answers pass, transformed-wrong answers fail, and bad options are refused with
a message naming the option."""

import numpy as np
import pytest
from gradref.checks.cli import main
from gradref.checks.mutants import correct_backward
from gradref.checks.testing import assert_gradients_match
from gradref.checks.validation import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    UNSUPPORTED,
    Settings,
    validate,
)
from gradref.reference import Network

FIXED = dict(activations=("relu", "sigmoid"), losses=("bce",), layers=(3, 4, 1), cases=3)


def _truth(params, X, Y):
    """The catalogue's correct pass for relu hidden layers and a sigmoid/bce output."""
    L = len(params) // 2
    sizes = [X.shape[0]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)]
    net = Network(sizes, ["relu"] * (L - 1) + ["sigmoid"], "bce")
    return {k: v for k, v in correct_backward(net, params, X, Y).items() if k[1] in "Wb"}


def _settings(**changes):
    return Settings(**{**FIXED, **changes})


def test_summed_gradients_pass_only_with_reduction_sum():
    def summed(params, X, Y):
        return {k: X.shape[1] * v for k, v in _truth(params, X, Y).items()}

    assert validate(summed, _settings(reduction="sum")).exit_code == EXIT_OK
    report = validate(summed, _settings())
    assert report.exit_code == EXIT_FAILED and "times too large" in report.render()
    assert validate(_truth, _settings(reduction="sum")).exit_code == EXIT_FAILED


def test_per_example_answers_are_averaged():
    seen = []

    def one(params, x, y):
        seen.append(x.shape)
        return _truth(params, x, y)

    assert validate(one, _settings(per_example=True)).exit_code == EXIT_OK
    assert set(seen) == {(3, 1)}
    seen.clear()
    assert validate(one, _settings(per_example=True, layout="torch")).exit_code == EXIT_ERROR
    assert set(seen) == {(3,)}  # one example of the torch layout is a flat row


@pytest.mark.parametrize("form", ["pairs", "flat", "blocks", "network_py", "cost_first"])
def test_list_returns_are_read_in_layer_order_and_the_order_is_stated(form):
    def listed(params, X, Y):
        g = _truth(params, X, Y)
        W, b = [g["dW1"], g["dW2"]], [g["db1"], g["db2"]]
        pairs = list(zip(W, b, strict=True))
        return {"pairs": pairs, "flat": [W[0], b[0], W[1], b[1]], "blocks": W + b,
                "network_py": (b, W), "cost_first": (0.0, pairs)}[form]

    report = validate(listed, _settings(cases=2))
    text = report.render()
    assert report.cases[0].reading and "answers read as" in text
    if form == "cost_first":  # a cost of 0.0 beside right gradients: the cost is wrong
        assert report.exit_code == EXIT_FAILED and "J     WRONG" in text
    else:
        assert report.exit_code == EXIT_OK


@pytest.mark.parametrize("form", ["steps", "new_params", "in_place"])
def test_updates_are_turned_back_into_gradients(form):
    lr = 0.3

    def trained(params, X, Y, sign=-1.0):
        g = _truth(params, X, Y)
        if form == "steps":
            return {k: sign * lr * v for k, v in g.items()}
        if form == "new_params":
            return {k: params[k] + sign * lr * g["d" + k] for k in params}
        for k in params:
            params[k] += sign * lr * g["d" + k]
        return None

    settings = _settings(returns="update", lr=lr)
    assert validate(trained, settings).exit_code == EXIT_OK
    assert validate(lambda p, X, Y: trained(p, X, Y, +1.0), settings).exit_code == EXIT_FAILED
    assert validate(trained, _settings(returns="update", lr=2 * lr)).exit_code == EXIT_FAILED


def test_bias_sign_minus_one():
    def minus(params, X, Y):
        p = {k: (-v if k[0] == "b" else v) for k, v in params.items()}
        return {k: (-v if k[1] == "b" else v) for k, v in _truth(p, X, Y).items()}

    assert validate(minus, _settings(bias_sign=-1)).exit_code == EXIT_OK
    assert validate(minus, _settings()).exit_code == EXIT_FAILED


def test_architecture_is_passed_by_keyword_in_every_mode():
    got = []

    def needs_arch(params, X, Y, arch):
        got.append(arch["layer_sizes"])
        return _truth(params, X, Y)

    assert validate(needs_arch, _settings(cases=1)).exit_code == EXIT_OK
    assert_gradients_match(needs_arch, layers=[3, 4, 1], activations="relu,sigmoid",
                           loss="bce", cases=1)
    assert got == [[3, 4, 1]] * len(got) and len(got) >= 2


def test_unsupported_cases_are_skipped_never_failed():
    def picky(params, X, Y, arch=None):
        if arch["layer_sizes"][0] > 2:
            return f"{UNSUPPORTED}: more than 2 inputs"
        return _truth(params, X, Y)

    settings = Settings(("relu",), ("bce",), None, random_architectures=True, cases=8,
                        outputs=("sigmoid",), max_depth=2, max_width=4)
    report = validate(picky, settings)
    statuses = {c.status for c in report.cases}
    assert statuses == {"match", "skipped"} and report.exit_code == EXIT_OK
    assert "more than 2 inputs" in report.render()
    report = validate(lambda p, X, Y, arch: UNSUPPORTED, settings)
    assert report.exit_code == EXIT_ERROR and "supports none" in report.summary()


def test_random_architectures_respect_bounds_and_never_hide_softmax():
    settings = Settings(("relu", "tanh", "softmax", "sigmoid"), ("bce", "cross_entropy"),
                        random_architectures=True, cases=12, max_depth=2, max_width=3)
    seen = []
    validate(lambda p, X, Y, arch: seen.append(arch) or UNSUPPORTED, settings)
    assert len(seen) == 12
    for arch in seen:
        assert len(arch["layer_sizes"]) <= 3 and max(arch["layer_sizes"]) <= 3
        assert "softmax" not in arch["activations"][:-1]


def test_data_families_cycle_and_are_named():
    report = validate(_truth, _settings(cases=3))
    assert [c.data for c in report.cases] == ["normal", "saturated", "integer"]
    X_int = report.cases[2].case.X
    assert np.array_equal(X_int, np.round(X_int))
    assert [c.data for c in validate(_truth, _settings(cases=2, data=("integer",))).cases] \
        == ["integer", "integer"]


def test_right_hand_slope_at_exact_kinks_is_accepted_and_said():
    def right_hand(params, X, Y):
        m = X.shape[1]
        Z1 = params["W1"] @ X + params["b1"]
        A1 = np.maximum(Z1, 0)
        A2 = 1 / (1 + np.exp(-(params["W2"] @ A1 + params["b2"])))
        dZ2 = A2 - Y
        dZ1 = (params["W2"].T @ dZ2) * (Z1 >= 0)
        return {"dW1": dZ1 @ X.T / m, "db1": dZ1.sum(1, keepdims=True) / m,
                "dW2": dZ2 @ A1.T / m, "db2": dZ2.sum(1, keepdims=True) / m}

    report = validate(right_hand, _settings(cases=4, data=("integer",)))
    assert report.exit_code == EXIT_OK
    assert any(c.kinks for c in report.cases) and "right-hand slope" in report.render()


def test_assert_gradients_match_message_starts_with_the_verdict():
    with pytest.raises(AssertionError) as info:
        assert_gradients_match(lambda p, X, Y: {k: 2 * v for k, v in _truth(p, X, Y).items()},
                               layers=[3, 4, 1], activations="relu,sigmoid", loss="bce",
                               cases=2)
    message = str(info.value)
    assert message.startswith("DIFFERS: 2 of 2 compared cases differ") and "\n" in message


BAD_SETTINGS = {
    "reduction": (dict(reduction="median"), "reduction must be one of mean, sum"),
    "returns": (dict(returns="delta"), "returns must be one of gradient, update"),
    "lr-missing": (dict(returns="update"), "lr must be a finite number > 0"),
    "lr-without-update": (dict(lr=0.1), "lr is only used with returns='update'"),
    "bias-sign": (dict(bias_sign=0), "bias_sign must be 1 or -1"),
    "mean-all-l2": (dict(reduction="mean_all", l2=0.1), "reduction='mean_all'"),
    "data": (dict(data=("gaussian",)), "data must be a non-empty tuple"),
    "per-example-l2": (dict(per_example=True, l2=0.1), "l2 must be 0 with per_example"),
    "layers-with-random": (dict(random_architectures=True), "layers must be None"),
    "max-depth": (dict(layers=None, random_architectures=True, max_depth=0),
                  "max_depth must be a positive integer"),
}


@pytest.mark.parametrize("name", BAD_SETTINGS)
def test_bad_settings(name):
    changes, message = BAD_SETTINGS[name]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _settings(**changes)


BASE = ["--layers", "3,4,1", "--loss", "bce"]
BAD_OPTIONS = {
    "both-activation-forms": (["--activations", "relu,sigmoid", "--output", "sigmoid"],
                              "give either --activations or --hidden/--output"),
    "hidden-count": (["--layers", "3,4,4,4,1", "--hidden", "relu,tanh", "--output", "sigmoid"],
                     "argument --hidden: 2 activation(s) relu,tanh for --layers 3,4,4,4,1"),
    "output-missing": (["--hidden", "relu"], "argument --output: required with --hidden"),
    "layers-random": (["--activations", "relu,sigmoid", "--random-architectures"],
                      "say --max-depth 2 --max-width 4"),
    "max-depth-fixed": (["--activations", "relu,sigmoid", "--max-depth", "3"],
                        "argument --max-depth: only with --random-architectures"),
    "lr-missing": (["--activations", "relu,sigmoid", "--returns", "update"],
                   "argument --lr: required with --returns update"),
    "bias-sign": (["--activations", "relu,sigmoid", "--bias-sign", "2"],
                  "argument --bias-sign: expected 1 or -1, got '2'"),
    "data": (["--activations", "relu,sigmoid", "--data", "normal,uniform"],
             "argument --data: expected a comma-separated subset of normal,saturated,integer"),
    "per-example-command": (["--activations", "relu,sigmoid", "--per-example", "--command",
                             "x {case} {out}"], "a --command reads whole batches"),
}


@pytest.mark.parametrize("name", BAD_OPTIONS)
def test_bad_options_name_the_option(name, capsys, tmp_path):
    extra, message = BAD_OPTIONS[name]
    target = tmp_path / "f.py"
    target.write_text("def f(params, X, Y):\n    return {}\n")
    argv = [*BASE, *extra]  # a repeated --layers: the last one counts
    if "--command" not in extra:
        argv = [f"{target}:f", *argv]
    try:
        code = main(["validate", *argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == EXIT_ERROR and message in err, err


def test_assert_gradients_match_isolated_with_an_import_root():
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "examples" / "implementations" / "multifile"
    assert_gradients_match(f"{here / 'model.py'}:gradients", isolate=True,
                           paths=[str(here / "vendor")], layers=[3, 4, 2],
                           activations="tanh,softmax", loss="cross_entropy", cases=2)


def test_reports_carry_skipped_cases_and_data_families():
    import json
    import xml.etree.ElementTree as ET

    def picky(params, X, Y):
        return UNSUPPORTED + ": batches over 6" if X.shape[1] > 6 else _truth(params, X, Y)

    report = validate(picky, _settings(cases=4))
    data = json.loads(report.render("json"))
    assert {c["status"] for c in data["cases"]} == {"match", "skipped"}
    assert [c["data"] for c in data["cases"]] == ["normal", "saturated", "integer", "normal"]
    suite = ET.fromstring(report.render("junit")).find("testsuite")
    skipped = sum(c["status"] == "skipped" for c in data["cases"])
    assert int(suite.get("skipped")) == skipped == len(suite.findall("testcase/skipped")) > 0
