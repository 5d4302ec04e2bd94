"""engine/image/build.py: building into the cache entry, one build of a recipe at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from engine.image.build import entry_lock


def test_one_build_of_a_recipe_at_a_time(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Two runs of one recipe (two test workers, two terminals) must not build
    # into the same .partial folder at once: the second waits for the first.
    cache = tmp_path / "cache" / "0123456789abcdef"
    events: list[str] = []
    first_in = threading.Event()

    def second() -> None:
        first_in.wait()
        with entry_lock(cache):
            events.append("second in")

    thread = threading.Thread(target=second)
    thread.start()
    with entry_lock(cache):
        first_in.set()
        time.sleep(0.3)
        events.append("first out")
    thread.join(10)
    assert events == ["first out", "second in"]
    assert "another run is building in this cache" in caplog.text
    assert list(cache.parent.iterdir()) == []  # no lock file left behind
