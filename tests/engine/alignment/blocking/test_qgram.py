"""The q-gram rule against naive q-gram sets."""

from __future__ import annotations

import random

import pytest

from engine.alignment.blocking import qgram, tokens
from engine.alignment.blocking.qgram import QGramRule, qgrams
from tests.engine.alignment.blocking.contract import (
    WORDS,
    check,
    naive_qgrams,
    pairs_of,
    random_names,
)


def test_qgrams_of_a_key() -> None:
    assert qgrams("abcd", 3) == ["abc", "bcd"]
    assert qgrams("ab", 3) == ["ab"]
    assert qgrams("ab", 2, padding=True) == ["#a", "ab", "b#"]
    assert qgrams("aaaa", 2) == ["aa"]
    assert qgrams(None, 3) == [] and qgrams("", 3) == []


@pytest.mark.parametrize(
    ("q", "padding", "min_common"), [(2, False, 1), (2, True, 2), (3, False, 1), (3, True, 3)]
)
@pytest.mark.parametrize("prefix_filter", [False, True])
def test_qgram_rule_against_naive_overlap(
    q: int, padding: bool, min_common: int, prefix_filter: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The prefix filter (for min_common > 1) is used when it saves work; force either way.
    monkeypatch.setattr(tokens, "_VERIFY_COST", 0 if prefix_filter else 10**9)
    rng = random.Random(q * 10 + min_common)
    a, b = random_names(rng, 45), random_names(rng, 55)
    grams_a = [naive_qgrams(k, q, padding) for k in a]
    grams_b = [naive_qgrams(k, q, padding) for k in b]
    expected = {
        (i, j)
        for i, x in enumerate(grams_a)
        for j, y in enumerate(grams_b)
        if len(x & y) >= min_common
    }
    rule = QGramRule(a, b, q=q, padding=padding, min_common=min_common)
    assert rule.prefix_filter == (prefix_filter and min_common > 1)
    got = check(rule, expected, len(a), len(b))  # small: the estimate is counted exactly
    assert got == sorted(got), "pairs come sorted by align, then target index"
    assert rule.skipped == 0 and rule.warnings == []


def test_qgram_rule_skips_grams_over_max_block() -> None:
    rng = random.Random(3)
    a = [f"{rng.choice(WORDS)} street" for _ in range(30)] + [None]
    b = [f"{rng.choice(WORDS)} street" for _ in range(20)]
    rule = QGramRule(a, b, q=3, max_block=25, label="qgram on attribute address")
    common = naive_qgrams("street", 3, False) | {"rle", "ly ", " st"}
    grams_a = [naive_qgrams(k, 3, False) for k in a]
    grams_b = [naive_qgrams(k, 3, False) for k in b]
    skipped = {
        g
        for g in set().union(*grams_a)
        if sum(g in x for x in grams_a) > 25 or sum(g in y for y in grams_b) > 25
    }
    assert skipped and skipped <= common
    expected = {
        (i, j) for i, x in enumerate(grams_a) for j, y in enumerate(grams_b) if (x & y) - skipped
    }
    check(rule, expected, len(a), len(b))
    assert rule.skipped == len(skipped)
    assert "qgram on attribute address: skipped" in rule.warnings[0]
    assert "more than 25 records" in rule.warnings[0]


def test_qgram_estimate_is_a_bound_above_the_exact_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "EXACT_COUNT_LIMIT", 0)
    rng = random.Random(8)
    a, b = random_names(rng, 40), random_names(rng, 40)
    rule = QGramRule(a, b, q=2)
    exact = len(pairs_of(rule))
    assert rule.estimate() >= exact
    assert rule.estimate() == int(rule.bound.sum())


@pytest.mark.parametrize(("q", "padding"), [(1, False), (2, True), (3, False), (4, True)])
def test_the_vectorised_qgrams_are_the_reference_ones(q: int, padding: bool) -> None:
    keys = ["ab", "Hélène Łódź", "x", "aaaa", "naïve café 🙂🙂", "abc", "a b"]
    table = qgram.gram_table(keys, q, padding)
    for row, key in enumerate(keys):
        ids = table.indices[table.indptr[row] : table.indptr[row + 1]]
        assert sorted(table.name(int(g)) for g in ids) == sorted(qgrams(key, q, padding))
    assert table.indptr[-1] == table.indptr[-2]  # the last row: a missing key, no grams
    hashes = table.hashes()
    assert len(set(hashes.tolist())) == table.n_grams  # distinct grams, distinct hashes here
