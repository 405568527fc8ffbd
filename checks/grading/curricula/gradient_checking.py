r"""Computations of the built-in ``gradient-checking`` assignment: the student writes the checker.

The 1-D case is the course's :math:`J(\theta) = \theta x` with :math:`dJ/d\theta = x`; the n-D
case its three-layer network (relu, relu, sigmoid, shapes (5, 4), (5, 1), (3, 5), (3, 1), (1, 3),
(1, 1): 47 parameters) with the mean cross-entropy. A checker is graded by what it says about
gradients the grader chose: the grader hands it its own ``forward_propagation``/
``backward_propagation`` (1-D) or ``forward_propagation_n``/``backward_propagation_n`` and the
vector helpers (the declaration's ``provide``, bound in the student's namespace for the call,
so the notebook's own deliberately buggy ``backward_propagation_n`` never decides a grade), and
gradients that are right or carry a planted error (the variant: the notebook's own two bugs,
one entry off, a sign, a missing 1/m …). Two answers are judged:

* **the difference** against an independent restatement of the course's formula,
  :math:`\lVert g - \tilde g\rVert_2 / (\lVert g\rVert_2 + \lVert\tilde g\rVert_2)` with the
  centred difference :math:`\tilde g_i = (J(\theta + \varepsilon e_i) - J(\theta -
  \varepsilon e_i)) / (2\varepsilon)` of the reference's cost
  (:meth:`gradref.reference.Network.cost`), within a round-off bound (:data:`NOISE_ULPS` ulp
  of J per entry, divided by ε, over √n entries: the grader's forward computes J exactly as the
  reference does, so only the order of the checker's own arithmetic is allowed for);
* **the verdict**: a right gradient must come out below :data:`PASS_BELOW` (the strictest of the
  course's thresholds, 1e-7) and a planted error above :data:`FAIL_ABOVE` (2e-7, the 2021+ and
  v1 threshold); cases are drawn so that the restated difference is clear of both by its bound.
  A checker that never fails, or always fails, misses one side on some case and gets no points
  for detection.

The classic mistakes of a checker (the denominator without norms, ‖g‖ − ‖g̃‖ as the numerator,
ε not doubled, no denominator, θ perturbed in place without a copy, a one-sided difference) are
replayed with the same restatement for :mod:`gradref.checks.diagnosis.mistakes`.
"""

from __future__ import annotations

import math

import numpy as np
from gradref.checks.diagnosis.mistakes import Mistake
from gradref.reference import Network

from ..computations import Built, Computation, register

__all__ = ["COURSE_DIMS", "PARAM_KEYS", "GRAD_KEYS", "PASS_BELOW", "FAIL_ABOVE", "NOISE_ULPS",
           "Approximately", "Verdict", "difference", "centred", "plant_gradients"]

#: The course's network: n_x = 4, 5 and 3 hidden units, one output.
COURSE_DIMS = (4, 5, 3, 1)
PARAM_KEYS = ("W1", "b1", "W2", "b2", "W3", "b3")
#: The keys of the course's backward_propagation_n, in its order.
GRAD_KEYS = ("dZ3", "dW3", "db3", "dA2", "dZ2", "dW2", "db2", "dA1", "dZ1", "dW1", "db1")
#: A right gradient's difference must be below this (the 2017/v1 1-D threshold, the strictest).
PASS_BELOW = 1e-7
#: A planted error's difference must be above this (the v1 and 2021+ threshold).
FAIL_ABOVE = 2e-7
#: Round-off allowed per entry of the difference quotient, in ulps of J (divided by ε): the
#: grader's forward_propagation_n computes J as the reference does (bit-identical, measured on
#: 60 random cases), so only the order of a checker's own arithmetic is left to allow for.
NOISE_ULPS = 1
_U = float(np.finfo(np.float64).eps)
_ATTEMPTS = 50


class Approximately:
    """Expected difference: ``value`` within ``bound`` (the round-off the quotient allows)."""

    def __init__(self, value: float, bound: float) -> None:
        self.value, self.bound = float(value), float(bound)

    def judge_value(self, got: object, label: str) -> str | None:
        x = _scalar(got)
        if x is None:
            return f"{label} should be a single number, got {_describe(got)}"
        if not abs(x - self.value) <= self.bound:
            return (f"{label} is {x:.6g}, expected {self.value:.6g} (± {self.bound:.1g}, the "
                    f"round-off of the difference quotient)")
        return None

    def __repr__(self) -> str:
        return f"{self.value:.6g} ± {self.bound:.1g}"


class Verdict:
    """Expected verdict: the returned difference below :data:`PASS_BELOW` (``wrong`` False: the
    gradient is right) or above :data:`FAIL_ABOVE` (the planted error ``what``)."""

    def __init__(self, wrong: bool, what: str) -> None:
        self.wrong, self.what = bool(wrong), what

    def judge_value(self, got: object, label: str) -> str | None:
        x = _scalar(got)
        if x is None:
            return f"{label} should be a single number, got {_describe(got)}"
        if self.wrong and not x > FAIL_ABOVE:
            return (f"the gradient carried a planted error ({self.what}), but your checker's "
                    f"difference is {x:.3g}, not above {FAIL_ABOVE:g}: it did not detect it")
        if not self.wrong and not 0 <= x < PASS_BELOW:
            return (f"the gradient was right, but your checker's difference is {x:.3g}, not below "
                    f"{PASS_BELOW:g}: it reports a mistake where there is none")
        return None

    def __repr__(self) -> str:
        return (f"a difference above {FAIL_ABOVE:g} ({self.what})" if self.wrong
                else f"a difference below {PASS_BELOW:g} (right gradient)")


def _scalar(got: object) -> float | None:
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.size != 1 or arr.ndim > 2 or not np.isfinite(arr).all():
        return None
    return float(arr.reshape(-1)[0])


def _describe(got: object) -> str:
    if isinstance(got, np.ndarray):
        return f"an array of shape {got.shape}"
    return type(got).__name__


# --------------------------------------------------------------------------- the restatement
def centred(J, theta: np.ndarray, eps: float, *, copy: bool = True, doubled: bool = True,
            one_sided: bool = False) -> tuple[np.ndarray, float]:
    """The difference quotient of ``J`` at the column ``theta``, entry by entry, and the largest
    |J| met. ``copy=False`` replays a checker that perturbs θ in place (θ+ε for J⁺, then back to
    θ for J⁻); ``doubled=False`` divides by ε instead of 2ε; ``one_sided`` uses (J⁺ − J(θ))/ε."""
    theta = np.array(theta, dtype=np.float64).reshape(-1, 1)
    approx = np.zeros_like(theta)
    J0 = J(theta) if one_sided else None
    biggest = abs(J0) if J0 is not None else 0.0
    for i in range(theta.shape[0]):
        plus = theta.copy()
        plus[i, 0] += eps
        minus = theta.copy()
        minus[i, 0] -= eps
        Jp = J(plus)
        Jm = J0 if one_sided else (J(theta) if not copy else J(minus))
        biggest = max(biggest, abs(Jp), abs(Jm))
        approx[i, 0] = (Jp - Jm) / (eps if one_sided or not doubled else 2 * eps)
    return approx, biggest


def difference(grad: np.ndarray, approx: np.ndarray) -> float:
    """The course's relative difference ‖g − g̃‖₂ / (‖g‖₂ + ‖g̃‖₂), written out."""
    g, a = np.ravel(grad), np.ravel(approx)
    num = math.sqrt(float(np.dot(g - a, g - a)))
    den = math.sqrt(float(np.dot(g, g))) + math.sqrt(float(np.dot(a, a)))
    return num / den


def _bound(biggest: float, eps: float, n: int, grad, approx, d: float) -> float:
    per_entry = NOISE_ULPS * _U * max(biggest, 1e-3) / eps
    den = float(np.linalg.norm(np.ravel(grad)) + np.linalg.norm(np.ravel(approx)))
    return per_entry * math.sqrt(n) / max(den, 1e-300) + 1e-6 * d


def _blind(what: str) -> Mistake:
    """A checker whose difference stays small although the gradient carries an error."""
    return Mistake(f"difference stays below {FAIL_ABOVE:g} although the gradient carried a planted "
                   f"error ({what}): the checker does not see it; the difference must compare "
                   f"the gradients it is given (gradients_to_vector(gradients)) with gradapprox",
                   {"difference": lambda got: _scalar(got) is not None
                    and abs(_scalar(got)) <= FAIL_ABOVE})


def _checker_mistakes(J, theta, grad, eps) -> list[Mistake]:
    """The classic checker mistakes, each replayed on this case (those this case cannot tell
    from the right difference are left out; a scalar theta cannot be perturbed in place)."""
    approx, biggest = centred(J, theta, eps)
    g, a = np.ravel(grad), np.ravel(approx)
    n = g.size
    right = difference(grad, approx)
    bound = _bound(biggest, eps, n, grad, approx, 1.0)
    out = []

    def add(message, value):
        if callable(value) or abs(float(value) - right) > 10 * bound + 1e-4 * abs(right):
            out.append(Mistake(message, {"difference": value}, rtol=1e-4, atol=bound))

    ng, na = float(np.linalg.norm(g)), float(np.linalg.norm(a))
    shape = np.shape(grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        no_norms = float(np.linalg.norm(g - a) / (g[0] + a[0])) if n == 1 else (
            lambda got: np.shape(got) == shape or np.shape(got) == (n,))
    add("difference matches ‖grad − gradapprox‖ / (grad + gradapprox), an array: the "
        "denominator needs the norms, ‖grad‖₂ + ‖gradapprox‖₂ (np.linalg.norm of each)", no_norms)
    add("difference matches (‖grad‖ − ‖gradapprox‖) / (‖grad‖ + ‖gradapprox‖): the numerator "
        "is the norm of the difference, ‖grad − gradapprox‖₂, not the difference of the norms",
        (ng - na) / (ng + na))
    add("difference matches |‖grad‖ − ‖gradapprox‖| / (‖grad‖ + ‖gradapprox‖): the numerator "
        "is ‖grad − gradapprox‖₂, not the difference of the norms", abs(ng - na) / (ng + na))
    half, _ = centred(J, theta, eps, doubled=False)
    add("difference matches gradapprox = (J_plus − J_minus) / epsilon: the centred difference "
        "divides by 2·epsilon", difference(grad, half))
    nocopy, _ = centred(J, theta, eps, copy=False) if n > 1 else (approx, None)
    add("difference matches a theta perturbed in place: thetaplus and thetaminus are the same "
        "array as the parameters (no np.copy), so J_minus is taken at theta itself; copy the "
        "vector (np.copy) before each perturbation", difference(grad, nocopy))
    onesided, _ = centred(J, theta, eps, one_sided=True)
    add("difference matches a one-sided difference (J(theta + epsilon) − J(theta)) / epsilon: "
        "the course's check is centred, (J(theta + epsilon) − J(theta − epsilon)) / (2·epsilon)",
        difference(grad, onesided))
    add("difference matches ‖grad − gradapprox‖₂ alone: divide by ‖grad‖₂ + ‖gradapprox‖₂",
        float(np.linalg.norm(g - a)))
    return out


# --------------------------------------------------------------------------- 1-D
def _one_d(case):
    rng = case.rng()
    x = float(np.round(rng.choice([-1, 1]) * rng.uniform(0.5, 5.0), 3))
    theta = float(np.round(rng.choice([-1, 1]) * rng.uniform(0.5, 5.0), 3))
    return x, theta


register(Computation(
    "gc_forward_1d", "The course's 1-D cost J(theta) = theta·x.", "array",
    inputs={"x": "a real number", "theta": "the parameter, a real number"},
    outputs={"J": "theta·x"}, kinds={"J": "scalar"},
    build=lambda case, lay, spec, options: Built(
        (lambda x, t: {"x": x, "theta": t, "J": t * x})(*_one_d(case)), {"m": None}),
    batched=False,
))
register(Computation(
    "gc_backward_1d", "The derivative of J(theta) = theta·x: dtheta = x.", "array",
    inputs={"x": "a real number", "theta": "the parameter, a real number"},
    outputs={"dtheta": "x"}, kinds={"dtheta": "scalar"},
    build=lambda case, lay, spec, options: Built(
        (lambda x, t: {"x": x, "theta": t, "dtheta": x})(*_one_d(case)), {"m": None}),
    batched=False,
))

#: 1-D plants: (factor, offset) of the backward the grader hands over, and what it is.
PLANTS_1D = {"right": (1.0, 0.0, "dtheta = x, right"), "doubled": (2.0, 0.0, "dtheta = 2x"),
             "negated": (-1.0, 0.0, "dtheta = -x"), "offset": (1.0, 0.5, "dtheta = x + 0.5"),
             "slightly_off": (1.0 + 1e-4, 0.0, "dtheta = 1.0001·x")}


def _build_check_1d(case, lay, spec, options):
    eps = float(options.get("epsilon", 1e-7))
    factor, offset, what = PLANTS_1D[case.variant]
    x, theta = _one_d(case)
    grad = np.array([[factor * x + offset]])

    def J(t):
        return float(t[0, 0]) * x

    approx, biggest = centred(J, np.array([[theta]]), eps)
    d = difference(grad, approx)
    bound = _bound(biggest, eps, 1, grad, approx, d)
    q = {"x": x, "theta": theta, "epsilon": eps,
         "plant": {"factor": factor, "offset": offset},
         "difference": Approximately(d, bound),
         "verdict": Verdict(case.variant != "right", what)}
    blind = [_blind(what)] if case.variant != "right" else []
    return Built(q, {"m": None, "mistakes": blind + _checker_mistakes(J, np.array([[theta]]),
                                                                      grad, eps),
                     "case": f"x = {x}, theta = {theta}, backward: {case.variant} ({what})"})


register(Computation(
    "gradient_check_1d",
    "The student's 1-D checker gradient_check(x, theta, epsilon), handed the grader's "
    "forward_propagation (J = theta·x) and backward_propagation (right, or a planted error: the "
    "variant). Outputs: the difference (against the restated formula) and the verdict.",
    "array",
    inputs={"x": "a real number", "theta": "a real number", "epsilon": "options.epsilon (1e-7)",
            "plant": "the grader's backward, for provide_with: {'factor', 'offset'}"},
    outputs={"difference": "‖g − g̃‖ / (‖g‖ + ‖g̃‖), within the round-off bound",
             "verdict": "the same number, below 1e-7 for a right gradient, above 2e-7 for a "
                        "planted error"},
    kinds={"difference": "scalar", "verdict": "scalar"},
    variant="plant", variants=tuple(PLANTS_1D),
    options={"epsilon": 1e-7},
    build=_build_check_1d, batched=False,
))


# --------------------------------------------------------------------------- n-D
def plant_gradients(grads: dict, plant: str, m: int, rng) -> tuple[dict, str]:
    """The course's gradient dict with the planted error ``plant``, and what it is."""
    g = {k: np.array(v, dtype=np.float64) for k, v in grads.items()}
    if plant == "right":
        return g, "all right"
    if plant == "notebook":          # the notebook's own backward_propagation_n
        g["dW2"] = 2 * g["dW2"]
        g["db1"] = 4 * g["db1"]
        return g, "the notebook's dW2 ×2 and db1 with 4./m"
    if plant == "one_entry":
        i, j = (int(rng.integers(s)) for s in g["dW1"].shape)
        g["dW1"][i, j] += 1e-3 * max(float(np.linalg.norm(g["dW1"])), 1e-3)
        return g, f"dW1[{i}, {j}] off by 0.1 % of ‖dW1‖"
    if plant == "sign_db3":
        g["db3"] = -g["db3"]
        return g, "db3 with the wrong sign"
    if plant == "times_m":
        g["dW3"] = m * g["dW3"]
        return g, f"dW3 without the 1/m (m = {m} times too large)"
    raise ValueError(f"unknown plant {plant!r}")


PLANTS_N = ("right", "notebook", "one_entry", "right", "sign_db3", "times_m")


def _vector(d: dict, keys) -> np.ndarray:
    return np.concatenate([np.reshape(d[k], (-1, 1)) for k in keys], axis=0)


def _build_check_n(case, lay, spec, options):
    eps = float(options.get("epsilon", 1e-7))
    dims, m = COURSE_DIMS, case.m
    net = Network(list(dims), ["relu", "relu", "sigmoid"], "bce")
    rng = case.rng()
    shapes = net.param_shapes()
    for _ in range(_ATTEMPTS):
        params = {k: rng.standard_normal(shapes[k]) for k in PARAM_KEYS}
        X = rng.standard_normal((dims[0], m))
        Y = (rng.random((1, m)) < 0.5).astype(np.float64)
        _, cache = net.forward(params, X)
        if any(np.min(np.abs(cache[f"Z{l}"])) < 1e-3 for l in (1, 2)):
            continue            # a relu kink within reach of ε would blur the quotient
        if not np.all((cache["A3"] > 0.02) & (cache["A3"] < 0.98)):
            continue
        grads, what = plant_gradients(net.backward(params, cache, Y), case.variant, m, rng)
        theta = _vector(params, PARAM_KEYS)
        grad = _vector(grads, [f"d{k}" for k in PARAM_KEYS])
        offsets = np.cumsum([0] + [int(np.prod(shapes[k])) for k in PARAM_KEYS])

        def J(t, offsets=offsets, X=X, Y=Y):
            p = {k: t[offsets[i]:offsets[i + 1]].reshape(shapes[k])
                 for i, k in enumerate(PARAM_KEYS)}
            return net.cost(p, X, Y)

        approx, biggest = centred(J, theta, eps)
        d = difference(grad, approx)
        bound = _bound(biggest, eps, theta.shape[0], grad, approx, d)
        clear = (d + bound < PASS_BELOW) if case.variant == "right" else (d - bound > 10 * FAIL_ABOVE)
        if clear:
            break
    else:
        raise RuntimeError(f"could not draw a clear gradient-checking case for {case}")
    course_grads = {k: grads[k] for k in GRAD_KEYS}
    plant = {"shapes": {k: list(shapes[k]) for k in PARAM_KEYS}, "gradients": course_grads}
    q = {"parameters": {k: params[k] for k in PARAM_KEYS}, "gradients": course_grads,
         "X": X, "Y": Y, "epsilon": eps, "plant": plant,
         "difference": Approximately(d, bound), "verdict": Verdict(case.variant != "right", what)}
    blind = [_blind(what)] if case.variant != "right" else []
    return Built(q, {"m": m, "mistakes": blind + _checker_mistakes(J, theta, grad, eps),
                     "case": f"the course's network (4, 5, 3, 1), m = {m}, gradients: "
                             f"{case.variant} ({what})"})


register(Computation(
    "gradient_check_n",
    "The student's checker gradient_check_n(parameters, gradients, X, Y, epsilon) on the "
    "course's network (4, 5, 3, 1), handed the grader's forward_propagation_n, "
    "backward_propagation_n and vector helpers, and gradients right or with a planted error "
    "(the variant). Outputs: the difference (against the restated formula) and the verdict.",
    "network",
    inputs={"parameters": "{'W1', 'b1', 'W2', 'b2', 'W3', 'b3'} (the course's shapes)",
            "gradients": "the course's 11 keys, right or with the planted error",
            "X": "inputs (4, m)", "Y": "labels (1, m)", "epsilon": "options.epsilon (1e-7)",
            "plant": "for provide_with: {'shapes', 'gradients'}"},
    outputs={"difference": "‖g − g̃‖ / (‖g‖ + ‖g̃‖), within the round-off bound",
             "verdict": "the same number, below 1e-7 for a right gradient, above 2e-7 for a "
                        "planted error"},
    kinds={"difference": "scalar", "verdict": "scalar"},
    variant="plant", variants=PLANTS_N,
    options={"epsilon": 1e-7},
    build=_build_check_n,
))
