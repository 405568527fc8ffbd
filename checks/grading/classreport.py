"""The class report: what a whole class got right and wrong, for the instructor.

Written by ``gradref grade-all`` (and ``gradref gradebook merge``) beside the CSV, as
``<out stem>_summary.md`` and ``<out stem>_summary.html``, from the per-student records alone
(the JSON reports), so the same records always give the same report, whichever machine or shard
graded them:

* one status per student (:func:`student_status`, also the CSV's ``status`` column): ``graded``,
  ``not-loadable`` (the submission failed to load: its 0 is in the CSV but not in the mean),
  ``invalid`` (no file could be chosen or read) or ``error`` (grading itself failed); the counts
  of the statuses and the mean, which says whom it includes;
* the mistakes grouped by what they are, across functions (one student's missing 1/m seen in
  ``linear_backward`` and ``L_model_backward`` is one mistake of one student), counted by
  students, with the functions they appeared in, most common first; the per-function detail below;
* the failures that are not mistakes of backprop, each naming its student: a function that hung,
  crashed or ran out of memory, a statement stopped or skipped at load, a failed import;
* per graded function: the pass rate (students with all of its points, among the graded ones),
  the mean, and the distribution of its score (0, below half, half or more, full marks);
* the most common diagnoses, with their counts and the students who have them ("dW is m times
  too large: the 1/m averaging is missing — 14 students"), numbers such as the case's m folded so
  that one mistake is one line; likewise the recurring problems (a failed import, NumPy drift)
  and the accepted alternative conventions;
* the submissions that could not be graded, and why.

The HTML page adds a per-student table (sortable by any column, in plain JavaScript), a score
histogram (inline SVG, no dependency) and links to the per-student reports; it has a bar chart
of the pass rates when matplotlib is installed (the ``plot``
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

__all__ = ["ClassSummary", "summarize", "render_markdown", "render_html", "student_status",
           "mistake_kind", "BINS", "STATUSES"]

#: Score distribution bins, as fractions of a function's points: (label, test).
BINS = (("0", lambda f: f <= 0.0), ("< 50%", lambda f: 0.0 < f < 0.5),
        ("50–99%", lambda f: 0.5 <= f < 1.0), ("100%", lambda f: f >= 1.0))
_TOP = 15
_NAMES = 12
_RECORD_KEY = "gradref_batch"
#: The statuses of a student, in the order the counts are told.
STATUSES = ("graded", "not-loadable", "invalid", "error")
_HIST_BINS = 10


def student_status(record: dict[str, Any]) -> str:
    """The one status of a student's record (see :data:`STATUSES`), used by the CSV, the class
    report and its counts: ``not-loadable`` when the engine graded it but its top level failed,
    so no function could run."""
    status = str(record[_RECORD_KEY].get("status"))
    if status != "graded":
        return status if status in STATUSES else "error"
    output = str(record.get("output", ""))
    tests = record.get("tests") or []
    if "could not be loaded" in output and not any(t.get("status") == "passed" for t in tests):
        return "not-loadable"
    return "graded"


_NAME = re.compile(r"\b(?:d?(?:W|b|Z|A|AL|A_prev|X|Y)(?:\[l\]|\[L\]|\d+)?|dA_prev|dAL)(?![\w(])")


def mistake_kind(text: str) -> str:
    """What a diagnosis says, whichever arrays or function it is about: the array names folded
    (``dW1 and db1 are m times too large`` and ``dW is m = 6 times too large`` are one mistake)."""
    text = _fold(text)
    text = re.sub(r" in layers? \d+(?:(?:, | and )\d+)*", "", text)
    text = _NAME.sub("d·", text)
    text = re.sub(r"d·(?:(?:, | and |/)d·)+", "d·", text)
    text = re.sub(r"\b(are|were)\b", lambda m: {"are": "is", "were": "was"}[m.group(1)], text)
    return text


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
class StudentRow:
    student: str
    status: str
    score: float
    max_score: float
    functions: dict[str, float]
    error: str


@dataclass
class Mistake:
    text: str                       # an example of its wording (the most common one)
    students: list[str]
    functions: list[str]


@dataclass
class ClassSummary:
    title: str
    students: int
    graded: int
    mean: float                                     # over the graded students only
    max_score: float
    functions: list[FunctionStats]
    diagnoses: list[tuple[str, list[str]]]         # (function: text, students), per function
    problems: list[tuple[str, list[str]]]
    accepted: list[tuple[str, list[str]]]
    ungradable: list[tuple[str, str, str]]          # (student, status, why)
    counts: dict[str, int] = field(default_factory=dict)     # status -> students
    mean_all: float = 0.0                           # over every row of the CSV (0 without a score)
    mistakes: list[Mistake] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)   # (student, what happened)
    rows: list[StudentRow] = field(default_factory=list)


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
    scores, all_scores, max_score, graded = [], [], 0.0, 0
    counts = dict.fromkeys(STATUSES, 0)
    kinds: dict[str, dict[str, Any]] = {}
    failures: list[tuple[str, str]] = []
    rows: list[StudentRow] = []
    for record in sorted(records, key=lambda r: str(r[_RECORD_KEY]["student"])):
        meta = record[_RECORD_KEY]
        student = str(meta["student"])
        max_score = max(max_score, float(record.get("max_score") or 0.0))
        tests = record.get("tests") or []
        status = student_status(record)
        counts[status] += 1
        all_scores.append(float(record.get("score") or 0.0))
        per_row: dict[str, float] = {}
        for t in tests:
            key = str(t["name"]).partition(": ")[0]
            per_row[key] = per_row.get(key, 0.0) + float(t["score"])
        rows.append(StudentRow(student, status, float(record.get("score") or 0.0),
                               float(record.get("max_score") or 0.0), per_row,
                               str(meta.get("error") or "")))
        if status != "graded":
            ungradable.append((student, status, str(meta.get("error") or "")))
            failures.append((student, f"{status}: {meta.get('error') or ''}".strip()))
            continue
        for problem in record.get("problems") or []:
            failures.append((student, str(problem)))
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
                    if line.startswith("Diagnosis: ") and not line.startswith(
                            "Diagnosis: the same mistake as under "):   # told on another check
                        said = line[len('Diagnosis: '):]
                        diagnoses.append((f"{fname}: {_fold(said)}", student))
                        group = kinds.setdefault(mistake_kind(said), {
                            "students": set(), "functions": {}, "texts": {}})
                        group["students"].add(student)
                        group["functions"].setdefault(fname, None)
                        group["texts"][_fold(said)] = group["texts"].get(_fold(said), 0) + 1
            for line in output.splitlines():
                if line.startswith("Accepted: "):
                    accepted.append((_fold(line[len("Accepted: "):]), student))
        for fname, (got, total) in per.items():
            stats.setdefault(fname, FunctionStats(fname, total)).scores.append(got)
        for problem in record.get("problems") or []:
            problems.append((_fold(str(problem)), student))
    order = [f for f in functions if f in stats] + [f for f in stats if f not in functions]
    position = {f: i for i, f in enumerate(order)}
    mistakes = [Mistake(max(g["texts"], key=lambda t: (g["texts"][t], t)), sorted(g["students"]),
                        sorted(g["functions"], key=lambda f: position.get(f, len(position))))
                for g in kinds.values()]
    mistakes.sort(key=lambda k: (-len(k.students), k.text))
    return ClassSummary(title=title, students=len(records), graded=graded,
                        mean=sum(scores) / len(scores) if scores else 0.0, max_score=max_score,
                        functions=[stats[f] for f in order], diagnoses=_grouped(diagnoses),
                        problems=_grouped(problems), accepted=_grouped(accepted),
                        ungradable=sorted(ungradable), counts=counts,
                        mean_all=sum(all_scores) / len(all_scores) if all_scores else 0.0,
                        mistakes=mistakes, failures=failures, rows=rows)


def counts_sentence(summary: ClassSummary) -> str:
    """``12 students: 9 graded, 2 not-loadable, 1 invalid, 0 error.``"""
    parts = ", ".join(f"{summary.counts.get(k, 0)} {k}" for k in STATUSES)
    return f"{summary.students} students: {parts}."


def mean_sentence(summary: ClassSummary) -> str:
    """What the mean includes, said beside it."""
    s = summary
    others = s.students - s.graded
    text = (f"Mean score {s.mean:.2f} / {s.max_score:g} over the {s.graded} graded students")
    if others:
        who = "the other student is" if others == 1 else f"the {others} others are"
        text += (f" ({who} not in it; over all {s.students} rows of the CSV, "
                 f"where they count 0: {s.mean_all:.2f})")
    return text + "."


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


def _md_table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table of ``rows`` (every cell escaped), or "None." without rows."""
    if not rows:
        return ["None."]
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows])


def render_markdown(summary: ClassSummary) -> str:
    s = summary
    lines = [f"# Class report: {_md(s.title)}", "", counts_sentence(s), "", mean_sentence(s), "",
             "## Most common mistakes", "",
             "Each mistake once, whichever function showed it, counted by students (most common "
             "first); the per-function detail is below.", ""]
    lines += _md_table(("students", "mistake", "functions", "who"),
                       [(len(k.students), k.text, ", ".join(k.functions),
                         ", ".join(_names(k.students))) for k in s.mistakes[:_TOP]])
    lines += ["", "## Failures other than mistakes (hangs, crashes, memory, load, imports)", ""]
    lines += _md_table(("student", "what happened"), s.failures)
    lines += ["", "## Per function", "",
              "| function | pass rate | mean | " + " | ".join(b for b, _ in BINS) + " |",
              "|---|---|---|" + "---|" * len(BINS)]
    for f in s.functions:
        lines.append(f"| {_md(f.name)} | {_pct(f.pass_rate)} | {f.mean:.2f} / {f.max_score:g} | "
                     + " | ".join(str(n) for n in f.bins()) + " |")
    lines.append("")
    lines.append("Pass rate: the students with all of the function's points, among those graded; "
                 "the last columns count students by the share of the function's points they got.")
    for heading, groups in (("Diagnoses per function", s.diagnoses),
                            ("Recurring problems (imports, NumPy, skipped code)", s.problems),
                            ("Accepted alternative conventions", s.accepted)):
        lines += ["", f"## {heading}", ""]
        lines += _md_table(("count", "what", "students"),
                           [(f"{len(students)} {'student' if len(students) == 1 else 'students'}",
                             text, ", ".join(_names(students))) for text, students in groups])
    lines += ["", "## Submissions that could not be graded", ""]
    lines += _md_table(("student", "status", "why"), s.ungradable)
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


def _histogram(summary: ClassSummary) -> str:
    """An inline SVG histogram of the graded students' scores, in tenths of the maximum."""
    scores = [r.score / r.max_score if r.max_score else 1.0 for r in summary.rows
              if r.status == "graded"]
    bins = [0] * _HIST_BINS
    for f in scores:
        bins[min(_HIST_BINS - 1, max(0, int(f * _HIST_BINS)))] += 1
    top = max(bins) or 1
    width, height, bar = 520, 180, 46
    parts = [f'<svg id="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height + 55}" role="img" aria-label="histogram of the scores">']
    for i, n in enumerate(bins):
        h = round(height * n / top)
        x = 10 + i * (bar + 4)
        parts.append(f'<rect class="bin" data-count="{n}" x="{x}" y="{height - h + 25}" '
                     f'width="{bar}" height="{h}" fill="#4c72b0"><title>{10 * i}–'
                     f'{10 * (i + 1)}%: {n}</title></rect>')
        parts.append(f'<text x="{x + bar / 2}" y="{height + 40}" font-size="11" '
                     f'text-anchor="middle">{10 * i}–{10 * (i + 1)}%</text>')
        if n:
            parts.append(f'<text x="{x + bar / 2}" y="{height - h + 20}" font-size="12" '
                         f'text-anchor="middle">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


_SORT_SCRIPT = """<script>
document.querySelectorAll("table.sortable th").forEach(function (th, column) {
  th.style.cursor = "pointer";
  th.title = "sort by this column";
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var up = th.getAttribute("data-sorted") !== "up";
    table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("data-sorted"); });
    th.setAttribute("data-sorted", up ? "up" : "down");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].getAttribute("data-value") || a.cells[column].textContent;
      var y = b.cells[column].getAttribute("data-value") || b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return up ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
var wanted = /^#sort=(-?)(.+)$/.exec(location.hash);
if (wanted) {
  document.querySelectorAll("table.sortable th").forEach(function (th) {
    if (th.textContent === decodeURIComponent(wanted[2])) {
      th.click();
      if (wanted[1]) { th.click(); }
    }
  });
}
document.body.setAttribute("data-sortable", "ready");
</script>"""


def _html_table(head: Sequence[str], rows: Sequence[Sequence[object]],
                table_id: str | None = None) -> list[str]:
    """An HTML table of ``rows`` (every cell escaped; numbers right-aligned), or "None."."""
    if not rows:
        return ["<p>None.</p>"]
    e = html.escape
    opening = f'<table id="{e(table_id)}">' if table_id else "<table>"
    out = [opening + "<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
           + "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td class="num">{cell}</td>' if isinstance(cell, int)
                                    else f"<td>{e(str(cell))}</td>" for cell in row) + "</tr>")
    out.append("</tbody></table>")
    return out


def render_html(summary: ClassSummary, reports_href: str | None = None) -> str:
    """The HTML page; ``reports_href``: the folder of the per-student JSON reports, relative to
    the page (``gradebook_reports``), for the links of the per-student table."""
    from urllib.parse import quote

    s = summary

    def e(text: object) -> str:     # escaped, with control and bidi characters shown
        return html.escape(printable(str(text)))
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Class report: {e(s.title)}</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:2em auto}"
             "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;"
             "padding:.2em .5em;vertical-align:top}th{background:#eef}"
             "td.num{text-align:right}tr.not-loadable,tr.invalid,tr.error{background:#fee}"
             "</style></head><body>",
             f"<h1>Class report: {e(s.title)}</h1>",
             f'<p id="counts">{e(counts_sentence(s))}</p>',
             f'<p id="mean">{e(mean_sentence(s))}</p>',
             "<h2>Scores</h2>", _histogram(s),
             "<p>Graded students by their share of the points.</p>",
             "<h2>Most common mistakes</h2>"]
    parts += _html_table(("students", "mistake", "functions", "who"),
                         [(len(k.students), k.text, ", ".join(k.functions),
                           ", ".join(_names(k.students))) for k in s.mistakes[:_TOP]], "mistakes")
    parts.append("<h2>Failures other than mistakes (hangs, crashes, memory, load, imports)</h2>")
    parts += _html_table(("student", "what happened"), s.failures, "failures")
    names = [f.name for f in s.functions]
    parts.append("<h2>Students</h2><p>Click a column's heading to sort by it (again: the other "
                 "way round); a link to this page ending in <code>#sort=-score</code> opens it "
                 "sorted by score, highest first.</p>")
    parts.append('<table id="students" class="sortable"><thead><tr><th>student</th>'
                 "<th>status</th><th>score</th>" + "".join(f"<th>{e(n)}</th>" for n in names)
                 + "<th>error</th></tr></thead><tbody>")
    for r in s.rows:
        who = e(r.student)
        if reports_href is not None:
            # a file name that is not UTF-8 keeps its bytes (surrogates) in the link
            href = "/".join(quote(part.encode("utf-8", "surrogateescape"))
                            for part in (reports_href, r.student + ".json"))
            who = f'<a href="{e(href)}">{who}</a>'
        cells = "".join(f'<td class="num" data-value="{r.functions[n]:g}">{r.functions[n]:g}</td>'
                        if n in r.functions else '<td data-value="-1"></td>' for n in names)
        parts.append(f'<tr class="{e(r.status)}"><td data-value="{e(r.student)}">{who}</td>'
                     f"<td>{e(r.status)}</td>"
                     f'<td class="num" data-value="{r.score:g}">{r.score:g} / {r.max_score:g}</td>'
                     f"{cells}<td>{e(r.error)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2>Per function</h2>")
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
    for heading, groups in (("Diagnoses per function", s.diagnoses),
                            ("Recurring problems (imports, NumPy, skipped code)", s.problems),
                            ("Accepted alternative conventions", s.accepted)):
        parts.append(f"<h2>{e(heading)}</h2>")
        parts += _html_table(("count", "what", "students"),
                             [(len(students), text, ", ".join(_names(students)))
                              for text, students in groups])
    parts.append("<h2>Submissions that could not be graded</h2>")
    parts += _html_table(("student", "status", "why"), s.ungradable)
    parts.append(_SORT_SCRIPT)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
