"""Grade student backprop submissions (.py or .ipynb) against a declared assignment.

::

    from gradref.checks.grading import grade_submission, render

    report = grade_submission("hw.ipynb", "step-by-step", seed=0)
    print(render(report, "text"))          # or "json", "gradescope", "junit"

Built-in assignments: ``step-by-step`` (column-major, one function per step) and ``layered``
(row-major layers and a FullyConnectedNet class); any other is a declaration file
(``docs/assignments.md``). Every function is graded on its own, with reference-made inputs, on
seeded random cases; failures are shrunk to the smallest failing case and diagnosed.
"""

from .assignment import Assignment, AssignmentError, builtin_assignments, load_assignment
from .computations import COMPUTATIONS, computation_names
from .engine import SubmissionError, grade_source, grade_submission
from .inprocess import grade_function
from .report import FORMATS, GradeReport, TestResult, render

__all__ = ["grade_submission", "grade_source", "grade_function", "render", "GradeReport",
           "TestResult", "FORMATS",
           "Assignment", "AssignmentError", "SubmissionError", "load_assignment",
           "builtin_assignments", "COMPUTATIONS", "computation_names"]
