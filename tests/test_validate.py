"""``gradref validate``: the example implementations end to end through the CLI, the
exit-code semantics, reports, and the library function against independent oracles (an
autograd implementation must pass, every mutant of the catalogue must fail)."""

import json
import os
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from gradref.checks.cli import main
from gradref.checks.mutants import MUTANTS, correct_backward, example_case
from gradref.checks.oracle import ORACLE_ACTIVATIONS, ORACLE_FUSED, ORACLE_LOSSES
from gradref.checks.validation import EXIT_ERROR, EXIT_FAILED, EXIT_OK, Settings, validate
from gradref.reference import Network, get_activation

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"
NET = ["--layers", "2,16,16,1", "--activations", "relu,relu,sigmoid", "--loss", "bce"]
STANDALONE = f"{{python}} {EX / 'standalone.py'} {{case}} {{out}}"


def cli(argv, capsys):
    try:
        code = main(["validate", *argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def c_binary():
    """standalone.c compiled into a directory the sandbox's throw-away uid can read."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not available")
    directory = tempfile.mkdtemp(prefix="gradref-c-")
    os.chmod(directory, 0o755)
    binary = os.path.join(directory, "standalone_c")
    subprocess.run(["gcc", "-O2", "-std=c99", "-o", binary, str(EX / "standalone.c"), "-lm"],
                   check=True, capture_output=True)
    yield binary
    shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("argv", [
    [f"{EX / 'rows_numpy.py'}:gradients", "--layout", "rows", *NET,
     "--forward", f"{EX / 'rows_numpy.py'}:cost"],
    [f"{EX / 'rows_numpy.py'}:gradients", "--layout", "rows", "--random-architectures",
     "--activations", "relu,tanh,sigmoid,linear", "--loss", "bce,square,half_square",
     "--l2", "0.1", "--cases", "8"],
    [f"{EX / 'flat_bias.py'}:gradients", "--bias", "flat", *NET],
    ["--command", STANDALONE, "--same-user", "--layout", "rows", "--bias", "flat",
     "--random-architectures", "--activations", "gelu,leaky_relu,softmax,silu",
     "--leaky-slope", "0.05", "--loss", "cross_entropy,half_square", "--cases", "3"],
], ids=["rows", "rows-random", "flat-bias", "standalone-python"])
def test_correct_implementations_pass(argv, capsys):
    code, out, _ = cli(argv, capsys)
    assert code == EXIT_OK, out
    assert "OK: all" in out and "WRONG" not in out


def test_c_implementation_passes_in_the_sandbox(c_binary, capsys):
    code, out, _ = cli(["--command", f"{c_binary} {{case}} {{out}}", "--random-architectures",
                        "--activations", "relu,leaky_relu,tanh,sigmoid,linear", "--leaky-slope",
                        "0.05", "--loss", "bce,square,half_square", "--l2", "0.3",
                        "--cases", "6"], capsys)
    assert code == EXIT_OK, out


def test_buggy_implementation_is_diagnosed(capsys):
    code, out, _ = cli([f"{EX / 'buggy.py'}:gradients", *NET,
                        "--forward", f"{EX / 'buggy.py'}:cost"], capsys)
    assert code == EXIT_FAILED
    assert "dW3   ok" in out and "db3   WRONG" in out
    assert "db3, db2 and db1 are m = " in out and "the 1/m averaging is missing" in out
    assert ("match the activation value A = g(Z) instead of the mask [Z > 0] as the relu "
            "derivative in layers 1–2") in out
    assert "as a consequence of the mistake in layer 3" not in out
    assert "your forward matches the reference, your backward does not" in out


def test_wrong_cost_is_told_from_a_wrong_backward(capsys):
    code, out, _ = cli([f"{EX / 'wrong_cost.py'}:gradients", *NET,
                        "--forward", f"{EX / 'wrong_cost.py'}:cost"], capsys)
    assert code == EXIT_FAILED
    assert "your cost matches" not in out
    assert ("your backward is consistent with your forward, but your forward differs from "
            "the reference: look at the cost") in out


def test_declared_layout_that_does_not_fit_gives_no_answer(capsys):
    code, out, _ = cli([f"{EX / 'flat_bias.py'}:gradients", *NET, "--cases", "2"], capsys)
    assert code == EXIT_ERROR
    assert "no usable answer on any of 2 cases" in out and "ValueError" in out


@pytest.mark.parametrize("command, extra, message", [
    ("false {case} {out}", [], "the command failed: exit code 1"),
    ("cat {case} > /dev/null; printf junk > {out}", [], "is not a readable .npz archive"),
    ("true {case} {out}", [], "wrote no {out} file"),
    ("sleep 5; true {case} {out}", ["--timeout", "0.5"], "timed out"),
], ids=["exit-status", "malformed-out", "no-out", "timeout"])
def test_commands_without_an_answer(command, extra, message, capsys):
    code, out, _ = cli(["--command", command, *NET, "--cases", "2", *extra], capsys)
    assert code == EXIT_ERROR
    assert message in out


def test_command_answering_unsupported_skips_those_cases(c_binary, capsys, tmp_path):
    """The C program has no softmax and exits 3 for it: those cases are skipped, never
    failures; the others match -> exit code 0."""
    report = tmp_path / "r.json"
    code, out, _ = cli(["--command", f"{c_binary} {{case}} {{out}}", "--random-architectures",
                        "--hidden", "relu,tanh", "--output", "sigmoid,softmax", "--loss",
                        "bce,cross_entropy,half_square", "--cases", "8", "--format", "json",
                        "--out", str(report)], capsys)
    data = json.loads(report.read_text())
    statuses = {c["status"] for c in data["cases"]}
    assert statuses == {"match", "skipped"} and code == EXIT_OK == data["exit_code"]
    assert "unsupported activation softmax" in next(
        c["error"] for c in data["cases"] if c["status"] == "skipped")
    assert out.startswith("OK:") and "skipped as unsupported" in out


def test_missing_function_and_load_error(tmp_path, capsys):
    code, out, _ = cli([f"{EX / 'buggy.py'}:nope", *NET], capsys)
    assert code == EXIT_ERROR and "defines no function 'nope'" in out and "gradients" in out
    code, out, _ = cli([f"{EX / 'buggy.py'}:gradients", *NET, "--forward",
                        f"{EX / 'buggy.py'}:nocost"], capsys)
    assert code == EXIT_ERROR and "defines no function 'nocost'" in out
    broken = tmp_path / "broken.py"
    broken.write_text("def gradients(params, X, Y)\n    return {}\n")
    code, out, _ = cli([f"{broken}:gradients", *NET], capsys)
    assert code == EXIT_ERROR and "could not load" in out and "SyntaxError" in out


def test_json_and_junit_reports(tmp_path, capsys):
    target = [f"{EX / 'buggy.py'}:gradients", "--layers", "2,4,1", "--activations",
              "relu,sigmoid", "--loss", "bce", "--cases", "3"]
    code, out, _ = cli([*target, "--format", "json"], capsys)
    data = json.loads(out)
    assert code == data["exit_code"] == EXIT_FAILED and data["format"] == "gradref-validate/1"
    small = data["smallest_failing_case"]
    assert small["status"] == "mismatch" and small["findings"]
    sizes, m = small["network"]["layer_sizes"], small["m"]
    assert np.shape(small["inputs"]["X"]) == (sizes[0], m)
    assert np.shape(small["inputs"]["params"]["W1"]) == (sizes[1], sizes[0])
    assert set(small["got"]) >= {"dW1", "db1", "dW2", "db2"}
    junit = tmp_path / "report.xml"
    code, out, _ = cli([*target, "--format", "junit", "--out", str(junit)], capsys)
    suite = ET.parse(junit).getroot().find("testsuite")
    wrong = sum(not a["ok"] for c in data["cases"] for a in c["arrays"])
    assert int(suite.get("failures")) == wrong > 0 and int(suite.get("errors")) == 0
    assert int(suite.get("tests")) == 4 * 3
    assert out.startswith("DIFFERS: 3 of 3 compared cases")


# --------------------------------------------------------------------------- bad arguments
GOOD = [f"{EX / 'rows_numpy.py'}:gradients"]
BAD_ARGUMENTS = {
    "layers": ([*GOOD, "--layers", "2,x,1", "--activations", "relu,sigmoid", "--loss", "bce"],
               ["argument --layers", "'2,x,1'"]),
    "activation": ([*GOOD, "--layers", "2,1", "--activations", "swoosh", "--loss", "bce"],
                   ["argument --activations", "swoosh"]),
    "loss": ([*GOOD, *NET[:4], "--loss", "hinge"], ["argument --loss", "hinge"]),
    "layout": ([*GOOD, *NET, "--layout", "diagonal"], ["argument --layout", "'diagonal'"]),
    "bias": ([*GOOD, *NET, "--bias", "sideways"], ["argument --bias", "'sideways'"]),
    "cases": ([*GOOD, *NET, "--cases", "0"], ["argument --cases", "'0'"]),
    "seed": ([*GOOD, *NET, "--seed", "-1"], ["argument --seed", "'-1'"]),
    "l2": ([*GOOD, *NET, "--l2", "-0.5"], ["argument --l2", "'-0.5'"]),
    "rtol": ([*GOOD, *NET, "--rtol", "nan"], ["argument --rtol", "'nan'"]),
    "timeout": ([*GOOD, *NET, "--timeout", "0"], ["argument --timeout", "'0'"]),
    "slope-value": ([*GOOD, *NET, "--leaky-slope", "inf"], ["argument --leaky-slope", "'inf'"]),
    "slope-unused": ([*GOOD, *NET, "--leaky-slope", "0.05"],
                     ["argument --leaky-slope", "0.05", "no plain leaky_relu"]),
    "format": ([*GOOD, *NET, "--format", "xml"], ["argument --format", "'xml'"]),
    # a missing folder would be created (as by every --out); a file in the path cannot be
    "out": ([*GOOD, *NET, "--out", f"{__file__}/r.txt"], ["argument --out",
                                                            "is a file, not a folder"]),
    "target-no-colon": (["impl.py", *NET], ["FILE.py:FUNCTION", "'impl.py'"]),
    "target-suffix": (["impl.txt:f", *NET], ["must be a .py", "'impl.txt'"]),
    "target-missing": (["missing.py:f", *NET], ["file 'missing.py' does not exist"]),
    "forward-missing": ([*GOOD, *NET, "--forward", "nowhere.py:cost"],
                        ["argument --forward", "'nowhere.py' does not exist"]),
    "neither": (NET, ["exactly one of FILE.py:FUNCTION and --command (got neither)"]),
    "both": ([*GOOD, *NET, "--command", "x {case} {out}"], ["(got both)"]),
    "command-placeholder": ([*NET, "--command", "impl {case}"],
                            ["argument --command", "'impl {case}'", "{out}"]),
    "count": ([*GOOD, "--layers", "2,3,1", "--activations", "relu,relu,sigmoid", "--loss",
               "bce"], ["argument --activations", "3 activation(s)", "needs 2"]),
    "one-loss": ([*GOOD, *NET[:4], "--loss", "bce,square"], ["argument --loss", "bce,square"]),
    "pairing": ([*GOOD, "--layers", "2,1", "--activations", "relu", "--loss", "bce"],
                ["argument --loss", "cannot follow output activation 'relu'"]),
    "no-layers": ([*GOOD, *NET[2:]], ["argument --layers: required"]),
    "no-pairing": ([*GOOD, "--random-architectures", "--activations", "relu,tanh", "--loss",
                    "bce"], ["argument --loss", "no activation in relu, tanh"]),
}


@pytest.mark.parametrize("name", BAD_ARGUMENTS)
def test_bad_arguments(name, capsys):
    argv, fragments = BAD_ARGUMENTS[name]
    code, out, err = cli(argv, capsys)
    assert code == EXIT_ERROR and out == ""
    for fragment in fragments:
        assert fragment in err


# --------------------------------------------------------------------------- the library
def _autograd_gradients(layout, bias):
    """An independent implementation: the cost in autograd.numpy, differentiated by autograd,
    with its own layout handling."""
    def gradients(params, X, Y, arch):
        rows = layout == "rows"
        acts = [get_activation(a) for a in arch["activations"]]
        fns = [lambda z, a=a: ORACLE_ACTIVATIONS[a.name](z, **a.params) for a in acts]
        fused = ORACLE_FUSED.get((arch["loss"], acts[-1].name))
        Xc, Yc = (X.T, Y.T) if rows else (X, Y)

        def cost(p):
            A = Xc
            for l, fn in enumerate(fns, start=1):
                W, b = p[f"W{l}"], p[f"b{l}"]
                Z = anp.dot(W.T if rows else W, A) + anp.reshape(b, (-1, 1))
                if l == len(fns) and fused is not None:
                    return anp.sum(fused(Z, Yc)) / Xc.shape[1] + _l2(p, arch, Xc.shape[1])
                A = fn(Z)
            return anp.sum(ORACLE_LOSSES[arch["loss"]](A, Yc)) / Xc.shape[1] + \
                _l2(p, arch, Xc.shape[1])

        return {f"d{k}": v for k, v in autograd.grad(cost)(params).items()}
    return gradients


def _l2(p, arch, m):
    return arch["l2"] / (2.0 * m) * sum(anp.sum(p[k] ** 2) for k in p if k[0] == "W")


@pytest.mark.parametrize("layout, bias", [("columns", "column"), ("rows", "row"),
                                          ("rows", "flat"), ("columns", "row")])
def test_a_correct_independent_implementation_is_never_flagged(layout, bias):
    settings = Settings(("relu", "leaky_relu(0.05)", "tanh", "sigmoid", "softmax", "softplus",
                         "elu", "gelu", "silu", "linear"),
                        ("bce", "cross_entropy", "square", "half_square"), layout=layout,
                        bias=bias, l2=0.3, random_architectures=True, cases=10, seed=3)
    report = validate(_autograd_gradients(layout, bias), settings)
    assert report.exit_code == EXIT_OK, report.render()
    assert len({json.dumps(c.network) for c in report.cases}) > 5


# the dropout/normalisation mutants need validate's --dropout/--normalization options, which
# it does not take yet: they are caught through check_network (tests/test_layer_mutants.py)
@pytest.mark.parametrize("mutant", sorted(m for m in MUTANTS if not MUTANTS[m].layered))
def test_every_mutant_is_caught(mutant):
    mu = MUTANTS[mutant]
    net = example_case(mu)[0]
    settings = Settings(tuple(a.spec for a in net.activations), (net.loss.name,),
                        tuple(net.layer_sizes), l2=net.l2, cases=2, shrink=False)
    report = validate(lambda params, X, Y: mu(net, params, X, Y), settings)
    assert report.exit_code == (EXIT_OK if mu.acceptable else EXIT_FAILED), report.render()


def _fixed(cases=4, **kw):
    return Settings(("relu", "sigmoid"), ("bce",), (3, 5, 1), cases=cases, **kw)


def _correct(params, X, Y):
    """The catalogue's correct step-by-step pass: relu layers, a sigmoid output, bce."""
    L = len(params) // 2
    sizes = [X.shape[0]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)]
    net = Network(sizes, ["relu"] * (L - 1) + ["sigmoid"], "bce")
    return {k: v for k, v in correct_backward(net, params, X, Y).items() if k[1] in "Wb"}


def test_errors_without_mismatches_could_not_run_and_one_traceback_is_shown_once():
    calls = []

    def flaky(params, X, Y):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return _correct(params, X, Y)

    report = validate(flaky, _fixed())
    assert [c.status for c in report.cases] == ["match", "error", "match", "match"]
    assert report.exit_code == EXIT_ERROR and "RuntimeError: boom" in report.cases[1].error
    assert report.summary().startswith("COULD NOT RUN: 1 of 4 cases gave no answer; the "
                                       "other 3 match")
    report = validate(lambda p, X, Y: 1 / 0, _fixed())
    text = report.render()
    assert report.exit_code == EXIT_ERROR and text.count("ZeroDivisionError") == 2  # + headline
    assert "raised ZeroDivisionError: division by zero (at test_validate.py:" \
        in report.summary()
    assert "(the same in 4 cases)" in text and text.count("the same as case 1") == 3
    report = validate(lambda p, X, Y: None, _fixed(cases=1))
    assert report.exit_code == EXIT_ERROR
    assert "returned None, expected the gradients" in report.cases[0].error


def test_wrong_shapes_and_nonfinite_values_are_wrong_answers():
    def no_keepdims(params, X, Y):
        g = _correct(params, X, Y)
        return {**g, "db1": g["db1"].ravel()}

    report = validate(no_keepdims, _fixed(cases=2))
    assert report.exit_code == EXIT_FAILED
    verdict = {a.name: a for a in report.cases[0].arrays}["db1"]
    assert verdict.problem == "shape" and verdict.shape == (5,)
    assert any("keepdims" in f for f in report.smallest.findings)
    report = validate(lambda p, X, Y: {**_correct(p, X, Y), "dW2": np.full((1, 5), np.nan)},
                      _fixed(cases=1))
    assert report.exit_code == EXIT_FAILED and report.cases[0].failing == ["dW2"]
    data = json.loads(report.render("json"))  # NaN becomes null
    assert data["smallest_failing_case"]["got"]["dW2"] == [[None] * 5]
    assert "contains NaN or infinity" in report.render()


def test_smallest_failing_case_is_smaller_and_fails_the_same_way():
    def db_sum(params, X, Y):
        g = _correct(params, X, Y)
        return {**g, "db2": g["db2"] * X.shape[1]}

    settings = Settings(("relu", "relu", "sigmoid"), ("bce",), (4, 6, 5, 1), cases=3)
    report = validate(db_sum, settings)
    small = report.smallest
    assert report.exit_code == EXIT_FAILED and small.failing == ["db2"]
    assert small.case.size < min(c.case.size for c in report.cases) and small.m not in (1, 2)
    assert report.shrink_tries > 0


def test_forward_wrong_but_backward_right():
    def cost(params, X, Y):
        A = 1 / (1 + np.exp(-(params["W2"] @ np.maximum(params["W1"] @ X + params["b1"], 0)
                              + params["b2"])))
        return float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)))  # a sum: no 1/m

    report = validate(_correct, _fixed(cases=2), forward=cost)
    assert report.exit_code == EXIT_FAILED and all(c.status == "match" for c in report.cases)
    assert report.forward.cost_matches is False
    assert "your backward matches the reference but your forward does not" in report.render()


def test_same_seed_same_report():
    def strip(text):
        data = json.loads(text)
        for c in data["cases"]:
            c["seconds"] = 0
        data["seconds"] = 0
        return data

    first = validate(_correct, _fixed(seed=5)).render("json")
    assert strip(first) == strip(validate(_correct, _fixed(seed=5)).render("json"))
    assert strip(first) != strip(validate(_correct, _fixed(seed=6)).render("json"))


BAD_SETTINGS = {
    "layout": (dict(layout="diagonal"), "layout must be one of columns, rows"),
    "bias": (dict(bias="sideways"), "bias must be one of column, row, flat"),
    "cases": (dict(cases=0), "cases must be a positive integer, got 0"),
    "seed": (dict(seed=-2), "seed must be a non-negative integer, got -2"),
    "l2": (dict(l2=float("nan")), "l2 must be a finite number >= 0, got nan"),
    "rtol": (dict(rtol=-1.0), "rtol must be a finite number >= 0, got -1.0"),
    "layers": (dict(layers=None), "layers is required"),
}


@pytest.mark.parametrize("name", BAD_SETTINGS)
def test_bad_settings(name):
    changes, message = BAD_SETTINGS[name]
    base = dict(activations=("relu", "sigmoid"), losses=("bce",), layers=(3, 5, 1))
    with pytest.raises(ValueError) as info:
        Settings(**{**base, **changes})
    assert message in str(info.value)


def test_float32_answers_are_compared_at_float32_precision_without_flags():
    def float32(params, X, Y, factor=1.0):
        return {k: (v * factor).astype(np.float32) for k, v in _correct(params, X, Y).items()}

    report = validate(float32, _fixed(cases=3))
    assert report.exit_code == EXIT_OK and "answers in float32" in report.render()
    assert validate(lambda p, X, Y: float32(p, X, Y, 1.001),
                    _fixed(cases=3)).exit_code == EXIT_FAILED
    assert validate(float32, _fixed(cases=2, rtol=1e-12)).exit_code == EXIT_FAILED


def test_c_implementation_reproduces_the_fixtures_it_supports(c_binary, tmp_path):
    """A non-Python reader of the fixtures format: every fixture within its repertoire."""
    from gradref.reference.casefile import read_gradients
    from gradref.reference.fixtures import load_fixtures, write_fixtures

    write_fixtures(tmp_path)
    supported = {"relu", "leaky_relu", "tanh", "sigmoid", "linear"}
    checked = 0
    for case in load_fixtures(tmp_path):
        if not {a.name for a in case.network.activations} <= supported \
                or case.network.loss.name == "cross_entropy":
            continue
        out = tmp_path / f"{case.sidecar['name']}_c.npz"
        subprocess.run([c_binary, str(case.path), str(out)], check=True, capture_output=True)
        got = read_gradients(out, case.network)
        for key in case.sidecar["outputs"]:
            expected = case.arrays[key]
            assert np.max(np.abs(got[key] - expected)) <= 1e-9 * np.max(np.abs(expected)) + \
                1e-12, (case.sidecar["name"], key)
        checked += 1
    assert checked >= 10
