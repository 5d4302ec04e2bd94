"""The TF-IDF rule: each align record meets its most similar target records (cosine)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    Bools,
    Floats,
    Ints,
    Keys,
    RuleKind,
    Values,
    budget_text,
    input_text,
    no_pairs,
    slices,
)
from engine.alignment.blocking.registry import RULES
from engine.registry import Example

__all__ = ["SIMILARITY_BUDGET", "TfidfRule"]

#: Stored similarities of a chunk of align rows (a bound on each row's, summed): memory.
SIMILARITY_BUDGET = 1 << 22


def _kth_largest(sims: Floats, indptr: Ints, rows: Ints, k: int) -> Floats:
    """The k-th largest value (repeats counted) of each of ``rows`` (each longer than k).

    At most k passes over the rows' entries, each taking the largest value left
    and counting the entries at or above it: no sort of the similarities.
    """
    lengths = indptr[rows + 1] - indptr[rows]
    starts = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    take = np.repeat(indptr[rows] - starts, lengths) + np.arange(int(lengths.sum()))
    values = sims[take]
    left = values.copy()
    out = np.full(len(rows), np.nan)
    done = np.zeros(len(rows), dtype=bool)
    for _ in range(k):
        largest = np.maximum.reduceat(left, starts)
        bar = np.repeat(largest, lengths)
        reached = np.add.reduceat((values >= bar).astype(np.int64), starts) >= k
        out[reached & ~done] = largest[reached & ~done]
        done |= reached
        if done.all():
            break
        left[left >= bar] = -np.inf
    return out


def _product_bound(va: Any, vb: Any) -> Ints:
    """Per align row, a bound on its stored similarities: its n-grams' target counts, summed."""
    counts = np.diff(vb.indptr).astype(np.int64)  # vb is n-grams x targets
    present = va.copy()
    present.data = np.ones_like(present.data)
    bound: Ints = np.asarray(present @ counts).ravel().astype(np.int64)
    return np.minimum(bound, int(vb.shape[1]))


@RULES.register(
    "tfidf",
    # The misspelt name's closest target is the right one.
    Example(
        (["jonathan smith", "mary jones"], ["jonathon smith", "maria jones", "peter brown"]),
        [(0, 0), (1, 1)],
        {"attribute": "name", "top_k": 1},
    ),
    Example(
        (["anna", None], ["anna", "hanna", "zed"]),
        [(0, 0), (0, 1)],
        {"attribute": "name", "top_k": 2, "min_similarity": 0.1},
    ),
)
class TfidfRule(RuleKind):
    """Each align record meets its ``top_k`` most similar target records (TF-IDF cosine).

    Vectors are TF-IDF weights of character n-grams within words (``char_wb``,
    ``ngrams``), fitted on both sides' keys; n-grams in more than ``max_df`` of
    the keys are left out (below 1, a speed-up: they pair almost everything).
    Similarities come from sparse dot products, a chunk of align rows at a time
    (about ``SIMILARITY_BUDGET`` stored similarities, never a dense block); only
    targets with a positive similarity ``>= min_similarity`` are kept, ties
    broken by the lower target index. The pairs (at most
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
        self._pairs = no_pairs()
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
        found_a: list[Ints] = []
        found_b: list[Ints] = []
        for start, stop in slices(_product_bound(va, vb), SIMILARITY_BUDGET):
            row, col = self._top_k(va[start:stop] @ vb)
            found_a.append(self.rows_a[start + row])
            found_b.append(self.rows_b[col])
        self._pairs = (np.concatenate(found_a), np.concatenate(found_b))
        return self._pairs

    def _top_k(self, product: Any) -> tuple[Ints, Ints]:
        """Each row's ``top_k`` entries of a sparse similarity product at or over the floor.

        Only the positive similarities are stored (no n x m block). A row with no
        more than ``top_k`` of them keeps them all; otherwise those above its k-th
        largest, and of those equal to it the ones of lowest target index (the
        row's columns are sorted) up to ``top_k``. Sorted by row, then column.
        """
        product = product.tocsr()
        product.sum_duplicates()  # canonical: columns sorted within each row
        k = self.top_k
        sims, indptr = product.data, product.indptr.astype(np.int64)
        lengths = np.diff(indptr)
        kth = np.full(len(lengths), -np.inf)  # rows of at most k entries keep them all
        big = np.flatnonzero(lengths > k)
        if len(big):
            kth[big] = _kth_largest(sims, indptr, big, k)
        row = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        bar = kth[row]
        above, tied = sims > bar, sims == bar
        room = k - np.bincount(row[above], minlength=len(lengths))
        # The rank of each tied entry within its row, in column order.
        ties = np.cumsum(tied)
        before = np.concatenate([[0], ties])[indptr[:-1]]
        rank = ties - before[row]
        keep = (above | (tied & (rank <= room[row]))) & (sims >= max(self.min_similarity, 1e-12))
        return row[keep], product.indices[keep].astype(np.int64)

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

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> TfidfRule:
        return cls(
            align,
            target,
            top_k=options.top_k,
            min_similarity=options.min_similarity,
            ngrams=options.ngrams,
            max_df=options.max_df,
            label=label,
        )

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        low, high = options.ngrams
        text = input_text(name, options) + f", top {options.top_k} by char {low}-{high}-gram cosine"
        if options.min_similarity:
            text += f" >= {options.min_similarity:g}"
        if options.max_df < 1:
            text += f", max_df {options.max_df:g}"
        return text + budget_text(options)
