"""``python -m reference …``: the reference's command line (see :mod:`reference.cli`)."""

import sys

from .cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
