r"""Several mistakes at once, named layer by layer from the output down.

When no single candidate fits and the per-array pass leaves a cause open (or names more causes
than a set of slips that includes one passed back), the layers are explained one at a time from
the output down (:class:`_LayerSearch`). Layer l receives the true dA_l, or the dA_l that the
mistakes already found above it pass back, and may have at most one slip per step: the output
gradient or the activation derivative, dW and db (a named factor or a step candidate) and
dA_prev — e.g. ``examples/implementations/buggy.py``: "db3, db2 and db1 are m = 8 times too
large: the 1/m averaging is missing" and "dW2 and dW1 match the activation value A = g(Z)
instead of the mask [Z > 0] as the relu derivative in layers 1–2". The simplest explanation that
reproduces every compared array wins; when the layers are explained only down to some layer k,
the mistakes above k are named and layer k is said to have a further mistake that no known slip
explains. The search gives up, claiming nothing, after ``LAYER_SEARCH_BUDGET`` comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .candidates import (
    DERIVATIVE_CANDIDATES,
    DERIVATIVE_TEXT,
    LOSS_CANDIDATES,
    STEP_CANDIDATES,
    StepCandidate,
)
from .compare import _equal
from .context import _Ctx
from .findings import Finding, _layer_of, _sort_key
from .recognisers import _named_factor, _Obs
from .replay import _Hypothesis, _Model
from .wording import _factor_text, _hyp_sentence, _join, _layers, _m_note, _verbs

__all__ = ["LAYER_SEARCH_BUDGET", "_OPEN_KINDS", "_several_mistakes"]


#: Per-array findings that leave the cause open: the layer-by-layer search for several mistakes
#: is tried when one of them remains.
_OPEN_KINDS = ("mismatch", "near_miss", "scale")


#: The layer-by-layer search for several mistakes gives up (and claims nothing) after comparing
#: this many candidate arrays.
LAYER_SEARCH_BUDGET = 20000

#: The order in which the slips of one layer are told.
_SLOTS = ("output", "act", "dW", "db", "dA_prev")


@dataclass(frozen=True)
class _Slip:
    """One mistake of a layer-by-layer explanation, in ``slot`` of layer ``layer``: "output"
    (dℓ/dA_L), "act" (the activation derivative), "dW", "db" or "dA_prev" (the linear step).
    ``ratio`` is set for a constant factor on dW or db; ``acceptable`` marks the other one-sided
    derivative at exact kinks (no mistake)."""

    slot: str
    layer: int
    id: str
    kind: str
    wrong: str = ""
    right: str = ""
    explanation: str = ""
    act: str = ""
    ratio: float | None = None
    acceptable: bool = False


def _step_slip(cand: StepCandidate, l: int) -> _Slip:
    slot = "dW" if cand.step == "l2" else cand.step
    return _Slip(slot, l, cand.id, cand.kind, cand.wrong, cand.right, cand.explanation)


class _LayerSearch:
    r"""Several mistakes at once, named layer by layer from the output down.

    Layer l receives dA_l: the true one, or the one that the mistakes already found above it pass
    back. It is explained by at most one slip per step — the output gradient or the activation
    derivative (:data:`LOSS_CANDIDATES`, :data:`DERIVATIVE_CANDIDATES`), dW and db (a named
    constant factor m, 1/m, −1, 2, ½, or a :data:`STEP_CANDIDATES` entry) and the dA_{l-1} it
    passes down — and the choice must reproduce every compared array of the layer (dZ_l, dW_l,
    db_l, dA_{l-1}) to ``MATCH_RTOL``. The search is depth first, simplest choice first, and
    keeps the simplest complete explanation: the fewest distinct mistakes (one slip made in
    every layer is one mistake), then the fewest slips; a branch that cannot beat it is cut. The
    candidate tables are small, and the search stops after ``LAYER_SEARCH_BUDGET``
    comparisons (keeping the best explanation found until then: every one of them fits).
    """

    def __init__(self, md: _Model, compared: Mapping[str, np.ndarray]) -> None:
        self.md, self.compared, self.spent = md, compared, 0
        m = md.m
        ratios = [float(m), 1.0 / m] if m > 1 else []
        self.factors = [(r, "sign" if r == -1.0 else _named_factor(r, m)[0])
                        for r in dict.fromkeys(ratios + [-1.0, 2.0, 0.5])]

    def fits(self, key: str, value: np.ndarray | None) -> bool:
        """Whether ``value`` reproduces the compared array ``key`` (True when not compared)."""
        a = self.compared.get(key)
        if a is None:
            return True
        self.spent += 1
        return value is not None and value.shape == a.shape and _equal(a, value)

    def _run(self, fn: Callable, *args) -> np.ndarray | None:
        """A candidate's value, or None when it does not apply or is not finite."""
        try:
            with np.errstate(all="ignore"):
                value = fn(*args)
        except (ValueError, TypeError):
            return None
        if value is None:
            return None
        value = np.asarray(value, dtype=np.float64)
        return value if np.all(np.isfinite(value)) else None

    def dz_options(self, l: int, dA: np.ndarray | None):
        """``(dZ_l, dA_l, slips)`` for layer l receiving ``dA`` (None: the output layer)."""
        md = self.md
        act = md.acts[l - 1]
        Z, A = md.cache[f"Z{l}"], md.cache[f"A{l}"]
        if l == md.L:
            dA = md.loss_dA()
            fused = md.fused
            correct = self._run(lambda: fused.dz(Z, A, md.Y) if fused is not None
                                else act.vjp(Z, A, dA))
        else:
            correct = self._run(act.vjp, Z, A, dA)
        if correct is None:
            return
        yield correct, dA, ()
        options = []
        if act.kinks and act.elementwise and any(np.any(Z == k) for k in act.kinks):
            options.append((lambda: dA * act.one_sided(Z)[1], dA,
                            _Slip("act", l, "kink", "mismatch", acceptable=True)))
        if l == md.L:
            for c in LOSS_CANDIDATES:
                if md.net.loss.name in c.losses:
                    dA_c = self._run(c.dA, A, md.Y, md.net.loss)
                    if dA_c is not None:
                        options.append((lambda d=dA_c: act.vjp(Z, A, d), dA_c, _Slip(
                            "output", l, c.id, c.kind, c.wrong, c.right, c.explanation,
                            act=act.spec)))
        right = DERIVATIVE_TEXT.get(act.name, "g'(Z{l})")
        for c in DERIVATIVE_CANDIDATES:
            if c.applies(act):
                options.append((lambda c=c: c.dz(Z, A, dA, act), dA, _Slip(
                    "act", l, c.id, "activation_derivative", c.wrong, right, c.explanation,
                    act=act.spec)))
        for make, dA_used, slip in options:
            dZ = self._run(make)
            if dZ is not None and dZ.shape == correct.shape and not _equal(dZ, correct):
                yield dZ, dA_used, (slip,)

    def dw_fit(self, l: int, dZ: np.ndarray, dA: np.ndarray) -> tuple | None:
        """The slips (none or one) that make dW_l from ``dZ``; None when nothing fits."""
        key, md = f"dW{l}", self.md
        if key not in self.compared:
            return ()
        W = md.W(l)
        data = self._run(lambda: dZ @ md.cache[f"A{l - 1}"].T / md.m)
        if data is None:
            return None
        term = (md.lam / md.m) * W if md.lam else np.zeros_like(W)
        correct = data + term
        if self.fits(key, correct):
            return ()
        for r, kind in self.factors:
            if self.fits(key, r * correct):
                return (_Slip("dW", l, "factor", kind, ratio=r),)
        for cand in STEP_CANDIDATES:
            if cand.step not in ("dW", "l2") or (cand.step == "l2" and not md.lam):
                continue
            value = self._run(cand.fn, md, l, dZ, dA)
            if value is None or value.shape != W.shape:
                continue
            value = value + term if cand.step == "dW" else data + value
            if not _equal(value, correct) and self.fits(key, value):
                return (_step_slip(cand, l),)
        return None

    def db_fit(self, l: int, dZ: np.ndarray, dA: np.ndarray) -> tuple | None:
        """The slips (none or one) that make db_l from ``dZ``; None when nothing fits."""
        key, md = f"db{l}", self.md
        if key not in self.compared:
            return ()
        correct = self._run(lambda: np.sum(dZ, axis=1, keepdims=True) / md.m)
        if correct is None:
            return None
        if self.fits(key, correct):
            return ()
        for r, kind in self.factors:
            if self.fits(key, r * correct):
                return (_Slip("db", l, "factor", kind, ratio=r),)
        for cand in STEP_CANDIDATES:
            if cand.step != "db" or cand.fallback:  # the fallback ones are factors (above)
                continue
            value = self._run(cand.fn, md, l, dZ, dA)
            if (value is not None and value.shape == correct.shape
                    and not _equal(value, correct) and self.fits(key, value)):
                return (_step_slip(cand, l),)
        return None

    def da_options(self, l: int, dZ: np.ndarray, dA: np.ndarray):
        """``(dA_{l-1}, slips)``: what layer l passes down, right first."""
        W = self.md.W(l)
        correct = self._run(lambda: W.T @ dZ)
        if correct is None:
            return
        yield correct, ()
        if l == 1 and "dA0" not in self.compared:
            return  # nothing below to tell them apart
        seen = [correct]
        for cand in STEP_CANDIDATES:
            if cand.step != "dA_prev":
                continue
            value = self._run(cand.fn, self.md, l, dZ, dA)
            if (value is None or value.shape != correct.shape
                    or any(_equal(value, v) for v in seen)):
                continue
            seen.append(value)
            yield value, (_step_slip(cand, l),)

    def explain(self) -> tuple | None:
        """The simplest set of slips that reproduces every compared array, or None."""
        self.best: tuple | None = None
        self.best_cost: tuple[int, int] | None = None
        #: (k, slips): the deepest layer k no choice explains, and the slips found above it
        self.partial: tuple[int, tuple] | None = None
        self._search(self.md.L, None, ())
        return self.best

    def _worse(self, slips: tuple) -> bool:
        return self.best_cost is not None and _cost(slips) >= self.best_cost

    def _search(self, l: int, dA: np.ndarray | None, slips: tuple) -> None:
        """Complete ``slips`` (of the layers above l) with layers l, l−1, …, 1."""
        fitted = False
        for dZ, dA_used, act_slips in self.dz_options(l, dA):
            if self.spent > LAYER_SEARCH_BUDGET:
                return
            if self._worse(slips + act_slips) or not self.fits(f"dZ{l}", dZ):
                continue
            dw = self.dw_fit(l, dZ, dA_used)
            db = self.db_fit(l, dZ, dA_used) if dw is not None else None
            if db is None:
                continue
            here = slips + act_slips + dw + db
            for dA_prev, passed in self.da_options(l, dZ, dA_used):
                if self._worse(here + passed) or not self.fits(f"dA{l - 1}", dA_prev):
                    continue
                fitted = True
                if l > 1:
                    self._search(l - 1, dA_prev, here + passed)
                else:
                    self.best, self.best_cost = here + passed, _cost(here + passed)
        if not fitted and self.best is None and (
                self.partial is None or l < self.partial[0]
                or (l == self.partial[0] and _cost(slips) < _cost(self.partial[1]))):
            self.partial = (l, slips)


def _group(s: _Slip) -> tuple:
    """Slips that are one mistake made in several layers share a group."""
    return ("factor", s.kind, s.ratio < 0) if s.ratio is not None else (s.slot, s.id, s.act)


def _cost(slips) -> tuple[int, int]:
    """How complex an explanation is: distinct mistakes first, then slips counted per layer."""
    real = [s for s in slips if not s.acceptable]
    return len({_group(s) for s in real}), len(real)


def _several_mistakes(obs, compared, exp, ctx: _Ctx, most: int | None = None
                      ) -> list[Finding] | None:
    """Findings naming several mistakes that together reproduce every compared array, found
    layer by layer (:class:`_LayerSearch`); None when no such set of slips fits.

    With ``most`` (the number of causes the per-array pass names, none of them left open), the
    slips are preferred only if they include one that is passed back (the output gradient, an
    activation derivative, dA_prev: one place that explains the layers below, as a
    whole-network candidate is preferred to per-array slips) and name at most ``most`` causes.
    """
    md = ctx.model
    if md is None or not compared:
        return None
    L = md.L
    layer_keys = ({f"d{p}{l}" for l in range(1, L + 1) for p in "WbZ"}
                  | {f"dA{l}" for l in range(L)})
    if any(k not in layer_keys and obs.get(k) is not None for k in compared):
        return None  # a wrong array the layer steps do not produce
    search = _LayerSearch(md, {k: v for k, v in compared.items() if k in layer_keys})
    slips = search.explain()
    if slips is None:
        return _partly_explained(search.partial, obs, compared, md) if most is None else None
    slips = [s for s in slips if not s.acceptable]
    if not slips:
        return None
    findings = _several_findings(slips, obs, compared, md)
    if most is not None and (len(findings) > most or not any(
            s.slot in ("output", "act", "dA_prev") for s in slips)):
        return None
    return findings


def _partly_explained(partial, obs, compared, md: _Model) -> list[Finding] | None:
    """When no set of slips explains every layer: the mistakes found above the deepest layer k
    that nothing explains, and a finding for what is left from layer k down — used only if they
    explain an array above k that the per-array pass left open (otherwise it says as much)."""
    if partial is None:
        return None
    k, above = partial
    above = [s for s in above if not s.acceptable]

    def owner(n: str) -> int:  # the layer that computes n (dA_{l-1} is passed back by layer l)
        return (_layer_of(n) or 0) + (1 if n.startswith("dA") else 0)

    if not above or not any(o is not None and o.kind in _OPEN_KINDS and owner(n) > k
                            for n, o in obs.items() if n in compared):
        return None
    findings = _several_findings(above, obs, compared, md, lowest=k + 1)

    def wrong_keys(l: int) -> list[str]:
        return [n for n in (f"dZ{l}", f"dW{l}", f"db{l}", f"dA{l - 1}")
                if n in compared and obs.get(n) is not None]

    here = wrong_keys(k) or [n for n in (f"dW{k}", f"db{k}") if n in compared]
    below = [l for l in range(1, k) if wrong_keys(l)]
    v = _verbs(len(here))
    text = (f"{_join(here)} {v['is']} wrong beyond that: even with what layer {k + 1} passes "
            f"back (its mistake included), no known slip in layer {k} reproduces {v['it']}; "
            f"look at layer {k}'s activation derivative, at what it uses as A_prev and at how "
            f"it computes dW{k} and db{k}")
    if below:
        text += (f" ({_layers(below)} may be wrong only as a consequence)")
    names = tuple(here + [n for l in reversed(below) for n in wrong_keys(l)])
    return findings + [Finding(names, "lower_layers", text,
                               {"from_layer": k, "explained_layers": list(range(k + 1, md.L + 1))})]


def _several_findings(slips: list[_Slip], obs, compared, md: _Model, lowest: int = 1
                      ) -> list[Finding]:
    """One finding per mistake, merged over the layers it is made in, top layer first
    (``lowest``: the lowest layer the slips account for)."""
    m = md.m
    groups: dict[tuple, list[_Slip]] = {}
    for s in slips:
        groups.setdefault(_group(s), []).append(s)

    def dz_wrong(l: int) -> bool:  # whether layer l's own dZ_l is wrong (a slip at or above)
        return any((t.slot in ("output", "act") and t.layer >= l)
                   or (t.slot == "dA_prev" and t.layer > l) for t in slips)

    def wrong_keys(l: int) -> list[str]:
        return [k for k in (f"dZ{l}", f"dW{l}", f"db{l}", f"dA{l - 1}")
                if k in compared and obs.get(k) is not None]

    own = {s.layer for s in slips if s.slot != "dA_prev"}
    consequence = [l for l in range(lowest, md.L + 1) if l not in own and wrong_keys(l)]
    ordered = sorted(groups.values(), key=lambda g: (-max(s.layer for s in g),
                                                     _SLOTS.index(g[0].slot)))
    findings: list[Finding] = []
    told_consequence = False
    for group in ordered:
        first = group[0]
        layers = sorted({s.layer for s in group})
        details = {"candidate": first.id, "layers": layers, "several": True}
        if first.ratio is not None:
            names = sorted((f"{s.slot}{s.layer}" for s in group), key=_sort_key)
            if first.kind == "sign":
                text = "{what} {has} the wrong sign: following {it} is gradient ascent"
            else:
                text = "{what} {is} " + _factor_text(first.kind, "param", m, first.ratio)
                if first.ratio < 0:
                    text += "; also, the sign is wrong"
            onto = [n for n in names if dz_wrong(_layer_of(n))]
            if onto:
                dzs = [f"dZ{l}" for l in sorted({_layer_of(n) for n in onto}, reverse=True)]
                text += f" (in {_join(onto)} on top of the mistake in {_join(dzs)})"
            text += _m_note(m)
            details["ratio"] = first.ratio
            o = _Obs(first.kind, names, text, details)
            findings.append(o.finding())
            continue
        h = _Hypothesis(first.id, first.kind, tuple(layers), {}, first.wrong, first.right,
                        first.explanation, first.act)
        if first.slot in ("output", "act"):
            subject, names = [], []
            for l in reversed(layers):
                if f"dZ{l}" in compared:
                    subject.append(f"dZ{l}")
                else:
                    db_own = any(s.slot == "db" and s.layer == l for s in slips)
                    subject += [k for k in (f"dW{l}", f"db{l}") if k in compared
                                and not (k[1] == "b" and db_own)]
                names += wrong_keys(l)
            subject = subject or [f"dW{layers[-1]}"]
        elif first.slot == "dA_prev":
            subject = None
            names = [n for l in reversed(layers)
                     for n in ([f"dA{l - 1}"] if f"dA{l - 1}" in compared else wrong_keys(l - 1))]
        else:
            subject = [f"{first.slot}{l}" for l in reversed(layers)]
            names = list(subject)
        text = _hyp_sentence(h, compared, subject=subject)
        below = [l for l in consequence if l < min(layers)]
        if first.slot in ("output", "act", "dA_prev") and below and not told_consequence:
            text += (f"; {_layers(below)} {'is' if len(below) == 1 else 'are'} wrong only as a "
                     f"consequence")
            told_consequence = True
        findings.append(Finding(tuple(names or subject or [f"dW{layers[-1]}"]), first.kind,
                                text + ".", details))
    return findings
