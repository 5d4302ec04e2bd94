"""Lookup tables: read once from CSV or inline; a bad table names its file and row."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.alignment.lookup import lookup_table, read_table
from engine.errors import DataError
from schemas.alignment import Lookup


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_first_two_columns_by_default(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "fr,en\nAllemagne,Germany\n  Espagne , Spain \n\nn/a,\n")
    # Keys fold (stripped, case-folded); blank rows are skipped; an empty value is missing.
    assert read_table(path) == {"allemagne": "Germany", "espagne": "Spain", "n/a": None}
    assert read_table(path, case_sensitive=True) == {
        "Allemagne": "Germany",
        "Espagne": "Spain",
        "n/a": None,
    }


def test_named_columns_and_tsv(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.tsv", "iso\ten\tfr\nDE\tGermany\tAllemagne\n")
    assert read_table(path, key="fr", value="iso") == {"allemagne": "DE"}


def test_the_same_replacement_twice_is_fine(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,b\nUK,United Kingdom\nuk,United Kingdom\n")
    assert read_table(path) == {"uk": "United Kingdom"}


@pytest.mark.parametrize(
    ("text", "options", "row", "message"),
    [
        ("", {}, 1, "the lookup table is empty: it needs a header row"),
        ("only\nAllemagne\n", {}, 1, "the header names 1 column(s); a lookup table needs two"),
        ("fr,en\nA,B\n", {"key": "french"}, 1, "no column 'french' (columns: fr, en)"),
        ("fr,en\nA,B\nC\n", {}, 3, "1 field(s) where the table's columns need 2"),
        ("fr,en\nA,B\n ,D\n", {}, 3, "empty value in column 'fr'"),
        (
            "fr,en\nGuinée,Guinea\nguinée,Guinea-Bissau\n",
            {},
            3,
            "'guinée' is given two replacements: 'Guinea-Bissau' here and 'Guinea'"
            " for 'Guinée' on row 2",
        ),
    ],
)
def test_a_bad_table_names_the_file_and_row(
    tmp_path: Path, text: str, options: dict[str, str], row: int, message: str
) -> None:
    path = _write(tmp_path / "t.csv", text)
    with pytest.raises(DataError) as caught:
        read_table(path, **options)
    assert caught.value.source == str(path)
    assert caught.value.row == row
    assert caught.value.message.startswith(message)


def test_a_table_that_is_not_text_or_not_there(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"fr,en\n\xff\xfe,x\n")
    with pytest.raises(DataError, match=r"t\.csv: not UTF-8 text"):
        read_table(path)
    with pytest.raises(DataError, match=r"gone\.csv: cannot read the lookup table"):
        read_table(tmp_path / "gone.csv")


def test_a_table_is_read_once_per_options(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "fr,en\nAllemagne,Germany\n")
    options = Lookup(file=path)
    first = lookup_table(options)
    path.write_text("fr,en\nAllemagne,Deutschland\n", encoding="utf-8")
    assert lookup_table(options) is first  # the run's values all see one table
    assert lookup_table(Lookup(file=path)) == {"allemagne": "Deutschland"}  # a new run reads anew


def test_inline_tables() -> None:
    options = Lookup(table={" Allemagne ": "Germany", "n/a": " "})
    assert lookup_table(options) == {"allemagne": "Germany", "n/a": None}
    assert hash(options) == hash(Lookup(table={" Allemagne ": "Germany", "n/a": " "}))
