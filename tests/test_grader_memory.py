"""The grader's own memory against a submission that answers with huge wrong-shaped arrays
(issue 22, route 5): every case and every shrink step used to be kept whole, so 32 MiB per
call made the *grader* hold 892 MiB.  The peak is measured as the grading process's maximum
resident set (``getrusage``), in a fresh interpreter, beside the same run on a correct file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.isolation import Limits, PythonSubmission

HERE = Path(__file__).resolve().parent
CORRECT = (HERE / "grading_fixtures" / "step_correct.py").read_text()
MiB = 2**20
ACCEPTED = 30 * MiB     # under the 32 MiB floor of an answer: read, judged, then slimmed
REFUSED = 200 * MiB     # far beyond it: dropped off the pipe unread
#: what the grader may hold beyond the correct run's peak: a couple of accepted answers in
#: flight (the pipe's bytes and the array built from them), never one per case
EXTRA_BOUND = 4 * ACCEPTED

# two functions no other graded function calls
HUGE = CORRECT.replace("def compute_cost(", "def _honest_compute_cost(").replace(
    "def update_parameters(", "def _honest_update_parameters(") + textwrap.dedent(f'''
    def compute_cost(AL, Y):
        return np.ones({REFUSED}, np.int8)

    def update_parameters(parameters, grads, learning_rate):
        new = _honest_update_parameters(parameters, grads, learning_rate)
        new["W1"] = np.ones({ACCEPTED}, np.int8)
        return new
''')
BROKEN = ("compute_cost", "update_parameters")

MEASURE = textwrap.dedent('''
    import json, resource, sys
    from gradref.checks.grading.engine import grade_source
    from gradref.checks.isolation import Limits
    report = grade_source(open(sys.argv[1]).read(), "step-by-step", limits=Limits(),
                          name="hw.py")
    scores = {}
    for test in report.tests:
        name = test.name.partition(": ")[0]
        got = scores.setdefault(name, [0.0, 0.0])
        got[0] += test.score
        got[1] += test.max_score
    texts = [t.output for t in report.tests
             if t.name.startswith(("compute_cost", "update_parameters"))]
    print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "scores": scores, "texts": texts}))
''')


def _grade_measured(tmp_path: Path, source: str, name: str) -> dict:
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_huge_wrong_answers_do_not_grow_the_grader(tmp_path):
    honest = _grade_measured(tmp_path, CORRECT, "honest")
    huge = _grade_measured(tmp_path, HUGE, "huge")
    extra = huge["peak"] - honest["peak"]
    assert extra < EXTRA_BOUND, f"the grader grew by {extra / MiB:.0f} MiB"
    for name, (got, total) in huge["scores"].items():
        if name in BROKEN:
            assert got < total, name
        else:
            assert got == total, (name, got, total)
    text = "\n".join(huge["texts"])
    assert "discarded unread" in text, text          # compute_cost's answers
    assert f"shape ({ACCEPTED},)" in text, text


def test_an_oversized_answer_is_dropped_and_the_child_keeps_serving():
    source = textwrap.dedent('''
        import numpy as np
        def big(n):
            return {"a": np.ones(n, np.int8), "b": [np.zeros(3)]}
        def pid():
            import os
            return os.getpid()
    ''')
    with PythonSubmission(source, limits=Limits(memory=512 * MiB)) as sub:
        before = sub.call("pid").value
        dropped = sub.call_bounded(MiB, "big", 2 * MiB)
        kept = sub.call_bounded(MiB, "big", MiB // 2)
        unbounded = sub.call("big", 2 * MiB)
        after = sub.call("pid").value
        with pytest.raises(ValueError, match="answer_bytes"):
            sub.call_bounded(-1, "pid")
    assert not dropped.ok and dropped.kind == "bad-output", dropped
    assert "discarded unread" in dropped.message and f"more than the {MiB} bytes" in dropped.message
    assert kept.ok and kept.value["a"].shape == (MiB // 2,)
    assert np.array_equal(kept.value["b"][0], np.zeros(3))
    assert unbounded.ok and unbounded.value["a"].nbytes == 2 * MiB
    assert before == after  # the same child: the stream stayed in step
