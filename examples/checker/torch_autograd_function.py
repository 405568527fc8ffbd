"""Check a hand-written PyTorch ``autograd.Function.backward`` against finite differences.

Needs PyTorch (the ``bench`` extra: ``pip install 'gradref[bench]'``). Run it as a script:
``python examples/checker/torch_autograd_function.py``; it exits with status 0 when the right
backward passes and the planted mistake fails.

The checker hands ``f`` and ``grad`` NumPy arrays and accepts what they return as they are:
a 0-d tensor from ``f`` (read through DLPack after ``detach()``), a tensor from ``grad``
(DLPack, zero-copy). The report's notes say which conversion was used.
"""

import sys

import numpy as np
import torch
from gradref.checks import check_gradients


class LogCosh(torch.autograd.Function):
    r"""y = log(cosh(x)), computed stably as |x| + log1p(exp(-2|x|)) - log 2;
    dy/dx = tanh(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        a = x.abs()
        return a + torch.log1p(torch.exp(-2 * a)) - np.log(2.0)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * torch.tanh(x)


class LogCoshWrong(LogCosh):
    """The same forward; a backward that forgets the chain rule's factor grad_out."""

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return torch.tanh(x)


def loss_and_grad(fn, w):
    """f(x) = sum_i w_i * fn(x)_i and its gradient by fn's backward, for NumPy x."""
    weights = torch.from_numpy(w)

    def f(x):
        return (weights * fn.apply(torch.from_numpy(x))).sum()

    def grad(x):
        t = torch.from_numpy(x).clone().requires_grad_()
        (weights * fn.apply(t)).sum().backward()
        return t.grad

    return f, grad


def main() -> int:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(6) * 3.0
    w = rng.uniform(0.5, 2.0, 6)
    right = check_gradients(*loss_and_grad(LogCosh, w), x)
    print(right.to_text())
    wrong = check_gradients(*loss_and_grad(LogCoshWrong, w), x)
    print(wrong.failure_text())
    return 0 if right and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
