"""The built-in `optimization` assignment (DLS C2W2): full marks for correct work in every course
version, each classic mistake charged to its function and named, the optimisers graded over
several steps with their state fed from one call to the next, and the `steps` key validated.

The oracles are independent of the grader: the example solutions are written here from the
course's formulas, the mistakes are planted by hand, and the diagnosis tests build their wrong
mini-batches and rates by direct indexing and arithmetic (never through the reference)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.diagnosis.minibatches import diagnose_mini_batches
from gradref.checks.diagnosis.optimizers import indistinguishable
from gradref.checks.diagnosis.schedules import diagnose_schedule
from gradref.checks.grading import grade_source, grade_submission, load_assignment
from gradref.checks.grading.assignment import AssignmentError, builtin_declaration, parse_assignment
from gradref.checks.grading.batch import grade_all, summary_paths
from gradref.checks.grading.cases import generate_cases
from gradref.checks.grading.computations import Layout, NetworkSpec, get_computation

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "submissions" / "optimization"
CORRECT = (EXAMPLES / "correct.py").read_text()
ASG = load_assignment("optimization")
FUNCTIONS = [f.display for f in ASG.functions]

_CACHE: dict[str, object] = {}


def graded(name: str, source: str | None = None):
    if name not in _CACHE:
        _CACHE[name] = (grade_source(source, "optimization", seed=0, name=name) if source
                        else grade_submission(EXAMPLES / name, "optimization", seed=0))
    return _CACHE[name]


def failing(report) -> set[str]:
    return {t.name.partition(": ")[0] for t in report.tests if t.status == "failed"}


def output_of(report, function: str) -> str:
    return "\n".join(t.output for t in report.tests if t.name.startswith(function + ":"))


def test_the_correct_solution_gets_full_marks_on_every_function():
    report = graded("correct.py")
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 100
    assert {t.name.partition(": ")[0] for t in report.tests} == set(FUNCTIONS) == {
        "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
        "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam",
        "update_lr", "schedule_lr_decay"}


def test_the_2017_adam_return_is_accepted_with_a_note():
    report = graded("adam_2017.py")
    assert report.score == 100
    assert "Accepted: update_parameters_with_adam uses the 2017 and v1b return value" in report.output


# file -> (functions that lose points, words of the diagnosis in that function's output)
MISTAKES = {
    "adam_t_plus_one.py": ({"update_parameters_with_adam"},
                           ["uses t + 1 = 2 instead of the t = 1 it is given",
                            "do not increment t inside update_parameters_with_adam"]),
    "adam_no_bias_correction.py": ({"update_parameters_with_adam"},
                                   ["skips the bias correction"]),
    "adam_eps_inside_sqrt.py": ({"update_parameters_with_adam"},
                                ["epsilon is inside the square root"]),
    "adam_betas_swapped.py": ({"update_parameters_with_adam"},
                              ["beta1 and beta2 are swapped"]),
    "momentum_velocity_form.py": ({"update_parameters_with_momentum"},
                                  ["momentum in the velocity form"]),
    "mini_batches_no_remainder.py": ({"random_mini_batches"},
                                     ["the last mini-batch is missing"]),
    "mini_batches_overlap.py": ({"random_mini_batches"},
                                ["the last mini-batch overlaps the one before"]),
    "mini_batches_y_apart.py": ({"random_mini_batches"},
                                ["Y is not shuffled with the same permutation as X"]),
    "schedule_no_floor.py": ({"schedule_lr_decay"}, ["needs the floor"]),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_classic_mistake_costs_its_function_and_is_named(name):
    functions, words = MISTAKES[name]
    report = graded(name)
    assert failing(report) == functions
    text = "\n".join(output_of(report, f) for f in functions)
    for w in words:
        assert w in text, f"{name}: {w!r} not in\n{text}"
    assert "values differ" not in text and "matches no known mistake" not in text


def test_every_example_file_is_covered():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(MISTAKES) | {"correct.py", "adam_2017.py"}


def test_adam_epsilon_inside_fails_on_every_case():
    # the 2017 test (ε = 1e-8) cannot tell √(ŝ + ε) from √ŝ + ε; every case of this one does
    out = output_of(graded("adam_eps_inside_sqrt.py"), "update_parameters_with_adam")
    assert "Failed on 4 of 4 random cases" in out


# --------------------------------------------------------------------------- several steps
def _replace(old: str, new: str) -> str:
    assert CORRECT.count(old) == 1, old
    return CORRECT.replace(old, new)


def test_a_velocity_that_forgets_its_past_is_caught_after_the_first_step():
    # v = (1 - beta) dW: from a zero velocity its first step is right; the velocity it returns
    # is fed into the second call, where the missing beta v shows
    source = _replace('v["d" + key] = beta * v["d" + key] + (1 - beta) * grads["d" + key]',
                      'v["d" + key] = (1 - beta) * grads["d" + key]')
    report = graded("not_carried", source)
    assert failing(report) == {"update_parameters_with_momentum"}
    out = output_of(report, "update_parameters_with_momentum")
    assert "forgets its past" in out


def test_a_state_not_returned_updated_fails_from_step_two_and_is_named():
    # the update is right, but the v handed back is the v it was given (a copy was updated)
    source = _replace("    L = len(parameters) // 2\n    v_corrected, s_corrected = {}, {}\n",
                      "    L = len(parameters) // 2\n    v_corrected, s_corrected = {}, {}\n"
                      "    v_in, v = v, dict(v)\n")
    source = source.replace("    return parameters, v, s, v_corrected, s_corrected",
                            "    return parameters, v_in, s, v_corrected, s_corrected")
    report = graded("stale_v", source)
    out = output_of(report, "update_parameters_with_adam")
    assert "update_parameters_with_adam: first moments v over 3 steps" in \
        {t.name for t in report.failed}
    assert "is not the updated one: save the new v for the next step" in out
    assert "v['dW1']" in out and "at step 1" in out


def test_the_steps_feed_the_students_outputs_into_the_next_call():
    # a step that doubles what it is given, and records how often it was called with a
    # parameter dict it returned itself: each call after the first must get its own output
    source = _replace(
        "def update_parameters_with_gd(parameters, grads, learning_rate):\n",
        "def update_parameters_with_gd(parameters, grads, learning_rate):\n"
        "    if parameters.get('mark') is not None:\n"
        "        raise ValueError('fed: ' + str(parameters['mark']))\n")
    source = source.replace(
        '        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]\n'
        '    return parameters\n',
        '        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]\n'
        '    parameters["mark"] = 7\n    return parameters\n', 1)
    report = graded("fed_marks", source)
    out = output_of(report, "update_parameters_with_gd")
    assert "At step 2 of 3 (given your outputs of step 1: parameters)" in out
    assert "ValueError: fed: 7" in out


def test_every_optimizer_case_separates_the_mistakes():
    # the declared cases tell every known mistake from the right step, except the ones no
    # first step from a zero state can show (its later steps do)
    blind = {"momentum_velocity_not_carried", "adam_betas_swapped", "hyper_ignored:beta1",
             "hyper_ignored:beta2"}
    lay = Layout("columns", "column")
    for fn in ASG.functions:
        comp = fn.computation
        if not comp.stepped:
            continue
        name = {"gd_step": "sgd", "momentum_step": "momentum", "adam_step": "adam"}[comp.name]
        for case in generate_cases(comp.level, fn.ranges, seed=3, label=fn.display,
                                   variants=fn.variants, variant_name=comp.variant,
                                   batched=comp.batched):
            built = comp.build(case, lay, NetworkSpec(), fn.options)
            for k in range(fn.steps):
                q = built.later(k).quantities
                params = q["parameters"]
                state = {"t": q["t"] - 1 if name == "adam" else 0}
                for slot in ("v", "s"):
                    if slot in q:
                        state[slot] = {key[1:]: a for key, a in q[slot].items()}
                if name == "sgd":
                    state = None
                hyper = {h: q[h] for h in ("learning_rate", "beta", "beta1", "beta2", "epsilon")
                         if h in q}
                same = set(indistinguishable(name, params, q["grads"], state, **hyper))
                allowed = blind if (case.variant == "initial" and k == 0) else set()
                assert same <= allowed, (case, k, same)


def test_adam_cases_use_course_values_of_t_and_separating_epsilons():
    comp = get_computation("adam_step")
    fn = next(f for f in ASG.functions if f.name == "update_parameters_with_adam")
    cases = generate_cases(comp.level, fn.ranges, seed=0, label=fn.display,
                           variants=fn.variants, variant_name=comp.variant, batched=False)
    for case in cases:
        built = comp.build(case, Layout(), NetworkSpec(), {})
        ts = [built.later(k).quantities["t"] for k in range(3)]
        assert ts == list(range(ts[0], ts[0] + 3))
        assert ts[0] == 1 if case.variant == "initial" else 2 <= ts[0] <= 5
        q = built.quantities
        assert q["epsilon"] >= 0.02 and abs(q["beta1"] - q["beta2"]) > 0.04
        # v_corrected is v / (1 - beta1^t): restated here
        for key, v in q["v_new"].items():
            np.testing.assert_allclose(q["v_corrected"][key], v / (1 - q["beta1"] ** q["t"]))


# --------------------------------------------------------------------------- the steps key
def _declaration(**steps):
    _, text = builtin_declaration("optimization")
    import tomllib

    data = tomllib.loads(text)
    gd = data["functions"][0]
    gd.update(steps)
    return data


@pytest.mark.parametrize("steps, message", [
    ({"steps": {"count": 0}}, r"steps\.count: must be an integer from 1 to 20, got 0"),
    ({"steps": {"count": 3, "feed": {"parameter": "parameters_new"}}},
     r"steps\.feed: unknown input 'parameter' of computation 'gd_step'"),
    ({"steps": {"count": 3, "feed": {"parameters": "v_new"}}},
     r"'v_new' is not returned by the declared signature"),
    ({"steps": {"cont": 3}}, r"steps: unknown key 'cont'"),
])
def test_a_bad_steps_table_is_refused_with_its_key(steps, message):
    with pytest.raises(AssignmentError, match=message):
        parse_assignment(_declaration(**steps))


def test_steps_on_a_computation_that_is_not_stepped_is_refused():
    data = _declaration()
    data["functions"][1]["steps"] = {"count": 2}
    with pytest.raises(AssignmentError, match=r"random_mini_batches\)\.steps: computation "
                                              r"'mini_batches' is not stepped"):
        parse_assignment(data)


def test_a_fed_output_must_be_returned_by_every_version():
    data = _declaration()
    adam = next(f for f in data["functions"] if f["name"] == "update_parameters_with_adam")
    adam["steps"] = {"count": 3, "feed": {"v": "v_corrected"}}
    with pytest.raises(AssignmentError, match=r"'v_corrected' is not returned by version "
                                              r"'the 2017 and v1b return value'"):
        parse_assignment(data)


def test_a_check_selects_a_dict_output_by_its_name():
    fn = next(f for f in ASG.functions if f.name == "update_parameters_with_momentum")
    values = {c.title: c for c in fn.checks if c.kind == "values"}
    assert values["velocity over 3 steps"].selects("dW1", False, "v_new")
    assert not values["velocity over 3 steps"].selects("W1", False, "parameters_new")


# --------------------------------------------------------------------------- diagnosis
def _data(m=11, n=3, seed=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, m)), (rng.random((1, m)) < 0.5).astype(float)


def _batches(X, Y, order_x, order_y, cuts):
    return [(X[:, order_x[a:b]], Y[:, order_y[a:b]]) for a, b in cuts]


@pytest.mark.parametrize("kind, words", [
    ("right", None),
    ("no shuffle", "X is not shuffled"),
    ("another seed", "not by the permutation np.random.seed(seed)"),
    ("empty batch", "an empty mini-batch is appended"),
    ("wrong range", "mini-batch 2 holds shuffled examples 3 to 5; it should hold shuffled "
                    "examples 4 to 7"),
    ("Y unshuffled", "Y is not shuffled with the same permutation as X"),
    ("Y flat", "has shape (4,), expected (1, 4)"),
])
def test_mini_batch_mistakes_are_named(kind, words):
    m, size, seed = 12 if kind == "empty batch" else 11, 4, 9
    X, Y = _data(m)
    perm = np.random.RandomState(seed).permutation(m)    # the course's draw, restated
    full = [(0, 4), (4, 8), (8, 12)] if m == 12 else [(0, 4), (4, 8), (8, 11)]
    if kind == "right":
        got = _batches(X, Y, perm, perm, full)
    elif kind == "no shuffle":
        got = _batches(X, Y, np.arange(m), np.arange(m), full)
    elif kind == "another seed":
        other = np.random.RandomState(seed + 1).permutation(m)
        got = _batches(X, Y, other, other, full)
    elif kind == "empty batch":
        got = _batches(X, Y, perm, perm, full + [(12, 12)])
    elif kind == "wrong range":
        got = _batches(X, Y, perm, perm, [(0, 4), (3, 6), (8, 11)])
    elif kind == "Y unshuffled":
        got = [(bx, Y[:, a:b]) for (bx, _), (a, b) in zip(_batches(X, Y, perm, perm, full), full,
                                                          strict=True)]
    else:
        got = [(bx, by.ravel()) for bx, by in _batches(X, Y, perm, perm, full)]
    found = diagnose_mini_batches(X, Y, size, seed, got)
    if words is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].kind == "mini_batches"
        assert words in found[0].message, found[0].message


def test_mini_batch_answers_the_diagnosis_cannot_read_are_not_diagnosed():
    m, size, seed = 11, 4, 9
    X, Y = _data(m)
    perm = np.random.RandomState(seed).permutation(m)
    full = [(0, 4), (4, 8), (8, 11)]
    right = _batches(X, Y, perm, perm, full)
    assert diagnose_mini_batches(X, Y, size, seed, "batches") == []
    assert diagnose_mini_batches(X, Y, size, seed, [(bx,) for bx, _ in right]) == []
    assert diagnose_mini_batches(X, Y, size, seed, [(bx.T, by) for bx, by in right]) == []
    assert diagnose_mini_batches(X, Y, size, seed, [(bx + 1.0, by) for bx, by in right]) == []
    # a batch in another order than the permutation's: no range to name
    scrambled = [right[0], (right[1][0][:, ::-1], right[1][1][:, ::-1]), right[2]]
    assert diagnose_mini_batches(X, Y, size, seed, scrambled) == []


def test_a_batch_beyond_the_last_is_named():
    m, size, seed = 11, 4, 9
    X, Y = _data(m)
    perm = np.random.RandomState(seed).permutation(m)
    got = _batches(X, Y, perm, perm, [(0, 4), (4, 8), (8, 11), (10, 11)])
    found = diagnose_mini_batches(X, Y, size, seed, got)
    assert len(found) == 1 and "there are only 3 mini-batches (11 examples, size 4)" in \
        found[0].message


@pytest.mark.parametrize("formula, stepped, words", [
    (lambda lr0, e, k, T: lr0 / (1 + k * e / T), True, "needs the floor"),
    (lambda lr0, e, k, T: lr0 / (1 + k * e), True, "time_interval is ignored"),
    (lambda lr0, e, k, T: lr0 / (1 + k * math.ceil(e / T)), True, "rounded up"),
    (lambda lr0, e, k, T: lr0 if e % T else lr0 / (1 + k * (e // T)), True,
     "not decayed at this epoch"),
    (lambda lr0, e, k, T: lr0 / 1 + k * e, False, "lost its parentheses"),
    (lambda lr0, e, k, T: lr0 * (1 + k * e), False, "multiplied"),
    (lambda lr0, e, k, T: lr0 / (1 + k * (e // T)), True, None),
])
def test_schedule_mistakes_are_named(formula, stepped, words):
    lr0, e, k, T = 0.3, 1030, 0.25, 100
    found = diagnose_schedule(lr0, e, k, T if stepped else None, formula(lr0, e, k, T))
    if words is None:
        assert found == []
    else:
        assert len(found) == 1 and words in found[0].message


# lr0 = 0.3, e = 1030, k = 0.25, T = 100: e / T = 10.3, so floor, ceil and the raw ratio differ
_WRONG_RATES = {
    "no_floor": 0.3 / (1 + 0.25 * 10.3),
    "interval_ignored": 0.3 / (1 + 0.25 * 1030),
    "ceil": 0.3 / (1 + 0.25 * 11),
    "not_decayed": 0.3,
    "precedence": 0.3 + 0.25 * 1030,
    "multiplied": 0.3 * (1 + 0.25 * 1030),
    "multiplied_stepped": 0.3 * (1 + 0.25 * 10),
}
_PLAIN = {"not_decayed", "precedence", "multiplied"}      # the ones update_lr can make too


@pytest.mark.parametrize("variant", sorted(_WRONG_RATES))
def test_each_schedule_variant_is_named_where_it_applies_and_only_there(variant):
    got = _WRONG_RATES[variant]
    found = diagnose_schedule(0.3, 1030, 0.25, 100, got)
    assert [f.details["variant"] for f in found] == [variant]
    plain = diagnose_schedule(0.3, 1030, 0.25, None, got)   # update_lr: no interval
    assert [f.details["variant"] for f in plain] == ([variant] if variant in _PLAIN else [])


def test_a_schedule_value_near_but_not_at_a_variant_is_not_named():
    assert diagnose_schedule(0.3, 1030, 0.25, 100, _WRONG_RATES["no_floor"] * (1 + 5e-9)) == []
    assert diagnose_schedule(0.3, 1030, 0.25, 100, 0.3 / 3.5 * (1 + 5e-10)) == []   # right
    assert diagnose_schedule(0.3, 1030, 0.25, 100, 0.123) == []          # no known formula
    assert diagnose_schedule(0.3, 1030, 0.25, 100, "0.1 per epoch") == []
    assert diagnose_schedule(0.3, 1030, 0.25, 100, float("nan")) == []
    assert diagnose_schedule(0.3, 1030, 0.25, None, 0.3 / (1 + 0.25 * 1030)) == []   # right
    # update_lr has no interval: a rate of lr0 / (1 + k e / 2) is no known formula there
    assert diagnose_schedule(0.3, 1030, 0.25, None, 0.3 / (1 + 0.25 * 515)) == []


def test_the_course_tests_values_of_the_schedule_are_the_reference():
    # the 2021+ notebook's own expectations: (0.5, 10, 1, 100) -> 0.5, (0.3, 1000, 0.25, 100)
    report = graded("schedule_values", CORRECT + (
        "\nassert schedule_lr_decay(0.5, 10, 1, 100) == 0.5\n"
        "assert abs(schedule_lr_decay(0.3, 1000, 0.25, 100) - 0.3 / 3.5) < 1e-12\n"))
    assert report.score == 100 and "raised" not in report.output


# --------------------------------------------------------------------------- a class
def test_grade_all_and_the_class_report_on_the_examples(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    for name in ("correct.py", "adam_2017.py", "adam_t_plus_one.py", "mini_batches_overlap.py"):
        shutil.copy(EXAMPLES / name, klass / name)
    out = tmp_path / "gb.csv"
    result = grade_all(klass, out, assignment="optimization", seed=0)
    assert sorted(result.graded) == ["adam_2017", "adam_t_plus_one", "correct",
                                     "mini_batches_overlap"]
    rows = {r.split(",")[0]: r.split(",")[1] for r in out.read_text().splitlines()[1:]}
    assert rows["correct"] == rows["adam_2017"] == "100"
    assert float(rows["adam_t_plus_one"]) < 100 and float(rows["mini_batches_overlap"]) == 85
    md = summary_paths(out)[0].read_text()
    assert "update_parameters_with_adam" in md and "random_mini_batches" in md
    assert "2017 and v1b" in md


def test_a_huge_extra_entry_fed_through_the_steps_costs_nothing():
    # 16 MB under an extra key of the returned parameters: fed into every next call (it is
    # the student's dict), never compared; the grader keeps such outputs only when small
    source = _replace("        parameters[\"b\" + str(l)] = parameters[\"b\" + str(l)] - learning_rate * "
                      "grads[\"db\" + str(l)]\n    return parameters\n",
                      "        parameters[\"b\" + str(l)] = parameters[\"b\" + str(l)] - learning_rate * "
                      "grads[\"db\" + str(l)]\n    parameters[\"junk\"] = np.zeros(2_000_000)\n"
                      "    return parameters\n")
    source = source.replace("    L = len(parameters) // 2\n    for l in range(1, L + 1):\n"
                            "        parameters[\"W\"",
                            "    L = len([k for k in parameters if k != 'junk']) // 2\n"
                            "    for l in range(1, L + 1):\n        parameters[\"W\"", 1)
    report = graded("junk", source)
    assert "update_parameters_with_gd" not in failing(report)


def test_numpy_from_the_course_test_module_star_import_is_enough():
    # the course's testCases.py imports numpy, so a 2017 notebook that lost its own
    # `import numpy as np` still ran with `from testCases import *`; it does here too
    source = CORRECT.replace("import numpy as np\n", "from testCases import *\n", 1)
    assert "import numpy" not in source
    # and the notebook's test cells run on the course module's test cases (their values are
    # the grader's, their structure the course's): none is reported as the student's error
    source += ("\nparameters, grads, learning_rate = update_parameters_with_gd_test_case()\n"
               "parameters = update_parameters_with_gd(parameters, grads, learning_rate)\n"
               "print(parameters['W1'], parameters['b2'])\n"
               "X_assess, Y_assess, mini_batch_size = random_mini_batches_test_case()\n"
               "mini_batches = random_mini_batches(X_assess, Y_assess, mini_batch_size)\n"
               "print(mini_batches[2][0].shape)\n"
               "v = initialize_velocity(initialize_velocity_test_case())\n"
               "print(v['dW1'], v['db2'])\n"
               "parameters, grads, v = update_parameters_with_momentum_test_case()\n"
               "parameters, v = update_parameters_with_momentum(parameters, grads, v, 0.9, 0.01)\n"
               "print(v['dW2'])\n"
               "v, s = initialize_adam(initialize_adam_test_case())\n"
               "print(s['db1'])\n")
    report = graded("np_from_testcases", source)
    assert report.score == 100, report.output
    assert "raised" not in report.output and "skipped" not in report.output, report.output


def test_mini_batch_messages_count_the_batches_and_examples():
    X, Y = _data(9)
    perm = np.random.RandomState(2).permutation(9)
    full = [(0, 4), (4, 8)]
    dropped = diagnose_mini_batches(X, Y, 4, 2, _batches(X, Y, perm, perm, full))
    assert "after the 2 full batches of 4, the m mod mini_batch_size = 1 example left" in \
        dropped[0].message
    overlap = diagnose_mini_batches(X, Y, 4, 2, _batches(X, Y, perm, perm, full + [(5, 9)]))
    assert "mini-batch 3 holds shuffled examples 5 to 8 (the last 4); it should hold shuffled " \
           "example 8, the 1 left" in overlap[0].message
    X, Y = _data(6)
    perm = np.random.RandomState(2).permutation(6)
    one = diagnose_mini_batches(X, Y, 5, 2, _batches(X, Y, perm, perm, [(0, 5)]))
    assert "after the 1 full batch of 5" in one[0].message
    # an empty batch in the middle is passed over; the next one, out of place, is named
    got = _batches(X, Y, perm, perm, [(0, 3), (3, 3), (3, 6)])
    found = diagnose_mini_batches(X, Y, 3, 2, got)
    assert "mini-batch 3 holds shuffled examples 3 to 5" in found[0].message


def test_mini_batch_diagnosis_edge_cases():
    m, size, seed = 11, 4, 9
    X, Y = _data(m)
    perm = np.random.RandomState(seed).permutation(m)
    full = [(0, 4), (4, 8), (8, 11)]
    right = _batches(X, Y, perm, perm, full)
    # one unreadable batch, or one that is not an (X_b, Y_b) pair, among right ones: nothing
    assert diagnose_mini_batches(X, Y, size, seed, [(right[0][0].T, right[0][1])] + right[1:]) == []
    assert diagnose_mini_batches(X, Y, size, seed, right[:2] + [(right[2][0],)]) == []
    # two batches, the second out of place: a wrong range, not a missing remainder
    found = diagnose_mini_batches(X, Y, size, seed, _batches(X, Y, perm, perm, [(0, 4), (5, 9)]))
    assert found[0].details["mistake"] == "wrong_range"
    assert "mini-batch 2 holds shuffled examples 5 to 8" in found[0].message
    # a last batch that starts too late is no overlap
    found = diagnose_mini_batches(X, Y, size, seed, _batches(X, Y, perm, perm, full[:2] + [(9, 11)]))
    assert found[0].details["mistake"] == "wrong_range"
    assert "holds shuffled examples 9 to 10; it should hold shuffled examples 8 to 10" in \
        found[0].message
    # another permutation cut into another number of batches
    other = np.random.RandomState(seed + 1).permutation(m)
    found = diagnose_mini_batches(X, Y, size, seed, _batches(X, Y, other, other, [(0, 5), (5, 11)]))
    assert found[0].details["mistake"] == "other_permutation"
    # an even m, right batches: nothing
    X, Y = _data(12)
    perm = np.random.RandomState(seed).permutation(12)
    assert diagnose_mini_batches(X, Y, 4, seed, _batches(X, Y, perm, perm,
                                                         [(0, 4), (4, 8), (8, 12)])) == []
