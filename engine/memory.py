"""Giving the C allocator's free memory back to the system between stages.

glibc keeps what a process frees inside its heaps and per-thread arenas for
later allocations. After a stage that allocated and freed much (the compare
stage: a million chunks' temporaries on several threads) that memory stays
resident, and the next stage's peak comes on top of it: at a million records
per side 0.5 to 1 GB. ``malloc_trim`` returns the free pages of every arena.
Elsewhere (another C library, no ``malloc_trim``) nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

__all__ = ["give_back"]


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name)
        return library.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def give_back() -> bool:
    """Return the allocator's free memory to the system; whether it could."""
    trim = _libc()
    if trim is None:
        return False
    trim(0)
    return True
