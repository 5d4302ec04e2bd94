"""Tools the tests need from Debian: a missing one is a test error naming its package.

Never a skip: ``make test`` installs every package (tests/system-packages.sh),
so a missing tool means the set-up is broken, and a green run must not hide it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["imports_pandas", "require_root", "require_tools"]

#: The project's root: a script run in a fresh interpreter imports the engine from it.
ROOT = Path(__file__).resolve().parents[1]


def imports_pandas(script: str, cwd: Path | None = None) -> bool:
    """Whether ``script``, run in a fresh interpreter, leaves pandas imported.

    pyarrow imports pandas (0.4 s) the first time it converts a Python object or a
    NumPy array: the engine's fast paths build Arrow arrays from buffers instead.
    """
    done = subprocess.run(
        [sys.executable, "-c", script + "\nimport sys\nprint('pandas' in sys.modules)\n"],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1] == "True"


def require_tools(package: str, *tools: str) -> None:
    """Fail the test (not skip) when one of ``tools`` is not on PATH: ``apt-get install package``."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: apt-get install {package}"
            " (or run tests/system-packages.sh)",
            pytrace=False,
        )


def require_root(why: str) -> None:
    """Fail the test when it does not run as root (network namespaces need it)."""
    if os.geteuid() != 0:
        pytest.fail(f"needs root: {why}; run the tests as root (as CI does)", pytrace=False)
