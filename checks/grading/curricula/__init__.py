"""The computations of the built-in curriculum assignments, one module per assignment.

Importing this package registers each module's entries in the one registry,
:data:`gradref.checks.grading.computations.COMPUTATIONS` (the modules call
:func:`~gradref.checks.grading.computations.register`); every expected value still comes from
:mod:`gradref.reference`. :mod:`gradref.checks.grading.assignment` imports it, so any declaration
can ``maps_to`` these names.
"""

from . import gradient_checking, initialization, layered_full, optimization, planar, regularization

__all__ = ["gradient_checking", "initialization", "layered_full", "optimization", "planar",
           "regularization"]
