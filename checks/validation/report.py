"""Rendering of a :class:`gradref.checks.validation.ValidationReport` as text, JSON or JUnit XML.

Text: the settings and conventions, how answers were read (list orders, float32, kink
conventions), per-parameter summaries, one line per case with its data family (a repeated
error is printed once, with the number of cases it occurred in), the smallest failing case
with its diagnosis, costs with their ratio to the reference's, and the forward analysis.
JSON (format ``"gradref-validate/1"``; NaN and infinities become ``null``): the settings, the
verdict and exit code, per-parameter summaries, every case (status match, mismatch, skipped or
error; data family; per-array verdicts, findings, errors), the smallest failing case with its
inputs, expected and returned gradients (in the implementation's layout, as gradients of the
mean cost), and the forward analysis. JUnit: one ``testcase`` per case and gradient array
(classname ``gradref.validate.caseK``), a ``failure`` carrying the diagnosis, an ``error`` for a
case without an answer, ``skipped`` for an unsupported one.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

from .reproduce import command_line

__all__ = ["REPORT_FORMAT", "render", "to_text", "to_json", "to_junit"]

REPORT_FORMAT = "gradref-validate/1"


def render(report, fmt: str = "text") -> str:
    """``report`` as ``"text"``, ``"json"`` or ``"junit"``."""
    try:
        return {"text": to_text, "json": to_json, "junit": to_junit}[fmt](report)
    except KeyError:
        raise ValueError(f"fmt must be text, json or junit, got {fmt!r}") from None


def _net(d: dict) -> str:
    return (f"{d['layer_sizes']} {','.join(d['activations'])}, loss {d['loss']}"
            + (f", λ = {d['l2']:g}" if d["l2"] else ""))


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def to_text(report) -> str:
    s = report.settings
    lines = [f"gradref validate: {report.target}"]
    if s.random_architectures:
        lines.append(f"  random architectures: up to {s.max_depth or 3} layers of up to "
                     f"{s.max_width or 5} units; hidden {','.join(s.hidden_pool()) or '-'}, "
                     f"output {','.join(s.output_pool())}; losses {','.join(s.losses)}"
                     + (f", λ = {s.l2:g}" if s.l2 else ""))
    else:
        lines.append(f"  network {list(s.layers)} {','.join(s.activations)}, loss "
                     f"{s.losses[0]}" + (f", λ = {s.l2:g}" if s.l2 else ""))
    tolerance = "the checker's tolerances" if s.rtol is None else f"rtol {s.rtol:g}"
    lines.append(f"  {s.conventions()}")
    lines.append(f"  {s.cases} cases (data {','.join(s.data)}), seed {s.seed}, {tolerance}")
    if getattr(report, "isolation", ""):
        lines.append(f"  {report.isolation}")
    readings = sorted({c.reading for c in report.cases if c.reading})
    for reading in readings:
        lines.append(f"  answers read as {reading}")
    for kinks in sorted({c.kinks for c in report.cases if c.kinks}):
        lines.append(f"  accepted: {kinks}")
    if any(c.dtype != "float64" for c in report.ran):
        lines.append(f"  answers in {', '.join(sorted({c.dtype for c in report.ran}))}: "
                     f"compared with that precision's tolerances")
    if report.error:
        lines += ["", "could not run:", _indent(report.error, "  ")]
        lines += ["", report.summary()]
        return "\n".join(lines) + "\n"
    params = report.parameter_summary()
    if params:
        lines += ["", f"per parameter ({len(report.ran)} cases with an answer):"]
        width = max(5, *(len(row["name"]) for row in params))   # dgamma1 is wider than dW1
        for row in params:
            total = row["ok"] + row["wrong"]
            state = "ok   " if not row["wrong"] else "WRONG"
            extra = f" ({', '.join(row['problems'])})" if row["problems"] else ""
            worst = (f", worst relative error {row['worst']:.1e}"
                     if row["worst"] is not None else "")
            lines.append(f"  {row['name']:<{width}} {state} right in {row['ok']}/{total}"
                         f"{worst}{extra}")
    lines += ["", "cases:"]
    seen: dict[str, list] = {}
    for c in report.cases:
        if c.status == "error":
            seen.setdefault(c.error, []).append(c.index)
    for c in report.cases:
        head = f"  case {c.index} ({c.data} data): m = {c.m}, {_net(c.network)}"
        if c.status == "match":
            lines.append(f"{head}: match ({c.seconds * 1e3:.1f} ms)")
        elif c.status == "mismatch":
            what = ", ".join(c.failing) or "the cost"
            lines.append(f"{head}: MISMATCH in {what}")
            if (line := command_line(report, c.index)) is not None:
                lines.append(f"      reproduce: {line}")
        elif c.status == "skipped":
            lines.append(f"{head}: skipped, unsupported by the implementation"
                         + (f" ({c.error})" if c.error else ""))
        else:
            where = seen[c.error]
            if where[0] != c.index:
                lines.append(f"{head}: ERROR, the same as case {where[0]}")
                continue
            times = f" (the same in {len(where)} cases)" if len(where) > 1 else ""
            lines.append(f"{head}: ERROR{times}")
            lines.append(_indent(c.error, "      "))
        if c.cost is not None and not c.cost["ok"]:
            lines.append(f"      {_cost_text(c.cost)}")
    if report.smallest is not None:
        c = report.smallest
        lines += ["", f"smallest failing case (from case {str(c.index).split()[0]}, "
                      f"{report.shrink_tries} smaller variants tried; {c.data} data): m = {c.m}, "
                      f"{_net(c.network)}"]
        width = max(5, *(len(a.name) for a in c.arrays)) if c.arrays else 5
        for a in c.arrays:
            lines.append(f"  {a.name:<{width}} {'ok   ' if a.ok else 'WRONG'} {a.describe()}")
        if c.cost is not None:
            lines.append(f"  J     {'ok   ' if c.cost['ok'] else 'WRONG'} "
                         f"{_cost_text(c.cost)}")
        if c.findings:
            lines.append("  diagnosis:")
            lines += [_indent(f"- {f}", "    ") for f in c.findings]
    if report.forward is not None:
        f = report.forward
        lines += ["", f"forward {f.description}:"]
        unstable = [x for x in f.cost_cases if x.get("unstable")]
        if unstable:
            lines.append(f"  its cost is not finite on {len(unstable)} case(s) ("
                         + ", ".join(f"case {x['case']}, {x['data']} data" for x in unstable)
                         + "): a log of 0 or an overflow where the units saturate; compute the "
                           "loss from the logits (left out of the verdict below)")
        costs = [x for x in f.cost_cases if "ok" in x and not x.get("unstable")]
        if costs:
            good = sum(x["ok"] for x in costs)
            lines.append(f"  its cost matches the reference on {good}/{len(costs)} cases")
            for x in [x for x in costs if not x["ok"]][:3]:
                lines.append(f"    case {x['case']}: {_cost_text(x)}")
        if f.consistent is not None:
            marks = ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in f.consistent.items())
            lines.append(f"  your backward agrees with finite differences of your forward "
                         f"(smallest failing case): {marks}")
        if f.error:
            lines.append(_indent(f"error: {f.error}", "  "))
        if f.verdict:
            lines.append(f"  => {f.verdict}")
    if report.layout_hint:
        lines += ["", report.layout_hint]
    lines += ["", f"{report.summary()} ({report.seconds:.2f} s)"]
    return "\n".join(lines) + "\n"


def _cost_text(cost: dict) -> str:
    """``J = got, reference expected (ratio r)``: the values and their ratio."""
    got, expected = cost["got"], cost["expected"]
    if not math.isfinite(got):
        return (f"J = {got!r}, reference {expected!r}: not finite (a log of 0 or an overflow "
                f"where the units saturate? compute the loss from the logits)")
    ratio = f", ratio {got / expected:.6g}" if expected else ""
    return f"J = {got!r}, reference {expected!r}{ratio}"


def to_json(report) -> str:
    out = {
        "format": REPORT_FORMAT,
        "target": report.target,
        "settings": report.settings.describe(),
        "exit_code": report.exit_code,
        "summary": report.summary(),
        "error": report.error or None,
        "isolation": getattr(report, "isolation", "") or None,
        "hint": report.layout_hint or None,
        "parameters": report.parameter_summary(),
        "cases": [{**c.to_json(), "binding": c.reading or None,
                   "conventions": report.settings.conventions(),
                   "reproduce": command_line(report, c.index)} for c in report.cases],
        "smallest_failing_case": (report.smallest.to_json(arrays=True,
                                                          settings=report.settings)
                                  if report.smallest is not None else None),
        "shrink_tries": report.shrink_tries,
        "forward": report.forward.to_json() if report.forward is not None else None,
        "instability": report.instability,
        "seconds": report.seconds,
    }
    return json.dumps(_clean(out), indent=1, allow_nan=False) + "\n"


def _clean(obj):
    """The tree with NaN and ±inf replaced by null (JSON has no such numbers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _case_message(c) -> str:
    return "\n".join(c.findings) or "gradients differ from the reference"


def to_junit(report) -> str:
    suite = ET.Element("testsuite", name="gradref.validate")
    tests = failures = errors = 0
    if report.error:
        case = ET.SubElement(suite, "testcase", classname="gradref.validate", name="load")
        ET.SubElement(case, "error", message=report.error.splitlines()[0]).text = report.error
        tests, errors = 1, 1
    for c in report.cases:
        classname = f"gradref.validate.case{c.index}"
        if c.status == "skipped":
            tc = ET.SubElement(suite, "testcase", classname=classname, name="run")
            ET.SubElement(tc, "skipped", message=c.error or "unsupported")
            tests += 1
            continue
        if c.status == "error":
            tc = ET.SubElement(suite, "testcase", classname=classname, name="run",
                               time=f"{c.seconds:.6f}")
            ET.SubElement(tc, "error", message=c.error.splitlines()[0]).text = c.error
            tests, errors = tests + 1, errors + 1
            continue
        for a in c.arrays:
            tc = ET.SubElement(suite, "testcase", classname=classname, name=a.name,
                               time=f"{c.seconds / max(len(c.arrays), 1):.6f}")
            tests += 1
            if not a.ok:
                failures += 1
                ET.SubElement(tc, "failure", message=f"{a.name}: {a.describe()}").text = (
                    f"m = {c.m}, {_net(c.network)}\n{_case_message(c)}")
        if c.cost is not None:
            tc = ET.SubElement(suite, "testcase", classname=classname, name="J")
            tests += 1
            if not c.cost["ok"]:
                failures += 1
                ET.SubElement(tc, "failure", message=f"cost {c.cost['got']!r}, reference "
                                                      f"{c.cost['expected']!r}")
    if report.forward is not None:
        f = report.forward
        tc = ET.SubElement(suite, "testcase", classname="gradref.validate.forward",
                           name="cost")
        tests += 1
        if f.error:
            errors += 1
            ET.SubElement(tc, "error", message=f.error.splitlines()[0]).text = f.error
        elif f.cost_matches is False or (f.verdict and report.exit_code != 0):
            failures += 1
            ET.SubElement(tc, "failure", message=f.verdict)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(sum(c.status == "skipped" for c in report.cases)))
    suite.set("time", f"{report.seconds:.3f}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
