"""One table of bad calls into the reference: each raises before any arithmetic, naming the
argument, its shape or value, and what was expected."""

import numpy as np
import pytest
from gradref.reference import Network, get_activation, get_loss

NET = Network([2, 3, 1], "relu,sigmoid", "bce")
CE = Network([2, 3], ["softmax"], "cross_entropy")
P = NET.init_params(seed=0)
X = np.ones((2, 4))
Y = np.array([[0.0, 1.0, 1.0, 0.0]])


def with_(d, **changes):
    out = dict(d)
    out.update(changes)
    return out


BAD = [
    # architecture
    ("layer_sizes-type", lambda: Network("2,3,1", "relu,sigmoid"), TypeError,
     "layer_sizes must be a sequence of positive integers, got '2,3,1'"),
    ("layer_sizes-short", lambda: Network([2], []), ValueError,
     r"needs at least an input and an output size, got \[2\]"),
    ("layer_sizes-zero", lambda: Network([2, 0, 1], "relu,sigmoid"), ValueError,
     r"layer_sizes\[1\] must be a positive integer, got 0"),
    ("layer_sizes-float", lambda: Network([2, 2.5, 1], "relu,sigmoid"), TypeError,
     r"layer_sizes\[1\] must be a positive integer, got 2.5"),
    ("activation-count", lambda: Network([2, 3, 1], "relu"), ValueError,
     r"activations has 1 entries, expected one per layer: 2"),
    ("activation-unknown", lambda: Network([2, 3, 1], "relu,sigmod"), ValueError,
     r"unknown activation 'sigmod'; valid names: sigmoid, tanh, relu"),
    ("activation-type", lambda: Network([2, 1], [3]), TypeError,
     "activation must be a name or an Activation, got 3"),
    ("activation-param", lambda: get_activation("leaky_relu(abc)"), ValueError,
     "parameters must be numbers, got 'abc'"),
    ("activation-too-many-params", lambda: get_activation("relu(2)"), ValueError,
     "relu takes no parameters"),
    ("leaky-slope-nan", lambda: get_activation("leaky_relu(nan)"), ValueError,
     "leaky_relu slope must be a finite number, got nan"),
    ("loss-unknown", lambda: Network([2, 1], ["sigmoid"], "mse"), ValueError,
     r"unknown loss 'mse'; valid names: bce, cross_entropy, square, half_square"),
    ("loss-type", lambda: get_loss(None), TypeError, "loss must be a name or a Loss, got None"),
    ("loss-pairing", lambda: Network([2, 1], ["relu"], "bce"), ValueError,
     "loss 'bce' cannot follow output activation 'relu'; it accepts: sigmoid"),
    ("l2-negative", lambda: Network([2, 1], ["sigmoid"], "bce", l2=-1), ValueError,
     "l2 must be a finite non-negative number, got -1.0"),
    ("l2-string", lambda: Network([2, 1], ["sigmoid"], "bce", l2="0.1"), TypeError,
     "l2 must be a non-negative number, got '0.1'"),
    ("init-scheme", lambda: NET.init_params("kaiming"), ValueError,
     "unknown initialisation scheme 'kaiming'; valid: he, xavier, glorot, small"),
    ("init-seed", lambda: NET.init_params(seed=-1), TypeError,
     "seed must be a non-negative int, None or a numpy Generator, got -1"),
    # inputs
    ("X-rows", lambda: NET.gradients(P, np.ones((3, 4)), Y), ValueError,
     r"X has shape \(3, 4\), expected \(2, m\) = \(n_0, m\)"),
    ("X-1d", lambda: NET.gradients(P, np.ones(2), Y), ValueError, r"X has shape \(2,\)"),
    ("X-m0", lambda: NET.gradients(P, np.ones((2, 0)), Y), ValueError,
     r"X has m = 0 examples \(shape \(2, 0\)\)"),
    ("X-nan", lambda: NET.gradients(P, np.array([[1, np.nan, 0, 0], [0, 0, 0, 0]]), Y),
     ValueError, r"X contains 1 non-finite value\(s\) \(NaN or inf\), first at index \(0, 1\)"),
    ("X-inf", lambda: NET.forward(P, np.full((2, 4), np.inf)), ValueError,
     r"X contains 8 non-finite"),
    ("X-strings", lambda: NET.gradients(P, np.array([["a", "b"], ["c", "d"]]), Y), TypeError,
     r"X must be a real numeric array.*dtype <U1"),
    ("X-object", lambda: NET.forward(P, np.array([[1, None]], dtype=object)), TypeError,
     "X must be a real numeric array.*dtype object"),
    ("X-bool", lambda: NET.forward(P, np.ones((2, 4), bool)), TypeError,
     "X must be a real numeric array.*dtype bool"),
    ("X-complex", lambda: NET.forward(P, np.ones((2, 4), complex)), TypeError,
     "dtype complex128"),
    ("X-ragged", lambda: NET.forward(P, [[1, 2], [3]]), TypeError, "X must be a numeric array"),
    ("Y-shape", lambda: NET.gradients(P, X, np.ones((1, 3))), ValueError,
     r"Y has shape \(1, 3\), expected \(1, 4\) = \(n_L, m\)"),
    ("Y-1d", lambda: NET.gradients(P, X, np.ones(4)), ValueError,
     r"reshape a 1-D label vector to \(1, m\)"),
    ("Y-domain", lambda: NET.gradients(P, X, np.array([[0, 1, 2, 0]])), ValueError,
     r"Y must lie in \[0, 1\] for the bce loss; 1 value\(s\) do not, first Y\[0, 2\] = 2.0"),
    ("Y-onehot", lambda: CE.gradients(CE.init_params(), X, np.ones((3, 4))), ValueError,
     "Y columns must sum to 1 for the cross_entropy loss"),
    ("Y-nan", lambda: NET.cost(P, X, np.array([[0, 1, np.nan, 0]])), ValueError,
     r"Y contains 1 non-finite value"),
    # parameters
    ("params-type", lambda: NET.gradients([1, 2], X, Y), TypeError,
     r"params must be a dict of arrays \{'W1', 'b1', …\}, got \[1, 2\]"),
    ("params-missing", lambda: NET.forward({"W1": P["W1"]}, X), ValueError,
     r"missing \['b1', 'W2', 'b2'\], unexpected none"),
    ("params-extra", lambda: NET.forward(with_(P, W3=np.ones((1, 1))), X), ValueError,
     r"missing none, unexpected \['W3'\]"),
    ("params-W-shape", lambda: NET.forward(with_(P, W2=np.ones((3, 1))), X), ValueError,
     r"params\['W2'\] has shape \(3, 1\), expected \(1, 3\) = \(n_l, n_\{l-1\}\)"),
    ("params-b-flat", lambda: NET.forward(with_(P, b1=np.zeros(3)), X), ValueError,
     r"params\['b1'\] must be 2-D, got shape \(3,\)"),
    ("params-b-row", lambda: NET.forward(with_(P, b1=np.zeros((1, 3))), X), ValueError,
     r"params\['b1'\] has shape \(1, 3\), expected \(3, 1\) = \(n_l, 1\)"),
    ("params-nan", lambda: NET.forward(with_(P, W1=np.full((3, 2), np.nan)), X), ValueError,
     r"params\['W1'\] contains 6 non-finite"),
    ("params-string", lambda: NET.forward(with_(P, b2=[["x"]]), X), TypeError,
     r"params\['b2'\] must be a real numeric array"),
    ("cache-incomplete", lambda: NET.backward(P, {"A0": X}, Y), ValueError,
     "cache is missing 'Z1'; pass the cache returned by forward"),
    ("cache-type", lambda: NET.backward(P, [X], Y), TypeError,
     "cache must be the dict returned by forward"),
    ("cache-shape", lambda: NET.backward(P, with_(NET.forward(P, X)[1], A1=np.ones((4, 3))), Y),
     ValueError, r"cache\['A1'\] has shape \(4, 3\), expected \(3, 4\) = \(n_1, m\)"),
    ("cache-nan", lambda: NET.backward(P, with_(NET.forward(P, X)[1], Z2=np.full((1, 4), np.nan)),
                                       Y), ValueError, r"cache\['Z2'\] contains 4 non-finite"),
]


@pytest.mark.parametrize("call, error, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_a_message(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_refused_calls_change_nothing():
    """A refused call leaves the caller's arrays as they were."""
    params = {k: v.copy() for k, v in P.items()}
    with pytest.raises(ValueError):
        NET.gradients(params, X, np.array([[0, 1, 2, 0]]))
    assert all(np.array_equal(params[k], P[k]) for k in P)
