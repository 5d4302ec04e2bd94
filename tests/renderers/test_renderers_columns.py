"""Bulk formatting: Arrow's texts are byte for byte those written value by value."""

from __future__ import annotations

import io

import numpy as np
import pytest

from renderers import LinkTable, format_distance, write_links_csv
from renderers import csv as csv_renderer
from renderers.columns import float_texts, plain_text, write_rows
from tests.tools import imports_pandas


def _awkward_floats(seed: int) -> np.ndarray:
    """Every exponent, the notation boundaries, integers, fractions, zeros, NaN, infinities."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**63, 200_000, dtype=np.uint64).view(np.float64)
    edges = np.array([1e-4, 1e10, 1e16, 1e-5, 5e-324, 0.1 + 0.2, 1 / 3, 1.7976931348623157e308])
    edges = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges[:-1], np.inf)])
    values = np.concatenate(
        [
            bits,
            -bits[:1000],
            rng.random(50_000) * 10,
            rng.integers(0, 10**6, 20_000) / rng.integers(1, 1000, 20_000),
            rng.integers(0, 10**12, 20_000).astype(np.float64),
            np.exp(rng.uniform(-12, 26, 50_000)),
            np.array([0.0, -0.0, np.nan, np.inf, -np.inf]),
            edges,
        ]
    )
    return rng.permutation(values)


def test_float_texts_are_format_distance() -> None:
    values = _awkward_floats(1)
    expected = [format_distance(v) for v in values.tolist()]
    assert float_texts(values, format_distance).to_pylist() == expected


def test_float_texts_call_the_writer_function_outside_arrows_notation() -> None:
    def xsd(value: float) -> str:
        return "INF" if value == np.inf else format_distance(value)

    values = np.array([np.inf, 0.5, np.nan, -0.0, 1e-7, 2.0, 1e20])
    texts = float_texts(values, xsd).to_pylist()
    assert texts == ["INF", "0.5", "", "0", "1e-07", "2", "1e+20"]


def test_plain_text_refuses_values_to_quote() -> None:
    assert plain_text(["a", "b"], ',"') is not None
    assert plain_text(["a", 'b"c'], ',"') is None
    assert plain_text(["a\nb"], "\n") is None
    assert plain_text(["\ud800"], "") is None  # not UTF-8: the caller's writing reports it


def test_write_rows_joins_columns_and_constants() -> None:
    import pyarrow as pa

    handle = io.StringIO()
    write_rows([pa.array(["a", "b"]), "p", pa.array(["1", ""])], "\t", handle)
    write_rows([pa.array([], pa.string()), "p"], "\t", handle)
    assert handle.getvalue() == "a\tp\t1\nb\tp\t\n"


def _table(seed: int, n: int, *, probability: bool = False) -> LinkTable:
    rng = np.random.default_rng(seed)
    values = _awkward_floats(seed)[: n * 4].reshape(4, n)
    ids = [f"http://e.org/r{i}" for i in rng.permutation(n)]
    targets = [f"http://t.org/Zoë{i}" for i in rng.integers(0, n, n)]
    return LinkTable(
        ids,
        targets,
        np.abs(values[0]),
        {"name": values[1], "date": values[2]},
        probability=np.abs(values[3]) if probability else None,
    )


def _csv(table: LinkTable, delimiter: str) -> str:
    handle = io.StringIO()
    write_links_csv(table, handle, delimiter=delimiter)
    return handle.getvalue()


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "e", "1"])
def test_links_csv_in_bulk_is_the_csv_modules(
    monkeypatch: pytest.MonkeyPatch, delimiter: str
) -> None:
    table = _table(2, 5_000, probability=delimiter == ",")
    monkeypatch.setattr(csv_renderer, "BULK_ROWS", 10**9)
    expected = _csv(table, delimiter)
    monkeypatch.setattr(csv_renderer, "BULK_ROWS", 100)
    monkeypatch.setattr(csv_renderer, "CHUNK_ROWS", 1_024)
    assert _csv(table, delimiter) == expected


def test_links_csv_in_bulk_quotes_ids_like_the_csv_module(monkeypatch: pytest.MonkeyPatch) -> None:
    table = _table(3, 3_000)
    # Ids to quote in one chunk only: that chunk is written by the csv module.
    align = list(table.align_ids)
    align[7] = 'http://e.org/"quoted",id'
    align[2_500] = "http://e.org/line\nbreak"
    table = LinkTable(align, table.target_ids, table.distance, table.attributes)
    monkeypatch.setattr(csv_renderer, "BULK_ROWS", 10**9)
    expected = _csv(table, ",")
    monkeypatch.setattr(csv_renderer, "BULK_ROWS", 100)
    monkeypatch.setattr(csv_renderer, "CHUNK_ROWS", 512)
    assert _csv(table, ",") == expected
    assert '"http://e.org/""quoted"",id"' in expected


def test_float_texts_outside_arrows_notation_do_not_import_pandas() -> None:
    script = (
        "import numpy as np\n"
        "from renderers.columns import float_texts\n"
        "from renderers.csv import format_distance\n"
        "texts = float_texts(np.array([1e-05, 0.5, np.nan, 1e12]), format_distance)\n"
        "assert texts.to_pylist() == ['1e-05', '0.5', '', '1000000000000'], texts\n"
    )
    assert not imports_pandas(script)


def test_booleans_are_numpys() -> None:
    from renderers.columns import booleans

    for n in (0, 1, 7, 8, 9, 1000):
        values = np.random.default_rng(n).random(n) < 0.5
        assert booleans(values).to_pylist() == values.tolist()
        assert booleans(values).null_count == 0
