"""The grading side of the boundary, round three (issue 22): what a submission can do to the
grader's reports and results without breaking out of the sandbox.

Each test is one route, written as the attack a student would try; the route is closed when
the cheating function earns nothing (or the attack is contained) and every honest function of
the same file is still graded.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

from gradref.checks.grading.batch import grade_all, summary_paths
from gradref.checks.grading.engine import grade_source
from gradref.checks.grading.report import render
from gradref.checks.grading.textsafe import BIDI_CONTROLS, QUOTE, markdown, one_line, quoted

HERE = Path(__file__).resolve().parent
CORRECT = (HERE / "grading_fixtures" / "step_correct.py").read_text()
TITLE = "Building your Deep Neural Network: Step by Step"


def function_scores(report) -> dict[str, tuple[float, float]]:
    scores: dict[str, list[float]] = {}
    for test in report.tests:
        got = scores.setdefault(test.name.partition(": ")[0], [0.0, 0.0])
        got[0] += test.score
        got[1] += test.max_score
    return {name: (got, total) for name, (got, total) in scores.items()}


def honest_functions_full(report, cheat: str) -> None:
    for name, (got, total) in function_scores(report).items():
        if name != cheat and name not in ("linear_activation_forward", "L_model_forward"):
            assert got == total, (name, got, total)   # the two callers of a cheat may lose points


# --------------------------------------------------------------------------- route 10

FORGED = (f"shapes differ\n{TITLE}: 100 / 100 points.\n  linear_forward: 10/10 (ok)\n"
          f"\u202e)stniop 01/01( ko\n")
FORGERY = CORRECT + textwrap.dedent(f'''

    def linear_forward(A, W, b):
        raise ValueError({FORGED!r})
''')


def _forged_lines(text: str) -> list[str]:
    """Lines of a rendered report that read as a report line the submission wrote."""
    return [line for line in text.splitlines()
            if re.match(rf"\s*({re.escape(TITLE)}: 100 / 100 points|linear_forward: 10/10)", line)]


def test_forged_report_lines_stay_the_submissions_own_text():
    report = grade_source(FORGERY)
    assert function_scores(report)["linear_forward"][0] == 0.0
    honest_functions_full(report, "linear_forward")
    text = render(report, "text")
    gradescope = json.loads(render(report, "gradescope"))
    outputs = [gradescope["output"], *(t["output"] for t in gradescope["tests"])]
    junit = render(report, "junit")
    for shown in (text, *outputs, junit):
        assert _forged_lines(shown) == []
        assert not any(c in shown for c in BIDI_CONTROLS)
    assert "<U+202E>" in text and f"{TITLE}: 100 / 100 points." in text   # shown, on its line
    failed = [t.output for t in report.tests if t.name.startswith("linear_forward")]
    assert failed and all("shapes differ \u23ce " in out for out in failed)


def test_a_traceback_is_quoted_line_by_line():
    lines = quoted(["Traceback (most recent call last):", f"ValueError: x\n{TITLE}: 1 / 1 points.",
                    "\u2067evil\u2069"])
    assert lines == [f"{QUOTE}Traceback (most recent call last):", f"{QUOTE}ValueError: x",
                     f"{QUOTE}{TITLE}: 1 / 1 points.", f"{QUOTE}<U+2067>evil<U+2069>"]
    assert one_line("a\r\nb\u2028c\x1b[2J", limit=12) == "a \u23ce b \u23ce c\\x…"


# --------------------------------------------------------------------------- route 8

PIXEL = "![x](http://evil.example/pixel.png)"
PHISH = "[Confirm your grade here](http://evil.example/login)"
MARKDOWN_ATTACK = CORRECT + textwrap.dedent(f'''

    raise Exception({PIXEL + " " + PHISH + " <img src=x onerror=alert(1)> **bold** `code` | a | b |"
                     + " www.evil.example http://evil.example/auto"!r})
''')


def _rendered_markdown_is_inert(md: str) -> None:
    """No image, link, autolink, raw HTML, emphasis or code span of a submission's making."""
    for made in (r"!\[", r"\]\(", "<img", "://", r"www\.", r"\*\*bold", "`code"):
        assert not re.search(r"(?<!\\)" + made, md), made


def test_markdown_of_a_submission_cannot_render_in_the_class_report(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "mallory.py").write_text(MARKDOWN_ATTACK)
    (klass / "[Confirm](http:evil.example).py").write_text(CORRECT)
    out = tmp_path / "gb.csv"
    result = grade_all(klass, out)
    assert sorted(result.graded) == ["[Confirm](http:evil.example)", "mallory"]
    md = summary_paths(out)[0].read_text()
    assert "pixel" in md and "Confirm your grade here" in md     # shown, as text
    _rendered_markdown_is_inert(md)
    lines = md.splitlines()
    rows = [i for i, line in enumerate(lines) if "pixel" in line]
    assert rows
    for i in rows:   # no extra cells: as many as its table's header has
        header = max(j for j in range(i) if lines[j].startswith("|---")) - 1
        assert lines[i].count(" | ") == lines[header].count(" | ") >= 1
    report = json.loads((out.parent / "gb_reports" / "mallory.json").read_text())
    assert report["score"] == 100.0              # every function graded; the stray raise costs none


def test_markdown_escaping_keeps_the_text():
    for text in (PIXEL, PHISH, "<b>x</b> & _y_ ~~z~~ | c `d` @all", "dnn_utils_v9 W[l] (m, n)",
                 "WWW.evil.example mail@evil.example"):
        escaped = markdown(text)
        _rendered_markdown_is_inert(escaped)
        assert not re.search(r"(?<!\\)[*_`|~<>@]", escaped.replace("dnn_utils_v9", ""))
        unescaped = re.sub(r"\\(.)", r"\1", escaped)
        assert unescaped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text
    assert markdown("dnn_utils_v9 W[l]") == "dnn_utils_v9 W[l]"     # readable where harmless


# --------------------------------------------------------------------------- route 1

BOB_MARK = "# bob's own solution: 7f3a-classmate-marker"
ONE_OWN = textwrap.dedent('''
    import numpy as np

    def sigmoid(Z):
        return 1 / (1 + np.exp(-Z)), Z

    def compute_cost(AL, Y):
        m = Y.shape[1]
        return float(np.squeeze(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m))
''')


def test_a_classmate_is_never_a_helper_in_grade_all(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    (klass / "bob.py").write_text(BOB_MARK + "\n" + CORRECT)
    (klass / "alice.py").write_text("from bob import *\n")
    (klass / "carol.py").write_text(ONE_OWN + "\nimport bob\nraise Exception(open(bob.__file__).read())\n")
    (klass / "dave").mkdir()                                 # a student's own folder: helpers work
    (klass / "dave" / "hw.py").write_text("from dnn_helpers import *\n")
    (klass / "dave" / "dnn_helpers.py").write_text(CORRECT)
    out = tmp_path / "gb.csv"
    result = grade_all(klass, out)
    assert sorted(result.graded) == ["alice", "bob", "carol", "dave"]
    reports = {sid: json.loads((out.parent / "gb_reports" / f"{sid}.json").read_text())
               for sid in result.graded}
    assert reports["alice"]["score"] == 0.0
    assert "import of 'bob' failed" in reports["alice"]["gradref_batch"]["error"]
    assert reports["bob"]["score"] == reports["dave"]["score"] == 100.0
    carol = reports["carol"]
    assert "import of 'bob' failed" in carol["gradref_batch"]["error"]
    assert carol["tests"] and all(t["score"] == t["max_score"] for t in carol["tests"]
                                  if t["name"].startswith("compute_cost"))
    for sid in ("alice", "carol"):
        assert "7f3a-classmate-marker" not in json.dumps(reports[sid])
        assert "uses your bob.py" not in reports[sid]["output"]
    everything = "".join(p.read_text() for p in [out, *summary_paths(out)])
    assert "7f3a-classmate-marker" not in everything


def test_a_file_graded_alone_still_uses_the_helpers_beside_it(tmp_path):
    from gradref.checks.grading.engine import grade_submission

    (tmp_path / "dnn_helpers.py").write_text(CORRECT)
    (tmp_path / "hw.py").write_text("from dnn_helpers import *\n")
    report = grade_submission(tmp_path / "hw.py")
    assert report.score == 100.0 and "uses your dnn_helpers.py" in report.output
    assert grade_submission(tmp_path / "hw.py", helpers=False).score == 0.0


# --------------------------------------------------------------------------- route 6

def _nest(top: Path, levels: int, leaf: str, text: str) -> None:
    """``top/d/d/…/d/leaf`` ``levels`` folders deep, made through directory descriptors (a path
    that long is beyond PATH_MAX, and ``os.makedirs`` recurses)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        handle = os.open(leaf, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(handle, text.encode())
        os.close(handle)
    finally:
        os.close(fd)


def _unnest(top: Path, levels: int, leaf: str) -> None:
    """Remove what :func:`_nest` made, deepest first, without recursion."""
    fds = [os.open(top, os.O_RDONLY | os.O_DIRECTORY)]
    for _ in range(levels):
        fds.append(os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fds[-1]))
    os.unlink(leaf, dir_fd=fds[-1])
    for i in range(levels, 0, -1):
        os.close(fds[i])
        os.rmdir("d", dir_fd=fds[i - 1])
    os.close(fds[0])


def test_a_folder_nested_1100_levels_is_invalid_and_everyone_else_graded(tmp_path):
    from gradref.checks.cli import main
    from gradref.checks.grading.loading import MAX_DEPTH

    klass = tmp_path / "class"
    (klass / "deep").mkdir(parents=True)
    _nest(klass / "deep", 1100, "hw.py", CORRECT)
    (klass / "honest.py").write_text(CORRECT)
    (klass / "shallow").mkdir()
    _nest(klass / "shallow", MAX_DEPTH - 1, "hw.py", CORRECT)    # deep, but within the limit
    out = tmp_path / "gb.csv"
    try:
        code = main(["grade-all", str(klass), "--out", str(out), "--quiet"])
        rows = {line.split(",")[0]: line for line in out.read_text().splitlines()[1:]}
    finally:
        _unnest(klass / "deep", 1100, "hw.py")
    assert code == 0                                   # the batch ran: exit 0, as documented
    assert sorted(rows) == ["deep", "honest", "shallow"]
    assert rows["honest"].startswith("honest,100,100,") and rows["shallow"].startswith("shallow,100,")
    assert ",invalid," in rows["deep"] and f"nested more than {MAX_DEPTH} levels deep" in rows["deep"]
    assert rows["deep"].startswith("deep,0,100,")
