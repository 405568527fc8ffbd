"""The built-in layered-full assignment (CS231n assignment 2 in full): the examples' verdicts and
diagnoses, the cache of the student's own forward (cache_from), bn_param written back (inplace),
dropout's two readings of p, the versions of FullyConnectedNet's arguments, grade-all, and the
case data's claims (oracles: autograd and restatements, never the grader's own values)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from gradref.checks.grading import grade_source, grade_submission, load_assignment
from gradref.checks.grading.assignment import AssignmentError, parse_assignment
from gradref.checks.grading.batch import grade_all
from gradref.checks.grading.cases import generate_cases
from gradref.checks.grading.computations import COMPUTATIONS, Layout
from gradref.checks.grading.curricula.layered_full import InvertedDropout
from gradref.checks.grading.tolerances import VALUES_RTOL

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "submissions" / "layered-full"
EXPECTED = json.loads((EXAMPLES / "expected.json").read_text())
FLAT = (EXAMPLES / "correct_flat.py").read_text()
_REPORTS: dict[str, object] = {}


def report_of(name: str):
    if name not in _REPORTS:
        _REPORTS[name] = grade_submission(EXAMPLES / name, "layered-full", seed=EXPECTED["seed"])
    return _REPORTS[name]


def by_function(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for t in report.tests:
        out.setdefault(t.name.partition(": ")[0], []).append(t)
    return out


def graded_source(key: str, source: str):
    if key not in _REPORTS:
        _REPORTS[key] = grade_source(source, "layered-full", seed=0, name=f"{key}.py")
    return _REPORTS[key]


# --------------------------------------------------------------------------- the declaration
def test_it_extends_layered_and_adds_the_assignment_2_functions():
    asg = load_assignment("layered-full")
    names = [f.display for f in asg.functions]
    layered = [f.display for f in load_assignment("layered").functions]
    assert names[:len(layered)] == layered          # inherited, in order, not copied
    assert asg.max_score == 100
    for fn in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
               "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
               "sgd", "sgd_momentum", "rmsprop", "adam", "FullyConnectedNet.loss (batchnorm)",
               "FullyConnectedNet.loss (layernorm)", "FullyConnectedNet.loss (dropout, scores)"):
        assert fn in names
    spec = {f.display: f for f in asg.functions}
    assert spec["batchnorm_backward"].forward[0] == "batchnorm_forward"
    assert spec["dropout_backward"].forward[0] == "dropout_forward"
    assert spec["batchnorm_forward"].inplace == {"bn_param": "bn_param_after"}
    assert "optim" in asg.package.modules and "cs231n.optim" not in asg.course_modules


@pytest.mark.parametrize("change, message", [
    ({"cache_from": "batchnorm_fwd"},
     r"cache_from: 'batchnorm_fwd' is not another declared module-level function"),
    ({"cache_from": "softmax_loss"}, r"softmax_loss returns no cache that batchnorm_backward takes"),
    ({"inplace": {"gamma": "bn_param_after"}},
     r"inplace: 'gamma' is not a positional argument of every call form"),
])
def test_bad_cache_from_and_inplace_are_named(change, message):
    base = {"extends": "layered-full", "functions": [{"name": "batchnorm_backward", **change}]}
    with pytest.raises(AssignmentError, match=message):
        parse_assignment(base, "mine.toml")


# --------------------------------------------------------------------------- the examples
@pytest.mark.parametrize("name", sorted(EXPECTED["submissions"]))
def test_each_example_fails_exactly_the_expected_functions_with_the_mistake_named(name):
    expected = EXPECTED["submissions"][name]
    report = report_of(name)
    functions = by_function(report)
    failing = {f for f, ts in functions.items() if any(t.status == "failed" for t in ts)}
    assert failing == set(expected["fail"]), report.output
    for function, words in expected["fail"].items():
        text = "\n".join(t.name + "\n" + t.output for t in functions[function]
                         if t.status == "failed").lower()
        for word in words:
            assert word.lower() in text, f"{name}: {function}: {word!r} not in\n{text}"
    for word in expected.get("summary", []):
        assert word in report.output
    if not expected["fail"]:
        assert report.score == report.max_score == 100
        assert "Finite differences" not in report.output     # a float32 default is no FD


def test_the_correct_package_gets_full_marks_on_other_seeds_too():
    for seed in (1,):
        report = grade_submission(EXAMPLES / "correct", "layered-full", seed=seed)
        assert report.score == 100, report.output


# --------------------------------------------------------------------------- own forward's cache
def test_a_backward_is_graded_on_the_cache_its_own_forward_returns():
    # a cache of another layout altogether (a dict, its own names) is right for its backward
    source = FLAT.replace("        cache = (xhat, gamma, std)\n",
                          "        cache = {'hat': xhat, 'g': gamma, 's': std}\n")
    source = source.replace('''def batchnorm_backward_alt(dout, cache):
    xhat, gamma, std = cache''', '''def batchnorm_backward_alt(dout, cache):
    xhat, gamma, std = cache['hat'], cache['g'], cache['s']''')
    source = source.replace('''    # the computation graph, node by node
    xhat, gamma, std = cache''', '''    xhat, gamma, std = cache['hat'], cache['g'], cache['s']''')
    assert source.count("cache['hat']") == 2
    report = graded_source("dict_cache", source)
    assert report.score == 100, report.output


def test_a_backward_without_its_forward_says_what_is_missing():
    source = FLAT.replace("def dropout_forward(", "def _renamed_dropout_forward(")
    functions = by_function(graded_source("no_dropout_forward", source))
    text = "\n".join(t.output for t in functions["dropout_backward"])
    assert "dropout_forward is not defined in the submission: dropout_backward is graded on the " \
           "cache your dropout_forward returns" in text


def test_dropout_backward_follows_the_mask_of_any_sampler():
    # a binomial mask is a valid inverted dropout: forward and backward both pass
    source = FLAT.replace("mask = (np.random.rand(*x.shape) < p) / p",
                          "mask = np.random.binomial(1, p, size=x.shape) / p")
    functions = by_function(graded_source("binomial", source))
    for name in ("dropout_forward", "dropout_backward"):
        assert all(t.status == "passed" for t in functions[name]), functions[name][0].output


def test_running_statistics_not_written_back_are_named():
    source = FLAT.replace('''    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
''', "")
    functions = by_function(graded_source("no_write_back", source))
    failed = [t for t in functions["batchnorm_forward"] if t.status == "failed"]
    assert [t.name for t in failed] == ["batchnorm_forward: running statistics written into bn_param"]
    assert "not written back into bn_param" in failed[0].output


# --------------------------------------------------------------------------- versions
def test_the_2016_17_constructor_and_optimiser_names_are_accepted():
    source = FLAT.replace("dropout_keep_ratio=1, normalization=None,",
                          "dropout=0, use_batchnorm=False,")
    old = '''        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1'''
    source = source.replace(old, '''        normalization = "batchnorm" if use_batchnorm else None
        dropout_keep_ratio = dropout if dropout > 0 else 1
        self.normalization = normalization
        self.use_dropout = dropout > 0''')
    source = source.replace("def adam(w, dw, config=None):", "def adam(x, dx, config=None):\n"
                            "    w, dw = x, dx")
    report = graded_source("y2017", source)
    functions = by_function(report)
    for name in ("FullyConnectedNet.loss (batchnorm)", "FullyConnectedNet.__init__ (batchnorm)",
                 "FullyConnectedNet.loss (dropout, scores)", "adam"):
        assert all(t.status == "passed" for t in functions[name]), functions[name][0].output
    assert "Accepted: FullyConnectedNet.loss (batchnorm) uses the 2016-17 use_batchnorm" in report.output
    assert "uses the 2016-20 dropout argument" in report.output
    # the 2016-17 net has no layer norm: that entry fails (documented: zero its points)
    assert any(t.status == "failed" for t in functions["FullyConnectedNet.loss (layernorm)"])


# --------------------------------------------------------------------------- class report
def test_grade_all_and_the_class_report_on_a_folder_of_the_examples(tmp_path):
    klass = tmp_path / "class"
    shutil.copytree(EXAMPLES / "correct", klass / "ana")
    for name in ("bn_momentum_swapped.py", "adam_no_bias_correction.py"):
        shutil.copy(EXAMPLES / name, klass / name)
    result = grade_all(klass, tmp_path / "gb.csv", assignment="layered-full")
    assert sorted(result.graded) == ["adam_no_bias_correction", "ana", "bn_momentum_swapped"]
    rows = {r.split(",")[0]: r.split(",")[1] for r in
            (tmp_path / "gb.csv").read_text().splitlines()[1:]}
    assert rows["ana"] == "100" and float(rows["bn_momentum_swapped"]) < 100
    summary = (tmp_path / "gb_summary.md").read_text()
    assert "momentum is applied to the wrong term" in summary
    assert "skips the bias correction" in summary


# --------------------------------------------------------------------------- case data, oracles
def _case(name: str, variant=None, m=8, n=5):
    from gradref.checks.grading.cases import Case

    level = COMPUTATIONS[name].level
    dims = (n,) if level == "array" else (n, n)
    return Case(level, dims, m, variant=variant, seed=3, variant_name="mode")


def _bn_restated(x, gamma, beta, eps):
    mu = anp.mean(x, axis=0)
    var = anp.mean((x - mu) ** 2, axis=0)
    return gamma * (x - mu) / anp.sqrt(var + eps) + beta


def test_batchnorm_expected_values_agree_with_autograd_of_a_restated_forward():
    built = COMPUTATIONS["batchnorm_backward"].build(_case("batchnorm_backward"),
                                                     Layout("rows", "flat"), None, {})
    q = built.quantities
    eps = q["bn_param"].get("eps", 1e-5)

    def f(x, g, b):
        return anp.sum(_bn_restated(x, g, b, eps) * q["dout"])

    for i, key in enumerate(("dx", "dgamma", "dbeta")):
        oracle = autograd.grad(f, i)(q["x"], q["gamma"], q["beta"])
        assert np.allclose(q[key], oracle, rtol=1e-10, atol=1e-12)
    assert np.allclose(q["out"], _bn_restated(q["x"], q["gamma"], q["beta"], eps), rtol=1e-12)


def test_one_pass_variances_pass_at_the_case_data_but_not_at_a_mean_of_a_million():
    """The tolerance claim: E[x^2] - mean^2 (the least accurate correct form) stays within
    VALUES_RTOL on the cases' data; shifted by 1e6 it does not (why the cases keep means small)."""
    def one_pass(x, gamma, beta, eps):
        mu = x.mean(axis=0)
        var = (x * x).mean(axis=0) - mu * mu
        return gamma * (x - mu) / np.sqrt(var + eps) + beta

    comp = COMPUTATIONS["batchnorm_forward"]
    ranges = load_assignment("layered-full").functions[8].ranges
    for case in generate_cases("array", ranges, seed=0, label="bn", variants=("train",),
                               variant_name="mode"):
        q = comp.build(case, Layout("rows", "flat"), None, {}).quantities
        eps = q["bn_param"].get("eps", 1e-5)
        got = one_pass(q["x"], q["gamma"], q["beta"], eps)
        assert np.max(np.abs(got - q["out"])) <= VALUES_RTOL * np.max(np.abs(q["out"]))
        shifted = one_pass(q["x"] + 1e6, q["gamma"], q["beta"], eps)
        assert np.max(np.abs(shifted - q["out"])) > VALUES_RTOL * np.max(np.abs(q["out"]))


def test_the_dropout_judge_accepts_both_readings_of_p_and_names_the_rest():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 30)) + 3.0
    p = 0.8
    judge = InvertedDropout(x, p)
    keep = rng.random(x.shape) < p
    assert judge.problem("out", x * keep / p) is None and judge.accepted(x * keep / p) is None
    drop_reading = rng.random(x.shape) >= p               # the 2016-17 meaning of p
    out = x * drop_reading / (1 - p)
    assert judge.problem("out", out) is None
    assert "drop probability" in judge.accepted(out)[0]
    assert "not rescaled" in judge.problem("out", x * keep)
    assert "drop and keep are confused" in judge.problem("out", x * drop_reading / p)
    assert "nothing was dropped" in judge.problem("out", x.copy())
    shared = np.broadcast_to(keep[:1], x.shape)            # one mask row for every example
    assert "same mask" in judge.problem("out", x * shared / p)


def test_in_process_grading_observes_bn_param_and_refuses_a_backward_alone():
    import importlib.util

    import gradref

    spec = importlib.util.spec_from_file_location("layered_full_flat", EXAMPLES / "correct_flat.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = gradref.grade_function("batchnorm_forward", module.batchnorm_forward,
                                    assignment="layered-full")
    assert report.score == report.max_score == 7
    forgetful = gradref.grade_function("batchnorm_forward", lambda x, g, b, p: (
        module.batchnorm_forward(x, g, b, dict(p))), assignment="layered-full")
    assert forgetful.score == 5
    assert any("not written back" in t.output for t in forgetful.tests)
    alone = gradref.grade_function("batchnorm_backward", module.batchnorm_backward,
                                   assignment="layered-full")
    assert alone.score == 0
    assert "graded on the cache of your own batchnorm_forward" in alone.tests[0].output


def test_a_cache_that_cannot_be_sent_back_costs_the_backward_nothing():
    # the own forward's cache stays in the sandbox: a lambda in it (unpicklable) is fine
    source = FLAT.replace("    return out.astype(x.dtype, copy=False), (dropout_param, mask)",
                          "    return out.astype(x.dtype, copy=False), (dropout_param, mask, "
                          "lambda: None)")
    source = source.replace("    dropout_param, mask = cache\n", "    dropout_param, mask = cache[:2]\n")
    functions = by_function(graded_source("lambda_cache", source))
    assert all(t.status == "passed" for t in functions["dropout_backward"]), \
        functions["dropout_backward"][0].output


def test_layer_norm_backward_with_gamma_out_of_the_means_is_named():
    right = '''    g = dout * gamma
    dx = (g - g.mean(axis=1, keepdims=True)
          - xhat * (g * xhat).mean(axis=1, keepdims=True)) / std'''
    wrong = '''    dx = gamma * (dout - dout.mean(axis=1, keepdims=True)
                  - xhat * (dout * xhat).mean(axis=1, keepdims=True)) / std'''
    assert right in FLAT
    source = FLAT.replace(right, wrong)
    functions = by_function(graded_source("ln_gamma_out", source))
    failed = [t for t in functions["layernorm_backward"] if t.status == "failed"]
    assert [t.name for t in failed] == ["layernorm_backward: values of dx"]
    assert "gamma is taken out of the means" in failed[0].output
