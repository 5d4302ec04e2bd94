"""The lab: a storage host under QEMU to try volume pools on, and its test tooling.

Tooling, not part of the runtime engine: ``engine lab`` and the tests boot the lab image
(:mod:`engine.lab.host`, the command line in :mod:`engine.lab.cli`), and the tests reach
its iSCSI portal from a network namespace (:mod:`engine.lab.netns_relay`).
"""

from __future__ import annotations

from engine.lab.cli import add_arguments, command
from engine.lab.host import (
    DEFAULT_DIR,
    POOL_DEVICE,
    Lab,
    build_image,
    env_text,
    start,
    status,
    stop,
)

__all__ = [
    "DEFAULT_DIR",
    "POOL_DEVICE",
    "Lab",
    "add_arguments",
    "build_image",
    "command",
    "env_text",
    "start",
    "status",
    "stop",
]
