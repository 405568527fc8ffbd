"""Submissions in the shapes students really hand in, built from the correct fixtures.

Each builder writes one submission into a folder and returns its path. They are our own
renditions of patterns seen in public student work: the course notebook of each year with that
year's helper imports and test cells, an nbconvert export with ``get_ipython()`` lines, the
pre-2020 gradient keys, a NumPy API removed since, a helper file beside the notebook, an import
of a module nobody provides, a bug that only shows for m > 6, the CS231n package layout.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
STEP = (HERE / "step_correct.py").read_text()
LAYERED = (HERE / "layered_correct.py").read_text()

#: The graded functions of step_correct.py, without the activation helpers the course provides.
GRADED = STEP[STEP.index("def initialize_parameters_deep"):]
HELPERS = STEP[STEP.index("def sigmoid"):STEP.index("def initialize_parameters_deep")]

#: L_model_backward as written before 2020: grads["dA" + str(l + 1)] holds dA of layer l.
OLD_KEYS = '''def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    current_cache = caches[L - 1]
    grads["dA" + str(L)], grads["dW" + str(L)], grads["db" + str(L)] = \\
        linear_activation_backward(dAL, current_cache, activation="sigmoid")
    for l in reversed(range(L - 1)):
        current_cache = caches[l]
        dA_prev_temp, dW_temp, db_temp = linear_activation_backward(
            grads["dA" + str(l + 2)], current_cache, activation="relu")
        grads["dA" + str(l + 1)] = dA_prev_temp
        grads["dW" + str(l + 1)] = dW_temp
        grads["db" + str(l + 1)] = db_temp
    return grads
'''

#: The header cell of the course notebook, by year: (test-case module, helper module, extra).
YEARS = {
    2017: ("testCases_v2", "dnn_utils_v2", ""),
    2018: ("testCases_v3", "dnn_utils_v2", ""),
    2019: ("testCases_v4a", "dnn_utils_v2", "from dnn_app_utils_v3 import *\n"),
    2021: ("testCases", "dnn_utils", "from public_tests import *\nimport copy\n"),
}

#: Test cells after each function, as the course wrote them (calls of star-imported helpers).
TEST_CELLS = {
    "initialize_parameters_deep": 'parameters = initialize_parameters_deep([5, 4, 3])\n'
                                  'print("W1 = " + str(parameters["W1"]))\n',
    "linear_forward": 'A, W, b = linear_forward_test_case()\nZ, linear_cache = linear_forward(A, W, b)\n'
                      'print("Z = " + str(Z))\n',
    "linear_activation_forward": 'A_prev, W, b = linear_activation_forward_test_case()\n'
                                 'A, linear_activation_cache = linear_activation_forward(A_prev, W, b, '
                                 'activation="sigmoid")\n',
    "L_model_forward": 'X, parameters = L_model_forward_test_case_2hidden()\n'
                       'AL, caches = L_model_forward(X, parameters)\nprint("AL = " + str(AL))\n',
    "compute_cost": 'Y, AL = compute_cost_test_case()\nprint("cost = " + str(compute_cost(AL, Y)))\n',
    "linear_backward": 'dZ, linear_cache = linear_backward_test_case()\n'
                       'dA_prev, dW, db = linear_backward(dZ, linear_cache)\n',
    "linear_activation_backward": 'dAL, linear_activation_cache = linear_activation_backward_test_case()\n',
    "L_model_backward": 'AL, Y_assess, caches = L_model_backward_test_case()\n'
                        'grads = L_model_backward(AL, Y_assess, caches)\nprint_grads(grads)\n',
    "update_parameters": 'parameters, grads = update_parameters_test_case()\n'
                         'parameters = update_parameters(parameters, grads, 0.1)\n',
}


def functions_of(source: str) -> dict[str, str]:
    """``{name: source of the top-level def}`` in order."""
    parts = re.split(r"(?m)^(?=def )", source)
    return {re.match(r"def (\w+)", p).group(1): p.rstrip() + "\n" for p in parts if p.startswith("def ")}


def with_old_keys(source: str) -> str:
    funcs = functions_of(source)
    return source.replace(funcs["L_model_backward"], OLD_KEYS)


def header(year: int) -> str:
    tests, helpers, extra = YEARS[year]
    return ("import numpy as np\nimport h5py\nimport matplotlib.pyplot as plt\n"
            f"from {tests} import *\n"
            f"from {helpers} import sigmoid, sigmoid_backward, relu, relu_backward\n{extra}"
            "\n%matplotlib inline\nplt.rcParams['figure.figsize'] = (5.0, 4.0)\n"
            "plt.rcParams['image.cmap'] = 'gray'\n\n%load_ext autoreload\n%autoreload 2\n\n"
            "np.random.seed(1)\n")


def course_notebook(folder: Path, year: int, *, name: str | None = None, graded: str | None = None,
                    first: str | None = None) -> Path:
    """The course notebook of ``year``: header cell, then each function and its test cell.
    Before 2020, L_model_backward uses the old gradient keys."""
    graded = graded or (with_old_keys(GRADED) if year < 2020 else GRADED)
    cells = [nbformat.v4.new_markdown_cell("# Building your Deep Neural Network: Step by Step"),
             nbformat.v4.new_code_cell(first or header(year))]
    for fname, code in functions_of(graded).items():
        cells.append(nbformat.v4.new_code_cell("# GRADED FUNCTION: " + fname + "\n\n" + code))
        cells.append(nbformat.v4.new_code_cell(TEST_CELLS[fname]))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path = folder / (name or f"course_{year}.ipynb")
    nbformat.write(nb, path)
    return path


def nbconvert_export(folder: Path, graded: str | None = None, name: str = "exported.py") -> Path:
    """The 2018 notebook as ``jupyter nbconvert --to script`` writes it: ``# In[N]:`` markers,
    ``get_ipython()`` lines, markdown as comments, the test calls at top level, and a cell that
    loads the dataset from the student's own disk (fails here)."""
    graded = graded or with_old_keys(GRADED)
    out = ["#!/usr/bin/env python", "# coding: utf-8", "", "# # Building your Deep Neural Network",
           "", "# In[1]:", "", "",
           "import numpy as np\nimport h5py\nimport matplotlib.pyplot as plt\n"
           "from testCases_v4 import *\nfrom dnn_utils_v2 import sigmoid, sigmoid_backward, relu, "
           "relu_backward\n\nget_ipython().run_line_magic('matplotlib', 'inline')\n"
           "plt.rcParams['figure.figsize'] = (5.0, 4.0)\n"
           "get_ipython().run_line_magic('load_ext', 'autoreload')\n"
           "get_ipython().run_line_magic('autoreload', '2')\n\nnp.random.seed(1)\n", "",
           "# In[2]:", "", "",
           "train_x = np.load('C:\\\\Users\\\\me\\\\datasets\\\\train_catvnoncat.npy')\n", ""]
    n = 3
    for fname, code in functions_of(graded).items():
        out += [f"# ## {fname}", "", f"# In[{n}]:", "", "", code, "", f"# In[{n + 1}]:", "", "",
                TEST_CELLS[fname], ""]
        n += 2
    out += ["# In[ ]:", "", "", ""]
    path = folder / name
    path.write_text("\n".join(out))
    return path


def numpy_removed(source: str = GRADED) -> str:
    """compute_cost in the NumPy 1.x spelling of 2018: np.float and reshape(newshape=)."""
    funcs = functions_of(source)
    old = '''def compute_cost(AL, Y):
    m = np.float(Y.shape[1])
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return np.reshape(cost, newshape=())
'''
    return source.replace(funcs["compute_cost"], old)


def only_above_6(source: str = STEP) -> str:
    """db averaged over at most 6 examples: right for m <= 6 only."""
    old = "db = np.sum(dZ, axis=1, keepdims=True) / m"
    assert source.count(old) == 1
    return source.replace(old, "db = np.sum(dZ, axis=1, keepdims=True) / min(m, 6)")


def helper_beside(folder: Path) -> Path:
    """A notebook importing dnn_utils, and the student's own dnn_utils.py beside it, whose
    relu_backward masks with Z < 0 instead of Z <= 0 (dZ kept where it must be zeroed)."""
    folder.mkdir(parents=True, exist_ok=True)
    helpers = "import numpy as np\n\n\n" + HELPERS.replace("dZ[cache <= 0] = 0", "dZ[cache > 0] = 0")
    (folder / "dnn_utils.py").write_text(helpers)
    return course_notebook(folder, 2021, name="hw.ipynb")


def cs231n_package(folder: Path) -> Path:
    """A student's repository in the course's package layout, with package-relative imports."""
    funcs = LAYERED[LAYERED.index("def affine_forward"):LAYERED.index("class FullyConnectedNet")]
    net = LAYERED[LAYERED.index("class FullyConnectedNet"):]
    pkg = folder / "cs231n"
    (pkg / "classifiers").mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "layers.py").write_text("import numpy as np\n\n\n" + funcs)
    (pkg / "layer_utils.py").write_text(
        "from .layers import *\n\n\ndef affine_relu_forward(x, w, b):\n"
        "    a, fc_cache = affine_forward(x, w, b)\n    out, relu_cache = relu_forward(a)\n"
        "    return out, (fc_cache, relu_cache)\n\n\ndef affine_relu_backward(dout, cache):\n"
        "    fc_cache, relu_cache = cache\n    da = relu_backward(dout, relu_cache)\n"
        "    return affine_backward(da, fc_cache)\n")
    (pkg / "classifiers" / "__init__.py").write_text("from .fc_net import *\n")
    (pkg / "classifiers" / "fc_net.py").write_text(
        "import numpy as np\n\nfrom ..layers import *\nfrom ..layer_utils import *\n\n\n" + net)
    (folder / "FullyConnectedNets.ipynb").write_text("")     # the course's driver notebook
    return folder


def zipped(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent).as_posix())
    return target


#: A Python 2 copy of the course's fast_layers.py, as 2016 repositories commit it: the print
#: statement makes it fail to compile under Python 3 (the course's module, never graded).
_PY2_FAST_LAYERS = '''import numpy as np
try:
  from cs231n.im2col_cython import col2im_cython, im2col_cython
except ImportError:
  print 'run the following from the cs231n directory and try again:'
from cs231n.im2col import *


def conv_forward_fast(x, w, b, conv_param):
  raise RuntimeError('compiled code')
'''


def course_repository(folder: Path, *, init: bool = True, nested: bool = True,
                      py2_fast_layers: bool = False) -> Path:
    """A student's CS231n assignment-2 repository as it is committed: ``assignment2/cs231n/``
    (or ``cs231n/`` at the top), ``__init__.py`` files or none, ``layer_utils.py`` and
    ``fc_net.py`` importing the course's ``fast_layers`` (absent: compiled, never committed, or
    a Python 2 copy), ``layers.py`` written with ``np.reshape(x, newshape=...)``, the net built
    on ``affine_relu_forward``, and a ``cnn.py`` that imports the convolution layers."""
    funcs = LAYERED[LAYERED.index("def affine_forward"):LAYERED.index("class FullyConnectedNet")]
    funcs = funcs.replace("out = x.reshape(x.shape[0], -1).dot(w) + b",
                          "out = np.reshape(x, newshape=(x.shape[0], -1)).dot(w) + b")
    net = LAYERED[LAYERED.index("class FullyConnectedNet"):]
    net = net.replace(
        "            out, fc = affine_forward(out, self.params[\"W%d\" % i], self.params[\"b%d\" % i])\n"
        "            out, rc = relu_forward(out)\n            caches.append((fc, rc))\n",
        "            out, cache = affine_relu_forward(out, self.params[\"W%d\" % i],\n"
        "                                             self.params[\"b%d\" % i])\n"
        "            caches.append(cache)\n").replace(
        "            fc, rc = caches[i - 1]\n            dout = relu_backward(dout, rc)\n"
        "            dout, grads[\"W%d\" % i], grads[\"b%d\" % i] = affine_backward(dout, fc)\n",
        "            dout, grads[\"W%d\" % i], grads[\"b%d\" % i] = affine_relu_backward(\n"
        "                dout, caches[i - 1])\n")
    if "affine_relu_forward" not in net or "affine_relu_backward" not in net:
        raise ValueError("layered_correct.py changed: the net is no longer built as expected")
    pkg = folder / ("assignment2" if nested else "") / "cs231n"
    (pkg / "classifiers").mkdir(parents=True, exist_ok=True)
    (pkg / "layers.py").write_text("from builtins import range\nimport numpy as np\n\n\n" + funcs)
    (pkg / "layer_utils.py").write_text(
        "from cs231n.layers import *\nfrom cs231n.fast_layers import *\n\n\n"
        "def affine_relu_forward(x, w, b):\n"
        "    a, fc_cache = affine_forward(x, w, b)\n    out, relu_cache = relu_forward(a)\n"
        "    return out, (fc_cache, relu_cache)\n\n\ndef affine_relu_backward(dout, cache):\n"
        "    fc_cache, relu_cache = cache\n    da = relu_backward(dout, relu_cache)\n"
        "    return affine_backward(da, fc_cache)\n\n\n"
        "def conv_relu_forward(x, w, b, conv_param):\n"
        "    a, conv_cache = conv_forward_fast(x, w, b, conv_param)\n"
        "    out, relu_cache = relu_forward(a)\n    return out, (conv_cache, relu_cache)\n")
    (pkg / "classifiers" / "fc_net.py").write_text(
        "from builtins import range\nfrom builtins import object\nimport numpy as np\n\n"
        "from cs231n.layers import *\nfrom cs231n.layer_utils import *\n\n\n" + net)
    (pkg / "classifiers" / "cnn.py").write_text(
        "import numpy as np\n\nfrom cs231n.layers import *\nfrom cs231n.fast_layers import *\n"
        "from cs231n.layer_utils import *\n\n\nclass ThreeLayerConvNet(object):\n"
        "    def loss(self, X, y=None):\n        return conv_relu_forward(X, 0, 0, {})\n")
    (pkg / "optim.py").write_text("import numpy as np\n\n\ndef sgd(w, dw, config=None):\n"
                                  "    return w - 1e-2 * dw, config\n")
    (pkg / "solver.py").write_text("from cs231n import optim\n\n\nclass Solver(object):\n"
                                   "    pass\n")
    if init:
        (pkg / "__init__.py").write_text("")
        (pkg / "classifiers" / "__init__.py").write_text(
            "from cs231n.classifiers.fc_net import *\nfrom cs231n.classifiers.cnn import *\n")
    if py2_fast_layers:
        (pkg / "fast_layers.py").write_text(_PY2_FAST_LAYERS)
    (pkg.parent / "FullyConnectedNets.ipynb").write_text("")
    return folder
