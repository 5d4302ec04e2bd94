"""Records of a source: several values per record become rows."""

from __future__ import annotations

import itertools
import random

import numpy as np
import numpy.typing as npt
import pytest

from engine.alignment.records import MAX_ROWS_PER_RECORD, Records, expand_rows


def one_row_per_combination(
    ids: list[str],
    columns: dict[str, list[str | None]],
    rows: npt.NDArray[np.int64],
    alternatives: dict[str, dict[int, list[str]]],
) -> tuple[list[str], dict[str, list[str | None]], list[int], list[int], int]:
    """What expand_rows must give, written the plain way: record by record."""
    out_ids: list[str] = []
    out_columns: dict[str, list[str | None]] = {name: [] for name in columns}
    out_rows: list[int] = []
    out_record: list[int] = []
    capped = 0
    for index, iri in enumerate(ids):
        choices = [
            alternatives.get(name, {}).get(index, [columns[name][index]]) for name in columns
        ]
        combos = list(itertools.product(*choices))
        if len(combos) > MAX_ROWS_PER_RECORD:
            combos, capped = combos[:MAX_ROWS_PER_RECORD], capped + 1
        for combo in combos:
            out_ids.append(iri)
            for name, value in zip(columns, combo, strict=True):
                out_columns[name].append(value)
            out_rows.append(int(rows[index]))
            out_record.append(index)
    return out_ids, out_columns, out_rows, out_record, capped


@pytest.mark.parametrize("seed", range(20))
def test_expand_rows_gives_each_record_its_combinations_in_order(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.randrange(0, 40)
    names = [f"c{j}" for j in range(rng.randrange(1, 4))]
    ids = [f"http://ex.org/{i}" for i in range(size)]
    columns: dict[str, list[str | None]] = {
        name: [rng.choice([None, f"{name}-{i}"]) for i in range(size)] for name in names
    }
    rows = np.asarray(sorted(rng.sample(range(1, 200), size)), dtype=np.int64)
    alternatives = {
        name: {
            i: [f"{name}-{i}-{k}" for k in range(rng.randrange(2, 12))]
            for i in range(size)
            if rng.random() < 0.3
        }
        for name in names
        if rng.random() < 0.8
    }
    warnings: list[str] = []
    out_ids, out_columns, out_rows, record = expand_rows(
        ids, columns, rows, alternatives, warnings, "align source a.csv"
    )
    want_ids, want_columns, want_rows, want_record, capped = one_row_per_combination(
        ids, columns, rows, alternatives
    )
    assert (out_ids, out_columns) == (want_ids, want_columns)
    assert out_rows.tolist() == want_rows
    assert record.tolist() == want_record
    assert out_rows.dtype == record.dtype == np.int64
    assert len(warnings) == (1 if capped else 0)


def test_records_count_and_representatives() -> None:
    records = Records(
        source="s",
        ids=["a", "a", "b", "c", "c", "c"],
        names=["x"],
        columns={"x": ["1", "2", "3", "4", "5", "6"]},
        rows=np.asarray([1, 1, 2, 3, 3, 3], dtype=np.int64),
        record=np.asarray([0, 0, 1, 2, 2, 2], dtype=np.int64),
    )
    assert records.record_count == 3
    representatives = records.representatives()
    assert representatives is not None
    assert representatives.tolist() == [0, 0, 2, 3, 3, 3]
