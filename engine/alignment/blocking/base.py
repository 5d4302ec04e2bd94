"""Blocking: candidate pairs without an N x M matrix.

Each rule turns the key values of both sides into candidate pairs, streamed in
chunks of about ``chunk`` pairs. A rule can also say whether it produces a
given pair (``contains``), which lets a union drop the pairs an earlier rule
already produced without keeping a set of every pair in memory, and lets a
pipeline refine one rule's pairs by the others.

Every rule offers:

- ``estimate()``: its number of pairs, exact where that is cheap, else an upper
  bound (each class says which);
- ``pairs(chunk)``: ``(align index, target index)`` int64 arrays, each pair once,
  in a deterministic order; memory grows with the records and one chunk;
- ``contains(ia, ib)``: whether each given pair is one of its pairs;
- ``label`` (what the plan calls it) and ``warnings`` (giant blocks, skipped
  q-grams...: what a user should know before a long run).

A missing key (``None``) is in no block.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "EARTH_RADIUS_KM",
    "BlockingRule",
    "BlockingValueError",
    "KMeansRule",
    "KeyRule",
    "MinHashRule",
    "NoBlocking",
    "Pipeline",
    "QGramRule",
    "RadiusRule",
    "SharedTokenRule",
    "SortedNeighbourhoodRule",
    "TfidfRule",
    "Union",
    "codes",
    "minhash_bands",
    "qgrams",
    "shingles",
]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
Keys = Sequence[str | None]
#: Values of rules on points: a number, a tuple of numbers (or their strings), or None.
Values = Sequence[Any]

DEFAULT_CHUNK = 1 << 21

#: A block (one key, q-gram, cluster...) is reported as giant above GIANT_PAIRS pairs,
#: or above GIANT_SHARE of all pairs once it has GIANT_MIN_PAIRS (small inputs are
#: cheap however they block).
GIANT_PAIRS = 50_000_000
GIANT_SHARE = 0.2
GIANT_MIN_PAIRS = 100_000
#: Shared-token rules (q-grams, minhash, k-means) count their pairs exactly when
#: the bound on them is at most this (it costs a pass over the pairs), else they
#: report the bound.
EXACT_COUNT_LIMIT = 4_000_000
#: Pairs handled at once by ``contains`` of shared-token rules, and entries of a
#: similarity chunk (align rows x target records) of TF-IDF: bounds on memory.
CONTAINS_CHUNK = 1 << 18
SIMILARITY_BUDGET = 1 << 22
#: Checking a prefix-filter candidate's overlap costs about as much as this many
#: entries of a sparse product (measured with scipy on q-gram sets).
_VERIFY_COST = 20
#: Mean Earth radius (km), as the geographic metric uses.
EARTH_RADIUS_KM = 6371.0088
#: MinHash permutations: universal hashing ``(a x + b) mod p`` with the Mersenne
#: prime p = 2^31 - 1 and a, b, x < p, so that ``a x + b`` < 2^63 is exact in uint64
#: (with a larger p the product would wrap, and a small a would barely mix).
_PRIME = (1 << 31) - 1


class BlockingRule(Protocol):
    """What a blocking rule offers the pipeline."""

    label: str
    warnings: list[str]

    def estimate(self) -> int:
        """How many candidate pairs the rule yields (exact, or an upper bound)."""

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        """Candidate pairs ``(align index, target index)`` in chunks."""

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        """Whether each pair is one of this rule's candidates."""


class BlockingValueError(ValueError):
    """A value a rule cannot use (not a number, a latitude out of range).

    ``side`` (``align`` or ``target``) and ``index`` locate the record, so that
    the pipeline can name its source and row.
    """

    def __init__(self, side: str, index: int, message: str) -> None:
        super().__init__(message)
        self.side, self.index, self.message = side, index, message


# --------------------------------------------------------------------------- helpers


def codes(align: Keys, target: Keys) -> tuple[Ints, Ints, int]:
    """Shared integer codes of both sides' keys (-1 for a missing key) and their count."""
    index: dict[str, int] = {}

    def encode(values: Keys) -> Ints:
        return np.fromiter(
            (-1 if v is None else index.setdefault(v, len(index)) for v in values),
            dtype=np.int64,
            count=len(values),
        )

    ca = encode(align)
    cb = encode(target)
    return ca, cb, len(index)


def _objects(values: list[str | None]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _slices(weights: Ints, chunk: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of items whose summed weight stays near ``chunk``."""
    total = np.cumsum(weights)
    start = 0
    while start < len(weights):
        base = total[start - 1] if start else 0
        stop = int(np.searchsorted(total, base + chunk, side="right"))
        stop = max(stop, start + 1)
        yield start, stop
        start = stop


def _expand(rows: Ints, reps: Ints, first: Ints, order: Ints) -> tuple[Ints, Ints]:
    """Pairs of each row with ``reps`` consecutive entries of ``order`` from ``first``."""
    ia = np.repeat(rows, reps)
    ends = np.cumsum(reps)
    local = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(
        ends - reps, reps
    )
    ib = order[np.repeat(first, reps) + local]
    return ia, ib


def _empty() -> tuple[Ints, Ints]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)


def _giant(
    label: str,
    what: str,
    count_a: Ints,
    count_b: Ints,
    full: int,
    name: Callable[[int], str],
) -> list[str]:
    """Warnings about the blocks (one per key/token) big enough to stall a run."""
    sizes = count_a.astype(np.int64) * count_b.astype(np.int64)
    big = (sizes > GIANT_PAIRS) | ((sizes >= GIANT_MIN_PAIRS) & (sizes > GIANT_SHARE * full))
    flagged = np.flatnonzero(big)
    if not len(flagged):
        return []
    flagged = flagged[np.argsort(-sizes[flagged], kind="stable")]
    out = [
        f"{label}: the {what} {name(int(t))!r} makes one block of {int(count_a[t]):,} x"
        f" {int(count_b[t]):,} = {int(sizes[t]):,} pairs ({sizes[t] / full:.0%} of all pairs)"
        for t in flagged[:3]
    ]
    if len(flagged) > 3:
        out.append(f"{label}: ... and {len(flagged) - 3:,} more {what}s with blocks that large")
    return out


def _encode_tokens(
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


def _binary(indptr: Ints, indices: Ints, width: int) -> Any:
    """A 0/1 sparse matrix (records x tokens); tokens of a row are distinct."""
    from scipy import sparse  # lazily: start-up time matters for small specs

    data = np.ones(len(indices), dtype=np.int32)
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, max(width, 1)))
    matrix.sort_indices()
    return matrix


def qgrams(key: str | None, q: int, padding: bool = False) -> list[str]:
    """The distinct character q-grams of a key, in order of appearance.

    ``padding`` adds ``q - 1`` ``#`` on both ends; a (padded) key shorter than
    ``q`` is its own single q-gram; a missing or empty key has none.
    """
    if not key:
        return []
    if padding:
        key = "#" * (q - 1) + key + "#" * (q - 1)
    if len(key) <= q:
        return [key]
    return list(dict.fromkeys(key[i : i + q] for i in range(len(key) - q + 1)))


def shingles(key: str | None, kind: str, q: int = 3) -> list[str]:
    """The distinct shingles of a key: its white-space ``tokens`` or its ``qgrams``."""
    if not key:
        return []
    if kind == "tokens":
        return list(dict.fromkeys(key.split()))
    return qgrams(key, q)


#: Odd 64-bit multiplier of the column mixing (the golden ratio's, as in splitmix64).
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _row_codes(values: Any) -> Ints:
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


#: Pads the windows of keys shorter than q: above every code point (0x10FFFF), and
#: within 21 bits, so that a window of up to 3 code points packs into 63 bits.
_SENTINEL = np.uint32(0x1FFFFF)
#: FNV-1a (64-bit) over code points: the stable hash of a q-gram shingle.
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@dataclass
class _GramTable:
    """The distinct q-grams of distinct keys, found with numpy on code points.

    Row ``i`` of the CSR (``indptr``, ``indices``) lists the gram ids of key ``i``
    (sorted, each once); a last, empty row stands for a missing key. ``windows``
    (q x windows) holds the code points of every window and ``example`` a window
    of each gram id, for its text and its stable 32-bit ``hashes``.
    """

    indptr: Ints
    indices: Ints
    n_grams: int
    windows: Any
    example: Ints

    def name(self, gram: int) -> str:
        """The text of a gram id (for warnings)."""
        column = self.windows[:, int(self.example[gram])]
        return "".join(chr(int(c)) for c in column if c != _SENTINEL)

    def hashes(self) -> Any:
        """FNV-1a of each gram's code points (same text, same hash, in any run)."""
        h = np.full(self.n_grams, _FNV_OFFSET, dtype=np.uint64)
        for row in self.windows[:, self.example]:
            h = (h ^ row.astype(np.uint64)) * _FNV_PRIME
        return (h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _gram_table(keys: list[str], q: int, padding: bool) -> _GramTable:
    """The q-grams of non-empty keys (as :func:`qgrams` defines them), vectorised.

    Each key's windows of q code points are taken from one array of all keys'
    code points; equal windows get equal ids (:func:`_row_codes`, exact).
    """
    if padding:
        pad = "#" * (q - 1)
        keys = [pad + k + pad for k in keys]
    n = len(keys)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    points = np.frombuffer("".join(keys).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1], out=starts[1:])
    count = np.where(lengths > 0, np.maximum(lengths - q + 1, 1), 0)  # a short key: one window
    owner = np.repeat(np.arange(n, dtype=np.int64), count)
    offset = np.arange(len(owner), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    windows = np.empty((q, len(owner)), dtype=np.uint32)
    for j in range(q):  # a loop per position in the window, vectorised over windows
        inside = offset + j < lengths[owner]
        at = np.minimum(starts[owner] + offset + j, max(len(points) - 1, 0))
        windows[j] = np.where(inside, points[at] if len(points) else _SENTINEL, _SENTINEL)
    gram = _row_codes(windows)
    n_grams = int(gram.max()) + 1 if len(gram) else 0
    pairs = np.sort(owner * max(n_grams, 1) + gram)  # each (key, gram) once, sorted
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    key_of, gram_of = pairs // max(n_grams, 1), pairs % max(n_grams, 1)
    indptr = np.zeros(n + 2, dtype=np.int64)
    np.cumsum(np.bincount(key_of, minlength=n + 1), out=indptr[1:])
    # A window of each gram (any one: equal ids, equal code points) for its text and hash.
    example = np.zeros(n_grams, dtype=np.int64)
    example[gram] = np.arange(len(gram), dtype=np.int64)
    return _GramTable(indptr, gram_of, n_grams, windows, example)


def _distinct(align: Keys, target: Keys) -> tuple[list[str], Ints, Ints]:
    """Distinct non-empty keys of both sides, and each record's key index (missing: the last)."""
    index: dict[str, int] = {}
    ka = [index.setdefault(k, len(index)) if k else -1 for k in align]
    kb = [index.setdefault(k, len(index)) if k else -1 for k in target]
    missing = len(index)
    a = np.array(ka, dtype=np.int64)
    b = np.array(kb, dtype=np.int64)
    a[a < 0], b[b < 0] = missing, missing
    return list(index), a, b


# --------------------------------------------------------------------------- simple rules


@dataclass
class NoBlocking:
    """Every align record meets every target record (for small sets); the estimate is exact."""

    n_align: int
    n_target: int
    label: str = "none"
    warnings: list[str] = field(default_factory=list)

    def estimate(self) -> int:
        return self.n_align * self.n_target

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        if self.n_target == 0:
            return
        rows = max(1, chunk // self.n_target)
        targets = np.arange(self.n_target, dtype=np.int64)
        for start in range(0, self.n_align, rows):
            block = np.arange(start, min(start + rows, self.n_align), dtype=np.int64)
            yield np.repeat(block, self.n_target), np.tile(targets, len(block))

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        return np.ones(len(ia), dtype=bool)


class KeyRule:
    """Pairs whose keys are equal (records with a missing key are in no block).

    The key is any normalised value; a phonetic key is a key normalised with
    ``soundex``. The estimate is exact. A key shared by so many records that its
    block alone is giant is reported in ``warnings``.
    """

    def __init__(self, align: Keys, target: Keys, *, label: str = "key") -> None:
        self.label = label
        self.ca, self.cb, n = codes(align, target)
        valid_b = self.cb >= 0
        self.order_b = np.flatnonzero(valid_b).astype(np.int64)
        self.order_b = self.order_b[np.argsort(self.cb[self.order_b], kind="stable")]
        self.count_b = np.bincount(self.cb[valid_b], minlength=n).astype(np.int64)
        self.first_b = np.zeros(n, dtype=np.int64)
        if n:
            np.cumsum(self.count_b[:-1], out=self.first_b[1:])
        self.rows_a = np.flatnonzero(self.ca >= 0).astype(np.int64)
        self.reps = self.count_b[self.ca[self.rows_a]] if n else np.zeros(0, np.int64)
        count_a = np.bincount(self.ca[self.rows_a], minlength=n).astype(np.int64)

        def name(code: int) -> str:
            return str(align[int(np.flatnonzero(self.ca == code)[0])])

        self.warnings = _giant(label, "key", count_a, self.count_b, len(align) * len(target), name)

    def estimate(self) -> int:
        return int(self.reps.sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        keep = self.reps > 0
        rows, reps = self.rows_a[keep], self.reps[keep]
        first = self.first_b[self.ca[rows]]
        for start, stop in _slices(reps, chunk):
            yield _expand(rows[start:stop], reps[start:stop], first[start:stop], self.order_b)

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        ka = self.ca[ia]
        result: Bools = (ka >= 0) & (ka == self.cb[ib])
        return result


class SortedNeighbourhoodRule:
    """Each align record meets the ``window`` target records nearest to its key in sort order.

    The estimate is exact; no block exceeds ``window`` pairs per align record.
    """

    def __init__(self, align: Keys, target: Keys, window: int, *, label: str = "") -> None:
        self.label = label or "sorted_neighbourhood"
        self.warnings: list[str] = []
        self.window = window
        valid_b = np.array([v is not None for v in target], dtype=bool)
        self.order_b = np.flatnonzero(valid_b).astype(np.int64)
        keys_b = _objects([target[int(i)] for i in self.order_b])
        sort = np.argsort(keys_b, kind="stable")
        self.order_b, keys_b = self.order_b[sort], keys_b[sort]
        self.rank_b = np.full(len(target), -1, dtype=np.int64)
        self.rank_b[self.order_b] = np.arange(len(self.order_b), dtype=np.int64)
        self.rows_a = np.array([i for i, v in enumerate(align) if v is not None], dtype=np.int64)
        keys_a = _objects([align[int(i)] for i in self.rows_a])
        position = np.searchsorted(keys_b, keys_a, side="left") if len(keys_b) else np.zeros(0)
        half = window // 2
        last = max(len(self.order_b) - window, 0)
        self.low = np.full(len(align), 0, dtype=np.int64)
        self.low[self.rows_a] = np.clip(position.astype(np.int64) - half, 0, last)
        self.high = np.full(len(align), -1, dtype=np.int64)
        self.high[self.rows_a] = np.minimum(self.low[self.rows_a] + window, len(self.order_b)) - 1

    def estimate(self) -> int:
        return int(np.maximum(self.high - self.low + 1, 0).sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        rows = self.rows_a
        reps = np.maximum(self.high[rows] - self.low[rows] + 1, 0)
        for start, stop in _slices(reps, chunk):
            yield _expand(
                rows[start:stop], reps[start:stop], self.low[rows[start:stop]], self.order_b
            )

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        rank = self.rank_b[ib]
        result: Bools = (rank >= 0) & (rank >= self.low[ia]) & (rank <= self.high[ia])
        return result


# --------------------------------------------------------------------------- shared tokens


class SharedTokenRule:
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
        self.warnings += _giant(
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
        for start, stop in _slices(self.work[rows], chunk):
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


class QGramRule(SharedTokenRule):
    """Pairs whose keys share at least ``min_common`` distinct character q-grams.

    See :func:`qgrams` for the q-grams of a key and :class:`SharedTokenRule`
    for ``max_block`` and the estimate.
    """

    def __init__(
        self,
        align: Keys,
        target: Keys,
        *,
        q: int = 3,
        padding: bool = False,
        min_common: int = 1,
        max_block: int | None = 10_000,
        label: str = "qgram",
    ) -> None:
        keys, key_a, key_b = _distinct(align, target)
        table = _gram_table(keys, q, padding)
        grams = _binary(table.indptr, table.indices, table.n_grams)  # one row per distinct key
        super().__init__(
            grams[key_a],
            grams[key_b],
            min_common=min_common,
            max_block=max_block,
            label=label,
            what="q-gram",
            name=table.name,
        )


def minhash_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The ``(bands, rows)`` with ``bands x rows <= num_perm`` that best separate ``threshold``.

    A pair of Jaccard similarity ``s`` is a candidate with probability
    ``1 - (1 - s^rows)^bands``; the split minimises the area of false positives
    below the threshold plus false negatives above it (as datasketch does).
    """
    s = np.linspace(0.0, 1.0, 1001)
    below, above = s <= threshold, s >= threshold
    best, choice = math.inf, (1, 1)
    for bands in range(1, num_perm + 1):
        rows = np.arange(1, num_perm // bands + 1)
        p = 1.0 - (1.0 - s[None, :] ** rows[:, None]) ** bands
        error = (p * below).sum(axis=1) + ((1.0 - p) * above).sum(axis=1)
        index = int(np.argmin(error))
        if error[index] < best - 1e-12:
            best, choice = float(error[index]), (bands, int(rows[index]))
    return choice


def _hash32(text: str) -> int:
    # A stable hash (Python's hash() of a str changes from one process to the next).
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "little"
    )


def _band_codes(indptr: Ints, indices: Ints, hashes: Any, bands: int, rows: int, seed: int) -> Ints:
    """MinHash band values of shingle sets (CSR form) as codes: ``(bands, sets)``.

    Permutation ``k = band x rows + i`` maps a shingle hash ``x`` to
    ``(a_k x + b_k) mod p``; a set's signature entry is the minimum over its
    shingles. Equal band values get equal codes; a set without shingles gets -1.
    One band at a time, one permutation at a time: memory stays at one value
    per (set, shingle) entry, never sets x permutations.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, size=bands * rows, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=bands * rows, dtype=np.uint64)
    x = hashes.astype(np.uint64) % np.uint64(_PRIME)
    n = len(indptr) - 1
    out = np.full((bands, n), -1, dtype=np.int64)
    nonempty = np.diff(indptr) > 0
    if not nonempty.any():
        return out
    starts = indptr[:-1][nonempty]
    for band in range(bands):  # a loop per band and permutation, vectorised over entries
        signature = np.empty((rows, len(starts)), dtype=np.uint32)
        for i in range(rows):
            k = band * rows + i
            # Each distinct shingle once; values < 2^31 fit 32 bits (half the memory traffic).
            values = ((x * a[k] + b[k]) % np.uint64(_PRIME)).astype(np.uint32)
            signature[i] = np.minimum.reduceat(values[indices], starts)
        out[band, nonempty] = _row_codes(signature)
    return out


class MinHashRule(SharedTokenRule):
    """MinHash LSH: pairs whose signatures agree on all ``rows`` hashes of at least one band.

    Each record's shingles (:func:`shingles`) get a signature of ``bands x rows``
    universal hashes (fixed ``seed``: the same input gives the same pairs). Each
    band's exact value is a token shared by the records that agree on it; records
    with identical shingle sets agree on every band, so they always pair. The
    estimate follows :class:`SharedTokenRule`; ``contains`` compares band values.
    """

    def __init__(
        self,
        align: Keys,
        target: Keys,
        *,
        kind: str = "tokens",
        q: int = 3,
        bands: int = 16,
        rows: int = 8,
        seed: int = 1,
        label: str = "minhash",
    ) -> None:
        # Signatures of each distinct key once (names and codes repeat a lot); the
        # last row of the key tables stands for a missing key.
        keys, key_a, key_b = _distinct(align, target)
        if kind == "qgrams":
            table = _gram_table(keys, q, padding=False)
            indptr, indices, hashes = table.indptr, table.indices, table.hashes()
        else:
            vocab: dict[str, int] = {}
            indptr, indices = _encode_tokens([*keys, None], lambda k: shingles(k, kind), vocab)
            hashes = np.fromiter((_hash32(s) for s in vocab), dtype=np.uint64, count=len(vocab))
        # Token ids are the band codes offset per band, so that band j only meets band j.
        band_codes = _band_codes(indptr, indices, hashes, bands, rows, seed)
        offsets = np.zeros(bands + 1, dtype=np.int64)
        np.cumsum(band_codes.max(axis=1) + 1, out=offsets[1:])
        self.codes_a, self.codes_b = band_codes[:, key_a], band_codes[:, key_b]
        self.bands, self.rows = bands, rows

        def tokens(codes_side: Ints) -> Any:
            valid = codes_side[0] >= 0
            lengths = np.where(valid, bands, 0)
            ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            ids = (codes_side + offsets[:-1, None])[:, valid].T.ravel()
            return _binary(ptr, ids, int(offsets[-1]))

        def name(token: int) -> str:
            band = int(np.searchsorted(offsets, token, side="right")) - 1
            key = int(np.flatnonzero(band_codes[band] == token - offsets[band])[0])
            return f"band {band}, e.g. {keys[key]}"

        super().__init__(
            tokens(self.codes_a),
            tokens(self.codes_b),
            label=label,
            what="band value",
            name=name,
        )

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for band in range(self.bands):  # a loop per band, vectorised over the pairs
            ka = self.codes_a[band, ia]
            out |= (ka >= 0) & (ka == self.codes_b[band, ib])
        return out


# --------------------------------------------------------------------------- TF-IDF


class TfidfRule:
    """Each align record meets its ``top_k`` most similar target records (TF-IDF cosine).

    Vectors are TF-IDF weights of character n-grams within words (``char_wb``,
    ``ngrams``), fitted on both sides' keys; n-grams in more than ``max_df`` of
    the keys are left out (below 1, a speed-up: they pair almost everything).
    Similarities come from sparse dot products, a chunk of align rows at a time
    (at most ``SIMILARITY_BUDGET`` entries); only targets with a positive
    similarity ``>= min_similarity`` are kept, ties broken by the lower target
    index. The pairs (at most
    ``n_align x top_k``) are computed once, on first use, and kept: ``contains``
    looks them up. The estimate is the bound ``align keys x min(top_k, target keys)``.
    """

    def __init__(
        self,
        align: Keys,
        target: Keys,
        *,
        top_k: int = 10,
        min_similarity: float = 0.0,
        ngrams: tuple[int, int] = (2, 3),
        max_df: float = 1.0,
        label: str = "tfidf",
    ) -> None:
        self.label = label
        self.max_df = max_df
        self.warnings: list[str] = []
        self.align, self.target = align, target
        self.top_k, self.min_similarity, self.ngrams = top_k, min_similarity, ngrams
        self.rows_a = np.array([i for i, k in enumerate(align) if k], dtype=np.int64)
        self.rows_b = np.array([i for i, k in enumerate(target) if k], dtype=np.int64)
        self._pairs: tuple[Ints, Ints] | None = None
        self._keys: Ints | None = None

    def estimate(self) -> int:
        return len(self.rows_a) * min(self.top_k, len(self.rows_b))

    def _compute(self) -> tuple[Ints, Ints]:
        if self._pairs is not None:
            return self._pairs
        self._pairs = _empty()
        if not len(self.rows_a) or not len(self.rows_b):
            return self._pairs
        from sklearn.feature_extraction.text import TfidfVectorizer

        keys_a = [str(self.align[int(i)]) for i in self.rows_a]
        keys_b = [str(self.target[int(i)]) for i in self.rows_b]
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.ngrams, lowercase=False, max_df=self.max_df
        )
        try:
            vectors = vectorizer.fit_transform(keys_a + keys_b).tocsr()
        except ValueError:  # no n-gram left (keys shorter than the n-grams, or max_df)
            self.warnings.append(f"{self.label}: no n-gram to compare the keys on: no pairs")
            return self._pairs
        va, vb = vectors[: len(keys_a)], vectors[len(keys_a) :].T.tocsr()
        floor = max(self.min_similarity, 1e-12)
        n_b = len(self.rows_b)
        k = min(self.top_k, n_b)
        step = max(1, SIMILARITY_BUDGET // n_b)
        found_a: list[Ints] = []
        found_b: list[Ints] = []
        for start in range(0, len(self.rows_a), step):
            # A dense block of at most SIMILARITY_BUDGET similarities: character
            # n-grams make it nearly dense anyway, and a per-row partition (linear)
            # beats sorting the sparse entries.
            sims = (va[start : start + step] @ vb).toarray()
            keep = sims >= floor
            if k < n_b:
                # The k-th largest similarity per row; ties at it go to the lowest
                # target indices, so the choice never depends on the partition.
                kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]
                above = sims > kth
                tied = sims == kth
                room = k - above.sum(axis=1, keepdims=True)
                keep &= above | (tied & (np.cumsum(tied, axis=1) <= room))
            row, col = np.nonzero(keep)  # row-major: sorted by align, then target
            found_a.append(self.rows_a[start + row])
            found_b.append(self.rows_b[col])
        self._pairs = (np.concatenate(found_a), np.concatenate(found_b))
        return self._pairs

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        ia, ib = self._compute()
        for start in range(0, len(ia), chunk):
            yield ia[start : start + chunk], ib[start : start + chunk]

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        if self._keys is None:
            pa, pb = self._compute()
            # Pairs come sorted by (align, target), so their keys are sorted too.
            self._keys = pa * len(self.target) + pb
        wanted = ia.astype(np.int64) * len(self.target) + ib
        position = np.searchsorted(self._keys, wanted)
        found = position < len(self._keys)
        found[found] = self._keys[position[found]] == wanted[found]
        return found


# --------------------------------------------------------------------------- points


def _width(values: Values) -> int | None:
    """Numbers per value, from the first value present (None: no value at all)."""
    for v in values:
        if v is not None:
            return len(v) if isinstance(v, tuple | list) else 1
    return None


def _points(values: Values, side: str, fallback: int = 1) -> Floats:
    """Values (numbers or tuples of them, possibly as strings) as rows; NaN rows where missing.

    A side without any value (an empty source, a column missing everywhere) has
    ``fallback`` columns: the width the other side or the rule expects, so that
    it pairs with nothing instead of failing on its shape.
    """
    width = _width(values) or fallback
    out = np.full((len(values), width), np.nan)
    present = np.array([v is not None for v in values], dtype=bool)
    try:  # the common case at numpy's speed; the loop below finds what is wrong
        rows = np.array([v for v in values if v is not None], dtype=np.float64)
        rows = rows.reshape(len(rows), -1)
        if rows.shape[1] == width and np.isfinite(rows).all():
            out[present] = rows
            return out
    except (TypeError, ValueError):
        pass
    for index, v in enumerate(values):  # a loop per record, not per pair
        if v is None:
            continue
        row = tuple(v) if isinstance(v, tuple | list) else (v,)
        if len(row) != width:
            raise BlockingValueError(side, index, f"expected {width} values, found {row!r}")
        if any(x is None for x in row):
            continue
        try:
            out[index] = [float(x) for x in row]
        except (TypeError, ValueError):
            raise BlockingValueError(side, index, f"not a number: {v!r}") from None
        if not np.isfinite(out[index]).all():
            raise BlockingValueError(side, index, f"not a finite number: {v!r}")
    return out


def _coordinates(points: Floats, order: str, side: str, values: Values) -> Floats:
    """``[lat, lon]`` in radians from points in ``order``; out-of-range values are errors."""
    if points.shape[1] != 2:
        raise BlockingValueError(
            side, 0, f"coordinates need two columns ({order}), found {points.shape[1]}"
        )
    if order == "lonlat":
        points = points[:, ::-1]
    lat, lon = points[:, 0], points[:, 1]
    with np.errstate(invalid="ignore"):
        bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        what = "latitude" if abs(lat[index]) > 90 else "longitude"
        limit = 90 if what == "latitude" else 180
        value = lat[index] if what == "latitude" else lon[index]
        raise BlockingValueError(
            side,
            index,
            f"{what} {value:g} is outside [-{limit}, {limit}] in {values[index]!r} ({order})",
        )
    return np.radians(points)


def _haversine(a: Floats, b: Floats) -> Floats:
    """Central angle (radians) between rows of ``[lat, lon]`` radians."""
    h = (
        np.sin((b[:, 0] - a[:, 0]) / 2) ** 2
        + np.cos(a[:, 0]) * np.cos(b[:, 0]) * np.sin((b[:, 1] - a[:, 1]) / 2) ** 2
    )
    out: Floats = 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


class RadiusRule:
    """Pairs of points within a radius, found by querying a tree of the target points.

    With ``radius_km`` the values are coordinates (``order``) and the distance is
    haversine (a ball tree, ``metric="haversine"``, on radians); with ``radius``
    they are numbers (one or more columns) and the distance is euclidean
    (``tree``: ``kdtree`` or ``balltree``). Align points query the tree a chunk
    at a time; the tree's answers (with a radius a hair larger) are filtered
    by the same vectorised distance ``contains`` uses, so both always agree.
    The estimate counts the tree's answers (``count_only``): exact but for
    points within rounding of the radius. The tree is built on first use.
    """

    def __init__(
        self,
        align: Values,
        target: Values,
        *,
        radius: float | None = None,
        radius_km: float | None = None,
        order: str = "latlon",
        tree: str = "kdtree",
        label: str = "radius",
    ) -> None:
        if (radius is None) == (radius_km is None):
            raise ValueError("give either radius or radius_km")
        self.label = label
        self.warnings: list[str] = []
        self.geographic = radius_km is not None
        fallback = 2 if self.geographic else _width(align) or _width(target) or 1
        pa, pb = _points(align, "align", fallback), _points(target, "target", fallback)
        if self.geographic:
            pa = _coordinates(pa, order, "align", align)
            pb = _coordinates(pb, order, "target", target)
            self.radius = float(radius_km or 0.0) / EARTH_RADIUS_KM
        else:
            self.radius = float(radius or 0.0)
            if len(align) and len(target) and pa.shape[1] != pb.shape[1]:
                raise BlockingValueError(
                    "target", 0, f"{pb.shape[1]} column(s) here, {pa.shape[1]} on the align side"
                )
        self.pa, self.pb, self.tree_kind = pa, pb, tree
        self.rows_a = np.flatnonzero(~np.isnan(pa).any(axis=1)).astype(np.int64)
        self.rows_b = np.flatnonzero(~np.isnan(pb).any(axis=1)).astype(np.int64)
        self._tree: Any = None
        self._counts: Ints | None = None

    def _query_radius(self) -> float:
        return self.radius * (1 + 1e-9) + 1e-12

    def _index(self) -> Any:
        if self._tree is None:
            from sklearn.neighbors import BallTree, KDTree

            points = self.pb[self.rows_b]
            if self.geographic:
                self._tree = BallTree(points, metric="haversine")
            elif self.tree_kind == "balltree":
                self._tree = BallTree(points, metric="euclidean")
            else:
                self._tree = KDTree(points, metric="euclidean")
        return self._tree

    def _count(self) -> Ints:
        if self._counts is None:
            if not len(self.rows_a) or not len(self.rows_b):
                self._counts = np.zeros(len(self.rows_a), dtype=np.int64)
            else:
                found = self._index().query_radius(
                    self.pa[self.rows_a], self._query_radius(), count_only=True
                )
                self._counts = np.asarray(found, dtype=np.int64)
        return self._counts

    def _distance(self, ia: Ints, ib: Ints) -> Floats:
        a, b = self.pa[ia], self.pb[ib]
        if self.geographic:
            return _haversine(a, b)
        d: Floats = np.sqrt(((a - b) ** 2).sum(axis=1))
        return d

    def estimate(self) -> int:
        return int(self._count().sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        counts = self._count()
        some = counts > 0
        rows, counts = self.rows_a[some], counts[some]
        for start, stop in _slices(counts, chunk):
            selected = rows[start:stop]
            found = self._index().query_radius(self.pa[selected], self._query_radius())
            lengths = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
            ia = np.repeat(selected, lengths)
            ib = self.rows_b[np.concatenate(found).astype(np.int64)]
            keep = self._distance(ia, ib) <= self.radius
            ia, ib = ia[keep], ib[keep]
            order = np.lexsort((ib, ia))
            if len(ia):
                yield ia[order], ib[order]

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        with np.errstate(invalid="ignore"):
            result: Bools = self._distance(ia, ib) <= self.radius  # NaN (missing) -> False
        return result


class KMeansRule(SharedTokenRule):
    """Pairs of records in a common k-means cluster of their points.

    ``MiniBatchKMeans`` (fixed ``seed``) is fitted on both sides' points; each
    record joins its ``nearest`` closest centroids so that records near a
    boundary meet their neighbours on both sides of it. ``coordinates``
    (``latlon``/``lonlat``) clusters points on the unit sphere (euclidean
    distance there grows with the great-circle distance); else the values are
    numbers, used unscaled. ``clusters`` is capped at the number of distinct
    points. The estimate follows :class:`SharedTokenRule`; ``contains`` compares
    assignments.
    """

    def __init__(
        self,
        align: Values,
        target: Values,
        *,
        clusters: int,
        nearest: int = 1,
        coordinates: str | None = None,
        seed: int = 0,
        label: str = "kmeans",
    ) -> None:
        fallback = 2 if coordinates is not None else _width(align) or _width(target) or 1
        pa, pb = _points(align, "align", fallback), _points(target, "target", fallback)
        if coordinates is not None:
            pa = _sphere(_coordinates(pa, coordinates, "align", align))
            pb = _sphere(_coordinates(pb, coordinates, "target", target))
        elif len(align) and len(target) and pa.shape[1] != pb.shape[1]:
            raise BlockingValueError(
                "target", 0, f"{pb.shape[1]} column(s) here, {pa.shape[1]} on the align side"
            )
        valid_a, valid_b = ~np.isnan(pa).any(axis=1), ~np.isnan(pb).any(axis=1)
        points = np.concatenate([pa[valid_a], pb[valid_b]])
        distinct = len(np.unique(points, axis=0)) if len(points) else 0
        k = min(clusters, distinct)
        notes: list[str] = []
        if 0 < k < clusters:
            notes.append(f"{label}: {clusters:,} clusters asked, {k:,} distinct points: {k:,} used")
        nearest = min(nearest, k)
        assign = np.full((max(nearest, 1), len(points)), -1, dtype=np.int64)
        centres = np.zeros((0, points.shape[1]))
        if k:
            from sklearn.cluster import MiniBatchKMeans
            from sklearn.neighbors import KDTree

            model = MiniBatchKMeans(
                n_clusters=k,
                random_state=seed,
                n_init=1,
                batch_size=min(4096, len(points)),
                compute_labels=False,
            )
            model.fit(points)
            centres = model.cluster_centers_
            # The nearest centroids of every point from a tree of the centroids: no
            # points x clusters distance matrix.
            chosen = KDTree(centres).query(points, k=nearest, return_distance=False)
            assign[:] = np.sort(chosen, axis=1).T
        self.assign_a = np.full((assign.shape[0], len(align)), -1, dtype=np.int64)
        self.assign_b = np.full((assign.shape[0], len(target)), -1, dtype=np.int64)
        self.assign_a[:, valid_a] = assign[:, : int(valid_a.sum())]
        self.assign_b[:, valid_b] = assign[:, int(valid_a.sum()) :]
        self.clusters, self.centres = k, centres

        def tokens(side: Ints) -> Any:
            valid = side[0] >= 0
            ptr = np.concatenate([[0], np.cumsum(np.where(valid, len(side), 0))]).astype(np.int64)
            return _binary(ptr, side[:, valid].T.ravel(), k)

        def name(cluster: int) -> str:
            centre = centres[cluster]
            if coordinates is not None:
                lat = math.degrees(
                    math.asin(max(-1.0, min(1.0, centre[2] / np.linalg.norm(centre))))
                )
                lon = math.degrees(math.atan2(centre[1], centre[0]))
                return f"cluster {cluster} near lat {lat:.4f}, lon {lon:.4f}"
            return f"cluster {cluster} around {', '.join(f'{x:g}' for x in centre)}"

        super().__init__(
            tokens(self.assign_a), tokens(self.assign_b), label=label, what="cluster", name=name
        )
        self.warnings = notes + self.warnings

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for slot_a in self.assign_a:  # nearest x nearest comparisons, vectorised over pairs
            ka = slot_a[ia]
            for slot_b in self.assign_b:
                out |= (ka >= 0) & (ka == slot_b[ib])
        return out


def _sphere(latlon: Floats) -> Floats:
    """Unit vectors of ``[lat, lon]`` radians (NaN rows stay NaN)."""
    lat, lon = latlon[:, 0], latlon[:, 1]
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)


# --------------------------------------------------------------------------- groups


class Union:
    """Pairs of any of the rules, each pair once: a rule drops what earlier rules produced.

    The estimate is the sum of the rules' estimates (an upper bound).
    """

    def __init__(self, rules: list[BlockingRule], *, label: str = "union") -> None:
        self.rules = rules
        self.label = label
        self.warnings = [w for rule in rules for w in rule.warnings]

    def estimate(self) -> int:
        return sum(rule.estimate() for rule in self.rules)

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        for position, rule in enumerate(self.rules):
            earlier = self.rules[:position]
            for ia, ib in rule.pairs(chunk):
                if earlier:
                    seen = np.zeros(len(ia), dtype=bool)
                    for other in earlier:
                        seen |= other.contains(ia, ib)
                    ia, ib = ia[~seen], ib[~seen]
                if len(ia):
                    yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for rule in self.rules:
            out |= rule.contains(ia, ib)
        return out


class Pipeline:
    """The pairs of the first rule that every following rule also contains.

    A cheap, coarse rule produces the pairs and each later rule refines them
    (a key on the postcode, then a q-gram or radius condition); the later rules
    only answer ``contains``. The estimate is the smallest of the rules'
    estimates (an upper bound: every pair is one of each rule's pairs).
    """

    def __init__(self, rules: list[BlockingRule], *, label: str = "pipeline") -> None:
        self.rules = rules
        self.label = label
        self.warnings = [w for rule in rules for w in rule.warnings]

    def estimate(self) -> int:
        return min(rule.estimate() for rule in self.rules)

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        first, *rest = self.rules
        for ia, ib in first.pairs(chunk):
            for rule in rest:
                keep = rule.contains(ia, ib)
                ia, ib = ia[keep], ib[keep]
            if len(ia):
                yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.ones(len(ia), dtype=bool)
        for rule in self.rules:
            out &= rule.contains(ia, ib)
        return out
