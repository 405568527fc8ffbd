"""Diagnosis: say *which* mistake makes a gradient wrong, not only *that* it is wrong.

:func:`diagnose` compares the gradients under test with the true ones and returns
:class:`Finding` objects: the arrays concerned, a stable ``kind`` and a sentence for a student,
e.g. "dW2 is m = 16 times too large: the 1/m averaging is missing". Only patterns that fit the
numbers to a tight tolerance (``compare``) are claimed, tried in this order:

1. one known mistake (``candidates``) planted in the backward pass replayed from the forward
   cache (``replay``) that reproduces every compared array at once (``network``);
2. else each array on its own (``recognisers``, also :func:`diagnose_array`): a shape slip, a
   named factor (m, 1/m, 2, ½, −1), a wrong L2 term, a candidate restricted to it, a near miss;
   (also a dropout or normalisation backward step of the hidden layers that have one);
3. several mistakes, explained layer by layer from the output down (``layer_search``);
4. else the per-array findings, merged and summarised by layer (``summary``), with the relative
   error and the worst element where no pattern fits.

The network given in the context is trusted only if it reproduces the expected gradients (module
``context``); the sentences are built in ``wording``. The tolerances are those of
:mod:`gradref.checks.tolerances` (prefixed ``DIAGNOSIS_``), re-exported here without the prefix.
Each module's ``__all__`` lists what it offers the others (underscored names: package-internal).

Optimiser steps have their own entry, :func:`diagnose_step` (module ``optimizers``): a student's
update replayed against the reference step and its known mistakes.
"""

from ..tolerances import DIAGNOSIS_COLLINEAR_COS as COLLINEAR_COS
from ..tolerances import DIAGNOSIS_FACTOR_RTOL as FACTOR_RTOL
from ..tolerances import DIAGNOSIS_FIT2_MIN_SIZE as FIT2_MIN_SIZE
from ..tolerances import DIAGNOSIS_FLAG_ATOL as FLAG_ATOL
from ..tolerances import DIAGNOSIS_FLAG_RTOL as FLAG_RTOL
from ..tolerances import DIAGNOSIS_MATCH_ATOL as MATCH_ATOL
from ..tolerances import DIAGNOSIS_MATCH_RTOL as MATCH_RTOL
from ..tolerances import DIAGNOSIS_MODEL_RTOL as MODEL_RTOL
from ..tolerances import DIAGNOSIS_NEAR_MISS_MAX_ELEMENTS as NEAR_MISS_MAX_ELEMENTS
from ..tolerances import DIAGNOSIS_NEAR_MISS_RTOL as NEAR_MISS_RTOL
from ..tolerances import DIAGNOSIS_SCALE_MIN_SUPPORT as SCALE_MIN_SUPPORT
from ..tolerances import DIAGNOSIS_SCALE_RTOL as SCALE_RTOL
from .candidates import (
    DERIVATIVE_CANDIDATES,
    DERIVATIVE_TEXT,
    LAYER_CANDIDATES,
    LOSS_CANDIDATES,
    STEP_CANDIDATES,
    DerivativeCandidate,
    LayerCandidate,
    LossCandidate,
    StepCandidate,
)
from .findings import KINDS, Finding
from .layer_search import LAYER_SEARCH_BUDGET
from .network import diagnose
from .optimizers import STEP_VARIANTS, diagnose_step, indistinguishable
from .recognisers import diagnose_array
from .replay import ALL_SUBSETS_UP_TO
from .wording import MAX_ALTERNATIVES

__all__ = [
    "Finding", "diagnose", "diagnose_array", "KINDS",
    "DerivativeCandidate", "LossCandidate", "StepCandidate",
    "DERIVATIVE_CANDIDATES", "LOSS_CANDIDATES", "STEP_CANDIDATES", "DERIVATIVE_TEXT",
    "LayerCandidate", "LAYER_CANDIDATES",
    "MATCH_RTOL", "MATCH_ATOL", "FLAG_RTOL", "FLAG_ATOL", "MODEL_RTOL", "SCALE_RTOL",
    "FACTOR_RTOL", "SCALE_MIN_SUPPORT", "NEAR_MISS_RTOL", "NEAR_MISS_MAX_ELEMENTS",
    "COLLINEAR_COS", "FIT2_MIN_SIZE", "ALL_SUBSETS_UP_TO", "MAX_ALTERNATIVES",
    "LAYER_SEARCH_BUDGET",
    "diagnose_step", "indistinguishable", "STEP_VARIANTS",
]
