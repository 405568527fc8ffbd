"""Text a submission controls, made safe for the reports it lands in.

A submission chooses its exception messages, tracebacks, printed output and file names; all of
them end up in reports a student, a TA or an instructor reads. This one module decides how such
text is shown, so that no renderer forgets a case:

* :func:`printable`: every control character but newline and tab as ``\\xNN`` (no cursor moves,
  colours or overwritten lines in a terminal) and every bidirectional control (U+202A-U+202E,
  U+2066-U+2069, U+200E/U+200F, U+061C) as ``<U+202E>``, so text cannot be reordered to look
  like something else;
* :func:`one_line`: :func:`printable` on one line, each line break shown as ``⏎``: a message
  can then never start a line of the report of its own ("Step by step: 100 / 100 points.");
* :func:`quoted`: several lines of a submission's text (a traceback), each :func:`printable`
  and prefixed with :data:`QUOTE` so that none of them can pass for a report line;
* :func:`markdown`: one line of inline Markdown (a table cell) that renders as the literal text:
  no image, link, autolink, HTML, emphasis, code span, heading or table cell of its own.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

__all__ = ["printable", "one_line", "quoted", "markdown", "QUOTE", "BIDI_CONTROLS", "NEWLINE_MARK"]

#: The bidirectional formatting characters, shown as ``<U+XXXX>`` wherever a submission's text goes.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
#: What a line break inside a one-line message is shown as.
NEWLINE_MARK = " \u23ce "
#: The prefix of every line of a submission's own multi-line text (a traceback) in a report.
QUOTE = "  | "

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_BREAKS = re.compile("\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
#: What makes inline (GitHub-flavoured) Markdown out of plain text, each made literal by a
#: backslash: the escape itself, code spans, emphasis and strike-through (``_`` only where it is
#: not inside a word: ``dnn_utils`` stays as it is), table cells, @mentions and e-mail links, an
#: image's ``!`` and a link's ``](``, and the autolinks ``http://…`` and ``www.…``.
_MD_SPECIAL = re.compile(r"[\\`*~|@]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|!(?=\[)|(?<=\])\(|:(?=//)"
                         r"|(?i:(?<=www)\.)")


def printable(text: str) -> str:
    """``text`` with control characters (but newline and tab) as ``\\xNN`` and bidirectional
    controls as ``<U+XXXX>``."""
    text = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", str(text))
    return _BIDI.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


def one_line(text: object, limit: int | None = None) -> str:
    """``text`` as one printable line: line breaks as :data:`NEWLINE_MARK`, tabs as spaces,
    cut to ``limit`` characters (with ``…``) when given."""
    text = _BREAKS.sub(NEWLINE_MARK, str(text).strip()).replace("\t", " ")
    text = printable(text)
    if limit is not None and len(text) > limit:
        text = text[:max(limit - 1, 0)] + "…"
    return text


def quoted(lines: Iterable[str]) -> list[str]:
    """Each of ``lines`` (a submission's own text) printable and prefixed with :data:`QUOTE`;
    a line holding line breaks of its own becomes several quoted lines."""
    out = []
    for line in lines:
        out += [QUOTE + printable(part).replace("\t", " ").rstrip()
                for part in _BREAKS.split(str(line))]
    return out


def markdown(text: object) -> str:
    """``text`` as inline Markdown that renders as itself, on one line (a table cell too)."""
    text = " ".join(one_line(text).split())
    text = _MD_SPECIAL.sub(lambda match: "\\" + match.group(), text)
    return html.escape(text, quote=False)
