r"""Activation functions: one registry, each entry a value, a derivative and its declared kinks.

Convention: ``Z`` is a pre-activation array of shape (n_l, m), one column per example, and
``A = g(Z)`` has the same shape. Elementwise activations define ``derivative(Z) = g'(Z)``;
backpropagation uses the vector-Jacobian product ``vjp(Z, A, dA) = dA * g'(Z)``. Softmax is not
elementwise (it mixes the entries of a column) and defines ``vjp`` directly.

Every formula below is written in a numerically stable form: for pre-activations of +-800 no
overflow happens and every value and derivative is finite.

Adding an activation is one class decorated with ``@register``; the name lookup, the CLI choices
and the test parametrisation all read :data:`ACTIVATIONS`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ._validate import describe

__all__ = [
    "Activation", "ACTIVATIONS", "register", "get_activation", "activation_names",
    "sigmoid",
]


# --------------------------------------------------------------------------- stable primitives
def sigmoid(z: np.ndarray) -> np.ndarray:
    r"""Logistic function :math:`\sigma(z) = 1/(1+e^{-z}) = \exp(-\log(1+e^{-z}))`.

    ``logaddexp(0, -z)`` is exact in both tails, so no overflow happens and the result keeps its
    relative precision (a few ulps times :math:`|z|`).
    """
    return np.exp(-np.logaddexp(0.0, -z))


def _sigmoid_prime(z: np.ndarray) -> np.ndarray:
    r""":math:`\sigma'(z) = e^{-|z|}/(1+e^{-|z|})^2`; exact in relative terms also when saturated."""
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


class Activation:
    """Base class. Subclasses set ``name`` and implement ``value`` and ``derivative`` (or ``vjp``).

    Attributes
    ----------
    name : str
        Registry name.
    kinks : tuple of float
        Points where the derivative is not defined (one-sided slopes differ). Finite-difference
        checks that straddle one of these are judged against the one-sided slopes.
    elementwise : bool
        True when ``A[i, j]`` depends on ``Z[i, j]`` only.
    output_range : (float, float)
        The closed range of values the activation can take.
    params : dict
        Constructor parameters (e.g. the slope of leaky_relu); part of the identity and the spec.
    """

    name: str = ""
    kinks: tuple[float, ...] = ()
    elementwise: bool = True
    output_range: tuple[float, float] = (-math.inf, math.inf)

    def __init__(self) -> None:
        self.params: dict[str, float] = {}

    def value(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """Elementwise :math:`g'(Z)`. At a kink, the value of the right-hand slope convention."""
        raise NotImplementedError

    def one_sided(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Left and right derivatives at ``z`` (equal away from kinks)."""
        d = self.derivative(z)
        return d, d

    def vjp(self, z: np.ndarray, a: np.ndarray, da: np.ndarray) -> np.ndarray:
        r"""Backpropagate through the activation: :math:`dZ = dA \odot g'(Z)`."""
        return da * self.derivative(z)

    @property
    def spec(self) -> str:
        """The string that :func:`get_activation` turns back into this activation."""
        if not self.params:
            return self.name
        return f"{self.name}(" + ",".join(f"{v:g}" for v in self.params.values()) + ")"

    def __repr__(self) -> str:
        return f"<activation {self.spec}>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Activation) and self.name == other.name
                and self.params == other.params)

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.params.items())))


ACTIVATIONS: dict[str, type[Activation]] = {}


def register(cls: type[Activation]) -> type[Activation]:
    """Class decorator: add an activation to :data:`ACTIVATIONS` under ``cls.name``."""
    if not cls.name or cls.name in ACTIVATIONS:
        raise ValueError(f"activation name {cls.name!r} is empty or already registered")
    ACTIVATIONS[cls.name] = cls
    return cls


def activation_names() -> list[str]:
    """The registered activation names, in registration order."""
    return list(ACTIVATIONS)


_SPEC = re.compile(r"^\s*([a-z_]+)\s*(?:[(:]\s*([^()]*?)\s*\)?)?\s*$")
_ALIASES = {"swish": "silu", "identity": "linear"}


def get_activation(spec: object) -> Activation:
    """Return an activation from an :class:`Activation`, a name, or a name with parameters.

    ``"relu"``, ``"leaky_relu"`` (slope 0.01), ``"leaky_relu(0.05)"`` and ``"leaky_relu:0.05"``
    are all accepted, as is an already built activation (returned unchanged).
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"activation must be a name or an Activation, got {describe(spec)}")
    match = _SPEC.match(spec.lower())
    name = _ALIASES.get(match.group(1), match.group(1)) if match else None
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {spec!r}; valid names: "
                         f"{', '.join(activation_names())} (aliases: {', '.join(_ALIASES)})")
    args = match.group(2)
    if not args:
        return ACTIVATIONS[name]()
    try:
        values = [float(v) for v in args.split(",")]
    except ValueError:
        raise ValueError(f"activation {spec!r}: parameters must be numbers, got {args!r}") from None
    try:
        return ACTIVATIONS[name](*values)
    except TypeError:
        raise ValueError(f"activation {spec!r}: {name} takes no parameters "
                         f"or fewer than {len(values)}") from None


# --------------------------------------------------------------------------- the registry
@register
class Sigmoid(Activation):
    r""":math:`g(z) = \sigma(z) = 1/(1+e^{-z})`, :math:`g'(z) = \sigma(z)(1-\sigma(z))`."""

    name = "sigmoid"
    output_range = (0.0, 1.0)

    def value(self, z):
        return sigmoid(z)

    def derivative(self, z):
        return _sigmoid_prime(z)


@register
class Tanh(Activation):
    r""":math:`g(z) = \tanh z`, :math:`g'(z) = 1-\tanh^2 z = 4e^{-2|z|}/(1+e^{-2|z|})^2`."""

    name = "tanh"
    output_range = (-1.0, 1.0)

    def value(self, z):
        return np.tanh(z)

    def derivative(self, z):
        e = np.exp(-2.0 * np.abs(z))
        return 4.0 * e / (1.0 + e) ** 2


@register
class ReLU(Activation):
    r""":math:`g(z) = \max(z, 0)`, :math:`g'(z) = [z > 0]` (0 at the kink :math:`z = 0`)."""

    name = "relu"
    kinks = (0.0,)
    output_range = (0.0, math.inf)

    def value(self, z):
        return np.maximum(z, 0.0)

    def derivative(self, z):
        return (z > 0).astype(np.float64)

    def one_sided(self, z):
        return (z > 0).astype(np.float64), (z >= 0).astype(np.float64)

    def vjp(self, z, a, da):
        return da * (z > 0)


@register
class LeakyReLU(Activation):
    r""":math:`g(z) = z` for :math:`z > 0`, :math:`s z` otherwise; :math:`g'(z) = 1` or :math:`s`.

    The slope ``s`` defaults to 0.01; ``get_activation("leaky_relu(0.05)")`` sets it.
    """

    name = "leaky_relu"
    kinks = (0.0,)

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        if not (isinstance(slope, (int, float)) and math.isfinite(slope)) or isinstance(slope, bool):
            raise ValueError(f"leaky_relu slope must be a finite number, got {slope!r}")
        self.slope = float(slope)
        self.params = {"slope": self.slope}

    def value(self, z):
        return np.where(z > 0, z, self.slope * z)

    def derivative(self, z):
        return np.where(z > 0, 1.0, self.slope)

    def one_sided(self, z):
        return np.where(z > 0, 1.0, self.slope), np.where(z >= 0, 1.0, self.slope)


@register
class Linear(Activation):
    r""":math:`g(z) = z`, :math:`g'(z) = 1`."""

    name = "linear"

    def value(self, z):
        return np.array(z, dtype=np.float64, copy=True)

    def derivative(self, z):
        return np.ones_like(z, dtype=np.float64)

    def vjp(self, z, a, da):
        return np.array(da, dtype=np.float64, copy=True)


@register
class Softmax(Activation):
    r"""Softmax over each column: :math:`a_k = e^{z_k - \max z} / \sum_j e^{z_j - \max z}`.

    Not elementwise. Its Jacobian is :math:`\partial a_k/\partial z_j = a_k(\delta_{kj} - a_j)`,
    so the vector-Jacobian product is :math:`dZ = A \odot (dA - \mathbf{1}\,(\mathbf{1}^\top
    (A \odot dA)))`, i.e. ``A * (dA - sum(A * dA, axis=0))``.
    """

    name = "softmax"
    elementwise = False
    output_range = (0.0, 1.0)

    def value(self, z):
        e = np.exp(z - np.max(z, axis=0, keepdims=True))
        return e / np.sum(e, axis=0, keepdims=True)

    def derivative(self, z):
        raise TypeError("softmax is not elementwise: it has no elementwise derivative; "
                        "use vjp(Z, A, dA)")

    def vjp(self, z, a, da):
        return a * (da - np.sum(a * da, axis=0, keepdims=True))


@register
class Softplus(Activation):
    r""":math:`g(z) = \log(1+e^{z}) = \max(z,0) + \log(1+e^{-|z|})`, :math:`g'(z) = \sigma(z)`."""

    name = "softplus"
    output_range = (0.0, math.inf)

    def value(self, z):
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))

    def derivative(self, z):
        return sigmoid(z)


@register
class ELU(Activation):
    r""":math:`g(z) = z` for :math:`z > 0`, :math:`\alpha(e^{z}-1)` otherwise;
    :math:`g'(z) = 1` or :math:`\alpha e^{z}`.

    With the default :math:`\alpha = 1` the derivative is continuous (no kink); any other
    :math:`\alpha` declares a kink at 0.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0) \
                or isinstance(alpha, bool):
            raise ValueError(f"elu alpha must be a finite positive number, got {alpha!r}")
        self.alpha = float(alpha)
        self.params = {"alpha": self.alpha} if self.alpha != 1.0 else {}
        self.kinks = () if self.alpha == 1.0 else (0.0,)
        self.output_range = (-self.alpha, math.inf)

    def value(self, z):
        return np.where(z > 0, z, self.alpha * np.expm1(np.minimum(z, 0.0)))

    def derivative(self, z):
        return np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0.0)))

    def one_sided(self, z):
        left = np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0.0)))
        return left, np.where(z >= 0, 1.0, left)


_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715


@register
class GELU(Activation):
    r"""GELU in its tanh form (as in BERT and GPT-2):
    :math:`g(z) = \tfrac12 z (1 + \tanh u)`, :math:`u = c(z + k z^3)`, :math:`c = \sqrt{2/\pi}`,
    :math:`k = 0.044715`;
    :math:`g'(z) = \tfrac12(1+\tanh u) + \tfrac12 z\,(1-\tanh^2 u)\,c\,(1 + 3k z^2)`.

    The tanh form is used because NumPy has no vectorised ``erf``; it differs from the exact
    :math:`z\Phi(z)` by less than 1e-3.
    """

    name = "gelu"
    # the minimum of the tanh form is -0.170041 (at z = -0.7517): a closed range holds it
    output_range = (-0.1701, math.inf)

    def value(self, z):
        return 0.5 * z * (1.0 + np.tanh(_GELU_C * (z + _GELU_K * z ** 3)))

    def derivative(self, z):
        u = _GELU_C * (z + _GELU_K * z ** 3)
        e = np.exp(-2.0 * np.abs(u))
        sech2 = 4.0 * e / (1.0 + e) ** 2
        return 0.5 * (1.0 + np.tanh(u)) + 0.5 * z * sech2 * _GELU_C * (1.0 + 3.0 * _GELU_K * z ** 2)


@register
class SiLU(Activation):
    r"""SiLU, also called swish: :math:`g(z) = z\,\sigma(z)`,
    :math:`g'(z) = \sigma(z) + z\,\sigma'(z)`."""

    name = "silu"
    output_range = (-0.28, math.inf)

    def value(self, z):
        return z * sigmoid(z)

    def derivative(self, z):
        return sigmoid(z) + z * _sigmoid_prime(z)
