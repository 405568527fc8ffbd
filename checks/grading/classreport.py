"""The class report: what a whole class got right and wrong, for the instructor.

Written by ``gradref grade-all`` (and ``gradref gradebook merge``) beside the CSV, as
``<out stem>_summary.md`` and ``<out stem>_summary.html``, from the per-student records alone
(the JSON reports), so the same records always give the same report, whichever machine or shard
graded them:

* per graded function: the pass rate (students with all of its points, among the graded ones),
  the mean, and the distribution of its score (0, below half, half or more, full marks);
* the most common diagnoses, with their counts and the students who have them ("dW is m times
  too large: the 1/m averaging is missing — 14 students"), numbers such as the case's m folded so
  that one mistake is one line; likewise the recurring problems (a failed import, NumPy drift)
  and the accepted alternative conventions;
* the submissions that could not be graded, and why.

The HTML page has a bar chart of the pass rates when matplotlib is installed (the ``plot``
extra: ``pip install 'gradref[plot]'``); without it the page says so and the table carries the
same numbers. Every text that comes from a student (ids, error messages) is escaped.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .textsafe import markdown, printable

__all__ = ["ClassSummary", "summarize", "render_markdown", "render_html", "BINS"]

#: Score distribution bins, as fractions of a function's points: (label, test).
BINS = (("0", lambda f: f <= 0.0), ("< 50%", lambda f: 0.0 < f < 0.5),
        ("50–99%", lambda f: 0.5 <= f < 1.0), ("100%", lambda f: f >= 1.0))
_TOP = 15
_NAMES = 12
_RECORD_KEY = "gradref_batch"


@dataclass
class FunctionStats:
    name: str
    max_score: float
    scores: list[float] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        full = sum(1 for s in self.scores if s >= self.max_score - 1e-9)
        return full / len(self.scores) if self.scores else 0.0

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0

    def bins(self) -> list[int]:
        fractions = [s / self.max_score if self.max_score else 1.0 for s in self.scores]
        return [sum(1 for f in fractions if test(f)) for _, test in BINS]


@dataclass
class ClassSummary:
    title: str
    students: int
    graded: int
    mean: float
    max_score: float
    functions: list[FunctionStats]
    diagnoses: list[tuple[str, list[str]]]         # (text, students)
    problems: list[tuple[str, list[str]]]
    accepted: list[tuple[str, list[str]]]
    ungradable: list[tuple[str, str, str]]          # (student, status, why)


def _fold(text: str) -> str:
    """One mistake, one line: the case's numbers folded (``m = 4 times`` -> ``m times``)."""
    text = re.sub(r"\bm = \d+ times", "m times", text)
    text = re.sub(r"\((?:\d+(?:, \d+)*,?)?\)", "(…)", text)
    text = re.sub(r"(?<![\w\[])(d?[AWZb])\d+(?![\w\]])", r"\1[l]", text)
    text = re.sub(r"(d?[AWZb]\[l\])(?:(?:, | and )\1)+", r"\1", text)
    text = re.sub(r"\[\d+(?:,\d+)*\]", "[…]", text)
    text = re.sub(r"(?<![\w.])\d+\.\d+(?:e[-+]?\d+)?", "…", text)
    return " ".join(text.split())


def _grouped(pairs: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    groups: dict[str, set[str]] = {}
    for text, student in pairs:
        groups.setdefault(text, set()).add(student)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(text, sorted(students)) for text, students in ranked[:_TOP]]


def summarize(records: Sequence[dict[str, Any]], functions: Sequence[str],
              title: str = "") -> ClassSummary:
    """The class summary of the per-student ``records`` (the JSON reports, each with its
    ``gradref_batch`` record); ``functions`` gives the order of the graded functions."""
    stats: dict[str, FunctionStats] = {}
    diagnoses, problems, accepted, ungradable = [], [], [], []
    scores, max_score, graded = [], 0.0, 0
    for record in sorted(records, key=lambda r: str(r[_RECORD_KEY]["student"])):
        meta = record[_RECORD_KEY]
        student = str(meta["student"])
        max_score = max(max_score, float(record.get("max_score") or 0.0))
        tests = record.get("tests") or []
        if meta.get("status") != "graded":
            ungradable.append((student, str(meta.get("status")), str(meta.get("error") or "")))
            continue
        if tests and not any(t.get("status") == "passed" for t in tests) \
                and "could not be loaded" in str(record.get("output", "")):
            ungradable.append((student, "not loadable", str(meta.get("error") or "")))
        graded += 1
        scores.append(float(record.get("score") or 0.0))
        per: dict[str, list[float]] = {}
        for t in tests:
            fname = str(t["name"]).partition(": ")[0]
            per.setdefault(fname, [0.0, 0.0])
            per[fname][0] += float(t["score"])
            per[fname][1] += float(t["max_score"])
            output = str(t.get("output") or "")
            if t.get("status") == "failed":
                for line in output.splitlines():
                    if line.startswith("Diagnosis: "):
                        diagnoses.append((f"{fname}: {_fold(line[len('Diagnosis: '):])}",
                                          student))
            for line in output.splitlines():
                if line.startswith("Accepted: "):
                    accepted.append((_fold(line[len("Accepted: "):]), student))
        for fname, (got, total) in per.items():
            stats.setdefault(fname, FunctionStats(fname, total)).scores.append(got)
        for problem in record.get("problems") or []:
            problems.append((_fold(str(problem)), student))
    order = [f for f in functions if f in stats] + [f for f in stats if f not in functions]
    return ClassSummary(title=title, students=len(records), graded=graded,
                        mean=sum(scores) / len(scores) if scores else 0.0, max_score=max_score,
                        functions=[stats[f] for f in order], diagnoses=_grouped(diagnoses),
                        problems=_grouped(problems), accepted=_grouped(accepted),
                        ungradable=sorted(ungradable))


# --------------------------------------------------------------------------- Markdown
def _md(text: object) -> str:
    """A Markdown table cell that a student's text cannot break, link, embed or format
    (:func:`gradref.checks.grading.textsafe.markdown`)."""
    return markdown(text)


def _names(students: list[str]) -> list[str]:
    shown = students[:_NAMES]
    return shown + ([f"… and {len(students) - _NAMES} more"] if len(students) > _NAMES else [])


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def render_markdown(summary: ClassSummary) -> str:
    s = summary
    lines = [f"# Class report: {_md(s.title)}", "",
             f"{s.students} students, {s.graded} graded; mean score {s.mean:.2f} / "
             f"{s.max_score:g}.", "", "## Per function", "",
             "| function | pass rate | mean | " + " | ".join(b for b, _ in BINS) + " |",
             "|---|---|---|" + "---|" * len(BINS)]
    for f in s.functions:
        lines.append(f"| {_md(f.name)} | {_pct(f.pass_rate)} | {f.mean:.2f} / {f.max_score:g} | "
                     + " | ".join(str(n) for n in f.bins()) + " |")
    lines.append("")
    lines.append("Pass rate: the students with all of the function's points, among those graded; "
                 "the last columns count students by the share of the function's points they got.")
    for heading, groups in (("Most common diagnoses", s.diagnoses),
                            ("Recurring problems (imports, NumPy, skipped code)", s.problems),
                            ("Accepted alternative conventions", s.accepted)):
        lines += ["", f"## {heading}", ""]
        if not groups:
            lines.append("None.")
            continue
        lines += ["| count | what | students |", "|---|---|---|"]
        for text, students in groups:
            noun = "student" if len(students) == 1 else "students"
            lines.append(f"| {len(students)} {noun} | {_md(text)} | "
                         f"{_md(', '.join(_names(students)))} |")
    lines += ["", "## Submissions that could not be graded", ""]
    if not s.ungradable:
        lines.append("None.")
    else:
        lines += ["| student | status | why |", "|---|---|---|"]
        lines += [f"| {_md(sid)} | {_md(status)} | {_md(why)} |"
                  for sid, status, why in s.ungradable]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML
def _chart(summary: ClassSummary) -> str | None:
    """An inline SVG bar chart of the pass rates, or None without matplotlib."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        return None
    names = [f.name for f in summary.functions]
    rates = [100 * f.pass_rate for f in summary.functions]
    with matplotlib.rc_context({"svg.hashsalt": "gradref", "svg.fonttype": "none"}):
        fig = Figure(figsize=(8, 0.4 * len(names) + 1.2))
        ax = fig.add_subplot()
        ax.barh(range(len(names)), rates, color="#4c72b0")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("pass rate (% of graded students with full marks)")
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def render_html(summary: ClassSummary) -> str:
    s = summary

    def e(text: object) -> str:     # escaped, with control and bidi characters shown
        return html.escape(printable(str(text)))
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Class report: {e(s.title)}</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
             "vertical-align:top}</style></head><body>",
             f"<h1>Class report: {e(s.title)}</h1>",
             f"<p>{s.students} students, {s.graded} graded; mean score {s.mean:.2f} / "
             f"{s.max_score:g}.</p>", "<h2>Per function</h2>"]
    chart = _chart(s)
    if chart is not None:
        parts.append(chart)
    else:
        parts.append("<p><em>The bar chart needs matplotlib, which is not installed (pip install "
                     "'gradref[plot]'); the table below has the same numbers.</em></p>")
    parts.append("<table><tr><th>function</th><th>pass rate</th><th>mean</th>"
                 + "".join(f"<th>{e(b)}</th>" for b, _ in BINS) + "</tr>")
    for f in s.functions:
        parts.append(f"<tr><td>{e(f.name)}</td><td>{_pct(f.pass_rate)}</td>"
                     f"<td>{f.mean:.2f} / {f.max_score:g}</td>"
                     + "".join(f"<td>{n}</td>" for n in f.bins()) + "</tr>")
    parts.append("</table>")
    for heading, groups in (("Most common diagnoses", s.diagnoses),
                            ("Recurring problems (imports, NumPy, skipped code)", s.problems),
                            ("Accepted alternative conventions", s.accepted)):
        parts.append(f"<h2>{e(heading)}</h2>")
        if not groups:
            parts.append("<p>None.</p>")
            continue
        parts.append("<table><tr><th>count</th><th>what</th><th>students</th></tr>")
        for text, students in groups:
            parts.append(f"<tr><td>{len(students)}</td><td>{e(text)}</td>"
                         f"<td>{e(', '.join(_names(students)))}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Submissions that could not be graded</h2>")
    if not s.ungradable:
        parts.append("<p>None.</p>")
    else:
        parts.append("<table><tr><th>student</th><th>status</th><th>why</th></tr>")
        parts += [f"<tr><td>{e(sid)}</td><td>{e(status)}</td><td>{e(why)}</td></tr>"
                  for sid, status, why in s.ungradable]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
