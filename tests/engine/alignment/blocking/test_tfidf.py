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
