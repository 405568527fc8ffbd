"""Row-major and flat-bias adapters: round trips, and the row-major equations they imply."""

import numpy as np
import pytest
from gradref.checks.strategies import network_cases
from gradref.reference import data_from_layout, data_to_layout, from_layout, to_layout
from hypothesis import given
from hypothesis import strategies as st

COMBOS = [("columns", "column"), ("columns", "flat"), ("rows", "row"), ("rows", "flat"),
          ("columns", "row"), ("rows", "column")]


@pytest.mark.parametrize("layout, bias", COMBOS)
@given(case=network_cases(max_depth=3))
def test_round_trip_params_and_grads(layout, bias, case):
    net, params, X, Y = case
    _, grads = net.gradients(params, X, Y)
    for tree in (params, {k: v for k, v in grads.items() if k[:2] in ("dW", "db")}):
        back = from_layout(to_layout(tree, layout, bias), layout, bias)
        assert sorted(back) == sorted(tree)
        assert all(np.array_equal(back[k], tree[k]) for k in tree)
    assert np.array_equal(data_from_layout(data_to_layout(X, layout), layout), X)


@given(case=network_cases(max_depth=3), bias=st.sampled_from(["row", "flat"]))
def test_row_major_forward_is_the_transpose(case, bias):
    """Z_rows = A_rows @ W_rows + b_rows, written here in plain NumPy, equals Z_canonical^T."""
    net, params, X, Y = case
    rows = to_layout(params, "rows", bias)
    _, cache = net.forward(params, X)
    A = data_to_layout(X, "rows")
    for l in range(1, net.L + 1):
        Z = A @ rows[f"W{l}"] + rows[f"b{l}"]
        assert np.allclose(Z, cache[f"Z{l}"].T, rtol=1e-13, atol=1e-13)
        A = cache[f"A{l}"].T


def test_shapes_of_each_layout():
    params = {"W1": np.zeros((3, 2)), "b1": np.zeros((3, 1)), "dW1": np.zeros((3, 2)),
              "db1": np.zeros((3, 1)), "dZ1": np.zeros((3, 5))}
    rows = to_layout(params, "rows", "flat")
    assert rows["W1"].shape == (2, 3) and rows["b1"].shape == (3,)
    assert rows["dW1"].shape == (2, 3) and rows["db1"].shape == (3,)
    assert rows["dZ1"].shape == (3, 5)  # intermediates are left alone
    assert to_layout(params, "rows")["b1"].shape == (1, 3)
    assert data_from_layout(np.arange(4.0), "rows").shape == (1, 4)


def test_conversion_does_not_alias_input():
    params = {"W1": np.ones((2, 2)), "b1": np.ones((2, 1))}
    out = to_layout(params, "columns")
    out["W1"][0, 0] = 5.0
    assert params["W1"][0, 0] == 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: to_layout({}, "diagonal"), "layout must be one of columns, rows, torch, got 'diagonal'"),
    (lambda: to_layout({}, "rows", "sideways"), "bias must be one of column, row, flat"),
    (lambda: from_layout({"b1": np.zeros((1, 3))}, "columns", "column"),
     r"b1 has shape \(1, 3\), expected \(n, 1\) for bias='column'"),
    (lambda: from_layout({"b2": np.zeros((3, 1))}, "rows", "flat"),
     r"b2 has shape \(3, 1\), expected \(n,\) for bias='flat'"),
], ids=["layout", "bias", "column-bias-shape", "flat-bias-shape"])
def test_bad_layout_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
