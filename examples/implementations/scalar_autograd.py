"""A scalar reverse-mode autograd engine and an MLP built on it (expected verdict: matches,
with options only: gradref writes the case into the nodes' ``.data`` and reads ``.grad``).

``Node`` holds one number ``data``, its ``grad`` and how to pass a gradient to its inputs;
``MLP(n_in, widths)`` is a list of ``Layer`` objects, each a list of ``Unit`` objects with a
weight list ``w`` and a bias ``b`` (tanh hidden units, a linear output). ``half_square(model,
X, Y)`` builds the mean cost ½‖a − y‖² over the columns of X::

    gradref validate \\
        --model 'examples/implementations/scalar_autograd.py:MLP({n_in}, {widths} + [{n_out}])' \\
        --call 'half_square(model, X, Y).backward()' \\
        --layers 2,3,1 --hidden tanh --output linear --loss half_square

``Node.tanh`` with ``bug=True`` (``BuggyMLP``) takes tanh' as 1 − t instead of 1 − t².
"""

import math


class Node:
    def __init__(self, data, parents=(), back=None):
        self.data, self.grad = float(data), 0.0
        self.parents, self.back = parents, back

    def __add__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.data + other.data, (self, other))
        out.back = lambda: (self._add(out.grad), other._add(out.grad))
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.data * other.data, (self, other))
        out.back = lambda: (self._add(other.data * out.grad), other._add(self.data * out.grad))
        return out

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + (-1.0) * other

    def _add(self, g):
        self.grad += g

    def tanh(self, bug=False):
        t = math.tanh(self.data)
        out = Node(t, (self,))
        out.back = lambda: self._add(((1 - t) if bug else (1 - t * t)) * out.grad)
        return out

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for p in node.parents:
                    visit(p)
                order.append(node)

        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            if node.back is not None:
                node.back()


class Unit:
    def __init__(self, n_in, linear, bug):
        self.w = [Node(0.1 * (i + 1)) for i in range(n_in)]
        self.b = Node(0.0)
        self.linear, self.bug = linear, bug

    def __call__(self, x):
        z = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return z if self.linear else z.tanh(self.bug)


class Layer:
    def __init__(self, n_in, n_out, linear, bug):
        self.units = [Unit(n_in, linear, bug) for _ in range(n_out)]

    def __call__(self, x):
        return [u(x) for u in self.units]


class MLP:
    def __init__(self, n_in, widths, bug=False):
        sizes = [n_in, *widths]
        self.layers = [Layer(sizes[i], sizes[i + 1], i == len(widths) - 1, bug)
                       for i in range(len(widths))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def BuggyMLP(n_in, widths):
    return MLP(n_in, widths, bug=True)


def half_square(model, X, Y):
    m = X.shape[1]
    total = Node(0.0)
    for j in range(m):
        out = model([float(v) for v in X[:, j]])
        for a, y in zip(out, Y[:, j], strict=True):
            d = a - float(y)
            total = total + 0.5 * (d * d)
    return total * (1.0 / m)
