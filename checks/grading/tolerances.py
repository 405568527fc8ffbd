"""The grader's tolerances, in one place (the reference suite's own live in ``gradref.checks.tolerances``).

A student's array passes a value check when

.. math:: \\max_i |\\text{yours}_i - \\text{expected}_i| \\le
          \\texttt{VALUES_RTOL} \\cdot \\max_i |\\text{expected}_i| + \\texttt{VALUES_ATOL},

a bound relative to the array's scale rather than to each entry, so that a correct solution that
computes in another (equally valid) order - the unfused ``dAL`` then ``sigmoid_backward`` instead
of the reference's ``AL - Y``, ``np.mean`` instead of ``np.sum / m`` - is never flagged, while the
bugs we grade for (a factor m, a sign, a transpose, a wrong mask) are off by O(1) relative error.
An assignment declaration may override both numbers (``[tolerance]`` table).
"""

__all__ = ["VALUES_RTOL", "VALUES_ATOL", "CASE_MIN_ABS_Z", "CASE_OUTPUT_RANGE",
           "INIT_STD_MAX", "INIT_STD_MIN", "FD_ERROR_FLOOR", "FD_POLICIES", "FD_DEFAULT_POLICY",
           "NORM_CASE_MAX_MEAN_OVER_STD", "DROPOUT_CASE_MIN_ABS_X", "DROPOUT_FRACTION_SIGMAS"]

#: Relative part of the value bound (relative to the largest expected magnitude).
VALUES_RTOL = 1e-6
#: Absolute floor of the value bound, for arrays that are (nearly) all zero.
VALUES_ATOL = 1e-9

#: Generated cases keep every pre-activation at least this far from a kink (0 for relu), so a
#: mask written ``Z > 0`` and one written ``Z >= 0`` are both right.
CASE_MIN_ABS_Z = 1e-3
#: Generated networks keep sigmoid outputs inside this range, so ``log(AL)``, ``1/AL`` and
#: ``1/(1-AL)`` in a student's unfused cost and dAL are well conditioned.
CASE_OUTPUT_RANGE = (0.02, 0.98)

#: Random initial weights: the default bounds on the standard deviation of each W_l when the
#: declaration does not demand exact values ("small": at most 0.1; "not all zero": at least 1e-6).
INIT_STD_MAX = 0.1
INIT_STD_MIN = 1e-6

#: A gradient that passes the value check but is off by at least this much (relative to the
#: array's largest entry, as above) on every case is one of finite differences: backprop in
#: float64 matches the reference to ~1e-15 whatever its order of operations (3e-15 at worst,
#: measured over the built-in solutions and 6 seeds), while a difference quotient of the student's
#: own forward keeps its truncation and rounding error: 4e-9 to 3e-7 for a one-sided step of
#: 1e-7, 3e-11 to 1e-9 for a central step of 1e-5 (a complex step would pass unseen). Only
#: float64 answers are judged (float32 backprop has errors of that size too).
FD_ERROR_FLOOR = 1e-12
#: What an assignment does with such a gradient (``finite_differences`` in its declaration):
#: ``accept`` it, ``flag`` it (the points stand, the report and the gradebook say so), ``fail``
#: it (no points for that function's checks).
FD_POLICIES = ("accept", "flag", "fail")
FD_DEFAULT_POLICY = "flag"

# ---- layered-full (checks/grading/curricula/layered_full.py) ----
#: Batch- and layer-norm cases draw each feature (row) as mu + sigma * randn with |mu| / sigma at
#: most this: a one-pass solution (mean, then var = mean(x**2) - mean**2, or the template's
#: mean then mean((x - mu)**2)) rounds to about eps_machine * (mu / sigma)**2, ~1e-13 here, far
#: below VALUES_RTOL; at a mean of 1e6 and sigma 1 the same correct code differs by 1e-8 to 1e-4
#: from the two-pass reference, so such data would flag correct solutions.
NORM_CASE_MAX_MEAN_OVER_STD = 20.0
#: Dropout cases keep |x| at least this large, so the mask a student drew is read back exactly
#: as out / x (0 or the inverse keep probability).
DROPOUT_CASE_MIN_ABS_X = 0.05
#: A dropout output's fraction of kept units passes within this many binomial standard
#: deviations of the keep probability (plus one unit); keep and drop readings of p (p vs 1 - p,
#: p never 0.5 in the cases) are then tens of deviations apart on the cases' >= 400 units.
DROPOUT_FRACTION_SIGMAS = 5.0
