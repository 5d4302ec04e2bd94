"""The generator's word lists as data files (engine.generate.data)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from engine.generate import data

PACKAGE = Path(__file__).resolve().parents[3] / "engine" / "generate"


def _data_files() -> list[str]:
    folder = resources.files("engine.generate") / "data"
    return sorted(entry.name for entry in folder.iterdir() if entry.is_file())


def test_every_data_file_is_read_by_the_generator_and_every_name_read_is_there() -> None:
    names = _data_files()
    assert names, "engine/generate/data holds no file"
    source = "\n".join(p.read_text(encoding="utf-8") for p in sorted(PACKAGE.glob("*.py")))
    read = set(re.findall(r'data\.(?:words|lines|rows|table)\("([^"]+)"', source))
    assert set(names) == read


@pytest.mark.parametrize("name", _data_files())
def test_every_data_file_is_utf8_without_trailing_spaces(name: str) -> None:
    text = (PACKAGE / "data" / name).read_bytes().decode("utf-8")
    assert text.endswith("\n")
    assert "\r" not in text
    assert not [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]


def test_words_skip_comments_and_keep_duplicates_and_order() -> None:
    street = data.words("street-words.txt")
    assert street[:3] == ("acacia", "banksia", "wattle")
    assert street.count("elizabeth") == 3  # the generator, not the reader, drops repeats
    assert not any(w.startswith("#") for w in street)


def test_lines_keep_the_spaces_inside_an_entry() -> None:
    assert "de vries" in data.lines("surnames-spaced.txt")
    assert "retirement village" in data.lines("property-suffixes.txt")


def test_rows_are_keyed_by_the_header() -> None:
    first = data.rows("place-anchors.csv")[0]
    assert first == {"country": "FR", "style": "fr", "lat": "48.86", "long": "2.35", "weight": "3"}


def test_json_values_keep_spaces_and_empty_parts() -> None:
    styles = data.mapping(data.table("place-styles.json"), "place-styles.json")
    de = data.mapping(styles["de"], "de")
    assert data.strings(de["prefixes"], "de prefixes")[:2] == ("Bad ", "Sankt ")
    assert data.strings(de["codas"], "de codas")[0] == ""
    assert data.number(de["suffix_p"], "de suffix_p") == 0.8


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (data.strings, ["a", 1], "fr onsets must be a list of strings"),
        (data.strings, "a b", "fr onsets must be a list of strings"),
        (data.number, "0.3", "fr onsets must be a number"),
        (data.number, True, "fr onsets must be a number"),
        (data.mapping, [], "fr onsets must be an object"),
    ],
)
def test_a_malformed_value_names_its_place(check: object, value: object, message: str) -> None:
    assert callable(check)
    with pytest.raises(ValueError, match=f"engine/generate/data: {message}"):
        check(value, "fr onsets")
