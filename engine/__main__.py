"""``python -m engine``: the ``engine`` command, for when its script is not on PATH."""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
