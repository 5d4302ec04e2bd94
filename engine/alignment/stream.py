"""The compare stage over a whole rule: candidates streamed, the pairs under a limit kept.

The rule's candidates go to an executor (engine.alignment.executors) in
batches; the pairs at or under the limit are pooled with their global
distance and their distance per attribute (computed once, here: the links and
the report take theirs from the pool). For ``best`` matching the pool is pruned
of the pairs no record can choose any more when it grows large; ``one-to-one``
and ``all`` keep every pair (24 bytes a pair in a lean pool: 560 MB for the
23M pairs under the threshold of the 1M-record task).
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
from engine.memory import give_back
from schemas.alignment import Attribute

__all__ = ["POOL_LIMIT", "PROGRESS_EVERY_S", "Compared", "compare_all"]

log = logging.getLogger(__name__)


#: Pairs under the threshold held before pruning those ``best`` matching cannot choose.
POOL_LIMIT = 4_000_000
#: Seconds between the compare step's progress lines in the log.
PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class Compared:
    """What :func:`compare_all` found: the kept pairs, how many it compared, and where."""

    pairs: Pairs
    compared: int
    executor: str
    #: Pairs under the limit where they are not all in ``pairs`` (the distributed path
    #: chooses the links on its workers: ``pairs`` are those); None: ``len(pairs)``.
    under: int | None = None


#: Pairs per segment of the pool, at most: 32 MiB and more a column, which the C
#: allocator maps on its own and gives back whole (see :class:`_Pool`).
SEGMENT = 1 << 22


class _Pool:
    """The pairs kept so far, column by column (indexes, total, each attribute's distance).

    Each chunk's pairs are copied into segments that grow geometrically up to
    :data:`SEGMENT` pairs. Keeping the chunks' own arrays instead pinned the
    allocator's heap: at a million records, 23M pairs in 24 bytes each held
    1.3 GB, the temporaries freed between them included.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.columns = ("ia", "ib", "total", *self.names)
        self.full: list[dict[str, Any]] = []
        self.current: dict[str, Any] = {}
        self.filled = 0
        self.size = 0

    def add(self, result: ChunkResult) -> None:
        values = {"ia": result.ia, "ib": result.ib, "total": result.total}
        values.update((name, result.distances[name]) for name in self.names)
        self._put(values, len(result.ia))

    def _put(self, values: dict[str, Any], count: int) -> None:
        start = 0
        while start < count:
            room = len(self.current["ia"]) - self.filled if self.current else 0
            if not room:
                self._grow(count - start)
                room = len(self.current["ia"])
            take = min(room, count - start)
            for name in self.columns:
                self.current[name][self.filled : self.filled + take] = values[name][
                    start : start + take
                ]
            self.filled += take
            start += take
        self.size += count

    def _grow(self, wanted: int) -> None:
        if self.current:
            self.full.append(self.current)
        capacity = min(SEGMENT, max(wanted, 1 << 16, self.size))
        self.current = {
            name: np.empty(capacity, np.int64 if name in ("ia", "ib") else np.float64)
            for name in self.columns
        }
        self.filled = 0

    def merged(self) -> Pairs:
        """Every kept pair; the segments are released as their columns are copied."""
        segments = [*self.full, self.current] if self.current else self.full
        lengths = [len(part["ia"]) for part in self.full] + ([self.filled] if self.current else [])
        self.full, self.current, self.filled, self.size = [], {}, 0, 0
        columns: dict[str, Any] = {}
        for name in self.columns:
            # Popped one column at a time: memory peaks at the pool plus one column.
            whole = [part.pop(name) for part in segments]
            if len(whole) == 1 and len(whole[0]) == lengths[0]:
                columns[name] = whole[0]
            elif whole:  # a part-filled segment is copied, not kept whole
                columns[name] = np.concatenate(
                    [column[:length] for column, length in zip(whole, lengths, strict=True)]
                )
            else:
                columns[name] = np.zeros(0, np.int64 if name in ("ia", "ib") else np.float64)
            del whole
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
        self._put({"ia": kept.ia, "ib": kept.ib, "total": kept.total, **kept.distances}, len(kept))


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
            if pool.size > bound and matching == "best":
                # Memory grows with the pairs under the threshold: drop those the
                # matching can no longer choose (only ``best`` can drop any: see
                # match.prune). The next pruning waits until the pool has doubled,
                # so the work stays linear in the pairs kept.
                pool.prune(matching, dedup)
                bound = max(POOL_LIMIT, 2 * pool.size)
    finally:
        runner.close()
        bar.close()
        clear_tables()
    pairs = pool.merged()
    give_back()  # the chunks' temporaries, freed on many threads: before the match's peak
    return Compared(pairs, compared, runner.description)
