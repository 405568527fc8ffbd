r"""Named mistakes of the CS231n assignment-2 layers, update rules and net (``layered-full``).

Each ``diagnose_*`` takes the grader's case (``built.quantities``: the inputs and the reference
outputs, row-major ``x`` (N, D), flat ``gamma``/``beta``; ``built.context``) and the student's
outputs ``got`` (``{output or dict key: float64 array}``), replays the classic mistakes of that
function on the case's inputs and returns the :class:`~gradref.checks.diagnosis.findings.Finding`
of each one that reproduces the student's answer (to ``MATCH_RTOL``), in the student's words
(``dx``, ``running_var``, ``config['t']``). Empty: no known mistake fits (the generic message
stands). The wrong formulas are restatements written here, never the reference's code:

* batch norm forward: the unbiased variance (÷ N − 1), ε outside the root, γ/β left out, the
  statistics over the wrong axis (per example: layer norm), test mode normalising with the batch
  statistics; the running averages with the momentum swapped, with the unbiased variance, not
  written back into ``bn_param``, or updated in test mode;
* layer norm forward: the statistics over the batch (axis 0), the unbiased variance, ε outside;
* backward (batch and layer norm): the terms through the mean or through the variance missing,
  the unbiased variance, ε outside the root, the means over the wrong axis, γ taken out of
  layer norm's means, dgamma without x̂,
  dgamma/dbeta summed over the features instead of the examples;
* dropout: the mask not rescaled by 1/p, p read as the drop probability while dividing by p
  (or the reverse), the mask multiplied by p, nothing dropped, test mode still dropping; the
  backward without the mask, or rescaled a second time;
* update rules: :func:`~gradref.checks.diagnosis.optimizers.diagnose_step` (Adam without the
  bias correction, t used before its increment, ε inside the root, the velocity's sign …) plus
  the velocity stored with the opposite sign convention;
* FullyConnectedNet: the L2 term with a 1/N, without the ½, on the biases (and γ, β) too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from ..tolerances import DIAGNOSIS_MATCH_RTOL as MATCH_RTOL
from .findings import Finding
from .optimizers import diagnose_step

__all__ = ["diagnose_batchnorm_forward", "diagnose_layernorm_forward", "diagnose_norm_backward",
           "diagnose_dropout_forward", "diagnose_dropout_backward", "dropout_forward_problem",
           "diagnose_update", "diagnose_fc_net", "read_mask", "NORM_FORWARD_MISTAKES",
           "NORM_BACKWARD_MISTAKES"]

#: Loose enough for another order of operations, tight enough that a mistake never fits by chance.
_RTOL = max(MATCH_RTOL, 1e-8)


def _same(a: object, e: object) -> bool:
    if a is None or e is None:
        return False
    a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if a.shape != e.shape:
        if a.size != e.size:
            return False
        a = a.reshape(e.shape)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))):
        return False
    scale = float(np.max(np.abs(e), initial=0.0))
    return float(np.max(np.abs(a - e), initial=0.0)) <= _RTOL * scale + MATCH_ATOL


def _first(candidates, got: Mapping, names: tuple[str, ...], kind: str, subject: str,
           right: Mapping) -> list[Finding]:
    """The first candidate ``(id, text, outputs)`` whose outputs reproduce every wrong answer
    in ``got`` (and, for the outputs it does not change, the right ones)."""
    wrong = [k for k in names if k in got and not _same(got[k], right.get(k))]
    if not wrong:
        return []
    for cid, text, outputs in candidates:
        if outputs is None:
            continue
        if all(k in outputs and _same(got[k], outputs[k]) for k in wrong) and all(
                _same(got[k], outputs.get(k, right.get(k))) for k in names if k in got):
            return [Finding(tuple(wrong), kind, f"{subject}: {text}", {"candidate": cid})]
    return []


# --------------------------------------------------------------------------- normalisation
def _stats(x, axis, unbiased=False):
    mu = x.mean(axis=axis, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=axis, keepdims=True) / (x.shape[axis] - (1 if unbiased else 0))
    return mu, var


def _normalise(x, gamma, beta, axis, eps, *, unbiased=False, eps_outside=False, affine=True,
               stats=None):
    mu, var = stats if stats is not None else _stats(x, axis, unbiased)
    with np.errstate(divide="ignore", invalid="ignore"):
        xhat = (x - mu) / ((np.sqrt(var) + eps) if eps_outside else np.sqrt(var + eps))
    return gamma * xhat + beta if affine else xhat


def _norm_case(built):
    q = built.quantities
    param = q.get("bn_param", q.get("ln_param", {}))
    return q, param.get("eps", 1e-5)


#: The forward mistakes: id -> (sentence, {layer: axis override or flags}).
NORM_FORWARD_MISTAKES = {
    "unbiased_variance": "the variance is the unbiased one (divided by N - 1, np.var(x, ddof=1) or "
                         "np.std(..., ddof=1)); normalisation uses the biased variance, divided "
                         "by the number of entries averaged (np.var(x) as it is)",
    "eps_outside_root": "eps is outside the square root: xhat = (x - mean) / sqrt(var + eps), "
                        "not / (sqrt(var) + eps)",
    "no_affine": "gamma and beta are not applied: out = gamma * xhat + beta",
    "wrong_axis": "the statistics run over the wrong axis",
}


def _norm_forward_candidates(built, axis: int):
    q, eps = _norm_case(built)
    x, g, b = q["x"], q["gamma"], q["beta"]
    other = 1 - axis
    return [
        ("unbiased_variance", NORM_FORWARD_MISTAKES["unbiased_variance"],
         {"out": _normalise(x, g, b, axis, eps, unbiased=True)} if x.shape[axis] > 1 else None),
        ("eps_outside_root", NORM_FORWARD_MISTAKES["eps_outside_root"],
         {"out": _normalise(x, g, b, axis, eps, eps_outside=True)}),
        ("no_affine", NORM_FORWARD_MISTAKES["no_affine"],
         {"out": _normalise(x, g, b, axis, eps, affine=False)}),
        ("wrong_axis", NORM_FORWARD_MISTAKES["wrong_axis"] + (
            ": batch norm averages each feature (column) over the N examples, axis=0; axis=1 "
            "normalises each example over its features, which is layer norm" if axis == 0 else
            ": layer norm averages each example (row) over its D features, axis=1; axis=0 "
            "normalises each feature over the batch, which is batch norm"),
         {"out": _normalise(x, g, b, other, eps)}),
    ]


def diagnose_batchnorm_forward(built, got: Mapping) -> list[Finding]:
    q, eps = _norm_case(built)
    x, g, b, param = q["x"], q["gamma"], q["beta"], q["bn_param"]
    mode = param["mode"]
    subject = "batchnorm_forward"
    findings = []
    if mode == "train":
        findings += _first(_norm_forward_candidates(built, 0), got, ("out",), "normalization",
                           subject, q)
    else:
        D = x.shape[1]
        stats = (np.asarray(param.get("running_mean", np.zeros(D))),
                 np.asarray(param.get("running_var", np.zeros(D))))
        findings += _first([
            ("test_uses_batch", "in test mode the output must use the running averages "
             "bn_param['running_mean'] and bn_param['running_var'], not the statistics of the "
             "test batch", {"out": _normalise(x, g, b, 0, eps)}),
            ("test_no_affine", "in test mode gamma and beta are not applied: out = gamma * "
             "(x - running_mean) / sqrt(running_var + eps) + beta",
             {"out": _normalise(x, g, b, 0, eps, affine=False, stats=stats)}),
            ("test_eps_outside", NORM_FORWARD_MISTAKES["eps_outside_root"] + " (test mode)",
             {"out": _normalise(x, g, b, 0, eps, eps_outside=True, stats=stats)}),
        ], got, ("out",), "normalization", subject, q)
    # the running averages written back into bn_param
    D = x.shape[1]
    mom = param.get("momentum", 0.9)
    rm0 = np.asarray(param.get("running_mean", np.zeros(D)), dtype=np.float64)
    rv0 = np.asarray(param.get("running_var", np.zeros(D)), dtype=np.float64)
    mu, var = _stats(x, 0)
    _, var_u = _stats(x, 0, unbiased=True) if x.shape[0] > 1 else (None, None)
    right = q["bn_param_after"]
    keys = ("running_mean", "running_var")
    cands = [("not_written", "the running averages are not written back into bn_param: the "
              "function must store bn_param['running_mean'] and bn_param['running_var'] (the "
              "template does it at the end) so the next call and test mode can use them",
              {"running_mean": rm0, "running_var": rv0})]
    if mode == "train":
        cands += [
            ("momentum_swapped", "the momentum is applied to the wrong term: running = momentum "
             "* running + (1 - momentum) * batch statistic, not momentum * batch + (1 - "
             "momentum) * running",
             {"running_mean": (mom * mu + (1 - mom) * rm0).ravel(),
              "running_var": (mom * var + (1 - mom) * rv0).ravel()}),
            ("running_var_unbiased", "the running variance averages the unbiased batch variance "
             "(N - 1); the course averages the biased variance the batch was normalised with",
             None if var_u is None else {"running_var": (mom * rv0 + (1 - mom) * var_u.ravel())}),
            ("running_std", "the running average is of the standard deviation, not the variance",
             {"running_var": mom * rv0 + (1 - mom) * np.sqrt(var).ravel()}),
        ]
    else:
        cands += [("updated_in_test", "the running averages were updated in test mode: only "
                   "train mode changes them",
                   {"running_mean": (mom * rm0 + (1 - mom) * mu.ravel()),
                    "running_var": (mom * rv0 + (1 - mom) * var.ravel())})]
    findings += _first(cands, got, keys, "normalization", subject, right)
    return findings


def diagnose_layernorm_forward(built, got: Mapping) -> list[Finding]:
    return _first(_norm_forward_candidates(built, 1), got, ("out",), "normalization",
                  "layernorm_forward", built.quantities)


def _norm_backward(x, gamma, dout, axis, eps, *, mean_terms=True, var_terms=True,
                   unbiased=False, eps_outside=False):
    """The backward of out = gamma * (x - mu) / s + beta along ``axis`` (restated, with the
    chosen terms), s = sqrt(var + eps) or sqrt(var) + eps."""
    n = x.shape[axis]
    mu, var = _stats(x, axis, unbiased)
    xc = x - mu
    sd = np.sqrt(var)
    s = sd + eps if eps_outside else np.sqrt(var + eps)
    G = dout * gamma
    dxhat_direct = G / s
    # d s / d var
    with np.errstate(divide="ignore", invalid="ignore"):
        ds_dvar = 1.0 / (2 * sd) if eps_outside else 1.0 / (2 * s)
    dvar = np.sum(G * xc, axis=axis, keepdims=True) * (-1.0 / s ** 2) * ds_dvar
    denom = n - 1 if unbiased else n
    dx = dxhat_direct
    if var_terms:
        dx = dx + dvar * 2 * xc / denom
    if mean_terms:
        dx = dx - np.sum(dxhat_direct, axis=axis, keepdims=True) / n
    return dx


NORM_BACKWARD_MISTAKES = {
    "no_mean_terms": "dx is missing the terms through the mean: mu depends on every entry it "
                     "averages, so dx needs - mean(dxhat) (the gradient flowing back through "
                     "mu)",
    "no_var_terms": "dx is missing the terms through the variance: var depends on every entry it "
                    "averages, so dx needs - xhat * mean(dxhat * xhat) (the gradient flowing "
                    "back through var)",
    "no_stat_terms": "dx treats the mean and the variance as constants: dx = gamma * dout / "
                     "sqrt(var + eps) is the test-mode gradient; in train mode both statistics "
                     "depend on x",
    "unbiased_variance": "dx is the gradient of a normalisation by the unbiased variance "
                         "(N - 1); the forward uses the biased one (divided by N)",
    "eps_outside_root": "dx is the gradient of (x - mean) / (sqrt(var) + eps): eps goes inside "
                        "the square root",
    "wrong_axis": "the means in dx run over the wrong axis",
    "gamma_factored_out": "gamma is taken out of the means: in layer norm gamma varies along "
                          "the normalised axis (one per feature), so the means must be of "
                          "gamma * dout, not gamma times the means of dout (batch norm's "
                          "closed form may factor it out, layer norm's may not)",
    "dgamma_no_xhat": "dgamma is the sum of dout without xhat: dgamma = sum(dout * xhat, "
                      "axis=0)",
    "dgamma_dbeta_axis": "dgamma and dbeta are summed over the features (axis=1) instead of "
                         "over the examples (axis=0)",
}


def diagnose_norm_backward(built, got: Mapping) -> list[Finding]:
    q, eps = _norm_case(built)
    layer = built.context.get("layer", "batchnorm")
    axis = 0 if layer == "batchnorm" else 1
    x, gamma, dout = q["x"], q["gamma"], q["dout"]
    name = "batchnorm_backward" if layer == "batchnorm" else "layernorm_backward"

    def dx(**kw):
        return {"dx": _norm_backward(x, gamma, dout, axis, eps, **kw)}

    axis_text = NORM_BACKWARD_MISTAKES["wrong_axis"] + (
        ": layer norm averages over each row's features (axis=1), not over the batch"
        if layer == "layernorm" else ": batch norm averages over the examples (axis=0)")
    mu, var = _stats(x, axis)
    xhat = (x - mu) / np.sqrt(var + eps)
    cands = [
        ("no_mean_terms", NORM_BACKWARD_MISTAKES["no_mean_terms"], dx(mean_terms=False)),
        ("no_var_terms", NORM_BACKWARD_MISTAKES["no_var_terms"], dx(var_terms=False)),
        ("no_stat_terms", NORM_BACKWARD_MISTAKES["no_stat_terms"],
         dx(mean_terms=False, var_terms=False)),
        ("unbiased_variance", NORM_BACKWARD_MISTAKES["unbiased_variance"],
         dx(unbiased=True) if x.shape[axis] > 1 else None),
        ("eps_outside_root", NORM_BACKWARD_MISTAKES["eps_outside_root"], dx(eps_outside=True)),
        ("wrong_axis", axis_text,
         {"dx": _norm_backward(x, gamma, dout, 1 - axis, eps)}),
        ("gamma_factored_out", NORM_BACKWARD_MISTAKES["gamma_factored_out"],
         {"dx": gamma * _norm_backward(x, np.ones_like(gamma), dout, axis, eps)}
         if layer == "layernorm" else None),
        ("dgamma_no_xhat", NORM_BACKWARD_MISTAKES["dgamma_no_xhat"], {"dgamma": dout.sum(axis=0)}),
        ("dgamma_dbeta_axis", NORM_BACKWARD_MISTAKES["dgamma_dbeta_axis"],
         {"dgamma": (dout * xhat).sum(axis=1), "dbeta": dout.sum(axis=1)}),
    ]
    found = []
    for cand in cands:      # dx and the parameter gradients are told apart: one finding each
        found += _first([cand], got, ("dx", "dgamma", "dbeta"), "normalization", name, q)
        if found:
            break
    return found


# --------------------------------------------------------------------------- dropout
def read_mask(x: np.ndarray, out: object) -> tuple[np.ndarray | None, float | None]:
    """``(kept, scale)``: the mask a dropout output ``out`` of ``x`` was drawn with (its
    non-zero entries) and the one factor every kept entry was multiplied by (scale 1/q for a
    keep probability q); scale None when ``out`` is not ``x`` times such a mask (kept None when
    it is not even an array of x's shape with finite values)."""
    out = np.asarray(out, dtype=np.float64)
    if out.shape != x.shape or not np.all(np.isfinite(out)):
        return None, None
    kept = out != 0
    if not kept.any():
        return kept, None
    ratio = out[kept] / x[kept]
    scale = float(np.median(ratio))
    return kept, scale if np.allclose(ratio, scale, rtol=1e-6, atol=0.0) else None



def dropout_forward_problem(x: np.ndarray, p: float, got: np.ndarray) -> str:
    """What is wrong with a train-mode dropout output ``got`` of ``x`` with ``p`` (a sentence
    naming the mistake when one fits)."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != x.shape:
        return f"shape {got.shape}, expected {x.shape}"
    kept, scale = read_mask(x, got)
    if kept is None:
        return "it holds NaN or infinity"
    frac = float(kept.mean())
    n = kept.size
    if np.all(kept) and _same(got, x):
        return ("nothing was dropped: out equals x (train mode must zero each unit with "
                "probability 1 - p and scale the rest by 1/p)")
    if scale is None:
        return ("the kept entries are not x times one common factor: out = x * mask with mask "
                "= (np.random.rand(*x.shape) < p) / p")

    def near(q):
        return abs(frac - q) <= 5.0 * np.sqrt(q * (1 - q) / n) + 1.0 / n

    keep_p, keep_1mp = near(p), near(1 - p)
    fraction = f"kept fraction {frac:.3f}, factor {scale:.4g}; p = {p:g}"
    shared = ""
    if kept.shape[0] > 1 and np.all(kept == kept[:1]):
        shared = ("; besides, every example (row) got the same mask (np.random.rand(1, D)): "
                  "draw one entry per unit and example, np.random.rand(*x.shape)")
    return _dropout_text(p, scale, keep_p, keep_1mp, fraction) + shared


def _dropout_text(p, scale, keep_p, keep_1mp, fraction) -> str:
    if np.isclose(scale, 1.0) and (keep_p or keep_1mp):
        return (f"the mask is not rescaled ({fraction}): inverted dropout divides the kept "
                f"units by p, mask = (np.random.rand(*x.shape) < p) / p, so that test mode "
                f"needs no scaling")
    if np.isclose(scale, p) and (keep_p or keep_1mp):
        return (f"the kept units are multiplied by p instead of divided by it ({fraction}): "
                f"mask = (np.random.rand(*x.shape) < p) / p")
    if keep_1mp and np.isclose(scale, 1.0 / p):
        return (f"drop and keep are confused ({fraction}): units are kept with probability "
                f"1 - p but divided by p; from 2018 p is the keep probability: mask = "
                f"(np.random.rand(*x.shape) < p) / p")
    if keep_p and np.isclose(scale, 1.0 / (1.0 - p)):
        return (f"drop and keep are confused ({fraction}): units are kept with probability p "
                f"but divided by 1 - p; keep with probability p and divide by p")
    return f"the mask does not have keep probability p ({fraction})"


def diagnose_dropout_forward(built, got: Mapping) -> list[Finding]:
    q = built.quantities
    if "out" not in got:
        return []
    x, param = q["x"], q["dropout_param"]
    if param["mode"] == "test":
        if _same(got["out"], x):
            return []
        kept, scale = read_mask(x, got["out"])
        if scale is not None and (not np.all(kept) or scale != 1.0):
            return [Finding(("out",), "dropout", "dropout_forward: test mode must return x "
                            "unchanged (inverted dropout did its scaling in train mode): no "
                            "mask and no factor at test time")]
        return []
    text = dropout_forward_problem(x, param["p"], got["out"])
    return [Finding(("out",), "dropout", f"dropout_forward: {text}")]


def diagnose_dropout_backward(built, got: Mapping) -> list[Finding]:
    q = built.quantities
    if "dx" not in got or q["dropout_param"]["mode"] != "train":
        if "dx" in got and not _same(got["dx"], q["dout"]):
            return [Finding(("dx",), "dropout", "dropout_backward: in test mode dx = dout (the "
                            "forward was the identity)")]
        return []
    dout, kept, scale = q["dout"], built.context.get("kept"), built.context.get("scale")
    if kept is None:
        return []
    cands = [("no_mask", "dx ignores the mask: the dropped units must get no gradient, dx = dout "
              "* mask", {"dx": dout * scale}),
             ("no_mask_no_scale", "dx = dout: the mask is missing from the backward (dx = dout "
              "* mask, the mask as the forward stored it)", {"dx": dout}),
             ("scaled_twice", "dx is rescaled a second time: the cached mask already holds the "
              "1/p, so dx = dout * mask", {"dx": dout * kept * scale * scale}),
             ("unscaled", "dx misses the 1/p the forward applied: dx = dout * mask with the "
              "mask / p of the forward", {"dx": dout * kept})]
    return _first(cands, got, ("dx",), "dropout", "dropout_backward", q)


# --------------------------------------------------------------------------- update rules
def diagnose_update(built, got: Mapping) -> list[Finding]:
    q, ctx = built.quantities, built.context
    rule, hyper, state, keys = ctx["rule"], ctx["hyper"], ctx["state"], ctx["keys"]
    if "next_w" not in got:
        return []
    new_state = None
    if rule != "sgd" and all(k in got for k in keys):
        new_state = {"t": int(got["t"]) if "t" in got and np.ndim(got["t"]) == 0 else
                     state["t"] + 1}
        for key, slot in keys.items():
            new_state[slot] = {"w": got[key]}
    found = diagnose_step(rule, {"w": q["w"]}, {"dw": q["dw"]}, state, {"w": got["next_w"]},
                          new_state, **hyper)
    if rule == "sgd_momentum" and "velocity" in got and _same(got["next_w"], q["next_w"]) \
            and _same(got["velocity"], -q["next_config"]["velocity"]):
        return [Finding(("velocity",), "step_state", "sgd_momentum: the velocity is stored with "
                        "the opposite sign (v = mu * v + learning_rate * dw, w - v): next_w is "
                        "right, but the course's convention is v = mu * v - learning_rate * dw, "
                        "next_w = w + v, and the returned config['velocity'] is read as that")]
    if rule == "sgd_momentum":
        mu, lr = hyper["momentum"], hyper["learning_rate"]
        v = mu * state["v"]["w"] + lr * q["dw"]
        if _same(got["next_w"], q["w"] + v):
            return [Finding(("next_w",), "step_mistake", "sgd_momentum: the gradient enters the "
                            "velocity with the wrong sign (v = mu * v + learning_rate * dw, then "
                            "w + v climbs uphill): v = mu * v - learning_rate * dw, next_w = w + v")]
    out = []
    for f in found:
        if f.kind == "step_mismatch":
            continue
        text = f.message.replace("state", "config").replace("['w']", "")
        for slot, key in ((s, k) for k, s in keys.items()):
            text = text.replace(f"returned {slot}", f"returned config['{key}']")
        out.append(Finding(("next_w",), f.kind, text, f.details))
    return out


# --------------------------------------------------------------------------- the net
def diagnose_fc_net(built, got: Mapping) -> list[Finding]:
    """The L2 term's classic mistakes in FullyConnectedNet.loss, replayed on the reference's
    loss and gradients (the data term is the reference's; only the regulariser changes)."""
    q, ctx = built.quantities, built.context
    reg, N = ctx.get("reg", 0.0), ctx.get("m")
    if not reg or "loss" not in q:
        return []
    params, loss, grads = q["params"], q["loss"], q["grads"]
    W = {k: v for k, v in params.items() if k[:1] == "W"}
    others = {k: v for k, v in params.items() if k[:1] != "W"}
    l2 = 0.5 * reg * sum(float(np.sum(w ** 2)) for w in W.values())

    def variant(loss_l2: float, w_factor: float, extra: Mapping[str, float]) -> dict:
        out = {"loss": loss - l2 + loss_l2}
        for k, g in grads.items():
            if k in W:
                out[k] = g - reg * W[k] + w_factor * W[k]
            elif k in extra:
                out[k] = g + extra[k] * params[k]
            else:
                out[k] = g
        return out

    biases = {k: reg for k in others if k[:1] == "b" and k[1:].isdigit()}
    everything = {k: reg for k in others}
    b_l2 = 0.5 * reg * sum(float(np.sum(v ** 2)) for k, v in others.items() if k in biases)
    other_l2 = 0.5 * reg * sum(float(np.sum(v ** 2)) for v in others.values())
    cands = [
        ("l2_over_N", "the L2 term is divided by N: the course's regulariser is 0.5 * reg * "
         "sum(W**2) with no 1/N (the data loss is already averaged), and its gradient reg * W",
         variant(l2 / N, reg / N, {})),
        ("l2_no_half", "the L2 loss misses the 0.5: loss += 0.5 * reg * sum(W**2), whose "
         "gradient is reg * W", variant(2 * l2, reg, {})),
        ("l2_no_half_grad", "the L2 gradient has a factor 2: with loss += 0.5 * reg * sum(W**2) "
         "the gradient is reg * W, not 2 * reg * W", variant(l2, 2 * reg, {})),
        ("l2_on_biases", "the biases are regularised too: L2 applies to the weights W only, "
         "not to b (nor gamma, beta)", variant(l2 + b_l2, reg, biases)),
        ("l2_on_biases_grad", "reg * b was added to the bias gradients: L2 applies to the "
         "weights W only", variant(l2, reg, biases)),
        ("l2_on_all", "every parameter is regularised (b, gamma and beta too): L2 applies to "
         "the weights W only", variant(l2 + other_l2, reg, everything)),
        ("l2_on_all_grad", "reg * param was added to the gradients of b, gamma and beta: L2 "
         "applies to the weights W only", variant(l2, reg, everything)),
        ("l2_missing", "the L2 term is missing (loss += 0.5 * reg * sum(W**2), dW += reg * W)",
         variant(0.0, 0.0, {})),
    ]
    for skip in sorted(W, key=lambda k: int(k[1:])):     # one layer's W left out of the L2 term
        out = variant(l2 - 0.5 * reg * float(np.sum(W[skip] ** 2)), reg, {})
        out[skip] = grads[skip] - reg * W[skip]
        cands.append((f"l2_missing_{skip}", f"{skip} is left out of the L2 term (loss and "
                      f"gradient): every layer's weights W1 … W{len(W)} are regularised (a "
                      f"range(1, num_layers) that stops one layer short?)", out))
    names = tuple(k for k in ("loss", *grads) if k in got)
    found = _first(cands, got, names, "l2_wrong", "FullyConnectedNet.loss", {**grads,
                                                                           "loss": loss})
    if found and found[0].details.get("candidate", "").startswith(("l2_on_biases", "l2_on_all")):
        return [Finding(found[0].names, "l2_bias", found[0].message, found[0].details)]
    return found


def _shapes(built, got: Mapping) -> list[Finding]:
    """An output of the right values in another shape ((1, D) for (D,)): said in the student's
    own shapes (the generic diagnosis reads arrays in the column-major layout)."""
    out = []
    for key, value in got.items():
        expected = built.quantities.get(key)
        if not isinstance(expected, np.ndarray) or np.shape(value) == expected.shape:
            continue
        if np.size(value) == expected.size and _same(np.reshape(value, expected.shape), expected):
            out.append(Finding((key,), "keepdims", f"{key} has shape {np.shape(value)}, expected "
                               f"{expected.shape}: the values are right (a sum with keepdims=True, "
                               f"or a reshape, left an extra axis)"))
    return out


def _with_shapes(diagnose: Callable) -> Callable:
    def run(built, got: Mapping) -> list[Finding]:
        return _shapes(built, got) or diagnose(built, got)
    run.__name__ = run.__qualname__ = diagnose.__name__
    run.__doc__ = diagnose.__doc__
    return run


for _name in ("diagnose_batchnorm_forward", "diagnose_layernorm_forward", "diagnose_norm_backward",
              "diagnose_dropout_forward", "diagnose_dropout_backward", "diagnose_update"):
    globals()[_name] = _with_shapes(globals()[_name])
del _name

#: The functions above, by the computation they diagnose (for the registry's docs).
DIAGNOSES: dict[str, Callable] = {
    "batchnorm_forward": diagnose_batchnorm_forward, "layernorm_forward": diagnose_layernorm_forward,
    "batchnorm_backward": diagnose_norm_backward, "layernorm_backward": diagnose_norm_backward,
    "dropout_forward": diagnose_dropout_forward, "dropout_backward": diagnose_dropout_backward,
    "cs231n_update": diagnose_update, "fc_net_layers": diagnose_fc_net,
}
