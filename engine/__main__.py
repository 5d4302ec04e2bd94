"""``python -m engine``: the ``engine`` command, for when its script is not on PATH."""

import sys

# Before the rest of the engine: an interrupt during its imports ends quietly.
import engine.interrupts  # noqa: F401
from engine.cli import main

if __name__ == "__main__":
    code = main()
    # CPython (3.11, 3.12) remembers a KeyboardInterrupt that ended a string exec()
    # (dataclasses and others make functions that way) even when main() caught it,
    # and under -m then ends the process by SIGINT instead of with our exit code.
    # Each string exec() forgets the previous one: so one more, which ends well.
    exec("None")
    sys.exit(code)
