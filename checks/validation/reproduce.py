"""One command line that reproduces one case of a report: ``gradref validate … --case K``.

The cases are seeded (case K of seed S is the same draw for the same settings), so the line is
the target as given, every setting that is not its default, ``--seed S`` and ``--case K``
(:func:`command_line`). ``--case K`` runs that case alone (:func:`add_arguments`).
"""

from __future__ import annotations

import shlex

__all__ = ["add_arguments", "command_line", "first_case"]

_SKIP = {"cases", "shrink", "first_case", "activations", "hidden", "outputs", "losses",
         "layers", "seed", "random_architectures", "per_example", "same_width", "one_hidden",
         "pairs", "data"}


def add_arguments(p) -> None:
    from gradref.reference.argtypes import int_at_least

    p.add_argument("--case", type=int_at_least(1), metavar="K",
                   help="run case K alone (as numbered in a report of the same options and "
                        "seed): the reproduction line of a report ends with it")


def first_case(args) -> dict:
    """Settings keywords of ``--case K``."""
    if getattr(args, "case", None) is None:
        return {}
    return {"first_case": args.case - 1}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def command_line(report, index) -> str | None:
    """``gradref validate …`` for case ``index`` of ``report``; None without a known target."""
    argv = getattr(report, "target_argv", None)
    if not argv:
        return None
    s = report.settings
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(s)}
    out = ["gradref", "validate", *argv]
    if s.random_architectures:
        out.append("--random-architectures")
        if s.hidden is not None:
            out += ["--hidden", ",".join(s.hidden)]
        out += ["--output", ",".join(s.output_pool())]
    else:
        out += ["--layers", ",".join(map(str, s.layers)), "--activations",
                ",".join(s.activations)]
    out += ["--loss", ",".join(s.losses)]
    for name in defaults:
        if name in _SKIP:
            continue
        value = getattr(s, name)
        if value == defaults[name] or value is None:
            continue
        out += [_flag(name), f"{value:g}" if isinstance(value, float) else str(value)]
    for name, flag in (("per_example", "--per-example"), ("same_width", "--same-width"),
                       ("one_hidden", "--one-hidden-activation")):
        if getattr(s, name, False):
            out.append(flag)
    if getattr(s, "pairs", None):
        out += ["--pairs", ",".join(f"{a}:{x}" for a, x in s.pairs)]
    if tuple(s.data) != tuple(defaults["data"]):
        out += ["--data", ",".join(s.data)]
    out += ["--seed", str(s.seed), "--case", str(int(str(index).split()[0]))]
    return shlex.join(out)
