r"""Numerical instability told apart from a wrong derivative, and the mechanism named.

A correct derivative computed in an unstable form fails only where units saturate: it is
right wherever its answer is finite. For every mismatching case this module replays the
reference on the case's own forward pass (the reference's pre-activations :math:`Z_l` and
activations :math:`A_l`) with the output error :math:`dZ_L` formed as common code forms it,
and names the form whose gradients the answer reproduces (:func:`mechanisms`):

* **non-fused BCE** (unstable): :math:`dA = -(Y/A - (1-Y)/(1-A))`, :math:`dZ = dA\,\sigma'(Z)`:
  where :math:`\sigma(z)` rounds to exactly 0 or 1 it divides by zero (NaN), elsewhere it
  equals the fused :math:`A - Y`;
* **ε in the denominators**: :math:`-(Y/(A+\varepsilon) - (1-Y)/(1-A+\varepsilon))`, a near miss
  whose size matches ε (grid :data:`EPSILONS`);
* **a clip of probabilities** to :math:`[c, 1-c]` before that derivative, times the unclipped
  :math:`\sigma'`: where σ rounds to exactly 0 or 1 the gradient vanishes (σ′ = 0);
* **exp overflow** (unstable): a tanh layer with :math:`|z| > \tfrac12\ln(\text{max float})`
  (354.9 in float64), where :math:`(e^{2x}-1)/(e^{2x}+1)` is inf/inf = NaN, and an answer that
  is NaN there;
* **an approximated activation**: an error of about constant size on nearly every element
  of the wrong arrays, on ordinary data too (a lookup table, a polynomial).

:func:`assess` gives the report's verdict: *unstable* (:data:`VERDICT`, exit code
:data:`EXIT_UNSTABLE`) when every mismatching case is on saturated or extreme data, every
finite element of its answer matches the reference, and an unstable mechanism explains its
non-finite ones; cases on ordinary data compared and right.
"""

from __future__ import annotations

import copy

import numpy as np

__all__ = ["EXIT_UNSTABLE", "VERDICT", "EXTREME_FAMILIES", "EPSILONS", "CLIPS", "mechanisms",
           "assess"]

#: Exit code of "right where finite; unstable at saturation".
EXIT_UNSTABLE = 4
VERDICT = "right where finite; unstable at saturation"
#: The data families on which units saturate.
EXTREME_FAMILIES = ("saturated", "extreme")
#: The ε and clip bounds tried (float64 and float32 habits: 1e-7 is Keras's, 1e-8 Adam's).
EPSILONS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-12, 1e-15)
CLIPS = EPSILONS
_TANH_OVERFLOW = 0.5 * float(np.log(np.finfo(np.float64).max))  # 354.89…
_CLOSE = 1e-6  # relative to the array's largest entry: agreement of a replayed form


def _canonical(report) -> dict[str, np.ndarray] | None:
    """The answer in the canonical layout, as the engine judged it (None unless every array
    is a real array of the reference's shape)."""
    submitted = getattr(report, "submitted", None) or {}
    out = {}
    for k, want in report.case.grads.items():
        try:
            arr = np.asarray(submitted.get(k), dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if arr.shape != want.shape:
            return None
        out[k] = arr
    return out


def _error(got, want) -> float:
    """The largest difference relative to each array's largest finite entry; infinite when
    the two are not finite in the same places."""
    worst = 0.0
    for k in want:
        g, w = got[k], want[k]
        if not np.array_equal(np.isfinite(g), np.isfinite(w)):
            return float("inf")
        fin = np.isfinite(w)
        if fin.any():
            scale = max(float(np.max(np.abs(w[fin]))), 1e-300)
            worst = max(worst, float(np.max(np.abs(g[fin] - w[fin]))) / scale)
    return worst


def _replay(case, dZ) -> dict[str, np.ndarray]:
    """The reference's backward with the output error ``dZ`` given."""
    from gradref.reference.losses import Fused

    net = copy.copy(case.net)
    net._fused = Fused(value=None, dz=lambda z, a, y: dZ, doc="replayed")
    _, cache = case.net.forward(case.params, case.X)
    with np.errstate(all="ignore"):
        grads = net._backward(case.params, cache, case.Y, intermediates=False)
    return {k: grads[k] for k in case.grads}


def _bce_forms(case):
    """(name, dZ_L) for each non-fused form of the BCE output error after a sigmoid."""
    _, cache = case.net.forward(case.params, case.X)
    A, Y = cache[f"A{case.net.L}"], case.Y
    forms = []
    with np.errstate(all="ignore"):
        slope = A * (1.0 - A)
        forms.append(("nonfused", None, -(Y / A - (1.0 - Y) / (1.0 - A)) * slope))
        for eps in EPSILONS:
            forms.append(("epsilon", eps, -(Y / (A + eps) - (1.0 - Y) / (1.0 - A + eps)) * slope))
        for c in CLIPS:
            Ac = np.clip(A, c, 1.0 - c)
            forms.append(("clip", c, -(Y / Ac - (1.0 - Y) / (1.0 - Ac)) * slope))
    return A, forms


def _rounded(A) -> str:
    ones, zeros = int(np.sum(A == 1.0)), int(np.sum(A == 0.0))
    parts = [f"{n} to exactly {v}" for n, v in ((ones, 1), (zeros, 0)) if n]
    return " and ".join(parts) + f" of {A.size} output entries"


def mechanisms(report) -> list[tuple[str, bool, str]]:
    """``(name, unstable, sentence)`` for each mechanism the mismatching ``report`` shows."""
    if report.case is None or report.status != "mismatch":
        return []
    got = _canonical(report)
    if got is None:
        return []
    case, found = report.case, []
    net = case.net
    nonfinite = any(not np.isfinite(v).all() for v in got.values())
    _, cache = net.forward(case.params, case.X)
    for l, act in enumerate(net.activations, start=1):
        big = np.abs(cache[f"Z{l}"]) > _TANH_OVERFLOW
        if act.name == "tanh" and nonfinite and big.any():
            found.append(("exp_overflow", True,
                          f"tanh in layer {l} sees |z| up to {float(np.max(np.abs(cache[f'Z{l}']))):.4g}"
                          f" > {_TANH_OVERFLOW:.1f} on {int(big.sum())} entries, where e^(2z) "
                          f"overflows: tanh computed as (e^(2x)−1)/(e^(2x)+1) is inf/inf = NaN "
                          f"there; use np.tanh (or 1 − 2/(e^(2x)+1))"))
            break
    if not found and net.activations[-1].name == "sigmoid" and net.loss.name == "bce":
        A, forms = _bce_forms(case)
        reference = _error(got, case.grads)
        scored = sorted(((_error(got, _replay(case, dZ)), i) for i, (_, _, dZ)
                         in enumerate(forms)))
        fits = [forms[i] for e, i in scored if e <= _CLOSE and e < reference / 10]
        if len({name for name, _, _ in fits}) > 1 and "nonfused" not in [f[0] for f in fits]:
            found.append(("vanishing", False,
                          f"σ(z) rounded {_rounded(A)}, and the backward multiplies a finite "
                          f"dA by σ′ = σ(1−σ) = 0 there, so the gradient vanishes (a clip of "
                          f"the probabilities or an ε in the BCE denominators keeps dA finite); "
                          f"compute dZ = A − Y directly"))
            fits = []
        for name, value, _ in fits[:1]:
            if name == "nonfused":
                if not np.all([np.isfinite(v).all() for v in got.values()]):
                    found.append(("nonfused_bce", True,
                                  f"σ(z) rounded {_rounded(A)}, and the backward is the "
                                  f"non-fused dA = −(Y/A − (1−Y)/(1−A)) times σ′(z): it divides "
                                  f"by zero there (NaN), and is right everywhere else; compute "
                                  f"dZ = A − Y directly (sigmoid and BCE fused)"))
            elif name == "epsilon":
                found.append(("epsilon", False,
                              f"an ε = {value:g} added to the denominators of the BCE "
                              f"derivative (−(Y/(A+ε) − (1−Y)/(1−A+ε))): a near miss whose size "
                              f"matches ε; the fused dZ = A − Y needs no ε"))
            else:
                vanish = (f"; where σ(z) rounded {_rounded(A)} the gradient vanishes "
                          f"(× σ′ = 0)" if np.any((A == 0.0) | (A == 1.0)) else "")
                found.append(("clip", False,
                              f"the probabilities clipped to [{value:g}, 1 − {value:g}] before "
                              f"a non-fused BCE derivative{vanish}; compute dZ = A − Y "
                              f"directly"))
    if not found and not nonfinite:
        sentence = _approximated(got, case.grads)
        if sentence:
            found.append(("approximated", False, sentence))
    return found


def _approximated(got, want) -> str | None:
    """A small error of about constant size on nearly every element of the wrong arrays."""
    rels, fractions = [], []
    for k in want:
        g, w = got[k], want[k]
        scale = max(float(np.max(np.abs(w))), 1e-300)
        diff = np.abs(g - w) / scale
        if float(np.max(diff)) <= 1e-8:
            continue
        rels.append(float(np.max(diff)))
        fractions.append(float(np.mean(diff > 1e-7)))
    if not rels or max(rels) > 5e-2 or min(rels) < 1e-5 or min(fractions) < 0.75:
        return None
    return (f"every wrong array is off by a small error on nearly every element (relative "
            f"{min(rels):.1e} to {max(rels):.1e} of the array's scale): the signature of an "
            f"approximated activation (a lookup table, a polynomial, low precision), not a "
            f"formula slip; compute the activation and its derivative exactly")


def assess(report) -> dict | None:
    """The report's instability verdict (see the module docstring), or None."""
    failing = [c for c in report.cases if c.status == "mismatch"]
    if not failing or report.forward_bad:
        return None
    ordinary = [c for c in report.ran if c.data not in EXTREME_FAMILIES]
    if any(c.data not in EXTREME_FAMILIES for c in failing) or not ordinary:
        return None
    named = {}
    for c in failing:
        unstable = [m for m in mechanisms(c) if m[1]]
        if not unstable or not _finite_part_matches(c):
            return None
        named.setdefault(unstable[0][0], unstable[0][2])
    return {"verdict": VERDICT, "cases": [c.index for c in failing],
            "mechanisms": list(named.values())}


def _finite_part_matches(report) -> bool:
    got = _canonical(report)
    if got is None:
        return False
    for k, want in report.case.grads.items():
        fin = np.isfinite(got[k])
        scale = max(float(np.max(np.abs(want))), 1e-300)
        if np.any(np.abs(got[k][fin] - want[fin]) > _CLOSE * scale):
            return False
    return True
