"""The driver's compiled loops for the distributed matching: a union-find fed piece by
piece, and the greedy pass over pairs that come in their greedy order.

Compiled by numba on first use and cached on disk (next to this module when its
folder is writable); imported only by a one-to-one run of the distributed path.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["greedy", "large", "union"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@numba.njit(cache=True, nogil=True, inline="always")
def _find(parent: Ints, x: int) -> int:  # pragma: no cover - compiled
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression: later finds are short
        following = parent[x]
        parent[x] = root
        x = following
    return root


@numba.njit(cache=True, nogil=True)
def union(parent: Ints, size: Ints, a: Ints, b: Ints, n: int) -> None:  # pragma: no cover
    """Join the components of each pair's records (align ``a[k]``, target ``n + b[k]``)."""
    for k in range(len(a)):
        x = _find(parent, a[k])
        y = _find(parent, n + b[k])
        if x != y:
            if size[x] < size[y]:  # the smaller under the larger: trees stay shallow
                x, y = y, x
            parent[y] = x
            size[x] += size[y]


@numba.njit(cache=True, nogil=True)
def large(parent: Ints, size: Ints, n: int, limit: int) -> Bools:  # pragma: no cover
    """Whether each align record's component has more than ``limit`` records."""
    out = np.zeros(n, dtype=np.bool_)
    for x in range(n):
        out[x] = size[_find(parent, x)] > limit
    return out


@numba.njit(cache=True, nogil=True)
def greedy(ia: Ints, ib: Ints, taken_a: Bools, taken_b: Bools) -> Bools:  # pragma: no cover
    """The pairs (in their greedy order) whose records are both still free: linked, and taken."""
    out = np.zeros(len(ia), dtype=np.bool_)
    for k in range(len(ia)):
        a = ia[k]
        b = ib[k]
        if not taken_a[a] and not taken_b[b]:
            taken_a[a] = True
            taken_b[b] = True
            out[k] = True
    return out
