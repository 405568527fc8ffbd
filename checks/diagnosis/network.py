"""The whole-network diagnosis, :func:`diagnose`: one explanation for every wrong array.

Every candidate mistake (:mod:`gradref.checks.diagnosis.candidates`), planted in the backward
pass replayed from the forward cache (:mod:`gradref.checks.diagnosis.replay`), is compared with
*all* the analytic arrays. A candidate that reproduces every one of them (and differs from the
truth) names the mistake, the layers that are right, and the layers that are wrong only as a
consequence; other candidates that give the very same numbers are mentioned ("it fits equally
well: …"). Scale slips (a missing 1/m, …) are better named array by array, so as whole-network
candidates they are only tried for what the per-array pass
(:mod:`gradref.checks.diagnosis.recognisers`) leaves unexplained. Differences that only come
from the one-sided derivative chosen at an exact kink (e.g. a relu mask ``Z >= 0``) are not
mistakes and give no finding. Arrays that are all zeros (where the truth is not) are reported as
such, first, and no candidate that happens to give zeros too is claimed for them.

When no single candidate fits, several mistakes are searched for layer by layer
(:mod:`gradref.checks.diagnosis.layer_search`); otherwise the per-array findings are merged and
summarised by layer (:mod:`gradref.checks.diagnosis.summary`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from .compare import _absmax, _equal
from .context import _Ctx
from .findings import Finding, _layer_of, _parse, _role, _sort_key
from .layer_search import _OPEN_KINDS, _several_mistakes
from .recognisers import _as_array, _diagnose_one, _expected_array, _tiny_obs
from .summary import _merge, _merge_and_summarise, _status
from .wording import _alternatives, _hyp_sentence, _layers, _right_phrase

__all__ = ["diagnose"]


def diagnose(analytic: Mapping, expected: Mapping, context: Mapping | None = None
             ) -> list[Finding]:
    """Diagnose a whole set of gradients: an empty list when they are right.

    Parameters
    ----------
    analytic : dict
        The gradients under test: ``"dW1", "db1", …`` and optionally ``"dZ1", …, "dA0", …``
        (per-example). Keys may be missing and arrays may have any shape.
    expected : dict
        The true gradients with the same keys. ``dW``/``db`` keys (and keys without a layer
        index) missing from ``analytic`` are reported; ``dZ``/``dA`` keys are optional.
    context : dict or None
        ``{"m": int, "net": Network, "params": dict, "cache": dict, "X", "Y"}``; every entry
        may be None or absent. With a network, parameters, targets and a cache (or X), the
        candidate mistakes are recomputed and matched.

    Returns
    -------
    list of Finding
        Most important first: a whole-network explanation when one fits, else the per-array
        findings, merged where they share a cause, with a by-layer summary.
    """
    if not isinstance(analytic, Mapping):
        raise TypeError(f"analytic must be a dict of arrays {{'dW1', 'db1', …}}, "
                        f"got {type(analytic).__name__}")
    if not isinstance(expected, Mapping):
        raise TypeError(f"expected must be a dict of arrays {{'dW1', 'db1', …}}, "
                        f"got {type(expected).__name__}")
    exp = {k: _expected_array(k, v) for k, v in expected.items()}
    ctx = _Ctx(context, exp)
    if ctx.model is not None:  # exact where the caller's truth may be an estimate
        exp = {k: ctx.model.true.get(k, v) for k, v in exp.items()}
        ctx.expected = exp
    keys = sorted(exp, key=_sort_key)
    keys = [k for k in keys if k in analytic or not (_parse(k) and _parse(k)[0] in "ZA")]
    compared: dict[str, np.ndarray] = {}  # intermediates are optional: only if given
    for k in keys:
        a, _ = _as_array(analytic[k]) if k in analytic else (None, None)
        if a is not None and a.shape == exp[k].shape and np.all(np.isfinite(a)):
            compared[k] = a
    ctx.compared = compared
    ctx.observed = set(compared)
    wrong = {k for k in keys if k not in compared or not _equal(compared[k], exp[k])}
    # differences below MATCH_RTOL that the checker flags (its scale: the group's largest entry)
    group = {role: max((_absmax(exp[k]) for k in compared if _role(k) == role), default=0.0)
             for role in ("param", "inter", "other")}
    tiny = {k: o for k in compared if k not in wrong
            for o in [_tiny_obs(k, compared[k], exp[k], ctx, group[_role(k)])] if o is not None}
    findings = _diagnose_wrong(analytic, exp, keys, compared, wrong, ctx) if wrong else []
    named = {n for f in findings for n in f.names}
    findings += [o.finding() for k, o in tiny.items() if k not in named]
    return [f for f in findings if f.kind == "zero"] + [f for f in findings if f.kind != "zero"]


def _diagnose_wrong(analytic, exp, keys, compared, wrong, ctx: _Ctx) -> list[Finding]:
    """The findings for the ``wrong`` keys (see :func:`diagnose`)."""
    def per_array(ks):
        return {k: _diagnose_one(k, analytic.get(k), exp[k], ctx) if k in wrong else None
                for k in ks}

    def unseen(obs=None):
        """Findings for the keys that could not be compared (missing, shapes, values)."""
        obs = per_array([k for k in keys if k not in compared]) if obs is None else obs
        return [o.finding() for k, o in obs.items() if o is not None and k not in compared]

    # 0. all-zero arrays: "all zeros" is the finding, whatever candidate would give zeros too
    zeros = {k for k in wrong if k in compared and _absmax(compared[k]) <= MATCH_ATOL}
    only_zeros = bool(zeros) and zeros == wrong & set(compared)
    # 1. one candidate mistake (not a mere scale slip) that reproduces every compared array
    flags = {k: (k in wrong) or None for k in keys}
    match = _whole_network(flags, compared, exp, ctx, fallback=False)
    if match == []:
        return []  # only the one-sided derivative at exact kinks differs
    if match is not None and not only_zeros:
        zero_obs = per_array(sorted(zeros, key=_sort_key))
        return [o.finding() for o in _merge(zero_obs)] + match + unseen()
    # 2. per-array findings; scale slips as whole-network candidates only for what is left
    obs = per_array(keys)
    if not any(o is not None for o in obs.values()):
        return []
    if not only_zeros and any(o is not None and o.kind in ("mismatch", "near_miss")
                              for o in obs.values()):
        match = _whole_network(obs, compared, exp, ctx, fallback=True)
        if match is not None:
            return match + unseen(obs)
    # 3. several mistakes at once, named layer by layer: when the per-array pass leaves a cause
    #    open, or names more causes than a set of slips that includes one passed back
    open_ = any(o is not None and o.kind in _OPEN_KINDS and _layer_of(k) for k, o in obs.items())
    causes = len(_merge({k: o for k, o in obs.items() if k in compared}))
    if not only_zeros and (open_ or causes >= 2):
        several = _several_mistakes(obs, compared, exp, ctx, None if open_ else causes)
        if several is not None:
            return several + unseen(obs)
    return _merge_and_summarise(obs, compared, ctx)


def _whole_network(obs, compared, exp, ctx: _Ctx, fallback: bool) -> list[Finding] | None:
    """One candidate mistake that reproduces every compared array, as ``[finding]``; ``[]``
    when only the one-sided derivative at exact kinks differs; None when nothing fits.

    ``obs`` marks the wrong keys (any non-None value). ``fallback`` selects the scale-slip
    candidates, which the per-array pass names better and which are only tried for what it
    leaves unexplained (e.g. single-element arrays with an L2 term).
    """
    if ctx.model is None or not compared or not any(obs[k] is not None for k in compared):
        return None

    def reproduces(h):
        return (all(k in h.grads and h.grads[k].shape == a.shape for k, a in compared.items())
                and all(_equal(a, h.grads[k]) for k, a in compared.items()))

    if not fallback and any(h.acceptable and reproduces(h) for h in ctx.hypotheses):
        return []  # only the one-sided derivative at exact kinks differs
    matches = [h for h in ctx.hypotheses if not h.acceptable and h.fallback == fallback
               and reproduces(h) and any(not _equal(exp[k], h.grads[k]) for k in compared)]
    if not matches:
        return None
    match = matches[0]
    right, wrong = _status({k: obs[k] for k in compared})
    text = _hyp_sentence(match, compared.keys())
    if match.kind == "dA_prev":
        below = [l for l in wrong if l < max(match.origin)]
        above = [l for l in right if l >= max(match.origin)]
        head = []
        if above:
            head.append(_right_phrase(above, compared))
        if below:
            head.append(f"{_layers(below)} {'is' if len(below) == 1 else 'are'} wrong")
        text = (", ".join(head) + ": " if head else "") + text
    else:
        above = [l for l in right if l > max(match.origin)]
        below = [l for l in wrong if l < min(match.origin)]
        tail = []
        if above:
            tail.append(_right_phrase(above, compared))
        if below:
            tail.append(f"{_layers(below)} {'is' if len(below) == 1 else 'are'} wrong only as "
                        f"a consequence")
        if tail:
            text += "; " + ", and ".join(tail)
    names = tuple(k for k in sorted(compared, key=_sort_key) if obs[k] is not None)
    text += "." + _alternatives(match, matches[1:])
    finding = Finding(names, match.kind, text,
                      {"candidate": match.id, "layers": list(match.origin),
                       "right_layers": right, "wrong_layers": wrong,
                       "alternatives": [h.id for h in matches[1:]]})
    return [finding]
