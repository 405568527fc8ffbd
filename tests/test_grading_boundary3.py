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


def honest_functions_full(report, cheat: str | tuple[str, ...]) -> None:
    cheats = (cheat,) if isinstance(cheat, str) else cheat
    for name, (got, total) in function_scores(report).items():
        if name not in cheats and name not in ("linear_activation_forward", "L_model_forward"):
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
RLO = "\u202eevil"
PHISH = "[Confirm your grade here](http://evil.example/login)"
MARKDOWN_ATTACK = CORRECT + textwrap.dedent(f'''

    raise Exception({PIXEL + " " + PHISH + " <img src=x onerror=alert(1)> **bold** `code` | a | b |"
                     + " www.evil.example http://evil.example/auto " + RLO!r})
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
    page = summary_paths(out)[1].read_text()
    assert "&lt;U+202E&gt;evil" in md and "&lt;U+202E&gt;evil" in page
    assert not any(c in md + page for c in BIDI_CONTROLS)
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


# --------------------------------------------------------------------------- route 4

_KEY = textwrap.dedent('''
    import hashlib as _hashlib
    import numpy as _np

    def _key(name, value, digest=None):
        top = digest is None
        digest = _hashlib.sha256(name.encode()) if top else digest
        if isinstance(value, _np.ndarray):
            digest.update(str((value.dtype.str, value.shape)).encode() + value.tobytes())
        elif isinstance(value, dict):
            for k in sorted(value, key=str):
                digest.update(repr(k).encode())
                _key(name, value[k], digest)
        elif isinstance(value, (list, tuple)):
            digest.update(b"[%d" % len(value))
            for item in value:
                _key(name, item, digest)
        else:
            digest.update(repr(value).encode())
        return digest.hexdigest() if top else None
''')
REPLAYED = ("initialize_parameters_deep", "linear_forward", "linear_activation_forward",
            "L_model_forward", "linear_backward", "linear_activation_backward", "L_model_backward",
            "update_parameters")


def _recorder(log: Path) -> str:
    """The correct solution, writing every call's inputs and answer to ``log`` (run at level
    none, as a student would at home)."""
    wrap = "".join(textwrap.dedent(f'''
        _honest_{name} = {name}
        def {name}(*args):
            out = _honest_{name}(*args)
            with open({str(log)!r}, "ab") as handle:
                _pickle.dump((_key({name!r}, list(args)), out), handle)
            return out
    ''') for name in REPLAYED)
    return CORRECT + _KEY + "\nimport pickle as _pickle\n" + wrap


def _lookup_table(log: Path) -> str:
    """A submission of recorded answers only (and an honest compute_cost), silent elsewhere."""
    import base64
    import pickle

    table = {}
    with open(log, "rb") as handle:
        while True:
            try:
                key, out = pickle.load(handle)
            except EOFError:
                break
            table[key] = out
    blob = base64.b64encode(pickle.dumps(table)).decode()
    answers = "".join(textwrap.dedent(f'''
        def {name}(*args):
            return _TABLE[_key({name!r}, list(args))]
    ''') for name in REPLAYED)
    return (ONE_OWN + _KEY + "\nimport base64, pickle\n"
            + f"_TABLE = pickle.loads(base64.b64decode({blob!r}))\n" + answers)


def test_answers_recorded_at_seed_0_earn_nothing_under_the_default_seed(tmp_path, monkeypatch):
    from gradref.checks.cli import main

    log = tmp_path / "recorded.pickle"
    with monkeypatch.context() as env:
        env.setenv("GRADREF_ISOLATION", "none")
        assert grade_source(_recorder(log), seed=0).score == 100.0
    klass = tmp_path / "class"
    klass.mkdir()
    cheat = klass / "replay.py"
    cheat.write_text(_lookup_table(log))
    assert grade_source(cheat.read_text(), seed=0).score == 100.0     # the attack, at seed 0
    # gradref grade, as the Gradescope bundle runs it: a fresh seed per run
    out = tmp_path / "replay.json"
    assert main(["grade", str(cheat), "--format", "json", "--out", str(out)]) == 0
    graded = json.loads(out.read_text())
    seed = graded["seed"]
    assert seed != 0 and f"Cases drawn with seed {seed}" in graded["output"]
    scores: dict[str, float] = {}
    for t in graded["tests"]:
        scores[t["name"].partition(": ")[0]] = scores.get(t["name"].partition(": ")[0], 0) + t["score"]
    assert {name: scores[name] for name in REPLAYED} == dict.fromkeys(REPLAYED, 0.0)
    assert scores["compute_cost"] > 0                   # the honest function is still graded
    # the recorded seed reproduces the grade exactly
    again = tmp_path / "again.json"
    assert main(["grade", str(cheat), "--format", "json", "--out", str(again),
                 "--seed", str(seed)]) == 0
    assert [t["score"] for t in json.loads(again.read_text())["tests"]] == \
        [t["score"] for t in graded["tests"]]
    # grade-all: seeds from the class secret, recorded per student
    (klass / "honest.py").write_text(CORRECT)
    book = tmp_path / "gb.csv"
    result = grade_all(klass, book)
    secret = tmp_path / "gb_secret.txt"
    assert secret.stat().st_mode & 0o077 == 0
    records = {sid: json.loads((tmp_path / "gb_reports" / f"{sid}.json").read_text())
               for sid in result.graded}
    assert records["honest"]["score"] == 100.0
    replay = records["replay"]
    assert replay["score"] == scores["compute_cost"]
    assert replay["seed"] == replay["gradref_batch"]["case_seed"] not in (0, None)
    assert grade_all(klass, book).skipped == ["honest", "replay"]       # same secret, same seeds


TELLS = textwrap.dedent('''
    import os, socket, sys

    def tells():
        found = []
        if os.path.exists("/gradref-harness") or os.path.exists("/gradref-stage"):
            found.append("documented folder")
        if "GRADREF_SANDBOX_TOKEN" in os.environ:
            found.append("documented variable")
        if socket.gethostname() == "gradref-sandbox":
            found.append("documented host name")
        found += [p for p in sys.path if "gradref" in p]
        found += [k for k in os.environ if "GRADREF" in k.upper()]
        return found
''')


def test_no_documented_name_tells_a_submission_it_is_graded():
    import pytest
    from gradref.checks.isolation import PythonSubmission, levels

    problem = levels.namespaces_problem()
    if problem is not None:
        pytest.skip(f"namespaces level unavailable: {problem}")
    with PythonSubmission(TELLS) as sub:
        assert sub.start() is None
        result = sub.call("tells")
    assert result.ok and result.value == [], result


# --------------------------------------------------------------------------- route 9

FD_BACKWARD = CORRECT + textwrap.dedent('''

    def _difference(f, x, h=1e-7):
        """The one-sided difference quotient of the scalar f at every entry of x (in place)."""
        base, grad = f(), np.zeros_like(x)
        for i in np.ndindex(x.shape):
            kept = x[i]
            x[i] = kept + h
            grad[i] = (f() - base) / h
            x[i] = kept
        return grad

    def linear_activation_backward(dA, cache, activation):
        (A_prev, W, b), Z = cache
        A_prev, W, b = A_prev.copy(), W.copy(), b.copy()
        m = A_prev.shape[1]
        J = lambda: float(np.sum(dA * linear_activation_forward(A_prev, W, b, activation)[0]))
        return _difference(J, A_prev), _difference(J, W) / m, _difference(J, b) / m

    def L_model_backward(AL, Y, caches):
        L = len(caches)
        A = [c[0][0].copy() for c in caches]
        W = [c[0][1].copy() for c in caches]
        b = [c[0][2].copy() for c in caches]
        m = Y.shape[1]

        def cost_from(l):
            def J():
                out = A[l]
                for k in range(l, L):
                    out, _ = linear_activation_forward(out, W[k], b[k],
                                                       "relu" if k < L - 1 else "sigmoid")
                return compute_cost(out, Y)
            return J

        grads = {}
        for l in range(L):
            grads["dW" + str(l + 1)] = _difference(cost_from(0), W[l])
            grads["db" + str(l + 1)] = _difference(cost_from(0), b[l])
            grads["dA" + str(l)] = m * _difference(cost_from(l), A[l])
        return grads
''')
FD_FUNCTIONS = ("linear_activation_backward", "L_model_backward")
CENTRAL = FD_BACKWARD.replace("grad[i] = (f() - base) / h", "x[i] = kept - h\n        low = f()\n"
                              "        x[i] = kept + h\n        grad[i] = (f() - low) / (2 * h)"
                              ).replace("def _difference(f, x, h=1e-7)", "def _difference(f, x, h=1e-5)")


def _with_policy(tmp_path: Path, policy: str) -> Path:
    from importlib import resources

    from gradref.checks.grading.assignment import builtin_assignments

    assert "step-by-step" in builtin_assignments()
    text = resources.files("gradref.checks.grading").joinpath("assignments", "step-by-step.toml") \
        .read_text()
    path = tmp_path / f"step-{policy}.toml"
    path.write_text(text.replace('finite_differences = "flag"', f'finite_differences = "{policy}"'))
    return path


def test_a_finite_difference_backward_is_flagged_or_failed_by_policy(tmp_path):
    flagged = grade_source(FD_BACKWARD)                          # the built-in policy: flag
    scores = function_scores(flagged)
    assert all(scores[f][0] == scores[f][1] > 0 for f in FD_FUNCTIONS)      # points stand ...
    fd_problems = [p for p in flagged.problems if p.startswith("finite differences flagged")]
    assert sorted(f for f in FD_FUNCTIONS if any(f in p for p in fd_problems)) == sorted(FD_FUNCTIONS)
    assert "Finite differences flagged: L_model_backward" in flagged.output   # ... and it says so
    for t in flagged.tests:
        if t.name.startswith(FD_FUNCTIONS):
            assert "Flagged: " in t.output and "finite differences" in t.output
    central = grade_source(CENTRAL)                # a central difference: smaller errors, still seen
    assert sum(p.startswith("finite differences flagged") for p in central.problems) == 2
    honest = grade_source(CORRECT)
    assert honest.score == 100.0 and not any("finite differences" in p for p in honest.problems)
    assert "Flagged" not in render(honest, "text")

    failed = grade_source(FD_BACKWARD, _with_policy(tmp_path, "fail"))
    scores = function_scores(failed)
    assert all(scores[f][0] == 0.0 for f in FD_FUNCTIONS)
    honest_functions_full(failed, FD_FUNCTIONS)
    assert scores["linear_backward"][0] == scores["linear_backward"][1]
    accepted = grade_source(FD_BACKWARD, _with_policy(tmp_path, "accept"))
    assert accepted.score == 100.0 and not accepted.problems


def test_the_policy_is_declared_and_checked(tmp_path):
    import pytest
    from gradref.checks.grading.assignment import AssignmentError, load_assignment

    assert load_assignment("step-by-step").finite_differences == "flag"
    assert load_assignment("layered").finite_differences == "flag"
    with pytest.raises(AssignmentError, match="finite_differences: must be one of accept, flag, "
                                              "fail, got 'maybe'"):
        load_assignment(str(_with_policy(tmp_path, "maybe")))
