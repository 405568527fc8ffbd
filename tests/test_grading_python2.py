"""Code written for Python 2 (the CS231n files of 2016), graded with ``compat = ["python2"]``:
translated by 2to3 before it runs, the report naming the files; Python 3 code is never touched.
The oracle of the grades is the Python 3 rendition of the same solution, which earns 100."""

from __future__ import annotations

from pathlib import Path

import pytest
from grading_fixtures import patterns
from gradref.checks.grading import grade_submission, load_assignment
from gradref.checks.grading.python2 import translate


def _python2(source: str) -> str:
    """The layered solution as a 2016 student wrote it: print statements, xrange, iteritems,
    the old except and raise forms."""
    out = (source
           .replace("for i in range(", "for i in xrange(")
           .replace("self.params.items()", "self.params.iteritems()")
           .replace("def affine_forward(x, w, b):\n",
                    "def affine_forward(x, w, b):\n    if x is None:\n"
                    "        raise ValueError, 'no input'\n"
                    "    try:\n        pass\n    except TypeError, e:\n        print e\n"))
    return out + '\nprint "layers loaded"\n'


def _package(folder: Path, python2: bool) -> Path:
    root = patterns.cs231n_package(folder)
    if python2:
        for rel in ("layers.py", "classifiers/fc_net.py"):
            path = root / "cs231n" / rel
            path.write_text(_python2(path.read_text()))
    return root


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """The layered assignment without the switch."""
    path = tmp_path_factory.mktemp("strict") / "strict.toml"
    path.write_text('extends = "layered"\nname = "strict"\ncompat = ["numpy"]\n')
    return path


def test_a_python2_package_is_translated_and_graded_in_full(tmp_path, strict):
    root = _package(tmp_path / "bob", python2=True)
    layers = (root / "cs231n" / "layers.py").read_text()
    assert "print e" in layers and "xrange" in (root / "cs231n/classifiers/fc_net.py").read_text()
    report = grade_submission(root, "layered")
    assert report.score == report.max_score == 100, report.output
    assert ("written for Python 2: cs231n/layers.py, cs231n/classifiers/fc_net.py translated to "
            "Python 3 by 2to3 before grading (compat python2)") in report.output
    # the same files without the switch: layers.py does not compile, the net stops at xrange
    unswitched = grade_submission(root, strict)
    assert unswitched.score < 40, unswitched.output
    assert "translated" not in unswitched.output


def test_python3_code_is_never_translated(tmp_path):
    root = _package(tmp_path / "alice", python2=False)
    report = grade_submission(root, "layered")
    assert report.score == report.max_score == 100
    assert "Python 2" not in report.output
    assert translate("print('a', 1)\nx = [i for i in range(3)]\n") is None
    assert translate("def f(a, /, b):\n    return a\n") is None       # beyond 2to3's grammar


def test_what_translate_changes_and_what_it_leaves():
    fixed = translate("for i in xrange(3):\n    print i, 2\n")
    assert fixed == "for i in range(3):\n    print(i, 2)\n"
    # a print function with keywords and a Python 2 call: the print-function grammar
    assert translate("print('x', end='')\nd = {}\nfor k, v in d.iteritems():\n    pass\n") == (
        "print('x', end='')\nd = {}\nfor k, v in d.items():\n    pass\n")
    # integer division is left as Python 3 reads it
    assert translate("n = 7 / 2\nfor i in xrange(n):\n    pass\n") == (
        "n = 7 / 2\nfor i in range(n):\n    pass\n")
    # neither Python 2 nor 3: graded as it is (its syntax error is the student's message)
    assert translate("def f(:\n    pass\n") is None


def test_a_source_too_large_to_translate_is_left_as_it_is():
    # 2to3 runs in the grader's process: a huge Python 2 file must not hold grade-all up
    # (~20 s per MiB, one translation at a time); the course's files are far below the cap
    from gradref.checks.grading.python2 import MAX_TRANSLATED_BYTES

    unit = "def f(x):\n    print x\n    return x\n"
    assert translate(unit) is not None
    huge = unit * (MAX_TRANSLATED_BYTES // len(unit) + 1)
    assert len(huge) > MAX_TRANSLATED_BYTES
    assert translate(huge) is None


def test_the_switch_is_declared_and_checked():
    assert load_assignment("layered").compat == ("numpy", "python2")
    assert "python2" not in load_assignment("step-by-step").compat
