"""Rules on shared tokens: an inverted index as sparse matrices, and the helpers of token sets.

q-grams, MinHash bands and k-means clusters are all tokens a record holds;
:class:`SharedTokenRule` pairs the records that share enough of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    Bools,
    Ints,
    Keys,
    RuleKind,
    giant_warnings,
    slices,
)

__all__ = [
    "CONTAINS_CHUNK",
    "EXACT_COUNT_LIMIT",
    "SharedTokenRule",
    "binary_matrix",
    "distinct_keys",
    "encode_tokens",
    "row_codes",
]

#: Shared-token rules (q-grams, minhash, k-means) count their pairs exactly when
#: the bound on them is at most this (it costs a pass over the pairs), else they
#: report the bound.
EXACT_COUNT_LIMIT = 4_000_000
#: Pairs handled at once by ``contains`` of shared-token rules: a bound on memory.
CONTAINS_CHUNK = 1 << 18
#: Checking a prefix-filter candidate's overlap costs about as much as this many
#: entries of a sparse product (measured with scipy on q-gram sets).
_VERIFY_COST = 20


def encode_tokens(
    keys: Sequence[str | None], tokens: Callable[[str | None], list[str]], vocab: dict[str, int]
) -> tuple[Ints, Ints]:
    """CSR ``indptr`` and ``indices`` of each key's tokens (ids from a shared vocabulary).

    Tokens are computed once per distinct key: names and codes repeat a lot.
    """
    cache: dict[str | None, list[int]] = {}
    rows: list[list[int]] = []
    for key in keys:  # a loop per record, not per pair
        ids = cache.get(key)
        if ids is None:
            ids = cache[key] = [vocab.setdefault(t, len(vocab)) for t in tokens(key)]
        rows.append(ids)
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int64, count=int(indptr[-1])
    )
    return indptr, indices


def binary_matrix(indptr: Ints, indices: Ints, width: int) -> Any:
    """A 0/1 sparse matrix (records x tokens); tokens of a row are distinct."""
    from scipy import sparse  # lazily: start-up time matters for small specs

    data = np.ones(len(indices), dtype=np.int32)
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, max(width, 1)))
    matrix.sort_indices()
    return matrix


#: Odd 64-bit multiplier of the column mixing (the golden ratio's, as in splitmix64).
_MIX = np.uint64(0x9E3779B97F4A7C15)


def row_codes(values: Any) -> Ints:
    """Codes of the columns of a ``(rows, n)`` array: equal columns, equal codes.

    Each column becomes one 64-bit key: packed exactly when it fits (up to 3
    values below 2^21: q-grams of code points), else mixed; keys are sorted and,
    when mixed, equal keys are checked to be equal columns, so a (vanishingly
    rare) collision falls back to an exact lexicographic sort instead of
    merging two values. Codes number the distinct columns in key order.
    """
    rows, n = values.shape
    if not n:
        return np.zeros(0, dtype=np.int64)
    packed = rows * 21 <= 63 and int(values.max()) < (1 << 21)
    key = np.zeros(n, dtype=np.uint64)
    for row in values:
        if packed:
            key = (key << np.uint64(21)) | row.astype(np.uint64)
        else:
            key = (key ^ row) * _MIX
            key ^= key >> np.uint64(29)
    order = np.argsort(key)
    ranked = key[order]
    new = np.ones(n, dtype=bool)
    new[1:] = ranked[1:] != ranked[:-1]
    same = np.flatnonzero(~new[1:])
    if not packed and len(same) and (values[:, order[same]] != values[:, order[same + 1]]).any():
        order = np.lexsort(values[::-1])
        ranked = values[:, order]
        new[1:] = (ranked[:, 1:] != ranked[:, :-1]).any(axis=0)
    out = np.empty(n, dtype=np.int64)
    out[order] = np.cumsum(new) - 1
    return out


def distinct_keys(align: Keys, target: Keys) -> tuple[list[str], Ints, Ints]:
    """Distinct non-empty keys of both sides, and each record's key index (missing: the last)."""
    index: dict[str, int] = {}
    ka = [index.setdefault(k, len(index)) if k else -1 for k in align]
    kb = [index.setdefault(k, len(index)) if k else -1 for k in target]
    missing = len(index)
    a = np.array(ka, dtype=np.int64)
    b = np.array(kb, dtype=np.int64)
    a[a < 0], b[b < 0] = missing, missing
    return list(index), a, b


class SharedTokenRule(RuleKind):
    """Pairs sharing at least ``min_common`` tokens: an inverted index as sparse matrices.

    ``a`` (align records x tokens) and ``b`` (target records x tokens) are 0/1
    sparse matrices. The candidates of a chunk of align rows are the entries of
    ``a[rows] @ b.T``: scipy's sparse product walks the inverted index, so the
    work and memory follow the pairs, never N x M; its entries count the shared
    tokens. With ``min_common`` m > 1, a prefix filter can make the product much
    smaller: tokens are ranked rarest first, and two sets sharing m tokens share
    one of the ``|set| - m + 1`` rarest tokens of each, so only those prefixes
    are multiplied and each candidate's overlap is then counted exactly. That
    check costs about ``_VERIFY_COST`` product entries per candidate, so the
    filter is used only when it saves more than that. Tokens held by more than
    ``max_block`` records on either side are skipped (counted in ``skipped``
    and reported in ``warnings``). Pairs come sorted by align then target index.

    ``estimate`` is exact when its bound (per align row, the least of: prefix
    candidates with repeats, shared tokens // m, target records) is at most
    ``EXACT_COUNT_LIMIT``, counted by a pass over the pairs; above, it is that bound.
    """

    def __init__(
        self,
        a: Any,
        b: Any,
        *,
        min_common: int = 1,
        max_block: int | None = None,
        label: str = "tokens",
        what: str = "token",
        name: Callable[[int], str] = str,
    ) -> None:
        self.label = label
        self.min_common = min_common
        self.n_align, self.n_target = a.shape[0], b.shape[0]
        width = a.shape[1]
        count_a = np.bincount(a.indices, minlength=width).astype(np.int64)
        count_b = np.bincount(b.indices, minlength=width).astype(np.int64)
        # Tokens on one side only pair nothing: dropping them shrinks the product.
        drop = (count_a == 0) | (count_b == 0)
        self.skipped = 0
        self.warnings: list[str] = []
        if max_block is not None:
            over = ((count_a > max_block) | (count_b > max_block)) & ~drop
            self.skipped = int(over.sum())
            if self.skipped:
                worst = int(np.argmax(np.where(over, np.maximum(count_a, count_b), -1)))
                self.warnings.append(
                    f"{label}: skipped {self.skipped:,} {what}(s) held by more than"
                    f" {max_block:,} records on a side (the largest: {name(worst)!r},"
                    f" {int(count_a[worst]):,} x {int(count_b[worst]):,} records)"
                )
            drop |= over
        keep = np.flatnonzero(~drop)
        full = self.n_align * self.n_target
        self.warnings += giant_warnings(
            label, what, count_a[keep], count_b[keep], full, lambda t: name(int(keep[t]))
        )
        self.a = a[:, keep].tocsr()
        self.b = b[:, keep].tocsr()
        nonempty_b = int((np.diff(self.b.indptr) > 0).sum())
        # Per align row: the tokens it shares with target records, with repeats (the
        # work of the full product); its partners share >= min_common of them.
        shared = np.asarray(self.a @ count_b[keep]).ravel().astype(np.int64)
        self.bound = np.minimum(shared // min_common, nonempty_b)
        self.left, self.right_t = self.a, self.b.T.tocsr()
        self.work = np.minimum(shared, nonempty_b)
        self.prefix_filter = False
        if min_common > 1:
            rank = np.empty(len(keep), dtype=np.int64)
            rank[np.argsort(count_a[keep] + count_b[keep], kind="stable")] = np.arange(len(keep))
            prefix_a = _prefix(self.a, rank, min_common)
            prefix_b = _prefix(self.b, rank, min_common)
            counts = np.bincount(prefix_b.indices, minlength=len(keep)).astype(np.int64)
            candidates = np.asarray(prefix_a @ counts).ravel().astype(np.int64)
            if int(candidates.sum()) * _VERIFY_COST < int(shared.sum()):
                self.prefix_filter = True
                self.left, self.right_t = prefix_a, prefix_b.T.tocsr()
                self.work = np.minimum(candidates, nonempty_b)
                self.bound = np.minimum(self.bound, candidates)
        self._estimate: int | None = None

    def estimate(self) -> int:
        if self._estimate is None:
            bound = int(self.bound.sum())
            if bound <= EXACT_COUNT_LIMIT:
                bound = sum(len(ia) for ia, _ in self.pairs())
            self._estimate = bound
        return self._estimate

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        rows = np.flatnonzero(self.bound > 0).astype(np.int64)
        # Chunks by the product's size (its entries become at most that many pairs).
        for start, stop in slices(self.work[rows], chunk):
            selected = rows[start:stop]
            product = (self.left[selected] @ self.right_t).tocsr()
            product.sort_indices()
            ia = np.repeat(selected, np.diff(product.indptr))
            ib = product.indices.astype(np.int64)
            if self.prefix_filter:  # candidates sharing a rare token: count the overlap
                keep = self.contains(ia, ib)
                ia, ib = ia[keep], ib[keep]
            elif self.min_common > 1:  # the entries count the shared tokens
                keep = product.data >= self.min_common
                ia, ib = ia[keep], ib[keep]
            if len(ia):
                yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for start in range(0, len(ia), CONTAINS_CHUNK):
            stop = start + CONTAINS_CHUNK
            common = self.a[ia[start:stop]].multiply(self.b[ib[start:stop]]).sum(axis=1)
            out[start:stop] = np.asarray(common).ravel() >= self.min_common
        return out


def _prefix(matrix: Any, rank: Ints, m: int) -> Any:
    """Each row's ``len - m + 1`` lowest-ranked entries (none for rows shorter than m)."""
    from scipy import sparse

    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), lengths)
    # Sorted by row, then rank: the position within the row is the rank order.
    order = np.lexsort((rank[matrix.indices], rows))
    position = np.arange(len(order)) - matrix.indptr[rows]
    keep = position < lengths[rows] - m + 1
    kept = order[keep]
    indptr = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=matrix.shape[0]), out=indptr[1:])
    out = sparse.csr_matrix((matrix.data[kept], matrix.indices[kept], indptr), shape=matrix.shape)
    out.sort_indices()
    return out
