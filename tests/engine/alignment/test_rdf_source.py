"""RDF dump sources: a SPARQL SELECT over local files becomes columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.alignment.sources import read_source
from engine.errors import DataError
from schemas.alignment import RdfSource

TTL = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:a rdfs:label "Anne"@fr, "Ann"@en ; ex:born "1990-01-02" .
ex:b rdfs:label "Bob"@fr .
"""
QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX ex: <http://example.org/>
SELECT ?s ?name ?born WHERE {
  ?s rdfs:label ?name . FILTER(lang(?name) = 'fr')
  OPTIONAL { ?s ex:born ?born }
} ORDER BY ?s
"""


def _source(tmp_path: Path, text: str = TTL, query: str = QUERY, name: str = "d.ttl") -> RdfSource:
    (tmp_path / name).write_text(text, encoding="utf-8")
    return RdfSource.model_validate(
        {"rdf": name, "query": query, "id": "s"}, context={"base_dir": tmp_path}
    )


def test_select_rows_become_records(tmp_path: Path) -> None:
    records = read_source(_source(tmp_path), "target")
    assert records.ids == ["http://example.org/a", "http://example.org/b"]
    assert records.names == ["s", "name", "born"]
    assert records.columns["name"] == ["Anne", "Bob"]
    assert records.columns["born"] == ["1990-01-02", None]  # unbound: missing
    assert records.rows.tolist() == [1, 2]
    assert records.source == f"target source {tmp_path / 'd.ttl'}"


def test_several_files_and_formats(tmp_path: Path) -> None:
    (tmp_path / "more.nt").write_text(
        '<http://example.org/c> <http://www.w3.org/2000/01/rdf-schema#label> "Cleo"@fr .\n'
    )
    source = _source(tmp_path)
    source = RdfSource.model_validate(
        {"rdf": ["d.ttl", "more.nt"], "query": QUERY, "id": "s"}, context={"base_dir": tmp_path}
    )
    records = read_source(source, "target")
    assert records.columns["name"] == ["Anne", "Bob", "Cleo"]


def test_bad_dump_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"d.ttl: cannot read as turtle"):
        read_source(_source(tmp_path, TTL + "ex:c rdfs:label ."), "target")


def test_bad_query(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="the SPARQL query failed"):
        read_source(_source(tmp_path, query="SELECT ?s WHERE { ?s ?p }"), "target")


def test_schema_checks(tmp_path: Path) -> None:
    (tmp_path / "d.data").write_text(TTL)
    with pytest.raises(ValueError, match=r"cannot tell the RDF format of 'd\.data'"):
        RdfSource.model_validate(
            {"rdf": "d.data", "query": QUERY, "id": "s"}, context={"base_dir": tmp_path}
        )
    with pytest.raises(ValueError, match="must be a SPARQL SELECT"):
        _source(tmp_path, query="CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")


COUNTRIES = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
ex:cy rdfs:label "Chypre"@fr, "Zypern"@de .
ex:fr rdfs:label "France"@fr, "France"@en .
ex:no rdfs:label "Norvège"@fr, "Norway"@en .
ex:mt rdfs:label "Malte"@fr .
"""


def test_a_record_without_a_label_in_the_listed_languages_has_none(tmp_path: Path) -> None:
    (tmp_path / "c.ttl").write_text(COUNTRIES, encoding="utf-8")
    source = RdfSource.model_validate(
        {
            "rdf": "c.ttl",
            "query": "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }",
            "id": "s",
            "languages": ["en"],
        },
        context={"base_dir": tmp_path},
    )
    records = read_source(source, "target")
    labels = dict(zip(records.ids, records.columns["label"], strict=True))
    ex = "http://example.org/"
    assert labels == {ex + "cy": None, ex + "fr": "France", ex + "no": "Norway", ex + "mt": None}
    assert records.warnings == [
        f"target source {tmp_path / 'c.ttl'}: 2 records have no ?label in the listed"
        " languages (en): their label is missing"
    ]


def test_plan_and_run_report_the_records_without_a_listed_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.cli import main

    (tmp_path / "c.ttl").write_text(COUNTRIES, encoding="utf-8")
    (tmp_path / "a.csv").write_text("id,name\ncy,Cyprus\nno,Norway\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        """kind: alignment
name: countries
sources:
  align: {csv: a.csv, id: {template: "http://example.org/{id}"}}
  target:
    rdf: c.ttl
    query: SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label }
    id: s
    languages: [en]
attributes:
  - {name: name, target: label, metric: {levenshtein: {normalised: true}}}
threshold: 0.2
outputs:
  - {csv: out/links.csv}
""",
        encoding="utf-8",
    )
    warning = "2 records have no ?label in the listed languages (en): their label is missing"
    assert main(["plan", str(spec)]) == 0
    assert warning in capsys.readouterr().out
    assert main(["run", str(spec)]) == 0
    assert warning in capsys.readouterr().err
    links = (tmp_path / "out" / "links.csv").read_text(encoding="utf-8").splitlines()
    assert links[1:] == ["http://example.org/no,http://example.org/no,0,0"]
