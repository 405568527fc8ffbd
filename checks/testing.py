"""Gradient assertions for other projects' test suites (stable API).

::

    from gradref.checks.testing import assert_gradients_match

    def test_backprop():
        assert_gradients_match(my_gradients, layers=[2, 8, 1],
                               activations=["relu", "sigmoid"], loss="bce")

``my_gradients(params, X, Y)`` returns ``{"dW1", "db1", …}`` for parameters ``{"W1", "b1", …}``
in the given layout (see :mod:`gradref.checks.validation` for the contract). The check runs
:func:`gradref.checks.validation.validate` on ``cases`` seeded random cases; on a mismatch it raises
``AssertionError`` whose message holds the per-parameter verdicts, the smallest failing case and
the diagnosis. With pytest, the ``gradref_check`` fixture (:mod:`gradref.checks.pytest_plugin`) is this
function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .validation import Settings, validate

__all__ = ["assert_gradients_match"]


def _names(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, Sequence) or not value or \
            not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a list of names or a comma-separated string, "
                        f"got {value!r}")
    return tuple(v.strip() for v in value)


def _isolated_spec(fn: object) -> str:
    if isinstance(fn, str):
        return fn
    import inspect

    name = getattr(fn, "__name__", "")
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        path = None
    if not path or not name.isidentifier() or getattr(fn, "__qualname__", name) != name:
        raise ValueError(f"isolate=True needs a module-level function defined in a .py file "
                         f"(or 'FILE.py:FUNCTION'), got {fn!r}")
    return f"{path}:{name}"


def assert_gradients_match(fn: Callable | str, *, layers: Sequence[int],
                           activations: Sequence[str] | str, loss: str,
                           layout: str = "columns", bias: str | None = None, l2: float = 0.0,
                           cases: int = 5, seed: int = 0, isolate: bool = False,
                           rtol: float | None = None) -> None:
    """Assert that ``fn(params, X, Y)`` returns the reference's gradients.

    Parameters
    ----------
    fn : callable or str
        The gradient function. In-process by default (fast, no isolation); with
        ``isolate=True`` its source file is loaded on its own in a sandboxed child process
        (it must be self-contained: NumPy and the standard library), or pass
        ``"FILE.py:FUNCTION"``.
    layers : sequence of int
        ``[n_0, …, n_L]``.
    activations : sequence of str or comma-separated str
        One per layer, e.g. ``["relu", "leaky_relu(0.05)", "sigmoid"]``.
    loss : str
        ``"bce"``, ``"cross_entropy"``, ``"square"`` or ``"half_square"``.
    layout : {"columns", "rows"}
        Canonical column-major or row-major (X (m, n_0), W (n_{l-1}, n_l)).
    bias : {"column", "row", "flat"} or None
        Bias shape; None means the layout's own ("column" for columns, "row" for rows).
    l2 : float
        λ of the L2 term :math:`\\frac{\\lambda}{2m}\\sum\\lVert W\\rVert^2` in the cost.
    cases, seed : int
        How many seeded random cases.
    rtol : float or None
        Accept ``|got - expected| <= rtol·|expected| + rtol·max|expected|`` per element;
        None keeps the checker's autograd tolerances (~1e-10). Use ~1e-4 for float32 code.

    Raises
    ------
    AssertionError
        With the report when a gradient differs or ``fn`` fails.
    TypeError, ValueError
        For bad arguments, naming the argument and its value.
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of positive integers, got {layers!r}")
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a loss name, got {loss!r}")
    if bias is None:
        bias = "column" if layout == "columns" else "row"
    settings = Settings(_names("activations", activations), (loss,), tuple(layers), layout,
                        bias, l2, False, cases, seed, rtol=rtol)
    if isolate:
        target = _isolated_spec(fn)
    elif callable(fn) or isinstance(fn, str):
        target = fn
    else:
        raise TypeError(f"fn must be callable or 'FILE.py:FUNCTION', got {fn!r}")
    report = validate(target, settings)
    if not report.passed:
        raise AssertionError("\n" + report.render("text"))
