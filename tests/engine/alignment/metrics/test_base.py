"""Metrics: worked examples, the reference matrices, and the vectorised paths against naive code."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein

from engine.alignment.metrics import METRICS, distance, distance_matrix
from schemas.alignment import METRICS as SCHEMA_METRICS

EXAMPLES = [(entry.name, example) for entry in METRICS for example in entry.examples]


def test_every_schema_metric_is_implemented() -> None:
    assert METRICS.names() == sorted(SCHEMA_METRICS)


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[f"{n}-{e.args}" for n, e in EXAMPLES])
def test_worked_example(name: str, example: Any) -> None:
    got = distance(name, example.args[0], example.args[1], example.options)
    tolerance = 0.5 if name == "geographic" else 1e-9
    assert got == pytest.approx(example.expected, abs=tolerance)


ALIGN = [
    ("Paul Dupont", "14-08-1991", "Paris"),
    ("Jacques Dupuis", "06-01-1999", "Bressuire"),
    ("Michel Edouard", "18-04-1881", "Nantes"),
]
TARGET = [
    ("Dupond Paul", "14/08/1991", "Paris"),
    ("Edouard Michel", "18/04/1881", "Nantes"),
    ("Dupuis Jacques ", "06/01/1999", "Bressuire"),
    ("Dupont Paul", "01-12-2012", "Paris"),
]


def _column(rows: list[tuple[str, str, str]], index: int) -> list[str | None]:
    return [row[index] for row in rows]


def test_reference_matrices() -> None:
    """The three matrices and the global matrix of the Nazca blog post, exactly."""
    names = distance_matrix("levenshtein", _column(ALIGN, 0), _column(TARGET, 0))
    dates = distance_matrix(
        "temporal", _column(ALIGN, 1), _column(TARGET, 1), {"unit": "days", "dayfirst": True}
    )
    cities = distance_matrix("levenshtein", _column(ALIGN, 2), _column(TARGET, 2))
    assert names.tolist() == [[1, 6, 5, 0], [5, 6, 0, 5], [6, 0, 6, 6]]
    assert dates.tolist() == [
        [0, 40294, 2702, 7780],
        [2702, 42996, 0, 5078],
        [40294, 0, 42996, 48074],
    ]
    assert cities.tolist() == [[0, 4, 8, 0], [8, 9, 0, 8], [4, 0, 9, 4]]
    assert (names + dates + cities).tolist() == [
        [1, 40304, 2715, 7780],
        [2715, 43011, 0, 5091],
        [40304, 0, 43011, 48084],
    ]


def test_writers_matrix() -> None:
    matrix = distance_matrix(
        "levenshtein",
        ["Victor Hugo", "Albert Camus"],
        ["Albert Camus", "Guillaume Apollinaire", "Victor Hugo"],
    )
    assert matrix.tolist() == [[6, 9, 0], [0, 8, 6]]


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


def test_bounded() -> None:
    from schemas.alignment import EditOptions, TemporalOptions

    assert not METRICS["levenshtein"].func().bounded(EditOptions())
    assert METRICS["levenshtein"].func().bounded(EditOptions(normalised=True))
    assert not METRICS["temporal"].func().bounded(TemporalOptions())
    assert METRICS["temporal"].func().bounded(TemporalOptions(scale=365))
    assert METRICS["jaro_winkler"].func().bounded(None)


def test_scale_caps_numeric_distances() -> None:
    assert distance("temporal", "2000-01-01", "2010-01-01", {"unit": "years", "scale": 5}) == 1.0
    assert distance("euclidean", "1", "2", {"scale": 4}) == 0.25


def test_distinct_value_tables_give_the_pair_results() -> None:
    from engine.alignment import metrics

    rng = random.Random(9)
    values = ["".join(rng.choices("abcde", k=rng.randint(0, 6))) or None for _ in range(60)]
    for name, options in (
        ("levenshtein", {"tokens": False}),
        ("levenshtein", {"normalised": True}),
        ("jaro_winkler", {}),
        ("ratio", {}),
    ):
        with_tables = distance_matrix(name, values, values[::-1], options)
        metrics.clear_tables()
        saved = metrics.TABLE_CELLS
        metrics.TABLE_CELLS = 0  # pairs only
        try:
            without = distance_matrix(name, values, values[::-1], options)
        finally:
            metrics.TABLE_CELLS = saved
        assert np.array_equal(with_tables, without, equal_nan=True), name
