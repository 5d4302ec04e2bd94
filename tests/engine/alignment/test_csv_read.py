"""pyarrow's reading of delimited files: the csv module's records, or a fallback to it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.alignment import csv_read, sources
from engine.alignment.csv_read import parse_columns
from engine.alignment.records import Records
from engine.alignment.sources import read_source
from engine.errors import DataError
from schemas.alignment import CsvSource, TsvSource
from tests.tools import imports_pandas


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(csv_read, "MIN_BYTES", 0)


def parsed(content: bytes, *, quotechar: str | None = '"', skip_first: bool = True) -> Any:
    return parse_columns(content, "utf-8", content.decode(), ",", quotechar, skip_first=skip_first)


def outcome(path: Path, options: dict[str, Any]) -> Any:
    """What reading gives: the records' fields, or the error's message."""
    key = "tsv" if path.suffix == ".tsv" else "csv"
    model = TsvSource if key == "tsv" else CsvSource
    try:
        records: Records = read_source(model.model_validate({key: str(path), **options}), "align")
    except DataError as exc:
        return str(exc)
    return (records.ids, records.names, records.columns, records.rows.tolist(), records.skipped)


def test_arrow_blank_is_pythons_isspace_for_every_code_point() -> None:
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    arrow = pc.utf8_is_space(pa.array(chars)).to_numpy(zero_copy_only=False)
    python = np.fromiter((c.isspace() for c in chars), dtype=bool, count=len(chars))
    assert [chars[i] for i in np.flatnonzero(arrow != python)] == []


def test_plain_file_is_read_by_pyarrow_with_its_lines() -> None:
    content = b'\xef\xbb\xbfid,name\r\n\r\n1,Ann\r\n2, \r\n\r\n3,"Bo, ""b"""\r\n'
    result = parsed(content)
    assert result is not None
    assert result.first == ["id", "name"]
    assert result.first_line == 1
    assert result.columns == [["1", "2", "3"], ["Ann", None, 'Bo, "b"']]
    assert result.lines.tolist() == [3, 4, 6]


@pytest.mark.parametrize(
    "content",
    [
        b'id,name\n1,"two\nlines"\n',  # a record spanning lines: its line must be known
        b"id,name\n1,Ann,x\n",  # a row of another width: the csv module reports it
        b"id,name\n1\rAnn\n",  # a lone carriage return ends a line for the csv module
        b'id,name\n1,A"n"n\n',  # a quote inside an unquoted field
        b'id,name\n1,"Ann" x\n',  # text after a closing quote
        b'id,name\n1,"Ann\n',  # a quote never closed
        b"id,name\n1,A\x00n\n",
        b"",
    ],
)
def test_what_pyarrow_may_read_otherwise_is_left_to_the_csv_module(content: bytes) -> None:
    assert parsed(content) is None


def test_options_pyarrow_lacks_are_left_to_the_csv_module() -> None:
    content = "id§name\n1§Ann\n".encode()
    assert parse_columns(content, "utf-8", content.decode(), "§", '"', skip_first=True) is None


def test_other_encodings_are_read_through_their_text() -> None:
    content = "id;name\n1;Zoë\n".encode("latin-1")
    result = parse_columns(
        content, "latin-1", content.decode("latin-1"), ";", '"', skip_first=False
    )
    assert result is not None
    assert result.columns == [["id", "1"], ["name", "Zoë"]]


def test_a_large_file_spanning_lines_keeps_exact_rows(tmp_path: Path) -> None:
    rows = [f"http://ex.org/{i},name {i}" for i in range(5000)]
    rows[4000] = 'http://ex.org/4000,"two\nlines"'
    rows[4500] = "http://ex.org/4500"  # one field: a bad row, at its line
    path = tmp_path / "big.csv"
    path.write_text("id,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    records = outcome(path, {"id": "id", "on_error": "skip"})
    ids, _, columns, lines, skipped = records
    assert columns["name"][4000] == "two\nlines"
    assert lines[4000:4002] == [4002, 4004]  # the two-line record, the row after it
    assert [(s.row, s.reason) for s in skipped] == [(4503, "expected 2 fields, found 1")]
    assert len(ids) == 4999


#: The characters random files are made of: every one the two parsers may read differently.
ALPHABET = ["a", "b", "1", ",", ",", ";", '"', '"', "'", " ", "\t", "\n", "\n", "\r\n", "\r", "é"]


@pytest.mark.parametrize("seed", range(6))
def test_pyarrow_and_the_csv_module_read_random_files_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    for case in range(250):
        body = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 60)))
        header = rng.choice(["id,name\n", "id,name,x\n", "\nid,name\r\n", "id\n", ""])
        suffix = rng.choice([".csv", ".tsv"])
        path = tmp_path / f"{case}{suffix}"
        path.write_bytes((header + body).encode())
        options: dict[str, Any] = rng.choice(
            [
                {"id": {"template": "http://ex.org/{0}"}},
                {"id": {"template": "http://ex.org/{0}"}, "on_error": "skip"},
                {"id": {"template": "http://ex.org/{1}"}, "header": False, "on_error": "skip"},
                {
                    "id": {"template": "http://ex.org/{a}"},
                    "columns": ["a", "b"],
                    "on_error": "skip",
                },
                {"id": {"template": "http://ex.org/{0}"}, "quotechar": "'", "on_error": "skip"},
            ]
        )
        if suffix == ".csv" and rng.random() < 0.3:
            options["delimiter"] = ";"
        fast = outcome(path, options)
        with monkeypatch.context() as patch:
            patch.setattr(sources, "parse_columns", lambda *args, **kwargs: None)
            slow = outcome(path, options)
        assert fast == slow, (header + body, options)


def test_template_ids_quote_only_what_quote_changes() -> None:
    values = ["rec-1-org", "a_b.c~d", "a b", "é", "a/b#c", "x"]
    fmt = "http://ex.org/{0}/p"
    assert sources._template_ids(fmt, [list(values)]) == [
        fmt.format(quote(v, safe="")) for v in values
    ]
    plain = ["rec-1-org", "a_b.c~d", "x"]  # nothing to encode
    assert sources._template_ids(fmt, [plain]) == [fmt.format(v) for v in plain]
    assert sources._template_ids(fmt, [[]]) == []
    for odd in (["a\0b", "c"], ["a", ""], ["a", "\0"]):
        assert sources._template_ids(fmt, [odd]) == [fmt.format(quote(v, safe="")) for v in odd]
    assert sources._template_ids("http://ex.org/{0}-{1}", [["a b", None], ["c", "d"]]) == [
        "http://ex.org/a%20b-c",
        None,
    ]


def structured(rng: random.Random, delimiter: str, quote: str) -> str:
    """A mostly well-formed file: fields plain, blank, or quoted with delimiters and quotes."""
    fields = ["a", "b c", "", " ", "é", "1", f"{quote}x{delimiter}y{quote}", f"{quote}{quote}"]
    fields += [f"{quote}q{quote}{quote}r{quote}", f"{quote} {quote}", "\t"]
    rare = [f" {quote}s{quote}", f"{quote}t{quote} ", f"u{quote}v"]  # read alike?
    lines = []
    for _ in range(rng.randrange(1, 8)):
        width = 2 if rng.random() < 0.05 else 3
        pool = fields + rare if rng.random() < 0.1 else fields
        lines.append(delimiter.join(rng.choice(pool) for _ in range(width)))
        if rng.random() < 0.1:
            lines.append(rng.choice(["", "", " "]))
    end = rng.choice(["\n", "\r\n"])
    return f"id{delimiter}name{delimiter}x{end}" + end.join(lines) + rng.choice(["", end])


@pytest.mark.parametrize("seed", range(4))
def test_pyarrow_and_the_csv_module_read_well_formed_files_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    taken = 0
    for case in range(250):
        delimiter, quote = rng.choice([(",", '"'), (";", "'"), ("\t", '"')])
        path = tmp_path / f"{case}.csv"
        path.write_bytes(structured(rng, delimiter, quote).encode())
        options: dict[str, Any] = {
            "id": {"template": "http://ex.org/{x}"},
            "delimiter": delimiter,
            "quotechar": quote,
            "on_error": rng.choice(["skip", "fail"]),
        }
        taken += parsed_by_arrow(path, delimiter, quote)
        fast = outcome(path, options)
        with monkeypatch.context() as patch:
            patch.setattr(sources, "parse_columns", lambda *args, **kwargs: None)
            slow = outcome(path, options)
        assert fast == slow, (path.read_text(), options)
    assert taken > 50  # the comparison is worth something only if pyarrow read files


def parsed_by_arrow(path: Path, delimiter: str, quote: str) -> bool:
    content = path.read_bytes()
    result = parse_columns(content, "utf-8", content.decode(), delimiter, quote, skip_first=True)
    return result is not None


def test_ascii_text_needs_no_decoding_in_encodings_that_read_ascii_as_ascii() -> None:
    assert csv_read.ascii_text(b"id,name\n1,Ann\n", "utf-8")
    assert csv_read.ascii_text(b"id,name\n1,Ann\n", "latin-1")
    assert not csv_read.ascii_text("id,name\n1,Zoë\n".encode(), "utf-8")
    assert not csv_read.ascii_text("id\n1\n".encode("utf-16-le"), "utf-16-le")
    result = parse_columns(b"id,name\n1,Ann\n", "utf-8", None, ",", '"', skip_first=True)
    assert result is not None
    assert result.columns == [["1"], ["Ann"]]


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("id,name\nhttp://e/1,Zoë\n".encode("utf-16"), "utf-16"),
        ("id,name\nhttp://e/1,Zoë\n".encode("latin-1"), "latin-1"),
        ("\ufeffid,name\nhttp://e/1,Zoë\n".encode(), "utf-8"),
        (b"id,name\nhttp://e/1,Zo\xe9\n", "utf-8"),  # not UTF-8: the csv module's error
        (b"id,name\nhttp://e/1,Ann\n", "ascii"),
    ],
)
def test_encodings_read_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes, encoding: str
) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    options = {"id": "id", "encoding": encoding}
    fast = outcome(path, options)
    with monkeypatch.context() as patch:
        patch.setattr(sources, "parse_columns", lambda *args, **kwargs: None)
        assert fast == outcome(path, options)


def test_reading_with_pyarrow_does_not_import_pandas(tmp_path: Path) -> None:
    rows = "".join(f"http://ex.org/{i},name {i % 7}, \n" for i in range(2000))
    (tmp_path / "big.csv").write_text("id,name,blank\n" + rows, encoding="utf-8")
    script = (
        "import sys\n"
        "from engine.alignment import csv_read\n"
        "from engine.alignment.sources import read_source\n"
        "from schemas.alignment import CsvSource\n"
        "csv_read.MIN_BYTES = 0\n"
        "read = read_source(CsvSource.model_validate({'csv': 'big.csv', 'id': 'id'}), 'align')\n"
        "assert read.columns['blank'] == [None] * 2000\n"
        "assert 'pyarrow' in sys.modules\n"
    )
    assert not imports_pandas(script, tmp_path)
