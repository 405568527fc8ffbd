"""``python -m gradref``: the same command as the ``gradref`` console script."""

import sys

from gradref.checks.cli import main

if __name__ == "__main__":
    sys.exit(main())
