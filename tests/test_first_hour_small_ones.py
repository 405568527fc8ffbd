"""The small things an instructor trips over in the first hour: an empty folder, --out into a
missing folder, a row-major implementation validated without --layout rows, the isolation level
in validate's reports, grade --help naming folders and zips."""

from __future__ import annotations

import json
from pathlib import Path

from gradref.checks.cli import main

ROOT = Path(__file__).parent.parent
ROWS = ROOT / "examples/implementations/rows_numpy.py"
CORRECT = ROOT / "tests/grading_fixtures/step_correct.py"


def test_grade_all_on_a_folder_without_submissions_says_so_and_exits_2(tmp_path, capsys):
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "notes.txt").write_text("not a submission")
    assert main(["grade-all", str(tmp_path / "class"), "--out", str(tmp_path / "gb.csv")]) == 2
    err = capsys.readouterr().err
    assert "no submissions in" in err and "class" in err and "nothing was graded" in err


def test_every_out_creates_its_missing_folders(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ann.py").write_text(CORRECT.read_text())
    csv_path = tmp_path / "new" / "deeper" / "gb.csv"
    assert main(["grade-all", str(folder), "--out", str(csv_path), "-q"]) == 0
    assert csv_path.is_file() and (csv_path.parent / "gb_summary.html").is_file()
    report = tmp_path / "other" / "ann.json"
    assert main(["grade", str(folder / "ann.py"), "--format", "json", "--out", str(report)]) == 0
    assert json.loads(report.read_text())["score"] == 100
    merged = tmp_path / "merged" / "gb.csv"
    assert main(["gradebook", "merge", str(csv_path), "--out", str(merged)]) == 0
    assert merged.is_file()
    assert main(["fixtures", "--out", str(tmp_path / "fx" / "here")]) == 0
    capsys.readouterr()
    # a part of the path that is a file is refused, naming it
    assert main(["grade", str(folder / "ann.py"), "--out", str(folder / "ann.py" / "x.json")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_validate_suggests_the_layout_the_shapes_point_to_and_names_the_isolation(capsys):
    argv = ["validate", f"{ROWS}:gradients", "--layers", "3,4,1", "--activations", "relu,sigmoid",
            "--loss", "bce", "--cases", "2", "--no-shrink"]
    assert main(argv) == 2
    out = capsys.readouterr().out
    assert "run with --layout rows" in out
    assert "\n  isolation: " in out
    assert main([*argv, "--format", "json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert "--layout rows" in report["hint"] and report["isolation"].startswith("isolation: ")
    # the right layout: no hint, the same isolation line
    assert main([*argv, "--layout", "rows"]) == 0
    out = capsys.readouterr().out
    assert "hint:" not in out and "\n  isolation: " in out


def test_grade_help_names_folders_and_zips(capsys):
    assert main(["grade", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "a folder" in text and ".zip" in text and "--statement-limit" in text
    assert main(["--help"]) == 0
    assert "a folder or a .zip" in capsys.readouterr().out
