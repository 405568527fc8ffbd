# nbgrader autograder test cell for linear_backward (points: 12).
# Runs in the student's kernel, where linear_backward is defined; no sandbox (see README.md).
import gradref

report = gradref.grade_function("linear_backward", linear_backward, assignment="step-by-step")  # noqa: F821
print(report.output)
assert report.score == report.max_score, "\n\n".join(
    f"{test.name}:\n{test.output}" for test in report.tests if test.status == "failed")
