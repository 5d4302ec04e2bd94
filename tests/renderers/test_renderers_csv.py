"""CSV links: header, compact exact floats, NaN as empty, quoting."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from renderers import LinkTable, OutputTransaction, format_distance, write_links_csv


def _render(table: LinkTable, path: Path, delimiter: str = ",") -> str:
    with OutputTransaction() as tx:
        write_links_csv(table, tx.open_text(path), delimiter=delimiter)
        tx.commit()
    # Bytes, not read_text(): universal newlines would hide a "\r\n" terminator.
    return path.read_bytes().decode("utf-8")


def _read(path: Path, delimiter: str = ",") -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_header_and_values(tmp_path: Path) -> None:
    third = 0.1 + 0.2  # 0.30000000000000004: must survive exactly
    table = LinkTable(
        align_ids=["http://e.org/b", "http://e.org/a"],
        target_ids=["http://t.org/2", "http://t.org/1"],
        distance=np.array([1.0, third]),
        # Not alphabetical: the spec's attribute order must be kept.
        attributes={"name": np.array([0.25, np.nan]), "date": np.array([0.0, 1e-20])},
    )
    path = tmp_path / "links.csv"
    text = _render(table, path)
    assert text == (
        "align_id,target_id,distance,d_name,d_date\n"
        "http://e.org/a,http://t.org/1,0.30000000000000004,,1e-20\n"
        "http://e.org/b,http://t.org/2,1,0.25,0\n"
    )
    rows = _read(path)
    assert float(rows[1][2]) == third


def test_fields_needing_quotes_round_trip(tmp_path: Path) -> None:
    align = 'http://e.org/a,b;"c"'  # not a valid IRI, but CSV must not break on it
    table = LinkTable([align], ["http://t.org/Zoë"], np.array([0.5]), {})
    for delimiter in (",", ";", "\t"):
        path = tmp_path / f"links{ord(delimiter)}.csv"
        _render(table, path, delimiter)
        assert _read(path, delimiter) == [
            ["align_id", "target_id", "distance"],
            [align, "http://t.org/Zoë", "0.5"],
        ]


def test_empty_table_has_header_only(tmp_path: Path) -> None:
    table = LinkTable([], [], np.array([]), {"name": np.array([])})
    assert _render(table, tmp_path / "links.csv") == "align_id,target_id,distance,d_name\n"


def test_shuffled_input_gives_identical_bytes(tmp_path: Path) -> None:
    rows = [(f"http://e.org/{i % 11}", f"http://t.org/{i}", i / 7) for i in range(100)]
    outputs: set[str] = set()
    rng = random.Random(3)
    for attempt in range(4):
        rng.shuffle(rows)
        table = LinkTable(
            [r[0] for r in rows],
            [r[1] for r in rows],
            np.array([r[2] for r in rows]),
            {"name": np.array([r[2] / 2 for r in rows])},
        )
        outputs.add(_render(table, tmp_path / f"run{attempt}.csv"))
    assert len(outputs) == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (-0.0, "0"),
        (0.5, "0.5"),
        (1 / 3, "0.3333333333333333"),
        (1e-7, "1e-07"),
        (123456789.0, "123456789"),
        (float("nan"), ""),
        (float("inf"), "inf"),
    ],
)
def test_format_distance(value: float, text: str) -> None:
    assert format_distance(value) == text


def test_format_distance_round_trips_random_floats() -> None:
    rng = random.Random(5)
    for _ in range(1000):
        value = rng.random() * 10 ** rng.randint(-8, 8)
        assert float(format_distance(value)) == value
