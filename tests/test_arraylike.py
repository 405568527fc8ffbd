"""Array-likes in, NumPy out: lists, ``__array__`` and DLPack objects from f and grad are read,
and the report says how; PyTorch (when installed) through the docs' example."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.api import check_gradients
from gradref.checks.arraylike import to_numpy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "checker" / \
    "torch_autograd_function.py"


class WithArray:
    """An old-style array library: only ``__array__``."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def __array__(self, dtype=None, copy=None):
        return self.a if dtype is None else self.a.astype(dtype)


class WithDLPack:
    """A DLPack producer (as a tensor or a JAX array is), optionally refusing until detached,
    as a PyTorch tensor that requires grad does."""

    def __init__(self, a, attached=False):
        self.a, self.attached = np.asarray(a), attached

    def __dlpack__(self, **kwargs):
        if self.attached:
            raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()

    def detach(self):
        return WithDLPack(self.a)


@pytest.mark.parametrize("value, route, expected", [
    (np.array([1.0, 2.0]), "ndarray", [1.0, 2.0]),
    (np.float32(2.5), "ndarray", 2.5),
    (3, "number", 3),
    ([1.0, 2.0], "sequence", [1.0, 2.0]),
    (([1, 2], [3, 4]), "sequence", [[1, 2], [3, 4]]),
    ([WithArray(1.0), WithArray(2.0)], "sequence", [1.0, 2.0]),
    (WithArray([[1.0], [2.0]]), "__array__", [[1.0], [2.0]]),
    (WithDLPack(np.arange(3.0)), "DLPack", [0.0, 1.0, 2.0]),
    (WithDLPack(np.arange(3.0), attached=True), "DLPack after detach()", [0.0, 1.0, 2.0]),
], ids=["ndarray", "numpy-scalar", "int", "list", "nested-tuple", "list-of-array-likes",
        "__array__", "dlpack", "dlpack-detach"])
def test_to_numpy_routes(value, route, expected):
    arr, how = to_numpy(value)
    assert how == route
    np.testing.assert_array_equal(arr, np.asarray(expected))


def test_dlpack_keeps_the_dtype():
    arr, _ = to_numpy(WithDLPack(np.ones(2, np.float32)))
    assert arr.dtype == np.float32


@pytest.mark.parametrize("value, match", [
    (object(), "grad is a object, not an array"),
    (True, "grad is a bool, not an array"),
    ([[1.0, 2.0], [3.0]], "grad is a list that is not a rectangular array"),
    ({"a": 1}, "grad is a dict, not an array"),
], ids=["object", "bool", "ragged", "dict"])
def test_unreadable_values_name_what_was_returned(value, match):
    with pytest.raises(TypeError, match=match):
        to_numpy(value, "grad")


def _f(x):
    return float(np.sum(np.sin(x)))


def test_check_gradients_reads_array_likes_and_says_how():
    x = np.array([0.3, -1.2, 2.0])
    res = check_gradients(lambda x: WithDLPack(np.sum(np.sin(x))),
                          lambda x: list(np.cos(x)), list(x))
    assert res.passed, res.to_text()
    assert "f returned WithDLPack (read through DLPack)" in res.notes
    assert "grad returned list (read through sequence)" in res.notes
    res = check_gradients(_f, lambda x: WithDLPack(np.cos(x), attached=True), x)
    assert res.passed and res.notes == [
        "grad returned WithDLPack (read through DLPack after detach())"]
    assert check_gradients(_f, np.cos, x).notes == []       # NumPy in, nothing to say


def test_a_dict_gradient_of_array_likes():
    x = {"a": np.array([0.1, 0.2]), "b": np.array([[1.0]])}

    def f(x):
        return float(np.sum(x["a"] ** 2) + 3 * x["b"][0, 0])

    res = check_gradients(f, lambda x: {"a": WithArray(2 * x["a"]), "b": [[3.0]]}, x)
    assert res.passed, res.to_text()
    assert res.notes == ["grad returned WithArray (read through __array__), "
                         "list (read through sequence)"]
    wrong = check_gradients(f, lambda x: {"a": WithArray(x["a"]), "b": [[3.0]]}, x)
    assert not wrong and wrong.array("a", "fd").failed == 2


def test_an_unreadable_gradient_is_a_problem_not_a_crash():
    res = check_gradients(_f, lambda x: object(), np.ones(2))
    assert not res
    assert "x is not a real numeric array (dtype object)" in res.to_text()
    res = check_gradients(_f, lambda x: [[1.0], [2.0, 3.0], [4.0]], np.ones(3))
    assert "x is a list that is not a rectangular array of numbers" in res.to_text()


# --------------------------------------------------------------------------- PyTorch
def test_the_docs_pytorch_example():
    pytest.importorskip("torch")
    namespace = runpy.run_path(str(EXAMPLE))
    assert namespace["main"]() == 0


def test_pytorch_tensors_that_require_grad_and_float32():
    torch = pytest.importorskip("torch")
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)

    def f(x):
        t = torch.from_numpy(x).requires_grad_()
        return (t ** 3).sum()                 # a 0-d tensor that requires grad

    def grad(x):
        t = torch.from_numpy(x.copy()).requires_grad_()
        (t ** 3).sum().backward()
        return t.grad

    res = check_gradients(f, grad, x)
    assert res.passed, res.to_text()
    assert res.dtypes == {"gradient": "float32", "function": "float32"}
    assert "f returned Tensor (read through DLPack after detach())" in res.notes
    assert not check_gradients(f, lambda x: grad(x) * 1.01, x)
    assert "torch" in sys.modules
