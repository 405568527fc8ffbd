"""Real student work, graded to the points its correct functions deserve: the course notebook of
every year with its helper imports and test cells, nbconvert exports, the pre-2020 gradient keys,
NumPy APIs removed since, a student's own helper file, an import nobody provides, a bug that only
larger cases show, the CS231n package layout. Each with its exact expected score (the builders
are in grading_fixtures/patterns.py; each pattern's score before this grader learned it is in
the comment)."""

from __future__ import annotations

import dataclasses
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.grading import grade_source, grade_submission, load_assignment
from gradref.checks.grading.batch import grade_all
from gradref.checks.grading.drift import numpy_drift

sys.path.insert(0, str(Path(__file__).parent / "grading_fixtures"))
import patterns  # noqa: E402

_CACHE: dict = {}


def graded(key, build):
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def per_function(report) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in report.tests:
        name = t.name.partition(": ")[0]
        out[name] = out.get(name, 0.0) + t.score
    return out


# --------------------------------------------------------------------------- course versions
@pytest.mark.parametrize("year", sorted(patterns.YEARS))
def test_the_course_notebook_of_every_year_gets_full_marks(year, tmp_path):
    # before: 46/100 for 2017-2019 (dnn_utils_v2 missing: sigmoid undefined; old keys: -9)
    report = grade_submission(patterns.course_notebook(tmp_path, year), "step-by-step")
    assert report.score == report.max_score == 100, report.output
    assert report.problems == []
    assert "test statement(s) using the course's test helpers were skipped" in report.output
    if year < 2020:
        assert "Accepted: L_model_backward uses the pre-2020 gradient keys" in report.output


def test_helper_stand_ins_answer_any_attribute_and_agree_with_the_reference():
    import numpy as np
    from gradref.reference import get_activation

    asg = load_assignment("step-by-step")
    code = asg.support_modules["dnn_utils_v2"]
    assert code == asg.support_modules["dnn_utils"] == asg.support_modules["dnn_app_utils_v3"]
    ns: dict = {}
    exec(compile(code, "dnn_utils", "exec"), ns)       # the helpers, run here against the reference
    Z = np.linspace(-3, 3, 13).reshape(1, -1) + 1e-3
    dA = np.cos(Z)
    for name in ("sigmoid", "relu"):
        act = get_activation(name)
        A, cache = ns[name](Z)
        assert np.allclose(A, act.value(Z)) and cache is Z
        assert np.allclose(ns[f"{name}_backward"](dA, Z), act.vjp(Z, act.value(Z), dA))
    for stub in ("testCases_v2", "testCases_v3", "testCases_v4", "testCases_v4a", "public_tests",
                 "test_utils"):
        assert stub in asg.stub_modules


def test_a_nbconvert_export_with_get_ipython_and_test_calls_gets_full_marks(tmp_path):
    # before: 0/100 (run as one module: the first get_ipython() or test call failed it all)
    report = grade_submission(patterns.nbconvert_export(tmp_path), "step-by-step")
    assert report.score == 100, report.output
    # the dataset cell fails on the student's disk path: reported, named by cell and line
    assert re.search(r"In\[2\], line \d+: FileNotFoundError", report.output), report.output
    assert report.problems and "FileNotFoundError" in report.problems[0]


def test_a_failing_top_level_statement_costs_nothing_around_it():
    source = patterns.STEP.replace("def compute_cost", "print(undefined_name)\n\n\ndef compute_cost")
    source += "\nraise SystemExit('done')\nx = 1 / 0\n"
    report = grade_source(source, "step-by-step", name="hw.py")
    assert report.score == 100
    assert "NameError: name 'undefined_name' is not defined" in report.output
    assert "SystemExit: done" in report.output and "ZeroDivisionError" in report.output


# --------------------------------------------------------------------------- conventions, NumPy
def test_the_pre_2020_gradient_keys_are_accepted_with_a_note():
    # before: 91/100 (dA0 … dA[L-1] demanded: keys and shapes and values of dA lost)
    report = grade_source(patterns.with_old_keys(patterns.STEP), "step-by-step")
    assert report.score == 100
    out = "\n".join(t.output for t in report.tests if t.name.startswith("L_model_backward"))
    assert "dA1 … dAL, the template's naming before 2020" in out


def test_the_old_keys_still_catch_a_wrong_gradient():
    source = patterns.with_old_keys(patterns.STEP).replace(
        "grads[\"dA\" + str(l + 2)], current_cache", "2 * grads[\"dA\" + str(l + 2)], current_cache")
    report = grade_source(source, "step-by-step")
    assert per_function(report)["L_model_backward"] == 4     # only keys and shapes left


def test_an_accepted_convention_is_declared_in_the_assignment_file():
    asg = load_assignment("step-by-step")
    fn = next(f for f in asg.functions if f.name == "L_model_backward")
    (alt,) = fn.accept
    assert [alt.student_key(k) for k in ("dA0", "dA3", "dW1")] == ["dA1", "dA4", None]


def test_numpy_removed_apis_are_supplied_when_the_assignment_allows_it():
    # before: 92/100 (compute_cost: np.float and reshape(newshape=) raise under NumPy 2)
    source = "import numpy as np\nfrom dnn_utils import *\n" + patterns.numpy_removed()
    assert grade_source(source, "step-by-step").score == 100


def test_numpy_removed_apis_are_named_in_one_sentence_when_strict(tmp_path):
    strict = dataclasses.replace(load_assignment("step-by-step"), compat=())
    source = "import numpy as np\nfrom dnn_utils import *\n" + patterns.numpy_removed()
    report = grade_source(source, strict)
    assert report.score == 92 and per_function(report)["compute_cost"] == 0
    out = "\n".join(t.output for t in report.failed)
    assert ("This error comes from NumPy, not from your backprop: np.float was removed in NumPy "
            "1.24") in out


@pytest.mark.parametrize("message, name", [
    ("TypeError: reshape() got an unexpected keyword argument 'newshape'", "newshape="),
    ("AttributeError: `np.NaN` was removed in the NumPy 2.0 release. Use `np.nan` instead.", "np.NaN"),
    ("AttributeError: module 'numpy' has no attribute 'asscalar'", "np.asscalar"),
    ("AttributeError: module 'numpy' has no attribute 'product'", "np.product"),
    ("AttributeError: `np.alltrue` was removed in the NumPy 2.0 release.", "np.alltrue"),
    ("AttributeError: module 'numpy' has no attribute 'int'.", "np.int"),
])
def test_numpy_drift_is_recognised(message, name):
    sentence = numpy_drift(message)
    assert sentence and name in sentence and "not from your backprop" in sentence
    assert numpy_drift("AttributeError: module 'numpy' has no attribute 'dott'") is None


# --------------------------------------------------------------------------- helpers, imports
def test_the_students_own_helper_file_beside_the_notebook_is_used(tmp_path):
    # before: 100/100 (the grader's dnn_utils replaced the student's buggy one)
    report = grade_submission(patterns.helper_beside(tmp_path / "bob"), "step-by-step")
    assert report.score == 75
    assert per_function(report)["linear_activation_backward"] == 3
    assert "uses your dnn_utils.py" in report.output
    assert any('File "dnn_utils.py"' in t.output or "relu" in t.output for t in report.failed)


def test_a_failed_import_is_named_in_the_test_output_and_the_problems(tmp_path):
    first = patterns.header(2021).replace("from dnn_utils import", "from dnn_utils_v9 import")
    path = patterns.course_notebook(tmp_path, 2021, name="hw.ipynb", first=first)
    report = grade_submission(path, "step-by-step")
    assert report.score == 46       # the four functions that need sigmoid/relu lose everything
    assert report.problems == ["import of 'dnn_utils_v9' failed: ModuleNotFoundError: No module "
                               "named 'dnn_utils_v9' (cell 2, line 5)"]
    failed = [t for t in report.failed if "is not defined" in t.output]
    assert failed and all("import of 'dnn_utils_v9' failed" in t.output for t in failed)
    out = tmp_path / "gb.csv"
    grade_all(tmp_path, out)
    row = (tmp_path / "gb.csv").read_text().splitlines()[1]
    assert "import of 'dnn_utils_v9' failed" in row


# --------------------------------------------------------------------------- cases, shrinking
def test_a_bug_only_for_m_above_6_is_caught_by_the_larger_cases():
    # before: 100/100 (every case had m <= 6)
    report = grade_source(patterns.only_above_6(), "step-by-step")
    assert report.score == 89
    assert {t.name for t in report.failed} == {
        "linear_backward: values of db", "linear_activation_backward: values of db",
        "L_model_backward: values of db1 … dbL"}
    out = next(t.output for t in report.failed if t.name == "linear_backward: values of db")
    assert re.search(r"Smallest failing case: n_prev = \d+, n = \d+, m = 7\.", out), out


def test_shrinking_never_shows_a_crash_for_a_value_mismatch():
    # crashes on one-layer networks (caches[-2]), wrong dW in the hidden layers of deeper ones
    source = patterns.STEP.replace(
        "    for l in reversed(range(L - 1)):\n        dA_prev, dW, db = linear_activation_backward(",
        "    caches[-2]\n    for l in reversed(range(L - 1)):\n        dA_prev, dW, db = "
        "linear_activation_backward(").replace(
        'grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = dA_prev, dW, db',
        'grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = dA_prev, 2 * dW, db')
    report = grade_source(source, "step-by-step")
    out = next(t.output for t in report.failed if t.name == "L_model_backward: values of dW1 … dWL")
    first = out.splitlines()[0]
    dims = re.search(r"layer_dims = \[([\d, ]+)\]", first).group(1).split(",")
    assert len(dims) == 3, first                  # smallest with a hidden layer, not [n, 1]
    assert "IndexError" not in out and "dW1 is wrong" in out


# --------------------------------------------------------------------------- package layout
def test_the_cs231n_package_layout_gets_full_marks_as_folder_zip_and_file(tmp_path):
    # before: fc_net.py alone 0, layers.py alone 56, the folder not gradable
    repo = patterns.cs231n_package(tmp_path / "alice")
    for path in (repo, patterns.zipped(repo, tmp_path / "alice.zip"),
                 repo / "cs231n" / "classifiers" / "fc_net.py"):
        report = grade_submission(path, "layered")
        assert report.score == report.max_score == 100, (path, report.output)


def test_a_broken_package_module_is_named_by_its_file(tmp_path):
    repo = patterns.cs231n_package(tmp_path / "carl")
    fc = repo / "cs231n" / "classifiers" / "fc_net.py"
    fc.write_text(fc.read_text().replace("from ..layer_utils import *",
                                         "from ..layer_utils import *\nfrom ..my_layers import *"))
    report = grade_submission(repo, "layered")
    # the layers are graded; the class is missing, and why is said with the student's file names
    assert per_function(report)["affine_forward"] == 10
    assert report.problems and "import of 'cs231n.my_layers' failed" in report.problems[0]
    assert "cs231n/classifiers/fc_net.py" in report.problems[0] or "fc_net" in report.output


@pytest.mark.parametrize("init, nested, py2", [(True, True, False), (False, True, True),
                                               (False, False, False), (True, False, True)])
def test_a_course_repository_as_committed_gets_full_marks_as_folder_and_zip(tmp_path, init,
                                                                            nested, py2):
    # before: 56/100 (layer_utils.py and fc_net.py import cs231n.fast_layers, which is compiled
    # and never committed, or a Python 2 copy; FullyConnectedNet never defined) and 46/100 with
    # newshape= (affine_forward and affine_backward lost too)
    repo = patterns.course_repository(tmp_path / "ana", init=init, nested=nested,
                                      py2_fast_layers=py2)
    for path in (repo, patterns.zipped(repo, tmp_path / "ana.zip")):
        report = grade_submission(path, "layered")
        assert report.score == report.max_score == 100, (path, report.output)
        assert report.problems == [], report.problems
        # a Python 2 copy of the course's module is translated (compat python2), not replaced
        assert ("cs231n/fast_layers.py translated to Python 3 by 2to3" in report.output) == py2
        assert "your cs231n/fast_layers.py could not be imported" not in report.output


def test_a_course_stand_in_raises_clearly_and_costs_only_the_function_that_calls_it(tmp_path):
    repo = patterns.course_repository(tmp_path / "ben")
    layers = repo / "assignment2" / "cs231n" / "layers.py"
    layers.write_text(layers.read_text().replace(
        "def relu_backward(dout, cache):\n",
        "def relu_backward(dout, cache):\n    from cs231n.im2col import im2col_indices\n"
        "    im2col_indices(dout, 1, 1)\n"))
    report = grade_submission(repo, "layered")
    scores = per_function(report)
    assert scores.pop("relu_backward") == 0
    assert scores.pop("FullyConnectedNet.loss") == 0          # its backward pass calls it
    full = {name: max_ for name, max_ in _max_per_function(report).items() if name in scores}
    assert scores == full
    out = next(t.output for t in report.failed if t.name.startswith("relu_backward"))
    assert ("NotProvidedByGrader: cs231n.im2col.im2col_indices is not provided by the grader"
            in out), out


def test_the_students_own_copy_of_a_course_module_wins_when_it_imports(tmp_path):
    repo = patterns.course_repository(tmp_path / "cy")
    pkg = repo / "assignment2" / "cs231n"
    (pkg / "im2col.py").write_text("def flat(x):\n    return x.reshape(x.shape[0], -1)\n")
    layers = pkg / "layers.py"
    layers.write_text(layers.read_text().replace(
        "out = np.reshape(x, newshape=(x.shape[0], -1)).dot(w) + b",
        "from cs231n.im2col import flat\n    out = flat(x).dot(w) + b"))
    report = grade_submission(repo, "layered")
    assert report.score == 100, report.output
    (pkg / "im2col.py").write_text("def flat(x):\n    return 2 * x.reshape(x.shape[0], -1)\n")
    assert per_function(grade_submission(repo, "layered"))["affine_forward"] < 10


def _max_per_function(report) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in report.tests:
        name = t.name.split(": ")[0]
        out[name] = out.get(name, 0) + t.max_score
    return out


def test_grade_all_takes_each_students_folder_as_one_submission(tmp_path):
    klass = tmp_path / "class"
    patterns.cs231n_package(klass / "alice")
    (klass / "bob.py").write_text(patterns.LAYERED)
    patterns.zipped(patterns.cs231n_package(tmp_path / "zoe"), klass / "zoe.zip")
    result = grade_all(klass, tmp_path / "gb.csv", assignment="layered")
    assert result.graded == ["alice", "bob", "zoe"] and result.invalid == []
    rows = (tmp_path / "gb.csv").read_text().splitlines()[1:]
    assert [r.split(",")[1] for r in rows] == ["100", "100", "100"]


# --------------------------------------------------------------------------- the declaration
@pytest.mark.parametrize("change, message", [
    ({"compat": ["numpi"]}, r"compat\[0\]: 'numpi' is not one of numpy"),
    ({"module_aliases": {"dnn_utils_v2": "dnn_util"}},
     r"module_aliases\.dnn_utils_v2: must name a support module \(dnn_utils\), got 'dnn_util'"),
    ({"package": {"name": "cs231n"}}, r"package: needs 'name' .* and 'modules'"),
    ({"package": {"name": "cs-231n", "modules": ["layers"]}},
     r"package\.name: 'cs-231n' is not a module name"),
    ({"course_modules": {"cs231n.fast-layers": []}},
     r"course_modules\.cs231n\.fast-layers: 'cs231n\.fast-layers' is not a module name"),
    ({"course_modules": {"cs231n.solver": ["_private"]}},
     r"course_modules\.cs231n\.solver\[0\]: '_private' is not a public name"),
    ({"course_modules": {"dnn_utils": []}},
     r"course_modules\.dnn_utils: 'dnn_utils' is also a support or stub module"),
    ({"cases": {"large": {"count": 99}}}, r"cases\.large\.count: must be an integer from 0 to 20"),
    ({"cases": {"large": {"output_width": [1, 2]}}}, r"cases\.large: unknown key 'output_width'"),
])
def test_new_declaration_keys_are_validated(change, message):
    from gradref.checks.grading import AssignmentError
    from gradref.checks.grading.assignment import parse_assignment

    data = {"name": "mini", "support_modules": {"dnn_utils": "x = 1\n"},
            "functions": [{"name": "f", "maps_to": "L_model_backward",
                           "args": ["AL", "Y", "caches"], "returns": "grads"}], **change}
    with pytest.raises(AssignmentError, match=message):
        parse_assignment(data)


@pytest.mark.parametrize("accept, message", [
    ([{"name": "old", "keys": {"dA{k}": "dA{l+1}"}}], r"'dA\{k\}' is not a key template"),
    ([{"keys": {"dA{l}": "dA{l+1}"}}], r"accept\[0\]: missing required key 'name'"),
    ("old", r"accept: must be a list of tables"),
])
def test_accept_is_validated(accept, message):
    from gradref.checks.grading import AssignmentError
    from gradref.checks.grading.assignment import parse_assignment

    data = {"name": "mini", "functions": [{"name": "f", "maps_to": "L_model_backward",
                                           "args": ["AL", "Y", "caches"], "returns": "grads",
                                           "accept": accept}]}
    with pytest.raises(AssignmentError, match=message):
        parse_assignment(data)
    with pytest.raises(AssignmentError, match=r"need a dict output"):
        parse_assignment({"name": "mini", "functions": [{
            "name": "g", "maps_to": "linear_backward", "args": ["dZ", "linear_cache"],
            "returns": ["dA_prev", "dW", "db"], "accept": [{"name": "x", "keys": {"a{l}": "b{l}"}}]}]})


def test_printing_megabytes_costs_no_points_in_any_function():
    # before: OSError: File too large once the output file was full, for every later print
    chatty = patterns.STEP.replace(
        "    Z = np.dot(W, A) + b\n",
        "    Z = np.dot(W, A) + b\n    for _ in range(40):\n        print('x' * 100_000)\n")
    chatty = chatty.replace("    m = A_prev.shape[1]\n", "    m = A_prev.shape[1]\n    print(dZ)\n")
    report = grade_source(chatty, "step-by-step")
    assert report.score == 100, report.output
    notes = [t for t in report.tests if "printed more than the grader keeps" in t.output]
    assert notes and all(t.name.startswith(("linear_forward", "linear_activation_forward",
                                            "L_model_forward")) for t in notes)


def test_a_windows_export_with_crlf_line_ends_is_split_on_its_cells(tmp_path):
    path = patterns.nbconvert_export(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    report = grade_submission(path, "step-by-step")
    assert report.score == 100 and re.search(r"In\[2\], line \d+: FileNotFoundError", report.output)


def test_a_solution_split_one_function_per_file_is_graded_as_one(tmp_path):
    folder = tmp_path / "dee"
    folder.mkdir()
    for i, (fname, code) in enumerate(patterns.functions_of(patterns.GRADED).items()):
        (folder / f"{i}-{fname}.py").write_text("import numpy as np\nfrom dnn_utils import *\n\n\n"
                                                + code)
    (folder / "testCases.py").write_text("def linear_forward_test_case():\n    return 1, 2, 3\n")
    report = grade_submission(folder, "step-by-step")
    assert report.score == 100, report.output
    assert "spread over 9 files" in report.output
    result = grade_all(tmp_path, tmp_path.parent / f"{tmp_path.name}.csv")
    assert result.graded == ["dee"]
    (folder / "9-again.py").write_text("def linear_forward(A, W, b):\n    return 0\n")
    with pytest.raises(ValueError, match="several submissions in 'dee'"):
        grade_submission(folder, "step-by-step")       # defined twice: which one counts?



# --------------------------------------------------------------------------- one compat default
def test_every_builtin_assignment_puts_numpys_removed_spellings_back():
    from gradref.checks.grading.assignment import builtin_assignments
    assert {name: load_assignment(name).compat for name in builtin_assignments()} == {
        "gradient-checking": ("numpy",), "initialization": ("numpy",),
        "layered": ("numpy", "python2"), "layered-full": ("numpy", "python2"),
        "optimization": ("numpy",), "planar": ("numpy",), "regularization": ("numpy",),
        "step-by-step": ("numpy",)}


def test_newshape_of_an_older_year_no_longer_costs_the_affine_layers():
    source = patterns.LAYERED.replace(
        "out = x.reshape(x.shape[0], -1).dot(w) + b",
        "out = np.reshape(x, newshape=(x.shape[0], -1)).dot(w) + b").replace(
        "dx = dout.dot(w.T).reshape(x.shape)", "dx = np.reshape(dout.dot(w.T), newshape=x.shape)")
    assert source.count("newshape=") == 2
    report = grade_source(source, "layered")
    assert report.score == report.max_score == 100, report.output
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np.reshape(np.zeros(2), newshape=(2,))
    except TypeError:                   # this NumPy removed it: graded strictly, the layers lose
        strict = dataclasses.replace(load_assignment("layered"), compat=())
        scores = per_function(grade_source(source, strict))
        assert scores["affine_forward"] == scores["affine_backward"] == 0
