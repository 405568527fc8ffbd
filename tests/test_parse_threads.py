"""``grade-all --jobs N`` parses in several threads at once: the grader's own statement
splitting, NumPy reading every array the sandbox sends back (``.npy`` headers go through
``ast.literal_eval``), Hypothesis drawing cases. CPython 3.11's ``ast.parse`` is not
thread-safe when a garbage collection during it runs Python code (Hypothesis installs
``gc.callbacks``): the other thread's parse then fails the first with "SystemError: AST
constructor recursion depth mismatch", and a student got an error instead of a grade.
``serialised_parsing`` (used by ``grade_all``) makes every ``ast.parse`` take one lock."""

from __future__ import annotations

import ast
import gc
import io
import threading
import time

import numpy as np
import pytest
from gradref.checks.isolation.source import parse_python, serialised_parsing

SOURCE = "x = " + "(" * 40 + "1" + ")" * 40 + "\n" + (
    "def f(a, b):\n    return [i for i in range(a) if i % b]\n" * 150)


def _npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12.0).reshape(3, 4))
    return buffer.getvalue()


@pytest.fixture
def collections_that_switch_threads():
    """Frequent garbage collections, each running Python code that lets another thread in."""
    threshold = gc.get_threshold()

    def yield_the_interpreter(phase, info):
        time.sleep(0)

    gc.set_threshold(50)
    gc.callbacks.append(yield_the_interpreter)
    try:
        yield
    finally:
        gc.callbacks.remove(yield_the_interpreter)
        gc.set_threshold(*threshold)


def _race(rounds: int = 80) -> list[str]:
    """Two threads parsing side by side as grade-all's do (one reading arrays, one splitting
    sources), each giving the other a turn between rounds; the SystemErrors they met."""
    errors: list[str] = []
    data = _npy()

    def loop(step, times):
        try:
            for _ in range(rounds * times):
                step()
                time.sleep(0)
        except SystemError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=loop, args=(lambda: np.load(io.BytesIO(data)), 20)),
               threading.Thread(target=loop, args=(lambda: parse_python(SOURCE), 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_parses_in_two_threads_never_meet_a_recursion_depth_mismatch(
        collections_that_switch_threads):
    with serialised_parsing():
        assert _race() == []


def test_the_original_parse_is_back_after_the_last_user_leaves():
    original = ast.parse
    with serialised_parsing():
        locked = ast.parse
        assert locked is not original
        with serialised_parsing():
            assert ast.parse is locked          # nested: one patch
        assert ast.parse is locked              # still in use by the outer one
        assert ast.parse("1 + 1", mode="eval").body.op.__class__ is ast.Add
    assert ast.parse is original
