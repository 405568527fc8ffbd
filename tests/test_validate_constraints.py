"""Conventions and architecture limits as options (checks/validation/constraints.py):
integer class labels, the learning rate handed over in ``arch`` and in the case file, and
constraints under which no case the implementation cannot build is ever drawn."""

from pathlib import Path

import numpy as np
import pytest
from gradref.checks.validation import EXIT_ERROR, EXIT_FAILED, EXIT_OK, Settings, validate
from gradref.checks.validation.command import add_arguments
from gradref.checks.validation.targets import command_target

EX = Path(__file__).resolve().parents[1] / "examples" / "implementations"
LIMITS = ["--random-architectures", "--hidden", "relu,tanh", "--output", "softmax,sigmoid",
          "--loss", "cross_entropy,bce", "--labels", "index", "--returns", "update", "--lr",
          "0.3", "--min-width", "2", "--same-width", "--one-hidden-activation", "--pairs",
          "softmax:cross_entropy", "--cases", "6"]




@pytest.mark.parametrize("function, code, text", [
    ("train_step", EXIT_OK, "OK: all 6 compared cases match the reference"),
    ("train_step_bug", EXIT_FAILED, "DIFFERS"),
])
def test_a_limited_library_is_validated_with_options_only(function, code, text, validate_cli):
    got, out = validate_cli([f"{EX / 'class_labels.py'}:{function}", *LIMITS])
    assert got == code, out
    assert text in out and "skipped" not in out
    assert "targets as integer class labels" in out


def test_without_the_constraints_the_library_skips_cases(validate_cli):
    unconstrained = LIMITS[:LIMITS.index("--min-width")] + ["--cases", "6"]
    got, out = validate_cli([f"{EX / 'class_labels.py'}:train_step", *unconstrained])
    assert "skipped as unsupported" in out, out


def _drawn(**options):
    seen = []

    def record(params, X, Y, arch):
        seen.append((arch, Y))
        return "unsupported: recording"

    settings = Settings(("relu", "tanh", "softmax"), ("cross_entropy", "bce"),
                        random_architectures=True, hidden=("relu", "tanh", "sigmoid"),
                        outputs=("softmax", "sigmoid"), cases=30, max_width=6, **options)
    validate(record, settings)
    return seen


def test_the_constraints_hold_on_every_drawn_case():
    seen = _drawn(min_width=3, same_width=True, one_hidden=True, labels="index",
                  pairs=(("sigmoid", "bce"),))
    assert len(seen) == 30
    for arch, Y in seen:
        widths, hidden = arch["layer_sizes"][1:-1], arch["activations"][:-1]
        assert len(set(widths)) <= 1 and all(w >= 3 for w in widths)
        assert len(set(hidden)) <= 1
        assert (arch["activations"][-1], arch["loss"]) == ("sigmoid", "bce")
        assert arch["layer_sizes"][-1] == 1 and Y.dtype.kind == "i" and Y.ndim == 1
        assert set(np.unique(Y)) <= {0, 1}
    # and unconstrained draws do break each constraint somewhere (the test can fail)
    free = _drawn()
    assert any(len(set(a["layer_sizes"][1:-1])) > 1 for a, _ in free)
    assert any(len(set(a["activations"][:-1])) > 1 for a, _ in free)


def test_index_labels_are_the_one_hot_rows():
    got = []

    def record(params, X, Y, arch):
        got.append(Y)
        return "unsupported: recording"

    one_hot = []
    validate(lambda p, X, Y: one_hot.append(Y) or "unsupported: x",
             Settings(("tanh", "softmax"), ("cross_entropy",), (3, 4, 3), cases=2))
    validate(record, Settings(("tanh", "softmax"), ("cross_entropy",), (3, 4, 3), cases=2,
                              labels="index"))
    for Y, labels in zip(one_hot, got, strict=True):
        assert np.array_equal(np.eye(3)[:, labels], Y)


@pytest.mark.parametrize("options, message", [
    ({"labels": "index", "losses": ("square",)}, "labels 'index'"),
    ({"labels": "classes"}, "labels must be one of onehot, index"),
    ({"min_width": 2, "random_architectures": False}, "only constrain random"),
    ({"min_width": 9}, "min_width 9 exceeds max_width 5"),
    ({"pairs": (("softmax", "bce"),)}, "can be the output of loss"),
])
def test_contradicting_constraints_are_named(options, message):
    base = {"activations": ("relu", "sigmoid", "softmax"), "losses": ("bce",),
            "random_architectures": True}
    base.update(options)
    if not base["random_architectures"]:
        base["layers"] = (2, 3, 1)
        base["activations"] = ("relu", "sigmoid")
    with pytest.raises(ValueError, match=message):
        Settings(**base)


def test_a_bad_pair_option_is_named(validate_cli):
    code, out = validate_cli([f"{EX / 'class_labels.py'}:train_step", *LIMITS[:-4], "--pairs",
                      "softmax", "--cases", "1"])
    assert code == EXIT_ERROR and "OUTPUT:LOSS" in out


def test_the_learning_rate_is_in_the_case_file(tmp_path):
    script = tmp_path / "echo.py"  # says the case's lr as its "unsupported" reason
    script.write_text("import json, sys\n"
                      "print('lr=%r' % json.load(open(sys.argv[1]))['lr'], file=sys.stderr)\n"
                      "sys.exit(3)\n")
    script.chmod(0o644)
    target = command_target(f"{{python}} - < {script} {{case}} {{out}}", io="json",
                            same_user=True)
    try:
        report = validate(target, Settings(("relu", "sigmoid"), ("bce",), (2, 3, 1), cases=1,
                                           returns="update", lr=0.25))
    finally:
        target.close()
    assert report.cases[0].status == "skipped", report.cases[0].error
    assert "lr=0.25" in report.cases[0].error


def test_the_options_exist():
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--loss", "bce", "--labels", "index", "--min-width", "2",
                         "--same-width", "--one-hidden-activation", "--pairs", "sigmoid:bce"])
    assert args.pairs == (("sigmoid", "bce"),)
