r"""Losses: one registry, each a value per example and a derivative with respect to the output.

Convention: the output activation ``A`` and the targets ``Y`` have shape (n_L, m). ``value(A, Y)``
returns the per-example losses :math:`\ell_i`, shape (m,); ``derivative(A, Y)`` returns
:math:`\partial \ell_i / \partial A` per example, shape (n_L, m), *not* divided by m. The cost is

.. math:: J = \frac1m \sum_i \ell_i \;+\; \frac{\lambda}{2m} \sum_l \lVert W_l \rVert_F^2

(the L2 term on weights only, never biases); see :mod:`gradref.reference.network`.

Where an output activation and a loss have a simpler joint form (sigmoid + bce, softmax +
cross_entropy), the loss declares it in ``fused``: the loss and :math:`\partial\ell/\partial Z`
computed directly from the pre-activation ``Z``, stably, with no log of a rounded probability.

Adding a loss is one class decorated with ``@register``.
"""

from __future__ import annotations

import numpy as np

from ._validate import describe
from .activations import Activation

__all__ = ["Loss", "Fused", "LOSSES", "register", "get_loss", "loss_names", "logsumexp"]


def logsumexp(z: np.ndarray) -> np.ndarray:
    r"""Column-wise :math:`\log\sum_k e^{z_k}`, shape (1, m), shifted by the column maximum."""
    top = np.max(z, axis=0, keepdims=True)
    return top + np.log(np.sum(np.exp(z - top), axis=0, keepdims=True))


class Fused:
    """A loss written directly in terms of the output pre-activation ``Z``.

    ``value(Z, Y)`` gives the per-example losses (m,), ``dz(Z, A, Y)`` gives
    :math:`\\partial\\ell_i/\\partial Z`, shape (n_L, m), per example.
    """

    def __init__(self, value, dz, doc: str) -> None:
        self.value = value
        self.dz = dz
        self.__doc__ = doc


class Loss:
    """Base class. Subclasses set ``name`` and ``output_activations`` and implement the rest.

    ``output_activations`` is the tuple of activation names the loss may follow, or ``None``
    for any activation. ``fused`` maps an activation name to its :class:`Fused` form.
    """

    name: str = ""
    output_activations: tuple[str, ...] | None = None
    fused: dict[str, Fused] = {}

    def value(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def derivative(self, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def check_targets(self, y: np.ndarray, name: str = "Y") -> None:
        """Raise ``ValueError`` naming ``name`` when targets lie outside the loss's domain."""

    def accepts(self, activation: Activation) -> bool:
        """Whether this loss may follow ``activation`` as the network's output."""
        return self.output_activations is None or activation.name in self.output_activations

    def fused_with(self, activation: Activation) -> Fused | None:
        """The fused form for ``activation``, or ``None`` if the chain rule is used."""
        return self.fused.get(activation.name)

    def __repr__(self) -> str:
        return f"<loss {self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loss) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


LOSSES: dict[str, type[Loss]] = {}


def register(cls: type[Loss]) -> type[Loss]:
    """Class decorator: add a loss to :data:`LOSSES` under ``cls.name``."""
    if not cls.name or cls.name in LOSSES:
        raise ValueError(f"loss name {cls.name!r} is empty or already registered")
    LOSSES[cls.name] = cls
    return cls


def loss_names() -> list[str]:
    """The registered loss names, in registration order."""
    return list(LOSSES)


def get_loss(spec: object) -> Loss:
    """Return a loss from a :class:`Loss` (unchanged) or its registered name."""
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"loss must be a name or a Loss, got {describe(spec)}")
    if spec.strip().lower() not in LOSSES:
        raise ValueError(f"unknown loss {spec!r}; valid names: {', '.join(loss_names())}")
    return LOSSES[spec.strip().lower()]()


def _check_unit_interval(y: np.ndarray, name: str, loss: str) -> None:
    if y.min() >= 0 and y.max() <= 1:
        return
    bad = (y < 0) | (y > 1)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must lie in [0, 1] for the {loss} loss; "
                         f"{int(bad.sum())} value(s) do not, first {name}{list(idx)} = {y[idx]}")


# --------------------------------------------------------------------------- the registry
@register
class BCE(Loss):
    r"""Binary cross-entropy, summed over the output units of an example:
    :math:`\ell = -\sum_k \left[y_k \log a_k + (1-y_k)\log(1-a_k)\right]`,
    :math:`\partial\ell/\partial a_k = (a_k - y_k)/(a_k(1-a_k))`. Targets in [0, 1].

    Follows a sigmoid output, fused from the logits ``Z``:
    :math:`\ell = \sum_k \left[\log(1+e^{z_k}) - y_k z_k\right]` (``logaddexp(0, z)``, exact in
    both tails), :math:`\partial\ell/\partial z_k = \sigma(z_k) - y_k = a_k - y_k`.
    """

    name = "bce"
    output_activations = ("sigmoid",)
    fused = {"sigmoid": Fused(
        value=lambda z, y: np.sum(np.logaddexp(0.0, z) - y * z, axis=0),
        dz=lambda z, a, y: a - y,
        doc="sigmoid + bce from logits")}

    def value(self, a, y):
        with np.errstate(divide="ignore"):
            return -np.sum(y * np.log(a) + (1.0 - y) * np.log1p(-a), axis=0)

    def derivative(self, a, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (a - y) / (a * (1.0 - a))

    def check_targets(self, y, name="Y"):
        _check_unit_interval(y, name, self.name)


@register
class CrossEntropy(Loss):
    r"""Categorical cross-entropy: :math:`\ell = -\sum_k y_k \log a_k`,
    :math:`\partial\ell/\partial a_k = -y_k/a_k`. Targets are one-hot or probability columns
    (entries in [0, 1], each column summing to 1).

    Follows a softmax output, fused from ``Z``: :math:`\ell = \sum_k y_k\,(\mathrm{LSE}(z) - z_k)`,
    :math:`\partial\ell/\partial z_k = a_k \sum_j y_j - y_k = a_k - y_k`.
    """

    name = "cross_entropy"
    output_activations = ("softmax",)
    fused = {"softmax": Fused(
        value=lambda z, y: np.sum(y * (logsumexp(z) - z), axis=0),
        dz=lambda z, a, y: a * np.sum(y, axis=0, keepdims=True) - y,
        doc="softmax + cross_entropy from logits")}

    #: How far a target column's sum may be from 1.
    SUM_TOLERANCE = 1e-6

    def value(self, a, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.sum(np.where(y == 0, 0.0, y * np.log(a)), axis=0)

    def derivative(self, a, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y == 0, 0.0, -y / a)

    def check_targets(self, y, name="Y"):
        _check_unit_interval(y, name, self.name)
        sums = np.sum(y, axis=0)
        bad = np.abs(sums - 1.0) > self.SUM_TOLERANCE
        if np.any(bad):
            j = int(np.argmax(bad))
            raise ValueError(f"{name} columns must sum to 1 for the cross_entropy loss (one-hot "
                             f"or probabilities); {int(bad.sum())} do not, first column {j} "
                             f"sums to {sums[j]}")


@register
class Square(Loss):
    r"""Squared error *without* the ½: :math:`\ell = \sum_k (a_k - y_k)^2`,
    :math:`\partial\ell/\partial a_k = 2(a_k - y_k)`. Any output activation, any real target."""

    name = "square"

    def value(self, a, y):
        return np.sum((a - y) ** 2, axis=0)

    def derivative(self, a, y):
        return 2.0 * (a - y)


@register
class HalfSquare(Loss):
    r"""Half squared error: :math:`\ell = \tfrac12\sum_k (a_k - y_k)^2`,
    :math:`\partial\ell/\partial a_k = a_k - y_k`. Any output activation, any real target."""

    name = "half_square"

    def value(self, a, y):
        return 0.5 * np.sum((a - y) ** 2, axis=0)

    def derivative(self, a, y):
        return a - y
