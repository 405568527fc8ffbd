"""The HTML class report as an instructor sees it: loaded in real headless Chromium, its script
run (the per-student table sorted by the page's own JavaScript), and a screenshot taken.

Chromium comes from ``make browser`` (apt, when root); without it the test is skipped, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.grading.classreport import render_html, summarize

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make browser installs it when root)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars")
SCORES = {"amy": 100.0, "bob": 35.0, "cat": 72.0, "dan": 91.0, "eli": 0.0, "fay": 56.0}


def _record(sid: str, score: float) -> dict:
    tests = [{"name": "linear_backward: values of dW", "score": score / 2, "max_score": 50.0,
              "status": "passed" if score == 100 else "failed",
              "output": "" if score == 100 else
              "Diagnosis: dW is m = 5 times too large: the 1/m averaging is missing"},
             {"name": "compute_cost: values", "score": score / 2, "max_score": 50.0,
              "status": "passed" if score else "failed", "output": ""}]
    return {"score": score, "max_score": 100.0, "output": "hw", "tests": tests,
            "problems": [] if sid != "eli" else
            ["linear_backward: timeout: linear_backward() did not return within the wall-clock "
             "limit of 10 s; the child was killed"],
            "gradref_batch": {"student": sid, "status": "graded", "error": None}}


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    env = dict(os.environ, HOME=str(tmp_path))
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, env=env, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("browser")
    summary = summarize([_record(sid, score) for sid, score in SCORES.items()],
                        ["linear_backward", "compute_cost"], "Step by step")
    path = tmp_path / "gb_summary.html"
    path.write_text(render_html(summary, "gb_reports"), encoding="utf-8")
    return path


def test_the_page_sorts_its_student_table_in_a_real_browser(page):
    run = _chromium(page.parent, "--virtual-time-budget=3000", "--dump-dom",
                    page.as_uri() + "#sort=-score")
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert 'data-sortable="ready"' in dom               # the page's script ran to its end
    table = dom.split('id="students"')[1].split("</table>")[0]
    shown = re.findall(r'<a href="gb_reports/(\w+)\.json">', table)
    # highest score first, by the page's JavaScript (the HTML itself lists them by id)
    assert shown == sorted(SCORES, key=lambda sid: -SCORES[sid])
    html_order = re.findall(r'<a href="gb_reports/(\w+)\.json">',
                            page.read_text().split('id="students"')[1])
    assert html_order == sorted(SCORES)
    assert "6 students: 6 graded, 0 not-loadable, 0 invalid, 0 error." in dom
    assert ">eli</td><td>linear_backward: timeout" in dom    # the failures table names her


def test_a_screenshot_shows_the_histogram_and_the_tables(page):
    shot = page.parent / "report.png"
    run = _chromium(page.parent, "--window-size=1000,1400", f"--screenshot={shot}",
                    page.as_uri())
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    from matplotlib.image import imread

    image = imread(shot)[..., :3]
    assert image.shape[:2] == (1400, 1000)
    colours = np.unique((image * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50                            # text and tables, not a blank page
    # the histogram's bars (#4c72b0): one bin per distinct score decile of the class, so a
    # few thousand pixels of that blue
    blue = np.all(np.abs(image * 255 - np.array([0x4c, 0x72, 0xb0])) < 3, axis=-1)
    assert blue.sum() > 2000
    rows = np.nonzero(blue.any(axis=1))[0]
    assert rows.min() < 700                             # near the top, under the counts
