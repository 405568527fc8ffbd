"""Validation with batch norm, layer norm and dropout: the options, the masks, the example.

The row-major example with batch norm and dropout (examples/implementations/) passes with the
options only; the same code with a mistake planted (the masks ignored, the mean term dropped) is
caught and named; bad options are refused naming the option and the value.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.testing import assert_gradients_match
from gradref.checks.validation import EXIT_FAILED, EXIT_OK, Settings, validate
from gradref.reference.layouts import from_layout, to_layout
from test_validate import cli

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"
EXAMPLE = EX / "rows_batchnorm_dropout.py"
OPTIONS = ["--layers", "4,6,5,1", "--activations", "relu,relu,sigmoid", "--loss", "bce",
           "--layout", "rows", "--bias", "flat", "--normalization", "batchnorm",
           "--dropout", "0.8"]


def _example():
    spec = importlib.util.spec_from_file_location("rows_batchnorm_dropout", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings(**kw):
    return Settings(("relu", "relu", "sigmoid"), ("bce",), (4, 6, 5, 1), "rows", "flat",
                    normalization="batchnorm", dropout=0.8, **kw)


def test_the_example_passes_with_options_only(capsys):
    code, out, err = cli([f"{EXAMPLE}:gradients", *OPTIONS], capsys)
    assert code == EXIT_OK, out + err
    assert "dgamma1" in out and "dbeta2" in out and "batchnorm in the hidden layers" in out


def test_assert_gradients_match_takes_the_options():
    assert_gradients_match(_example().gradients, layers=[3, 5, 4, 1],
                           activations="relu,relu,sigmoid", loss="bce", layout="rows",
                           bias="flat", normalization="batchnorm", dropout=0.7, cases=3)


def test_ignoring_the_masks_is_caught():
    """No dropout at all (a different forward pass): caught, though no backward slip fits."""
    example = _example()

    def no_mask(params, X, Y, arch):
        arch = dict(arch, masks={k: np.ones_like(v) for k, v in arch["masks"].items()})
        return example.gradients(params, X, Y, arch)

    report = validate(no_mask, _settings(cases=2, shrink=False))
    assert report.exit_code == EXIT_FAILED
    assert all(c.status == "mismatch" for c in report.cases)


def test_the_mean_term_dropped_is_caught_and_named():
    example = _example()

    def no_mean(dout, cache):
        xhat, inv, gamma = cache
        n = dout.shape[0]
        g = dout * gamma
        return inv / n * (n * g - xhat * (g * xhat).sum(axis=0)), (dout * xhat).sum(0), dout.sum(0)

    original = example._bn_backward
    example._bn_backward = no_mean
    try:
        report = validate(example.gradients, _settings(cases=2, shrink=False))
    finally:
        example._bn_backward = original
    assert report.exit_code == EXIT_FAILED
    assert "missing the terms through the batch mean" in report.render()


def test_layernorm_in_columns_through_the_reference_network():
    """An implementation built on the reference itself, column-major with layer norm."""
    from gradref.reference import Network

    def fn(params, X, Y):
        net = Network([3, 4, 2], "tanh,sigmoid", "bce", normalization="layernorm")
        return net.gradients(params, X, Y, intermediates=False)[1]

    settings = Settings(("tanh", "sigmoid"), ("bce",), (3, 4, 2), normalization="layernorm",
                        cases=3)
    assert validate(fn, settings).exit_code == EXIT_OK


def test_gamma_and_beta_take_the_bias_form():
    params = {"W1": np.ones((3, 2)), "b1": np.ones((3, 1)), "gamma1": np.arange(3.0)[:, None],
              "dbeta1": np.ones((3, 1))}
    rows = to_layout(params, "rows", "flat")
    assert rows["gamma1"].shape == (3,) and rows["dbeta1"].shape == (3,)
    assert from_layout(rows, "rows", "flat")["gamma1"].shape == (3, 1)


@pytest.mark.parametrize("argv, words", [
    (["--dropout", "0"], "--dropout"),
    (["--dropout", "1.5"], "1.5"),
    (["--normalization", "groupnorm"], "groupnorm"),
    (["--per-example", "--dropout", "0.5"], "per_example"),
], ids=["dropout 0", "dropout 1.5", "unknown normalization", "per-example with dropout"])
def test_bad_options_are_refused(argv, words, capsys):
    base = ["--layers", "3,4,1", "--activations", "relu,sigmoid", "--loss", "bce"]
    code, out, err = cli([f"{EXAMPLE}:gradients", *base, *argv], capsys)
    assert code == 2 and words in err, err


def test_case_file_carries_masks_and_statistics(tmp_path):
    from gradref.reference import Network
    from gradref.reference.casefile import read_case, write_case

    net = Network([3, 4, 2, 1], "relu,tanh,sigmoid", "bce", normalization=["batchnorm", "layernorm"],
                  dropout=[0.5, None])
    params = net.init_params(seed=1)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((3, 5)), (rng.random((1, 5)) < 0.5) * 1.0
    net = net.with_masks(net.draw_masks(5, rng))
    path = write_case(tmp_path / "c.npz", net, params, X, Y, layout="rows", bias="flat")
    case = read_case(path)
    np.testing.assert_array_equal(case.arrays["D1"], net.masks["D1"].T * 1.0)
    _, cache = net.forward(params, X)
    np.testing.assert_allclose(case.arrays["mu1"], cache["mu1"].ravel())
    assert case.arrays["var2"].shape == (5,) and case.arrays["gamma1"].shape == (4,)
    assert case.sidecar["outputs"]["dbeta2"] == [2]
    assert case.network.normalization[:2] == ["batchnorm", "layernorm"]
    np.testing.assert_array_equal(case.network.masks["D1"], net.masks["D1"])
    p2, X2, Y2 = case.inputs()
    assert case.network.gradients(p2, X2, Y2)[0] == net.gradients(params, X, Y)[0]


PROGRAM = """
import importlib.util, sys
import numpy as np
spec = importlib.util.spec_from_file_location("ex", {example!r})
ex = importlib.util.module_from_spec(spec); spec.loader.exec_module(ex)
case, out = sys.argv[1], sys.argv[2]
data = dict(np.load(case))
import json
side = json.load(open(case[:-4] + ".json"))
arch = dict(side["network"])
arch["masks"] = {{k: data[k] > 0 for k in data if k.startswith("D")}}
params = {{k: v for k, v in data.items() if k[0] in "Wbg" or k.startswith("beta")}}
np.savez(out, **ex.gradients(params, data["X"], data["Y"], arch))
"""


def test_a_command_program_gets_the_masks(tmp_path, capsys):
    program = tmp_path / "prog.py"
    program.write_text(PROGRAM.format(example=str(EXAMPLE)))
    code, out, err = cli(["--command", f"{{python}} {program} {{case}} {{out}}", *OPTIONS,
                          "--cases", "2", "--same-user"], capsys)
    assert code == EXIT_OK, out + err
