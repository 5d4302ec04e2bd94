"""Matching: which of the pairs under the threshold become links.

``all`` keeps every pair; ``best`` keeps, for each align record, its closest
target (Nazca's ``uniq``); ``one-to-one`` solves a linear assignment so that
no record on either side is linked twice and the summed margin under the
threshold is the largest.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.compiled import load

__all__ = ["MODES", "prune", "select"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

MODES = ("all", "best", "one-to-one")


def _top(keys: Ints, other: Ints, d: Floats, k: int) -> npt.NDArray[np.bool_]:
    """Which pairs are among the ``k`` smallest distances of their value of ``keys``.

    Ties: the smaller ``other``, then the earlier pair (``np.lexsort((other, d, keys))``'s
    order). Taken in ``k`` rounds of each key's first pair, without a sort.
    """
    chosen = np.zeros(len(keys), dtype=bool)
    if np.isnan(d).any():  # NaN: lexsort's order (last), which min would not keep
        order = np.lexsort((other, d, keys))
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        chosen[order[rank < k]] = True
        return chosen
    _, group = _compact(keys)
    size = int(group.max()) + 1
    alive = np.arange(len(keys), dtype=np.int64)
    for _ in range(k):
        first = _first(group[alive], size, alive, d, other)
        chosen[alive[first]] = True
        alive = alive[~first]
        if not len(alive):
            break
    return chosen


def prune(ia: Ints, ib: Ints, d: Floats, mode: str, *, dedup: bool = False) -> Ints:
    """Indexes of the pairs a matching mode can still choose; the rest can be dropped.

    Lets the compare stage keep memory bounded while it streams: ``best`` needs
    only each align record's closest pair (each record's, either side, in a
    deduplication), and that holds whatever pairs come later. ``all`` and
    ``one-to-one`` keep everything: which pair a one-to-one assignment takes
    depends on every pair of its component, so no pair can be dropped early
    without changing links (keeping each record's five closest lost 14 true
    links of a million).
    """
    if mode != "best" or not len(ia):
        return np.arange(len(ia), dtype=np.int64)
    keep = _top(ia, ib, d, 1) if not dedup else _top(ia, ib, d, 1) | _top(ib, ia, d, 1)
    return np.flatnonzero(keep).astype(np.int64)


def select(
    ia: Ints, ib: Ints, d: Floats, mode: str, threshold: float, *, dedup: bool = False
) -> Ints:
    """Indexes of the pairs to keep; pairs must already be at or under ``threshold``.

    Ties are broken deterministically: ``best`` prefers the smaller target index;
    ``one-to-one`` returns the same optimal assignment for the same input. In a deduplication (``dedup``: both indexes point into the
    same records, each pair once), ``best`` keeps a pair when it is the best
    match of either of its records.
    """
    if mode == "all" or len(ia) == 0:
        return np.arange(len(ia), dtype=np.int64)
    if mode == "best" and dedup:
        # Each record's closest pair, whichever side of it the record is on.
        both = _top(np.concatenate([ia, ib]), np.concatenate([ib, ia]), np.concatenate([d, d]), 1)
        return np.flatnonzero(both[: len(ia)] | both[len(ia) :]).astype(np.int64)
    if mode == "best":
        return _best(ia, ib, d)
    if mode == "one-to-one":
        return _one_to_one(ia, ib, d, threshold)
    raise ValueError(f"unknown matching mode '{mode}' (valid: {', '.join(MODES)})")


def _best(ia: Ints, ib: Ints, d: Floats) -> Ints:
    """Each align record's closest pair (ties: the smaller target index, then the earlier)."""
    return np.flatnonzero(_top(ia, ib, d, 1)).astype(np.int64)


#: Connected components of the candidate graph with more records than this are
#: matched greedily (closest pairs first): an exact assignment on them can take hours.
EXACT_COMPONENT = 20_000


def _one_to_one(ia: Ints, ib: Ints, d: Floats, threshold: float) -> Ints:
    """One-to-one links: exact per connected component, greedy on giant components.

    Components are independent assignment problems. All those up to
    ``EXACT_COMPONENT`` records are solved together, exactly; a larger one (a
    blocking key shared by many records can make one) is resolved greedily.
    """
    giant = _in_giant(ia, ib)
    small = np.flatnonzero(~giant)
    keep = [small[_assignment(ia[small], ib[small], d[small], threshold)]]
    del small
    if giant.any():  # in place: no copies of the (maybe 20M) pairs of giant components
        keep.append(_greedy(ia, ib, d, giant))
    return np.sort(np.concatenate(keep)).astype(np.int64)


#: From this many pairs the components come from the compiled union-find: scipy's
#: builds a sparse graph first (7 s at 23M pairs), but spares smaller runs numba's import.
_COMPILED_FROM = 1_000_000


def _in_giant(ia: Ints, ib: Ints) -> npt.NDArray[np.bool_]:
    """Whether each pair lies in a connected component of over ``EXACT_COMPONENT`` records."""
    if len(ia) >= _COMPILED_FROM:
        a, n = _dense(ia)
        b, m = _dense(ib)
        large: npt.NDArray[np.bool_] = load("engine.alignment.match_loops").in_large(
            a, b, n, m, EXACT_COMPONENT
        )
        return large
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    ua, a = _compact(ia)
    ub, b = _compact(ib)
    n, m = len(ua), len(ub)
    graph = sparse.coo_matrix((np.ones(len(a)), (a, n + b)), shape=(n + m, n + m)).tocsr()
    _, labels = connected_components(graph, directed=False)
    giant: npt.NDArray[np.bool_] = np.bincount(labels)[labels[a]] > EXACT_COMPONENT
    return giant


def _dense(values: Ints) -> tuple[Ints, int]:
    """Record indexes as they are when they are few enough to number arrays (the usual
    case: a gather costs a cache miss a pair at 20M pairs), else compacted."""
    if len(values) and values.min() >= 0 and values.max() <= 4 * len(values) + 1_000_000:
        return values, int(values.max()) + 1
    unique, compact = _compact(values)
    return compact, len(unique)


def _greedy(ia: Ints, ib: Ints, d: Floats, use: npt.NDArray[np.bool_] | None = None) -> Ints:
    """Closest pairs first, skipping any whose record is already linked.

    The order is the distance, then the align index, the target index and the
    pair's position (``np.lexsort((ib, ia, d))``). Only the pairs ``use`` take
    part (all by default); the positions returned are in ``ia``. Mid-sized
    inputs go through numpy rounds (:func:`_rounds`), large ones through the
    compiled pass (:func:`engine.alignment.match_loops.greedy`:
    linear in the pairs, no global sort); each record ranks its own pairs in
    that order restricted to it (a stable sort keeps positions), so it links
    what the loop here links, repeated pairs included; the tests check it on
    random inputs.
    """
    if use is None:
        use = np.ones(len(ia), dtype=bool)
    count = np.count_nonzero(use)
    # NaN (rare: d.min() is NaN then, without a copy): lexsort's order, not min's.
    if count <= _SEQUENTIAL or math.isnan(d.min()):
        where = np.flatnonzero(use)
        return np.sort(where[_sequential(ia[where], ib[where], d[where])])
    if count < _COMPILED_GREEDY_FROM:  # numba's import (0.2 s, 70 MB) would not pay
        where = np.flatnonzero(use)
        return where[_rounds(ia[where], ib[where], d[where])]
    a, n = _dense(ia)
    b, m = _dense(ib)
    loops = load("engine.alignment.match_loops")
    # Each side's rows on a thread of its own (the loops release the GIL).
    with ThreadPoolExecutor(2) as pool:
        rows_b = pool.submit(loops.rows, b, m, d, a, use)
        rows_a = loops.rows(a, n, d, b, use)
        chosen: Ints = loops.link(len(ia), *rows_a, *rows_b.result())
    return chosen


#: From this many pairs the greedy pass is compiled; below, numpy's rounds.
_COMPILED_GREEDY_FROM = 1_000_000


def _rounds(ia: Ints, ib: Ints, d: Floats) -> Ints:
    """The greedy pass in rounds of "locally dominant" pairs, without a loop per pair.

    A pair that comes first among all the pairs of both its records is linked by
    the sequential pass too (nothing before it can take its records), and the
    pairs of its records are then skipped by it; so the sequential pass on what
    is left gives the rest. A round costs a few vectorised passes; when rounds
    stop paying (a long chain of ever-closer pairs links two per round) the few
    pairs left go through the sequential pass. ``d`` holds no NaN.
    """
    _, a = _compact(ia)
    _, b = _compact(ib)
    alive = np.arange(len(ia), dtype=np.int64)
    free_a = np.ones(int(a.max()) + 1, dtype=bool)
    free_b = np.ones(int(b.max()) + 1, dtype=bool)
    keep: list[Ints] = []
    while len(alive) > _SEQUENTIAL:
        aa, bb = a[alive], b[alive]
        first = _first(aa, len(free_a), alive, d, ib) & _first(bb, len(free_b), alive, d, ia)
        chosen = alive[first]
        keep.append(chosen)
        free_a[a[chosen]] = False
        free_b[b[chosen]] = False
        before = len(alive)
        alive = alive[free_a[aa] & free_b[bb]]
        if len(alive) > before - before // 8:  # under 1/8 gone: let the loop finish it
            break
    if len(alive):
        keep.append(alive[_sequential(ia[alive], ib[alive], d[alive])])
    return np.sort(np.concatenate(keep)).astype(np.int64)


#: Up to this many pairs the greedy pass is a plain loop: rounds would not pay.
_SEQUENTIAL = 2_000


def _first(group: Ints, size: int, alive: Ints, d: Floats, other: Ints) -> Any:
    """Whether each pair ``alive`` comes first among the live pairs of its record ``group``.

    First: the smallest distance, then the smallest ``other`` index, then the
    smallest position: the greedy order restricted to one record's pairs.
    ``group`` numbers the records from 0 to ``size - 1``.
    """
    # ``alive`` only ever loses pairs: as long as it holds them all it is arange(len(d)).
    dd, oo = (d, other) if len(alive) == len(d) else (d[alive], other[alive])
    low = np.full(size, np.inf)
    np.minimum.at(low, group, dd)
    tied = dd == low[group]
    least = np.full(size, np.iinfo(np.int64).max)
    np.minimum.at(least, group[tied], oo[tied])
    tied &= oo == least[group]
    position = np.full(size, np.iinfo(np.int64).max)
    np.minimum.at(position, group[tied], alive[tied])
    return tied & (alive == position[group])


def _sequential(ia: Ints, ib: Ints, d: Floats) -> Ints:
    """The greedy pass as a loop: positions of the pairs it links, in the greedy order."""
    order = np.lexsort((ib, ia, d))
    used_a: set[int] = set()
    used_b: set[int] = set()
    keep: list[int] = []
    for k, a, b in zip(order.tolist(), ia[order].tolist(), ib[order].tolist(), strict=True):
        if a not in used_a and b not in used_b:
            used_a.add(a)
            used_b.add(b)
            keep.append(k)
    return np.asarray(keep, dtype=np.int64)


def _compact(values: Ints) -> tuple[Ints, Ints]:
    """``np.unique(values, return_inverse=True)`` for record indexes, without a sort.

    Record indexes are small non-negative integers: a table of which are present
    numbers them in one pass. Anything else goes through ``np.unique``.
    """
    if not len(values):
        return values.astype(np.int64), values.astype(np.int64)
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 4 * len(values) + 1_000_000:
        unique, inverse = np.unique(values, return_inverse=True)
        return unique.astype(np.int64), inverse.ravel().astype(np.int64)
    present = np.zeros(high + 1, dtype=bool)
    present[values] = True
    number = np.cumsum(present, dtype=np.int64) - 1
    return np.flatnonzero(present).astype(np.int64), number[values]


def _assignment(ia: Ints, ib: Ints, d: Floats, threshold: float) -> Ints:
    """Maximum-margin assignment on the sparse candidate graph.

    Each record gets a private "unmatched" partner so a perfect matching always
    exists (LAPJVsp needs one): left = align records + one dummy per target,
    right = target records + one dummy per align record. Linking a pair costs
    ``d - threshold - eps`` (negative, so linking beats leaving both unmatched);
    a dummy pair costs 0. A constant keeps every weight positive, since sparse
    zeros are not edges.
    """
    # Imported here: scipy.sparse costs ~0.15 s of start-up that other modes never need.
    from scipy import sparse
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    if not len(ia):
        return np.zeros(0, dtype=np.int64)
    ua, a_index = _compact(ia)
    ub, b_index = _compact(ib)
    n, m = len(ua), len(ub)
    eps = 1e-9 * max(1.0, threshold)
    base = threshold + 1.0 + eps
    # Rows: align 0..n-1, then target-dummies n..n+m-1.
    # Columns: targets 0..m-1, then align-dummies m..m+n-1.
    rows = np.concatenate([a_index, np.arange(n), n + np.arange(m), n + b_index])
    cols = np.concatenate([b_index, m + np.arange(n), np.arange(m), m + a_index])
    weights = np.concatenate(
        [d - threshold - eps + base, np.full(n, base), np.full(m, base), np.full(len(d), base)]
    )
    graph = sparse.csr_matrix((weights, (rows, cols)), shape=(n + m, n + m))
    graph.sum_duplicates()
    _, match = min_weight_full_bipartite_matching(graph)
    matched_col = match[:n]
    linked = matched_col < m
    keys = a_index.astype(np.int64) * m + b_index
    order = np.argsort(keys, kind="stable")
    chosen = np.flatnonzero(linked).astype(np.int64) * m + matched_col[linked]
    keep = order[np.searchsorted(keys[order], chosen)]
    return np.sort(keep).astype(np.int64)
