"""The columns a spec names, against its sources' columns: spec errors at the spec's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.alignment.headers import check_sources, projected_variables
from engine.cli import main
from engine.errors import SpecError
from engine.loader import load_spec

SPEC = """\
kind: alignment
name: places
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target:
    csv: b.csv
    id: {template: "http://b/{id}"}
attributes:
  - name: name
    target: label
    metric: levenshtein
  - {name: place, align: [lat, lon], target: [lat, lon], metric: geographic, weight: 0.1}
blocking: {radius: {align: [lat, lon], radius: 10 km}}
threshold: 1
outputs:
  - {csv: out/links.csv}
"""
A = "id,name,lat,lon\n1,Paris,48.85,2.35\n"
B = "id,label,lat,lon\n1,Paris,48.86,2.35\n"


def _spec(tmp_path: Path, text: str = SPEC, a: str = A, b: str = B) -> Path:
    (tmp_path / "a.csv").write_text(a, encoding="utf-8")
    (tmp_path / "b.csv").write_text(b, encoding="utf-8")
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _line(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _problems(path: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        check_sources(load_spec(path), path)
    return [str(p) for p in caught.value.problems]


def test_a_spec_matching_its_sources_passes(tmp_path: Path) -> None:
    path = _spec(tmp_path)
    check_sources(load_spec(path), path)


def test_a_misspelt_column_is_a_spec_error_at_its_line_with_the_closest_name(
    tmp_path: Path,
) -> None:
    text = SPEC.replace("target: label", "target: lable")
    path = _spec(tmp_path, text)
    assert _problems(path) == [
        f"{path}:{_line(text, 'lable')}:13: attributes[0].target: target source"
        f" {tmp_path / 'b.csv'} has no column 'lable'; did you mean 'label'?"
        " (columns: id, label, lat, lon)"
    ]


def test_every_column_the_spec_names_is_checked(tmp_path: Path) -> None:
    text = (
        SPEC.replace('"http://b/{id}"', '"http://b/{idx}"')
        .replace("target: [lat, lon], metric", "target: [lat, long], metric")
        .replace("align: [lat, lon], radius: 10", "align: [lat, lng], radius: 10")
        .replace("  - name: name\n    target: label", "  - name: nom\n    target: label")
    )
    path = _spec(tmp_path, text)
    problems = _problems(path)
    assert [p.split(": ", 2)[1] for p in problems] == [
        "sources.target.id.template",
        "attributes[0].name",
        "attributes[1].target[1]",
        "blocking.radius.align",
        "blocking.radius.align",
    ]
    assert "has no column 'idx'; did you mean 'id'?" in problems[0]
    assert f"align source {tmp_path / 'a.csv'} has no column 'nom'" in problems[1]
    assert "has no column 'long'; did you mean 'lon'?" in problems[2]
    # The blocking rule's columns are the same on both sides: one problem per side.
    assert f"align source {tmp_path / 'a.csv'} has no column 'lng'" in problems[3]
    assert f"target source {tmp_path / 'b.csv'} has no column 'lng'" in problems[4]
    assert [p.split(":")[1] for p in problems] == [
        str(_line(text, "{idx}")),
        str(_line(text, "name: nom")),
        str(_line(text, "[lat, long]")),
        str(_line(text, "[lat, lng]")),
        str(_line(text, "[lat, lng]")),
    ]


def test_a_column_index_out_of_range(tmp_path: Path) -> None:
    text = SPEC.replace("target: label", "target: 7")
    (problem,) = _problems(_spec(tmp_path, text))
    assert problem.endswith("has no column 7 (it has 4: 0..3)")


def test_a_semicolon_file_read_with_commas_suggests_its_delimiter(tmp_path: Path) -> None:
    path = _spec(tmp_path, b=B.replace(",", ";"))
    (problem,) = _problems(path)
    assert problem == (
        f"{path}:{_line(SPEC, 'csv: b.csv')}:10: sources.target.csv: target source"
        f" {tmp_path / 'b.csv'}: its header 'id;label;lat;lon' is separated by ';', not ',':"
        ' set delimiter: ";" in the source'
    )
    fixed = _spec(
        tmp_path,
        SPEC.replace("csv: b.csv", 'csv: b.csv\n    delimiter: ";"'),
        b=B.replace(",", ";"),
    )
    check_sources(load_spec(fixed), fixed)


def test_the_delimiter_hint_also_comes_from_the_read(tmp_path: Path) -> None:
    # Sources read on their own (the web preview) say it too.
    from engine.alignment.sources import read_source
    from engine.errors import DataError

    spec = load_spec(_spec(tmp_path, b=B.replace(",", ";")))
    with pytest.raises(DataError) as caught:
        read_source(spec.sources.target, "target")
    assert 'set delimiter: ";"' in str(caught.value)


def test_inline_rows_rdf_queries_and_deduplication(tmp_path: Path) -> None:
    text = SPEC.replace(
        '  target:\n    csv: b.csv\n    id: {template: "http://b/{id}"}\n',
        "  target:\n    rdf: b.ttl\n    query: |\n"
        "      SELECT DISTINCT ?s (STR(?l) AS ?label) ?lat ?lon\n"
        "      WHERE { ?s <http://x/p#label> ?l ; <http://x/lat> ?lat ; <http://x/lon> ?lon }\n"
        "    id: s\n",
    ).replace("target: label", "target: name")
    (tmp_path / "b.ttl").write_text("", encoding="utf-8")
    (problem,) = _problems(_spec(tmp_path, text))
    assert "attributes[0].target: target source" in problem
    assert "has no column 'name' (columns: s, label, lat, lon)" in problem
    dedup = _spec(
        tmp_path,
        SPEC.replace(
            'target:\n    csv: b.csv\n    id: {template: "http://b/{id}"}', "target: same"
        ),
    )
    (problem,) = _problems(dedup)
    assert (
        f"attributes[0].target: align source {tmp_path / 'a.csv'} has no column 'label'" in problem
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT ?s ?name WHERE { ?s ?p ?name }", ["s", "name"]),
        ("PREFIX x: <http://x/#a> select distinct $s ?n { ?s x:n ?n }", ["s", "n"]),
        ("SELECT ?s (COUNT(?o) AS ?n) (STR(?l) as ?label) WHERE {}", ["s", "n", "label"]),
        ("# SELECT ?nope\nSELECT ?s FROM <http://g> WHERE {}", ["s"]),
        ("SELECT * WHERE { ?s ?p ?o }", None),
        ("SELECT ?s WHERE { { SELECT ?t WHERE {} } }", ["s"]),
        ("ASK { ?s ?p ?o }", None),
    ],
)
def test_projected_variables(query: str, expected: list[str] | None) -> None:
    assert projected_variables(query) == expected


@pytest.mark.parametrize("command", ["run", "plan"])
def test_plan_and_run_report_it_as_a_spec_error_before_comparing(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SPEC.replace("target: label", "target: lable")
    path = _spec(tmp_path, text)
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{_line(text, 'lable')}:13: attributes[0].target: target source" in err
    assert "did you mean 'label'?" in err
    assert not (tmp_path / "out").exists()


def test_a_run_reading_a_source_whose_columns_only_the_read_tells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SELECT *: the columns are known once the dump is read; still a spec error.
    text = SPEC.replace(
        '  target:\n    csv: b.csv\n    id: {template: "http://b/{id}"}\n',
        "  target:\n    rdf: b.ttl\n    query: 'SELECT * WHERE { ?s <http://x/label> ?label ;"
        " <http://x/lat> ?lat ; <http://x/lon> ?lon }'\n    id: s\n",
    ).replace("target: label", "target: lable")
    path = _spec(tmp_path, text)
    (tmp_path / "b.ttl").write_text(
        '<http://b/1> <http://x/label> "Paris" ; <http://x/lat> "48.86" ; <http://x/lon> "2.35" .\n',
        encoding="utf-8",
    )
    check_sources(load_spec(path), path)  # nothing to tell from the query
    assert main(["run", "-q", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{_line(text, 'lable')}:13: attributes[0].target:" in err
    assert "has no column 'lable'; did you mean 'label'?" in err


@pytest.mark.parametrize("command", [["validate", "--sources"], ["run", "-q"]])
def test_a_misspelt_split_column_is_a_spec_error_at_its_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SPEC.replace(
        'id: {template: "http://b/{id}"}',
        'id: {template: "http://b/{id}"}\n    split: {lable: "|"}',
    )
    path = _spec(tmp_path, text)
    assert main([*command, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{_line(text, 'lable:')}:" in err and "sources.target.split.lable" in err, err
    assert "has no column 'lable'; did you mean 'label'?" in err
