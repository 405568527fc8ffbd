"""A multi-file implementation (expected verdict: matches with its extra import root).

``model.py`` imports its sibling ``layers.py`` (its own folder is on ``sys.path``, as when you
run it) and a helper module from another folder, ``vendor/``, that must be named:

    gradref validate examples/implementations/multifile/model.py:gradients \
        --path examples/implementations/multifile/vendor \
        --layers 3,5,4,2 --hidden tanh --output softmax --loss cross_entropy

Without ``--path`` the report says which module is missing and that ``--path DIR`` adds an
import root. Tracebacks name ``model.py`` and ``layers.py``, the files as they are.
``gradients_bug`` forgets to divide the output's dZ by the batch size m.
"""

from layers import Dense
from numerics import softmax_columns


def gradients(params, X, Y, bug=False):
    L = len(params) // 2
    layers = [Dense(params[f"W{l}"], params[f"b{l}"], "tanh" if l < L else None)
              for l in range(1, L + 1)]
    A = X
    for layer in layers:
        A = layer.forward(A)
    P = softmax_columns(layers[-1].Z)
    dZ = (P - Y) / (1 if bug else X.shape[1])
    grads = {}
    for l in range(L, 0, -1):
        layer = layers[l - 1]
        grads[f"dW{l}"], grads[f"db{l}"], dA = layer.backward(dZ)
        if l > 1:
            dZ = layers[l - 2].activation_backward(dA)
    return grads


def gradients_bug(params, X, Y):
    return gradients(params, X, Y, bug=True)
