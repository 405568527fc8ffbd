"""``gradref train``: the accuracy targets, the JSON report, the plot, bad arguments.

The targets run in process through ``main([...])`` with each dataset's default recipe and seed.
"""

import json
import subprocess
import sys

import pytest
from gradref.checks import cli as command_line
from gradref.checks.cli import Command, UsageError, main, register_command
from gradref.reference import cli
from gradref.reference.datasets import DATASETS

TARGETS = [
    # (dataset, extra arguments, JSON key, lower bound)
    ("halfplanes", [], "test_accuracy", 0.98),
    ("circles", ["--n", "1000", "--noise", "0.05", "--layers", "2,10,5,1"], "train_accuracy", 0.98),
    ("moons", ["--n", "1000", "--noise", "0.2"], "test_accuracy", 0.95),
    ("spirals", [], "test_accuracy", 0.95),
]


def run_json(tmp_path, *argv):
    path = tmp_path / "out.json"
    code = main(["train", *argv, "--json", str(path), "--quiet"])
    assert code == 0
    return json.loads(path.read_text())


@pytest.mark.parametrize("dataset, extra, key, bound", TARGETS, ids=[t[0] for t in TARGETS])
def test_default_recipes_reach_their_targets(dataset, extra, key, bound, tmp_path):
    report = run_json(tmp_path, "--dataset", dataset, *extra)
    assert report[key] >= bound, report
    n = DATASETS[dataset].defaults["n"]
    assert report["n_train"] + report["n_test"] == n
    assert report["n_test"] == round(0.2 * n)
    assert report["final_cost"] == report["train_cost"] == report["cost_history"][-1]
    assert len(report["cost_history"]) == report["epochs"] + 1
    assert report["cost_history"][-1] < report["cost_history"][0]
    assert report["arguments"]["dataset"] == dataset
    assert report["network"]["layer_sizes"][0] == 2
    assert report["seconds"] < 60


def test_report_is_printed_unless_quiet(capsys):
    args = ["train", "--dataset", "moons", "--n", "200", "--epochs", "3"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "train  cost" in out and "test   cost" in out and "accuracy" in out
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_same_seed_same_report_different_seed_different(tmp_path):
    args = ["--dataset", "circles", "--n", "200", "--epochs", "5"]
    a = run_json(tmp_path, *args, "--seed", "3")
    b = run_json(tmp_path, *args, "--seed", "3")
    c = run_json(tmp_path, *args, "--seed", "4")
    for r in (a, b, c):
        r.pop("seconds")
    assert a == b
    assert a["cost_history"] != c["cost_history"]


def test_options_override_the_recipe(tmp_path):
    r = run_json(tmp_path, "--dataset", "moons", "--n", "300", "--layers", "2,7,1",
                 "--optimizer", "momentum", "--lr", "0.2", "--epochs", "4", "--batch-size", "16",
                 "--l2", "0.5", "--init", "xavier", "--test-fraction", "0.25")
    assert r["network"] == {"layer_sizes": [2, 7, 1], "activations": ["relu", "sigmoid"],
                            "loss": "bce", "l2": 0.5}
    assert r["optimizer"] == {"name": "momentum", "lr": 0.2, "beta": 0.9}
    assert (r["n_train"], r["n_test"], r["epochs"]) == (225, 75, 4)
    assert r["arguments"]["init"] == "xavier" and r["arguments"]["batch_size"] == 16


def test_schedule_and_new_optimizers_from_the_command_line(tmp_path):
    r = run_json(tmp_path, "--dataset", "moons", "--n", "200", "--optimizer", "nesterov",
                 "--lr", "0.05", "--epochs", "7", "--batch-size", "32", "--lr-schedule",
                 "stepped", "--decay-rate", "1", "--time-interval", "3")
    # epochs e = 0..6 run at lr/(1 + floor(e/3)): the DLS stepped schedule
    assert r["learning_rates"] == pytest.approx([0.05] * 3 + [0.025] * 3 + [0.05 / 3])
    assert r["optimizer"] == {"name": "nesterov", "lr": 0.05, "momentum": 0.9}
    assert r["arguments"]["lr_schedule"] == "stepped"
    assert r["cost_history"][-1] < r["cost_history"][0]
    r = run_json(tmp_path, "--dataset", "moons", "--n", "200", "--optimizer", "rmsprop",
                 "--lr", "0.01", "--epochs", "3", "--lr-schedule", "inverse_time",
                 "--decay-rate", "0.5")
    assert r["learning_rates"] == pytest.approx([0.01, 0.01 / 1.5, 0.01 / 2])
    assert r["optimizer"] == {"name": "rmsprop", "lr": 0.01, "decay_rate": 0.99, "eps": 1e-8}


def test_two_output_units_train_on_one_hot_targets(tmp_path):
    r = run_json(tmp_path, "--dataset", "moons", "--n", "400", "--layers", "2,10,5,2",
                 "--activations", "relu,relu,softmax", "--loss", "cross_entropy")
    assert r["test_accuracy"] >= 0.9


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "fig.png"
    assert main(["train", "--dataset", "moons", "--n", "200", "--epochs", "2", "--quiet",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_clear_usage_error(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    png = tmp_path / "fig.png"
    code = main(["train", "--dataset", "moons", "--n", "200", "--quiet", "--plot", str(png)])
    err = capsys.readouterr().err
    assert code == 2
    assert "argument --plot" in err and "matplotlib" in err and "gradref[plot]" in err
    assert "Traceback" not in err
    assert not png.exists()


def test_divergence_exits_1_with_a_message(capsys):
    code = main(["train", "--dataset", "moons", "--n", "100", "--layers", "2,8,1",
                 "--activations", "relu,linear", "--loss", "square", "--optimizer", "sgd",
                 "--lr", "1e20", "--batch-size", "100", "--quiet"])
    assert code == 1
    assert "diverged" in capsys.readouterr().err


BAD_ARGS = [
    # (id, arguments after "train", text the error must contain)
    ("no-dataset", [], "the following arguments are required: --dataset"),
    ("unknown-dataset", ["--dataset", "blobs"], "argument --dataset: invalid choice: 'blobs'"),
    ("layers-input-mismatch", ["--layers", "3,8,1"],
     "argument --layers: input size 3 in 3,8,1 does not match dataset 'moons'"),
    ("layers-output-3", ["--layers", "2,8,3"], "argument --layers: output size 3 in 2,8,3"),
    ("layers-not-ints", ["--layers", "2,eight,1"], "argument --layers: expected at least two"),
    ("layers-one-entry", ["--layers", "2"], "argument --layers: expected at least two"),
    ("layers-zero-width", ["--layers", "2,0,1"], "argument --layers: expected at least two"),
    ("activations-count", ["--activations", "relu,sigmoid"],
     "argument --activations: 2 activation(s) relu,sigmoid for --layers 2,10,5,1, which needs 3"),
    ("activations-count-with-layers", ["--layers", "2,4,1", "--activations", "relu,relu,sigmoid"],
     "argument --activations: 3 activation(s)"),
    ("activation-unknown", ["--activations", "relu,foo,sigmoid"],
     "argument --activations: unknown activation 'foo'; valid names: sigmoid"),
    ("activation-empty", ["--activations", "relu,,sigmoid"], "argument --activations: expected"),
    ("loss-unknown", ["--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
    ("loss-activation-mismatch", ["--loss", "cross_entropy"],
     "argument --loss: loss 'cross_entropy' cannot follow output activation 'sigmoid'"),
    ("optimizer-unknown", ["--optimizer", "adamw"],
     "argument --optimizer: invalid choice: 'adamw' (choose from 'sgd', 'momentum', "
     "'sgd_momentum', 'nesterov', 'rmsprop', 'adam')"),
    ("schedule-unknown", ["--lr-schedule", "cosine"],
     "argument --lr-schedule: invalid choice: 'cosine' (choose from 'constant', 'inverse_time', "
     "'stepped')"),
    ("decay-rate-negative", ["--decay-rate", "-1"], "argument --decay-rate: expected"),
    ("time-interval-zero", ["--time-interval", "0"],
     "argument --time-interval: expected a positive integer, got '0'"),
    ("init-unknown", ["--init", "orthogonal"], "argument --init: invalid choice: 'orthogonal'"),
    ("epochs-zero", ["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    ("epochs-float", ["--epochs", "2.5"], "argument --epochs: expected a positive integer, got '2.5'"),
    ("batch-size-negative", ["--batch-size", "-4"], "argument --batch-size: expected a positive"),
    ("lr-zero", ["--lr", "0"], "argument --lr: expected a finite number in (0, inf), got '0'"),
    ("lr-nan", ["--lr", "nan"], "argument --lr: expected a finite number in (0, inf), got 'nan'"),
    ("lr-text", ["--lr", "fast"], "argument --lr: expected a finite number in (0, inf), got 'fast'"),
    ("l2-negative", ["--l2", "-1"], "argument --l2: expected a finite number in [0, inf), got '-1'"),
    ("noise-negative", ["--noise", "-0.1"], "argument --noise: expected a finite number in [0, inf)"),
    ("noise-for-halfplanes", ["--dataset", "halfplanes", "--noise", "0.1"],
     "argument --noise: dataset 'halfplanes' takes no noise"),
    ("n-one", ["--n", "1"], "argument --n: expected at least 2 points, got 1"),
    ("n-zero", ["--n", "0"], "argument --n: expected a positive integer, got '0'"),
    ("test-fraction-one", ["--test-fraction", "1"], "argument --test-fraction: expected a finite"),
    ("test-fraction-too-small", ["--n", "10", "--test-fraction", "0.01"],
     "argument --test-fraction: test_fraction=0.01 of m=10 examples gives 0 test examples"),
    ("seed-negative", ["--seed", "-1"], "argument --seed: expected a non-negative integer"),
    # a missing folder is created (as by every --out); a file in the path cannot be
    ("json-under-a-file", ["--json", f"{__file__}/x.json"],
     "argument --json: cannot write a file at"),
    ("plot-is-directory", ["--plot", "."], "argument --plot: cannot write a file at '.'"),
    ("unknown-option", ["--momentum", "0.9"], "unrecognized arguments: --momentum 0.9"),
]


@pytest.mark.parametrize("argv, message", [c[1:] for c in BAD_ARGS], ids=[c[0] for c in BAD_ARGS])
def test_bad_arguments_exit_2_naming_option_and_value(argv, message, capsys):
    if "--dataset" not in argv and argv:
        argv = ["--dataset", "moons", *argv]
    code = main(["train", *argv, "--quiet"])
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err, err
    assert err.startswith("usage: gradref train")
    assert "Traceback" not in err and out == ""


def test_no_command_and_help():
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert main(["train", "--help"]) == 0


def test_a_command_registered_elsewhere_joins_the_parser(monkeypatch, capsys):
    monkeypatch.setattr(command_line, "COMMANDS", list(command_line.COMMANDS))

    def add_arguments(p):
        p.add_argument("--count", type=int, default=1)

    def run(args):
        if args.count < 0:
            raise UsageError("--count", f"expected >= 0, got {args.count}")
        print("hello " * args.count)
        return 0

    register_command(Command("hello", "say hello", add_arguments, run))
    assert main(["hello", "--count", "2"]) == 0
    assert "hello hello" in capsys.readouterr().out
    assert main(["hello", "--count", "-1"]) == 2
    assert "argument --count: expected >= 0, got -1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="'hello' is already registered"):
        register_command(Command("hello", "again", add_arguments, run))


def test_python_dash_m_gradref_runs(tmp_path):
    path = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "gradref", "train", "--dataset", "moons",
                           "--n", "100", "--epochs", "2", "--json", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "test   cost" in proc.stdout
    assert set(json.loads(path.read_text())) >= {"train_accuracy", "test_accuracy", "final_cost"}


def test_report_matches_the_split_and_result_it_came_from(tmp_path, monkeypatch):
    seen = {}

    def spy(name, fn):
        def wrapper(*a, **k):
            seen[name] = fn(*a, **k)
            return seen[name]
        monkeypatch.setattr(cli, name, wrapper)

    spy("train_test_split", cli.train_test_split)
    spy("train", cli.train)
    r = run_json(tmp_path, "--dataset", "moons", "--n", "300", "--epochs", "3")
    split, result = seen["train_test_split"], seen["train"]
    # Trained on the training part only, standardised with its statistics.
    assert result.standardizer.mean_.ravel().tolist() == split.X_train.mean(axis=1).tolist()
    assert r["test_accuracy"] == result.accuracy(split.X_test, split.Y_test)
    assert r["train_accuracy"] == result.accuracy(split.X_train, split.Y_train)
    assert r["test_cost"] == result.cost(split.X_test, split.Y_test)
    assert r["cost_history"] == result.costs.tolist()
