"""String metrics: the vectorised and table paths against naive code."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from engine.alignment.metrics import distance, distance_matrix, strings


def _nazca_tokens(a: str, b: str) -> float:
    """Nazca 3's _handlespaces with Levenshtein, written plainly."""
    ta, tb = a.split(), b.split()
    size = max(len(ta), len(tb), 1)
    ta += [""] * (size - len(ta))
    tb += [""] * (size - len(tb))
    m = np.array([[Levenshtein.distance(x, y) for y in tb] for x in ta])
    return float(max(m.min(axis=1).max(), m.min(axis=0).max()))


def test_token_aware_matches_naive_implementation() -> None:
    rng = random.Random(7)
    words = ["paul", "dupont", "dupond", "jean", "marie", "de", "la", "x", "hugo", "victor"]
    values = [" ".join(rng.choices(words, k=rng.randint(1, 4))) for _ in range(60)]
    matrix = distance_matrix("levenshtein", values[:30], values[30:])
    expected = [[_nazca_tokens(a, b) for b in values[30:]] for a in values[:30]]
    assert matrix.tolist() == expected


@pytest.mark.parametrize(
    "name", ["levenshtein", "jaro_winkler", "exact", "jaccard", "soundex", "ratio", "difflib"]
)
def test_missing_values_give_nan(name: str) -> None:
    matrix = distance_matrix(name, ["abc", None], ["abd", None])
    assert not np.isnan(matrix[0, 0])
    assert np.isnan(matrix[0, 1]) and np.isnan(matrix[1, 0]) and np.isnan(matrix[1, 1])


def test_distinct_value_table_and_direct_paths_agree() -> None:
    # Few distinct values (table path) vs many (direct path) give the same distances.
    rng = random.Random(3)
    few = [rng.choice(["nsw", "vic", "qld"]) for _ in range(50)]
    many = ["".join(rng.choices("abcdef", k=6)) for _ in range(50)]
    for name in ("levenshtein", "jaro_winkler", "jaccard", "difflib"):
        table = distance_matrix(name, few, few)
        direct = distance_matrix(name, many, many)
        for matrix, values in ((table, few), (direct, many)):
            for i in (0, 7, 49):
                for j in (0, 13, 48):
                    assert matrix[i, j] == pytest.approx(distance(name, values[i], values[j]))


def test_jaccard_matches_sets() -> None:
    rng = random.Random(11)
    words = ["a", "b", "c", "d", "e"]
    values = [" ".join(rng.choices(words, k=rng.randint(1, 4))) for _ in range(40)]
    matrix = distance_matrix("jaccard", values[:20], values[20:])
    for i, a in enumerate(values[:20]):
        for j, b in enumerate(values[20:]):
            sa, sb = set(a.split()), set(b.split())
            assert matrix[i, j] == pytest.approx(1 - len(sa & sb) / len(sa | sb))


def test_soundex_never_raises_on_awkward_names() -> None:
    names = ["Hélène", "Jean-Paul", "O'Brien", "D'Artagnan", "123", "Zoë 2"]
    matrix = distance_matrix("soundex", names, names)
    assert np.all(np.diag(matrix)[:3] == 0)


def test_distinct_value_tables_give_the_pair_results() -> None:
    rng = random.Random(9)
    values = ["".join(rng.choices("abcde", k=rng.randint(0, 6))) or None for _ in range(60)]
    for name, options in (
        ("levenshtein", {"tokens": False}),
        ("levenshtein", {"normalised": True}),
        ("jaro_winkler", {}),
        ("ratio", {}),
    ):
        with_tables = distance_matrix(name, values, values[::-1], options)
        strings.clear_tables()
        saved = strings.TABLE_CELLS
        strings.TABLE_CELLS = 0  # pairs only
        try:
            without = distance_matrix(name, values, values[::-1], options)
        finally:
            strings.TABLE_CELLS = saved
        assert np.array_equal(with_tables, without, equal_nan=True), name
