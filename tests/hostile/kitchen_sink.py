"""A hostile submission used by tests/test_isolation.py: it lies, cheats and sabotages.

Loaded by path.  Nothing in here may affect the grader: comparisons happen in the parent,
the child runs in its own process (and, as root, as its own uid).
"""

import builtins
import json
import sys

import numpy as np

# Sabotage the child's own tools: the harness bound what it needs before loading us.
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
json.dumps = None
np.save = None
print("ALL TESTS PASSED")  # a lie printed at load time
sys.stdout.write('{"status": "ok", "value": 42}\n')  # fake protocol text on stdout


def sigmoid(z):
    """Correct, despite the sabotage above."""
    return 1.0 / (1.0 + np.exp(-z))


def claims_equal(a, b):
    """Uses the monkeypatched np.allclose: always says True in the child."""
    print("PASSED")
    return bool(np.allclose(a, b))


def mutate(x):
    """Tries to change the caller's array in place."""
    x[...] = -1
    return x


def leak_builtins():
    builtins.len = lambda obj: 0  # breaks len() for the rest of this child
    return 1


if __name__ == "__main__":
    raise SystemExit("a main guard must not run when the grader loads the file")
