"""Modules of numba loops, imported once into a writable on-disk cache.

numba compiles a loop on first use and caches the machine code on disk: next
to its module when that folder is writable, else under ``$NUMBA_CACHE_DIR`` or
``~/.cache/specengine/numba`` (a package installed read-only). numba reads
that place when it is imported, so it is chosen before; and numba is imported
only by a run that needs a loop (it costs about 0.3 s of start-up).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

__all__ = ["load"]

_LOCK = threading.Lock()
_LOADED: dict[str, ModuleType] = {}


def _cache_dir(module: str) -> None:
    """Point numba's cache somewhere writable before numba is imported."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    spec = importlib.util.find_spec(module)
    here = Path(spec.origin).resolve().parent if spec and spec.origin else Path.cwd()
    pycache = here / "__pycache__"
    if os.access(pycache if pycache.exists() else here, os.W_OK):
        return  # numba's own place: __pycache__ beside the module
    folder = Path.home() / ".cache" / "specengine" / "numba"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)


def load(module: str) -> ModuleType:
    """The module ``module`` (dotted name) of compiled loops, imported once."""
    with _LOCK:
        if module not in _LOADED:
            first = "numba" not in sys.modules
            _cache_dir(module)
            _LOADED[module] = importlib.import_module(module)
            if first:
                # numba brings ~150k Python objects that every full garbage collection
                # would walk again (the match and write stages ran 50% slower): freezing
                # moves what exists now out of the collector's sight.
                gc.freeze()
        return _LOADED[module]
