r"""Part 2: the gradient checker against the naive loop and ``torch.autograd.gradcheck``.

The problem at every size is the same kind of network as part 1 (ReLU hidden layers, sigmoid
output, mean BCE) with a *correct* gradient: the reference's own ``dW_l``, ``db_l``. Accuracy is
measured against that gradient :math:`g` (itself verified against autograd by the test suite):

* elementwise methods: the scaled maximum error :math:`\max_i |n_i - g_i| / \max_i |g_i|` over
  the elements they estimate (all, or the sample);
* directional methods: :math:`|n_v - g\cdot v| / |g\cdot v|` for their direction(s) :math:`v`,
  where the method exposes them;

plus each method's verdict on the correct gradient (a failure would be a false alarm). Cost is
wall time and *evaluations* of the cost function as each method counts them (the naive loop and
gradcheck: full forward passes; gradref's fast full mode: perturbed copies, each costing only
the layers above the perturbed parameter).

Methods:

* ``naive``: :func:`naive_loop`, written here: for each parameter element, two full forward
  passes from the input through the reference's unchecked core (``net._forward``,
  ``net._cost``), central difference with :math:`h = \varepsilon^{1/3}\max(1, |\theta_i|)`.
  At large P it is timed on a random subset of elements and extrapolated linearly (every
  element costs the same two forward passes).
* ``gradref_full``, ``gradref_sampled``, ``gradref_directional``: ``gradref.checks.api.check_network``
  in each mode.
* ``gradcheck_slow``, ``gradcheck_fast``: ``torch.autograd.gradcheck`` (float64, default
  ``eps``/``atol``/``rtol``) with the cost written in torch as in :mod:`bench.peers`. Slow mode
  at large P is timed with a subset of elements as its inputs (first-layer biases; the other
  parameters constants) and extrapolated linearly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from . import peers
from .timing import time_once

__all__ = ["SIZES", "LARGE", "Problem", "make_problem", "naive_loop", "naive_same_estimate_run",
           "scaled_error",
           "GradcheckLog", "gradcheck_run", "gradref_run", "planted_localisation",
           "CheckerUnavailable", "run_checker"]

#: name -> (layer sizes, m); P = number of parameters
SIZES: dict[str, tuple[list[int], int]] = {
    "P100": ([4, 8, 6, 1], 64),               # 101
    "P1k": ([10, 32, 20, 1], 64),             # 1,033
    "P10k": ([100, 80, 24, 1], 64),           # 10,049
    "P1M": ([784, 1024, 192, 10], 16),        # 1,002,570
}
#: the full check and the planted error of the brief: P = 669,706
LARGE: tuple[list[int], int] = ([784, 512, 512, 10], 16)


class CheckerUnavailable(RuntimeError):
    """gradref's checker API (or a mode of it) cannot be used; the message says why."""


class Problem:
    """A network, parameters, a batch and the correct gradient, in NumPy and as flat vectors."""

    def __init__(self, layer_sizes: Sequence[int], m: int, seed: int = 0,
                 hidden: str = "relu") -> None:
        from gradref.reference import Network

        self.layer_sizes = list(layer_sizes)
        self.m = m
        self.hidden = hidden
        self.net = Network(self.layer_sizes,
                           [hidden] * (len(layer_sizes) - 2) + ["sigmoid"], "bce")
        plist = peers.init_mlp(layer_sizes, seed)
        self.names = [f"{p}{l}" for l in range(1, self.net.L + 1) for p in "Wb"]
        self.params = dict(zip(self.names, plist, strict=True))
        self.X, self.Y = peers.random_batch(layer_sizes, m, seed + 1)
        self.J, grads = self.net.gradients(self.params, self.X, self.Y, intermediates=False)
        self.grads = {k: grads["d" + k] for k in self.names}
        self.P = self.net.n_params
        self.scale = max(float(np.max(np.abs(g))) for g in self.grads.values())

    def flat_grad(self) -> np.ndarray:
        return np.concatenate([self.grads[k].ravel() for k in self.names])

    def offsets(self) -> dict[str, int]:
        out, off = {}, 0
        for k in self.names:
            out[k] = off
            off += self.params[k].size
        return out


def make_problem(layer_sizes: Sequence[int], m: int, seed: int = 0,
                 hidden: str = "relu") -> Problem:
    return Problem(layer_sizes, m, seed, hidden)


# --------------------------------------------------------------------------- naive loop
def naive_loop(problem: Problem, indices: Mapping[str, np.ndarray] | None = None
               ) -> tuple[dict[str, np.ndarray], int]:
    """Central differences, one parameter element at a time, each evaluation a full forward
    pass from the input. Returns ``({name: estimates at the flat indices}, evaluations)``;
    ``indices`` maps names to flat indices (default: every element of every array)."""
    net, X, Y = problem.net, problem.X, problem.Y
    P = {k: v.copy() for k, v in problem.params.items()}
    rel = np.finfo(np.float64).eps ** (1.0 / 3.0)
    out, evaluations = {}, 0
    for name in P:
        flat = P[name].reshape(-1)  # a view: writes perturb P[name]
        idx = np.arange(flat.size) if indices is None else np.asarray(indices.get(name, []), int)
        est = np.empty(idx.size)
        for c, i in enumerate(idx):
            v = flat[i]
            h = rel * max(1.0, abs(v))
            flat[i] = v + h
            hp = flat[i] - v
            Jp = net._cost(P, net._forward(P, X)[1], Y)
            flat[i] = v - h
            hm = v - flat[i]
            Jm = net._cost(P, net._forward(P, X)[1], Y)
            flat[i] = v
            est[c] = (Jp - Jm) / (hp + hm)
        evaluations += 2 * idx.size
        out[name] = est
    return out, evaluations


def scaled_error(problem: Problem, numeric: Mapping[str, np.ndarray],
                 indices: Mapping[str, np.ndarray] | None = None) -> float:
    r""":math:`\max_i |n_i - g_i| / \max_i |g_i|` over the estimated elements."""
    worst = 0.0
    for name, est in numeric.items():
        g = problem.grads[name].ravel()
        g = g if indices is None else g[np.asarray(indices[name], int)]
        if est.size:
            worst = max(worst, float(np.max(np.abs(est - g))))
    return worst / problem.scale


def random_indices(problem: Problem, k: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``k`` distinct parameter elements drawn uniformly over all P, as per-array flat indices."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(problem.P, size=min(k, problem.P), replace=False))
    out = {}
    for name, off in problem.offsets().items():
        size = problem.params[name].size
        sel = pick[(pick >= off) & (pick < off + size)] - off
        out[name] = sel
    return out


def naive_run(problem: Problem, *, subset: int | None = None, repeats: int = 1) -> dict:
    """Time the naive loop on every element, or on ``subset`` random elements and extrapolate."""
    indices = None if subset is None or subset >= problem.P else random_indices(problem, subset)
    timing, (numeric, evaluations) = time_once(lambda: naive_loop(problem, indices), repeats)
    done = sum(len(v) for v in numeric.values())
    factor = problem.P / done
    return {"seconds": timing.median * factor, "timing": timing.to_dict(),
            "elements_timed": done, "extrapolated": factor != 1.0,
            "evaluations": int(round(evaluations * factor)),
            "error": scaled_error(problem, numeric, indices), "passed": None,
            "note": (f"timed on {done} random elements of {problem.P}, extrapolated x{factor:.1f}"
                     if factor != 1.0 else "")}


def naive_same_estimate_run(problem: Problem, *, subset: int | None = None,
                            repeats: int = 1) -> dict:
    """The naive loop that gives what gradref's full mode gives: the same steps (h and h/2,
    4 forward passes from the input per element) and the same per-element error estimate
    (``gradref.checks.network_fd.naive_elementwise``). Timed on every element, or on ``subset`` random
    elements and extrapolated."""
    from gradref.checks.network_fd import naive_elementwise

    net, params = problem.net, problem.params
    indices = None if subset is None or subset >= problem.P else random_indices(problem, subset)

    def once():
        return naive_elementwise(net, params, problem.X, problem.Y, indices=indices)

    timing, estimates = time_once(once, repeats)
    numeric = {k: e.numeric for k, e in estimates.items()}
    done = sum(len(v) for v in numeric.values())
    factor = problem.P / done
    return {"seconds": timing.median * factor, "timing": timing.to_dict(),
            "elements_timed": done, "extrapolated": factor != 1.0,
            "evaluations": int(round(4 * done * factor)),
            "error": scaled_error(problem, numeric, indices), "passed": None,
            "note": "same steps and error estimate as gradref's full mode"
                    + (f"; timed on {done} random elements of {problem.P}, extrapolated "
                       f"x{factor:.1f}" if factor != 1.0 else "")}


# --------------------------------------------------------------------------- torch gradcheck
class GradcheckLog:
    """Wraps the torch cost for gradcheck: counts calls and keeps each output (a 0-d tensor),
    so that slow mode's central differences can be re-read afterwards for the accuracy."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.outputs: list = []

    def __call__(self, *args):
        out = self.fn(*args)
        self.outputs.append(out.detach())
        return out

    @property
    def calls(self) -> int:
        return len(self.outputs)

    def slow_mode_numeric(self, n: int, eps: float) -> np.ndarray | None:
        """Slow mode perturbs each input element by -eps then +eps, in order, after one
        unperturbed call; the estimates are (f(+) - f(-)) / 2eps. None if the log does not
        have that shape."""
        if self.calls < 1 + 2 * n:
            return None
        vals = np.array([float(o) for o in self.outputs[1:1 + 2 * n]])
        return (vals[1::2] - vals[0::2]) / (2.0 * eps)


_WARM = False


def _warm_up_gradcheck(torch) -> None:
    """gradcheck's first call in a process pays one-off costs (lazy imports, dispatcher set-up);
    run it once on a two-element function before anything is timed."""
    global _WARM
    if not _WARM:
        x = torch.ones(2, dtype=torch.float64, requires_grad=True)
        for fast in (False, True):
            torch.autograd.gradcheck(lambda t: (t * t).sum(), (x,), fast_mode=fast)
        _WARM = True


def _torch_cost(problem: Problem, torch):
    import torch.nn.functional as F

    tX, tY = torch.from_numpy(problem.X), torch.from_numpy(problem.Y)
    m, L = problem.m, problem.net.L

    def cost(*ps):
        A = tX
        for l in range(L - 1):
            A = torch.relu(ps[2 * l] @ A + ps[2 * l + 1])
        Z = ps[-2] @ A + ps[-1]
        return F.binary_cross_entropy_with_logits(Z, tY, reduction="sum") / m

    return cost


def gradcheck_run(problem: Problem, *, fast: bool, subset: int | None = None,
                  repeats: int = 1) -> dict:
    """``torch.autograd.gradcheck`` on the cost with respect to every parameter (or, for a
    ``subset``, to that many first-layer biases), its time, calls, verdict and accuracy."""
    try:
        import torch
    except ImportError as exc:
        raise CheckerUnavailable(f"torch is not installed ({exc})") from None
    torch.set_num_threads(1)
    _warm_up_gradcheck(torch)
    cost = _torch_cost(problem, torch)
    tensors = [torch.from_numpy(problem.params[k].copy()) for k in problem.names]
    eps = 1e-6
    b1 = problem.params["b1"]
    if subset is not None and subset < problem.P:
        k = min(subset, b1.size)
        head = tensors[1][:k].clone().requires_grad_(True)
        tail = tensors[1][k:]

        def fn(u):
            ps = list(tensors)
            ps[1] = torch.cat([u, tail])
            return cost(*ps)

        inputs = (head,)
        analytic = problem.grads["b1"].ravel()[:k]
    else:
        k = problem.P
        inputs = tuple(t.requires_grad_(True) for t in tensors)
        fn = cost
        analytic = problem.flat_grad()
    logs = []

    def once():
        log = GradcheckLog(fn)
        logs.append(log)
        return torch.autograd.gradcheck(log, inputs, eps=eps, fast_mode=fast,
                                        raise_exception=False)

    timing, passed = time_once(once, repeats)
    log = logs[-1]
    factor = problem.P / k
    error = None
    if not fast:
        numeric = log.slow_mode_numeric(k, eps)
        if numeric is not None:
            error = float(np.max(np.abs(numeric - analytic))) / problem.scale
    return {"seconds": timing.median * factor, "timing": timing.to_dict(),
            "elements_timed": k, "extrapolated": factor != 1.0,
            "evaluations": int(round(log.calls * factor)) if not fast else log.calls,
            "error": error, "passed": bool(passed),
            "note": (f"inputs: {k} first-layer biases of {problem.P} parameters (the rest "
                     f"constants), extrapolated x{factor:.1f}" if factor != 1.0 else "")
            + ("" if not fast else "accuracy: verdict only (its random projection is internal)")}


# --------------------------------------------------------------------------- gradref
def _api():
    try:
        from gradref.checks import api
    except ImportError as exc:
        raise CheckerUnavailable(f"gradref.checks.api is not available ({exc})") from None
    if not hasattr(api, "check_network"):
        raise CheckerUnavailable("gradref.checks.api has no check_network")
    return api


def _result_error(problem: Problem, result, mode: str) -> float | None:
    """The accuracy of a ``CheckResult``: scaled max error of the finite-difference arrays, or
    for directional mode the largest relative error of a draw."""
    if mode == "directional":  # a draw that crossed a kink has an interval, not an estimate
        errs = [abs(d.analytic - d.numeric) / max(abs(d.analytic), 1e-300) for d in result.draws
                if not d.kink]
        return max(errs) if errs else None
    errs = [a.max_abs_err for a in result.arrays
            if a.oracle == "fd" and a.problem is None and a.name[:2] in ("dW", "db")]
    return max(errs) / problem.scale if errs else None


_GRADREF_WARM = False


def warm_up_gradref() -> None:
    """Run every mode once on a tiny network: the first call in a process imports modules
    lazily (the oracle, the diagnosis) and must not be timed."""
    global _GRADREF_WARM
    if _GRADREF_WARM:
        return
    api = _api()
    pb = Problem([3, 4, 2], 5)
    wrong = {"d" + k: v.copy() for k, v in pb.grads.items()}
    wrong["dW1"][0, 0] += 0.1
    for target in (pb.net, lambda p, X, Y: wrong):
        for mode in ("full", "sampled", "directional"):
            for oracle in ("fd", "both"):
                api.check_network(target, pb.net, pb.params, pb.X, pb.Y, mode=mode,
                                  oracle=oracle)
    _GRADREF_WARM = True


def gradref_run(problem: Problem, mode: str, *, repeats: int = 1, seed: int = 0,
                oracle: str = "fd", intermediates: bool = False) -> dict:
    """``gradref.checks.api.check_network(net, net, params, X, Y, mode=…)`` on the correct gradient:
    the reference checked by the checker. By default only finite differences (``oracle="fd"``)
    of the parameter gradients (``intermediates=False``), like the naive loop and gradcheck."""
    api = _api()
    warm_up_gradref()
    net = problem.net

    def once():
        return api.check_network(net, net, problem.params, problem.X, problem.Y, mode=mode,
                                 oracle=oracle, seed=seed, intermediates=intermediates)

    timing, result = time_once(once, repeats)
    checked = sum(a.checked for a in result.arrays if a.oracle == "fd")
    return {"seconds": timing.median, "timing": timing.to_dict(), "elements_timed": checked,
            "extrapolated": False, "evaluations": int(result.evaluations),
            "error": _result_error(problem, result, mode), "passed": bool(result.passed),
            "call": f"check_network(net, net, params, X, Y, mode={mode!r}, oracle={oracle!r}, "
                    f"intermediates={intermediates})",
            "sensitivity": [s.statement for s in result.sensitivity],
            "draws": len(result.draws), "kink_draws": sum(d.kink for d in result.draws),
            "note": (f"error: max relative error of the directional draws that crossed no kink "
                     f"({sum(not d.kink for d in result.draws)} of {len(result.draws)})"
                     if mode == "directional" else
                     "error over dW, db only" if intermediates else "")}


def planted_localisation(problem: Problem, *, repeats: int = 1, seed: int = 0,
                         name: str = "W2", relative: float = 0.05, oracle: str = "fd") -> dict:
    r"""A single wrong element planted in the correct gradient: ``d{name}`` at its element of
    largest magnitude is off by ``relative``·max|g|. ``check_network(mode="directional")``
    must fail and its bisection must end on that element."""
    api = _api()
    warm_up_gradref()
    net = problem.net
    g = problem.grads[name]
    flat = int(np.argmax(np.abs(g)))
    index = tuple(int(i) for i in np.unravel_index(flat, g.shape))
    delta = relative * problem.scale
    wrong = {"d" + k: v.copy() for k, v in problem.grads.items()}
    wrong["d" + name][index] += delta

    def target(params, X, Y):
        return wrong

    def once(explain: bool = False):
        return api.check_network(target, net, problem.params, problem.X, problem.Y,
                                 mode="directional", oracle=oracle, seed=seed,
                                 intermediates=False, explain=explain)

    # The target is the localisation; the diagnosis (explain=True, the default) that explains
    # the failure afterwards is timed on its own.
    timing, result = time_once(once, repeats)
    explained, with_diagnosis = time_once(lambda: once(explain=True), 1)
    found = [(loc.name, tuple(loc.index)) for loc in result.localisations]
    localised = bool(found) and all(f == (name, index) for f in found)
    return {"seconds": timing.median, "timing": timing.to_dict(),
            "evaluations": int(result.evaluations), "passed": bool(result.passed),
            "check_seconds": result.seconds, "error": None, "planted": [name, list(index)], "delta": delta,
            "found": [[n, list(i)] for n, i in found], "localised": localised,
            "failed_draws": sum(d.failed for d in result.draws), "draws": len(result.draws),
            "kink_draws": sum(d.kink for d in result.draws), "hidden": problem.hidden,
            "localisation_evaluations": sum(loc.evaluations for loc in result.localisations),
            "diagnosis": len(with_diagnosis.diagnosis),
            "seconds_with_diagnosis": explained.median,
            "call": f"check_network(wrong_gradients, net, params, X, Y, mode='directional', "
                    f"oracle={oracle!r}, intermediates=False, explain=False)",
            "note": f"d{name}{list(index)} off by {relative:g} x max|g| = {delta:.3g}"}


# --------------------------------------------------------------------------- the part
def run_checker(sizes: Mapping[str, tuple[Sequence[int], int]] = SIZES, *,
                large: tuple[Sequence[int], int] = LARGE, full_large: bool = False,
                naive_subset: int = 2000, gradcheck_subset: int = 256,
                exact_limit: int = 20_000, repeats: int = 3,
                log: Callable[[str], None] = print) -> dict:
    """Every method at every size; sizes above ``exact_limit`` parameters time the naive loop
    and gradcheck slow mode on subsets; ``full_large`` runs gradref's full mode there too."""
    section: dict = {"sizes": {}, "skipped": {}}
    methods: dict[str, Callable[[Problem, bool], dict]] = {
        "naive": lambda pb, big: naive_run(pb, subset=naive_subset if big else None,
                                           repeats=1 if big else min(repeats, 3)),
        "naive_same_estimate": lambda pb, big: naive_same_estimate_run(
            pb, subset=naive_subset // 2 if big else None, repeats=1),
        "gradref_full": lambda pb, big: gradref_run(pb, "full", repeats=1 if big else repeats),
        "gradref_full_default": lambda pb, big: gradref_run(pb, "full", repeats=1, oracle="both",
                                                            intermediates=True),
        "gradref_sampled": lambda pb, big: gradref_run(pb, "sampled", repeats=repeats),
        "gradref_directional": lambda pb, big: gradref_run(pb, "directional", repeats=repeats),
        "gradcheck_slow": lambda pb, big: gradcheck_run(
            pb, fast=False, subset=gradcheck_subset if big else None, repeats=1),
        "gradcheck_fast": lambda pb, big: gradcheck_run(pb, fast=True, repeats=repeats),
    }
    for name, (layer_sizes, m) in sizes.items():
        problem = make_problem(layer_sizes, m)
        big = problem.P > exact_limit
        log(f"  {name}: {layer_sizes}, m={m}, P={problem.P:,} …")
        entry = {"layer_sizes": list(layer_sizes), "m": m, "P": problem.P, "methods": {},
                 "skipped": {}}
        for method, run in methods.items():
            if method == "gradref_full" and big and not full_large:
                entry["skipped"][method] = (f"full mode above {exact_limit:,} parameters runs "
                                            f"with --full-large")
                continue
            if method == "gradref_full_default" and big:
                entry["skipped"][method] = f"informational row, only up to {exact_limit:,} parameters"
                continue
            try:
                start = time.perf_counter()
                entry["methods"][method] = res = run(problem, big)
                log(f"    {method}: {res['seconds']:.4g} s"
                    f"{' (extrapolated)' if res.get('extrapolated') else ''}, "
                    f"{res['evaluations']:,} evaluations, error {res['error']}, "
                    f"passed {res['passed']} [{time.perf_counter() - start:.1f} s]")
            except CheckerUnavailable as exc:
                entry["skipped"][method] = str(exc)
                log(f"    {method}: skipped: {exc}")
            except Exception as exc:  # noqa: BLE001 - a broken method must not end the run
                entry["skipped"][method] = _raised(exc)
                log(f"    {method}: ERROR: {_raised(exc)}")
        entry["ratios"] = _ratios(entry["methods"])
        section["sizes"][name] = entry
    layer_sizes, m = large
    problem = make_problem(layer_sizes, m)
    log(f"  large: {layer_sizes}, m={m}, P={problem.P:,} …")
    big: dict = {"layer_sizes": list(layer_sizes), "m": m, "P": problem.P, "skipped": {}}
    jobs = {"full": lambda: gradref_run(problem, "full", repeats=1),
            "planted": lambda: planted_localisation(problem, repeats=repeats),
            # the same without kinks (tanh hidden layers): separates "a draw crossed a ReLU
            # kink" from "bisection is slow" when the planted error is not localised
            "planted_tanh": lambda: planted_localisation(
                make_problem(layer_sizes, m, hidden="tanh"), repeats=repeats),
            "naive": lambda: naive_run(problem, subset=naive_subset),
            "gradcheck_slow": lambda: gradcheck_run(problem, fast=False, subset=gradcheck_subset)}
    for key, job in jobs.items():
        if key == "full" and not full_large:
            big["skipped"][key] = "takes minutes: run with --full-large"
            continue
        try:
            big[key] = res = job()
            log(f"    {key}: {res['seconds']:.4g} s, {res['evaluations']:,} evaluations"
                + (f", localised {res.get('localised')}" if key == "planted" else ""))
        except CheckerUnavailable as exc:
            big["skipped"][key] = str(exc)
            log(f"    {key}: skipped: {exc}")
        except Exception as exc:  # noqa: BLE001 - a broken method must not end the run
            big["skipped"][key] = _raised(exc)
            log(f"    {key}: ERROR: {_raised(exc)}")
    if "full" in big:
        big["ratios"] = {f"full/{k}": big["full"]["seconds"] / big[k]["seconds"]
                         for k in ("naive", "gradcheck_slow") if k in big}
    section["large"] = big
    return section


def _raised(exc: BaseException) -> str:
    """``"raised NameError: … (at file:line)"`` for the skip reason of a method that crashed."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"raised {type(exc).__name__}: {exc}{where}"


def _ratios(methods: Mapping[str, dict]) -> dict[str, float]:
    """Time ratios gradref ÷ peer for every gradref mode and every peer method."""
    out = {}
    for mine in ("gradref_full", "gradref_sampled", "gradref_directional"):
        for peer in ("naive", "gradcheck_slow", "gradcheck_fast"):
            if mine in methods and peer in methods and methods[peer]["seconds"]:
                out[f"{mine}/{peer}"] = methods[mine]["seconds"] / methods[peer]["seconds"]
    return out
