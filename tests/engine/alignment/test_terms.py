"""RDF terms to record columns: typed literals, language preference, merged rows."""

from __future__ import annotations

import pytest

from engine.alignment.terms import (
    WKT_LITERAL,
    XSD,
    Term,
    all_values,
    cell,
    from_json_binding,
    literal_problem,
    merge_rows,
    wkt_point,
)


def lit(value: str, lang: str | None = None, datatype: str | None = None) -> Term:
    return Term("literal", value, lang, datatype)


def uri(value: str) -> Term:
    return Term("uri", value)


def test_json_bindings_of_both_result_formats() -> None:
    assert from_json_binding({"type": "literal", "value": "Zola", "xml:lang": "FR"}) == lit(
        "Zola", "fr"
    )
    assert from_json_binding(
        {"type": "typed-literal", "value": "1", "datatype": XSD + "integer"}
    ) == lit("1", None, XSD + "integer")
    assert from_json_binding({"type": "uri", "value": "http://x/1"}) == uri("http://x/1")
    with pytest.raises(ValueError, match="not a SPARQL JSON term"):
        from_json_binding({"type": "weird", "value": "x"})


@pytest.mark.parametrize(
    ("value", "datatype", "ok"),
    [
        ("1950-01-31", "date", True),
        ("1950-01-31Z", "date", True),
        ("1950-01-31+02:00", "date", True),
        ("31/01/1950", "date", False),
        ("1950-13-01", "date", False),
        ("1950-01-31T10:00:00", "dateTime", True),
        ("1950-01-31", "dateTime", False),
        ("42", "integer", True),
        ("4.2", "integer", False),
        ("-4.5e3", "double", True),
        ("abc", "decimal", False),
        ("true", "boolean", True),
        ("yes", "boolean", False),
    ],
)
def test_typed_literals_must_fit_their_datatype(value: str, datatype: str, ok: bool) -> None:
    problem = literal_problem(lit(value, None, XSD + datatype))
    assert (problem is None) is ok
    if not ok:
        assert problem == f"literal {value!r} is not a valid xsd:{datatype}"


def test_unknown_datatypes_and_plain_literals_pass() -> None:
    assert literal_problem(lit("anything", None, "http://example.org/myType")) is None
    assert literal_problem(lit("anything", "en")) is None
    assert literal_problem(uri("http://x")) is None


def test_wkt_points_longitude_first_unless_the_crs_says_otherwise() -> None:
    assert wkt_point("POINT(2.35 48.85)") == ("48.85", "2.35")
    assert wkt_point(" point ( -1.5e0  47 ) ") == ("47", "-1.5e0")
    assert wkt_point("<http://www.opengis.net/def/crs/OGC/1.3/CRS84> POINT(2.35 48.85)") == (
        "48.85",
        "2.35",
    )
    assert wkt_point("<http://www.opengis.net/def/crs/EPSG/0/4326> POINT(48.85 2.35)") == (
        "48.85",
        "2.35",
    )
    assert wkt_point("POLYGON((0 0, 1 1, 1 0, 0 0))") is None
    assert literal_problem(lit("POINT(2.35)", None, WKT_LITERAL)) is not None
    assert literal_problem(lit("POLYGON((0 0, 1 1, 1 0, 0 0))", None, WKT_LITERAL)) is None


def test_cells_keep_the_lexical_form_and_drop_a_dates_time_zone() -> None:
    assert cell(lit("1950-01-31Z", None, XSD + "date")) == "1950-01-31"
    assert cell(lit("0800", None, XSD + "string")) == "0800"
    assert cell(lit("  ")) is None
    assert cell(None) is None


def test_rows_of_one_record_merge_by_language_preference() -> None:
    names = ["s", "label", "born"]
    rows = [
        [uri("http://x/1"), lit("Zola", "en"), lit("1840-04-02", None, XSD + "date")],
        [uri("http://x/1"), lit("Émile Zola", "fr"), lit("1840-04-02", None, XSD + "date")],
        [uri("http://x/1"), lit("Zola (de)", "de"), None],
        [uri("http://x/2"), lit("Hugo"), None],
        [uri("http://x/2"), lit("Victor Hugo", "en"), lit("1802-02-26", None, XSD + "date")],
    ]
    columns, first, _ = merge_rows(names, rows, [0], ["fr", "en", ""], lambda r, m: None)
    assert columns == {
        "s": ["http://x/1", "http://x/2"],
        "label": ["Émile Zola", "Victor Hugo"],
        "born": ["1840-04-02", "1802-02-26"],
    }
    assert first == [1, 4]


def test_merging_does_not_depend_on_the_answer_order() -> None:
    names = ["s", "label"]
    rows = [[uri("http://x/1"), lit(name)] for name in ("b", "a", "c")]
    expected = merge_rows(names, rows, [0], [], lambda r, m: None).columns
    reordered = merge_rows(names, rows[::-1], [0], [], lambda r, m: None).columns
    assert expected == reordered == {"s": ["http://x/1"], "label": ["a"]}


def test_a_badly_typed_row_is_reported_with_its_variable_and_left_out() -> None:
    problems: list[tuple[int, str]] = []
    rows = [
        [uri("http://x/1"), lit("1950-01-01", None, XSD + "date")],
        [uri("http://x/2"), lit("not a date", None, XSD + "date")],
    ]
    columns, first, _ = merge_rows(
        ["s", "born"], rows, [0], [], lambda r, m: problems.append((r, m))
    )
    assert problems == [(2, "literal 'not a date' is not a valid xsd:date (variable ?born)")]
    assert columns["s"] == ["http://x/1"] and first == [1]


def test_listed_languages_are_strict() -> None:
    # "Chypre"@fr is no English label: with languages [en] the record has none.
    names = ["s", "label", "born", "code"]
    born = lit("1960-08-16", None, XSD + "date")
    rows = [
        [uri("http://x/cy"), lit("Chypre", "fr"), born, lit("CY")],
        [uri("http://x/cy"), lit("Zypern", "de"), None, None],
        [uri("http://x/gb"), lit("Royaume-Uni", "fr"), None, lit("GB")],
        [uri("http://x/gb"), lit("United Kingdom", "en-GB"), None, None],
        [uri("http://x/no"), lit("Norway"), None, lit("NO")],
        [uri("http://x/zz"), None, None, lit("ZZ")],
    ]
    merged = merge_rows(names, rows, [0], ["en"], lambda r, m: None)
    # Untagged values in a column of tagged labels are not English either; a column
    # without any tag (codes) and typed values (dates) have no language to check.
    assert merged.columns == {
        "s": ["http://x/cy", "http://x/gb", "http://x/no", "http://x/zz"],
        "label": [None, "United Kingdom", None, None],
        "born": ["1960-08-16", None, None, None],
        "code": ["CY", "GB", "NO", "ZZ"],
    }
    assert merged.unlisted == {"label": 2}  # cy and no had labels, none in English
    untagged = merge_rows(names, rows, [0], ["en", ""], lambda r, m: None)
    assert untagged.columns["label"] == [None, "United Kingdom", "Norway", None]
    assert untagged.unlisted == {"label": 1}
    anything = merge_rows(names, rows, [0], [], lambda r, m: None)
    assert anything.columns["label"] == ["Chypre", "Royaume-Uni", "Norway", None]
    assert anything.unlisted == {}


def test_all_values_best_first_in_the_listed_languages() -> None:
    names = ["s", "label", "code"]
    rows = [
        [uri("http://x/1"), lit("Zola", "en"), lit("Z")],
        [uri("http://x/1"), lit("Émile Zola", "fr"), lit("Z")],
        [uri("http://x/1"), lit("Zola (de)", "de"), None],
        [uri("http://x/1"), lit("Zola", "en-gb"), lit("EZ")],
        [uri("http://x/2"), lit("Hugo", "fr"), lit("H")],
        [uri("http://x/3"), lit("Verne", "de"), lit("V", None, XSD + "integer")],  # bad: left out
    ]
    languages = ["fr", "en"]
    several = all_values(names, rows, [0], languages)
    # Record 1 only: German is not listed, "Zola" in en and en-gb is one value, and the
    # first value is the one merge_rows keeps.
    assert several == {"label": {0: ["Émile Zola", "Zola"]}, "code": {0: ["EZ", "Z"]}}
    merged = merge_rows(names, rows, [0], languages, lambda r, m: None)
    assert merged.columns["label"][0] == several["label"][0][0]
    assert all_values(names, rows, [0], [])["label"] == {0: ["Zola", "Zola (de)", "Émile Zola"]}
