r"""Binding an object-oriented model to a case: its parameter arrays found, written, read back.

Real code keeps its parameters on objects (``self.weights[i]``, ``layer.W``, ``{"W1": …}``
attributes) and its gradients next to them (``dW``, ``nabla_w``, ``.grad``) or only in the
change an optimiser step makes. This module finds them, with NumPy and the standard library
only: its source also runs, unchanged, inside the sandboxed child that hosts the
implementation (:mod:`.bound` embeds it), so it imports nothing from gradref.

* :func:`walk` lists every float array reachable from the model (attributes, lists, tuples,
  dicts, nested objects; depth-limited, cycles cut) with its path, e.g. ``model.layers[1].W``;
* :func:`solve` assigns the case's parameters ``W1, b1, …, WL, bL`` (in the implementation's
  layout) to those arrays: by name (``w``/``weight`` against ``b``/``bias``) in discovery
  order, else by the shapes of the standard orders (``W1, b1, W2, …``; all weights then all
  biases; biases first). Biases of shape (n,), (n, 1) or (1, n) all bind to a bias of n
  entries. Several different assignments that fit, or none, raise :class:`BindingError`
  naming the candidates;
* gradient arrays are the ones whose names say so (``dW``, ``db``, ``grad_*``, ``*_grad``,
  ``nabla_*``, ``delta_*``) and are solved the same way after the call.

:func:`bind` builds and binds; :meth:`Bound.run` runs the call and returns what gradref reads:
the call's own return value when it is not None, else the gradients read back from the model
(``{"dW1", …}``), else (``update=True``) the parameters as the call left them (``{"W1", …}``:
an update whose change reveals the gradient, ``(old − new)/lr``).
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["BindingError", "Leaf", "NodeLeaf", "walk", "solve", "bind", "Bound", "placeholders",
           "GRADIENT_NAME"]

_MAX_DEPTH = 5
_MAX_LEAVES = 400

#: Attribute names that hold gradients (or optimiser state) rather than parameters.
GRADIENT_NAME = re.compile(r"^(d[A-Z_]|d(w|b|weights?|bias(es)?)\d*$|grad|nabla|delta|"
                           r".*_grads?$|dL_|dJ_)", re.IGNORECASE)
_STATE_NAME = re.compile(r"^(m|v|s|r|cache|moments?|velocity|momentum|accum.*|"
                         r"(m|v|s)_.*|.*_(m|v|moment|velocity|cache))$", re.IGNORECASE)
_WEIGHT_NAME = re.compile(r"(^|[^a-z])(w|weights?|kernel|theta)(\d*|s)$|weight", re.IGNORECASE)
_BIAS_NAME = re.compile(r"(^|[^a-z])(b|bias(es)?|beta)(\d*|s)$|bias", re.IGNORECASE)


class BindingError(Exception):
    """The model's arrays cannot be bound to the case's parameters; the message says why."""


class Leaf:
    """One array reachable from the model: ``path`` (``model.weights[0]``), the attribute name
    that holds it (``weights``), and how to read and write it. Reads and writes follow the
    path from the model each time (a step may replace the lists it holds)."""

    def __init__(self, path, name, root, chain, value):
        self.path, self.name, self.root, self.chain = path, name, root, tuple(chain)
        self.array = value

    @property
    def shape(self):
        return tuple(np.shape(self.array))

    def _owner(self):
        obj = self.root
        for key in self.chain[:-1]:
            obj = _get(obj, key)
        return obj

    def read(self):
        return np.array(_get(self._owner(), self.chain[-1]), dtype=np.float64, copy=True)

    def write(self, value):
        owner, key = self._owner(), self.chain[-1]
        current = _get(owner, key)
        value = np.asarray(value)
        if isinstance(current, np.ndarray) and current.size == value.size \
                and current.flags.writeable:
            current[...] = value.reshape(current.shape)  # in place: views stay valid
        else:
            _set(owner, key, value.reshape(np.shape(current)).astype(
                getattr(current, "dtype", np.float64)))


class NodeLeaf:
    """Scalar autograd nodes (objects with a number ``.data`` and a ``.grad``) standing for one
    array: a list of nodes is a vector, a list of like objects each holding some is stacked
    (``layer.neurons[i].w`` -> a weight matrix, ``layer.neurons[i].b`` -> a bias)."""

    def __init__(self, path, name, nodes):
        self.path, self.name, self.nodes = path, name, np.asarray(nodes, dtype=object)

    @property
    def shape(self):
        return self.nodes.shape

    def read(self):
        return np.array([float(n.data) for n in self.nodes.ravel()]).reshape(self.shape)

    def reshaped(self, shape):
        self.nodes = self.nodes.reshape(shape)
        return self

    def read_grad(self):
        return np.array([float(n.grad) for n in self.nodes.ravel()]).reshape(self.shape)

    def write(self, value):
        for node, x in zip(self.nodes.ravel(), np.asarray(value, dtype=float).ravel(),
                           strict=True):
            node.data = float(x)


def _is_node(value):
    data = getattr(value, "data", None)
    return (not isinstance(value, np.ndarray) and hasattr(value, "grad")
            and isinstance(data, (int, float)) and not isinstance(data, bool))


def _stacked(items, path, label):
    """NodeLeaf per attribute shared by like objects ``items`` (same paths, same shapes)."""
    if len(items) < 1 or len({type(x) for x in items}) != 1 or not _explorable(items[0]) \
            or isinstance(items[0], (list, tuple, dict)):
        return None
    parts = [walk(x, root="") for x in items]
    keys = [tuple((leaf.path, leaf.shape) for leaf in p) for p in parts]
    if not parts[0] or len(set(keys)) != 1 or not all(isinstance(leaf, NodeLeaf)
                                                       for leaf in parts[0]):
        return None
    return [NodeLeaf(f"{path}[*]{leaf.path}", leaf.name,
                     np.stack([p[i].nodes for p in parts]))
            for i, leaf in enumerate(parts[0])]


def _get(owner, key):
    if isinstance(key, str) and not isinstance(owner, dict):
        return getattr(owner, key)
    return owner[key]


def _set(owner, key, value):
    if isinstance(key, str) and not isinstance(owner, dict):
        setattr(owner, key, value)
    else:
        owner[key] = value


def _is_array(value):
    return (isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 0)


def _children(obj):
    if isinstance(obj, dict):
        return [(k, k, v) for k, v in obj.items() if isinstance(k, (str, int))]
    if isinstance(obj, (list, tuple)):
        return [(i, None, v) for i, v in enumerate(obj)]
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        return [(k, k, v) for k, v in attrs.items() if not k.startswith("__")]
    return []


def _explorable(value):
    if isinstance(value, (dict, list, tuple)):
        return True
    if isinstance(value, (str, bytes, int, float, complex, np.ndarray, type)) or value is None:
        return False
    if callable(value) and not hasattr(value, "__dict__"):
        return False
    module = type(value).__module__ or ""
    return not module.startswith(("numpy", "builtins", "random", "io", "_io"))


def walk(model, root="model"):
    """Every float array reachable from ``model`` in discovery order, as :class:`Leaf`."""
    leaves, seen = [], {id(model)}

    def visit(obj, path, name, chain, depth):
        for key, attr, value in _children(obj):
            if len(leaves) >= _MAX_LEAVES:
                return
            here = (f"{path}[{key!r}]" if isinstance(obj, dict) else
                    f"{path}[{key}]" if attr is None else f"{path}.{key}")
            label = attr if attr is not None else name
            if _is_array(value):
                leaves.append(Leaf(here, label, model, (*chain, key), value))
            elif _is_node(value):
                leaves.append(NodeLeaf(here, label, [value]).reshaped(()))
            elif isinstance(value, (list, tuple)) and value and all(map(_is_node, value)):
                leaves.append(NodeLeaf(here, label, list(value)))
            elif isinstance(value, (list, tuple)) and (stack := _stacked(value, here, label)):
                leaves.extend(stack)
            elif depth < _MAX_DEPTH and _explorable(value) and id(value) not in seen:
                seen.add(id(value))
                visit(value, here, label, (*chain, key), depth + 1)

    visit(model, root, root, (), 0)
    return leaves


def _kind(name):
    core = re.sub(r"^(d|grad_?|nabla_?|delta_?)", "", name or "", flags=re.IGNORECASE)
    core = re.sub(r"_?grads?$", "", core, flags=re.IGNORECASE)
    weight, bias = bool(_WEIGHT_NAME.search(core)), bool(_BIAS_NAME.search(core))
    return "W" if weight and not bias else "b" if bias and not weight else None


def _fits(shape, expected):
    if len(expected) == 2 and 1 in expected and len(shape) <= 2:  # a bias, any orientation
        n = max(expected) if expected != (1, 1) else 1
        return int(np.prod(shape)) == n and sum(s != 1 for s in shape) <= 1
    return tuple(shape) == tuple(expected)


def _orders(L):
    W = [f"W{l}" for l in range(1, L + 1)]
    b = [f"b{l}" for l in range(1, L + 1)]
    return {"W1, b1, W2, b2, … (layer by layer)": [k for l in range(L) for k in (W[l], b[l])],
            "b1, W1, b2, W2, … (layer by layer)": [k for l in range(L) for k in (b[l], W[l])],
            "all weights, then all biases": W + b, "all biases, then all weights": b + W}


def _describe(leaves):
    return ", ".join(f"{leaf.path} {leaf.shape}" for leaf in leaves) or "none"


def solve(leaves, expected, what="parameter"):
    """``{name: Leaf}`` for ``expected`` (``{"W1": shape, "b1": shape, …}``, layer order), and
    one sentence saying how; :class:`BindingError` naming the candidates otherwise."""
    L = len(expected) // 2
    fitting = [leaf for leaf in leaves if any(_fits(leaf.shape, s) for s in expected.values())]
    kinds = [_kind(leaf.name) for leaf in fitting]
    weights = [f for f, k in zip(fitting, kinds, strict=True) if k == "W"]
    biases = [f for f, k in zip(fitting, kinds, strict=True) if k == "b"]
    if len(weights) == L and len(biases) == L:
        mapping = {f"W{l + 1}": weights[l] for l in range(L)}
        mapping.update({f"b{l + 1}": biases[l] for l in range(L)})
        if all(_fits(mapping[k].shape, s) for k, s in expected.items()):
            return mapping, f"by name, in order ({_summary(mapping, expected)})"
    found = {}
    if len(fitting) == 2 * L:
        for how, keys in _orders(L).items():
            if all(_fits(leaf.shape, expected[k]) for k, leaf in zip(keys, fitting, strict=True)):
                mapping = dict(zip(keys, fitting, strict=True))
                signature = tuple(id(mapping[k]) for k in expected)
                found.setdefault(signature, (mapping, how))
    if len(found) == 1:
        mapping, how = next(iter(found.values()))
        return mapping, f"by shape, in the order {how} ({_summary(mapping, expected)})"
    shapes = ", ".join(f"{k} {tuple(s)}" for k, s in expected.items())
    if len(found) > 1:
        ways = "; ".join(how for _, how in found.values())
        raise BindingError(f"the {what} arrays can be bound in {len(found)} ways ({ways}); "
                           f"the candidates: {_describe(fitting)}. Name them (attributes "
                           f"called W/weights and b/biases), or give the layer sizes so the "
                           f"shapes differ")
    raise BindingError(f"cannot bind the case's {what}s {shapes} to the model's arrays: found "
                       f"{len(fitting)} of those shapes among {len(leaves)} arrays "
                       f"({_describe(leaves)}); gradref needs exactly {2 * L}, one per weight "
                       f"and bias")


def _summary(mapping, expected):
    return ", ".join(f"{k} ← {mapping[k].path}" for k in expected)


def placeholders(arch):
    """The values ``{sizes}``, ``{activations}``, … of a model expression, as source text."""
    sizes = list(arch["layer_sizes"])
    acts = list(arch["activations"])
    hidden = acts[:-1]
    values = {"sizes": sizes, "layer_sizes": sizes, "activations": acts, "hidden": hidden,
              "output": acts[-1], "loss": arch["loss"], "l2": arch.get("l2", 0.0),
              "lr": arch.get("lr"), "n_in": sizes[0], "n_out": sizes[-1],
              "depth": len(sizes) - 1, "widths": sizes[1:-1],
              "width": sizes[1] if len(sizes) > 2 else None,
              "activation": hidden[0] if hidden else acts[-1]}
    return {k: repr(v) for k, v in values.items()}


class _Placeholders(dict):
    def __missing__(self, key):
        names = ", ".join("{" + k + "}" for k in sorted(self))
        raise BindingError(f"unknown placeholder {{{key}}} in the model expression; known: "
                           f"{names}")


def build(namespace, spec, arch):
    """The model: ``spec`` is an expression with placeholders (``Network({sizes})``), or
    statements whose last is one (``net = Net(); net.add(…); net``), or the name of a factory
    function, called with ``arch``."""
    if spec.isidentifier() and callable(namespace.get(spec)):
        return namespace[spec](dict(arch))
    source = spec.format_map(_Placeholders(placeholders(arch)))
    value = _run_statements(source, dict(namespace))  # statements allowed; the last one's value
    if value is None:
        raise BindingError(f"the model expression {spec!r} gave None; its last statement must "
                           f"be an expression giving the model")
    return value


def _run_statements(source, namespace):
    import ast

    tree = ast.parse(source, mode="exec")
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], []), "<call>", "exec"), namespace)  # noqa: S102
        return eval(compile(ast.Expression(last.value), "<call>", "eval"), namespace)  # noqa: S307
    exec(compile(tree, "<call>", "exec"), namespace)  # noqa: S102
    return None


class Bound:
    """A model built for one case with the case's parameters written in."""

    def __init__(self, model, params, mapping, how):
        self.model, self.params, self.mapping, self.how = model, params, mapping, how

    def gradients(self):
        """``{"dW1", …}`` from the gradient-named arrays, and how they were found."""
        expected = {k: np.shape(v) for k, v in self.params.items()}
        if all(isinstance(leaf, NodeLeaf) for leaf in self.mapping.values()):
            return ({"d" + k: leaf.read_grad().reshape(expected[k])
                     for k, leaf in self.mapping.items()}, "from the nodes' .grad")
        leaves = walk(self.model)
        named = [leaf for leaf in leaves if GRADIENT_NAME.match(leaf.name or "")
                 and not _STATE_NAME.match(leaf.name or "")]
        dotgrad = [leaf for leaf in leaves if leaf.name == "grad"]
        try:
            mapping, how = solve(named, expected, "gradient")
        except BindingError:
            if not dotgrad:
                raise
            mapping, how = solve(dotgrad, expected, "gradient")
        out = {}
        for k, leaf in mapping.items():
            out["d" + k] = leaf.read().reshape(expected[k])
        return out, how

    def parameters(self):
        return {k: leaf.read().reshape(np.shape(self.params[k]))
                for k, leaf in self.mapping.items()}

    def run(self, call, X, Y, lr, update, extra=None):
        """Run ``call`` (statements; the last expression's value is the answer)."""
        namespace = dict(extra or {})  # the implementation's module: its names are usable
        namespace.update(model=self.model, X=X, Y=Y, lr=lr, np=np)
        value = _run_statements(call, namespace)
        if value is not None:
            return value, "the call's return value"
        if update:
            return self.parameters(), "the parameters as the call left them (an update)"
        grads, how = self.gradients()
        return grads, f"gradients read back {how}"


def bind(model, params):
    """Write ``params`` (``{"W1", "b1", …}`` in the implementation's layout) into ``model``."""
    expected = {k: np.shape(v) for k, v in params.items()}
    leaves = [leaf for leaf in walk(model) if not GRADIENT_NAME.match(leaf.name or "")
              and not _STATE_NAME.match(leaf.name or "")]
    mapping, how = solve(leaves, expected)
    for k, leaf in mapping.items():
        leaf.write(params[k])
    return Bound(model, params, mapping, how)
