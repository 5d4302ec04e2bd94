"""The table of metrics: worked examples, the reference matrices, bounds."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_bounded() -> None:
    from schemas.alignment import EditOptions, TemporalOptions

    assert not METRICS["levenshtein"].func().bounded(EditOptions())
    assert METRICS["levenshtein"].func().bounded(EditOptions(normalised=True))
    assert not METRICS["temporal"].func().bounded(TemporalOptions())
    assert METRICS["temporal"].func().bounded(TemporalOptions(scale=365))
    assert METRICS["jaro_winkler"].func().bounded(None)
