"""The grade report and its renderers: plain text, JSON, Gradescope's results.json, JUnit XML.

:class:`GradeReport` holds the score, the time taken, a summary and one :class:`TestResult` per
check (named ``"<function>: <check>"``). :func:`render` turns it into one of :data:`FORMATS`:

``text``
    for a terminal: the summary, then each function with its checks, failures explained.
``json``
    ``GradeReport.to_dict()``: everything, including the assignment name and the seed.
``gradescope``
    Gradescope's autograder ``results.json``: top-level ``score``, ``max_score``,
    ``execution_time``, ``output`` and ``tests``, each test with ``name``, ``score``,
    ``max_score``, ``status`` ("passed"/"failed"), ``output`` and ``visibility``.
``junit``
    JUnit XML (``testsuites`` > ``testsuite`` > ``testcase`` with ``failure``), for CI systems.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field

from .textsafe import printable

__all__ = ["TestResult", "GradeReport", "FORMATS", "render", "GRADESCOPE_TEST_FIELDS",
           "GRADESCOPE_FIELDS", "printable"]

#: Fields of the top level of Gradescope's results.json that we write.
GRADESCOPE_FIELDS = ("score", "max_score", "execution_time", "output", "tests")
#: Fields of each test in Gradescope's results.json that we write.
GRADESCOPE_TEST_FIELDS = ("name", "score", "max_score", "status", "output", "visibility")

STATUSES = ("passed", "failed")


@dataclass
class TestResult:
    """One graded check. ``name`` starts with the graded function's name."""

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    status: str
    output: str = ""
    visibility: str = "visible"

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be 'passed' or 'failed', got {self.status!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GradeReport:
    """The result of grading one submission against one assignment."""

    score: float
    max_score: float
    execution_time: float
    output: str
    tests: list[TestResult] = field(default_factory=list)
    assignment: str = ""
    submission: str = ""
    seed: int = 0
    problems: list[str] = field(default_factory=list)   # failed imports, NumPy drift, load errors
    #: the isolation level the submission ran behind (namespaces, uid, none) and its report line
    isolation: str = ""
    isolation_detail: str = ""

    def to_dict(self) -> dict:
        return {"score": self.score, "max_score": self.max_score,
                "execution_time": self.execution_time, "output": self.output,
                "assignment": self.assignment, "submission": self.submission, "seed": self.seed,
                "problems": list(self.problems), "isolation": self.isolation,
                "isolation_detail": self.isolation_detail, "tests": [t.to_dict() for t in self.tests]}

    @property
    def failed(self) -> list[TestResult]:
        return [t for t in self.tests if t.status == "failed"]


def _fmt(x: float) -> str:
    return f"{x:g}"


def _isolation_line(report: GradeReport) -> str:
    return report.isolation_detail or (f"isolation: {report.isolation}" if report.isolation else "")


def _text(report: GradeReport) -> str:
    return printable(_plain_text(report))


def _plain_text(report: GradeReport) -> str:
    lines = [report.output.rstrip(), ""]
    current = None
    for t in report.tests:
        function, _, check = t.name.partition(": ")
        if function != current:
            current = function
            lines.append(function)
        mark = "PASS" if t.status == "passed" else "FAIL"
        lines.append(f"  [{mark}] {check}  ({_fmt(t.score)}/{_fmt(t.max_score)})")
        if t.status == "failed" and t.output:
            lines.extend("         " + line if line else "" for line in t.output.splitlines())
    if _isolation_line(report):
        lines += ["", _isolation_line(report)]
    return "\n".join(lines).rstrip() + "\n"


def _json(report: GradeReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _gradescope(report: GradeReport) -> str:
    output = "\n\n".join(part for part in (report.output.rstrip(), _isolation_line(report)) if part)
    tests = [{k: getattr(t, k) for k in GRADESCOPE_TEST_FIELDS} for t in report.tests]
    for test in tests:
        test["output"] = printable(test["output"])
    data = {"score": report.score, "max_score": report.max_score,
            "execution_time": round(report.execution_time, 3), "output": printable(output),
            "tests": tests}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    """Text with the characters XML 1.0 cannot carry (control characters…) replaced by '?'."""
    return _XML_BAD.sub("?", printable(text))


def _junit(report: GradeReport) -> str:
    failures = len(report.failed)
    root = ET.Element("testsuites", name=report.assignment or "grading",
                      tests=str(len(report.tests)), failures=str(failures), errors="0",
                      time=f"{report.execution_time:.3f}")
    suite = ET.SubElement(root, "testsuite", name=report.assignment or "grading",
                          tests=str(len(report.tests)), failures=str(failures), errors="0",
                          skipped="0", time=f"{report.execution_time:.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in (("score", _fmt(report.score)), ("max_score", _fmt(report.max_score)),
                       ("submission", report.submission), ("seed", str(report.seed))):
        ET.SubElement(props, "property", name=key, value=_xml(value))
    for t in report.tests:
        function, _, check = t.name.partition(": ")
        case = ET.SubElement(suite, "testcase", classname=_xml(function), name=_xml(t.name),
                             time="0")
        if t.status == "failed":
            first = t.output.strip().splitlines()[0] if t.output.strip() else "failed"
            failure = ET.SubElement(case, "failure", message=_xml(first),
                                    type=f"lost {_fmt(t.max_score - t.score)} of "
                                         f"{_fmt(t.max_score)} points")
            failure.text = _xml(t.output)
    out = ET.SubElement(suite, "system-out")
    out.text = _xml(report.output)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


#: fmt -> renderer
FORMATS = {"text": _text, "json": _json, "gradescope": _gradescope, "junit": _junit}


def render(report: GradeReport, fmt: str = "text") -> str:
    """``report`` as a string in one of :data:`FORMATS` ("text", "json", "gradescope", "junit")."""
    if not isinstance(report, GradeReport):
        raise TypeError(f"report must be a GradeReport, got {type(report).__name__}")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return FORMATS[fmt](report)
