r"""The checker's two entry points.

:func:`check_gradients` checks the gradient of any scalar function of an array (or of a dict of
arrays) against central differences. :func:`check_network` checks a network's gradients — the
reference's own ``backward`` or any function ``grads = f(params, X, Y)`` — against finite
differences of the reference cost and against the autograd oracle, in one of three modes:

``full``
    every parameter element by the network-aware elementwise finite differences
    (:mod:`gradref.checks.network_fd`), and every provided intermediate ``dZ_l``/``dA_l`` by finite
    differences with respect to an additive perturbation of :math:`Z_l`/:math:`A_l`;
``sampled``
    ``samples`` elements, drawn without replacement and stratified over the arrays
    (:math:`k_a = \max(1, \mathrm{round}(k P_a/P))` in an array of :math:`P_a` elements);
``directional``
    ``draws`` random directions :math:`v` (Rademacher or Gaussian), :math:`\nabla J\cdot v`
    against a central difference along :math:`v`; a failing draw is localised by bisection
    (:mod:`gradref.checks.directional`).

The autograd oracle (:func:`gradref.checks.oracle.oracle_gradients`) compares every provided array
elementwise: :math:`|a - o| \le r_a|o| + a_a s` (``autograd_rtol``/``autograd_atol`` of
:mod:`gradref.checks.tolerances`), with :math:`s` the largest oracle value over all arrays or the size
of the output's loss derivative, :math:`\max(|A_L| + |Y|)`, whichever is larger.
When autograd and the gradients under test disagree at an element that finite differences find
at a kink and accept (or cannot judge), the difference is a subgradient convention, not a
mistake: it is counted, not failed.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping

import numpy as np
from gradref.reference import Network

from .arraylike import to_numpy
from .diagnosis import diagnose
from .directional import DIRECTIONS, FunctionObjective, NetworkObjective, check_draw, directions
from .directional import localise as _localise
from .finite_diff import (
    Estimate,
    Packer,
    central_differences,
    judge,
    magnitude,
    relative_steps,
    scalar_value,
)
from .layered_fd import LayeredFD
from .network_fd import CHUNK_ELEMENTS, NetworkFD
from .noise import measure_noise, noisy_precision
from .oracle import oracle_gradients
from .result import ArrayCheck, CheckResult, GradientCheckError, summarise
from .tolerances import Sensitivity, keyword_tolerances, least_precise, sensitivity, tolerances_for

__all__ = ["check_gradients", "check_network", "MODES", "ORACLES", "ADJUDICATE_MAX"]

MODES = ("full", "sampled", "directional")
#: The dtypes x keeps in check_gradients (the others are converted to float64).
FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16))
ORACLES = ("both", "fd", "autograd")
#: At most this many autograd disagreements per array are re-examined by finite differences
#: for kinks (beyond that the array simply fails).
ADJUDICATE_MAX = 2000


# --------------------------------------------------------------------------- arguments
def _choice(name: str, value: object, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
    return value  # type: ignore[return-value]


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _seed(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value!r}")
    return int(value)


def _tolerances(tolerances: Mapping | None, keywords: dict, dtype: np.dtype,
                function_dtype: np.dtype) -> dict[str, float]:
    """The table for ``dtype``/``function_dtype`` with the ``tolerances`` mapping and the
    ``eps``/``atol``/``rtol`` keywords merged in (naming both for the same entry is an error)."""
    given = {k: v for k, v in keywords.items() if v is not None}
    mapped = keyword_tolerances(**given)
    if tolerances is not None and isinstance(tolerances, Mapping):
        both = sorted(set(mapped) & set(tolerances))
        if both:
            names = ", ".join(f"{k}=" for k in given)
            raise ValueError(f"tolerances={dict(tolerances)!r} and the keyword(s) {names} both "
                             f"set {', '.join(both)}: give each once")
    merged = None if tolerances is None else dict(tolerances) \
        if isinstance(tolerances, Mapping) else tolerances
    if mapped:
        merged = {**(merged or {}), **mapped}
    return tolerances_for(dtype, function_dtype=function_dtype, overrides=merged)


def _finish(result: CheckResult, start: float, raise_exception: bool) -> CheckResult:
    result.seconds = time.perf_counter() - start
    if raise_exception and not result.passed:
        raise GradientCheckError(result)
    return result


def _order(value: object) -> int:
    if value not in (2, 4) or isinstance(value, bool):
        raise ValueError(f"order must be 2 (central differences) or 4 (Richardson), got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- gradients under test
def _target_gradients(target, net: Network, params, X, Y) -> tuple[object, str | None]:
    copies = {k: v.copy() for k, v in params.items()}
    try:
        if isinstance(target, Network):
            _, cache = target.forward(copies, X.copy())
            grads = target.backward(copies, cache, Y.copy())
        else:
            grads = target(copies, X.copy(), Y.copy())
    except Exception as exc:  # the code under test may raise anything: report it
        return None, f"the gradient function raised {type(exc).__name__}: {exc}"
    if not isinstance(grads, Mapping):
        return None, (f"the gradient function returned {type(grads).__name__}, expected a dict "
                      f"{{'dW1', 'db1', …}}")
    return grads, None


def _shape_hint(key: str, got: tuple, want: tuple) -> str:
    msg = f"{key} has shape {got}, expected {want}"
    if key.startswith("db") and got in ((want[0],), (1, want[0])) and want[0] != 1 \
            or key.startswith("db") and got == (want[0],):
        msg += (": keep the bias gradient a column of shape (n_l, 1), e.g. "
                "np.sum(dZ, axis=1, keepdims=True) / m")
    elif len(got) == 2 and got == want[::-1]:
        msg += ": it looks transposed"
    return msg


def _as_checked(key: str, value: object, want: tuple) -> tuple[np.ndarray | None, str | None]:
    """The array to compare, or a problem sentence (not numeric, wrong shape, non-finite)."""
    try:
        arr, _ = to_numpy(value, key)
    except TypeError as exc:  # not an array-like: say what NumPy makes of it, if anything
        try:
            arr = np.asarray(value)
        except Exception:  # ragged lists and the like
            return None, str(exc)
    except Exception as exc:  # an array-like that fails to export
        return None, f"{key} is not an array: {exc}"
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                 or np.issubdtype(arr.dtype, np.integer)):
        return None, f"{key} is not a real numeric array (dtype {arr.dtype})"
    if arr.shape != want:
        return None, _shape_hint(key, arr.shape, want)
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        return None, (f"{key} contains {int(bad.sum())} non-finite value(s) (NaN or inf), "
                      f"first at index {first}")
    return arr, None


def _readable(values) -> list[np.ndarray]:
    """The values that :func:`to_numpy` can read, read (for choosing the dtype table)."""
    out = []
    for v in values:
        try:
            out.append(to_numpy(v)[0])
        except Exception:  # reported by _as_checked when the value is compared
            continue
    return out


def _routes(what: str, value: object) -> str | None:
    """A sentence saying how an array-like ``value`` was read (None for NumPy and numbers)."""
    values = value.values() if isinstance(value, Mapping) else [value]
    routes = set()
    for v in values:
        try:
            routes.add((type(v).__name__, to_numpy(v)[1]))
        except Exception:  # reported elsewhere
            continue
    routes -= {(t, r) for t, r in routes if r in ("ndarray", "number")}
    if not routes:
        return None
    return f"{what} returned " + ", ".join(f"{t} (read through {r})" for t, r in sorted(routes))


def _expected_shapes(net: Network, m: int) -> tuple[dict, dict]:
    params = {f"d{k}": s for k, s in net.param_shapes().items()}
    inter = {f"dZ{l}": (net.layer_sizes[l], m) for l in range(1, net.L + 1)}
    inter.update({f"dA{l}": (net.layer_sizes[l], m) for l in range(net.L)})
    return params, inter


def _collect(result: CheckResult, grads: Mapping, shapes_p: dict, shapes_i: dict,
             oracles: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The comparable arrays of ``grads``; the others become problem rows in ``result``
    (a missing ``dW``/``db``, a wrong shape, a non-numeric or non-finite array). Missing
    intermediates are fine: they are optional."""
    analytic = {}
    for key, want in {**shapes_p, **shapes_i}.items():
        if key not in grads:
            if key in shapes_p:
                why = (f"{key} is missing from the returned dict "
                       f"(keys: {', '.join(map(str, grads)) or 'none'})")
                result.arrays += [ArrayCheck(key, o, want, problem=why) for o in oracles]
            continue
        arr, why = _as_checked(key, grads[key], want)
        if why is not None:
            result.arrays += [ArrayCheck(key, o, want, problem=why) for o in oracles]
        else:
            analytic[key] = arr
    return analytic


# --------------------------------------------------------------------------- comparisons
def _autograd_check(name: str, a: np.ndarray, o: np.ndarray, scale: float, tol: Mapping,
                    worst: int):
    finite = np.isfinite(o)
    with np.errstate(invalid="ignore"):
        bound = tol["autograd_rtol"] * np.abs(o) + tol["autograd_atol"] * scale + tol["atol"]
        err = np.abs(a - o)
        failed = finite & ~(err <= bound)
    return err, bound, failed, finite


def _sample(rng: np.random.Generator, sizes: dict[str, int], k: int) -> dict[str, np.ndarray]:
    total = sum(sizes.values())
    out = {}
    for name, size in sizes.items():
        ka = min(size, max(1, round(k * size / total)))
        out[name] = np.sort(rng.choice(size, size=ka, replace=False))
    return out


def check_network(target: object, net: Network, params: Mapping[str, np.ndarray], X: object,
                  Y: object, *, mode: str = "full", oracle: str = "both", seed: int = 0,
                  order: int = 2, samples: int = 100, draws: int = 4,
                  direction_kind: str = "rademacher", tolerances: Mapping | None = None,
                  eps: float | None = None, atol: float | None = None,
                  rtol: float | None = None, raise_exception: bool = False,
                  intermediates: bool = True, localise: bool = True, explain: bool = True,
                  worst: int = 3, chunk_elements: int = CHUNK_ELEMENTS) -> CheckResult:
    r"""Check a network's gradients; returns a :class:`~gradref.checks.result.CheckResult`.

    Parameters
    ----------
    target : Network or callable
        The reference :class:`~gradref.reference.Network` itself (its ``forward``/``backward`` are
        checked) or any ``f(params, X, Y) -> {"dW1", "db1", …}`` in the canonical layout,
        optionally with the per-example ``"dZ1"`` … and ``"dA0"`` …. Missing keys, wrong
        shapes, non-finite values and exceptions become failures with a message.
    net : Network
        Defines the cost :math:`J` (architecture, activations, loss, λ).
    params, X, Y
        Parameters ``{"W1", "b1", …}``, inputs (n_0, m), targets (n_L, m).
    mode : "full", "sampled" or "directional"
    oracle : "both", "fd" (finite differences) or "autograd"
    seed : int
        Seeds the sampled coordinates and the directions.
    order : 2 or 4
        Central differences, or their fourth-order Richardson form.
    samples : int
        Sampled mode: number of elements (stratified over the arrays).
    draws : int
        Directional mode: number of directions.
    direction_kind : "rademacher" or "gaussian"
    tolerances : dict
        Overrides of :data:`gradref.checks.tolerances.FD_TOLERANCES` names. The table is the
        one of the returned gradients' dtype (float32 gradients get the float32 comparison
        tolerances; the finite differences of the float64 reference cost keep float64 steps).
    eps, atol, rtol : float
        The keywords of other checkers, mapped onto the tolerance model
        (:func:`gradref.checks.tolerances.keyword_tolerances`): ``eps`` the relative
        finite-difference step, ``atol`` an absolute term added to every tolerance, ``rtol``
        the relative allowance (finite differences and autograd).
    raise_exception : bool
        Raise :class:`~gradref.checks.result.GradientCheckError` (an ``AssertionError`` whose
        message is the failing part of the report) instead of returning a failed result.
    intermediates : bool
        Check the provided ``dZ``/``dA`` too.
    localise : bool
        Directional mode: bisect failing draws down to an element.
    explain : bool
        When something fails, run :func:`gradref.checks.diagnosis.diagnose` (it replays candidate
        mistakes: seconds on a network of 10^5 parameters and more).
    worst : int
        Number of worst elements kept per array.
    """
    start = time.perf_counter()
    if not isinstance(net, Network):
        raise TypeError(f"net must be a reference Network, got {type(net).__name__}")
    if not (isinstance(target, Network) or callable(target)):
        raise TypeError(f"target must be a Network or a callable f(params, X, Y), "
                        f"got {type(target).__name__}")
    mode = _choice("mode", mode, MODES)
    oracle = _choice("oracle", oracle, ORACLES)
    direction_kind = _choice("direction_kind", direction_kind, DIRECTIONS)
    seed, order = _seed(seed), _order(order)
    samples, draws = _positive_int("samples", samples), _positive_int("draws", draws)
    worst = _positive_int("worst", worst)
    keywords = {"eps": eps, "atol": atol, "rtol": rtol}
    _tolerances(tolerances, keywords, np.dtype(np.float64), np.dtype(np.float64))  # bad values
    params = {k: v.copy() for k, v in net.check_params(params).items()}
    X = net.check_X(X).copy()
    m = X.shape[1]
    Y = net.check_Y(Y, m).copy()

    oracles = ("fd", "autograd") if oracle == "both" else (oracle,)
    grads, problem = _target_gradients(target, net, params, X, Y)
    dtype = least_precise(*_readable(grads.values() if grads is not None else ()))
    tol = _tolerances(tolerances, keywords, dtype, np.dtype(np.float64))
    result = CheckResult(repr(net), mode, oracles, seed, order, m=m, tolerances=dict(tol),
                         dtypes={"gradient": str(dtype), "function": "float64"})
    shapes_p, shapes_i = _expected_shapes(net, m)
    if problem is not None:
        result.problems.append(problem)
        analytic: dict[str, np.ndarray] = {}
    else:
        analytic = _collect(result, grads, shapes_p, shapes_i if intermediates else {}, oracles)

    expected, oracle_failed = None, False
    if "autograd" in oracles or "fd" in oracles:
        expected, why = _oracle(net, params, X, Y)
        if why is not None:
            oracle_failed = True
            (result.problems if oracle == "autograd" else result.notes).append(why)
    fd_est: dict[str, Estimate] = {}
    nfd = None
    if "fd" in oracles:
        gains = None if expected is None else {k: v for k, v in expected.items()
                                               if k[1] in "ZA" and np.all(np.isfinite(v))}
        # normalisation and dropout layers: full forward passes (layered_fd's docstring)
        fd_class = LayeredFD if net.has_layers else NetworkFD
        nfd = fd_class(net, params, X, Y, order=order, tolerances=tol,
                       chunk_elements=chunk_elements, gains=gains or "measured")
    rng = np.random.default_rng(seed)

    # ---------------------------------------------------------------- finite differences
    if "fd" in oracles and analytic:
        if mode in ("full", "sampled"):
            chosen = None
            if mode == "sampled":
                chosen = _sample(rng, {k: params[k].size for k in params}, samples)
            for key in [k for k in shapes_p if k in analytic]:
                idx = None if chosen is None else chosen[key[1:]]
                est = nfd.parameter(key[1:], idx)
                fd_est[key] = est
                result.arrays.append(_fd_summary(key, analytic[key], est, tol, worst))
            if mode == "full":
                for key in [k for k in shapes_i if k in analytic]:
                    est = nfd.intermediate(key[1:])
                    fd_est[key] = est
                    result.arrays.append(_fd_summary(key, analytic[key], est, tol, worst))
            result.sensitivity += _fd_sensitivity(mode, fd_est, analytic, tol, params, shapes_p)
        else:
            _directional(result, net, params, X, Y, analytic, shapes_p, nfd, rng, draws,
                         direction_kind, tol, localise)

    # ---------------------------------------------------------------- autograd
    if expected is None and explain and not result.passed and analytic and not oracle_failed:
        expected, _ = _oracle(net, params, X, Y)   # for the diagnosis only
    if "autograd" in oracles and expected is not None and analytic:
        _, cache = net._forward(params, X)
        out_scale = float(np.max(np.abs(cache[f"A{net.L}"]) + np.abs(Y)))
        _autograd(result, analytic, expected, shapes_p, shapes_i, tol, worst, nfd, fd_est,
                  oracle == "both", out_scale)

    # ---------------------------------------------------------------- diagnosis
    if explain and not result.passed and grads is not None:
        truth = {}
        for key in (*shapes_p, *shapes_i):
            if expected is not None and key in expected and np.all(np.isfinite(expected[key])):
                truth[key] = expected[key]
            elif key in fd_est and mode == "full":
                truth[key] = fd_est[key].numeric.reshape(shapes_p.get(key) or shapes_i[key])
        truth = {k: v for k, v in truth.items() if k in shapes_p or k in grads}
        if truth:
            _, cache = net._forward(params, X)
            context = {"m": m, "net": net, "params": params, "cache": cache, "X": X, "Y": Y}
            result.diagnosis = diagnose(dict(grads), truth, context)
        else:
            result.notes.append("no diagnosis: it needs the autograd oracle or full mode")

    if nfd is not None:
        result.evaluations += nfd.evaluations
    return _finish(result, start, raise_exception)


def _oracle(net, params, X, Y):
    """``(autograd's gradients, None)`` or ``(None, why it is unavailable)``."""
    try:
        # autograd's own formulas may overflow at extreme pre-activations (cosh in the
        # derivative of tanh): such elements come out non-finite and are skipped
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            return oracle_gradients(net, params, X, Y), None
    except (KeyError, TypeError) as exc:
        return None, f"the autograd oracle cannot model this network: {exc}"


def _judge_array(a: np.ndarray, est: Estimate, tol: Mapping):
    """:func:`judge` of the elements ``est.index`` of the array ``a`` (on the scale of ``a``)."""
    return judge(a.ravel()[est.index], est, tol, scale=magnitude(a))


def _tol_of(est: Estimate, a: np.ndarray, tol: Mapping) -> np.ndarray:
    return _judge_array(a, est, tol).tol


def _fd_summary(key: str, a: np.ndarray, est: Estimate, tol: Mapping, worst: int) -> ArrayCheck:
    flat = a.ravel()[est.index]
    v = _judge_array(a, est, tol)
    return summarise(key, "fd", a.shape, flat, est.numeric, v.err, v.tol, v.failed, est.index,
                     kink=est.kink, unverified=v.unverified, lower=est.lower, upper=est.upper,
                     step=est.step, worst=worst)


def _fd_sensitivity(mode, fd_est, analytic, tol, params, shapes_p) -> list:
    out = []
    if mode == "full":
        tols = [_judge_array(analytic[k], e, tol).tol[~e.kink]
                for k, e in fd_est.items() if k in shapes_p]
        allt = np.concatenate(tols) if tols else np.zeros(0)
        out.append(sensitivity("full", allt))
    else:
        worst = None
        for k, e in fd_est.items():
            t = _judge_array(analytic[k], e, tol).tol[~e.kink]
            s = sensitivity("sampled", t if t.size else [0.0], checked=int(e.index.size),
                            total=int(params[k[1:]].size))
            if worst is None or s.probability < worst[1].probability:
                worst = (k, s)
        if worst is not None:
            k, s = worst
            out.append(Sensitivity(s.mode, s.threshold, s.probability,
                                   f"{s.statement} (lowest over the arrays: {k})"))
    return out


def _autograd(result, analytic, expected, shapes_p, shapes_i, tol, worst, nfd, fd_est,
              adjudicate, output_scale) -> None:
    # One absolute scale for every array: the largest oracle value anywhere, or the size of the
    # loss derivative at the output (|A_L| + |Y|), whichever is larger. Autograd's own rounding
    # is about eps times the quantities it combines, and a group of tiny gradients (saturated
    # units) does not make those quantities tiny.
    finite = [float(np.max(np.abs(v[np.isfinite(v)]), initial=0.0))
              for k, v in expected.items() if k in shapes_p or k in shapes_i]
    scale = max([output_scale, *finite])
    scale_p = scale_i = scale
    bounds = []
    nonfinite = []
    for key in [k for k in (*shapes_p, *shapes_i) if k in analytic and k in expected]:
        a, o = analytic[key], expected[key]
        err, bound, failed, finite = _autograd_check(key, a, o, scale_p if key in shapes_p
                                                     else scale_i, tol, worst)
        if not np.all(finite):
            nonfinite.append(key)
        kink = np.zeros(a.size, bool)
        unverified = np.zeros(a.size, bool)
        adjudicated = 0
        if adjudicate and np.any(failed) and nfd is not None:
            bad = np.flatnonzero(failed.ravel())[:ADJUDICATE_MAX]
            est = _fd_at(nfd, key, bad, fd_est)
            v = judge(a.ravel()[bad], est, tol, scale=magnitude(a))
            ok = est.kink & ~v.failed
            kink[bad[ok & ~v.unverified]] = True
            unverified[bad[ok & v.unverified]] = True
            flat_failed = failed.ravel().copy()
            flat_failed[bad[ok]] = False
            failed = flat_failed.reshape(a.shape)
            adjudicated = int(ok.sum())
        keep = finite.ravel()
        chk = summarise(key, "autograd", a.shape, a.ravel()[keep], o.ravel()[keep],
                        err.ravel()[keep], bound.ravel()[keep], failed.ravel()[keep],
                        np.flatnonzero(keep), kink=kink[keep], unverified=unverified[keep],
                        worst=worst)
        chk.adjudicated = adjudicated
        result.arrays.append(chk)
        if key in shapes_p:
            bounds.append(bound.ravel()[keep])
    if nonfinite:
        result.notes.append(f"the autograd oracle is not finite in {', '.join(nonfinite)} "
                            f"(overflow in its own formulation); those elements were skipped")
    if bounds:
        b = np.concatenate(bounds)
        if b.size:
            thr = float(np.max(b))
            result.sensitivity.append(Sensitivity(
                "autograd", thr, 1.0,
                f"every parameter element is compared with autograd: an error larger than "
                f"autograd_rtol*|g| + autograd_atol*scale (at most {thr:.3g}) is always caught"))


def _fd_at(nfd: NetworkFD, key: str, flat: np.ndarray, fd_est: dict) -> Estimate:
    """Finite-difference estimates of ``key`` at ``flat`` (reusing a full-mode estimate)."""
    if key in fd_est and fd_est[key].index.size:
        est = fd_est[key]
        pos = {int(i): j for j, i in enumerate(est.index)}
        if all(int(i) in pos for i in flat):
            sel = np.array([pos[int(i)] for i in flat], dtype=np.intp)
            return Estimate(flat, est.numeric[sel], est.error[sel], est.step[sel],
                            est.kink[sel], est.lower[sel], est.upper[sel], est.unverified[sel],
                            order=est.order)
    name = key[1:]
    return nfd.parameter(name, flat) if name[0] in "Wb" else nfd.intermediate(name, flat)


def _draw_directions(result, obj, theta, a, packer, element_check, rng, draws, kind, tol,
                     do_localise) -> None:
    """``draws`` random directions v: ∇J·v against the central difference along v; a failing
    draw is localised by bisection (``element_check(i)`` judges one element). Draws that cross
    a kink do not count towards the sensitivity statement."""
    tols = []
    generic = isinstance(obj, FunctionObjective)
    for d, v in enumerate(directions(rng, theta.size, draws, kind)):
        draw, h = check_draw(obj, theta, a, v, d, tol)
        result.draws.append(draw)
        if not draw.kink:
            tols.append(draw.tol)
        loc = None
        if draw.failed and do_localise:
            loc = _localise(obj, theta, a, v, h, draw, packer, element_check)
            result.localisations.append(loc)
        at_kink = loc is not None and not loc.failed and loc.interval is not None
        if draw.failed and generic and (at_kink or draw.kink and (loc is None or not loc.failed)):
            # kinks along v (several, or cancelling) bound no convention: the element decides
            draw.failed, draw.unverified = False, True
            where = "" if loc is None else (
                f"; bisection led to {loc.name}{list(loc.index)}, "
                + ("at a kink and inside its one-sided slopes" if at_kink else
                   "which is within its tolerance"))
            result.notes.append(f"draw v{d} disagrees with f along v where f has kinks{where}: "
                                f"unverified")
    result.evaluations += obj.evaluations
    if tols:
        result.sensitivity.append(sensitivity("directional", tols, direction=kind))


def _directional(result, net, params, X, Y, analytic, shapes_p, nfd, rng, draws, kind, tol,
                 do_localise) -> None:
    missing = [k for k in shapes_p if k not in analytic]
    if missing:
        result.notes.append(f"directional mode needs every parameter gradient; "
                            f"{', '.join(missing)} could not be used")
        return
    packer = Packer.of(params)
    theta = packer.pack(params)
    a = np.concatenate([analytic[f"d{k}"].ravel() for k in packer.names])
    obj = NetworkObjective(net, params, X, Y, packer, tol["eps"], nfd.gains)

    def element_check(i: int):
        name, _ = packer.locate(i)
        off = packer.offsets[packer.names.index(name)]
        est = nfd.parameter(name, [i - off])
        v = judge(a[i:i + 1], est, tol, scale=magnitude(analytic[f"d{name}"]))
        interval = (float(est.lower[0]), float(est.upper[0])) if est.kink[0] else None
        return float(est.numeric[0]), float(v.tol[0]), bool(v.failed[0]), interval

    _draw_directions(result, obj, theta, a, packer, element_check, rng, draws, kind, tol,
                     do_localise)
    unv = sum(d.unverified for d in result.draws)
    if unv:
        result.notes.append(f"{unv} of {draws} direction(s) crossed several kinked units in one "
                            f"example: finite differences cannot judge them")


# --------------------------------------------------------------------------- generic
#: Seeds the noise measurement's directions apart from the check's own (its draws unchanged).
_NOISE_STREAM = 0x6E6F6973


def _allow_for_noise(result, flat_f, theta, f0, f_scale, analytic, packer, tol, seed):
    """Measure f's noise (:mod:`.noise`); when f is noisy, the tolerance table of a function of
    that relative precision, and a note. Otherwise ``tol`` itself."""
    step = relative_steps(theta, tol, 2)
    measured = measure_noise(flat_f, theta, step, np.random.default_rng([seed, _NOISE_STREAM]),
                             f0=f0)
    result.evaluations += measured.evaluations
    a = np.concatenate([np.asarray(analytic[k], np.float64).ravel() if k in analytic
                        else np.zeros(s) for k, s in zip(packer.names, packer.sizes,
                                                         strict=True)])
    with np.errstate(all="ignore"):
        terms = float(np.sum(np.abs(theta.astype(np.float64) * a)))
    scale = max(abs(f0), 0.0 if f_scale is None else float(f_scale),
                terms if math.isfinite(terms) else 0.0)
    precision = noisy_precision(measured, tol["eps"], scale)
    if precision is None:
        return tol
    tol = dict(tol)
    ratio = precision / tol["eps"]
    tol["eps"] = precision
    tol["step"] = max(tol["step"], precision ** (1.0 / 3.0))
    tol["step_richardson"] = max(tol["step_richardson"], precision ** (1.0 / 5.0))
    result.tolerances = dict(tol)
    result.notes.append(
        f"f is noisy at the level {measured.level:.1g} ({ratio:.3g} times what rounding "
        f"explains; measured from its differences of order {measured.order} along "
        f"{measured.directions} directions): the check allows for it (finite-difference steps "
        f"and rounding term of a function computed to a relative precision of {precision:.1g})")
    return tol


def check_gradients(f: Callable, grad: object, x: object, *, mode: str = "full",
                    order: int = 2, samples: int = 100, draws: int = 4,
                    direction_kind: str = "rademacher", seed: int = 0,
                    tolerances: Mapping | None = None, eps: float | None = None,
                    atol: float | None = None, rtol: float | None = None,
                    raise_exception: bool = False, f_scale: float | None = None,
                    localise: bool = True, worst: int = 3, noise: bool = True) -> CheckResult:
    r"""Check ``grad`` against central differences of the scalar function ``f``.

    ``x`` is a float array or a dict of float arrays; ``f(x)`` returns a real scalar;
    ``grad`` is either ``grad(x)`` (a callable returning an array, or a dict, shaped like
    ``x``) or that value already computed. Array-likes are accepted everywhere (lists,
    objects with ``__array__`` or ``__dlpack__`` such as PyTorch tensors or JAX arrays; see
    :mod:`gradref.checks.arraylike`) and a note says which conversion was used; ``f`` and
    ``grad`` always receive NumPy arrays.

    Tolerances come from the table of the least precise dtype among x and the gradient (see
    :mod:`gradref.checks.tolerances`); the finite-difference steps and rounding term from the
    least precise among x and f's output. ``tolerances`` overrides names of that table;
    ``eps`` (relative step), ``atol`` (absolute term added to every tolerance) and ``rtol``
    (relative allowance) are the keywords of other checkers mapped onto it. ``f_scale`` is the
    magnitude of the quantities f is computed from (default :math:`|f(x)|`), which sets the
    rounding term. With ``raise_exception=True`` a failed check raises
    :class:`~gradref.checks.result.GradientCheckError`; the result is truthy when it passed.
    Modes as in :func:`check_network`; results are named after x's keys (``"x"`` for an
    array).

    ``noise`` (default on): first measure f's own noise from its table of higher-order
    differences (:mod:`gradref.checks.noise`, 24 evaluations). When it exceeds the rounding
    model by :data:`~gradref.checks.tolerances.NOISE_EXCESS` (an adaptive integrator, an ODE
    solve), f is checked as a function computed to that relative precision - the step and
    rounding term of the finite differences follow from it - and a note says so ("f is noisy at
    the level 3e-08 …"). A smooth function measures its rounding and is checked unchanged.
    """
    start = time.perf_counter()
    if not callable(f):
        raise TypeError(f"f must be a callable f(x) -> float, got {type(f).__name__}")
    mode = _choice("mode", mode, MODES)
    direction_kind = _choice("direction_kind", direction_kind, DIRECTIONS)
    seed, order = _seed(seed), _order(order)
    samples, draws = _positive_int("samples", samples), _positive_int("draws", draws)
    worst = _positive_int("worst", worst)
    keywords = {"eps": eps, "atol": atol, "rtol": rtol}
    _tolerances(tolerances, keywords, np.dtype(np.float64), np.dtype(np.float64))  # bad values
    single = not isinstance(x, Mapping)
    xs = {"x": x} if single else dict(x)
    arrays = {}
    for k, v in xs.items():
        arr, _ = to_numpy(v, f"x[{k!r}]")
        if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating)
                                     or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"x[{k!r}] must be a real numeric array, got dtype {arr.dtype}")
        if arr.dtype not in FLOAT_DTYPES:
            arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"x[{k!r}] contains non-finite values")
        arrays[k] = arr
    packer = Packer.of(arrays)
    theta = packer.pack(arrays)

    def rebuild(flat):
        parts = {k: v.copy() for k, v in packer.unpack(flat).items()}
        return parts["x"] if single else parts

    def flat_f(flat):
        return f(rebuild(flat))

    f_out = f(rebuild(theta))
    f0 = scalar_value(lambda _: f_out, None)
    g, grad_problem = None, None
    if callable(grad):
        try:
            g = grad(rebuild(theta))
        except Exception as exc:  # the gradient under test may raise anything: report it
            grad_problem = f"grad raised {type(exc).__name__}: {exc}"
    else:
        g = grad
    gs = {"x": g} if single and not isinstance(g, Mapping) else g
    if grad_problem is None and not isinstance(gs, Mapping):
        grad_problem = f"grad returned {type(g).__name__}, expected a dict like x"
    grad_values = _readable(gs.values()) if grad_problem is None else []
    dtype = least_precise(packer.dtype, *grad_values)
    f_dtype = least_precise(packer.dtype, *_readable([f_out]))
    tol = _tolerances(tolerances, keywords, dtype, f_dtype)
    result = CheckResult(getattr(f, "__name__", "f"), mode, ("fd",), seed, order,
                         tolerances=dict(tol),
                         dtypes={"gradient": str(dtype), "function": str(f_dtype)})
    result.evaluations += 1
    for what, value in (("f", f_out), ("grad", None if grad_problem else g)):
        said = _routes(what, value)
        if said:
            result.notes.append(said)
    if not np.isfinite(f0):
        grad_problem = (f"f(x) = {f0} is not finite: there is nothing to differentiate "
                        f"at this point")
    if grad_problem is not None:
        result.problems.append(grad_problem)
        return _finish(result, start, raise_exception)
    analytic = {}
    for k, arr in arrays.items():
        if k not in gs:
            result.arrays.append(ArrayCheck(k, "fd", arr.shape, problem=f"{k} is missing from "
                                                                       f"the gradient"))
            continue
        got, why = _as_checked(k, gs[k], arr.shape)
        if why is not None:
            result.arrays.append(ArrayCheck(k, "fd", arr.shape, problem=why))
        else:
            analytic[k] = got
    if not isinstance(noise, bool):
        raise TypeError(f"noise must be True or False, got {noise!r}")
    if noise and analytic and theta.size:
        tol = _allow_for_noise(result, flat_f, theta, f0, f_scale, analytic, packer, tol, seed)
    rng = np.random.default_rng(seed)
    if mode in ("full", "sampled") and analytic:
        chosen = _sample(rng, {k: a.size for k, a in arrays.items()}, samples) \
            if mode == "sampled" else None
        all_tols = []
        for k in analytic:
            off = packer.offsets[packer.names.index(k)]
            local = np.arange(arrays[k].size) if chosen is None else chosen[k]
            est = central_differences(flat_f, theta, indices=local + off, order=order,
                                      tolerances=tol, f_scale=f_scale, f0=f0)
            result.evaluations += est.evaluations
            est.index = local
            chk = _fd_summary(k, analytic[k], est, tol, worst)
            result.arrays.append(chk)
            if est.kink.any():
                result.notes.append(
                    f"{int(est.kink.sum())} element(s) of {k} are at a kink of f (its one-sided "
                    f"differences disagree beyond their curvature): judged against the interval "
                    f"of one-sided slopes, {chk.kinks} inside it")
            t = _tol_of(est, analytic[k], tol)[~est.kink]
            t = t[np.isfinite(t)]  # a non-finite tolerance element has failed already
            all_tols.append(t)
            if mode == "sampled":
                result.sensitivity.append(sensitivity("sampled", t, checked=int(local.size),
                                                      total=int(arrays[k].size)))
        if mode == "full":
            result.sensitivity.append(sensitivity("full", np.concatenate(all_tols)))
    elif mode == "directional":
        if len(analytic) != len(arrays):
            result.notes.append("directional mode needs the whole gradient")
        else:
            a = np.concatenate([analytic[k].ravel() for k in packer.names]).astype(np.float64)
            obj = FunctionObjective(flat_f, theta, tol["eps"], f_scale, signs=np.sign(a))

            def element_check(i: int):
                est = central_differences(flat_f, theta, indices=[i], order=order,
                                          tolerances=tol, f_scale=f_scale, f0=f0)
                obj.evaluations += est.evaluations
                v = judge(a[i:i + 1], est, tol,
                          scale=magnitude(analytic[packer.locate(i)[0]]))
                interval = (float(est.lower[0]), float(est.upper[0])) if est.kink[0] else None
                return float(est.numeric[0]), float(v.tol[0]), bool(v.failed[0]), interval

            _draw_directions(result, obj, theta, a, packer, element_check, rng, draws,
                             direction_kind, tol, localise)
    return _finish(result, start, raise_exception)
