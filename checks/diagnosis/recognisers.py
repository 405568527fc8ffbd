r"""Per-array recognisers: what one wrong array, on its own, says about its mistake.

Only patterns that fit the numbers to a tight tolerance are claimed; otherwise the fallback
reports the relative error and the worst element and invents nothing. With :math:`a` the
analytic and :math:`e` the expected array, :func:`_diagnose_one` (and the public
:func:`diagnose_array`) recognises:

- a missing key, a value that is not a real numeric array, NaN or infinity;
- shape: a transpose (:math:`a^\top = e`), a lost ``keepdims`` (same values, shape (n,) instead
  of (n, 1)), a sum over the wrong axis (one entry per example), any other shape with the
  expected one;
- all zeros; a constant factor: the least-squares ratio :math:`r = \langle a, e\rangle /
  \langle e, e\rangle` is accepted only if :math:`\max|a - r e| \le` ``SCALE_RTOL``
  :math:`\max|r e|`; :math:`r` is then named when it equals m, 1/m, 2, ½ or −1 to within
  ``FACTOR_RTOL`` (with m = 2, "m times" and "2 times" cannot be told apart: both are reported);
- a wrong L2 term: :math:`a = \alpha\,(e - \tfrac{\lambda}{m}W) + \beta W` fitted by least
  squares and accepted only for a tight fit; :math:`\beta` is then read against
  0, λ, 2λ/m, λ/(2m), −λ/m;
- a transpose of a square matrix;
- with a network in ``context``: the candidate mistakes, restricted to that array;
- a near miss (a few elements, or a tiny relative error).

A difference below ``MATCH_RTOL`` that the checker still flags is a near miss, unless it is only
the one-sided derivative at exact kinks. Each recogniser returns an :class:`_Obs`, a finding
before merging, whose template (``{what}``, ``{is}``, …) can name several arrays with the same
cause at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..tolerances import DIAGNOSIS_COLLINEAR_COS as COLLINEAR_COS
from ..tolerances import DIAGNOSIS_FACTOR_RTOL as FACTOR_RTOL
from ..tolerances import DIAGNOSIS_FIT2_MIN_SIZE as FIT2_MIN_SIZE
from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from ..tolerances import DIAGNOSIS_NEAR_MISS_MAX_ELEMENTS as NEAR_MISS_MAX_ELEMENTS
from ..tolerances import DIAGNOSIS_NEAR_MISS_RTOL as NEAR_MISS_RTOL
from ..tolerances import DIAGNOSIS_SCALE_MIN_SUPPORT as SCALE_MIN_SUPPORT
from ..tolerances import DIAGNOSIS_SCALE_RTOL as SCALE_RTOL
from .compare import _absmax, _differing, _equal, _flag_mask, _flagged
from .context import _Ctx
from .findings import Finding, _parse, _role
from .wording import (
    _alternatives,
    _esc,
    _factor_text,
    _fmt,
    _hyp_sentence,
    _index,
    _join,
    _layers,
    _m_note,
    _ratio,
    _shape_meaning,
    _verbs,
)

__all__ = [
    "diagnose_array", "_Obs", "_named_factor", "_tiny_obs", "_as_array", "_expected_array",
    "_diagnose_one",
]


@dataclass
class _Obs:
    """A per-array finding before merging: ``template`` uses {what}, {is}, {has}, …"""

    kind: str
    names: list[str]
    template: str
    details: dict
    merge: tuple | None = None

    def finding(self) -> Finding:
        text = self.template.format(what=_join(self.names), **_verbs(len(self.names)))
        return Finding(tuple(self.names), self.kind, text, self.details)


# --------------------------------------------------------------------------- values
def _named_factor(r: float, m: int | None) -> tuple[str, float] | None:
    """(kind, factor) when |r| is m, 1/m, 2 or ½ to within FACTOR_RTOL."""
    table = [("times_2", 2.0), ("half", 0.5)]
    if m is not None and m > 1:
        table = [("times_m", float(m)), ("over_m", 1.0 / m)] + table
    hits = [(k, f) for k, f in table if abs(abs(r) / f - 1.0) <= FACTOR_RTOL]
    if not hits:
        return None
    if len(hits) > 1:  # m = 2: m and 2 (or 1/m and 1/2) coincide
        return "m_or_2", hits[0][1]
    return hits[0]


def _scale_obs(name: str, r: float, support: int, ctx: _Ctx, size: int = 2) -> _Obs | None:
    role, m = _role(name), ctx.m
    gradient = name.startswith("d")
    details = {"ratio": r, "m": m}
    if abs(r + 1.0) <= FACTOR_RTOL:
        ascent = (": following {it} is gradient ascent instead of descent" if gradient
                  else ": a minus sign is missing or extra")
        return _Obs("sign", [name], "{what} {has} the wrong sign" + ascent, details, ("sign",))
    if abs(r - 1.0) <= NEAR_MISS_RTOL:
        every = "every element of {what}" if size > 1 else "{what}, a single number,"
        text = (f"{every} is {_ratio(r)}× the expected value: a near miss, a tiny consistent "
                f"error (relative {abs(r - 1):.1e}), e.g. a slightly wrong constant, or a formula "
                f"that loses precision (such as 1 − tanh² near saturation)")
        return _Obs("near_miss", [name], text, details, ("near_miss", role, f"{r:.9g}"))
    named = _named_factor(r, m)
    if named is not None:
        kind, f = named
        text = "{what} {is} " + _factor_text(kind, role, m, r)
        if r < 0:
            text += "; also, the sign is wrong"
        return _Obs(kind, [name], text + _m_note(m), details, (kind, role, r < 0))
    if support < SCALE_MIN_SUPPORT:
        return None
    text = f"{{what}} {{is}} {_fmt(r)} times the expected value at every element: a constant factor"
    if m is None and r > 1 and abs(r - round(r)) <= FACTOR_RTOL * r:
        text += f" (if m = {round(r)}, the 1/m averaging is missing)"
    elif m is None and 0 < r < 1 and abs(1 / r - round(1 / r)) <= FACTOR_RTOL / r:
        text += f" (if m = {round(1 / r)}, it was divided by m twice)"
    else:
        text += " is off"
    return _Obs("scale", [name], text + _m_note(m), details, ("scale", role, f"{r:.9g}"))


def _fit_scale(a: np.ndarray, e: np.ndarray) -> float | None:
    ee = float(np.vdot(e, e))
    if ee == 0.0:
        return None
    r = float(np.vdot(a, e)) / ee
    re_ = r * e
    if float(np.max(np.abs(a - re_))) <= SCALE_RTOL * _absmax(re_) + MATCH_ATOL:
        return r
    return None


def _fit2(a, u, v) -> tuple[float, float] | None:
    """Least-squares a ≈ α u + β v, accepted only for a tight fit and non-collinear u, v."""
    if a.size < FIT2_MIN_SIZE:
        return None  # two unknowns: too few equations to test the fit
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0 or nv == 0 or abs(float(np.vdot(u, v))) / (nu * nv) > COLLINEAR_COS:
        return None
    M = np.stack([u.ravel(), v.ravel()], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(M, a.ravel(), rcond=None)
    fit = alpha * u + beta * v
    scale = max(_absmax(alpha * u), _absmax(beta * v))
    if float(np.max(np.abs(a - fit))) <= SCALE_RTOL * scale + MATCH_ATOL:
        return float(alpha), float(beta)
    return None


def _near(x: float, y: float) -> bool:
    return abs(x - y) <= FACTOR_RTOL * max(abs(y), 1e-300)


def _l2_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    parsed = _parse(name)
    if parsed is None or parsed[0] not in "Wb":
        return None
    md = ctx.model_for(name, e)
    if md is None or not md.lam:
        return None
    p, l = parsed
    lam, m = md.lam, md.m
    unit = lam / m
    if p == "b":
        b = md.params[f"b{l}"]
        fit = _fit2(a, e, b)
        if fit is None or not _near(fit[0], 1.0) or not _near(fit[1], unit):
            return None
        return _Obs("l2_bias", [name], f"{{what}} include{{s}} an L2 term λ/m·b{l}: biases are "
                    f"not regularised, only weights", {"lambda": lam, "m": m}, ("l2_bias",))
    W = md.W(l)
    data = e - unit * W
    fit = _fit2(a, data, W)
    if fit is None:
        return None
    alpha, beta = fit
    details = {"alpha": alpha, "beta": beta, "lambda": lam, "m": m}
    wrongs = [(0.0, "l2_missing", f"{{what}} {{is}} missing the L2 term λ/m·W{l} "
               f"(λ = {lam:g}, m = {m})"),
              (lam, "l2_wrong", f"the L2 term in {{what}} is λ·W{l} instead of λ/m·W{l}: "
               f"divide it by m = {m} too"),
              (2 * unit, "l2_wrong", f"the L2 term in {{what}} is 2λ/m·W{l} instead of "
               f"λ/m·W{l}: the derivative of λ/(2m)·‖W‖² is λ/m·W"),
              (unit / 2, "l2_wrong", f"the L2 term in {{what}} is λ/(2m)·W{l} instead of "
               f"λ/m·W{l}: differentiating ‖W‖² gives 2W, which cancels the ½"),
              (-unit, "l2_wrong", f"the L2 term in {{what}} has the wrong sign: it must add "
               f"+λ/m·W{l}")]
    l2_kind = l2_text = None
    if not _near(beta, unit):
        for value, kind, text in wrongs:
            if (value == 0.0 and abs(beta) <= FACTOR_RTOL * unit) or (value and _near(beta, value)):
                l2_kind, l2_text = kind, text
                break
        else:
            l2_kind, l2_text = "l2_wrong", (f"the L2 term in {{what}} is {beta / unit:.4g}·λ/m·"
                                            f"W{l} instead of λ/m·W{l}")
    data_text = None
    if not _near(alpha, 1.0):
        named = _named_factor(alpha, m)
        if named is None and not (abs(alpha + 1) <= FACTOR_RTOL):
            return None  # an unexplained factor on the data part: claim nothing about L2 here
        if named is None:
            data_kind, data_text = "sign", "the data part dZ·A_prevᵀ/m has the wrong sign"
        else:
            data_kind = named[0]
            data_text = ("the data part dZ·A_prevᵀ/m is "
                         + _factor_text(data_kind, "param", m, alpha).replace("{it}", "it"))
    if l2_kind is None and data_text is None:
        return None
    if l2_kind is None:
        return _Obs(data_kind, [name], "in {what}, " + data_text + " (the L2 term λ/m·W is "
                    "right)" + _m_note(m), details, (data_kind, "data", f"{alpha:.6g}"))
    text = l2_text + (f"; also, {data_text}" if data_text else "")
    return _Obs(l2_kind, [name], text, details, (l2_kind, f"{beta / unit:.6g}", data_text))


def _hyp_obs_single(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    md = ctx.model_for(name, e)
    if md is None:
        return None
    parsed = _parse(name)
    layer = parsed[1] if parsed else None
    # the other compared arrays of the same layer must agree with the candidate too
    peers = {k: v for k, v in (ctx.compared or {}).items()
             if k != name and _parse(k) and _parse(k)[0] in "ZWb" and _parse(k)[1] == layer}

    def fits(h):
        return (not h.acceptable and name in h.grads and h.grads[name].shape == a.shape
                and _equal(a, h.grads[name]) and not _equal(e, h.grads[name])
                and all(k in h.grads and _equal(v, h.grads[k]) for k, v in peers.items()))

    def here(h):  # dA_{l-1} is passed back by layer l
        return layer in h.origin or (h.kind == "dA_prev" and name.startswith("dA")
                                     and layer is not None and layer + 1 in h.origin)

    local = [h for h in ctx.hypotheses if here(h) and fits(h)]
    others = [h for h in ctx.hypotheses if not here(h) and fits(h)]
    matches = local + others
    if not matches:
        return None
    h = matches[0]
    text = _hyp_sentence(h, [name], single=name)
    if h.kind == "dA_prev" and not name.startswith("dA"):
        text = f"{name} is wrong because " + text
    elif not local:
        text = f"{name} is wrong as a consequence of a mistake in {_layers(h.origin)}: " + text
    text += "." + _alternatives(h, matches[1:])
    return _Obs(h.kind, [name], _esc(text), {"candidate": h.id, "layers": list(h.origin)},
                None)


def _near_miss_obs(name: str, a: np.ndarray, e: np.ndarray,
                   group: float | None = None) -> _Obs | None:
    bad = _differing(a, e)
    if not np.any(bad):  # below MATCH_RTOL: the elements the checker flags
        bad = _flag_mask(a, e, group)
    k, n = int(np.sum(bad)), a.size
    scale = _absmax(e)
    diff = np.abs(a - e)
    if 0 < k <= NEAR_MISS_MAX_ELEMENTS and k < n:
        parts = []
        for idx in map(tuple, np.argwhere(bad)):
            where = _index(name, idx)
            if e[idx] != 0:
                parts.append(f"{where} is {_ratio(a[idx] / e[idx])}× the expected value")
            else:
                parts.append(f"{where} is {a[idx]:.4g} where 0 is expected")
        verb = "differs" if k == 1 else "differ"
        text = f"{k} of {n} elements {verb}: " + "; ".join(parts)
        return _Obs("near_miss", [name], _esc(text),
                    {"count": k, "size": n, "elements": [list(map(int, i)) for i in
                                                         np.argwhere(bad)]}, None)
    if scale > 0 and float(np.max(diff)) <= NEAR_MISS_RTOL * scale:
        idx = tuple(np.unravel_index(int(np.argmax(diff)), a.shape))
        rel = float(np.max(diff)) / scale
        digits = min(17, max(8, 3 - int(math.floor(math.log10(rel))))) if rel > 0 else 8
        text = (f"{k} of {n} elements of {name} differ slightly: the largest difference is "
                f"{rel:.1e} of the largest entry, at {_index(name, idx)} ({a[idx]:.{digits}g} "
                f"instead of {e[idx]:.{digits}g}); a near miss, e.g. float32 arithmetic or a "
                f"rounded constant")
        return _Obs("near_miss", [name], _esc(text),
                    {"count": k, "size": n, "max_relative": rel}, None)
    return None


def _mismatch_obs(name: str, a: np.ndarray, e: np.ndarray) -> _Obs:
    diff = np.abs(a - e)
    idx = tuple(np.unravel_index(int(np.argmax(diff)), a.shape)) if a.ndim else ()
    norm_e = float(np.linalg.norm(e))
    rel = float(np.linalg.norm(a - e)) / norm_e if norm_e > 0 else math.inf
    rel_text = f"relative error {rel:.3g}" if math.isfinite(rel) else "expected all zeros"
    what = "gradient" if name.startswith("d") else "value"
    text = (f"{name} does not match the expected {what} ({rel_text}); the largest difference "
            f"is at {_index(name, idx)}: {a[idx]:.6g} instead of {e[idx]:.6g}. No simple pattern "
            f"(a factor, the sign, a transpose, a known slip) explains it")
    return _Obs("mismatch", [name], _esc(text),
                {"relative_error": rel if math.isfinite(rel) else None,
                 "worst": list(map(int, idx)), "analytic": float(a[idx]),
                 "expected": float(e[idx])}, None)


def _kink_only(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx, fine: bool = False) -> bool:
    """Whether ``a`` is the expected array with the other one-sided derivative at exact kinks
    (``fine``: to the checker's precision, else to ``MATCH_RTOL``)."""
    if ctx.model_for(name, e) is None:
        return False
    for h in ctx.hypotheses:
        if h.acceptable and name in h.grads and h.grads[name].shape == a.shape:
            if (not _flagged(a, h.grads[name]) if fine else _equal(a, h.grads[name])):
                return True
    return False


def _tiny_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx,
              scale: float | None = None) -> _Obs | None:
    """A difference below ``MATCH_RTOL`` that the checker still flags: a near miss (never
    silence), unless it is only the one-sided derivative at exact kinks."""
    if not _flagged(a, e, scale) or _kink_only(name, a, e, ctx, fine=True):
        return None
    return _near_miss_obs(name, a, e, scale) or _mismatch_obs(name, a, e)


def _value_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    """Diagnose two arrays of the same shape."""
    if _equal(a, e):
        return _tiny_obs(name, a, e, ctx)
    if _kink_only(name, a, e, ctx):  # the other one-sided derivative at exact kinks is fine
        return None
    if _absmax(a) <= MATCH_ATOL:
        return _Obs("zero", [name], "{what} {is} all zeros: nothing was computed or nothing "
                    "reached {it}", {}, ("zero",))
    r = _fit_scale(a, e)
    if r is not None:
        support = int(np.sum(np.abs(e) > 1e-3 * _absmax(e)))
        obs = _scale_obs(name, r, support, ctx, a.size)
        if obs is not None:
            return obs
    obs = _l2_obs(name, a, e, ctx)
    if obs is not None:
        return obs
    if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and _equal(a, e.T):
        return _Obs("transpose", [name], "{what} {is} the transpose of the expected gradient "
                    "(square, so the shape did not reveal it): e.g. dW = A_prev·dZᵀ/m instead "
                    "of dZ·A_prevᵀ/m", {}, ("transpose", "square"))
    obs = _hyp_obs_single(name, a, e, ctx)
    if obs is not None:
        return obs
    return _near_miss_obs(name, a, e) or _mismatch_obs(name, a, e)


# --------------------------------------------------------------------------- shapes
def _per_example_sum(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    """A bias gradient with one entry per example: summed over the wrong axis.

    Claimed when its values are verified against dZ (sum or mean over axis 0), or, unverified,
    when only the shape says so (m entries, m different from n_l).
    """
    m = ctx.m
    column = (e.ndim == 2 and e.shape[1] == 1) or e.ndim == 1
    n = e.shape[0] if e.ndim else 1
    if not (column and m is not None and a.size == m and (a.ndim == 1 or 1 in a.shape)):
        return None
    details = {"shape": list(a.shape), "expected_shape": list(e.shape)}
    text = (f"{{what}} has shape {a.shape}, one entry per example (m = {m}), instead of "
            f"{e.shape}: the sum runs over the wrong axis; sum over the examples with "
            f"np.sum(dZ, axis=1, keepdims=True)")
    parsed = _parse(name)
    if parsed and parsed[0] == "b":
        dZ = ctx.dZ(parsed[1])
        if dZ is not None and dZ.shape[1] == m:
            for value, how in ((np.sum(dZ, axis=0) / m, "Σ over axis 0, over m"),
                               (np.sum(dZ, axis=0), "Σ over axis 0"),
                               (np.mean(dZ, axis=0), "the mean over axis 0")):
                if _equal(a.ravel(), value):
                    details["verified"] = how
                    return _Obs("wrong_axis", [name], text + f" (the values are {how} of "
                                f"dZ{parsed[1]})", details, None)
    if m == n:
        return None  # (1, n) could as well be a transposed column
    return _Obs("wrong_axis", [name], text, details, None)


def _shape_obs(name: str, a: np.ndarray, e: np.ndarray, ctx: _Ctx) -> _Obs:
    details = {"shape": list(a.shape), "expected_shape": list(e.shape)}
    m = ctx.m
    per_example = _per_example_sum(name, a, e, ctx)
    same_values = a.size == e.size and (_equal(a.reshape(e.shape), e)
                                        or (a.ndim == 2 and _equal(a.T, e)))
    if per_example is not None and "verified" in per_example.details and not same_values:
        return per_example
    if a.size == e.size and a.ndim == 2 and e.ndim == 2 and a.shape == e.shape[::-1]:
        inner = _value_obs(name, a.T, e, ctx)
        if e.shape[1] == 1:
            text = (f"{{what}} is a row of shape {a.shape} instead of a column {e.shape}: sum "
                    f"over the examples with axis=1, keepdims=True")
        else:
            text = (f"{{what}} has the transposed shape {a.shape} instead of {e.shape}"
                    f"{_shape_meaning(name, e.shape)}: e.g. A_prev·dZᵀ instead of dZ·A_prevᵀ")
        if inner is None:
            text += " (its values are right once transposed)"
        else:
            text += "; even transposed, " + _esc(inner.finding().message)
            details["then"] = inner.kind
        return _Obs("transpose", [name], text, details, None)
    if a.size == e.size and [s for s in a.shape if s != 1] == [s for s in e.shape if s != 1]:
        inner = _value_obs(name, a.reshape(e.shape), e, ctx)
        text = (f"{{what}} has shape {a.shape} instead of {e.shape}: the singleton axis was "
                f"lost or added (use keepdims=True, or reshape)")
        if inner is None:
            text += "; the values are right"
        else:
            text += "; also, " + _esc(inner.finding().message)
            details["then"] = inner.kind
        return _Obs("keepdims", [name], text, details, None)
    if per_example is not None:
        return per_example
    parsed = _parse(name)
    column = (e.ndim == 2 and e.shape[1] == 1) or e.ndim == 1
    if a.size == 1 and e.size > 1 and column:
        text = (f"{{what}} is a single number instead of shape {e.shape}: the sum runs over all "
                f"entries instead of over the examples only; use np.sum(dZ, axis=1, "
                f"keepdims=True) / m")
        if parsed and parsed[0] == "b":
            dZ = ctx.dZ(parsed[1])
            if dZ is not None and m is not None:
                value = float(a.ravel()[0])
                for ref, how in ((np.sum(dZ) / m, "Σ of all of dZ, over m"),
                                 (np.mean(dZ), "the mean of all of dZ")):
                    if _equal(np.array([value]), np.array([ref])):
                        text += f" (the value is {how})"
                        details["verified"] = how
                        break
        return _Obs("wrong_axis", [name], text, details, None)
    text = f"{{what}} has shape {a.shape} but should be {e.shape}{_shape_meaning(name, e.shape)}"
    if parsed and parsed[0] == "W":
        l = parsed[1]
        if a.shape == (e.shape[0], e.shape[0]):
            text += f": it looks like A{l} (this layer's output) was used instead of A{l - 1}"
        elif m is not None and a.shape == (e.shape[0], m):
            text += (f": one column per example, so the product with A{l - 1}ᵀ (which sums over "
                     f"the examples) is missing")
    return _Obs("shape", [name], text, details, None)


# --------------------------------------------------------------------------- one array
def _as_array(value) -> tuple[np.ndarray | None, str | None]:
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError):
            return None, type(value).__name__
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        return None, f"{type(value).__name__} of dtype {arr.dtype}"
    return arr.astype(np.float64), None


def _expected_array(name: str, value) -> np.ndarray:
    arr, problem = _as_array(value)
    if arr is None:
        raise TypeError(f"expected[{name!r}] must be a real numeric array, got {problem}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"expected[{name!r}] contains NaN or infinity; the true gradient must "
                         f"be finite")
    return arr


def _diagnose_one(name: str, analytic, e: np.ndarray, ctx: _Ctx) -> _Obs | None:
    if analytic is None:
        return _Obs("missing", [name], f"{{what}} {{is}} missing: expected an array of shape "
                    f"{e.shape}", {}, ("missing",))
    a, problem = _as_array(analytic)
    if a is None:
        return _Obs("type", [name], f"{{what}} is a {problem}, not a numeric array of shape "
                    f"{e.shape}", {}, None)
    bad = ~np.isfinite(a)
    if np.any(bad):
        first = tuple(np.argwhere(bad)[0]) if a.ndim else ()
        return _Obs("nonfinite", [name], f"{{what}} contains {int(np.sum(bad))} NaN or infinite "
                    f"value(s), first at {_index(name, first)}: look for a division by zero or "
                    f"a log of 0 (e.g. saturated sigmoid outputs)", {"count": int(np.sum(bad))},
                    None)
    if a.shape != e.shape:
        return _shape_obs(name, a, e, ctx)
    return _value_obs(name, a, e, ctx)


def diagnose_array(name: str, analytic, expected, context: Mapping | None = None
                   ) -> Finding | None:
    """Diagnose one array: None if ``analytic`` equals ``expected`` up to rounding.

    Parameters
    ----------
    name : str
        The array's key, e.g. ``"dW2"`` (a layer index enables the network-aware recognisers),
        ``"dW"``, ``"AL"`` or ``"cost"``.
    analytic : array-like or None
        The value under test (None: missing). Any shape or content is diagnosed.
    expected : array-like
        The true value: a real, finite array (else ``TypeError``/``ValueError``).
    context : dict or None
        ``{"m", "net", "params", "cache", "X", "Y"}``, any of them absent or None.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    e = _expected_array(name, expected)
    ctx = _Ctx(context)
    ctx.observed = {name}
    md = ctx.model_for(name, e)
    if md is not None:  # exact where the caller's truth may be an estimate
        e = md.true[name]
    obs = _diagnose_one(name, analytic, e, ctx)
    return obs.finding() if obs is not None else None
