"""Every marker a command prints is explained where the user looks: in ``--help``."""

from gradref.checks.cli import main


def _help(capsys, command):
    assert main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_train_help_explains_default_recipe(capsys):
    text = _help(capsys, "train")
    assert "(default: recipe)" in text
    assert "(default: recipe) means: taken from the chosen dataset's training recipe" in text


def test_verify_help_says_what_the_plot_shows(capsys):
    text = _help(capsys, "verify")
    assert "error versus the finite-difference step" in text
    assert "the table's metric" in text
