"""The matching of the distributed path: ``match.select``'s links, the pairs left on the workers.

Every bucket's pairs under the limit stay where they were compared (its
:class:`~engine.alignment.distributed.compare.Found`); the driver holds
O(records), never all pairs (32 bytes a pair: 745 MB at 1M records per side):

- ``one-to-one``: the components come from a union-find fed bucket by bucket,
  a piece of at most :data:`CHUNK` pairs at a time. The pairs of components up
  to ``match.EXACT_COMPONENT`` records come to the driver and go through
  ``match.select`` together, as the local path's ``_assignment`` takes them
  all at once (the same set: the same links). The pairs of larger components
  are sorted on their workers by (total, align, target), the greedy order of
  ``match._greedy``, and merged on the driver range of totals by range: every
  pair of a range arrives at once, so sorting a range gives the global order,
  and a taken flag per record gives the greedy pass's links.
- ``best``: each bucket's closest pair per align record (total, then the
  smaller target), merged into one entry per align record.
- ``all``: every pair (the output is as large).

The pairs of all buckets are distinct (a union's later rules leave out the
pairs an earlier rule produced, on the workers), so a pair's place in the pool,
which ``select`` breaks exact ties on, never matters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.alignment import match
from engine.alignment.compiled import load
from engine.alignment.distributed.compare import Found
from engine.alignment.state import Pairs

__all__ = ["CHUNK", "ROWS", "WHERE", "Buckets", "Remote", "choose"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

#: Where a pair's distances are on the workers: its bucket's number times :data:`ROWS`
#: plus its row there (in ``Pairs.distances`` under a name no attribute can have, until
#: the links are chosen).
WHERE = "\x00where"
ROWS = float(1 << 32)
#: Pairs the driver takes in at a time, about (a range of equal totals comes whole).
CHUNK = 1 << 21
#: Every this many sorted pairs of a bucket, its total is a candidate cut between ranges.
_SAMPLE = 1 << 12


class Remote(Protocol):
    """The cluster as the matching uses it (``Session`` is one)."""

    def submit(self, func: Callable[..., Any], *args: Any) -> Any:
        """``func(*args)`` run on a worker: its future."""

    def wait(self, futures: list[Any]) -> list[Any]:
        """The futures' values, here."""

    def broadcast(self, value: Any) -> Any:
        """``value`` sent to every worker once: a future to pass to tasks."""


@dataclass(frozen=True)
class Buckets:
    """The buckets holding pairs: their results' futures, number (for :data:`WHERE`), sizes."""

    found: list[Any]
    sizes: list[int]


def choose(
    remote: Remote, buckets: Buckets, mode: str, threshold: float, records: tuple[int, int]
) -> Pairs:
    """The links ``match.select(..., mode, threshold)`` chooses among the buckets' pairs.

    ``records`` are the align and target records' counts (the indexes' bounds). The
    result carries :data:`WHERE` (each link's bucket and row) instead of distances.
    """
    if mode == "all" or not sum(buckets.sizes):
        return _every(remote, buckets)
    if mode == "best":
        return _best(remote, buckets, records[0])
    if mode == "one-to-one":
        return _one_to_one(remote, buckets, threshold, records)
    raise ValueError(f"unknown matching mode '{mode}' (valid: {', '.join(match.MODES)})")


def _pairs(parts: list[tuple[Ints, Ints, Floats, Floats]]) -> Pairs:
    """One Pairs of (ia, ib, total, where) pieces."""
    if not parts:
        empty = np.zeros(0, np.int64)
        return Pairs(empty, empty, np.zeros(0), {WHERE: np.zeros(0)})
    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    return Pairs(columns[0], columns[1], columns[2], {WHERE: columns[3]})


def _where(bucket: int, rows: Ints) -> Floats:
    # Bucket and row in one float (exact below 2**53).
    return rows.astype(np.float64) + bucket * ROWS


def _streamed(remote: Remote, calls: list[tuple[Any, ...]], ahead: int = 2) -> Iterator[Any]:
    """The calls' values in order, at most ``ahead`` of them submitted and not yet taken."""
    pending: list[Any] = []
    for call in calls:
        pending.append(remote.submit(*call))
        if len(pending) > ahead:
            yield remote.wait([pending.pop(0)])[0]
    while pending:
        yield remote.wait([pending.pop(0)])[0]


# --------------------------------------------------------------------------- all, best


def _every(remote: Remote, buckets: Buckets) -> Pairs:
    calls = [(_rows_of, f, None) for f in buckets.found]
    parts = [
        (ia, ib, total, _where(k, rows))
        for k, (ia, ib, total, rows) in enumerate(_streamed(remote, calls))
    ]
    return _pairs(parts)


def _best(remote: Remote, buckets: Buckets, n: int) -> Pairs:
    """Each align record's closest pair over every bucket: the smallest total, then target."""
    total = np.full(n, np.inf)
    target = np.full(n, np.iinfo(np.int64).max)
    where = np.full(n, np.nan)
    seen = np.zeros(n, dtype=bool)
    calls = [(_closest, f) for f in buckets.found]
    for k, (ia, ib, d, rows) in enumerate(_streamed(remote, calls)):
        # ``ia`` is unique within a bucket's answer: one assignment per record.
        better = ~seen[ia] | (d < total[ia]) | ((d == total[ia]) & (ib < target[ia]))
        ia, ib, d, rows = ia[better], ib[better], d[better], rows[better]
        total[ia], target[ia], where[ia], seen[ia] = d, ib, _where(k, rows), True
    ia = np.flatnonzero(seen).astype(np.int64)
    return Pairs(ia, target[ia], total[ia], {WHERE: where[ia]})


# --------------------------------------------------------------------------- one-to-one


def _loops() -> Any:
    return load("engine.alignment.distributed.loops")  # numba's cache: somewhere writable


def _one_to_one(
    remote: Remote, buckets: Buckets, threshold: float, records: tuple[int, int]
) -> Pairs:
    n, m = records
    loops = _loops()
    parent = np.arange(n + m, dtype=np.int64)
    size = np.ones(n + m, dtype=np.int64)
    calls = [
        (_edges, f, start, start + CHUNK)
        for f, count in zip(buckets.found, buckets.sizes, strict=True)
        for start in range(0, count, CHUNK)
    ]
    for ia, ib in _streamed(remote, calls):
        loops.union(parent, size, ia.astype(np.int64), ib.astype(np.int64), n)
    giant = loops.large(parent, size, n, match.EXACT_COMPONENT)
    del parent, size
    shared = remote.broadcast(giant)
    small = _pairs(
        [
            (ia, ib, total, _where(k, rows))
            for k, (ia, ib, total, rows) in enumerate(
                _streamed(remote, [(_rows_of, f, shared) for f in buckets.found])
            )
        ]
    )
    # The same set of pairs as the local path's ``_assignment`` takes: the same links.
    links = [small.take(match.select(small.ia, small.ib, small.total, "one-to-one", threshold))]
    del small
    if giant.any():
        links.append(_greedy(remote, buckets, shared, (n, m)))
    return _pairs([(p.ia, p.ib, p.total, p.distances[WHERE]) for p in links])


def _greedy(remote: Remote, buckets: Buckets, giant: Any, records: tuple[int, int]) -> Pairs:
    """``match._greedy`` over the pairs of large components, range of totals by range."""
    loops = _loops()
    ordered = [remote.submit(_ordered, f, k, giant) for k, f in enumerate(buckets.found)]
    samples = [s for s in remote.wait([remote.submit(_samples, o) for o in ordered]) if len(s)]
    merged = np.sort(np.concatenate(samples)) if samples else np.zeros(0)
    step = max(1, CHUNK // _SAMPLE)
    cuts = [*np.unique(merged[step - 1 :: step]).tolist(), np.inf]
    bounds = list(zip([-np.inf, *cuts[:-1]], cuts, strict=True))
    taken_a = np.zeros(records[0], dtype=bool)
    taken_b = np.zeros(records[1], dtype=bool)
    links: list[tuple[Ints, Ints, Floats, Floats]] = []

    def ranges() -> Iterator[list[Any]]:
        # The next range's pieces are asked for while this range is matched.
        pending: list[Any] = []
        for low, high in bounds:
            pending.append([remote.submit(_range, o, low, high) for o in ordered])
            if len(pending) > 1:
                yield remote.wait(pending.pop(0))
        while pending:
            yield remote.wait(pending.pop(0))

    for pieces in ranges():
        ia = np.concatenate([p[0] for p in pieces])
        ib = np.concatenate([p[1] for p in pieces])
        total = np.concatenate([p[2] for p in pieces])
        where = np.concatenate([p[3] for p in pieces])
        del pieces
        order = np.lexsort((ib, ia, total))
        ia, ib, total, where = ia[order], ib[order], total[order], where[order]
        linked = loops.greedy(ia, ib, taken_a, taken_b)
        links.append((ia[linked], ib[linked], total[linked], where[linked]))
    return _pairs(links)


# --------------------------------------------------------------------------- on the workers


def _edges(found: Found, start: int, stop: int) -> tuple[Any, Any]:
    """The records of a slice of a bucket's pairs (32-bit: half the bytes to send)."""
    return found.ia[start:stop].astype(np.int32), found.ib[start:stop].astype(np.int32)


def _rows_of(found: Found, giant: Bools | None) -> tuple[Ints, Ints, Floats, Ints]:
    """A bucket's pairs (those of components not ``giant`` when given) and their rows."""
    rows = np.arange(len(found.ia), dtype=np.int64)
    if giant is not None:
        rows = rows[~giant[found.ia]]
    return found.ia[rows], found.ib[rows], found.total[rows], rows


def _closest(found: Found) -> tuple[Ints, Ints, Floats, Ints]:
    """Each align record's closest pair in the bucket: the smallest total, then target."""
    order = np.lexsort((found.ib, found.total, found.ia))
    ia = found.ia[order]
    first = np.r_[True, ia[1:] != ia[:-1]] if len(ia) else np.zeros(0, dtype=bool)
    rows = order[first]
    return found.ia[rows], found.ib[rows], found.total[rows], rows


def _ordered(found: Found, bucket: int, giant: Bools) -> tuple[Ints, Ints, Floats, Floats]:
    """The bucket's pairs of large components in the greedy order, with where they are."""
    rows = np.flatnonzero(giant[found.ia])
    total = found.total[rows]
    ia, ib = found.ia[rows], found.ib[rows]
    order = np.lexsort((ib, ia, total))
    return ia[order], ib[order], total[order], _where(bucket, rows[order])


def _samples(ordered: tuple[Ints, Ints, Floats, Floats]) -> Floats:
    total = ordered[2]
    return total[_SAMPLE - 1 :: _SAMPLE]


def _range(
    ordered: tuple[Ints, Ints, Floats, Floats], low: float, high: float
) -> tuple[Ints, Ints, Floats, Floats]:
    """The sorted pairs with ``low < total <= high``."""
    ia, ib, total, where = ordered
    start = int(np.searchsorted(total, low, side="right"))
    stop = int(np.searchsorted(total, high, side="right"))
    return ia[start:stop], ib[start:stop], total[start:stop], where[start:stop]
