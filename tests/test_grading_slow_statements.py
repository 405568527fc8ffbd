"""A slow top-level statement costs only itself: it is stopped at its own limit
(``Limits.statement``), named in the report, and loading goes on with the next statement, within
the submission's load budget (``Limits.load``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gradref.checks.grading import grade_submission, load_assignment
from gradref.checks.grading.assignment import AssignmentError
from gradref.checks.isolation import Limits

FIXTURES = Path(__file__).parent / "grading_fixtures"
CORRECT = (FIXTURES / "step_correct.py").read_text()
# the notebook's training cell: a 30 s job (it sleeps, so the test costs no CPU), kept in the file
TRAINING = ("import time\n\n\ndef L_layer_model(X, Y, layers_dims, num_iterations=2500):\n"
            "    time.sleep(30)\n\n\n"
            "parameters = L_layer_model(None, None, [12288, 20, 7, 5, 1], num_iterations=2500)\n\n\n")
FAST = Limits(statement=1.0, load=8.0)


def _with_training(source: str) -> str:
    at = source.index("def linear_activation_forward")
    return source[:at] + TRAINING + source[at:] + "\n\nwhile True:\n    pass\n"


def _full_marks(report) -> None:
    assert report.failed == [], "\n".join(f"{t.name}: {t.output}" for t in report.failed)
    assert report.score == report.max_score == 100


def test_a_training_statement_and_a_final_infinite_loop_cost_nothing(tmp_path):
    path = tmp_path / "hw.py"
    path.write_text(_with_training(CORRECT))
    report = grade_submission(path, "step-by-step", limits=FAST)
    _full_marks(report)           # linear_activation_forward and later are defined after it
    stopped = [p for p in report.problems if "stopped after 1 s" in p]
    assert len(stopped) == 2, report.problems
    assert "parameters = L_layer_model(…)" in stopped[0]
    assert "while True" in stopped[1]
    assert all("the functions defined before and after it were graded" in p for p in stopped)
    assert "could not be loaded" not in report.output
    assert re.search(r"line \d+: stopped after 1 s: parameters = L_layer_model\(…\)", report.output)


def test_the_same_in_a_notebook_names_the_cell(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    parts = re.split(r"\n(?=def )", CORRECT)
    cells = [nbformat.v4.new_code_cell(part) for part in parts]
    cells.insert(len(cells) // 2, nbformat.v4.new_code_cell(TRAINING))
    cells.append(nbformat.v4.new_code_cell("while True:\n    pass\n"))
    nb.cells = cells
    path = tmp_path / "hw.ipynb"
    nbformat.write(nb, path)
    report = grade_submission(path, "step-by-step", limits=FAST)
    _full_marks(report)
    labels = [p.partition(": ")[0] for p in report.problems if "stopped after" in p]
    assert len(labels) == 2 and all(label.startswith("cell ") for label in labels), report.problems


@pytest.mark.parametrize("stubborn", [
    "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n"
    "        pass\n",
    "import time\n\n\nfor epoch in range(10**9):\n    try:\n        time.sleep(30)\n"
    "    except:\n        print('interrupted, going on')\n    finally:\n        pass\n",
])
def test_a_statement_that_swallows_its_stop_in_a_loop_is_stopped_all_the_same(tmp_path,
                                                                             stubborn):
    at = CORRECT.index("def linear_backward")
    path = tmp_path / "hw.py"
    path.write_text(CORRECT[:at] + stubborn + "\n\n" + CORRECT[at:])
    report = grade_submission(path, "step-by-step", limits=FAST)
    _full_marks(report)           # linear_backward and later are defined after it
    assert "could not be loaded" not in report.output
    assert [p for p in report.problems if "stopped after 1 s" in p], report.problems


def test_once_the_load_budget_is_spent_definitions_still_run_and_the_rest_is_named(tmp_path):
    # four slow statements of 1 s each against a load budget that holds about two of them
    slow = "import time\n\ntime.sleep(30)\n\n"
    at = CORRECT.index("def linear_backward")
    path = tmp_path / "hw.py"
    path.write_text(slow * 4 + CORRECT[:at] + "print('between')\n\n" + CORRECT[at:])
    report = grade_submission(path, "step-by-step", limits=Limits(statement=1.0, load=3.0))
    _full_marks(report)
    assert any("not run: the load budget of" in p and "print(…)" in p for p in report.problems), \
        report.problems


def test_the_limits_come_from_the_declaration_and_the_options(tmp_path, capsys):
    from gradref.__main__ import main

    path = tmp_path / "hw.py"
    path.write_text(_with_training(CORRECT))
    toml = (FIXTURES.parent.parent / "checks/grading/assignments/step-by-step.toml").read_text()
    declared = tmp_path / "mine.toml"
    declared.write_text(toml.replace("[network]", "[limits]\nstatement = 1\nload = 8\n\n[network]", 1))
    assert load_assignment(declared).limits == {"statement": 1.0, "load": 8.0}
    report = grade_submission(path, declared)
    _full_marks(report)
    assert sum("stopped after 1 s" in p for p in report.problems) == 2
    # the option overrides the declaration
    assert main(["grade", str(path), "--assignment", str(declared), "--statement-limit", "0.5",
                 "--format", "json"]) == 0
    assert capsys.readouterr().out.count("stopped after 0.5 s") >= 2


@pytest.mark.parametrize("table, message", [("statement = -1", "limits.statement"),
                                            ("memory = 5", "unknown key 'memory'"),
                                            ("load = 1e9", "at most one day")])
def test_a_bad_limit_in_the_declaration_is_named(tmp_path, table, message):
    toml = (FIXTURES.parent.parent / "checks/grading/assignments/step-by-step.toml").read_text()
    declared = tmp_path / "bad.toml"
    declared.write_text(toml.replace("[network]", f"[limits]\n{table}\n\n[network]", 1))
    with pytest.raises(AssignmentError, match=re.escape(message)):
        load_assignment(declared)


def test_a_bad_limit_option_is_refused(capsys):
    from gradref.__main__ import main

    assert main(["grade", "x.py", "--statement-limit", "0"]) == 2
    assert "--statement-limit" in capsys.readouterr().err
