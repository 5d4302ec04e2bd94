"""engine.alignment.warm: `make demo` fills numba's cache, and a run then loads from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _warm(cache: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "engine.alignment.warm"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout + done.stderr


def test_the_second_process_loads_every_loop_from_the_cache(tmp_path: Path) -> None:
    first = _warm(tmp_path)
    assert "data saved" in first  # compiled, written to the cache
    assert {p.name.split("_")[0] for p in tmp_path.iterdir()} >= {"alignment", "kernel"}
    second = _warm(tmp_path)
    assert "data loaded" in second
    assert "data saved" not in second, second  # nothing compiled again
    assert "numba loops compiled or loaded from the cache in" in second
