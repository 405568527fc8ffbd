r"""The mutant catalogue: deliberately wrong gradient implementations, for testing the checker.

:class:`Backprop` is a correct backward pass written step by step, the way a student writes it
(``linear_backward``, ``sigmoid_backward``, …):

.. math::

    dZ_L = A_L - Y \;(\text{sigmoid+bce, softmax+cross-entropy}) \text{ or }
    dA_L \odot g_L'(Z_L), \qquad dZ_l = dA_l \odot g_l'(Z_l),

    dW_l = \tfrac1m dZ_l A_{l-1}^\top + \tfrac{\lambda}{m} W_l, \quad
    db_l = \tfrac1m \textstyle\sum_{\text{columns}} dZ_l, \quad dA_{l-1} = W_l^\top dZ_l .

Each mutant is a subclass that overrides *one* step with a planted mistake written as real code
(``dW = dZ @ A_prev.T`` without ``/ m``, ``dZ = dA * s`` for the sigmoid, …), in the layers its
selector picks (every layer, or only the first, middle or last one). A :class:`Mutant` carries the
metadata: ``id``, ``description``, the layers and keys it affects, the architectures it applies
to, and the diagnosis ``kinds`` (and message ``words``) that :func:`gradref.checks.diagnosis.diagnose`
must produce for it. ``acceptable`` mutants differ from the reference only by the one-sided
derivative chosen at an exact kink and must *not* be flagged. *Composite* mutants plant two
mistakes at once (``examples/implementations/buggy.py``: db without ``/ m`` and the relu backward
``dA * relu(Z)``), in the same or in different layers; ``also`` lists what the diagnosis must say
about the second one, so both must be named.

Usage::

    from gradref.checks.mutants import MUTANTS, example_case
    mutant = MUTANTS["dw_no_mean"]
    net, params, X, Y = example_case(mutant)
    grads = mutant(net, params, X, Y)          # or mutant.bind(net)(params, X, Y)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from gradref.reference.activations import sigmoid
from gradref.reference.network import Network

__all__ = ["Backprop", "Mutant", "MUTANTS", "ARCHITECTURES", "correct_backward",
           "architecture", "example_case", "mutants_for"]


# --------------------------------------------------------------------------- the correct pass
class Backprop:
    """A correct backward pass, one overridable method per step.

    ``targets`` is the set of layers where a subclass plants its mistake; the base class ignores
    it. Calling the object runs forward and backward and returns ``{"dW1", "db1", …}`` with the
    per-example ``"dZ1", …, "dA0", …`` as in :meth:`gradref.reference.Network.backward`.
    """

    def __init__(self, net: Network, params, X, Y, targets=frozenset()) -> None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be a reference Network, got {type(net).__name__}")
        self.net = net
        self.params = net.check_params(params)
        self.X = net.check_X(X)
        self.Y = net.check_Y(Y, self.X.shape[1])
        self.m = self.X.shape[1]
        self.L = net.L
        self.lam = net.l2
        self.targets = frozenset(targets)
        self.fused = net.loss.fused_with(net.activations[-1]) is not None

    # ---- steps
    def loss_derivative(self, AL, Y):
        """dℓ/dA_L per example."""
        name = self.net.loss.name
        if name == "bce":
            return -(Y / AL - (1 - Y) / (1 - AL))
        if name == "cross_entropy":
            return -Y / AL
        if name == "square":
            return 2 * (AL - Y)
        if name == "half_square":
            return AL - Y
        return self.net.loss.derivative(AL, Y)

    def output_dZ(self, ZL, AL, Y):
        """dZ_L: the fused a − y, or the loss derivative through the output activation."""
        if self.fused:
            return AL - Y
        return self.activation_backward(self.L, self.loss_derivative(AL, Y), ZL, AL)

    def activation_backward(self, l, dA, Z, A):
        """dZ_l = dA_l ⊙ g'(Z_l) (softmax: the Jacobian-vector product)."""
        act = self.net.activations[l - 1]
        if act.name == "sigmoid":
            return dA * A * (1 - A)
        if act.name == "tanh":
            return dA * (1 - A ** 2)
        if act.name == "relu":
            return dA * (Z > 0)
        if act.name == "leaky_relu":
            return np.where(Z > 0, dA, act.slope * dA)
        if act.name == "linear":
            return dA
        if act.name == "softmax":
            return A * (dA - np.sum(A * dA, axis=0, keepdims=True))
        return act.vjp(Z, A, dA)

    def l2_grad(self, l, W):
        """The derivative of λ/(2m)·‖W_l‖²."""
        return (self.lam / self.m) * W

    def weight_grad(self, l, dZ, A_prev, W):
        return dZ @ A_prev.T / self.m + self.l2_grad(l, W)

    def bias_grad(self, l, dZ, dA, b):
        return np.sum(dZ, axis=1, keepdims=True) / self.m

    def prev_grad(self, l, W, dZ, dA):
        return W.T @ dZ

    # ---- the pass
    def __call__(self) -> dict[str, np.ndarray]:
        with np.errstate(all="ignore"):
            AL, cache = self.net._forward(self.params, self.X)
            self.cache = cache
            L = self.L
            grads: dict[str, np.ndarray] = {}
            dA = None if self.fused else self.loss_derivative(AL, self.Y)
            dZ = self.output_dZ(cache[f"Z{L}"], AL, self.Y)
            for l in range(L, 0, -1):
                W, b = self.params[f"W{l}"], self.params[f"b{l}"]
                grads[f"dZ{l}"] = dZ
                grads[f"dW{l}"] = self.weight_grad(l, dZ, cache[f"A{l - 1}"], W)
                grads[f"db{l}"] = self.bias_grad(l, dZ, dA, b)
                dA = self.prev_grad(l, W, dZ, dA)
                grads[f"dA{l - 1}"] = dA
                if l > 1 and self.net.has_layers:
                    dZ = self.hidden_backward(l - 1, dA, cache, grads)
                elif l > 1:
                    dZ = self.activation_backward(l - 1, dA, cache[f"Z{l - 1}"], cache[f"A{l - 1}"])
        return grads

    # ---- the optional layers (hidden layers with dropout or a normalisation)
    def dropout_backward(self, l, dA, D, p):
        """Inverted dropout: the kept units' gradient, scaled as in the forward pass."""
        return dA * D / p

    def batchnorm_backward(self, l, dout, Z, gamma, eps):
        """The computation-graph derivation, step by step: x̂ = (Z − μ)/√(σ² + ε) with μ, σ²
        over the examples (axis 1); returns dZ, Σ dout⊙x̂, Σ dout."""
        return self._norm_graph(dout, Z, gamma, eps, axis=1, mean_terms=True, var_terms=True)

    def layernorm_backward(self, l, dout, Z, gamma, eps):
        """The same graph with μ, σ² over the features of each example (axis 0)."""
        return self._norm_graph(dout, Z, gamma, eps, axis=0, mean_terms=True, var_terms=True)

    @staticmethod
    def _norm_graph(dout, Z, gamma, eps, axis, mean_terms, var_terms, ddof=0,
                    eps_inside=True, ddof_grad=None):
        n = Z.shape[axis]
        ddof_grad = ddof if ddof_grad is None else ddof_grad
        mu = np.mean(Z, axis=axis, keepdims=True)
        xmu = Z - mu
        var = np.sum(xmu ** 2, axis=axis, keepdims=True) / (n - ddof)
        std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
        xhat = xmu / std
        dxhat = dout * gamma
        dstd = np.sum(dxhat * xmu, axis=axis, keepdims=True) * (-1.0 / std ** 2)
        dvar = dstd * (0.5 / np.sqrt(var + eps) if eps_inside else 0.5 / np.sqrt(var))
        dxmu = dxhat / std + (dvar * 2.0 * xmu / (n - ddof_grad) if var_terms else 0.0)
        dmu = -np.sum(dxmu, axis=axis, keepdims=True)
        dZ = dxmu + (dmu / n if mean_terms else 0.0)
        dgamma = np.sum(dout * xhat, axis=1, keepdims=True)
        return dZ, dgamma, np.sum(dout, axis=1, keepdims=True)

    def hidden_backward(self, l, dA, cache, grads):
        """Back through layer l's dropout, activation and normalisation."""
        net = self.net
        G = cache[f"A{l}"]
        if net.keep_probs[l - 1]:
            dA = self.dropout_backward(l, dA, cache[f"D{l}"], net.keep_probs[l - 1])
            G = cache[f"G{l}"]
        kind = net.normalization[l - 1]
        dU = self.activation_backward(l, dA, cache[net.activation_input(l)], G)
        if not kind:
            return dU
        step = self.batchnorm_backward if kind == "batchnorm" else self.layernorm_backward
        dZ, dgamma, dbeta = step(l, dU, cache[f"Z{l}"], self.params[f"gamma{l}"], net.eps)
        grads[f"dgamma{l}"] = dgamma / self.m
        grads[f"dbeta{l}"] = dbeta / self.m
        return dZ


def correct_backward(net: Network, params, X, Y) -> dict[str, np.ndarray]:
    """The catalogue's correct backward pass (the baseline every mutant modifies)."""
    return Backprop(net, params, X, Y)()


# --------------------------------------------------------------------------- metadata
def _all(net: Network, l: int) -> bool:
    return True


def _square(net: Network, l: int) -> bool:
    return net.layer_sizes[l] == net.layer_sizes[l - 1]


def _uses(*names: str) -> Callable[[Network, int], bool]:
    """Layers whose backward step goes through ``activation_backward`` with one of ``names``."""
    def pick(net: Network, l: int) -> bool:
        fused_output = l == net.L and net.loss.fused_with(net.activations[-1]) is not None
        return net.activations[l - 1].name in names and not fused_output
    return pick


def _both(*preds) -> Callable[[Network, int], bool]:
    return lambda net, l: all(p(net, l) for p in preds)


def _hidden(net: Network, l: int) -> bool:
    return l < net.L


def _above_first(net: Network, l: int) -> bool:
    return l >= 2


def _output_pair(act: str, loss: str) -> Callable[[Network, int], bool]:
    return lambda net, l: (l == net.L and net.activations[-1].name == act
                           and net.loss.name == loss)


def _loss(*names: str) -> Callable[[Network, int], bool]:
    return lambda net, l: l == net.L and net.loss.name in names


def _with_l2(pred) -> Callable[[Network, int], bool]:
    return lambda net, l: net.l2 > 0 and pred(net, l)


@dataclass(frozen=True)
class Mutant:
    """A deliberately wrong backward pass and what its diagnosis must say.

    Attributes
    ----------
    id, description : str
        A stable identifier and one sentence on the planted mistake.
    kinds : tuple of str
        Acceptable :class:`~gradref.checks.diagnosis.Finding` kinds (one finding must have one).
    words : tuple of str
        Words that finding's message must contain (case-insensitive).
    layers : str
        Which of the eligible layers get the mistake: "all", "first", "middle" or "last".
    keys : tuple of str
        The gradient families the mistake changes directly ("dW", "db", "dZ", "dA").
    propagates : bool
        Whether the error also reaches the layers below through dA.
    requires : str
        The architectures it applies to, in words (``eligible`` is the same as code).
    acceptable : bool
        True for a mistake-free variant (a kink convention): it must not be flagged.
    also : tuple of (kinds, words)
        A composite mutant's further planted mistakes: for each, one finding must have one of
        ``kinds`` and contain ``words``, as for the first.
    layered : bool
        A mistake in a dropout or normalisation step: only these apply to networks with those
        layers (the others' diagnoses are established on plain networks; under batch norm, db
        is zero and dγ, dβ are wrong as consequences, which their expectations do not cover).
    """

    id: str
    description: str
    kinds: tuple[str, ...]
    words: tuple[str, ...]
    backprop: type[Backprop]
    eligible: Callable[[Network, int], bool] = _all
    layers: str = "all"
    keys: tuple[str, ...] = ("dW",)
    propagates: bool = False
    requires: str = "any network"
    acceptable: bool = False
    also: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()
    layered: bool = False

    def expectations(self) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """Every (kinds, words) the diagnosis must produce: the first mistake's, then ``also``."""
        return [(self.kinds, self.words), *self.also] if self.kinds else []

    def targets(self, net: Network) -> list[int]:
        """The layers where the mistake is planted in ``net`` (empty: does not apply)."""
        if not isinstance(net, Network):
            raise TypeError(f"net must be a reference Network, got {type(net).__name__}")
        if net.has_layers != self.layered:
            return []
        ok = [l for l in range(1, net.L + 1) if self.eligible(net, l)]
        if not ok:
            return []
        if self.layers == "all":
            return ok
        if self.layers == "first":
            return [ok[0]] if ok[0] == 1 else []
        if self.layers == "last":
            return [ok[-1]] if ok[-1] == net.L else []
        if self.layers == "middle":
            mid = [l for l in ok if 1 < l < net.L]
            return mid[:1]
        raise ValueError(f"Mutant.layers must be all/first/middle/last, got {self.layers!r}")

    def applies(self, net: Network) -> bool:
        """Whether ``net`` has a layer the mistake can be planted in."""
        return bool(self.targets(net))

    def affected_keys(self, net: Network) -> list[str]:
        """The keys the mistake changes directly (not counting propagation)."""
        out = []
        for l in self.targets(net):
            for fam in self.keys:
                out.append(f"{fam}{l - 1}" if fam == "dA" else f"{fam}{l}")
        return out

    def __call__(self, net: Network, params, X, Y) -> dict[str, np.ndarray]:
        """The mutant's gradients ``{"dW1", "db1", …, "dZ1", …, "dA0", …}``."""
        targets = self.targets(net)
        if not targets:
            raise ValueError(f"mutant {self.id!r} does not apply to {net!r}: it needs "
                             f"{self.requires}")
        return self.backprop(net, params, X, Y, targets)()

    def bind(self, net: Network) -> Callable:
        """``grads = f(params, X, Y)`` for a fixed ``net``."""
        return lambda params, X, Y: self(net, params, X, Y)

    def to_dict(self) -> dict:
        return {"id": self.id, "description": self.description, "kinds": list(self.kinds),
                "words": list(self.words), "layers": self.layers, "keys": list(self.keys),
                "propagates": self.propagates, "requires": self.requires,
                "acceptable": self.acceptable, "layered": self.layered,
                "also": [{"kinds": list(k), "words": list(w)} for k, w in self.also]}


MUTANTS: dict[str, Mutant] = {}


def _register(*args, **kwargs) -> None:
    mutant = Mutant(*args, **kwargs)
    if mutant.id in MUTANTS:
        raise ValueError(f"duplicate mutant id {mutant.id!r}")
    MUTANTS[mutant.id] = mutant


# --------------------------------------------------------------------------- the mistakes
# Averaging.
class _DWNoMean(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return dZ @ A_prev.T + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _DBNoMean(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.sum(dZ, axis=1, keepdims=True)
        return super().bias_grad(l, dZ, dA, b)


class _NoMean(_DWNoMean, _DBNoMean):
    pass


class _DWMeanTwice(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return (dZ @ A_prev.T / self.m + self.lam * W / self.m) / self.m
        return super().weight_grad(l, dZ, A_prev, W)


class _DBMeanDivided(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.mean(dZ, axis=1, keepdims=True) / self.m
        return super().bias_grad(l, dZ, dA, b)


class _OutputDivided(Backprop):
    def output_dZ(self, ZL, AL, Y):
        return super().output_dZ(ZL, AL, Y) / self.m


_MEAN = ("the 1/m averaging is missing",)
_register("dw_no_mean", "dW = dZ @ A_prev.T without / m, in every layer", ("times_m",), _MEAN,
          _DWNoMean)
_register("db_no_mean", "db = np.sum(dZ, axis=1, keepdims=True) without / m, in every layer",
          ("times_m",), _MEAN, _DBNoMean, keys=("db",))
_register("dw_db_no_mean", "neither dW nor db divided by m", ("times_m",), _MEAN, _NoMean,
          keys=("dW", "db"))
_register("dw_no_mean_first", "dW1 without / m (first layer only)", ("times_m",), _MEAN,
          _DWNoMean, layers="first")
_register("dw_no_mean_middle", "dW without / m in a middle layer only", ("times_m",), _MEAN,
          _DWNoMean, layers="middle", requires="at least 3 layers")
_register("dw_no_mean_last", "dW_L without / m (last layer only)", ("times_m",), _MEAN,
          _DWNoMean, layers="last")
_register("dw_mean_twice", "dW = (dZ @ A_prev.T / m + λ/m·W) / m: divided by m twice",
          ("over_m",), ("divided by m twice",), _DWMeanTwice)
_register("db_mean_divided", "db = np.mean(dZ, axis=1, keepdims=True) / m: the mean already "
          "divides by m", ("over_m",), ("divided by m twice",), _DBMeanDivided, keys=("db",))
_register("dz_output_divided", "dZ_L divided by m (then dW divided by m again)", ("over_m",),
          ("times too small",), _OutputDivided, eligible=_loss("bce", "cross_entropy", "square",
                                                               "half_square"),
          keys=("dZ", "dW", "db"), propagates=True)


# Factor 2 and the sign.
class _SquareNoTwo(Backprop):
    def loss_derivative(self, AL, Y):
        return AL - Y  # the derivative of (a − y)² is 2(a − y)


class _HalfSquareTwo(Backprop):
    def loss_derivative(self, AL, Y):
        return 2 * (AL - Y)  # the derivative of ½(a − y)² is a − y


class _OutputSign(Backprop):
    def loss_derivative(self, AL, Y):
        return -super().loss_derivative(AL, Y)

    def output_dZ(self, ZL, AL, Y):
        if self.fused:
            return Y - AL
        return super().output_dZ(ZL, AL, Y)


class _DWSign(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return -(dZ @ A_prev.T) / self.m + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _BCESignTerm(Backprop):
    def output_dZ(self, ZL, AL, Y):
        dAL = -(Y / AL + (1 - Y) / (1 - AL))  # the minus of the second term was lost
        return self.activation_backward(self.L, dAL, ZL, AL)


_register("square_missing_2", "square loss: dA_L = a − y instead of 2(a − y)", ("half",),
          ("factor 2",), _SquareNoTwo, eligible=_loss("square"), keys=("dZ", "dW", "db"),
          propagates=True, requires="the square loss")
_register("half_square_extra_2", "half-square loss: dA_L = 2(a − y) instead of a − y",
          ("times_2",), ("factor 2",), _HalfSquareTwo, eligible=_loss("half_square"),
          keys=("dZ", "dW", "db"), propagates=True, requires="the half_square loss")
_register("output_sign", "the output gradient has the wrong sign (y − a)", ("sign",),
          ("wrong sign",), _OutputSign, eligible=_loss("bce", "cross_entropy", "square",
                                                        "half_square"),
          keys=("dZ", "dW", "db"), propagates=True)
_register("dw_sign_last", "dW_L = -(dZ @ A_prev.T) / m: gradient ascent in the last layer",
          ("sign",), ("wrong sign",), _DWSign, layers="last")
_register("bce_sign_term", "bce derivative −(y/a + (1−y)/(1−a)): a sign error, then the "
          "sigmoid backward", ("loss_derivative",), ("sign error", "bce"), _BCESignTerm,
          eligible=_output_pair("sigmoid", "bce"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a sigmoid output with the bce loss")


# Transposes and shapes.
class _DWTransposed(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return A_prev @ dZ.T / self.m + self.l2_grad(l, W).T
        return super().weight_grad(l, dZ, A_prev, W)


class _PrevNoTranspose(Backprop):
    def prev_grad(self, l, W, dZ, dA):
        if l in self.targets:
            return W @ dZ
        return super().prev_grad(l, W, dZ, dA)


class _DBAxis0(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.sum(dZ, axis=0, keepdims=True) / self.m
        return super().bias_grad(l, dZ, dA, b)


class _DBNoKeepdims(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.sum(dZ, axis=1) / self.m
        return super().bias_grad(l, dZ, dA, b)


class _DBSumAll(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.sum(dZ) / self.m
        return super().bias_grad(l, dZ, dA, b)


class _DBMeanAll(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.mean(dZ) * np.ones_like(b)
        return super().bias_grad(l, dZ, dA, b)


class _DBFromDA(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.sum(dA, axis=1, keepdims=True) / self.m
        return super().bias_grad(l, dZ, dA, b)


_register("dw_transposed", "dW = A_prev @ dZ.T / m: the transposed product", ("transpose",),
          ("transpose",), _DWTransposed, eligible=lambda net, l: not _square(net, l),
          requires="a layer with n_l != n_{l-1}")
_register("dw_transposed_square", "dW = A_prev @ dZ.T / m in a square layer, where the shape "
          "does not reveal it", ("transpose",), ("transpose",), _DWTransposed, eligible=_square,
          requires="a square layer (n_l == n_{l-1})")
_register("dA_prev_no_transpose", "dA_prev = W @ dZ instead of W.T @ dZ (square layers)",
          ("dA_prev",), ("passed back", "instead of W"), _PrevNoTranspose,
          eligible=_both(_square, _above_first), keys=("dA",), propagates=True,
          requires="a square layer above the first")
_register("db_axis0", "db = np.sum(dZ, axis=0, keepdims=True) / m: summed over the units",
          ("wrong_axis",), ("sum runs over the wrong axis",), _DBAxis0, keys=("db",))
_register("db_no_keepdims", "db = np.sum(dZ, axis=1) / m: shape (n,) instead of (n, 1)",
          ("keepdims",), ("keepdims",), _DBNoKeepdims, keys=("db",),
          eligible=lambda net, l: net.layer_sizes[l] > 1, requires="a layer wider than 1")
_register("db_sum_all", "db = np.sum(dZ) / m: one number", ("wrong_axis",),
          ("sum runs over all entries",), _DBSumAll, keys=("db",),
          eligible=lambda net, l: net.layer_sizes[l] > 1, requires="a layer wider than 1")
_register("db_mean_all", "db = np.mean(dZ) broadcast to b's shape", ("bias",), ("mean",),
          _DBMeanAll, keys=("db",), eligible=lambda net, l: net.layer_sizes[l] > 1,
          requires="a layer wider than 1")
_register("db_from_dA", "db = np.sum(dA, axis=1, keepdims=True) / m: before the activation "
          "derivative", ("bias",), ("not dA",), _DBFromDA, keys=("db",),
          eligible=_both(_hidden, _uses("sigmoid", "tanh", "relu", "leaky_relu")),
          requires="a hidden sigmoid, tanh, relu or leaky_relu layer")


# Activation derivatives.
def _act_mutant(cls_name: str, formula: Callable) -> type[Backprop]:
    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return formula(self, l, dA, Z, A)
        return Backprop.activation_backward(self, l, dA, Z, A)
    return type(cls_name, (Backprop,), {"activation_backward": activation_backward})


_ACT = ("activation_derivative",)
_register("sigmoid_missing_factor", "sigmoid backward dZ = dA * s (the (1 − s) is missing)", _ACT,
          ("s instead of s·(1−s)", "missing a factor"),
          _act_mutant("_SigmoidS", lambda self, l, dA, Z, A: dA * A),
          eligible=_uses("sigmoid"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a sigmoid layer without bce fusion")
_register("sigmoid_of_a", "sigmoid backward recomputes s = sigmoid(A) from the cached A", _ACT,
          ("applied twice",),
          _act_mutant("_SigmoidOfA", lambda self, l, dA, Z, A: dA * sigmoid(A) * (1 - sigmoid(A))),
          eligible=_uses("sigmoid"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a sigmoid layer without bce fusion")
_register("sigmoid_of_z", "sigmoid backward dZ = dA * Z * (1 − Z): the formula applied to Z",
          _ACT, ("pre-activation",),
          _act_mutant("_SigmoidOfZ", lambda self, l, dA, Z, A: dA * Z * (1 - Z)),
          eligible=_uses("sigmoid"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a sigmoid layer without bce fusion")
_register("tanh_not_squared", "tanh backward dZ = dA * (1 − t) instead of (1 − t²)", _ACT,
          ("1−t instead of 1−t²",),
          _act_mutant("_TanhLinear", lambda self, l, dA, Z, A: dA * (1 - A)),
          eligible=_uses("tanh"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a tanh layer")
_register("tanh_value", "tanh backward dZ = dA * tanh(Z): the activation, not its derivative",
          _ACT, ("activation itself",),
          _act_mutant("_TanhValue", lambda self, l, dA, Z, A: dA * np.tanh(Z)),
          eligible=_uses("tanh"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a tanh layer")
_register("tanh_missing_middle", "no activation derivative (dZ = dA) in a middle tanh layer",
          _ACT, ("derivative is missing",),
          _act_mutant("_Missing", lambda self, l, dA, Z, A: dA),
          eligible=_uses("tanh"), layers="middle", keys=("dZ", "dW", "db"), propagates=True,
          requires="a tanh layer strictly between the first and the last")


def _relu_inverted(self, l, dA, Z, A):
    dZ = np.array(dA, copy=True)
    dZ[Z > 0] = 0
    return dZ


_register("relu_inverted", "relu backward dZ[Z > 0] = 0: the mask inverted", _ACT, ("inverted",),
          _act_mutant("_ReluInverted", _relu_inverted), eligible=_uses("relu"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a relu layer")
_register("relu_mask_a_nonneg", "relu backward dZ = dA * (A >= 0): always true, no derivative",
          _ACT, ("derivative is missing",),
          _act_mutant("_ReluAGe0", lambda self, l, dA, Z, A: dA * (A >= 0)),
          eligible=_uses("relu"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a relu layer")
_register("relu_value", "relu backward dZ = dA * A: the activation, not its derivative", _ACT,
          ("activation itself",),
          _act_mutant("_ReluValue", lambda self, l, dA, Z, A: dA * A),
          eligible=_uses("relu"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a relu layer")
_register("relu_sigmoid_derivative", "a relu layer backpropagated with sigmoid_backward", _ACT,
          ("sigmoid's derivative",),
          _act_mutant("_ReluAsSigmoid",
                      lambda self, l, dA, Z, A: dA * sigmoid(Z) * (1 - sigmoid(Z))),
          eligible=_uses("relu"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a relu layer")
_register("leaky_relu_hardcoded_slope", "leaky_relu backward with the slope hard-coded to 0.01",
          _ACT, ("slope of 0.01",),
          _act_mutant("_LeakySlope", lambda self, l, dA, Z, A: np.where(Z > 0, dA, 0.01 * dA)),
          eligible=lambda net, l: (_uses("leaky_relu")(net, l)
                                   and net.activations[l - 1].slope != 0.01),
          keys=("dZ", "dW", "db"), propagates=True,
          requires="a leaky_relu layer with a slope other than 0.01")
_register("leaky_relu_as_relu", "leaky_relu backward with relu's mask (dA * (Z > 0))", _ACT,
          ("relu's derivative",),
          _act_mutant("_LeakyAsRelu", lambda self, l, dA, Z, A: dA * (Z > 0)),
          eligible=_uses("leaky_relu"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a leaky_relu layer")
_register("relu_mask_z_nonneg", "relu backward dZ = dA * (Z >= 0): the other one-sided "
          "derivative at Z = 0, which is acceptable", (), (),
          _act_mutant("_ReluZGe0", lambda self, l, dA, Z, A: dA * (Z >= 0)),
          eligible=_uses("relu"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a relu layer", acceptable=True)


# Output layers without (or with doubled) fusion.
class _SoftmaxElementwise(Backprop):
    def output_dZ(self, ZL, AL, Y):
        dAL = -Y / AL
        return dAL * AL * (1 - AL)  # softmax treated like an elementwise sigmoid


class _SoftmaxNoBackward(Backprop):
    def output_dZ(self, ZL, AL, Y):
        return -Y / AL  # dA_L used as dZ_L


class _FusedTwice(Backprop):
    def output_dZ(self, ZL, AL, Y):
        dZ = AL - Y
        if self.net.activations[-1].name == "sigmoid":
            return dZ * AL * (1 - AL)
        return AL * (dZ - np.sum(AL * dZ, axis=0, keepdims=True))


class _CEWithBCE(Backprop):
    def output_dZ(self, ZL, AL, Y):
        dAL = -(Y / AL - (1 - Y) / (1 - AL))
        return AL * (dAL - np.sum(AL * dAL, axis=0, keepdims=True))


_SOFTMAX_CE = _output_pair("softmax", "cross_entropy")
_register("softmax_elementwise", "softmax + cross-entropy without fusion, the softmax "
          "derivative taken elementwise as a(1 − a)", _ACT, ("not elementwise",),
          _SoftmaxElementwise, eligible=_SOFTMAX_CE, keys=("dZ", "dW", "db"), propagates=True,
          requires="a softmax output with cross_entropy")
_register("softmax_no_backward", "softmax + cross-entropy: dZ_L = −y/a, the softmax backward "
          "step forgotten", _ACT, ("softmax backward step is missing",), _SoftmaxNoBackward,
          eligible=_SOFTMAX_CE, keys=("dZ", "dW", "db"), propagates=True,
          requires="a softmax output with cross_entropy")
_register("sigmoid_bce_fused_twice", "dZ_L = (a − y) * a * (1 − a): the sigmoid derivative on "
          "top of the fused a − y", _ACT, ("counts it twice",), _FusedTwice,
          eligible=_output_pair("sigmoid", "bce"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a sigmoid output with the bce loss")
_register("softmax_ce_fused_twice", "dZ_L = softmax backward of (a − y): the Jacobian on top of "
          "the fused a − y", _ACT, ("counts it twice",), _FusedTwice, eligible=_SOFTMAX_CE,
          keys=("dZ", "dW", "db"), propagates=True, requires="a softmax output with "
          "cross_entropy")
_register("cross_entropy_with_bce_derivative", "softmax + cross-entropy using the bce "
          "derivative −(y/a − (1−y)/(1−a))", ("loss_derivative",), ("binary cross-entropy",),
          _CEWithBCE, eligible=_SOFTMAX_CE, keys=("dZ", "dW", "db"), propagates=True,
          requires="a softmax output with cross_entropy")


# L2.
class _L2Missing(Backprop):
    def l2_grad(self, l, W):
        return 0 * W


class _L2NoM(Backprop):
    def l2_grad(self, l, W):
        return self.lam * W


class _L2Double(Backprop):
    def l2_grad(self, l, W):
        return 2 * self.lam / self.m * W


class _L2Bias(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        return super().bias_grad(l, dZ, dA, b) + self.lam / self.m * b


_register("l2_missing", "the L2 term λ/m·W left out of dW", ("l2_missing",),
          ("L2 term", "missing"), _L2Missing, eligible=_with_l2(_all), requires="λ > 0")
_register("l2_no_m", "the L2 term written λ·W (without / m)", ("l2_wrong",), ("λ·W", "divided by m"),
          _L2NoM, eligible=_with_l2(_all), requires="λ > 0")
_register("l2_double", "the L2 term written 2λ/m·W", ("l2_wrong",), ("2λ/m",), _L2Double,
          eligible=_with_l2(_all), requires="λ > 0")
_register("l2_on_bias", "db += λ/m·b: the bias regularised too", ("l2_bias",),
          ("biases are not regularised",), _L2Bias, eligible=_with_l2(_all), keys=("db",),
          requires="λ > 0 (and non-zero biases)")


# The wrong A_prev, and the wrong dA_prev.
class _DWFromZ(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return dZ @ self.cache[f"Z{l - 1}"].T / self.m + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _DWFromA(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return dZ @ self.cache[f"A{l}"].T / self.m + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _DWFromX(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return dZ @ self.X.T / self.m + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _PrevOverM(Backprop):
    def prev_grad(self, l, W, dZ, dA):
        if l in self.targets:
            return W.T @ dZ / self.m
        return super().prev_grad(l, W, dZ, dA)


class _PrevFromDA(Backprop):
    def prev_grad(self, l, W, dZ, dA):
        if l in self.targets:
            return W.T @ dA
        return super().prev_grad(l, W, dZ, dA)


_register("dw_uses_z_prev", "dW = dZ @ Z_prev.T / m: the pre-activation instead of A_prev",
          ("a_prev",), ("pre-activation",), _DWFromZ, eligible=_above_first,
          requires="at least 2 layers")
_register("dw_uses_a_current", "dW = dZ @ A.T / m: the layer's output instead of its input",
          ("a_prev",), ("layer's output",), _DWFromA, eligible=_square,
          requires="a square layer")
_register("dw_uses_x", "dW = dZ @ X.T / m in every layer: the network input instead of A_prev",
          ("a_prev",), ("network input",), _DWFromX,
          eligible=lambda net, l: l >= 2 and net.layer_sizes[l - 1] == net.layer_sizes[0],
          requires="a layer l >= 2 whose input width equals n_0")
_register("dA_prev_over_m", "dA_prev = W.T @ dZ / m: the per-example gradient averaged",
          ("dA_prev",), ("passed back", "per-example"), _PrevOverM, eligible=_above_first,
          keys=("dA",), propagates=True, requires="at least 2 layers")
_register("dA_prev_from_dA", "dA_prev = W.T @ dA: the activation derivative skipped",
          ("dA_prev",), ("passed back", "skipped"), _PrevFromDA,
          eligible=_both(_above_first, _hidden), keys=("dA",), propagates=True,
          requires="at least 3 layers")


# Two mistakes at once.
class _DBNoMeanReluValue(Backprop):
    """examples/implementations/buggy.py: db without / m in every layer, and the relu backward
    multiplying by relu(Z), the activation's value, instead of masking with Z > 0."""

    def bias_grad(self, l, dZ, dA, b):
        return np.sum(dZ, axis=1, keepdims=True)

    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return dA * np.maximum(Z, 0.0)
        return super().activation_backward(l, dA, Z, A)


class _LastDWNoMeanSigmoidS(Backprop):
    """dW_L without / m in the output layer, and dA * s in the hidden sigmoid layers."""

    def weight_grad(self, l, dZ, A_prev, W):
        if l == self.L:
            return dZ @ A_prev.T + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)

    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return dA * A
        return super().activation_backward(l, dA, Z, A)


class _TanhLinearDWNoMean(_DWNoMean):
    """In the tanh layers: dA * (1 − t) and dW without / m."""

    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return dA * (1 - A)
        return super().activation_backward(l, dA, Z, A)


class _ReluInvertedDBMeanDivided(_DBMeanDivided):
    """In the relu layers: the mask inverted and db = mean / m."""

    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return _relu_inverted(self, l, dA, Z, A)
        return super().activation_backward(l, dA, Z, A)


class _PrevOverMDWSignLast(_PrevOverM):
    """dA_prev = W.T @ dZ / m above the first layer, and dW_L with the wrong sign."""

    def weight_grad(self, l, dZ, A_prev, W):
        if l == self.L:
            return -(dZ @ A_prev.T) / self.m + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _L2MissingTanhValue(_L2Missing):
    """No L2 term anywhere, and dA * tanh(Z) in the tanh layers."""

    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return dA * np.tanh(Z)
        return super().activation_backward(l, dA, Z, A)


class _ReluValueDBNoKeepdims(Backprop):
    """In the relu layers: dA * relu(Z) and db = np.sum(dZ, axis=1) / m, shape (n,)."""

    def activation_backward(self, l, dA, Z, A):
        if l in self.targets:
            return dA * A
        return super().activation_backward(l, dA, Z, A)

    def bias_grad(self, l, dZ, dA, b):
        if l in self.targets:
            return np.sum(dZ, axis=1) / self.m
        return super().bias_grad(l, dZ, dA, b)


_VALUE = (_ACT, ("activation itself",))
_register("buggy_py", "buggy.py: db without / m in every layer and the relu backward dA * relu(Z)",
          ("times_m",), _MEAN, _DBNoMeanReluValue, eligible=_uses("relu"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a relu layer",
          also=((_ACT, ("activation itself", "relu derivative")),))
_register("dw_no_mean_last_sigmoid_s", "dW_L without / m, and dA * s in the hidden sigmoid "
          "layers (different layers)", ("times_m",), _MEAN, _LastDWNoMeanSigmoidS,
          eligible=_both(_hidden, _uses("sigmoid")), keys=("dZ", "dW", "db"), propagates=True,
          requires="a hidden sigmoid layer",
          also=((_ACT, ("s instead of s·(1−s)", "missing a factor")),))
_register("tanh_not_squared_dw_no_mean", "in the tanh layers, dA * (1 − t) and dW without / m "
          "(the same layers)", ("times_m",), _MEAN, _TanhLinearDWNoMean, eligible=_uses("tanh"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a tanh layer",
          also=((_ACT, ("1−t instead of 1−t²",)),))
_register("relu_inverted_db_mean_divided", "in the relu layers, the mask inverted and db = "
          "np.mean(dZ, axis=1, keepdims=True) / m", ("over_m",), ("divided by m twice",),
          _ReluInvertedDBMeanDivided, eligible=_uses("relu"), keys=("dZ", "dW", "db"),
          propagates=True, requires="a relu layer", also=((_ACT, ("inverted",)),))
_register("dA_prev_over_m_dw_sign_last", "dA_prev = W.T @ dZ / m above the first layer, and "
          "dW_L = -(dZ @ A_prev.T) / m", ("dA_prev",), ("passed back", "per-example"),
          _PrevOverMDWSignLast, eligible=_above_first, keys=("dA", "dW"), propagates=True,
          requires="at least 2 layers", also=((("sign",), ("wrong sign",)),))
_register("l2_missing_tanh_value", "no L2 term, and dA * tanh(Z) in the tanh layers",
          ("l2_missing",), ("L2 term", "missing"), _L2MissingTanhValue,
          eligible=_with_l2(_uses("tanh")), keys=("dZ", "dW", "db"), propagates=True,
          requires="λ > 0 and a tanh layer", also=(_VALUE,))
_register("relu_value_db_no_keepdims", "in the relu layers, dA * relu(Z) and db of shape (n,)",
          _ACT, ("activation itself",), _ReluValueDBNoKeepdims,
          eligible=lambda net, l: _uses("relu")(net, l) and net.layer_sizes[l] > 1,
          keys=("dZ", "dW", "db"), propagates=True, requires="a relu layer wider than 1",
          also=((("keepdims",), ("keepdims",)),))


# Dropout and normalisation.
class _DropoutNoMask(Backprop):
    def dropout_backward(self, l, dA, D, p):
        if l in self.targets:
            return dA / p
        return super().dropout_backward(l, dA, D, p)


class _DropoutNoScale(Backprop):
    def dropout_backward(self, l, dA, D, p):
        if l in self.targets:
            return dA * D
        return super().dropout_backward(l, dA, D, p)


def _graph_variant(**mistake):
    """A Backprop whose batch-norm backward (in the target layers) has ``mistake``."""
    class _Variant(Backprop):
        def batchnorm_backward(self, l, dout, Z, gamma, eps):
            right = super().batchnorm_backward(l, dout, Z, gamma, eps)
            if l in self.targets:   # dZ only: dγ and dβ stay right
                options = dict(axis=1, mean_terms=True, var_terms=True) | mistake
                return self._norm_graph(dout, Z, gamma, eps, **options)[0], *right[1:]
            return right
    return _Variant


class _LNWrongAxis(Backprop):
    def layernorm_backward(self, l, dout, Z, gamma, eps):
        if l in self.targets:   # the batch-norm derivation pasted in: means over the examples
            dZ, _, _ = self._norm_graph(dout, Z, gamma, eps, axis=1, mean_terms=True,
                                        var_terms=True)
            _, dgamma, dbeta = super().layernorm_backward(l, dout, Z, gamma, eps)
            return dZ, dgamma, dbeta
        return super().layernorm_backward(l, dout, Z, gamma, eps)


def _has(layer: str) -> Callable[[Network, int], bool]:
    if layer == "dropout":
        return lambda net, l: bool(net.keep_probs[l - 1])
    return lambda net, l: net.normalization[l - 1] == layer


_NORM = ("normalization",)
_register("dropout_no_mask", "the dropout backward dA / keep_prob: the mask D forgotten",
          ("dropout",), ("forgot the mask",), _DropoutNoMask, eligible=_has("dropout"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a hidden layer with dropout", layered=True)
_register("dropout_no_scale", "the dropout backward dA * D: the 1/keep_prob scaling forgotten",
          ("dropout",), ("1/p scaling",), _DropoutNoScale, eligible=_has("dropout"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a hidden layer with dropout", layered=True)
_register("bn_no_mean_terms", "batch-norm backward without the terms through the batch mean "
          "(no dmu)", _NORM, ("missing the terms through the batch mean",),
          _graph_variant(mean_terms=False), eligible=_has("batchnorm"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a batch-norm layer", layered=True)
_register("bn_no_var_terms", "batch-norm backward without the terms through the batch "
          "variance (no dvar)", _NORM, ("missing the terms through the batch variance",),
          _graph_variant(var_terms=False), eligible=_has("batchnorm"),
          keys=("dZ", "dW", "db"), propagates=True, requires="a batch-norm layer", layered=True)
_register("bn_unbiased_variance", "batch-norm backward with the unbiased variance "
          "Σ(x − μ)²/(m − 1)", _NORM, ("unbiased",), _graph_variant(ddof=1),
          eligible=_has("batchnorm"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a batch-norm layer", layered=True)
_register("bn_unbiased_variance_grad", "batch-norm backward with 1/(m − 1) in the variance's "
          "derivative only (the forward pass biased)", _NORM, ("unbiased",),
          _graph_variant(ddof_grad=1), eligible=_has("batchnorm"), keys=("dZ", "dW", "db"),
          propagates=True, requires="a batch-norm layer", layered=True)
_register("bn_eps_outside_root", "batch-norm backward of (x − μ)/(√σ² + ε): ε outside the "
          "square root", _NORM, ("inside the square root",), _graph_variant(eps_inside=False),
          eligible=_has("batchnorm"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a batch-norm layer", layered=True)
_register("ln_wrong_axis", "layer-norm backward with the means over the batch (axis 1) "
          "instead of the features", _NORM, ("over the features", "not over the batch"),
          _LNWrongAxis, eligible=_has("layernorm"), keys=("dZ", "dW", "db"), propagates=True,
          requires="a layer-norm layer", layered=True)


# Near misses.
class _OneElement(Backprop):
    factor = 1.0 + 1e-4

    def weight_grad(self, l, dZ, A_prev, W):
        dW = super().weight_grad(l, dZ, A_prev, W)
        if l in self.targets:
            i = np.unravel_index(int(np.argmax(np.abs(dW))), dW.shape)
            dW[i] *= self.factor  # the largest entry, so the change is not lost in rounding
        return dW


class _OneElementPercent(_OneElement):
    factor = 1.01


class _DBOneElement(Backprop):
    def bias_grad(self, l, dZ, dA, b):
        db = super().bias_grad(l, dZ, dA, b)
        if l in self.targets:
            db[-1, 0] += 1e-3 * np.max(np.abs(db))
        return db


class _EpsilonM(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            return dZ @ A_prev.T / (self.m + 1e-3) + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


class _Float32(Backprop):
    def weight_grad(self, l, dZ, A_prev, W):
        if l in self.targets:
            dW = dZ.astype(np.float32) @ A_prev.T.astype(np.float32) / np.float32(self.m)
            return dW.astype(np.float64) + self.l2_grad(l, W)
        return super().weight_grad(l, dZ, A_prev, W)


_register("dw_one_element_1e-4", "one element of dW_L scaled by 1 + 1e-4", ("near_miss",),
          ("1.0001×",), _OneElement, layers="last")
_register("dw_one_element_1e-2", "one element of dW1 scaled by 1.01", ("near_miss",),
          ("1.01×",), _OneElementPercent, layers="first")
_register("db_one_element", "one element of db1 off by 1e-3 of the largest entry",
          ("near_miss",), ("1 of", "differs"), _DBOneElement, layers="first", keys=("db",),
          eligible=lambda net, l: net.layer_sizes[l] > 1, requires="a first layer wider than 1")
_register("dw_epsilon_m", "dW = dZ @ A_prev.T / (m + 1e-3): a guard against m = 0",
          ("near_miss",), ("near miss",), _EpsilonM)
_register("dw_float32", "dW computed in float32", ("near_miss",), (), _Float32)


# --------------------------------------------------------------------------- test networks
#: Named architectures that together give every mutant a network to apply to:
#: name -> (layer_sizes, activations, loss, λ). Widths stay below the batch size 16.
ARCHITECTURES: dict[str, tuple] = {
    "relu_bce": ([3, 5, 4, 1], "relu,relu,sigmoid", "bce", 0.0),
    "tanh_square_l2": ([4, 4, 4, 1], "tanh,tanh,sigmoid", "bce", 0.7),
    "sigmoid_softmax": ([3, 5, 3], "sigmoid,softmax", "cross_entropy", 0.0),
    "deep_mixed": ([3, 4, 4, 5, 2], "leaky_relu(0.05),tanh,sigmoid,linear", "square", 0.3),
    "tanh_output_half_square": ([2, 5, 3, 2], "relu,tanh,tanh", "half_square", 0.0),
    "sigmoid_square": ([3, 4, 2], "sigmoid,sigmoid", "square", 0.0),
    # the optional layers (a fifth entry: the Network's keyword options)
    "batchnorm_dropout": ([3, 5, 4, 1], "tanh,relu,sigmoid", "bce", 0.0,
                          {"normalization": ["batchnorm", None], "dropout": [None, 0.7]}),
    "layernorm_dropout": ([4, 5, 4, 3], "relu,sigmoid,softmax", "cross_entropy", 0.3,
                          {"normalization": ["layernorm", "batchnorm"], "dropout": [0.6, None]}),
}


def architecture(name: str) -> Network:
    """The :class:`Network` of ``ARCHITECTURES[name]``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; valid: {', '.join(ARCHITECTURES)}")
    sizes, acts, loss, lam, *options = ARCHITECTURES[name]
    return Network(sizes, acts, loss, l2=lam, **(options[0] if options else {}))


def mutants_for(net: Network) -> list[Mutant]:
    """The mutants that apply to ``net``."""
    return [mu for mu in MUTANTS.values() if mu.applies(net)]


def _targets(net: Network, m: int, rng: np.random.Generator) -> np.ndarray:
    n = net.layer_sizes[-1]
    if net.loss.name == "bce":
        return (rng.random((n, m)) < 0.5).astype(np.float64)
    if net.loss.name == "cross_entropy":
        return np.eye(n)[:, rng.integers(0, n, size=m)]
    return rng.standard_normal((n, m))


def example_case(which, seed: int = 0, m: int = 16, kinks: bool = False):
    """``(net, params, X, Y)`` for a mutant (its first applicable architecture), an
    architecture name, or a :class:`Network`.

    Weights are Glorot-normal, biases 0.1·N(0, 1) (non-zero, so an L2 term on b shows), ``X`` is
    standard normal with ``m`` columns. With ``kinks=True`` the first column of ``X`` and every
    bias are zero, so relu-like layers see pre-activations exactly at their kink. γ is 1 +
    0.3·N(0, 1) and β 0.3·N(0, 1); a network with dropout gets masks drawn after the rest
    (:meth:`~gradref.reference.Network.with_masks`).
    """
    if isinstance(which, Mutant):
        names = [n for n in ARCHITECTURES if which.applies(architecture(n))]
        if not names:
            raise ValueError(f"no architecture in ARCHITECTURES suits mutant {which.id!r}")
        net = architecture(names[0])
    elif isinstance(which, str):
        net = architecture(which)
    elif isinstance(which, Network):
        net = which
    else:
        raise TypeError(f"which must be a Mutant, an architecture name or a Network, "
                        f"got {type(which).__name__}")
    if isinstance(m, bool) or not isinstance(m, int) or m < 1:
        raise ValueError(f"m must be a positive int, got {m!r}")
    rng = np.random.default_rng(seed)
    params = net.init_params("xavier", seed=rng)
    for l in range(1, net.L + 1):
        params[f"b{l}"] = 0.0 * params[f"b{l}"] if kinks else 0.1 * rng.standard_normal(
            params[f"b{l}"].shape)
    for key in params:   # γ and β away from their initial 1 and 0
        if key.startswith(("gamma", "beta")):
            params[key] = (key[0] == "g") + 0.3 * rng.standard_normal(params[key].shape)
    X = rng.standard_normal((net.layer_sizes[0], m))
    if kinks:
        X[:, 0] = 0.0
    Y = _targets(net, m, rng)
    if net.mask_shapes(m) and not net.masks:
        net = net.with_masks(net.draw_masks(m, rng))
    return net, params, X, Y
