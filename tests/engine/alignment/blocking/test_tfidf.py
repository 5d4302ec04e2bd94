"""The TF-IDF rule against a brute-force cosine."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.alignment.blocking.tfidf import TfidfRule
from tests.engine.alignment.blocking.contract import (
    check,
    pairs_of,
    random_names,
)


@pytest.mark.parametrize(("top_k", "min_similarity"), [(1, 0.0), (3, 0.0), (5, 0.3)])
def test_tfidf_top_k_by_brute_force_cosine(top_k: int, min_similarity: float) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = random.Random(top_k)
    a, b = random_names(rng, 30), random_names(rng, 40)
    rule = TfidfRule(a, b, top_k=top_k, min_similarity=min_similarity)
    got = pairs_of(rule)
    assert got == sorted(got) and len(got) == len(set(got))
    # Brute force: dense cosine of every pair.
    rows_a = [i for i, k in enumerate(a) if k]
    rows_b = [j for j, k in enumerate(b) if k]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), lowercase=False)
    vectorizer.fit([a[i] for i in rows_a] + [b[j] for j in rows_b])
    va = vectorizer.transform([a[i] for i in rows_a]).toarray()
    vb = vectorizer.transform([b[j] for j in rows_b]).toarray()
    sims = np.zeros((len(a), len(b)))
    sims[np.ix_(rows_a, rows_b)] = va @ vb.T
    chosen: dict[int, set[int]] = {}
    for i, j in got:
        chosen.setdefault(i, set()).add(j)
    for i in range(len(a)):
        eligible = [j for j in range(len(b)) if sims[i, j] > 1e-12 and sims[i, j] >= min_similarity]
        mine = chosen.get(i, set())
        assert len(mine) == min(top_k, len(eligible))
        assert mine <= set(eligible)
        if mine:
            worst_kept = min(sims[i, j] for j in mine)
            best_left = max((sims[i, j] for j in eligible if j not in mine), default=-1.0)
            assert worst_kept >= best_left - 1e-9
    assert rule.estimate() == len(rows_a) * min(top_k, len(rows_b)) >= len(got)
    expected = set(got)
    check(rule, expected, len(a), len(b), exact=False)


def test_tfidf_finds_the_misspelt_name() -> None:
    a = ["jonathan smith", "mary o'brien", None]
    b = ["mary obrien", "jon smith", "jonathan smyth", "peter pan"]
    rule = TfidfRule(a, b, top_k=1)
    assert pairs_of(rule) == [(0, 2), (1, 0)]


def test_tfidf_without_any_ngram() -> None:
    rule = TfidfRule(["a"], ["b"], top_k=3, ngrams=(2, 3))
    assert pairs_of(rule) == [] and not rule.contains(np.array([0]), np.array([0])).any()


def _dense_top_k(rule: TfidfRule) -> list[tuple[int, int]]:
    """The pairs as the rule chose them from dense similarity blocks (its former way)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    keys_a = [str(rule.align[int(i)]) for i in rule.rows_a]
    keys_b = [str(rule.target[int(i)]) for i in rule.rows_b]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=rule.ngrams, lowercase=False)
    vectors = vectorizer.fit_transform(keys_a + keys_b).tocsr()
    va, vb = vectors[: len(keys_a)], vectors[len(keys_a) :].T.tocsr()
    sims = (va @ vb).toarray()
    keep = sims >= max(rule.min_similarity, 1e-12)
    k = min(rule.top_k, len(keys_b))
    if k < len(keys_b):
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]
        tied = sims == kth
        room = k - (sims > kth).sum(axis=1, keepdims=True)
        keep &= (sims > kth) | (tied & (np.cumsum(tied, axis=1) <= room))
    row, col = np.nonzero(keep)
    return list(zip(rule.rows_a[row].tolist(), rule.rows_b[col].tolist(), strict=True))


@pytest.mark.parametrize(("top_k", "min_similarity"), [(1, 0.0), (2, 0.0), (4, 0.2), (50, 0.0)])
def test_tfidf_sparse_top_k_keeps_what_dense_blocks_kept(
    top_k: int, min_similarity: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(40 + top_k)
    # Repeated and near-equal names: many exactly tied similarities at the k-th.
    pool = random_names(rng, 25)
    a = [rng.choice(pool) if rng.random() < 0.9 else None for _ in range(120)]
    b = [rng.choice(pool) if rng.random() < 0.9 else None for _ in range(90)]
    # Small chunks of align rows: the result cannot depend on how rows are grouped.
    monkeypatch.setattr("engine.alignment.blocking.tfidf.SIMILARITY_BUDGET", 64)
    rule = TfidfRule(a, b, top_k=top_k, min_similarity=min_similarity)
    assert pairs_of(rule) == _dense_top_k(
        TfidfRule(a, b, top_k=top_k, min_similarity=min_similarity)
    )
