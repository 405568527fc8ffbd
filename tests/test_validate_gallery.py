"""The real-code gallery (examples/implementations/): every implementation validated through
the ``gradref validate`` command exactly as its docstring says, with no adapter code — the
right function matches, the planted bug differs with the diagnosis that names it."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from gradref.checks.cli import main
from gradref.checks.validation import EXIT_ERROR, EXIT_FAILED, EXIT_OK

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"

PER_EXAMPLE = ["--per-example", "--layers", "3,5,2", "--activations", "sigmoid,sigmoid",
               "--loss", "half_square"]
SUMMED = ["--reduction", "sum", "--layers", "3,6,4,1", "--activations", "tanh,tanh,sigmoid",
          "--loss", "bce", "--l2", "0.1"]
TORCH = ["--layout", "torch", "--layers", "4,8,3", "--hidden", "relu", "--output", "softmax",
         "--loss", "cross_entropy"]
LISTS = ["--random-architectures", "--hidden", "relu,tanh", "--output", "sigmoid,softmax,linear",
         "--loss", "bce,cross_entropy,half_square", "--max-depth", "3", "--max-width", "4",
         "--cases", "12"]
SGD = ["--returns", "update", "--lr", "0.5", "--layers", "2,8,1", "--activations",
       "relu,sigmoid", "--loss", "bce"]
F32 = ["--layers", "3,8,8,2", "--hidden", "tanh", "--output", "linear", "--loss", "half_square",
       "--l2", "0.05"]
BIAS = ["--bias-sign", "-1", "--layers", "2,5,1", "--activations", "sigmoid,sigmoid",
        "--loss", "bce"]
SATURATION = ["--layers", "3,6,1", "--activations", "sigmoid,sigmoid", "--loss", "bce"]
MULTI = ["--layers", "3,5,4,2", "--hidden", "tanh", "--output", "softmax", "--loss",
         "cross_entropy"]
VENDOR = ["--path", str(EX / "multifile" / "vendor")]
NODE_ARCH = ["--random-architectures", "--hidden", "relu,tanh,leaky_relu", "--output",
             "sigmoid,softmax,linear", "--loss", "bce,cross_entropy,square,half_square",
             "--l2", "0.1", "--cases", "4"]

# (id, argv, exit code, texts the output must contain)
GALLERY = [
    ("per-example", ["per_example.py:backprop", *PER_EXAMPLE], EXIT_OK,
     ["two lists (biases, weights), each in layer order"]),
    ("per-example-bug", ["per_example.py:backprop_bug", *PER_EXAMPLE], EXIT_FAILED,
     ["s instead of s·(1−s) as the sigmoid derivative in layer 1"]),
    ("summed", ["summed_cost.py:gradients", *SUMMED, "--forward",
                f"{EX / 'summed_cost.py'}:cost"], EXIT_OK,
     ["cost summed over the batch", "your forward and your backward both match"]),
    ("summed-l2-bug", ["summed_cost.py:gradients_bug", *SUMMED], EXIT_FAILED,
     ["the L2 term uses λ = 0.2, the reference 0.1"]),
    ("summed-without-option", ["summed_cost.py:gradients", *SUMMED[2:]], EXIT_FAILED,
     ["times too large", "pass --reduction sum (your cost is summed over the batch)"]),
    ("torch", ["torch_layout.py:grads", *TORCH], EXIT_OK,
     ["layout torch, flat biases", "a dict keyed W1, b1, … read as dW1, db1, …"]),
    ("torch-bug", ["torch_layout.py:grads_bug", *TORCH], EXIT_FAILED,
     ["db2 and db1 are m = ", "divided by m twice"]),
    ("torch-mse-mean-all", ["torch_layout.py:mse_grads", "--layout", "torch", "--reduction",
                            "mean_all", "--layers", "3,6,4", "--hidden", "tanh", "--output",
                            "linear", "--loss", "square"], EXIT_OK,
     ["averaged over the batch and the output units"]),
    ("torch-mse-without-option", ["torch_layout.py:mse_grads", "--layout", "torch", "--layers",
                                  "3,6,4", "--hidden", "tanh", "--output", "linear", "--loss",
                                  "square"], EXIT_FAILED,
     ["pass --reduction mean_all (your loss is averaged over the n_L = "]),
    ("lists", ["layer_lists.py:gradients", *LISTS], EXIT_OK,
     ["a list of (dW, db) pairs, one per layer in layer order",
      "skipped as unsupported by the implementation", "hidden layers of unequal widths"]),
    ("lists-reversed", ["layer_lists.py:gradients_bug", *LISTS], EXIT_FAILED,
     ["in reverse layer order (output layer first)"]),
    ("sgd-new-params", ["sgd_step.py:step", *SGD], EXIT_OK, ["new parameters {W1, b1, …}"]),
    ("sgd-steps", ["sgd_step.py:update", *SGD], EXIT_OK, ["the steps −lr·gradient"]),
    ("sgd-ascent", ["sgd_step.py:step_bug", *SGD], EXIT_FAILED,
     ["the output gradient has the wrong sign", "gradient ascent"]),
    ("sgd-in-place", ["sgd_step.py:train_in_place", *SGD], EXIT_OK,
     ["parameters updated in place, compared before and after"]),
    ("float32", ["float32_net.py:gradients", *F32], EXIT_OK, ["answers in float32"]),
    ("float32-bug", ["float32_net.py:gradients_bug", *F32], EXIT_FAILED,
     ["the L2 term uses λ = 0.075, the reference 0.05"]),
    ("bias-input", ["bias_input.py:gradients", *BIAS], EXIT_OK,
     ["biases enter as −b (bias input −1)"]),
    ("bias-input-bug", ["bias_input.py:gradients_bug", *BIAS], EXIT_FAILED,
     ["db2 and db1 have the wrong sign"]),
    ("saturation", ["saturation.py:gradients", *SATURATION], EXIT_FAILED,
     ["(saturated data)", "MISMATCH in dW1, db1"]),
    ("saturation-normal-only", ["saturation.py:gradients", *SATURATION, "--data", "normal"],
     EXIT_OK, []),
    ("saturation-fixed", ["saturation.py:gradients_fixed", *SATURATION], EXIT_OK, []),
    ("multi-file", ["multifile/model.py:gradients", *VENDOR, *MULTI], EXIT_OK, []),
    ("multi-file-bug", ["multifile/model.py:gradients_bug", *VENDOR, *MULTI], EXIT_FAILED,
     ["the 1/m averaging is missing"]),
    ("multi-file-without-path", ["multifile/model.py:gradients", *MULTI], EXIT_ERROR,
     ["No module named 'numerics'", 'File "model.py", line', "pass --path DIR (repeatable)"]),
]


def _run(argv, capsys):
    try:
        code = main(["validate", *argv])
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().out


@pytest.mark.parametrize("argv, code, texts", [g[1:] for g in GALLERY],
                         ids=[g[0] for g in GALLERY])
def test_gallery_example_gets_its_verdict(argv, code, texts, capsys):
    few = [] if "--cases" in argv else ["--cases", "3"]  # one case of each data family
    got, out = _run([str(EX / argv[0]), *argv[1:], *few], capsys)
    assert got == code, out
    for text in texts:
        assert text in out, out


def test_the_saturation_bug_is_invisible_on_normal_data_alone(capsys):
    """The failing cases are exactly the saturated ones: the family is named per case."""
    _, out = _run([f"{EX / 'saturation.py'}:gradients", *SATURATION, "--cases", "6"], capsys)
    for line in out.splitlines():
        if "MISMATCH" in line:
            assert "(saturated data)" in line, out


@pytest.fixture(scope="module")
def node_program(tmp_path_factory):
    """backprop.js in a folder the sandbox's throw-away uid can read (the checkout may not be)."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    directory = Path(tempfile.mkdtemp(prefix="gradref-node-"))
    directory.chmod(0o755)
    script = directory / "backprop.js"
    shutil.copy(EX / "node" / "backprop.js", script)
    script.chmod(0o644)
    yield f"node {script} {{case}} {{out}}"
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize("extra, code, text", [
    ([], EXIT_OK, "all 4 compared cases match"),
    (["--layout", "rows", "--cases", "2"], EXIT_ERROR,
     "supports none of the 2 cases"),
], ids=["json-random-architectures", "unsupported-layout-exits-3"])
def test_javascript_speaking_json_needs_no_bridge(node_program, extra, code, text, capsys):
    got, out = _run(["--io", "json", "--command", node_program, *NODE_ARCH, *extra], capsys)
    assert got == code and text in out, out


def test_javascript_planted_bug_is_diagnosed(node_program, capsys):
    got, out = _run(["--io", "json", "--command", node_program + " --bug", "--layers", "3,4,2",
                     "--hidden", "tanh", "--output", "sigmoid", "--loss", "bce", "--cases", "2"],
                    capsys)
    assert got == EXIT_FAILED and "the 1/m averaging is missing" in out, out


@pytest.fixture(scope="module")
def c_program(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not available")
    binary = tmp_path_factory.mktemp("c") / "standalone_c"
    subprocess.run(["gcc", "-O2", "-std=c99", "-o", str(binary), str(EX / "standalone.c"),
                    "-lm"], check=True, capture_output=True)
    return binary


@pytest.mark.parametrize("rewrite", ["np.savez", "fortran-order", "float32", "int64",
                                     "savez_compressed"])
def test_the_c_reader_reads_what_numpy_writes(c_program, tmp_path, rewrite):
    """A case re-saved by NumPy itself (ZIP64 extra fields, Fortran order, other dtypes): the
    C program computes the reference's gradients (compressed members are refused clearly)."""
    from gradref.reference import Network
    from gradref.reference.casefile import read_gradients, read_npz, write_case

    net = Network([3, 4, 2], ["tanh", "sigmoid"], "bce", l2=0.2)
    rng = np.random.default_rng(5)
    params = net.init_params(seed=rng)
    X = rng.integers(-3, 4, size=(3, 6)).astype(float)
    Y = (rng.random((2, 6)) < 0.5).astype(float)
    ours = write_case(tmp_path / "ours.npz", net, params, X, Y)
    arrays = read_npz(ours)
    convert = {"np.savez": lambda a: a, "fortran-order": np.asfortranarray,
               "float32": lambda a: a.astype(np.float32) if a.ndim == 2 and a.shape[1] == 6
               else a,
               "int64": lambda a: a.astype(np.int64) if a.ndim == 2 and a.shape[1] == 6 else a,
               "savez_compressed": lambda a: a}[rewrite]
    theirs = tmp_path / "theirs.npz"
    save = np.savez_compressed if rewrite == "savez_compressed" else np.savez
    save(theirs, **{k: convert(v) for k, v in arrays.items()})
    (tmp_path / "theirs.json").write_text(sidecar_text(ours))
    if rewrite == "float32":  # X and Y as float32: compare with the rounded inputs
        X = X.astype(np.float32).astype(float)
    run = subprocess.run([str(c_program), str(theirs), str(tmp_path / "out.npz")],
                         capture_output=True, text=True)
    if rewrite == "savez_compressed":
        assert run.returncode == 1 and "np.savez_compressed" in run.stderr
        return
    assert run.returncode == 0, run.stderr
    got = read_gradients(tmp_path / "out.npz", net)
    _, expected = net.gradients(params, X, Y, intermediates=False)
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, atol=1e-14)


def sidecar_text(npz_path):
    return Path(str(npz_path)[:-4] + ".json").read_text()


@pytest.fixture
def open_dir():
    """A folder the sandbox's throw-away uid can read (pytest's tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="gradref-multi-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_a_file_keeps_its_name_and_its_folder_imports(open_dir, capsys):
    """``__file__`` and tracebacks name the files as they are; a sibling module imports."""
    tmp_path = open_dir
    (tmp_path / "helper.py").write_text("def explode():\n    raise ValueError('from helper')\n")
    (tmp_path / "helper.py").chmod(0o644)
    (tmp_path / "main.py").write_text(
        "import os\nimport helper\n\n"
        "def named(params, X, Y):\n    return 'unsupported: ' + os.path.basename(__file__)\n\n"
        "def fails(params, X, Y):\n    helper.explode()\n")
    base = ["--layers", "2,3,1", "--activations", "relu,sigmoid", "--loss", "bce", "--cases", "2"]
    (tmp_path / "main.py").chmod(0o644)
    code, out = _run([f"{tmp_path / 'main.py'}:named", *base], capsys)
    assert code == EXIT_ERROR and "skipped, unsupported by the implementation (main.py)" in out
    code, out = _run([f"{tmp_path / 'main.py'}:fails", *base], capsys)
    assert code == EXIT_ERROR and "ValueError: from helper" in out and "helper.py" in out
    assert 'File "main.py", line 8, in fails' in out
    assert "(the same in 2 cases)" in out and out.count("Traceback") == 1


def test_path_must_be_a_directory(tmp_path, capsys):
    try:
        code = main(["validate", f"{EX / 'saturation.py'}:gradients", *SATURATION, "--path",
                     str(tmp_path / "nowhere")])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and "argument --path: expected an existing directory" in \
        capsys.readouterr().err


def test_in_place_update_in_the_sandbox_keeps_imports_and_errors(open_dir, capsys):
    """The capturing child imports the file as a module from its folder: siblings import, a
    wrong in-place update is caught, an exception names the file."""
    (open_dir / "rates.py").write_text("LR = 0.25\n")
    (open_dir / "trainer.py").write_text(
        "from rates import LR\n\n"
        "def ascend(params, X, Y):\n"
        "    for k in params:\n        params[k] += LR * params[k]\n\n"
        "def broken(params, X, Y):\n    raise RuntimeError('no gradient today')\n")
    for f in open_dir.iterdir():
        f.chmod(0o644)
    base = ["--returns", "update", "--lr", "0.25", "--layers", "2,3,1", "--activations",
            "relu,sigmoid", "--loss", "bce", "--cases", "2", "--no-shrink"]
    code, out = _run([f"{open_dir / 'trainer.py'}:ascend", *base], capsys)
    assert code == EXIT_FAILED and "parameters updated in place" in out
    code, out = _run([f"{open_dir / 'trainer.py'}:broken", *base], capsys)
    assert code == EXIT_ERROR and "RuntimeError: no gradient today" in out and "trainer.py" in out


def test_a_command_may_write_the_new_parameters(open_dir, capsys):
    """--returns update with --command: {out} holds W1, b1, … after one step of lr 0.5."""
    script = open_dir / "step.py"
    script.write_text(
        "import json, sys\nimport numpy as np\n"
        "case, out = sys.argv[1], sys.argv[2]\n"
        "c = json.load(open(case))\nd = {k: np.array(v) for k, v in c['data'].items()}\n"
        "m = c['m']\nZ1 = d['W1'] @ d['X'] + d['b1']\nA1 = np.maximum(Z1, 0)\n"
        "A2 = 1 / (1 + np.exp(-(d['W2'] @ A1 + d['b2'])))\ndZ2 = A2 - d['Y']\n"
        "dZ1 = (d['W2'].T @ dZ2) * (Z1 > 0)\n"
        "g = {'W1': dZ1 @ d['X'].T / m, 'b1': dZ1.sum(1, keepdims=True) / m,\n"
        "     'W2': dZ2 @ A1.T / m, 'b2': dZ2.sum(1, keepdims=True) / m}\n"
        "json.dump({k: (d[k] - 0.5 * g[k]).tolist() for k in g}, open(out, 'w'))\n")
    script.chmod(0o644)
    code, out = _run(["--io", "json", "--command", f"{{python}} {script} {{case}} {{out}}",
                      "--returns", "update", "--lr", "0.5", "--layers", "2,4,1",
                      "--activations", "relu,sigmoid", "--loss", "bce", "--cases", "3",
                      "--same-user"], capsys)
    assert code == EXIT_OK and "new parameters {W1, b1, …}" in out, out
