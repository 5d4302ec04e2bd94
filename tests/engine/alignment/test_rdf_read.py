"""RDF dumps queried by pyoxigraph or rdflib: the same records either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.alignment import rdf_read
from engine.alignment.rdf_read import _ordered, query_dumps, stable_literal
from engine.alignment.sources import read_source
from engine.errors import DataError
from schemas.alignment import RdfSource

XSD = "http://www.w3.org/2001/XMLSchema#"

#: Several labels per resource, in several languages, altLabels, untagged and typed values,
#: a resource without a label in the listed languages, another with none at all.
DUMP = """\
@prefix ex: <http://example.org/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix geo: <http://www.opengis.net/ont/geosparql#> .
ex:fr rdfs:label "France"@fr, "France"@en ; skos:altLabel "République française"@fr,
    "Hexagone"@fr, "French Republic"@en ; ex:code "FR" ; ex:pop 68000000 ;
    ex:founded "1958-10-04"^^xsd:date ; ex:area "551.695"^^xsd:decimal ;
    ex:where "POINT(2.35 48.85)"^^geo:wktLiteral .
ex:de rdfs:label "Allemagne"@fr, "Germany"@en-gb, "Deutschland"@de ; ex:code "DE" .
ex:cy rdfs:label "Chypre"@fr, "Zypern"@de ; skos:altLabel "Kypros" ; ex:eu true .
ex:no rdfs:label "Norvège"@fr, "Norway"@en, "Norge"@no ; ex:code "NO", "NOR" .
ex:mt skos:altLabel "Malte"@fr ; ex:pop -5 .
ex:xx ex:code "XX" .
<relative> rdfs:label "relative"@en .
"""
QUERY = """\
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX ex: <http://example.org/>
SELECT ?s ?label ?code ?pop ?founded ?area ?where ?eu WHERE {
  ?s rdfs:label|skos:altLabel ?label .
  OPTIONAL { ?s ex:code ?code } OPTIONAL { ?s ex:pop ?pop }
  OPTIONAL { ?s ex:founded ?founded } OPTIONAL { ?s ex:area ?area }
  OPTIONAL { ?s ex:where ?where } OPTIONAL { ?s ex:eu ?eu }
}
"""


def source(tmp_path: Path, text: str, query: str = QUERY, **options: Any) -> RdfSource:
    (tmp_path / "d.ttl").write_text(text, encoding="utf-8")
    return RdfSource.model_validate(
        {"rdf": "d.ttl", "query": query, "id": "s", **options}, context={"base_dir": tmp_path}
    )


def records(spec: RdfSource, monkeypatch: pytest.MonkeyPatch, store: str) -> Any:
    """The records read with one store, or the error's message; and which store answered."""
    used: list[str] = []
    with monkeypatch.context() as patch:
        oxigraph = rdf_read._with_oxigraph

        def answer(spec: RdfSource) -> Any:
            result = oxigraph(spec) if store == "pyoxigraph" else None
            used.append("pyoxigraph" if result is not None else "rdflib")
            return result

        patch.setattr(rdf_read, "_with_oxigraph", answer)
        try:
            read = read_source(spec, "target")
        except DataError as exc:
            return str(exc), used
    fields = (read.ids, read.names, read.columns, read.rows.tolist(), read.skipped)
    return (*fields, read.warnings, None if read.record is None else read.record.tolist()), used


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"languages": ["en"]},
        {"languages": ["fr", "en"], "values": "all"},
        {"languages": ["en", ""], "values": "all"},
        {"values": "all"},
        {"id": {"template": "http://example.org/code/{code}"}, "on_error": "skip"},
    ],
)
def test_pyoxigraph_and_rdflib_give_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    spec = source(tmp_path, DUMP, **options)
    fast, used = records(spec, monkeypatch, "pyoxigraph")
    slow, _ = records(spec, monkeypatch, "rdflib")
    assert used == ["pyoxigraph"]
    assert fast == slow
    assert not isinstance(fast[0], str)  # records, not an error


def test_several_labels_become_rows_of_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = source(tmp_path, DUMP, languages=["fr", "en"], values="all")
    (ids, _, columns, *_), used = records(spec, monkeypatch, "pyoxigraph")
    assert used == ["pyoxigraph"]
    france = [
        label for iri, label in zip(ids, columns["label"], strict=True) if iri.endswith("/fr")
    ]
    assert france == ["France", "Hexagone", "République française", "French Republic"]
    assert columns["area"][ids.index("http://example.org/fr")] == "551.695"


def test_rows_come_in_one_order_whatever_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without ORDER BY the store chooses: the rows are sorted, records follow their ids.
    spec = source(tmp_path, DUMP)
    (ids, *_), _ = records(spec, monkeypatch, "pyoxigraph")
    assert ids == sorted(ids)
    # With one, the query's order is kept.
    ordered = source(tmp_path, DUMP, query=QUERY.rstrip() + " ORDER BY DESC(?s)")
    (ids, *_), used = records(ordered, monkeypatch, "pyoxigraph")
    assert used == ["rdflib"]  # stores collate strings their own way: rdflib's order
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    "text",
    [
        DUMP + 'ex:fr ex:pop "068000000"^^xsd:integer .\n',  # each store writes it its way
        DUMP + "ex:fr ex:area 1e3 .\n",  # a double
        DUMP + 'ex:fr ex:founded "1958-10-04T00:00:00Z"^^xsd:dateTime .\n',
        DUMP + 'ex:fr rdfs:label "FRANCE"@FR .\n',  # lang() differs: rdflib keeps the case
        DUMP + "ex:fr rdfs:label .\n",  # bad data: rdflib's message
    ],
)
def test_what_pyoxigraph_would_answer_otherwise_is_rdflibs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    spec = source(tmp_path, text)
    fast, used = records(spec, monkeypatch, "pyoxigraph")
    assert used == ["rdflib"]
    assert fast == records(spec, monkeypatch, "rdflib")[0]


def test_a_query_pyoxigraph_refuses_is_reported_by_rdflib(tmp_path: Path) -> None:
    spec = source(tmp_path, DUMP, query="SELECT ?s WHERE { ?s ?p }")
    with pytest.raises(DataError, match="the SPARQL query failed"):
        read_source(spec, "target")


def test_quads_stay_with_rdflib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d.nq").write_text(
        '<http://example.org/a> <http://example.org/p> "A" <http://example.org/g> .\n',
        encoding="utf-8",
    )
    spec = RdfSource.model_validate(
        {"rdf": "d.nq", "query": "SELECT ?s ?o WHERE { ?s ?p ?o }", "id": "s"},
        context={"base_dir": tmp_path},
    )
    assert rdf_read._with_oxigraph(spec) is None
    names, _ = query_dumps(spec, lambda message: DataError("d.nq", message))
    assert names == ["s", "o"]


@pytest.mark.parametrize(
    ("datatype", "text", "stable"),
    [
        (None, " any text ", True),
        (XSD + "string", "x", True),
        ("http://www.opengis.net/ont/geosparql#wktLiteral", "POINT(1 2)", True),
        (XSD + "integer", "42", True),
        (XSD + "integer", "-42", True),
        (XSD + "integer", "042", False),
        (XSD + "integer", "+42", False),
        (XSD + "decimal", "1.5", True),
        (XSD + "decimal", "1.50", False),
        (XSD + "decimal", "2.0", False),
        (XSD + "double", "1.5", False),
        (XSD + "date", "2020-01-31", True),
        (XSD + "date", "2020-01-31Z", False),
        (XSD + "boolean", "1", False),
        (XSD + "gYear", "2020", False),
        ("http://www.w3.org/1999/02/22-rdf-syntax-ns#XMLLiteral", "<a/>", False),
    ],
)
def test_stable_literals(datatype: str | None, text: str, stable: bool) -> None:
    assert stable_literal(datatype, text) is stable


def test_stable_literals_are_given_back_as_written_by_both_stores(tmp_path: Path) -> None:
    import pyoxigraph as ox
    from rdflib import Graph

    values = {
        "integer": ["0", "42", "-7"],
        "int": ["12"],
        "long": ["-3"],
        "decimal": ["1.5", "-0.25", "551.695"],
        "date": ["2020-01-31", "1958-10-04"],
        "boolean": ["true", "false"],
    }
    lines = [
        f'<http://e/s> <http://e/{name}> "{text}"^^<{XSD}{name}> .'
        for name, texts in values.items()
        for text in texts
    ]
    for line in lines:
        assert stable_literal(line.split("^^<")[1][:-3], line.split('"')[1])
    data = "\n".join(lines) + "\n"
    store = ox.Store()
    store.load(data.encode(), ox.RdfFormat.N_TRIPLES)
    written = sorted(line.split('"')[1] for line in lines)
    assert sorted(q.object.value for q in store) == written
    graph = Graph()
    graph.parse(data=data, format="nt")
    assert sorted(str(o) for o in graph.objects()) == written


@pytest.mark.parametrize(
    ("query", "ordered"),
    [
        ("SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s", True),
        ("SELECT ?s WHERE { ?s ?p ?o }\norder by desc(?s) LIMIT 3", True),
        ("SELECT ?s WHERE { { SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 2 } }", False),
        ('SELECT ?s WHERE { ?s ?p "ORDER BY" } # ORDER BY', False),
    ],
)
def test_ordered(query: str, ordered: bool) -> None:
    assert _ordered(query) is ordered


@pytest.mark.parametrize(("suffix", "format"), [(".nt", "nt"), (".rdf", "xml")])
@pytest.mark.parametrize("options", [{}, {"languages": ["fr", "en"], "values": "all"}])
def test_other_formats_give_the_same_records_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
    format: str,
    options: dict[str, Any],
) -> None:
    from rdflib import Graph

    graph = Graph()
    graph.parse(data=DUMP, format="turtle", publicID="http://example.org/base")
    (tmp_path / f"d{suffix}").write_text(graph.serialize(format=format), encoding="utf-8")
    spec = RdfSource.model_validate(
        {"rdf": f"d{suffix}", "query": QUERY, "id": "s", **options},
        context={"base_dir": tmp_path},
    )
    fast, used = records(spec, monkeypatch, "pyoxigraph")
    assert used == ["pyoxigraph"]
    assert fast == records(spec, monkeypatch, "rdflib")[0]
    assert len(fast[0]) > 5


def test_an_unstable_typed_literal_in_n_triples_is_rdflibs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = '<http://e/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n'
    typed = f'<http://e/a> <http://e/n> "1.50"^^<{XSD}decimal> .\n'
    query = "SELECT ?s ?o WHERE { ?s ?p ?o }"
    for text, store in ((line, "pyoxigraph"), (line + typed, "rdflib")):
        (tmp_path / "d.nt").write_text(text, encoding="utf-8")
        spec = RdfSource.model_validate(
            {"rdf": "d.nt", "query": query, "id": "s"}, context={"base_dir": tmp_path}
        )
        _, used = records(spec, monkeypatch, "pyoxigraph")
        assert used == [store]


@pytest.mark.parametrize("suffix", [".ttl", ".nt", ".rdf"])
def test_a_blank_node_label_names_one_node_per_file(tmp_path: Path, suffix: str) -> None:
    texts = {
        ".ttl": ('_:x <http://e/p> "a" .\n', '_:x <http://e/q> "b" .\n'),
        ".nt": ('_:x <http://e/p> "a" .\n', '_:x <http://e/q> "b" .\n'),
        ".rdf": tuple(
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:e="http://e/">'
            f'<rdf:Description rdf:nodeID="x"><e:{p}>{v}</e:{p}></rdf:Description></rdf:RDF>'
            for p, v in (("p", "a"), ("q", "b"))
        ),
    }[suffix]
    for n, text in enumerate(texts):
        (tmp_path / f"{n}{suffix}").write_text(text, encoding="utf-8")
    spec = RdfSource.model_validate(
        {
            "rdf": [f"0{suffix}", f"1{suffix}"],
            "query": "SELECT ?s ?a ?b WHERE { ?s <http://e/p> ?a . ?s <http://e/q> ?b }",
            "id": "s",
        },
        context={"base_dir": tmp_path},
    )
    assert rdf_read._with_oxigraph(spec) == (["s", "a", "b"], [])


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?s ?label FROM <http://example.org/g> WHERE { ?s ?p ?label }",
        "SELECT ?s ?label WHERE { GRAPH ?g { ?s ?p ?label } }",
        "SELECT ?s ?label WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?label } }",
        "SELECT ?s (SAMPLE(?l) AS ?label) WHERE { ?s ?p ?l } GROUP BY ?s",
        "SELECT ?s (group_concat(?l) AS ?label) WHERE { ?s ?p ?l } GROUP BY ?s",
        "SELECT ?s ?label WHERE { ?s ?p ?label } ORDER BY DESC(?label) LIMIT 3",
        "SELECT ?s ?label WHERE { { SELECT ?s ?label WHERE { ?s ?p ?label } LIMIT 2 } }",
    ],
)
def test_queries_on_other_graphs_stay_with_rdflib(tmp_path: Path, query: str) -> None:
    assert rdf_read._with_oxigraph(source(tmp_path, DUMP, query=query)) is None


def test_a_sample_does_not_change_with_an_unrelated_triple(tmp_path: Path) -> None:
    """A decimal either store would rewrite sends the dump to rdflib: a query whose
    solutions a store chooses (SAMPLE) must answer the same with or without it."""
    query = (
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "SELECT ?s (SAMPLE(?l) AS ?label) WHERE { ?s rdfs:label ?l } GROUP BY ?s"
    )
    plain = DUMP.split("ex:mt")[0]
    with_decimal = plain + 'ex:de ex:area "357.0"^^xsd:decimal .\n'
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = read_source(source(tmp_path / "a", plain, query=query), "target")
    second = read_source(source(tmp_path / "b", with_decimal, query=query), "target")
    assert (first.ids, first.columns) == (second.ids, second.columns)


def test_a_query_failing_while_its_rows_are_read_is_a_data_error(tmp_path: Path) -> None:
    """rdflib evaluates as the rows are read: a GRAPH query over a plain graph fails then."""
    spec = source(tmp_path, DUMP, query="SELECT ?s ?l WHERE { GRAPH ?g { ?s ?p ?l } }")
    with pytest.raises(DataError, match="the SPARQL query failed"):
        read_source(spec, "target")
