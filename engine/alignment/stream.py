"""The compare stage over a whole rule: candidates streamed, the pairs under a limit kept.

The rule's candidates go to an executor (engine.alignment.executors) in
batches; the pairs at or under the limit are pooled with their global
distance and their distance per attribute (computed once, here: the links and
the report take theirs from the pool), and pruned of the pairs the matching
can no longer choose when the pool grows large.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.alignment.batches import batches
from engine.alignment.blocking import BlockingRule
from engine.alignment.compare import ChunkResult, compare_task
from engine.alignment.executors import make_executor
from engine.alignment.match import prune
from engine.alignment.metrics import clear_tables
from engine.alignment.state import Pairs
from schemas.alignment import Attribute

__all__ = ["POOL_LIMIT", "PROGRESS_EVERY_S", "Compared", "compare_all"]

log = logging.getLogger(__name__)


#: Pairs under the threshold held before pruning those the matching cannot choose.
POOL_LIMIT = 4_000_000
#: Seconds between the compare step's progress lines in the log.
PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class Compared:
    """What :func:`compare_all` found: the kept pairs, how many it compared, and where."""

    pairs: Pairs
    compared: int
    executor: str


class _Pool:
    """The pairs kept so far, column by column (indexes, total, each attribute's distance)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.parts: list[dict[str, Any]] = []
        self.size = 0

    def add(self, result: ChunkResult) -> None:
        kept = {name: result.distances[name] for name in self.names}
        self.parts.append({"ia": result.ia, "ib": result.ib, "total": result.total, **kept})
        self.size += len(result.ia)

    def merged(self) -> Pairs:
        """Every kept pair; the chunks are released as their columns are copied."""
        columns: dict[str, Any] = {}
        for name in ("ia", "ib", "total", *self.names):
            # Popped one column at a time: memory peaks at the pool plus one column.
            pieces = [part.pop(name) for part in self.parts]
            if len(pieces) == 1:
                columns[name] = pieces[0]
            elif pieces:
                columns[name] = np.concatenate(pieces)
            else:
                columns[name] = np.zeros(0, np.int64 if name in ("ia", "ib") else np.float64)
            del pieces
        self.parts = []
        self.size = 0
        return Pairs(
            columns.pop("ia"),
            columns.pop("ib"),
            columns.pop("total"),
            {name: columns.pop(name) for name in self.names},
        )

    def prune(self, matching: str, dedup: bool) -> None:
        """Drop the pairs ``matching`` can no longer choose (see :func:`match.prune`)."""
        pairs = self.merged()
        kept = pairs.take(prune(pairs.ia, pairs.ib, pairs.total, matching, dedup=dedup))
        del pairs
        self.parts = [{"ia": kept.ia, "ib": kept.ib, "total": kept.total, **kept.distances}]
        self.size = len(kept)


def compare_all(
    rule: BlockingRule,
    attributes: Sequence[Attribute],
    align: dict[str, Any],
    target: dict[str, Any],
    limit: float,
    *,
    executor: Any,
    matching: str,
    dedup: bool,
    estimated: int = 0,
    progress: bool = False,
    distances: bool = True,
) -> Compared:
    """Every candidate pair of ``rule`` at or under ``limit``, with its distances.

    ``align`` and ``target`` are the prepared values per attribute; the
    distances per attribute come in the order of ``attributes``. Pairs the
    ``matching`` cannot choose may be dropped on the way (memory stays bounded).
    ``estimated`` (the rule's estimate) sizes the progress bar and the log lines.
    Without ``distances`` only the global distances are kept (a third of the memory).
    """
    task = compare_task(attributes, align, target, limit, dedup)
    pool = _Pool([a.name for a in attributes] if distances else [])
    compared = 0
    from tqdm import tqdm  # lazily: start-up time matters for small specs

    bar = tqdm(
        total=estimated,
        unit="pairs",
        unit_scale=True,
        desc="compare",
        disable=not progress,
        leave=False,
    )
    runner = make_executor(executor)
    try:
        bound = POOL_LIMIT
        said = time.monotonic()
        for result in runner.map(task, batches(rule, dedup=dedup)):
            bar.update(result.compared)
            compared += result.compared
            if time.monotonic() - said >= PROGRESS_EVERY_S:  # -v: a line now and then
                said = time.monotonic()
                log.info(
                    "compare: %s of about %s candidate pairs, %s kept",
                    f"{compared:,}",
                    f"{estimated:,}",
                    f"{pool.size:,}",
                )
            if len(result.ia):
                pool.add(result)
            if pool.size > bound and matching != "all":
                # Memory grows with the pairs under the threshold: drop those the
                # matching can no longer choose. The next pruning waits until the
                # pool has doubled, so the work stays linear in the pairs kept.
                pool.prune(matching, dedup)
                bound = max(POOL_LIMIT, 2 * pool.size)
    finally:
        runner.close()
        bar.close()
        clear_tables()
    return Compared(pool.merged(), compared, runner.description)
