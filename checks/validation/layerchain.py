r"""One bound call of an object-oriented model, and the layer-list case chained by gradref.

Pure NumPy and standard library, like :mod:`.binding` (whose names it uses; both run inside
the sandboxed child, see :mod:`.bound`).

:func:`start` builds the model for the case's architecture (``arch`` with ``lr``), writes the
case's parameters in (:func:`~.binding.bind`) and either runs the user's call (statements in
which ``model``, ``X``, ``Y``, ``lr`` and ``np`` are defined) and returns what it gave, or,
for ``call="chain"``, runs the forward chain over the model's layers

.. math:: A_0 = X,\qquad A_k = \text{layer}_k.\mathrm{forward}(A_{k-1})

and returns the output :math:`A` (without a loss object) so that gradref computes
:math:`\partial J/\partial A` with the reference's loss; :func:`finish` then runs the backward
chain :math:`dA_{k-1} = \text{layer}_k.\mathrm{backward}(dA_k)` and reads the gradients back.
With a loss object (``loss.forward(A, Y)`` or ``loss(A, Y)``, then ``loss.backward()``), the
whole chain runs in :func:`start`.
"""

from __future__ import annotations

import inspect

import numpy as np

try:  # in the package; in the sandboxed child both modules share one namespace
    from .binding import BindingError, bind, build
except ImportError:  # pragma: no cover - exercised in the child
    pass

__all__ = ["CHAIN", "layers_of", "start", "finish"]

#: The ``call`` that asks gradref to chain the model's layers itself.
CHAIN = "chain"
_LAYER_LISTS = ("layers", "modules", "network", "net", "blocks", "sequence", "children")
#: The method names layer libraries use, tried in this order.
FORWARDS = ("forward", "forward_pass", "forward_propagation", "fprop")
BACKWARDS = ("backward", "backward_pass", "backward_propagation", "bprop")


def _method(obj, names):
    return next((getattr(obj, n) for n in names if callable(getattr(obj, n, None))), None)


def _is_layer(obj):
    return _method(obj, FORWARDS) is not None and _method(obj, BACKWARDS) is not None


def layers_of(model):
    """The list of layer objects (``forward``/``backward``) that ``model`` is or holds."""
    if isinstance(model, (list, tuple)) and model and all(_is_layer(x) for x in model):
        return list(model)
    for name in _LAYER_LISTS + tuple(vars(model) if hasattr(model, "__dict__") else ()):
        value = getattr(model, name, None)
        if isinstance(value, (list, tuple)) and value and all(_is_layer(x) for x in value):
            return list(value)
    raise BindingError(f"call {CHAIN!r} needs a list of layer objects (the model itself, or "
                       f"an attribute such as .layers) with methods named one of "
                       f"{', '.join(FORWARDS)} and one of {', '.join(BACKWARDS)} (a backward "
                       f"taking two arguments gets (dA, lr)); {type(model).__name__} has none")


def _positional_count(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
               for p in params)


def _pick(value, shape):
    """A layer's backward may return dA or a tuple holding it: the array of ``shape``."""
    if isinstance(value, (tuple, list)):
        for item in value:
            if np.shape(item) == shape:
                return item
        raise BindingError(f"a layer's backward returned {len(value)} items, none of shape "
                           f"{shape} (the gradient with respect to its input)")
    return value


def _forward(layers, X):
    A, shapes = X, []
    for layer in layers:
        shapes.append(np.shape(A))
        A = _method(layer, FORWARDS)(A)
    return A, shapes


def _backward(layers, shapes, dA, lr=None):
    """``backward(dA)``, or ``backward(dA, lr)`` for layers that update themselves."""
    for layer, shape in zip(reversed(layers), reversed(shapes), strict=True):
        backward = _method(layer, BACKWARDS)
        dA = _pick(backward(dA, lr) if _positional_count(backward) >= 2 else backward(dA),
                   shape)
    return dA


def start(namespace, model_spec, call, params, X, Y, arch, update, loss_object=None,
          state=None):
    """Build, bind, run (see the module docstring). Returns ``{"answer", "how"}`` or, for an
    unfinished chain, ``{"output": A, "how"}`` with the chain kept in ``state``."""
    model = build(namespace, model_spec, arch)
    bound = bind(model, params)
    how = f"model {model_spec!r} bound {bound.how}"
    lr = arch.get("lr")
    if call != CHAIN:
        value, read = bound.run(call, X, Y, lr, update, extra=namespace)
        return {"answer": value, "how": f"{how}; call {call!r}; read {read}"}
    layers = layers_of(model)
    A, shapes = _forward(layers, X)
    chain = f"{how}; gradref chained forward/backward over {len(layers)} layer objects"
    if loss_object is None:
        if state is not None:
            state.update(bound=bound, layers=layers, shapes=shapes, how=chain, update=update,
                         lr=lr)
        return {"output": A, "how": chain}
    loss = eval(loss_object, namespace)  # noqa: S307 - the user's own expression
    if callable(getattr(loss, "forward", None)):
        loss.forward(A, Y)
    else:
        loss(A, Y)
    dA = loss.backward() if _positional_count(loss.backward) == 0 else loss.backward(A, Y)
    _backward(layers, shapes, dA, lr)
    return _finished(bound, f"{chain} through the loss {loss_object!r}", update)


def finish(state, dA):
    """The backward chain from ``dA`` (∂J/∂A of the output), then the gradients read back."""
    _backward(state["layers"], state["shapes"], dA, state.get("lr"))
    return _finished(state["bound"], state["how"] + " through gradref's loss", state["update"])


def _finished(bound, how, update):
    if update:
        return {"answer": bound.parameters(), "how": how + "; read the parameters (an update)"}
    grads, read = bound.gradients()
    return {"answer": grads, "how": f"{how}; gradients read back {read}"}
