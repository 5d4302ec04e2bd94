"""A live web server for browser tests: `engine serve`'s settings, uvicorn in a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from engine.web.app import create_app
from engine.web.limits import READ_TIMEOUT_S
from engine.web.serve import server_config

#: Debian's Chromium (package chromium), which the browser tests drive.
CHROMIUM = Path("/usr/bin/chromium")


def require_chromium() -> None:
    """Fail (never skip) a browser test on a machine without Chromium, naming the package."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium", pytrace=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """The web interface over ``root`` on 127.0.0.1 (its base URL), stopped at the end.

    The settings of `engine serve` (read deadlines, connection limit), not uvicorn's.
    """
    port = _free_port()
    config = server_config(create_app(root), "127.0.0.1", port, READ_TIMEOUT_S)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)
