"""Object-oriented models validated with options only (``--model``/``--call``): gradref finds
the parameter arrays, writes the case in, runs the call and reads the gradients back; the
planted bug of each example is caught with its diagnosis, and a binding it cannot decide is an
error naming the candidates."""

from pathlib import Path

import numpy as np
import pytest
from gradref.checks.testing import assert_gradients_match
from gradref.checks.validation import EXIT_ERROR, EXIT_FAILED, EXIT_OK
from gradref.checks.validation.binding import BindingError, bind, walk

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"

LISTS = ["--reduction", "sum", "--layers", "3,5,2", "--activations", "sigmoid,sigmoid",
         "--loss", "half_square"]
CHAIN = ["--call", "chain", "--random-architectures", "--hidden", "relu,tanh", "--output",
         "sigmoid,linear", "--loss", "bce,half_square", "--cases", "6"]
HOOK = ["--returns", "update", "--lr", "0.1", "--layers", "3,4,4,1", "--activations",
        "tanh,tanh,sigmoid", "--loss", "bce"]
HOOK_MODEL = "optimiser_hook.py:Model({sizes}, {activation}, {output})"
SCALAR = "scalar_autograd.py:{}({{n_in}}, {{widths}} + [{{n_out}}])"
SCALAR_ARCH = ["--layers", "2,3,1", "--hidden", "tanh", "--output", "linear", "--loss",
               "half_square"]

CASES = [
    ("lists-backprop", ["object_lists.py:Network({sizes})", "--call", "model.backprop(X, Y)",
                        *LISTS], EXIT_OK,
     ["W1 ← model.weights[0]", "b2 ← model.biases[1]", "(biases, weights)"]),
    ("lists-update", ["object_lists.py:Network({sizes})", "--call", "model.update(X, Y, lr)",
                      "--returns", "update", "--lr", "0.5", *LISTS], EXIT_OK,
     ["the parameters as the call left them"]),
    ("lists-statements", ["object_lists.py:net = Network({sizes}); net.bug = True; net",
                          "--call", "model.backprop(X, Y)", *LISTS], EXIT_FAILED, ["DIFFERS"]),
    ("lists-statements-none", ["object_lists.py:net = Network({sizes})", "--call",
                               "model.backprop(X, Y)", *LISTS], EXIT_ERROR,
     ["its last statement must be an expression giving the model"]),
    ("lists-bug", ["object_lists.py:Network({sizes}, bug=True)", "--call",
                   "model.backprop(X, Y)", *LISTS], EXIT_FAILED, ["DIFFERS", "dW2"]),
    ("layers-chain", ["layer_objects.py:build", *CHAIN], EXIT_OK,
     ["chained forward/backward over", "W1 ← model[0].dW", "through gradref's loss"]),
    ("layers-chain-bug", ["layer_objects.py:build_bug", *CHAIN], EXIT_FAILED,
     ["instead of Wᵀ·dZ"]),
    ("layers-loss-object", ["layer_objects.py:build", "--call", "chain", "--loss-object",
                            "BCE()", "--layers", "2,4,1", "--activations", "tanh,sigmoid",
                            "--loss", "bce", "--data", "normal"], EXIT_OK,
     ["through the loss 'BCE()'"]),
    ("optimiser-hook", [HOOK_MODEL, "--call", "model.fit_batch(X, Y, SGD(lr))", *HOOK],
     EXIT_OK, ["W1 ← model.params['W1']", "the parameters as the call left them"]),
    ("optimiser-hook-ascent", [HOOK_MODEL, "--call", "model.fit_batch(X, Y, Ascent(lr))",
                               *HOOK], EXIT_FAILED, ["the output gradient has the wrong sign"]),
    ("scalar-autograd", [SCALAR.format("MLP"), "--call", "half_square(model, X, Y).backward()",
                         *SCALAR_ARCH], EXIT_OK,
     ["W1 ← model.layers[0].units[*].w", "from the nodes' .grad"]),
    ("scalar-autograd-bug", [SCALAR.format("BuggyMLP"), "--call",
                             "half_square(model, X, Y).backward()", *SCALAR_ARCH], EXIT_FAILED,
     ["1−t instead of 1−t²"]),
]




@pytest.mark.parametrize("argv, code, texts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_object_model_gets_its_verdict(argv, code, texts, validate_cli):
    few = [] if "--cases" in argv else ["--cases", "3"]
    got, out = validate_cli(["--model", str(EX / argv[0]), *argv[1:], *few])
    assert got == code, out
    for text in texts:
        assert text in out, (text, out)


@pytest.mark.parametrize("argv, message", [
    (["--model", "nowhere.py:Net()", "--call", "model.g(X, Y)"], "does not exist"),
    (["--model", "net:Net()", "--call", "model.g(X, Y)"], "FILE.py:EXPRESSION"),
    (["--model", str(EX / "object_lists.py") + ":Network({sizes})"], "needs --call"),
    (["--model", str(EX / "object_lists.py") + ":Network({sizes})", "--call", "model.(X"],
     "not valid Python"),
    (["--call", "chain", str(EX / "rows_numpy.py") + ":gradients"], "only with --model"),
])
def test_bad_binding_options_are_named(argv, message, validate_cli):
    code, out = validate_cli([*argv, "--layers", "3,5,2", "--activations", "sigmoid,sigmoid",
                      "--loss", "half_square"])
    assert code == EXIT_ERROR
    assert message in out


class _Twin:
    """A one-unit layer: its weight and bias both (1, 1), with names that do not say which."""

    def __init__(self):
        self.p = np.zeros((1, 1))
        self.q = np.zeros((1, 1))


def test_an_ambiguous_binding_names_the_candidates():
    params = {"W1": np.ones((1, 1)), "b1": np.ones((1, 1))}
    with pytest.raises(BindingError, match=r"can be bound in 2 ways.*model\.p \(1, 1\), "
                                           r"model\.q \(1, 1\)"):
        bind(_Twin(), params)


def test_too_few_arrays_is_an_error_naming_what_was_found():
    model = _Twin()
    del model.q
    with pytest.raises(BindingError, match=r"found 1 of those shapes.*needs exactly 2"):
        bind(model, {"W1": np.ones((1, 1)), "b1": np.ones((1, 1))})


def test_binding_writes_in_place_and_into_flat_biases():
    class Net:
        def __init__(self):
            self.layers = [{"weight": np.zeros((3, 2)), "bias": np.zeros(3)},
                           {"weight": np.zeros((1, 3)), "bias": np.zeros(1)}]

    net, rng = Net(), np.random.default_rng(0)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal((3, 1)),
              "W2": rng.standard_normal((1, 3)), "b2": rng.standard_normal((1, 1))}
    view = net.layers[0]["weight"]
    bound = bind(net, params)
    assert np.array_equal(view, params["W1"])  # the same array object, written in place
    assert np.array_equal(net.layers[0]["bias"], params["b1"].ravel())
    assert [leaf.path for leaf in walk(net)][:2] == ["model.layers[0]['weight']",
                                                     "model.layers[0]['bias']"]
    assert set(bound.parameters()) == set(params)


def _layers(arch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("layer_objects", EX / "layer_objects.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(arch)


def test_assert_gradients_match_binds_a_factory_in_process():
    assert_gradients_match(None, model=_layers, call="chain", layers=[3, 4, 2],
                           activations="tanh,sigmoid", loss="bce", cases=3)


def test_assert_gradients_match_binds_a_file_and_fails_on_its_bug():
    with pytest.raises(AssertionError, match="must be transposed"):
        assert_gradients_match(None, model=f"{EX / 'layer_objects.py'}:build_bug",
                               call="chain", layers=[3, 3, 3, 1],
                               activations="tanh,tanh,sigmoid", loss="bce", cases=3)


class _SelfUpdating:
    """A dense layer named the other common way: forward_pass, backward_pass(dA, lr) that
    updates its own weights (W (n_in, n_out), row-major data)."""

    def __init__(self, n_in, n_out, flip=False):
        self.weights, self.bias, self.flip = np.zeros((n_in, n_out)), np.zeros((1, n_out)), flip

    def forward_pass(self, A):
        self.A = A
        return A @ self.weights + self.bias

    def backward_pass(self, dZ, lr):
        dA = dZ @ self.weights.T
        self.weights -= lr * (self.A.T @ dZ) * (-1.0 if self.flip else 1.0)
        self.bias -= lr * dZ.sum(axis=0, keepdims=True)
        return dA


class _Tanh:
    def forward_pass(self, Z):
        self.T = np.tanh(Z)
        return self.T

    def backward_pass(self, dA, lr):
        return dA * (1.0 - self.T ** 2)


def _self_updating(flip):
    def build(arch):
        sizes, layers = arch["layer_sizes"], []
        for a, b in zip(sizes, sizes[1:], strict=False):
            layers += [_SelfUpdating(a, b, flip), _Tanh()]
        return layers
    return build


@pytest.mark.parametrize("flip", [False, True])
def test_chain_finds_other_method_names_and_passes_lr(flip):
    kwargs = dict(model=_self_updating(flip), call="chain", layers=[3, 4, 2],
                  activations="tanh,tanh", loss="half_square", layout="rows", bias="row",
                  returns="update", lr=0.2, cases=3)
    if not flip:
        assert_gradients_match(None, **kwargs)
    else:
        with pytest.raises(AssertionError, match="DIFFERS"):
            assert_gradients_match(None, **kwargs)


def test_a_model_without_layers_is_named_for_chain():
    with pytest.raises(AssertionError, match="forward, forward_pass, forward_propagation"):
        assert_gradients_match(None, model=lambda arch: _Named(), call="chain", layers=[2, 1],
                               activations="tanh", loss="half_square", cases=1)


class _Named:
    def __init__(self):
        self.W, self.b = np.zeros((1, 2)), np.zeros((1, 1))
