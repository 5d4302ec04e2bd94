"""Reading CSV, TSV and inline sources into columnar records."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from engine.alignment import csv_read
from engine.alignment.records import Records, Skip
from engine.alignment.sources import read_source
from engine.errors import DataError
from schemas.alignment import CsvSource, InlineSource, TsvSource

PEOPLE = "id,name,zip\nhttp://ex.org/1,Ann,0800\nhttp://ex.org/2,Bob,75001\n"


@pytest.fixture(autouse=True, params=["csv module", "pyarrow"])
def _in_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    # Display names are relative to the working directory: make them predictable.
    monkeypatch.chdir(tmp_path)
    if request.param == "pyarrow":
        # Every test again with pyarrow reading files of any size: same records, same errors.
        monkeypatch.setattr(csv_read, "MIN_BYTES", 0)


def write(tmp_path: Path, content: str | bytes, name: str = "people.csv") -> Path:
    """Write the file byte for byte (no newline translation)."""
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def csv_source(tmp_path: Path, content: str | bytes, **options: Any) -> CsvSource:
    path = write(tmp_path, content)
    return CsvSource.model_validate({"csv": str(path), "id": "id", **options})


def read_csv(tmp_path: Path, content: str | bytes, **options: Any) -> Records:
    return read_source(csv_source(tmp_path, content, **options), "align")


def read_inline(rows: Any, **options: Any) -> Records:
    spec = InlineSource.model_validate({"inline": rows, **options})
    return read_source(spec, "target", "spec.yaml")


def data_error(tmp_path: Path, content: str | bytes, **options: Any) -> DataError:
    with pytest.raises(DataError) as info:
        read_csv(tmp_path, content, **options)
    return info.value


# --------------------------------------------------------------------------- headers


def test_header_names_columns_ids_and_rows(tmp_path: Path) -> None:
    records = read_csv(tmp_path, PEOPLE)
    assert records.source == "align source people.csv"
    assert records.names == ["id", "name", "zip"]
    assert records.ids == ["http://ex.org/1", "http://ex.org/2"]
    assert records.columns["name"] == ["Ann", "Bob"]
    assert records.rows.dtype == np.int64
    assert records.rows.tolist() == [2, 3]
    assert records.skipped == []


def test_source_outside_cwd_is_shown_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, PEOPLE)
    (tmp_path / "elsewhere").mkdir()
    spec = CsvSource.model_validate({"csv": str(path), "id": "id"})
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert read_source(spec, "target").source == f"target source {path}"


def test_columns_rename_the_header(tmp_path: Path) -> None:
    records = read_csv(tmp_path, PEOPLE, columns=["uri", "first", "postcode"], id="uri")
    assert records.names == ["uri", "first", "postcode"]
    assert records.columns["postcode"] == ["0800", "75001"]


def test_columns_must_match_the_header(tmp_path: Path) -> None:
    error = data_error(tmp_path, PEOPLE, columns=["uri", "first"], id="uri")
    assert error.row == 1
    assert "`columns:` gives 2 names but the header has 3 fields" in str(error)


def test_no_header_with_columns(tmp_path: Path) -> None:
    rows = PEOPLE.split("\n", 1)[1]
    records = read_csv(tmp_path, rows, header=False, columns=["id", "name", "zip"])
    assert records.names == ["id", "name", "zip"]
    assert records.ids == ["http://ex.org/1", "http://ex.org/2"]
    assert records.rows.tolist() == [1, 2]


@pytest.mark.parametrize("ref", [0, "0"])
def test_no_header_no_columns_names_are_indexes(tmp_path: Path, ref: int | str) -> None:
    content = "http://ex.org/1,Ann\nhttp://ex.org/2,Bob\n"
    records = read_csv(tmp_path, content, header=False, id=ref)
    assert records.names == ["0", "1"]
    assert records.columns["1"] == ["Ann", "Bob"]
    assert records.ids == ["http://ex.org/1", "http://ex.org/2"]


def test_id_by_index_with_a_header(tmp_path: Path) -> None:
    content = "name,uri\nAnn,http://ex.org/a\n"
    assert read_csv(tmp_path, content, id=1).ids == ["http://ex.org/a"]


@pytest.mark.parametrize(
    ("header", "message"),
    [("id,name,name", "column name 'name' appears twice"), ("id,,zip", "column 1 has an empty")],
)
def test_bad_header_names(tmp_path: Path, header: str, message: str) -> None:
    error = data_error(tmp_path, header + "\nhttp://ex.org/1,a,b\n")
    assert message in str(error)
    assert str(error).startswith("align source people.csv:1: ")


def test_unknown_id_column_lists_the_columns(tmp_path: Path) -> None:
    error = data_error(tmp_path, PEOPLE, id="uri")
    assert "unknown column 'uri' (columns: id, name, zip)" in str(error)
    error = data_error(tmp_path, PEOPLE, id=3)
    assert "refers to column 3, but there are 3 columns" in str(error)


def test_empty_file_fails_and_header_only_gives_no_records(tmp_path: Path) -> None:
    assert "the file is empty" in str(data_error(tmp_path, "\n\n"))
    records = read_csv(tmp_path, "id,name\n")
    assert (len(records), records.names, records.rows.tolist()) == (0, ["id", "name"], [])
    assert records.columns == {"id": [], "name": []}


# --------------------------------------------------------------------------- formats


def test_tsv(tmp_path: Path) -> None:
    path = write(tmp_path, "id\tname\nhttp://ex.org/1\tAnn, Lee\n", "people.tsv")
    records = read_source(TsvSource.model_validate({"tsv": str(path), "id": "id"}), "target")
    assert records.source == "target source people.tsv"
    assert records.columns["name"] == ["Ann, Lee"]


def test_custom_delimiter_and_quotechar(tmp_path: Path) -> None:
    content = "id;name\nhttp://ex.org/1;'Lee; Ann'\nhttp://ex.org/2;\"Bob\"\n"
    records = read_csv(tmp_path, content, delimiter=";", quotechar="'")
    assert records.columns["name"] == ["Lee; Ann", '"Bob"']


def test_quoted_newlines_keep_line_numbers(tmp_path: Path) -> None:
    content = (
        "id,note\r\n"
        'http://ex.org/1,"two\r\nlines"\r\n'
        "\r\n"
        'http://ex.org/2,"three\nlines\nhere"\n'
        "http://ex.org/3,plain\n"
    )
    records = read_csv(tmp_path, content)
    assert records.rows.tolist() == [2, 5, 8]
    assert records.columns["note"] == ["two\r\nlines", "three\nlines\nhere", "plain"]


def test_blank_lines_are_ignored_and_counted(tmp_path: Path) -> None:
    content = "id,name\n\nhttp://ex.org/1,Ann\n   \n\nhttp://ex.org/2,Bob\n\n"
    records = read_csv(tmp_path, content)
    assert records.ids == ["http://ex.org/1", "http://ex.org/2"]
    assert records.rows.tolist() == [3, 6]
    assert records.skipped == []


def test_bom_is_stripped(tmp_path: Path) -> None:
    records = read_csv(tmp_path, b"\xef\xbb\xbf" + PEOPLE.encode())
    assert records.names[0] == "id"


def test_latin1_encoding(tmp_path: Path) -> None:
    content = "id,name\nhttp://ex.org/1,Zoé\n".encode("latin-1")
    assert read_csv(tmp_path, content, encoding="latin-1").columns["name"] == ["Zoé"]


def test_undecodable_byte_names_offset_and_line(tmp_path: Path) -> None:
    content = "id,name\nhttp://ex.org/1,Ann\nhttp://ex.org/2,Zoé\n".encode("latin-1")
    error = data_error(tmp_path, content)
    offset = content.index(b"\xe9")
    assert str(error) == (
        f"align source people.csv: cannot decode byte 0xe9 at byte offset {offset}"
        " (line 3) as utf-8; set `encoding:` in the source"
    )


# --------------------------------------------------------------------------- bad rows

RAGGED = "id,name,zip\nhttp://ex.org/1,Ann,1\nhttp://ex.org/2,Bob\nhttp://ex.org/3,C,3,x\n"


def test_wrong_field_count_fails(tmp_path: Path) -> None:
    error = data_error(tmp_path, RAGGED)
    assert error.row == 3
    assert str(error).startswith("align source people.csv:3: expected 3 fields, found 2")
    assert "on_error: skip" in str(error)


def test_wrong_field_count_skipped(tmp_path: Path) -> None:
    records = read_csv(tmp_path, RAGGED, on_error="skip")
    assert records.ids == ["http://ex.org/1"]
    assert records.rows.tolist() == [2]
    assert records.skipped == [
        Skip(row=3, reason="expected 3 fields, found 2"),
        Skip(row=4, reason="expected 3 fields, found 4"),
    ]


def test_quote_left_open_is_reported_where_the_record_starts(tmp_path: Path) -> None:
    content = 'id,name\nhttp://ex.org/1,"Ann\nhttp://ex.org/2,Bob\nhttp://ex.org/3,C\n'
    error = data_error(tmp_path, content)
    assert error.row == 2
    assert 'a " quote opened in the record starting here is never closed' in str(error)


def test_quote_closed_later_is_a_wrong_field_count_over_several_lines(tmp_path: Path) -> None:
    content = 'id,name\nhttp://ex.org/1,"Ann\nhttp://ex.org/2,Bob"\nhttp://ex.org/3,C,x\n'
    error = data_error(tmp_path, content)
    assert error.row == 4
    records = read_csv(tmp_path, content, on_error="skip")
    assert records.columns["name"] == ["Ann\nhttp://ex.org/2,Bob"]
    assert records.skipped == [Skip(row=4, reason="expected 2 fields, found 3")]
    content = 'id,name\nhttp://ex.org/1,"Ann\nhttp://ex.org/2","Bob"\n'
    error = data_error(tmp_path, content)
    assert error.row == 2
    assert "expected 2 fields, found 3 in a record spanning lines 2-3" in str(error)


def test_huge_field_from_an_unclosed_quote(tmp_path: Path) -> None:
    filler = "".join(f"http://ex.org/{i},name {i}\n" for i in range(8000))
    content = f'id,name\nhttp://ex.org/a,"Ann\n{filler}'
    error = data_error(tmp_path, content)
    assert error.row == 2
    assert 'a " quote opened in the record starting here is never closed' in str(error)


def test_long_fields_are_read(tmp_path: Path) -> None:
    # The csv module's default limit (128 KiB a field) would reject long texts.
    long = "x" * 300_000
    records = read_csv(tmp_path, f'id,name\nhttp://ex.org/1,"{long}"\n')
    assert records.columns["name"] == [long]


# --------------------------------------------------------------------------- values


def test_values_are_verbatim_strings_and_blanks_are_missing(tmp_path: Path) -> None:
    content = "id,zip,name,n\nhttp://ex.org/1,0800, Ann ,1.50\nhttp://ex.org/2,,  \t,\n"
    records = read_csv(tmp_path, content)
    assert records.columns == {
        "id": ["http://ex.org/1", "http://ex.org/2"],
        "zip": ["0800", None],
        "name": [" Ann ", None],
        "n": ["1.50", None],
    }


# --------------------------------------------------------------------------- ids


def test_template_ids_are_percent_encoded(tmp_path: Path) -> None:
    content = "key,name\n7,Zoé Martin\n8,a/b#c~d_e.f-g\n"
    records = read_csv(tmp_path, content, id={"template": "http://ex.org/p/{name}/{key}"})
    assert records.ids == [
        "http://ex.org/p/Zo%C3%A9%20Martin/7",
        "http://ex.org/p/a%2Fb%23c~d_e.f-g/8",
    ]


def test_template_unknown_placeholder_lists_columns(tmp_path: Path) -> None:
    error = data_error(tmp_path, PEOPLE, id={"template": "http://ex.org/{rec_id}"})
    assert "unknown column 'rec_id' (columns: id, name, zip)" in str(error)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("http://ex.org/person", "has no {column} placeholder"),
        ("{name}", "does not make absolute IRIs"),
        ("http://ex.org/{name}}", "unmatched brace"),
    ],
)
def test_bad_templates(tmp_path: Path, template: str, message: str) -> None:
    assert message in str(data_error(tmp_path, PEOPLE, id={"template": template}))


def test_template_with_a_missing_value(tmp_path: Path) -> None:
    content = "key,name\n1,Ann\n2,\n"
    template = {"template": "http://ex.org/{name}"}
    error = data_error(tmp_path, content, id=template)
    assert error.row == 3
    assert "missing value for the id template (column name)" in str(error)
    records = read_csv(tmp_path, content, id=template, on_error="skip")
    assert records.ids == ["http://ex.org/Ann"]


def test_id_column_must_hold_iris(tmp_path: Path) -> None:
    content = "id,name\nhttp://ex.org/1,Ann\n42,Bob\n"
    error = data_error(tmp_path, content)
    assert error.row == 3
    assert "id '42' (column id) is not an absolute IRI" in str(error)
    assert "id: {template:" in str(error)
    records = read_csv(tmp_path, content, on_error="skip")
    assert records.ids == ["http://ex.org/1"]
    assert records.skipped[0].row == 3


@pytest.mark.parametrize(
    ("iri", "shown", "what"),
    [
        ("http://ex.org/a\x01b", "'http://ex.org/a\\x01b'", "the control character U+0001"),
        ("http://ex.org/a\x7f", "'http://ex.org/a\\x7f'", "the control character U+007F"),
        ("http://ex.org/a b", "'http://ex.org/a b'", "a space (U+0020)"),
        ("http://ex.org/a\u2028b", "'http://ex.org/a\\u2028b'", "a space (U+2028)"),
    ],
)
def test_an_id_with_a_character_no_iri_holds_is_a_row_error(
    tmp_path: Path, iri: str, shown: str, what: str
) -> None:
    # A control character passed this check and failed (exit 70) only when writing RDF.
    content = f"id,name\nhttp://ex.org/1,Ann\n{iri},Bob\n"
    error = data_error(tmp_path, content)
    assert (error.source, error.row) == ("align source people.csv", 3)
    assert f"id {shown} (column id) holds {what}, which an IRI cannot hold" in str(error)
    assert read_csv(tmp_path, content, on_error="skip").ids == ["http://ex.org/1"]


@pytest.mark.parametrize(
    ("iri", "why"),
    [
        ("http://ex.org/a#b#c", "holds more than one '#'"),
        ("http://ex.org/x%$~", "holds '%$~': a '%' must start a percent-encoded octet"),
        ("http://ex.org/100%", "holds '%': a '%' must start a percent-encoded octet"),
    ],
)
def test_an_id_a_triple_store_would_refuse_is_a_row_error(
    tmp_path: Path, iri: str, why: str
) -> None:
    # Oxigraph refused the links file (and the diff) holding such an id: found by a trial.
    content = f"id,name\nhttp://ex.org/1#a%20b,Ann\n{iri},Bob\n"
    error = data_error(tmp_path, content)
    assert (error.source, error.row) == ("align source people.csv", 3)
    assert f"id '{iri}' (column id) {why}" in str(error)
    assert read_csv(tmp_path, content, on_error="skip").ids == ["http://ex.org/1#a%20b"]


def test_missing_id(tmp_path: Path) -> None:
    records = read_csv(tmp_path, "id,name\n,Ann\nhttp://ex.org/2,Bob\n", on_error="skip")
    assert records.skipped == [Skip(row=2, reason="missing id (column id)")]
    assert records.columns["name"] == ["Bob"]
    assert records.rows.tolist() == [3]


def test_duplicate_ids(tmp_path: Path) -> None:
    content = "id,name\nhttp://ex.org/1,Ann\nhttp://ex.org/2,Bob\nhttp://ex.org/1,Ann again\n"
    error = data_error(tmp_path, content)
    assert error.row == 4
    assert "duplicate id <http://ex.org/1> (first used at line 2)" in str(error)
    records = read_csv(tmp_path, content, on_error="skip")
    assert records.ids == ["http://ex.org/1", "http://ex.org/2"]
    assert records.columns["name"] == ["Ann", "Bob"]
    assert [skip.row for skip in records.skipped] == [4]


def test_skipped_rows_are_sorted_across_kinds_of_problem(tmp_path: Path) -> None:
    content = "id,name\nnope,Ann\nhttp://ex.org/2\nhttp://ex.org/3,Cy\n"
    records = read_csv(tmp_path, content, on_error="skip")
    assert [skip.row for skip in records.skipped] == [2, 3]
    assert records.ids == ["http://ex.org/3"]


# --------------------------------------------------------------------------- inline


def test_inline_list_rows() -> None:
    records = read_inline(
        [["http://ex.org/1", "Ann", 800], ["http://ex.org/2", "", None]],
        columns=["id", "name", "n"],
        id="id",
    )
    assert records.source == "target source (inline, spec.yaml)"
    assert records.columns == {
        "id": ["http://ex.org/1", "http://ex.org/2"],
        "name": ["Ann", None],
        "n": ["800", None],
    }
    assert records.rows.tolist() == [1, 2]


def test_inline_list_rows_need_columns() -> None:
    with pytest.raises(DataError, match="need `columns:`"):
        read_inline([["http://ex.org/1", "Ann"]], id=0)


def test_inline_row_length_mismatch_names_the_row() -> None:
    rows = [["http://ex.org/1", "Ann"], ["http://ex.org/2", "Bob"], ["http://ex.org/3"]]
    with pytest.raises(DataError) as info:
        read_inline(rows, columns=["id", "name"], id="id")
    assert str(info.value).startswith(
        "target source (inline, spec.yaml) row 3: expected 2 values, found 1"
    )
    assert (info.value.source, info.value.row) == ("target source (inline, spec.yaml)", 3)
    records = read_inline(rows, columns=["id", "name"], id="id", on_error="skip")
    assert records.skipped == [Skip(row=3, reason="expected 2 values, found 1")]


def test_inline_mapping_rows_union_columns() -> None:
    rows = [
        {"id": "http://ex.org/1", "name": "Ann"},
        {"city": "Paris", "id": "http://ex.org/2"},
    ]
    records = read_inline(rows, id="id")
    assert records.names == ["id", "name", "city"]
    assert records.columns["name"] == ["Ann", None]
    assert records.columns["city"] == [None, "Paris"]


def test_inline_yaml_scalars_become_strings() -> None:
    rows = yaml.safe_load(
        """
        - {key: 7, active: true, ratio: 0.5, born: 2001-02-03, zip: "0800", none: null}
        - {key: 8, active: false, ratio: 1.5e+3, born: 2001-02-03 04:05:06, zip: 800}
        """
    )
    records = read_inline(rows, id={"template": "http://ex.org/k/{key}"})
    assert records.ids == ["http://ex.org/k/7", "http://ex.org/k/8"]
    assert records.columns["active"] == ["true", "false"]
    assert records.columns["ratio"] == ["0.5", "1500.0"]
    assert records.columns["born"] == ["2001-02-03", "2001-02-03T04:05:06"]
    assert records.columns["zip"] == ["0800", "800"]
    assert records.columns["none"] == [None, None]


def test_inline_nested_value_is_a_row_problem() -> None:
    rows = [{"id": "http://ex.org/1", "tags": ["a", "b"]}, {"id": "http://ex.org/2"}]
    with pytest.raises(DataError, match=r"row 1: a value is a YAML list"):
        read_inline(rows, id="id")
    assert read_inline(rows, id="id", on_error="skip").ids == ["http://ex.org/2"]


def test_inline_duplicate_ids_name_rows() -> None:
    rows = [{"id": "http://ex.org/1"}, {"id": "http://ex.org/1"}]
    with pytest.raises(
        DataError, match=r"row 2: duplicate id <http://ex.org/1> \(first used at row 1\)"
    ):
        read_inline(rows, id="id")


# --------------------------------------------------------------------------- housekeeping


def test_garbage_collector_state_is_restored(tmp_path: Path) -> None:
    assert gc.isenabled()
    read_csv(tmp_path, PEOPLE)
    assert gc.isenabled()
    data_error(tmp_path, RAGGED)
    assert gc.isenabled()
