"""The wording of the findings: the sentences a student reads.

Small text helpers (lists of names "dW1, dW2 and dW3", layer ranges "layers 1–3", verb
agreement, numbers, braces escaped for the ``{what}``/``{is}`` templates of
:class:`~gradref.checks.diagnosis.recognisers._Obs`), the causes of the named factors (m, 1/m,
2, ½), the meaning of an expected shape, and the sentences that name a candidate mistake
(:func:`_hyp_sentence`) and the other candidates that fit equally well (:func:`_alternatives`,
at most ``MAX_ALTERNATIVES`` of them). Nothing here computes or compares arrays.
"""

from __future__ import annotations

import math

from gradref.reference.activations import get_activation

from .candidates import NOTATION
from .findings import _parse, _sort_key
from .replay import _Hypothesis

__all__ = [
    "MAX_ALTERNATIVES", "_join", "_layers", "_verbs", "_fmt", "_ratio", "_index", "_esc",
    "_m_note", "_factor_text", "_shape_meaning", "_hyp_sentence", "_alternatives",
    "_right_phrase",
]


def _join(names) -> str:
    names = list(names)
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _layers(ls) -> str:
    ls = sorted(set(ls))
    if len(ls) == 1:
        return f"layer {ls[0]}"
    if ls == list(range(ls[0], ls[-1] + 1)):
        return f"layers {ls[0]}–{ls[-1]}"
    return "layers " + _join(str(l) for l in ls)


def _verbs(n: int) -> dict[str, str]:
    one = n == 1
    return {"is": "is" if one else "are", "has": "has" if one else "have",
            "matches": "matches" if one else "match", "it": "it" if one else "them",
            "s": "s" if one else ""}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _ratio(r: float) -> str:
    """A ratio with enough digits to show how far it is from 1 (1.0001, 0.99999994)."""
    gap = abs(r - 1.0)
    digits = 6 if gap == 0 or gap >= 1e-4 else min(17, int(-math.log10(gap)) + 3)
    return f"{r:.{digits}g}"


def _index(name: str, idx: tuple) -> str:
    return name if not idx else f"{name}[{','.join(str(int(i)) for i in idx)}]"


def _esc(text: str) -> str:
    """Protect literal braces from the {what}/{is} template formatting."""
    return text.replace("{", "{{").replace("}", "}}")


# --------------------------------------------------------------------------- factors and shapes
def _m_note(m: int | None) -> str:
    if m == 1:
        return ("; note that with m = 1 a missing or doubled 1/m cannot show at all: check "
                "with m > 1 to rule it out")
    return ""


def _factor_text(kind: str, role: str, m: int | None, r: float) -> str:
    """The cause of a named factor, completing "{what} {is} …"."""
    if kind == "times_m":
        if role == "inter":
            return (f"m = {m} times too large: dZ and dA are per-example gradients, "
                    f"yet something multiplied {{it}} by m")
        return f"m = {m} times too large: the 1/m averaging is missing"
    if kind == "over_m":
        if role == "inter":
            return (f"m = {m} times too small: dZ and dA are per-example gradients, the 1/m "
                    f"belongs only in dW and db")
        return f"m = {m} times too small: divided by m twice"
    if kind == "times_2":
        return ("2 times too large: an extra factor 2, e.g. the square-loss derivative "
                "2(a − y) used for the half-square cost ½(a − y)²")
    if kind == "half":
        return ("half the expected value: a factor 2 is missing, e.g. the derivative of the "
                "square loss (a − y)² is 2(a − y), not a − y")
    if kind == "m_or_2":
        if r > 1:
            return ("2 times too large, and with m = 2 this is ambiguous: either the 1/m "
                    "averaging is missing or there is an extra factor 2 (square versus "
                    "half-square loss); run with another m to tell them apart")
        return ("half the expected value, and with m = 2 this is ambiguous: either it was "
                "divided by m twice or a factor 2 is missing (square versus half-square loss); "
                "run with another m to tell them apart")
    raise AssertionError(kind)


def _shape_meaning(name: str, shape: tuple) -> str:
    parsed = _parse(name)
    if parsed is None:
        return ""
    p, l = parsed
    return {"W": f" = (n_{l}, n_{l - 1}), the shape of W{l}",
            "b": f" = (n_{l}, 1), the shape of b{l}",
            "Z": f" = (n_{l}, m), the shape of Z{l}",
            "A": f" = (n_{l}, m), the shape of A{l}"}[p]


# --------------------------------------------------------------------------- candidate mistakes
def _hyp_text(h: _Hypothesis, layers: tuple[int, ...]) -> tuple[str, str, str]:
    """The hypothesis' wrong/right/explanation texts for its origin layers."""
    if len(layers) == 1:
        fill = {"l": str(layers[0]), "p": str(layers[0] - 1)}
    else:
        fill = {"l": "", "p": "_prev"}
    return (h.wrong.format(**fill), h.right.format(**fill), h.explanation.format(**fill))


def _subject(h: _Hypothesis, keys) -> list[str]:
    """The analytic keys a hypothesis is described by (dZ if present, else dW and db)."""
    keys = set(keys)
    out = []
    for l in sorted(h.origin, reverse=True):
        if h.kind in ("a_prev", "l2_missing", "l2_wrong"):
            out += [f"dW{l}"]
        elif h.kind in ("bias", "l2_bias"):
            out += [f"db{l}"]
        elif f"dZ{l}" in keys:
            out += [f"dZ{l}"]
        else:
            out += [k for k in (f"dW{l}", f"db{l}") if k in keys]
    return [k for k in out if k in keys] or sorted(keys, key=_sort_key)[:1]


def _hyp_sentence(h: _Hypothesis, keys, single: str | None = None,
                  subject: list[str] | None = None) -> str:
    wrong, right, expl = _hyp_text(h, h.origin)
    if h.kind == "dA_prev":
        l = ",".join(str(o) for o in h.origin)
        prev = f"dA{h.origin[0] - 1}" if len(h.origin) == 1 else "dA_prev"
        where = f"in layer {l}" if len(h.origin) == 1 else f"in {_layers(h.origin)}"
        return (f"{prev} is computed as {wrong} instead of {right} {where} ({expl}): look at "
                f"how dA_prev is passed back")
    if subject is None:
        subject = [single] if single else _subject(h, keys)
    v = _verbs(len(subject))
    if h.kind == "activation_derivative" and h.id == "a_minus_y_as_da":
        return (f"{_join(subject)} {v['matches']} {wrong} followed by the {h.act} derivative "
                f"instead of {right}: {expl}")
    if h.kind == "activation_derivative":
        note = NOTATION.get(get_activation(h.act).name, "").format(
            l=str(h.origin[0]) if len(h.origin) == 1 else "")
        return (f"{_join(subject)} {v['matches']} {wrong} instead of {right} as the {h.act} "
                f"derivative in {_layers(h.origin)}{note}: {expl}")
    if h.kind == "loss_derivative":
        return (f"{_join(subject)} {v['matches']} the output gradient dA{h.origin[0]} = {wrong} "
                f"instead of {right}: {expl}")
    if h.kind in ("dropout", "normalization"):
        step = "dropout" if h.kind == "dropout" else "normalisation"
        return (f"{_join(subject)} {v['matches']} {wrong} instead of {right} as the {step} "
                f"backward in {_layers(h.origin)}: {expl}")
    return f"{_join(subject)} {v['matches']} {wrong} instead of {right}: {expl}"


#: How many other candidates that fit equally well a message mentions.
MAX_ALTERNATIVES = 2


def _alternatives(first: _Hypothesis, others: list[_Hypothesis]) -> str:
    """" It fits equally well: …" for candidates that give the same numbers here."""
    seen, texts = {first.id}, []
    for h in others:
        if h.id in seen:
            continue
        seen.add(h.id)
        wrong, _, expl = _hyp_text(h, h.origin)
        texts.append(f"{wrong} ({expl})")
        if len(texts) == MAX_ALTERNATIVES:
            break
    return " It fits equally well: " + "; or ".join(texts) + "." if texts else ""


def _right_phrase(layers: list[int], keys) -> str:
    if len(layers) == 1:
        names = [k for k in (f"dW{layers[0]}", f"db{layers[0]}") if k in keys]
        if names:
            return f"{_join(names)} {'is' if len(names) == 1 else 'are'} right"
    return f"{_layers(layers)} {'is' if len(layers) == 1 else 'are'} right"
