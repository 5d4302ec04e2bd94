"""The compare stage as a pure function of a chunk of candidate pairs.

``CompareTask`` is plain, picklable data (prepared columns, metric names and
options, weights): an executor can run ``compare_chunk`` in this process, in
threads, or on dask workers, and the results are the same bytes
(``engine.alignment.stream`` runs a whole rule's candidates).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment import kernel
from engine.alignment.batches import Batch, Block
from engine.alignment.metrics import METRICS
from engine.alignment.metrics import block as block_distances
from schemas.alignment import Attribute

__all__ = [
    "AttributeJob",
    "ChunkResult",
    "CompareTask",
    "compare_batch",
    "compare_chunk",
    "compare_task",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AttributeJob:
    """One attribute's comparison: metric by name, its options, weight, missing-value distance."""

    name: str
    metric: str
    options: Any
    weight: float
    fill: float


@dataclass(frozen=True)
class CompareTask:
    """Everything ``compare_chunk`` needs; the same for every chunk of a run."""

    attributes: tuple[AttributeJob, ...]
    align: dict[str, Any]
    target: dict[str, Any]
    limit: float
    dedup: bool
    #: Threads the compiled kernel may share a chunk between (0: one per core; a dask
    #: worker with one thread per process would say 1).
    threads: int = 0
    #: The compiled kernel's encoding of both sides, made by the first chunk that needs it.
    kernel: list[kernel.KernelPlan | None] = field(default_factory=list, compare=False, repr=False)


_PLAN_LOCK = threading.Lock()


def _kernel_plan(task: CompareTask, pairs: int) -> kernel.KernelPlan | None:
    """The task's kernel plan, made by the first chunk of ``kernel.MIN_PAIRS`` pairs or more.

    Importing numba and encoding both sides costs about half a second: small runs
    never pay it, and once paid every chunk, however small, uses the kernel.
    """
    if not task.kernel and pairs < kernel.MIN_PAIRS:
        return None
    with _PLAN_LOCK:
        if not task.kernel:
            task.kernel.append(kernel.kernel_plan(task.attributes, task.align, task.target))
        return task.kernel[0]


@dataclass(frozen=True)
class ChunkResult:
    """The pairs of a chunk at or under the threshold, with their distances."""

    compared: int
    ia: Ints
    ib: Ints
    total: Floats
    distances: dict[str, Floats]


def missing_fill(missing: float | str, bounded: bool) -> float:
    """The distance standing for a missing value under an attribute's ``missing`` policy."""
    if missing == "ignore":
        return 0.0
    if missing == "max":
        return 1.0 if bounded else math.inf
    return float(missing)


def compare_chunk(task: CompareTask, ia: Ints, ib: Ints) -> ChunkResult:
    """Weighted global distance of a chunk of pairs, pruning early.

    Attributes come heaviest first; every distance is >= 0, so a pair whose
    partial sum already exceeds the limit leaves before the next attribute is
    computed. In a deduplication only pairs with ``ia < ib`` are compared.
    Large chunks go through the compiled kernel (``engine.alignment.kernel``)
    for the leading attributes it covers: the same distances and sums.
    """
    if task.dedup:  # each unordered pair once, never a record with itself
        forward = ia < ib
        ia, ib = ia[forward], ib[forward]
    compared = len(ia)
    plan = _kernel_plan(task, compared) if compared else None
    if plan is None:
        return _pairs(task, ia, ib, task.attributes, np.zeros(compared), {}, compared)
    return _through_kernel(task, plan, ia, ib)[0]


#: Where ``_through_kernel`` keeps each pair's position among the distances (no
#: attribute has this name): ``_pairs`` then filters it with the rest.
_POSITION = "\0position"


def _through_kernel(
    task: CompareTask, plan: kernel.KernelPlan, ia: Ints, ib: Ints
) -> tuple[ChunkResult, Ints]:
    """The kernel on the attributes it covers, the metrics on the rest; and the kept positions."""
    limit = task.limit if plan.exact else kernel.margin(task.limit)
    matrix, total, keep = kernel.run(plan, ia, ib, limit, task.threads)
    kept = np.flatnonzero(keep)
    covered = task.attributes[: plan.count]
    distances = {job.name: matrix[row][kept] for row, job in enumerate(covered)}
    total = total[kept]
    if not plan.exact:  # the metrics' floats, summed again as _pairs sums them
        kernel.finish(plan, covered, distances)
        total = np.zeros(len(kept))
        for job in covered:
            if job.weight > 0:
                total += job.weight * np.where(np.isnan(d := distances[job.name]), job.fill, d)
        under = total <= task.limit
        kept, total = kept[under], total[under]
        distances = {name: d[under] for name, d in distances.items()}
    distances[_POSITION] = kept.astype(np.float64)
    rest = task.attributes[plan.count :]
    result = _pairs(task, ia[kept], ib[kept], rest, total, distances, len(ia))
    positions = result.distances.pop(_POSITION).astype(np.int64)
    return result, positions


def _pairs(
    task: CompareTask,
    ia: Ints,
    ib: Ints,
    jobs: tuple[AttributeJob, ...],
    total: Floats,
    distances: dict[str, Floats],
    compared: int,
) -> ChunkResult:
    """The remaining ``jobs`` on pairs, from a partial ``total``, pruning as it goes."""
    for job in jobs:
        if not len(ia):
            break
        metric = METRICS[job.metric].func()
        d = metric.compute(task.align[job.name], task.target[job.name], ia, ib, job.options)
        distances[job.name] = d
        if job.weight > 0:
            total += job.weight * np.where(np.isnan(d), job.fill, d)
            keep = total <= task.limit
            if not keep.all():
                ia, ib, total = ia[keep], ib[keep], total[keep]
                distances = {k: v[keep] for k, v in distances.items()}
    for job in task.attributes:  # attributes never reached (no pair left) are empty
        distances.setdefault(job.name, np.full(len(ia), np.nan))
    return ChunkResult(compared, ia, ib, total, distances)


#: A block switches to pairs once fewer than this share of its cells are still under
#: the limit: cdist is cheap per cell, but computing cells already out is waste.
_SPARSE = 0.05


#: Blocks of at most this many cells go through the compiled kernel as pairs when it
#: covers the task: a cdist call per attribute costs tens of µs, the kernel < 1 µs a pair.
KERNEL_BLOCK = 1024


def compare_batch(task: CompareTask, batch: Batch) -> ChunkResult:
    """Weighted global distance of a batch: loose pairs, then whole blocks in order.

    Whole blocks go through ``cdist``; small ones through the compiled kernel as
    pairs when it covers the task (their pairs come back in the blocks' order).
    """
    parts = [compare_chunk(task, batch.ia, batch.ib)] if len(batch.ia) else []
    sizes = [block.cells for block in batch.blocks]
    small = [k for k, size in enumerate(sizes) if size <= KERNEL_BLOCK]
    cells = len(batch.ia) + sum(sizes[k] for k in small)
    plan = _kernel_plan(task, cells) if small else None
    if plan is None:
        parts.extend(_block(task, block) for block in batch.blocks)
        return _concatenate(task, parts)
    # Each part's pairs are tagged with its place in the batch, so that the pairs of
    # the small blocks, compared together, are put back between the large ones.
    places = [np.zeros(len(parts[0].ia), np.int64)] if parts else []
    done, found = _small_blocks(task, plan, [batch.blocks[k] for k in small])
    parts.append(done)
    places.append(np.asarray(small, dtype=np.int64)[found] + 1)
    for k, block in enumerate(batch.blocks):
        if sizes[k] > KERNEL_BLOCK:
            parts.append(_block(task, block))
            places.append(np.full(len(parts[-1].ia), k + 1, dtype=np.int64))
    result = _concatenate(task, parts)
    if len(small) == len(batch.blocks):
        return result  # already in order
    order = np.argsort(np.concatenate(places), kind="stable")
    return ChunkResult(
        result.compared,
        result.ia[order],
        result.ib[order],
        result.total[order],
        {name: d[order] for name, d in result.distances.items()},
    )


def _small_blocks(
    task: CompareTask, plan: kernel.KernelPlan, blocks: Sequence[Block]
) -> tuple[ChunkResult, Ints]:
    """The blocks' cells as one chunk of pairs through the kernel; and each kept pair's block.

    The cells are laid out in numpy at once (row by row within each block, blocks
    in order): a few calls per block cost more than the kernel on its cells.
    """
    count = len(blocks)
    len_a = np.fromiter((len(b.rows_a) for b in blocks), np.int64, count)
    len_b = np.fromiter((len(b.rows_b) for b in blocks), np.int64, count)
    rows_a = np.concatenate([b.rows_a for b in blocks])
    rows_b = np.concatenate([b.rows_b for b in blocks])
    cells = len_a * len_b
    block_of = np.repeat(np.arange(count, dtype=np.int64), cells)
    local = np.arange(len(block_of), dtype=np.int64) - (np.cumsum(cells) - cells)[block_of]
    wide = len_b[block_of]
    ia = rows_a[(np.cumsum(len_a) - len_a)[block_of] + local // wide]
    ib = rows_b[(np.cumsum(len_b) - len_b)[block_of] + local % wide]
    alive: Any = None
    if any(b.keep is not None for b in blocks):
        alive = np.concatenate(
            [
                np.ones(c, bool) if b.keep is None else b.keep.ravel()
                for b, c in zip(blocks, cells, strict=True)
            ]
        )
    if task.dedup:
        alive = ia < ib if alive is None else alive & (ia < ib)
    if alive is not None:
        ia, ib, block_of = ia[alive], ib[alive], block_of[alive]
    result, positions = _through_kernel(task, plan, ia, ib)
    return result, block_of[positions]


def _concatenate(task: CompareTask, parts: list[ChunkResult]) -> ChunkResult:
    if not parts:
        empty = np.zeros(0, np.int64)
        return _pairs(task, empty, empty, task.attributes, np.zeros(0), {}, 0)
    if len(parts) == 1:
        return parts[0]
    return ChunkResult(
        sum(p.compared for p in parts),
        np.concatenate([p.ia for p in parts]),
        np.concatenate([p.ib for p in parts]),
        np.concatenate([p.total for p in parts]),
        {
            job.name: np.concatenate([p.distances[job.name] for p in parts])
            for job in task.attributes
        },
    )


def _block(task: CompareTask, block: Block) -> ChunkResult:
    rows_a, rows_b = block.rows_a, block.rows_b
    alive = (
        np.ones((len(rows_a), len(rows_b)), dtype=bool) if block.keep is None else block.keep.copy()
    )
    if task.dedup:
        alive &= rows_a[:, None] < rows_b[None, :]
    compared = int(alive.sum())
    total = np.zeros(alive.shape)
    matrices: dict[str, Floats] = {}
    for position, job in enumerate(task.attributes):
        if compared and alive.sum() < _SPARSE * alive.size:
            # Few cells left: finish them as pairs.
            i, j = np.nonzero(alive)
            return _pairs(
                task,
                rows_a[i],
                rows_b[j],
                task.attributes[position:],
                total[i, j],
                {name: m[i, j] for name, m in matrices.items()},
                compared,
            )
        metric = METRICS[job.metric].func()
        d = block_distances(
            metric, task.align[job.name], task.target[job.name], rows_a, rows_b, job.options
        )
        matrices[job.name] = d
        if job.weight > 0:
            total += job.weight * np.where(np.isnan(d), job.fill, d)
            alive &= total <= task.limit
    i, j = np.nonzero(alive)
    distances = {name: m[i, j] for name, m in matrices.items()}
    for job in task.attributes:
        distances.setdefault(job.name, np.full(len(i), np.nan))
    return ChunkResult(compared, rows_a[i], rows_b[j], total[i, j], distances)


def compare_task(
    attributes: Sequence[Attribute],
    align: dict[str, Any],
    target: dict[str, Any],
    limit: float,
    dedup: bool,
    *,
    compiled: bool = True,
) -> CompareTask:
    """The plain-data task every chunk runs with: pairs at or under ``limit`` are kept.

    Without ``compiled`` the metrics compute every chunk: for a single pass over
    pairs known in advance (the links' distances), where encoding both sides for
    the kernel costs more than it saves (5.6 s against 2.8 s at a million links).
    """
    jobs = []
    for attribute in sorted(attributes, key=lambda a: -a.weight):  # heaviest first
        metric = METRICS[attribute.metric.name].func()
        fill = missing_fill(attribute.missing, metric.bounded(attribute.metric.options))
        jobs.append(
            AttributeJob(
                attribute.name,
                attribute.metric.name,
                attribute.metric.options,
                attribute.weight,
                fill,
            )
        )
    task = CompareTask(
        attributes=tuple(jobs),
        align=align,
        target=target,
        limit=limit + 1e-9 * max(1.0, limit),
        dedup=dedup,
    )
    if not compiled:
        task.kernel.append(None)  # the plan slot taken: _kernel_plan gives None
    return task
