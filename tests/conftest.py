"""Shared pytest configuration: Hypothesis profiles and common fixtures.

Profiles: ``dev`` (fast, the default on a workstation) and ``ci`` (thorough, chosen when the
environment variable ``CI`` is set, as on CI, or explicitly with ``HYPOTHESIS_PROFILE=ci``).
Both are derandomised, so a run is reproducible, and keep no example database on disk.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, derandomize=True, database=None, print_blob=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, **_COMMON)
settings.register_profile("ci", max_examples=60, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def rng():
    """A fresh, fixed-seed Generator for each test."""
    return np.random.default_rng(20261122)


@pytest.fixture
def validate_cli(capsys):
    """``run(argv) -> (exit code, stdout + stderr)`` of ``gradref validate ARGV``."""
    from gradref.checks.cli import main

    def run(argv):
        try:
            code = main(["validate", *argv])
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run
