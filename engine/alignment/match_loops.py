"""The matching's compiled loops: components by union-find, and the greedy one-to-one pass.

Both run in time linear in the pairs (plus the sort of each record's own
pairs), where the numpy versions sorted every pair at once (a lexsort of 23M
pairs takes 10 s) or built a sparse graph for scipy's components (7 s at 23M).
Compiled by numba on first use and cached on disk, in the folder the compare
kernel uses (``engine.alignment.kernel``).

The greedy pass gives the links of the sequential one (closest pairs first in
the order distance, align index, target index; a pair is linked when neither
record is yet): under a strict total order of the pairs that matching is the
only "locally dominant" one, where each link is the first live pair of both
its records. Each record keeps a pointer to its first pair whose other
record is still free; a pair both pointers agree on is linked, and the
records that pointed at a newly linked one look again.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["in_large", "link", "roots", "rows"]

Ints = npt.NDArray[np.int64]
Ints32 = npt.NDArray[np.int32]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]

#: Rows up to this length are sorted by insertion; longer ones by a merge sort first.
_SHORT = 24


@numba.njit(cache=True, nogil=True)
def roots(a: Ints, b: Ints, n: int, m: int) -> Ints:  # pragma: no cover - compiled
    """Each record's component: a root per record (align 0..n-1, then target n..n+m-1)."""
    parent = np.arange(n + m, dtype=np.int64)
    for k in range(len(a)):
        x = a[k]
        y = n + b[k]
        # Find with path halving: each step points a node at its grandparent.
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x != y:
            if x < y:
                parent[y] = x
            else:
                parent[x] = y
    for v in range(n + m):
        r = v
        while parent[r] != r:
            r = parent[r]
        parent[v] = r
    return parent


@numba.njit(cache=True, nogil=True)
def in_large(a: Ints, b: Ints, n: int, m: int, limit: int) -> Bools:  # pragma: no cover
    """Whether each pair lies in a component of more than ``limit`` records."""
    root = roots(a, b, n, m)
    records = np.zeros(n + m, dtype=np.int64)
    seen_a = np.zeros(n, dtype=np.bool_)
    seen_b = np.zeros(m, dtype=np.bool_)
    for k in range(len(a)):  # records with a pair only: the others are no component's
        if not seen_a[a[k]]:
            seen_a[a[k]] = True
            records[root[a[k]]] += 1
        if not seen_b[b[k]]:
            seen_b[b[k]] = True
            records[root[n + b[k]]] += 1
    large = np.empty(len(a), dtype=np.bool_)
    for k in range(len(a)):
        large[k] = records[root[a[k]]] > limit
    return large


@numba.njit(cache=True, nogil=True)
def rows(
    group: Ints, size: int, d: Floats, other: Ints, use: Bools
) -> tuple[Ints, Ints, Ints32]:  # pragma: no cover - compiled
    """The pairs ``use`` of each record ``group``, each row in the order (distance,
    ``other``, position): starts (CSR), the pairs' positions, and their ``other`` records.

    The rows' distances and other records are copied next to each other before
    sorting: at a million records the pairs lie all over memory, and a sort
    that follows positions waits on a cache miss per comparison.
    """
    starts = np.zeros(size + 1, dtype=np.int64)
    for k in range(len(group)):
        if use[k]:
            starts[group[k] + 1] += 1
    for g in range(size):
        starts[g + 1] += starts[g]
    fill = starts[:-1].copy()
    order = np.empty(starts[size], dtype=np.int64)
    for k in range(len(group)):  # counting sort: positions in increasing order per row
        if use[k]:
            g = group[k]
            order[fill[g]] = k
            fill[g] += 1
    near = d[order]
    ends = other[order].astype(np.int32)
    for g in range(size):
        lo, hi = starts[g], starts[g + 1]
        if hi - lo > _SHORT:
            # Long rows: a stable merge sort on the distance first; the insertion pass
            # below then only moves ties (rare).
            by = np.argsort(near[lo:hi], kind="mergesort")
            order[lo:hi] = order[lo:hi][by]
            near[lo:hi] = near[lo:hi][by]
            ends[lo:hi] = ends[lo:hi][by]
        for i in range(lo + 1, hi):
            k, dk, ok = order[i], near[i], ends[i]
            j = i - 1
            while j >= lo and (near[j] > dk or (near[j] == dk and ends[j] > ok)):
                order[j + 1], near[j + 1], ends[j + 1] = order[j], near[j], ends[j]
                j -= 1
            order[j + 1], near[j + 1], ends[j + 1] = k, dk, ok
    return starts, order, ends


@numba.njit(cache=True, nogil=True)
def _first_free(
    v: int, starts: Ints, ends: Ints32, pointer: Ints, taken: Bools
) -> int:  # pragma: no cover - compiled
    """Where record ``v``'s first pair with a free other record is in its row (-1: none);
    its pointer moves there."""
    p = pointer[v]
    end = starts[v + 1]
    while p < end and taken[ends[p]]:
        p += 1
    pointer[v] = p
    return p if p < end else -1


@numba.njit(cache=True, nogil=True)
def link(
    size: int,
    starts_a: Ints,
    order_a: Ints,
    ends_a: Ints32,
    starts_b: Ints,
    order_b: Ints,
    ends_b: Ints32,
) -> Ints:  # pragma: no cover - compiled
    """Positions of the pairs the greedy one-to-one pass links, in increasing order.

    The rows are :func:`rows`' of the align records (by (d, b, position)) and of
    the target records (by (d, a, position)) over the same ``size`` pairs: the
    order (d, a, b, position) restricted to each record.
    """
    n, m = len(starts_a) - 1, len(starts_b) - 1
    pointer_a = starts_a[:-1].copy()
    pointer_b = starts_b[:-1].copy()
    taken_a = np.zeros(n, dtype=np.bool_)
    taken_b = np.zeros(m, dtype=np.bool_)
    linked = np.zeros(size, dtype=np.bool_)
    # The records to look at: align ones as v, target ones as n + v, each at most once
    # in the stack (looked at when popped, it sees every change since it was pushed).
    stack = np.empty(n + m, dtype=np.int64)
    queued = np.ones(n + m, dtype=np.bool_)
    queued[n:] = False
    top = 0
    for v in range(n - 1, -1, -1):
        stack[top] = v
        top += 1
    while top:
        top -= 1
        v = stack[top]
        queued[v] = False
        if v < n:
            x = v
            if taken_a[x]:
                continue
            p = _first_free(x, starts_a, ends_a, pointer_a, taken_b)
            if p < 0:
                continue
            y = int(ends_a[p])
            q = _first_free(y, starts_b, ends_b, pointer_b, taken_a)
        else:
            y = v - n
            if taken_b[y]:
                continue
            q = _first_free(y, starts_b, ends_b, pointer_b, taken_a)
            if q < 0:
                continue
            x = int(ends_b[q])
            p = _first_free(x, starts_a, ends_a, pointer_a, taken_b)
        if order_a[p] != order_b[q]:
            continue  # not both records' first live pair: a closer one comes first
        linked[order_a[p]] = True
        taken_a[x] = True
        taken_b[y] = True
        # Whoever pointed at x or y looks again: the other records of their pairs.
        for i in range(pointer_a[x], starts_a[x + 1]):
            w = n + int(ends_a[i])
            if not taken_b[ends_a[i]] and not queued[w]:
                queued[w] = True
                stack[top] = w
                top += 1
        for i in range(pointer_b[y], starts_b[y + 1]):
            w = int(ends_b[i])
            if not taken_a[w] and not queued[w]:
                queued[w] = True
                stack[top] = w
                top += 1
    return np.flatnonzero(linked).astype(np.int64)
