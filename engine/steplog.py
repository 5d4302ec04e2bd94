"""Log lines around each plan step: what it is about to do, then what it found and how long.

The executor calls :func:`run_step` for every step, so ``engine -v`` shows a
run's progress step by step whatever its kind. The kind says what a step is
about to do and what it found (engine.kinds.Kind.describe_before and
describe_after); a step it says nothing of is named by its docstring. The
lines are INFO; nothing is formatted when INFO is off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["run_step"]

log = logging.getLogger("engine.execute")

#: What a kind says of a step and the state: a line, or None.
Describe = Callable[[Any, Any], str | None]


def _doc(step: Any) -> str:
    """The first line of the step's docstring, without its full stop."""
    text = (type(step).__doc__ or type(step).__name__).strip().splitlines()[0]
    return text.rstrip(".")


def run_step(
    number: int,
    total: int,
    step: Any,
    state: Any,
    handler: Callable[[Any, Any], None],
    before: Describe | None = None,
    after: Describe | None = None,
) -> None:
    """Carry one step out with ``handler``, logging it (``before``, ``after``) around it."""
    if not log.isEnabledFor(logging.INFO):
        handler(step, state)
        return
    about = before(step, state) if before is not None else None
    log.info("step %d/%d: %s", number, total, about or _doc(step))
    log.debug("step %d/%d as planned: %r", number, total, step)
    started = time.perf_counter()
    handler(step, state)
    seconds = time.perf_counter() - started
    found = after(step, state) if after is not None else None
    log.info("step %d/%d done in %.2f s%s", number, total, seconds, f": {found}" if found else "")
