"""Gradient assertions for other projects' test suites (stable API).

::

    from gradref.checks.testing import assert_gradients_match

    def test_backprop():
        assert_gradients_match(my_gradients, layers=[2, 8, 1],
                               activations=["relu", "sigmoid"], loss="bce")

``my_gradients(params, X, Y)`` returns ``{"dW1", "db1", …}`` for parameters ``{"W1", "b1", …}``
in the given layout (see :mod:`gradref.checks.validation` for the contract; a function with a
parameter named ``arch`` receives the architecture as ``arch=``). The conventions of
``gradref validate`` are keyword arguments here (``reduction``, ``per_example``, ``returns`` with
``lr``, ``bias_sign``, ``data``). The check runs :func:`gradref.checks.validation.validate` on
``cases`` seeded random cases; on a mismatch it raises ``AssertionError`` whose message starts
with the one-line verdict (what pytest's short summary shows) followed by the per-parameter
verdicts, the smallest failing case and the diagnosis. With pytest, the ``gradref_check``
fixture (:mod:`gradref.checks.pytest_plugin`) is this function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gradref.reference.layouts import default_bias

from .validation import DATA_FAMILIES, Settings, validate

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
                           rtol: float | None = None, reduction: str = "mean",
                           per_example: bool = False, returns: str = "gradient",
                           lr: float | None = None, bias_sign: int = 1,
                           data: Sequence[str] | str = DATA_FAMILIES,
                           paths: Sequence[str] = (), normalization: str | None = None,
                           dropout: float | None = None, model: Callable | str | None = None,
                           call: str | None = None, loss_object: str | None = None,
                           chain_loss: str = "mean") -> None:
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
    layout : {"columns", "rows", "torch"}
        Canonical column-major, row-major (X (m, n_0), W (n_{l-1}, n_l)) or PyTorch's
        (X (m, n_0), W (n_l, n_{l-1}), b flat).
    bias : {"column", "row", "flat"} or None
        Bias shape; None means the layout's own (column, row, flat).
    l2 : float
        λ of the L2 term :math:`\\frac{\\lambda}{2m}\\sum\\lVert W\\rVert^2` in the cost.
    cases, seed : int
        How many seeded random cases.
    rtol : float or None
        Accept ``|got - expected| <= rtol·|expected| + rtol·max|expected|`` per element;
        None keeps the checker's autograd tolerances for the answer's dtype (~1e-10 for
        float64 arrays, ~1e-4 for float32 ones).
    reduction : {"mean", "sum", "mean_all"}
        "sum": ``fn`` computes the gradient of the summed cost Σℓ + λ/2·ΣW²; "mean_all": of
        the loss averaged over the batch and the output units (PyTorch's MSELoss/BCELoss).
    per_example : bool
        ``fn(params, x, y)`` gets one example and returns its gradient; they are averaged.
    returns : {"gradient", "update"}, lr : float
        "update": ``fn`` returns the step −lr·gradient, the new parameters, or updates them in
        place (compared before and after).
    bias_sign : {1, -1}
        -1: biases enter as Z = W·A − b.
    data : sequence of str or comma-separated str
        Data families (default all: normal, saturated, integer).
    paths : sequence of str
        With ``isolate``: extra import roots (the file's own folder always is one).
    normalization : {"batchnorm", "layernorm"} or None
        Normalisation in every hidden layer (``gamma1``, ``beta1``, … in the bias form).
    dropout : float or None
        Keep probability of inverted dropout after every hidden activation; ``fn`` must take
        an ``arch`` keyword and apply the masks ``arch["masks"]["D1"]``, … (bool, its layout).
    model, call, loss_object, chain_loss
        An object-oriented model instead of ``fn`` (pass ``fn=None``): ``model`` is a factory
        ``model(arch) -> object`` (in-process) or ``"FILE.py:EXPRESSION"`` with placeholders
        such as ``{sizes}`` (sandboxed); ``call`` what to run on it (``"model.backprop(X, Y)"``,
        ``"chain"``, …); see :mod:`gradref.checks.validation.bound`. gradref binds the
        parameter arrays and reads the gradients back.

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
        bias = default_bias(layout) if isinstance(layout, str) else "column"
    settings = Settings(_names("activations", activations), (loss,), tuple(layers), layout,
                        bias, l2, False, cases, seed, rtol=rtol, reduction=reduction,
                        per_example=per_example, returns=returns, lr=lr, bias_sign=bias_sign,
                        data=_names("data", data), normalization=normalization,
                        dropout=dropout)
    if model is not None:
        if fn is not None:
            raise ValueError(f"give fn or model, not both (got fn={fn!r})")
        from .validation.bound import bound_target

        target = bound_target(model, call, lr=lr, update=returns == "update",
                              loss_object=loss_object,
                              chain_loss="sum" if reduction == "sum" else chain_loss,
                              layout=layout, paths=tuple(paths))
    elif isolate:
        target = _isolated_spec(fn)
    elif callable(fn) or isinstance(fn, str):
        target = fn
    else:
        raise TypeError(f"fn must be callable or 'FILE.py:FUNCTION', got {fn!r}")
    try:
        report = validate(target, settings, paths=tuple(paths))
    finally:
        if model is not None:
            target.close()
    if not report.passed:
        raise AssertionError(f"{report.summary()}\n{report.render('text')}")
