"""Normalisers: registry examples, Nazca's behaviour, robustness, and column application."""

from __future__ import annotations

import random
import unicodedata
from typing import Any

import dateutil.parser
import pytest

from engine.alignment import normalise
from engine.alignment.normalise import (
    NORMALISERS,
    NormaliseError,
    normalise_column,
    normalise_value,
    soundex_code,
    unaccent_text,
)
from engine.registry import Entry, Example
from schemas import alignment as schema
from schemas.base import Ref


def options(name: str, **values: Any) -> Any:
    """The validated options model of normaliser ``name``."""
    return schema.NORMALISERS[name](**values)


def run(name: str, value: str, **values: Any) -> str | None:
    """One normaliser applied to one value, options given as keywords."""
    return NORMALISERS[name].func(value, options(name, **values))


def ref(name: str, **values: Any) -> Ref:
    return Ref(name, options(name, **values))


# --------------------------------------------------------------------------- registry


def test_registry_names_match_the_schema_vocabulary() -> None:
    assert set(NORMALISERS.names()) == set(schema.NORMALISERS)


@pytest.mark.parametrize("entry", list(NORMALISERS), ids=lambda e: e.name)
def test_every_normaliser_has_a_description_and_examples(entry: Entry[Any]) -> None:
    assert entry.doc
    assert entry.examples


EXAMPLES = [
    pytest.param(entry, example, id=f"{entry.name}-{i}")
    for entry in NORMALISERS
    for i, example in enumerate(entry.examples)
]


@pytest.mark.parametrize(("entry", "example"), EXAMPLES)
def test_registry_example(entry: Entry[Any], example: Example) -> None:
    model = schema.NORMALISERS[entry.name](**example.options)
    assert entry.func(*example.args, model) == example.expected


@pytest.mark.parametrize(("entry", "example"), EXAMPLES)
def test_registry_example_through_a_chain(entry: Entry[Any], example: Example) -> None:
    # Same example, via the column API: empty results become missing (None).
    chain = [Ref(entry.name, schema.NORMALISERS[entry.name](**example.options))]
    expected = example.expected if example.expected and example.expected.strip() else None
    assert normalise_column([example.args[0], None], chain) == [expected, None]


# --------------------------------------------------------------------------- text


def test_case() -> None:
    assert run("lowercase", "ÉMILE Zola") == "émile zola"
    assert run("uppercase", "émile") == "ÉMILE"


def test_strip_and_digits_only() -> None:
    assert run("strip", "\t x \n") == "x"
    assert run("strip", "xx-yx", chars="x") == "-y"
    assert run("digits_only", "75 001 Paris²") == "75001"  # ASCII digits only, not ²


def test_unaccent() -> None:
    assert unaccent_text("Hélène Łódź Œuvre straße") == "Helene Lodz OEuvre strasse"
    assert unaccent_text("Ǣ ǿ") == "AE o"  # accented ligatures: decomposed, then mapped
    assert run("unaccent", "Ærø đ ð þ ı « l’été »") == 'AEro d d th i " l\'ete "'


def test_unaccent_latin_letters_become_ascii() -> None:
    letters = [c for c in map(chr, range(0xC0, 0x180)) if unicodedata.category(c).startswith("L")]
    assert [c for c in letters if not unaccent_text(c).isascii()] == []


def test_unaccent_never_raises_and_keeps_other_scripts() -> None:
    for code in range(0x3000):
        if not 0xD800 <= code <= 0xDFFF:
            assert isinstance(unaccent_text(chr(code)), str)
    assert unaccent_text("Москва 東京 Ω") == "Москва 東京 Ω"
    assert unaccent_text("Αθήνα") == "Αθηνα"  # accents go, the letters stay


def test_simplify_like_nazca() -> None:
    assert run("simplify", "Victor Hugo (1802-1885)") == "victor hugo 1802 1885"
    assert run("simplify", "  Hugo,  Victor ; ") == "hugo victor"
    assert run("simplify", "Le Petit Prince et la rose", stopwords="fr") == "petit prince rose"
    assert run("simplify", "Où est-il ?", stopwords="fr") == ""
    assert run("simplify", "The Lord of the Rings", stopwords="en") == "lord rings"


def test_stopword_lists() -> None:
    assert len(normalise.FRENCH_STOPWORDS) == 140
    assert {"où", "être", "ça", "début"} <= normalise.FRENCH_STOPWORDS
    assert 110 <= len(normalise.ENGLISH_STOPWORDS) <= 140
    assert {"the", "of", "and", "a"} <= normalise.ENGLISH_STOPWORDS


def test_tokenize() -> None:
    assert run("tokenize", "l'homme  d'aujourd'hui") == "l' homme d' aujourd' hui"
    assert run("tokenize", "Jean-Paul, Sartre", pattern=r"\w+") == "Jean Paul Sartre"
    # With groups, whole matches are kept (re.findall would return the groups).
    assert run("tokenize", "ab cd", pattern=r"(a|c)(b|d)") == "ab cd"
    assert run("tokenize", "dogs' toys") == "dogs' toys"


def test_sort_tokens() -> None:
    assert run("sort_tokens", " Victor\tHugo ") == "Hugo Victor"


def test_remove_after_nazca_docstring() -> None:
    assert run("remove_after", "I like cats and dogs", sub="and") == "I like cats"
    assert run("remove_after", "I like cats and dogs", sub="(") == "I like cats and dogs"


def test_remove_after_is_case_insensitive_and_index_safe() -> None:
    assert run("remove_after", "Victor HUGO", sub="hugo") == "Victor"
    # "İ".lower() has two characters: slicing by an index into the lower-cased text
    # (Nazca) would cut in the wrong place.
    assert run("remove_after", "İİİ abc (x)", sub="(") == "İİİ abc"


def test_regex_replace_and_prefix() -> None:
    assert run("regex_replace", "a-b-c", pattern="-", replacement="+") == "a+b+c"
    assert run("regex_replace", "2001", pattern=r"(\d\d)(\d\d)", replacement=r"\2\1") == "0120"
    assert run("prefix", "Hugo", length=1) == "H"


# --------------------------------------------------------------------------- soundex


@pytest.mark.parametrize(
    ("word", "code"),
    [
        ("Robert", "R163"),
        ("Rupert", "R163"),
        ("Rubin", "R150"),
        ("Ashcraft", "A261"),  # H does not separate S and C
        ("Tymczak", "T522"),  # vowels separate the two 2s
        ("Pfister", "P236"),  # F has the first letter's code
        ("Honeyman", "H555"),
        ("Lee", "L000"),
    ],
)
def test_american_soundex(word: str, code: str) -> None:
    assert soundex_code(word, "en") == code
    assert run("soundex", word) == code


def test_french_soundex_table() -> None:
    assert run("soundex", "Rousseau", language="fr") == "R800"
    assert run("soundex", "Gauthier", language="fr") == "G360"
    assert run("soundex", "Favre", language="fr") == "F960"
    assert soundex_code("Favre", "fr") != soundex_code("Favre", "en")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("Hélène", "H450"),
        ("Jean-Paul", "J500 P400"),
        ("O'Brien", "O165"),
        ("O’Brien", "O165"),
        ("Łódź", "L320"),
        ("123", None),
        ("", None),
        ("-- 東京 --", None),
        ("Jean 2e", "J500 E000"),
    ],
)
@pytest.mark.parametrize("language", ["en", "fr"])
def test_soundex_never_raises(value: str, code: str | None, language: str) -> None:
    result = run("soundex", value, language=language)
    if language == "en":
        assert result == code
    else:
        assert (result is None) == (code is None)


def test_soundex_code_function() -> None:
    assert soundex_code("Hélène", "fr") == "H450"
    assert soundex_code("123", "en") == ""
    with pytest.raises(ValueError, match="unknown soundex language 'de'"):
        soundex_code("Hugo", "de")


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "opts", "expected"),
    [
        ("14-08-1991", {"dayfirst": True}, "1991-08-14"),
        ("01-12-2012", {"dayfirst": True}, "2012-12-01"),
        ("01-12-2012", {}, "2012-01-12"),
        ("19151111", {}, "1915-11-11"),
        ("18/04/1881", {"dayfirst": True}, "1881-04-18"),
        ("18/04/1881", {}, "1881-04-18"),  # only one reading makes sense
        ("1881-04-18", {"dayfirst": True}, "1881-04-18"),
        ("1881/4/8", {"dayfirst": True}, "1881-04-08"),
        ("1975-08-12T10:00:00+02:00", {"dayfirst": True}, "1975-08-12"),
        ("12 08 1975", {"dayfirst": True}, "1975-08-12"),
        (" 12.08.1975 ", {"dayfirst": True}, "1975-08-12"),
        ("12 août 1975", {}, "1975-08-12"),
        ("12 AOUT 1975", {"dayfirst": True}, "1975-08-12"),
        ("le 1er février 1900", {}, "1900-02-01"),
        ("lundi 3 fev. 1902", {}, "1902-02-03"),
        ("3 décembre 1902", {}, "1902-12-03"),
        ("August 12, 1975", {}, "1975-08-12"),
        ("29/02/2000", {"dayfirst": True}, "2000-02-29"),
        ("18.04.1881", {"format": "%d.%m.%Y"}, "1881-04-18"),
        ("1881|04|18", {"format": "%Y|%m|%d"}, "1881-04-18"),
    ],
)
def test_date(value: str, opts: dict[str, Any], expected: str) -> None:
    assert run("date", value, **opts) == expected


def test_date_two_digit_years_follow_dateutil() -> None:
    year = dateutil.parser.parserinfo().convertyear(75)
    assert run("date", "12/08/75", dayfirst=True) == f"{year}-08-12"


@pytest.mark.parametrize("dayfirst", [True, False])
@pytest.mark.parametrize("yearfirst", [True, False])
def test_date_fast_path_agrees_with_dateutil(dayfirst: bool, yearfirst: bool) -> None:
    rng = random.Random(7)
    for _ in range(300):
        day, month = rng.randint(1, 31), rng.randint(1, 12)
        year = rng.choice([rng.randint(1000, 2100), rng.randint(0, 99)])
        sep = rng.choice("-/. ")
        value = f"{day:02d}{sep}{month:02d}{sep}{year:02d}"
        try:
            expected: str | None = (
                dateutil.parser.parse(value, dayfirst=dayfirst, yearfirst=yearfirst)
                .date()
                .isoformat()
            )
        except ValueError:
            expected = None
        try:
            got: str | None = run("date", value, dayfirst=dayfirst, yearfirst=yearfirst)
        except ValueError:
            got = None
        assert got == expected, value


@pytest.mark.parametrize(
    ("value", "opts", "message"),
    [
        ("31/02/2001", {"dayfirst": True}, r"cannot read '31/02/2001' as a date \(dayfirst\)"),
        ("20010231", {}, "cannot read '20010231' as a date"),
        ("not a date", {}, r"cannot read 'not a date' as a date \(month first"),
        ("1802 or 1803", {"dayfirst": True}, "cannot read '1802 or 1803'"),
        ("18-04-1881", {"format": "%d.%m.%Y"}, r"as a date \(format '%d.%m.%Y'\)$"),
        ("August 1975", {}, "no day$"),
        ("1975", {"dayfirst": True}, "no month or day$"),
        ("12 août", {"dayfirst": True}, "no year$"),
        ("9" * 30, {}, "too large"),
    ],
)
def test_date_errors(value: str, opts: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run("date", value, **opts)


# --------------------------------------------------------------------------- columns


def test_normalise_column_applies_the_chain_in_order() -> None:
    chain = [ref("remove_after", sub="("), ref("lowercase"), ref("unaccent")]
    values = ["Hélène (1900)", None, "   ", "", "(x)", "Hélène (1900)"]
    assert normalise_column(values, chain) == ["helene", None, None, None, None, "helene"]
    blanks_missing = ["Hélène (1900)", None, None, None, "(x)", "Hélène (1900)"]
    assert normalise_column(values, []) == blanks_missing
    assert normalise_value("  A ", [ref("strip"), ref("lowercase")]) == "a"
    assert normalise_value(None, [ref("lowercase")]) is None


@pytest.mark.parametrize(
    "values",
    [["a", None, "b c", "a"], ["a", "\t\n", None, "a"], ["", "x"], ["x", "\u3000"], []],
)
def test_an_empty_chain_only_makes_blanks_missing(values: list[str | None]) -> None:
    got = normalise_column(values, [])
    assert got == [None if v is None or not v.strip() else v for v in values]
    assert got is not values  # a new list: the caller's column stays as read


def test_whitespace_only_results_are_missing() -> None:
    chain = [ref("regex_replace", pattern="[a-z]", replacement=" ")]
    assert normalise_column(["ab", "aXb"], chain) == [None, " X "]


def test_normalise_column_computes_each_distinct_value_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[str] = []

    def counting(value: str) -> str:
        seen.append(value)
        return value.upper()

    monkeypatch.setattr(normalise, "unaccent_text", counting)
    values = ["a", "b", None, "a", "a", "b", None, "c"]
    assert normalise_column(values, [ref("unaccent")]) == ["A", "B", None, "A", "A", "B", None, "C"]
    assert seen == ["a", "b", "c"]


def test_normalise_error_names_the_first_bad_value() -> None:
    values = ["12/08/1975", None, "12/08/1975", "31/02/2001", "soon", "31/02/2001"]
    with pytest.raises(NormaliseError) as info:
        normalise_column(values, [ref("strip"), ref("date", dayfirst=True)])
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.index, error.value, error.normaliser) == (3, "31/02/2001", "date")
    assert error.message.startswith("cannot read '31/02/2001' as a date (dayfirst)")
    assert str(error) == error.message


def test_bad_group_reference_is_a_normalise_error() -> None:
    # The schema checks the pattern, not the replacement: re.error must not escape.
    chain = [ref("regex_replace", pattern="a", replacement=r"\1")]
    with pytest.raises(NormaliseError, match="invalid group reference") as info:
        normalise_column([None, "xyz", "abc"], chain)
    assert (info.value.index, info.value.normaliser) == (1, "regex_replace")


# --------------------------------------------------------------------------- transliterate, lookup


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Санкт-Петербург", "Sankt-Peterburg"),
        ("Θεσσαλονίκη", "Thessaloniki"),
        ("上海", "ShangHai"),
        ("서울", "SeoUl"),
        ("Kraków", "Krakow"),
        ("Paris", "Paris"),
        ("\u200b", None),  # nothing Latin is left: missing
    ],
)
def test_transliterate(value: str, expected: str | None) -> None:
    assert normalise_value(value, [ref("transliterate")]) == expected


def test_transliterate_then_lowercase_meets_the_latin_spelling() -> None:
    chain = [ref("transliterate"), ref("lowercase")]
    assert normalise_column(["Москва", "МОСКВА", "Moskva"], chain) == ["moskva"] * 3


def test_lookup_after_other_normalisers_sees_their_output() -> None:
    table = {"etats unis": "United States", "royaume uni": "United Kingdom"}
    chain = [ref("unaccent"), ref("simplify"), ref("lookup", table=table)]
    assert normalise_column(["États-Unis", "Royaume-Uni", "Chine"], chain) == [
        "United States",
        "United Kingdom",
        "chine",
    ]


def test_lookup_options_are_checked() -> None:
    with pytest.raises(ValueError, match="give the table as a CSV 'file' or an inline 'table'"):
        options("lookup")
    with pytest.raises(ValueError, match="'key' and 'value' name the columns of a 'file'"):
        options("lookup", table={"a": "b"}, key="fr")
    with pytest.raises(ValueError, match="keys 'Allemagne' and 'ALLEMAGNE' are the same key"):
        options("lookup", table={"Allemagne": "Germany", "ALLEMAGNE": "Deutschland"})
    with pytest.raises(ValueError, match="a lookup table key cannot be blank"):
        options("lookup", table={" ": "x"})
    with pytest.raises(ValueError, match="file not found"):
        options("lookup", file="no-such-table.csv")
    assert options("lookup", table={"a": "b", "A": "c"}, case_sensitive=True)
