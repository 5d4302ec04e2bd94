"""The compare stage as a pure function of a chunk of candidate pairs.

``CompareTask`` is plain, picklable data (prepared columns, metric names and
options, weights): an executor can run ``compare_chunk`` in this process, in
threads, or on dask workers, and the results are the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.metrics import METRICS

__all__ = ["AttributeJob", "ChunkResult", "CompareTask", "compare_chunk"]

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
    """
    if task.dedup:  # each unordered pair once, never a record with itself
        forward = ia < ib
        ia, ib = ia[forward], ib[forward]
    compared = len(ia)
    total = np.zeros(len(ia))
    distances: dict[str, Floats] = {}
    for job in task.attributes:
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
