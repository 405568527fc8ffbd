"""gradref's reference: a feed-forward network in pure NumPy whose every derivative is checked.

Canonical layout: ``X`` is (n_0, m), ``W_l`` is (n_l, n_{l-1}), ``b_l`` is (n_l, 1). See
:mod:`gradref.reference.network` for the equations and :mod:`gradref.reference.layouts` for
row-major adapters.
"""

from .activations import ACTIVATIONS, Activation, activation_names, get_activation
from .datasets import DATASETS, circles, dataset_names, halfplanes, moons, spirals, train_test_split
from .init import INITIALIZERS, init_params
from .layouts import data_from_layout, data_to_layout, from_layout, to_layout
from .losses import LOSSES, Loss, get_loss, loss_names
from .network import Network
from .training import (
    OPTIMIZERS,
    Standardizer,
    TrainingDiverged,
    TrainResult,
    accuracy,
    make_optimizer,
    optimizer_names,
    predict,
    train,
)

__all__ = [
    "ACTIVATIONS", "Activation", "activation_names", "get_activation",
    "LOSSES", "Loss", "get_loss", "loss_names",
    "INITIALIZERS", "init_params",
    "Network",
    "to_layout", "from_layout", "data_to_layout", "data_from_layout",
    "DATASETS", "dataset_names", "halfplanes", "circles", "moons", "spirals", "train_test_split",
    "train", "TrainResult", "TrainingDiverged", "Standardizer", "OPTIMIZERS", "optimizer_names",
    "make_optimizer", "predict", "accuracy",
]
