"""String metrics: edit distances (token-aware like Nazca), Jaro-Winkler, ratio, soundex,
exact, difflib and Jaccard, on distinct values with rapidfuzz."""

from __future__ import annotations

import difflib as _difflib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Indel, JaroWinkler, Levenshtein

from engine.alignment.metrics.base import METRICS, Bad, Value, scalar_strings
from engine.alignment.normalise import NORMALISERS as _NORMALISERS
from engine.registry import Example

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["StringColumn", "clear_tables", "factorize"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: From this many pairs on, distinct value pairs are found first (a sort costs less
#: than comparing the repeats again).
_DEDUP_MIN = 4096
#: Pairs evaluated at once inside one metric call; bounds temporary memory.
_CHUNK = 1 << 20
#: Token pairs expanded at once by the token-aware metrics (about 100 MB of temporaries).
_TOKEN_BUDGET = 1 << 21


@dataclass(frozen=True)
class StringColumn:
    """Distinct values and, per record, the code of its value (-1 when missing)."""

    codes: Ints
    uniques: npt.NDArray[np.object_]


def factorize(values: Sequence[Value]) -> StringColumn:
    """Codes of the distinct values, in order of first appearance; missing -> -1."""
    # dict.fromkeys and map run in C: several times faster than a setdefault per value.
    distinct = dict.fromkeys(values)
    distinct.pop(None, None)
    index: dict[Value, int] = {v: i for i, v in enumerate(distinct)}
    index[None] = -1
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    uniques = np.empty(len(distinct), dtype=object)
    uniques[:] = list(distinct)
    return StringColumn(codes, uniques)


def _on_distinct(
    a: StringColumn,
    b: StringColumn,
    ia: Ints,
    ib: Ints,
    fn: Callable[[npt.NDArray[np.int64], npt.NDArray[np.int64]], Floats],
) -> Floats:
    """Evaluate ``fn`` on value codes, once per distinct value pair where that pays.

    When the distinct values on both sides are fewer than the pairs (a state,
    a postcode...), the whole small matrix of distinct values is computed and
    looked up; otherwise ``fn`` runs on the pairs directly.
    """
    ca, cb = a.codes[ia], b.codes[ib]
    out = np.full(len(ia), np.nan)
    valid = (ca >= 0) & (cb >= 0)
    if not valid.any():
        return out
    ca, cb = ca[valid], cb[valid]
    na, nb = len(a.uniques), len(b.uniques)
    if na * nb <= len(ca) and na * nb <= 1 << 26:
        ga = np.repeat(np.arange(na, dtype=np.int64), nb)
        gb = np.tile(np.arange(nb, dtype=np.int64), na)
        table = fn(ga, gb)
        out[valid] = table[ca * nb + cb]
    elif len(ca) >= _DEDUP_MIN:
        # Candidate pairs repeat value pairs (a common first name meets the same
        # names in many blocks): compare each distinct value pair once.
        keys, inverse = np.unique(ca * nb + cb, return_inverse=True)
        if len(keys) < 0.8 * len(ca):
            out[valid] = fn(keys // nb, keys % nb)[inverse.ravel()]
        else:
            out[valid] = fn(ca, cb)
    else:
        out[valid] = fn(ca, cb)
    return out


#: Largest table of distances between all distinct values of both sides (cells).
TABLE_CELLS = 1 << 24
_TABLES: dict[tuple[Any, ...], tuple[StringColumn, StringColumn, Floats]] = {}
_TABLES_LOCK = threading.Lock()


def _table(
    a: StringColumn, b: StringColumn, scorer: Any, kwargs: dict[str, Any] | None, pairs: int
) -> Floats | None:
    """Distances between every distinct value of both sides, computed once per run.

    rapidfuzz's ``cdist`` fills such a table tens of times faster per cell than
    ``cpdist`` compares pairs; a table is worth it when the distinct values are
    few next to the pairs (first names, suburbs, states), and it then serves every
    chunk. None when it would be too large.
    """
    cells = len(a.uniques) * len(b.uniques)
    if not cells or cells > TABLE_CELLS or cells > 64 * pairs:
        return None
    key = (id(a), id(b), scorer, tuple(sorted((kwargs or {}).items())))
    with _TABLES_LOCK:
        hit = _TABLES.get(key)
        if hit is None:
            matrix = process.cdist(
                a.uniques,
                b.uniques,
                scorer=scorer,
                scorer_kwargs=kwargs,
                dtype=np.float64,
                workers=-1,
            )
            # Holding a and b keeps their ids from being reused by other columns.
            hit = _TABLES[key] = (a, b, matrix)
    return hit[2]


def _lookup(table: Floats, a: StringColumn, b: StringColumn, ia: Ints, ib: Ints) -> Floats:
    ca, cb = a.codes[ia], b.codes[ib]
    out = np.full(len(ia), np.nan)
    valid = (ca >= 0) & (cb >= 0)
    out[valid] = table[ca[valid], cb[valid]]
    return out


def clear_tables() -> None:
    """Forget the distinct-value tables (the compare stage calls it after a run)."""
    with _TABLES_LOCK:
        _TABLES.clear()


def _pairwise(scorer: Any, kwargs: dict[str, Any] | None = None) -> Callable[..., Floats]:
    def run(ua: npt.NDArray[np.object_], ub: npt.NDArray[np.object_]) -> Floats:
        out = np.empty(len(ua), dtype=np.float64)
        for start in range(0, len(ua), _CHUNK):
            stop = start + _CHUNK
            out[start:stop] = process.cpdist(
                ua[start:stop],
                ub[start:stop],
                scorer=scorer,
                scorer_kwargs=kwargs,
                dtype=np.float64,
                workers=-1,
            )
        return out

    return run


def _token_table(col: StringColumn) -> tuple[Ints, Ints, npt.NDArray[np.object_]]:
    """Per distinct value: offset and count of its whitespace tokens, and all tokens."""
    tokens = [v.split() for v in col.uniques]
    counts = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    offsets = np.zeros(len(tokens), dtype=np.int64)
    if len(tokens):
        np.cumsum(counts[:-1], out=offsets[1:])
    flat = np.empty(int(counts.sum()) + 1, dtype=object)
    flat[:-1] = [t for ts in tokens for t in ts]
    flat[-1] = ""  # the padding token, at index len(flat) - 1
    return offsets, counts, flat


def _token_aware(
    pair_distance: Callable[[npt.NDArray[np.object_], npt.NDArray[np.object_]], Floats],
    ta: tuple[Ints, Ints, npt.NDArray[np.object_]],
    tb: tuple[Ints, Ints, npt.NDArray[np.object_]],
    ca: Ints,
    cb: Ints,
) -> Floats:
    """Nazca's multi-word distance, vectorised over all pairs.

    Each value is split into tokens; the shorter list is padded with empty
    tokens; the distance is the largest of the row minima and column minima of
    the token distance matrix, so word order does not count and both sides are
    treated alike ("Paul Dupont" vs "Dupond Paul" = 1).
    """
    off_a, cnt_a, tok_a = ta
    off_b, cnt_b, tok_b = tb
    na, nb = cnt_a[ca], cnt_b[cb]
    m = np.maximum(np.maximum(na, nb), 1)
    size = m * m
    starts = np.zeros(len(m), dtype=np.int64)
    np.cumsum(size[:-1], out=starts[1:])
    total = int(size.sum())
    pair = np.repeat(np.arange(len(m), dtype=np.int64), size)
    local = np.arange(total, dtype=np.int64) - starts[pair]
    mp = m[pair]
    i, j = local // mp, local % mp
    pad_a, pad_b = len(tok_a) - 1, len(tok_b) - 1
    sa = np.where(i < na[pair], off_a[ca][pair] + i, pad_a)
    sb = np.where(j < nb[pair], off_b[cb][pair] + j, pad_b)
    d = pair_distance(tok_a[sa], tok_b[sb])
    # Rows (fixed i) are contiguous; columns are gathered by swapping i and j.
    row_min = np.minimum.reduceat(d, np.arange(0, total, dtype=np.int64)[j == 0])
    col_order = starts[pair] + j * mp + i
    col_min = np.minimum.reduceat(d[col_order], np.arange(0, total, dtype=np.int64)[j == 0])
    group = np.zeros(len(m), dtype=np.int64)
    np.cumsum(m[:-1], out=group[1:])
    worst_row: Floats = np.maximum.reduceat(row_min, group)
    worst_col: Floats = np.maximum.reduceat(col_min, group)
    return np.maximum(worst_row, worst_col)


_NO_TOKENS = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.empty(0, object))


@dataclass(frozen=True)
class _TokenColumn:
    column: StringColumn
    tokens: tuple[Ints, Ints, npt.NDArray[np.object_]]


class _EditMetric:
    """Shared code of the edit distances (token-aware like Nazca, or whole values)."""

    scorer: Any
    name: str

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> _TokenColumn:
        column = factorize(scalar_strings(values, self.name))
        tokens = _token_table(column) if self._tokens(options) else _NO_TOKENS
        return _TokenColumn(column, tokens)

    def _tokens(self, options: Any) -> bool:
        return bool(getattr(options, "tokens", False))

    def _scorer(self, options: Any) -> tuple[Any, dict[str, Any] | None]:
        return (
            self.scorer.normalized_distance if options.normalised else self.scorer.distance
        ), None

    def compute(self, a: _TokenColumn, b: _TokenColumn, ia: Ints, ib: Ints, options: Any) -> Floats:
        scorer, kwargs = self._scorer(options)
        run = _pairwise(scorer, kwargs)
        if self._tokens(options):

            def fn(ca: Ints, cb: Ints) -> Floats:
                # Each pair expands to (tokens)^2 token pairs: slice by that cost so
                # memory stays bounded whatever the length of the values.
                size = np.maximum(np.maximum(a.tokens[1][ca], b.tokens[1][cb]), 1)
                ends = np.cumsum(size * size)
                out = np.empty(len(ca))
                start = 0
                while start < len(ca):
                    base = ends[start - 1] if start else 0
                    stop = max(int(np.searchsorted(ends, base + _TOKEN_BUDGET, "right")), start + 1)
                    out[start:stop] = _token_aware(
                        run, a.tokens, b.tokens, ca[start:stop], cb[start:stop]
                    )
                    start = stop
                return out

        else:

            def fn(ca: Ints, cb: Ints) -> Floats:
                return run(a.column.uniques[ca], b.column.uniques[cb])

        single = not self._tokens(options) or (
            a.tokens[1].max(initial=0) <= 1 and b.tokens[1].max(initial=0) <= 1
        )
        if single:
            table = _table(a.column, b.column, scorer, kwargs, len(ia))
            if table is not None:
                return _lookup(table, a.column, b.column, ia, ib)
        return _on_distinct(a.column, b.column, ia, ib, fn)

    def bounded(self, options: Any) -> bool:
        return bool(getattr(options, "normalised", True))

    def block(
        self, a: _TokenColumn, b: _TokenColumn, rows_a: Ints, rows_b: Ints, options: Any
    ) -> Floats | None:
        if self._tokens(options):
            # Token-aware values reduce to the plain distance only when single-token.
            ca, cb = a.column.codes[rows_a], b.column.codes[rows_b]
            if (a.tokens[1][ca[ca >= 0]] > 1).any() or (b.tokens[1][cb[cb >= 0]] > 1).any():
                return None
        scorer, kwargs = self._scorer(options)
        return _distinct_cdist(a.column, b.column, rows_a, rows_b, scorer, kwargs)


@METRICS.register(
    "levenshtein",
    Example(("Paul Dupont", "Dupond Paul"), 1),
    Example(("Victor Hugo", "Albert Camus"), 6),
    Example(("Victor Hugo", "Victor Jean Hugo"), 4),
    Example(("Paris", "Bressuire"), 8),
    Example(("kitten", "sitting"), 3, {"tokens": False}),
    Example(("abcd", "abcf"), 0.25, {"normalised": True}),
)
class LevenshteinMetric(_EditMetric):
    """Levenshtein edit distance; token-aware like Nazca unless ``tokens: false``."""

    scorer = Levenshtein
    name = "levenshtein"


@METRICS.register(
    "damerau_levenshtein",
    Example(("abcd", "acbd"), 1),
    Example(("ca", "abc"), 2, {"tokens": False}),
)
class DamerauLevenshteinMetric(_EditMetric):
    """Damerau-Levenshtein distance (a transposition costs 1); token-aware by default."""

    scorer = DamerauLevenshtein
    name = "damerau_levenshtein"


@METRICS.register(
    "jaro_winkler",
    Example(("martha", "marhta"), 0.0388888888888889),
    Example(("same", "same"), 0.0),
)
class JaroWinklerMetric(_EditMetric):
    """Jaro-Winkler distance: 1 - similarity, in [0, 1]."""

    scorer = JaroWinkler
    name = "jaro_winkler"

    def _scorer(self, options: Any) -> tuple[Any, dict[str, Any] | None]:
        return JaroWinkler.normalized_distance, {"prefix_weight": options.prefix_weight}

    def bounded(self, options: Any) -> bool:
        return True


@METRICS.register(
    "ratio",
    Example(("abcd", "abce"), 0.25),
)
class RatioMetric(_EditMetric):
    """1 - normalised Indel similarity (rapidfuzz's fast equivalent of a difflib ratio)."""

    scorer = Indel
    name = "ratio"

    def _scorer(self, options: Any) -> tuple[Any, dict[str, Any] | None]:
        return Indel.normalized_distance, None

    def bounded(self, options: Any) -> bool:
        return True


@METRICS.register(
    "soundex",
    Example(("Robert", "Rupert"), 0),
    Example(("Robert", "Robin"), 1),
    Example(("Jean-Paul Martin", "Martin Jean Paul"), 0),
    Example(("Hélène", "Helene"), 0),
)
class SoundexMetric(_EditMetric):
    """0 when the (per-token) soundex codes agree, else 1; ``language: en|fr``."""

    scorer = Levenshtein
    name = "soundex"

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> _TokenColumn:
        codes: dict[str, str | None] = {}
        encode = _NORMALISERS["soundex"].func  # one code per token
        for v in scalar_strings(values, self.name):
            if v is not None and v not in codes:
                codes[v] = encode(v, options) or None
        coded = [None if v is None else codes[v] for v in values]  # type: ignore[index]
        return super().prepare(coded, options)

    def _tokens(self, options: Any) -> bool:
        return True

    def compute(self, a: _TokenColumn, b: _TokenColumn, ia: Ints, ib: Ints, options: Any) -> Floats:
        # Codes are equal exactly when their edit distance is 0; clip to 0/1.
        d = super().compute(a, b, ia, ib, _RAW)
        return np.minimum(d, 1.0)

    def block(
        self, a: _TokenColumn, b: _TokenColumn, rows_a: Ints, rows_b: Ints, options: Any
    ) -> Floats | None:
        d = super().block(a, b, rows_a, rows_b, _RAW)
        return None if d is None else np.minimum(d, 1.0)

    def bounded(self, options: Any) -> bool:
        return True


@dataclass(frozen=True)
class _RawEdit:
    normalised: bool = False
    tokens: bool = True


_RAW = _RawEdit()


@METRICS.register(
    "exact",
    Example(("0800", "0800"), 0),
    Example(("0800", "800"), 1),
)
class ExactMetric:
    """0 when the values are equal, else 1."""

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> StringColumn:
        return factorize(scalar_strings(values, "exact"))

    def compute(self, a: StringColumn, b: StringColumn, ia: Ints, ib: Ints, options: Any) -> Floats:
        ca, cb = a.codes[ia], b.codes[ib]
        out: Floats = np.full(len(ia), np.nan)
        valid = (ca >= 0) & (cb >= 0)
        out[valid] = a.uniques[ca[valid]] != b.uniques[cb[valid]]
        return out

    def block(
        self, a: StringColumn, b: StringColumn, rows_a: Ints, rows_b: Ints, options: Any
    ) -> Floats:
        ca, cb = a.codes[rows_a], b.codes[rows_b]
        va, vb = np.empty(len(ca), dtype=object), np.empty(len(cb), dtype=object)
        va[ca >= 0] = a.uniques[ca[ca >= 0]]
        vb[cb >= 0] = b.uniques[cb[cb >= 0]]
        out: Floats = (va[:, None] != vb[None, :]).astype(np.float64)
        out[(ca < 0)[:, None] | (cb < 0)[None, :]] = np.nan
        return out

    def bounded(self, options: Any) -> bool:
        return True


@METRICS.register(
    "difflib",
    Example(("abcd", "bcde"), 0.25),
)
class DifflibMetric:
    """1 - difflib.SequenceMatcher ratio (Nazca's difflib_match); Python speed, per distinct pair."""

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> StringColumn:
        return factorize(scalar_strings(values, "difflib"))

    def compute(self, a: StringColumn, b: StringColumn, ia: Ints, ib: Ints, options: Any) -> Floats:
        def fn(ca: Ints, cb: Ints) -> Floats:
            # No C implementation of Ratcliff/Obershelp exists; keys are deduplicated
            # so each distinct value pair runs once.
            keys, inverse = np.unique(ca * len(b.uniques) + cb, return_inverse=True)
            ua, ub = a.uniques[keys // len(b.uniques)], b.uniques[keys % len(b.uniques)]
            values = np.fromiter(
                (
                    1.0 - _difflib.SequenceMatcher(None, x, y).ratio()
                    for x, y in zip(ua, ub, strict=True)
                ),
                dtype=np.float64,
                count=len(keys),
            )
            result: Floats = values[inverse.ravel()]
            return result

        return _on_distinct(a, b, ia, ib, fn)

    def bounded(self, options: Any) -> bool:
        return True


@METRICS.register(
    "jaccard",
    Example(("victor hugo", "hugo victor"), 0.0),
    Example(("a b c", "a b d"), 0.5),
)
class JaccardMetric:
    """1 - |A ∩ B| / |A ∪ B| on the sets of whitespace tokens."""

    def prepare(
        self, values: Sequence[Value], options: Any, bad: Bad = None
    ) -> tuple[StringColumn, list[list[str]]]:
        column = factorize(scalar_strings(values, "jaccard"))
        return column, [sorted(set(v.split())) for v in column.uniques]

    def compute(self, a: Any, b: Any, ia: Ints, ib: Ints, options: Any) -> Floats:
        (col_a, tok_a), (col_b, tok_b) = a, b
        vocab: dict[str, int] = {}
        ma, mb = _binary_rows(tok_a, vocab), _binary_rows(tok_b, vocab)
        ma.resize((ma.shape[0], len(vocab)))
        mb.resize((mb.shape[0], len(vocab)))
        size_a = np.asarray(ma.getnnz(axis=1), dtype=np.float64)
        size_b = np.asarray(mb.getnnz(axis=1), dtype=np.float64)

        def fn(ca: Ints, cb: Ints) -> Floats:
            out = np.empty(len(ca))
            for s in range(0, len(ca), _CHUNK):
                x, y = ca[s : s + _CHUNK], cb[s : s + _CHUNK]
                inter = np.asarray(ma[x].multiply(mb[y]).sum(axis=1)).ravel()
                union = size_a[x] + size_b[y] - inter
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[s : s + _CHUNK] = np.where(union > 0, 1.0 - inter / union, 0.0)
            return out

        return _on_distinct(col_a, col_b, ia, ib, fn)

    def bounded(self, options: Any) -> bool:
        return True


def _binary_rows(token_lists: list[list[str]], vocab: dict[str, int]) -> sparse.csr_matrix:
    from scipy import sparse  # lazily: only jaccard needs it (start-up time)

    indptr = np.zeros(len(token_lists) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in token_lists], out=indptr[1:])
    indices = np.fromiter(
        (vocab.setdefault(t, len(vocab)) for ts in token_lists for t in ts),
        dtype=np.int64,
        count=int(indptr[-1]),
    )
    data = np.ones(len(indices), dtype=np.float64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(token_lists), max(len(vocab), 1)))


def _distinct_cdist(
    a: StringColumn,
    b: StringColumn,
    rows_a: Ints,
    rows_b: Ints,
    scorer: Any,
    kwargs: dict[str, Any] | None,
) -> Floats:
    """cdist on the distinct values of a block, spread back to its cells (NaN: missing)."""
    ca, cb = a.codes[rows_a], b.codes[rows_b]
    out = np.full((len(rows_a), len(rows_b)), np.nan)
    va, vb = ca >= 0, cb >= 0
    if not va.any() or not vb.any():
        return out
    ua, inv_a = np.unique(ca[va], return_inverse=True)
    ub, inv_b = np.unique(cb[vb], return_inverse=True)
    matrix = process.cdist(
        a.uniques[ua],
        b.uniques[ub],
        scorer=scorer,
        scorer_kwargs=kwargs,
        dtype=np.float64,
        workers=1,
    )
    out[np.ix_(np.flatnonzero(va), np.flatnonzero(vb))] = matrix[
        np.ix_(inv_a.ravel(), inv_b.ravel())
    ]
    return out
