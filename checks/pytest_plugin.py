"""pytest plugin, registered through the ``pytest11`` entry point (``gradref``).

Installing gradref is all a project needs; its tests can then ask for

``gradref_check``
    :func:`gradref.checks.testing.assert_gradients_match`;
``gradref_strategies``
    the Hypothesis strategies module :mod:`gradref.checks.strategies`;
``gradref_reference``
    the reference :class:`gradref.reference.Network` class.

The plugin is loaded in every pytest run: it imports nothing beyond pytest at load time, and
each fixture imports its module only when a test asks for it.
"""

from __future__ import annotations

import pytest

__all__ = ["gradref_check", "gradref_strategies", "gradref_reference"]


@pytest.fixture
def gradref_check():
    """:func:`gradref.checks.testing.assert_gradients_match`."""
    from gradref.checks.testing import assert_gradients_match

    return assert_gradients_match


@pytest.fixture
def gradref_strategies():
    """The module :mod:`gradref.checks.strategies` (Hypothesis strategies of networks and inputs)."""
    from gradref.checks import strategies

    return strategies


@pytest.fixture
def gradref_reference():
    """The class :class:`gradref.reference.Network`."""
    from gradref.reference import Network

    return Network
