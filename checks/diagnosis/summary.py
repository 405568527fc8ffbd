"""The per-array findings merged, and summarised by layer, when no candidate explains them.

Observations with the same cause are merged into one finding ("dW1, dW2 and dW3 are m = 16 times
too large") and summarised by layer ("dW3 and db3 are right, layers 1–2 are wrong: look at how
dA_prev is passed back"). Lower layers are called wrong "as a consequence" of a mistake in layer
``top`` only when layer ``top`` is seen to pass something wrong back (dW_top, or dZ_top or
dA_{top-1} when given, is wrong); a mistake in db_top alone is never passed back, so then they
have one of their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .context import _Ctx
from .findings import Finding, _layer_of
from .recognisers import _Obs
from .wording import _esc, _join, _layers, _right_phrase, _verbs

__all__ = ["_status", "_merge", "_merge_and_summarise"]


def _status(obs: Mapping[str, _Obs | None]) -> tuple[list[int], list[int]]:
    """(right layers, wrong layers) among the layer-indexed keys (dA_l counts for layer l)."""
    right, wrong = set(), set()
    for k, o in obs.items():
        l = _layer_of(k)
        if l is None or l == 0:
            continue
        (wrong if o is not None else right).add(l)
    return sorted(right - wrong), sorted(wrong)


def _finding(o: _Obs, obs) -> Finding:
    """A merged observation as a finding; "all the gradients" when it covers every wrong key."""
    wrong = [k for k, v in obs.items() if v is not None]
    if len(o.names) >= 4 and sorted(o.names) == sorted(wrong) and len(wrong) == len(obs):
        text = o.template.format(what=f"all the gradients ({_join(o.names)})", **_verbs(2))
        return Finding(tuple(o.names), o.kind, text, o.details)
    return o.finding()


def _merge(obs) -> list[_Obs]:
    """The per-array observations, those with the same cause (``merge`` key) merged."""
    merged: list[_Obs] = []
    index: dict[tuple, _Obs] = {}
    for k, o in obs.items():
        if o is None:
            continue
        if o.merge is not None and o.merge in index:
            index[o.merge].names.append(k)
            continue
        o = _Obs(o.kind, list(o.names), o.template, dict(o.details), o.merge)
        merged.append(o)
        if o.merge is not None:
            index[o.merge] = o
    return merged


#: Kinds of a dW finding that leave its dZ right (the values are right up to the named slip in
#: the array itself): such a layer passes nothing wrong back.
_LOCAL_DW_KINDS = ("l2_missing", "l2_wrong")


def _passes_back_wrong(obs, top: int) -> bool:
    """Whether layer ``top`` is seen to pass something wrong back: dW_top wrong (dW = dZ·A_prevᵀ/m
    shows dZ), or dZ_top or dA_{top-1} wrong when they are given. db is never passed back."""
    for key in (f"dW{top}", f"dZ{top}", f"dA{top - 1}"):
        o = obs.get(key)
        if o is None:
            continue
        if key.startswith("dW") and (o.kind in _LOCAL_DW_KINDS or (
                o.kind in ("transpose", "keepdims") and "then" not in o.details)):
            continue  # a slip in dW itself; its dZ is right
        return True
    return False


def _merge_and_summarise(obs, compared, ctx: _Ctx) -> list[Finding]:
    merged = _merge(obs)
    right, wrong = _status(obs)
    unexplained = [o for o in merged if o.kind == "mismatch" and _layer_of(o.names[0])]
    if not (wrong and unexplained):
        return [_finding(o, obs) for o in merged]
    top = max(wrong)
    above = [l for l in right if l > top]
    top_keys = [k for k in (f"dW{top}", f"db{top}") if k in obs]
    passing_back = (wrong == list(range(1, top + 1))
                    and all(obs[k] is not None for k in top_keys))
    if above and passing_back:
        # The upper layers are right and nothing explains the lower ones: the mistake enters on
        # the way down (dA passed back, an activation derivative, or A_prev).
        names = [n for o in unexplained for n in o.names]
        worst = max(unexplained, key=lambda o: o.details.get("relative_error") or math.inf)
        text = (f"{_right_phrase(above, obs)}, {_layers(wrong)} "
                f"{'is' if len(wrong) == 1 else 'are'} wrong: look at how dA_prev is passed back "
                f"into layer {top} (dA{top} = W{top + 1}ᵀ·dZ{top + 1}), at layer {top}'s activation "
                f"derivative and at what it uses as A_prev; an error there propagates to every "
                f"layer below")
        summary = _Obs("lower_layers", names, _esc(text), {"right_layers": right,
                                                            "wrong_layers": wrong,
                                                            "worst": worst.details}, None)
        merged = [summary] + [o for o in merged if o not in unexplained]
    else:
        below = [o for o in unexplained if _layer_of(o.names[0]) < top]
        explained_top = any(o.kind != "mismatch" and _layer_of(o.names[0]) == top
                            for o in merged)
        if below and explained_top:
            names = [n for o in below for n in o.names]
            layers = sorted({_layer_of(n) for n in names})
            are = "is" if len(layers) == 1 else "are"
            if _passes_back_wrong(obs, top):
                text = (f"{_layers(layers)} {are} wrong too, probably only as a consequence of "
                        f"the mistake in layer {top} (errors propagate backwards): fix layer "
                        f"{top} first")
                summary = _Obs("propagated", names, text, {"from_layer": top}, None)
            else:
                seen = [k for k in (f"dW{top}", f"dZ{top}", f"dA{top - 1}") if k in obs]
                why = (f"{_join(seen)} {'is' if len(seen) == 1 else 'are'} right, so what layer "
                       f"{top} passes back (dA{top - 1} = W{top}ᵀ·dZ{top}) is not affected by its "
                       f"mistake" if seen else f"nothing shows that layer {top} passes back "
                       f"anything wrong")
                unnamed = ("that no known slip explains" if ctx.model is not None else
                           "(the diagnosis needs the network, its parameters, X and Y to try to "
                           "name it)")
                text = (f"{_layers(layers)} {are} wrong too, and not as a consequence of the "
                        f"mistake in layer {top}: {why} (db is never passed back). "
                        f"{_layers(layers).capitalize()} {'has' if len(layers) == 1 else 'have'} "
                        f"a mistake of {'its' if len(layers) == 1 else 'their'} own {unnamed}: "
                        f"look at how dA{top - 1} is passed back from layer {top}, at the "
                        f"activation derivatives and at what each layer uses as A_prev")
                summary = _Obs("lower_layers", names, _esc(text),
                               {"right_layers": right, "wrong_layers": wrong,
                                "from_layer": top}, None)
            merged = [o for o in merged if o not in below] + [summary]
    return [_finding(o, obs) for o in merged]
