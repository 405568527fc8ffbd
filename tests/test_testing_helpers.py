"""``gradref.checks.testing.assert_gradients_match`` and the pytest plugin, as a downstream project uses
them (the plugin through a real inner pytest run with ``pytester``)."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import gradref.checks.pytest_plugin
import gradref.checks.testing
import pytest
from gradref.checks.testing import assert_gradients_match

pytest_plugins = ["pytester"]

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"
NET = dict(layers=[2, 16, 16, 1], activations="relu,relu,sigmoid", loss="bce")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EX / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_correct_implementations_pass_in_process():
    assert_gradients_match(_load("rows_numpy").gradients, layout="rows", **NET)
    assert_gradients_match(_load("flat_bias").gradients, bias="flat", cases=3, seed=4, **NET)


def test_isolated_by_function_object_and_by_path():
    assert_gradients_match(_load("flat_bias").gradients, bias="flat", isolate=True, **NET)
    assert_gradients_match(f"{EX / 'rows_numpy.py'}:gradients", layout="rows", isolate=True,
                           **NET)


def test_mismatch_raises_with_the_diagnosis():
    with pytest.raises(AssertionError) as info:
        assert_gradients_match(_load("buggy").gradients, **NET)
    message = str(info.value)
    assert "DIFFERS: 5 of 5 compared cases differ" in message
    assert "the 1/m averaging is missing" in message and "dW3   ok" in message


def test_an_implementation_that_crashes_fails_the_test():
    with pytest.raises(AssertionError) as info:
        assert_gradients_match(lambda params, X, Y: params["W9"], cases=2, **NET)
    assert "KeyError" in str(info.value)


BAD_CALLS = {
    "layers-str": (dict(NET, layers="2,16,1"), TypeError, "layers must be a sequence"),
    "activations-empty": (dict(NET, activations=[]), TypeError, "activations must be a list"),
    "activations-unknown": (dict(NET, activations="relu,relu,swoosh"), ValueError,
                            "unknown activation 'swoosh'"),
    "loss-type": (dict(NET, loss=None), TypeError, "loss must be a loss name, got None"),
    "layout": (dict(NET, layout="diagonal"), ValueError, "layout must be one of columns, rows"),
    "cases": (dict(NET, cases=0), ValueError, "cases must be a positive integer, got 0"),
    "count": (dict(NET, layers=[2, 1]), ValueError, "activations has 3 entries"),
    "isolate-lambda": (dict(NET, isolate=True), ValueError,
                       "isolate=True needs a module-level function"),
}


@pytest.mark.parametrize("name", BAD_CALLS)
def test_bad_calls(name):
    kwargs, exc, message = BAD_CALLS[name]
    with pytest.raises(exc) as info:
        assert_gradients_match(lambda params, X, Y: {}, **kwargs)
    assert message in str(info.value)


def test_public_surface():
    assert gradref.checks.testing.__all__ == ["assert_gradients_match"]
    assert set(gradref.checks.pytest_plugin.__all__) == {"gradref_check", "gradref_strategies",
                                                 "gradref_reference"}


def test_plugin_imports_nothing_heavy(tmp_path):
    code = ("import sys, gradref.checks.pytest_plugin; "
            "print(sorted(m for m in ('numpy', 'gradref.reference', 'gradref.checks.testing', "
            "'hypothesis', 'autograd') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert out.strip() == "[]"


DOWNSTREAM = f'''
import importlib.util

from hypothesis import given, settings


def _gradients():
    spec = importlib.util.spec_from_file_location("rows", {str(EX / "rows_numpy.py")!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.gradients


def test_check(gradref_check):
    gradref_check(_gradients(), layers=[2, 4, 3, 1], activations=["relu", "relu", "sigmoid"],
                  loss="bce", layout="rows", cases=2)


def test_check_fails(gradref_check):
    gradref_check(lambda p, X, Y: {{}}, layers=[2, 1], activations="sigmoid", loss="bce",
                  cases=1)


def test_reference(gradref_reference):
    assert gradref_reference([2, 1], "sigmoid", "bce").n_params == 3


def test_strategies(gradref_strategies):
    @settings(max_examples=3, database=None, derandomize=True)
    @given(gradref_strategies.network_cases(max_depth=2))
    def inner(case):
        net, params, X, Y = case
        assert X.shape[0] == net.layer_sizes[0]
    inner()
'''


def test_plugin_fixtures_in_a_downstream_suite(pytester):
    pytester.makepyfile(test_downstream=DOWNSTREAM)
    result = pytester.runpytest("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*dW1*missing*"])
