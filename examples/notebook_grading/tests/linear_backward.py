# An otter-grader test file (OK format): `grader.check("linear_backward")` in the notebook.
# It runs in the student's kernel, without the sandbox (see ../README.md).
OK_FORMAT = True

test = {
    "name": "linear_backward",
    "points": 12,
    "suites": [
        {
            "cases": [
                {
                    "code": ">>> import gradref\n"
                            ">>> report = gradref.grade_function('linear_backward', linear_backward,"
                            " assignment='step-by-step')\n"
                            ">>> report.score == report.max_score or print(report.output, "
                            "*[t.output for t in report.tests if t.status == 'failed'], sep='\\n')\n"
                            "True",
                    "hidden": False,
                    "locked": False,
                },
            ],
            "scored": True,
            "setup": "",
            "teardown": "",
            "type": "doctest",
        },
    ],
}
