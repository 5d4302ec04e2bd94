"""Work for the compare stage: blocks (cross products) and loose pairs, in batches.

rapidfuzz's ``cdist`` compares a block of values against another with SIMD,
10 to 40 times faster per pair than comparing a list of pairs one by one
(``cpdist``), which pays a conversion per pair. Key blocking yields exactly
such cross products, so its larger blocks are kept whole; tiny blocks, and
rules whose candidates are not cross products, travel as pair lists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.alignment.blocking import (
    DEFAULT_CHUNK,
    BlockingRule,
    KeyRule,
    NoBlocking,
    Union,
    expand,
)

__all__ = ["SMALL_BLOCK", "Batch", "batches"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: Blocks with fewer cells than this travel as pairs: a cdist call costs a few µs.
SMALL_BLOCK = 64
#: The largest block compared at once (cells); larger blocks are cut into row tiles.
TILE = 1 << 20


@dataclass(frozen=True)
class Block:
    """The cross product ``rows_a x rows_b``; ``keep`` (rows_a x rows_b) masks out cells."""

    rows_a: Ints
    rows_b: Ints
    keep: Bools | None = None

    @property
    def cells(self) -> int:
        """Pairs in the block before masking."""
        return len(self.rows_a) * len(self.rows_b)


@dataclass(frozen=True)
class Batch:
    """One unit of compare work: whole blocks and loose pairs ``(ia[k], ib[k])``."""

    blocks: tuple[Block, ...] = ()
    ia: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    ib: Ints = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def size(self) -> int:
        """Candidate pairs in the batch (cells of blocks, masked ones excluded, plus pairs)."""
        cells = sum(b.cells if b.keep is None else int(b.keep.sum()) for b in self.blocks)
        return cells + len(self.ia)


def batches(
    rule: BlockingRule, chunk: int = DEFAULT_CHUNK, *, dedup: bool = False
) -> Iterator[Batch]:
    """The rule's candidate pairs as batches of about ``chunk`` pairs, each pair once.

    In a deduplication (both sides are the same records) loose pairs come as
    ``(i, j)`` with ``i < j``: a pair a rule found only as ``(j, i)`` is turned
    round, and one it found both ways is kept once. Blocks are cross products the
    compare stage cuts to ``i < j`` itself.
    """
    if isinstance(rule, Union):
        yield from _union(rule, chunk, dedup)
    elif isinstance(rule, KeyRule):
        yield from _key(rule, chunk)
    elif isinstance(rule, NoBlocking):
        yield from _everything(rule, chunk)
    else:
        for ia, ib in rule.pairs(chunk):
            if dedup:
                ia, ib = _canonical(rule, ia, ib)
            yield Batch((), ia, ib)


def _canonical(rule: BlockingRule, ia: Ints, ib: Ints) -> tuple[Ints, Ints]:
    """Pairs as (smaller, larger) index, each once, no record with itself."""
    forward, backward = ia < ib, ia > ib
    if backward.any():
        # (j, i) with j < i: keep it turned round unless the rule also yields (i, j).
        mirrored = rule.contains(ib[backward], ia[backward])
        turned = np.flatnonzero(backward)[~mirrored]
        return (
            np.concatenate([ia[forward], ib[turned]]),
            np.concatenate([ib[forward], ia[turned]]),
        )
    return ia[forward], ib[forward]


def _tiles(rows_a: Ints, rows_b: Ints) -> Iterator[Block]:
    step = max(1, TILE // max(1, len(rows_b)))
    for start in range(0, len(rows_a), step):
        yield Block(rows_a[start : start + step], rows_b)


def _everything(rule: NoBlocking, chunk: int) -> Iterator[Batch]:
    rows_b = np.arange(rule.n_target, dtype=np.int64)
    rows_a = np.arange(rule.n_align, dtype=np.int64)
    if not len(rows_b):
        return
    step = max(1, min(chunk, TILE) // len(rows_b))
    for start in range(0, len(rows_a), step):
        yield Batch((Block(rows_a[start : start + step], rows_b),))


def _key(rule: KeyRule, chunk: int) -> Iterator[Batch]:
    n = len(rule.count_b)
    if not n:
        return
    valid_a = rule.ca >= 0
    order_a = np.flatnonzero(valid_a).astype(np.int64)
    order_a = order_a[np.argsort(rule.ca[order_a], kind="stable")]
    count_a = np.bincount(rule.ca[valid_a], minlength=n).astype(np.int64)
    first_a = np.zeros(n, dtype=np.int64)
    np.cumsum(count_a[:-1], out=first_a[1:])
    cells = count_a * rule.count_b
    small = (cells > 0) & (cells < SMALL_BLOCK)

    # Small blocks: all their pairs at once, vectorised, then cut into chunks.
    rows = order_a[small[rule.ca[order_a]]]
    reps = rule.count_b[rule.ca[rows]]
    ia, ib = (
        expand(rows, reps, rule.first_b[rule.ca[rows]], rule.order_b)
        if len(rows)
        else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    )
    for start in range(0, len(ia), chunk):
        yield Batch((), ia[start : start + chunk], ib[start : start + chunk])

    # Larger blocks whole (cut into tiles past TILE cells), gathered into batches.
    # Plain ints for the bounds: numpy scalars cost more per slice than the slice.
    big = np.flatnonzero(cells >= SMALL_BLOCK)
    bounds = zip(
        first_a[big].tolist(),
        count_a[big].tolist(),
        rule.first_b[big].tolist(),
        rule.count_b[big].tolist(),
        strict=True,
    )
    order_b = rule.order_b
    pending: list[Block] = []
    size = 0
    for start_a, n_a, start_b, n_b in bounds:
        rows_b = order_b[start_b : start_b + n_b]
        step = max(1, TILE // n_b)
        for start in range(start_a, start_a + n_a, step):
            block = Block(order_a[start : min(start + step, start_a + n_a)], rows_b)
            pending.append(block)
            size += block.cells
            if size >= chunk:
                yield Batch(tuple(pending))
                pending, size = [], 0
    if pending:
        yield Batch(tuple(pending))


def _union(rule: Union, chunk: int, dedup: bool) -> Iterator[Batch]:
    """Each rule's batches without the pairs an earlier rule produced."""
    for position, member in enumerate(rule.rules):
        earlier = rule.rules[:position]
        for batch in batches(member, chunk, dedup=dedup):
            if not earlier:
                yield batch
                continue
            blocks = _fresh_blocks(earlier, batch.blocks, dedup)
            fresh = ~_seen(earlier, batch.ia, batch.ib, dedup)
            out = Batch(tuple(blocks), batch.ia[fresh], batch.ib[fresh])
            if out.blocks or len(out.ia):
                yield out


def _fresh_blocks(
    earlier: list[BlockingRule], blocks: tuple[Block, ...], dedup: bool
) -> list[Block]:
    """The blocks without the cells earlier rules produced (masked, or left out when empty).

    Every cell of the batch's blocks is asked at once: a few numpy calls per
    batch rather than per block.
    """
    if not blocks:
        return []
    len_a = np.array([len(b.rows_a) for b in blocks], dtype=np.int64)
    len_b = np.array([len(b.rows_b) for b in blocks], dtype=np.int64)
    cells = len_a * len_b
    start = np.zeros(len(blocks), dtype=np.int64)
    np.cumsum(cells[:-1], out=start[1:])
    first_b = np.zeros(len(blocks), dtype=np.int64)
    np.cumsum(len_b[:-1], out=first_b[1:])
    # Row by row, each block's cells in the order of a ravelled rows_a x rows_b matrix.
    ia, ib = expand(
        np.concatenate([b.rows_a for b in blocks]),
        np.repeat(len_b, len_a),
        np.repeat(first_b, len_a),
        np.concatenate([b.rows_b for b in blocks]),
    )
    keep = ~_seen(earlier, ia, ib, dedup)
    for k, block in enumerate(blocks):
        if block.keep is not None:
            keep[start[k] : start[k] + cells[k]] &= block.keep.ravel()
    total = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(keep, out=total[1:])
    kept = (total[start + cells] - total[start]).tolist()
    out: list[Block] = []
    for k, block in enumerate(blocks):  # a Block each: what the compare stage takes
        if kept[k] == cells[k]:
            out.append(block)
        elif kept[k]:
            mask = keep[start[k] : start[k] + cells[k]].reshape(len_a[k], len_b[k])
            out.append(Block(block.rows_a, block.rows_b, mask.copy()))
    return out


def _seen(rules: list[BlockingRule], ia: Ints, ib: Ints, dedup: bool) -> Bools:
    seen = np.zeros(len(ia), dtype=bool)
    for rule in rules:
        seen |= rule.contains(ia, ib)
        if dedup:  # an earlier rule may have yielded the pair the other way round
            seen |= rule.contains(ib, ia)
    return seen
