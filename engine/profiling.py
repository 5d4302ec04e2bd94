"""Per-step wall time and peak memory, for benchmarks (``bench/profile.py``).

When the environment variable ``SPECENGINE_PROFILE`` names a file, the
executor appends one JSON line per step to it: the step's class name, its
wall seconds, the resident memory when it started and the peak resident
memory while it ran (KiB). The peak is the kernel's high-water mark
(``VmHWM`` in ``/proc/self/status``), reset before each step by writing
``5`` to ``/proc/self/clear_refs`` (Linux 4.0 and later), so it is the
step's own peak, threads included. Where that reset is refused the peak is
the process's peak so far (``ru_maxrss``) and the line says ``"reset": false``.
Nothing is measured when the variable is unset.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ENV", "StepProfile", "from_environment"]

#: The environment variable naming the file the lines are appended to.
ENV = "SPECENGINE_PROFILE"

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


class StepProfile:
    """Appends a JSON line per step to ``path`` (see the module's docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def run(self, step: Any, carry_out: Callable[[], None]) -> None:
        """Carry the step out with ``carry_out`` and record its time and peak memory."""
        reset = _reset_peak()
        start_rss = _status_kib("VmRSS")
        started = time.perf_counter()
        try:
            carry_out()
        finally:
            seconds = time.perf_counter() - started
            peak = _status_kib("VmHWM") if reset else None
            if peak is None:
                reset = False
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if start_rss is not None:
                # The kernel's RSS counters lag by a few pages per thread: the
                # high-water mark can read a little under the RSS read before it.
                peak = max(peak, start_rss)
            line = {
                "step": type(step).__name__,
                "seconds": round(seconds, 6),
                "start_rss_kib": start_rss,
                "peak_rss_kib": peak,
                "reset": reset,
            }
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")


def from_environment() -> StepProfile | None:
    """The profile ``SPECENGINE_PROFILE`` asks for, or None."""
    name = os.environ.get(ENV)
    return StepProfile(Path(name)) if name else None
