"""Delimited files read in byte ranges give the records the whole file gives, lines included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.alignment.distributed.read import plan_file, read_part
from engine.alignment.records import Records
from engine.alignment.sources import read_source
from schemas.alignment.sources import CsvSource, TsvSource


def _source(path: Path, **extra: object) -> CsvSource:
    return CsvSource.model_validate(
        {"csv": str(path), "id": {"template": "http://x/{id}"}, **extra}
    )


def _parts(source: CsvSource, parts: int) -> list[Records]:
    plan = plan_file(str(source.csv), source.header, source.quotechar, source.encoding, parts)
    out = []
    for k in range(len(plan.starts)):
        part = read_part(source, "align", "spec.yaml", plan, k, "align source x.csv")
        assert part.failure is None, part.failure
        out.append(part.records)
    return out


def _rows(n: int, bad: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    lines = ["id,name,city"]
    for i in range(n):
        lines.append(f"{i},name {i}" if i in bad else f"{i},name {i},city {i % 7}")
        if i % 50 == 0:
            lines.append("")  # a blank line: not a record, still a line
    return "\n".join(lines) + "\n"


def test_partitions_concatenate_to_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(_rows(1000))
    source = _source(path)
    whole = read_source(source, "align", "spec.yaml")
    parts = _parts(source, 4)
    assert len(parts) == 4
    assert [i for p in parts for i in p.ids] == whole.ids
    assert np.array_equal(np.concatenate([p.rows for p in parts]), whole.rows)
    for name in whole.names:
        assert [v for p in parts for v in p.columns[name]] == whole.columns[name]


def test_skipped_rows_keep_their_lines_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(_rows(1000, bad={10, 600, 999}))
    source = _source(path, on_error="skip")
    whole = read_source(source, "align", "spec.yaml")
    parts = _parts(source, 3)
    assert [s.row for p in parts for s in p.skipped] == [s.row for s in whole.skipped]
    assert len(whole.skipped) == 3


def test_a_failure_names_the_line_of_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(_rows(1000, bad={900}))
    source = _source(path)
    with pytest.raises(Exception) as whole:
        read_source(source, "align", "spec.yaml")
    plan = plan_file(str(path), True, source.quotechar, source.encoding, 4)
    failures = [read_part(source, "align", "s", plan, k, "n").failure for k in range(4)]
    found = [f for f in failures if f is not None]
    assert len(found) == 1 and found[0].row == whole.value.row  # type: ignore[attr-defined]


def test_a_quoted_file_is_one_partition(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('id,name,city\nq,"two\nlines",c\n' + _rows(300).split("\n", 1)[1])
    source = _source(path)
    whole = read_source(source, "align", "spec.yaml")
    parts = _parts(source, 4)
    assert len(parts) == 1
    assert parts[0].ids == whole.ids and np.array_equal(parts[0].rows, whole.rows)


def test_a_file_without_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(_rows(500).split("\n", 1)[1])
    source = _source(path, header=False, columns=["id", "name", "city"])
    whole = read_source(source, "align", "spec.yaml")
    parts = _parts(source, 3)
    assert [i for p in parts for i in p.ids] == whole.ids
    assert np.array_equal(np.concatenate([p.rows for p in parts]), whole.rows)


def test_a_tsv_file_in_partitions(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text(_rows(600).replace(",", "\t"))
    source = TsvSource.model_validate({"tsv": str(path), "id": {"template": "http://x/{id}"}})
    whole = read_source(source, "align", "spec.yaml")
    plan = plan_file(str(path), True, source.quotechar, source.encoding, 3)
    parts = [read_part(source, "align", "s", plan, k, "n").records for k in range(3)]
    assert [i for p in parts for i in p.ids] == whole.ids
    assert np.array_equal(np.concatenate([p.rows for p in parts]), whole.rows)
