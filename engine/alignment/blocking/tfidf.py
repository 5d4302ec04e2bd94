"""The TF-IDF rule: each align record meets its most similar target records (cosine)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    Bools,
    Ints,
    Keys,
    RuleKind,
    Values,
    budget_text,
    input_text,
    no_pairs,
)
from engine.alignment.blocking.registry import RULES
from engine.registry import Example

__all__ = ["SIMILARITY_BUDGET", "TfidfRule"]

#: Entries of a similarity chunk (align rows x target records): a bound on memory.
SIMILARITY_BUDGET = 1 << 22


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
