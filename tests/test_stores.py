"""The store fixtures work, and the store behaviours the engine must cope with hold.

Each test names one fact about Oxigraph or Virtuoso 7 that code talking to
them relies on (row caps, paging, update endpoints, JSON term forms), so a
new store version that changes it shows up here first.
"""

from __future__ import annotations

import urllib.parse

import pytest

from tests.stores import Oxigraph, SparqlError, Virtuoso, http

XSD = "http://www.w3.org/2001/XMLSchema#"
G = "http://test.example/graph/"


def ntriples(count: int, start: int = 0) -> str:
    """``count`` triples with zero-padded subjects, so that IRI order is number order."""
    lines = (
        f'<http://test.example/s{i:06d}> <http://test.example/p> "v{i}" .'
        for i in range(start, start + count)
    )
    return "\n".join(lines) + "\n"


TERMS_TTL = f"""\
@prefix xsd: <{XSD}> .
@prefix ex: <http://test.example/> .
ex:s ex:lang "Hello"@en-GB ;
     ex:date "2020-01-02"^^xsd:date ;
     ex:double "3.141592653589793"^^xsd:double ;
     ex:boolean true ;
     ex:string "explicit"^^xsd:string ;
     ex:int "7"^^xsd:int ;
     ex:iri ex:o ;
     ex:bnode [ ex:q 1 ] .
"""


def terms_by_predicate(rows: list[dict[str, dict[str, str]]]) -> dict[str, dict[str, str]]:
    return {row["p"]["value"].rsplit("/", 1)[1]: row["o"] for row in rows}


# --- Oxigraph ---------------------------------------------------------------


def test_oxigraph_listens_on_loopback(oxigraph: Oxigraph) -> None:
    assert oxigraph.base.startswith("http://127.0.0.1:")
    assert oxigraph.process.alive()
    assert oxigraph.ask("ASK {}") is True


def test_oxigraph_load_select_clear(empty_oxigraph: Oxigraph) -> None:
    store = empty_oxigraph
    store.load(ntriples(3), "application/n-triples", graph=G + "a")
    store.load('<http://test.example/d> <http://test.example/p> "d" .', graph=None)
    assert store.count(G + "a") == 3
    rows = store.select("SELECT ?o WHERE { ?s ?p ?o }")  # the default graph alone
    assert rows == [{"o": {"type": "literal", "value": "d"}}]
    store.load(ntriples(1), "application/n-triples", graph=G + "a", replace=True)
    assert store.count(G + "a") == 1
    store.clear()
    assert store.select("SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }") == []


def test_oxigraph_has_no_row_cap(empty_oxigraph: Oxigraph) -> None:
    empty_oxigraph.load(ntriples(12000), "application/n-triples", graph=G + "big")
    assert (
        len(empty_oxigraph.select(f"SELECT ?s WHERE {{ GRAPH <{G}big> {{ ?s ?p ?o }} }}")) == 12000
    )


def test_oxigraph_move_replaces_the_target(empty_oxigraph: Oxigraph) -> None:
    store = empty_oxigraph
    store.load(ntriples(2), "application/n-triples", graph=G + "from")
    store.load(ntriples(5, start=100), "application/n-triples", graph=G + "to")
    store.update(f"MOVE GRAPH <{G}from> TO GRAPH <{G}to>")
    assert (store.count(G + "from"), store.count(G + "to")) == (0, 2)
    with pytest.raises(SparqlError, match="does not exist"):
        store.update(f"MOVE GRAPH <{G}missing> TO GRAPH <{G}to>")


def test_oxigraph_json_terms(empty_oxigraph: Oxigraph) -> None:
    empty_oxigraph.load(TERMS_TTL, graph=G + "terms")
    rows = empty_oxigraph.select(f"SELECT ?p ?o WHERE {{ GRAPH <{G}terms> {{ ?s ?p ?o }} }}")
    terms = terms_by_predicate(rows)
    assert terms["lang"] == {"type": "literal", "value": "Hello", "xml:lang": "en-gb"}
    assert terms["date"] == {"type": "literal", "value": "2020-01-02", "datatype": XSD + "date"}
    assert terms["double"]["value"] == "3.141592653589793"
    assert terms["boolean"]["value"] == "true"
    assert terms["string"] == {"type": "literal", "value": "explicit"}  # xsd:string dropped
    assert terms["int"]["datatype"] == XSD + "integer"  # canonicalized on load
    assert terms["iri"] == {"type": "uri", "value": "http://test.example/o"}
    assert terms["bnode"]["type"] == "bnode"


# --- Virtuoso ---------------------------------------------------------------


@pytest.fixture(scope="module")
def graph_12k(virtuoso: Virtuoso) -> str:
    """A graph of 12,000 triples, loaded once for the module."""
    graph = G + "12k"
    virtuoso.drop_graph(graph)
    virtuoso.load_turtle(ntriples(12000), graph)
    return graph


@pytest.mark.virtuoso
def test_virtuoso_listens_on_loopback(virtuoso: Virtuoso) -> None:
    assert virtuoso.base.startswith("http://127.0.0.1:")
    assert (
        f"ServerPort               = 127.0.0.1:{virtuoso.sql_port}" in virtuoso.ini_path.read_text()
    )
    assert virtuoso.isql("SELECT 40 + 2;").strip() == "42"
    assert virtuoso.ask("ASK {}") is True


@pytest.mark.virtuoso
def test_virtuoso_caps_select_at_10000_rows(virtuoso: Virtuoso, graph_12k: str) -> None:
    assert virtuoso.count(graph_12k) == 12000
    query = f"SELECT ?s WHERE {{ GRAPH <{graph_12k}> {{ ?s ?p ?o }} }}"
    response = virtuoso.query(query)
    # Truncated with a 200: only this header tells (it is also sent when
    # exactly 10,000 rows are the whole answer).
    assert response.status == 200
    assert response.headers["x-sparql-maxrows"] == "10000"
    assert len(response.json()["results"]["bindings"]) == 10000
    assert len(virtuoso.select(query + " LIMIT 12000")) == 10000
    # isql has no such cap.
    assert len(virtuoso.isql(f"SPARQL {query};").splitlines()) == 12000


@pytest.mark.virtuoso
def test_virtuoso_sorted_paging_needs_a_subquery(virtuoso: Virtuoso, graph_12k: str) -> None:
    pattern = f"GRAPH <{graph_12k}> {{ ?s ?p ?o }}"
    with pytest.raises(
        SparqlError, match="SR353: Sorted TOP clause specifies more then 11000 rows"
    ):
        virtuoso.select(f"SELECT ?s WHERE {{ {pattern} }} ORDER BY ?s LIMIT 1000 OFFSET 10000")
    inner = f"SELECT ?s WHERE {{ {pattern} }} ORDER BY DESC(?s)"
    rows = virtuoso.select(f"SELECT * WHERE {{ {{ {inner} }} }} LIMIT 1000 OFFSET 10000")
    subjects = [row["s"]["value"] for row in rows]
    assert len(subjects) == 1000
    assert subjects[0] == "http://test.example/s001999"
    assert subjects == sorted(subjects, reverse=True)


@pytest.mark.virtuoso
def test_virtuoso_update_needs_the_auth_endpoint(virtuoso: Virtuoso) -> None:
    insert = f'INSERT DATA {{ GRAPH <{G}u> {{ <http://test.example/a> <http://test.example/p> "x" . }} }}'
    with pytest.raises(SparqlError, match="SR186:SECURITY"):
        virtuoso.query(insert)  # anonymous /sparql is read-only
    assert "1 (or less) triples -- done" in virtuoso.update(insert)
    virtuoso.load_turtle(ntriples(3), G + "to")
    virtuoso.update(f"MOVE SILENT GRAPH <{G}u> TO GRAPH <{G}to>")
    assert (virtuoso.count(G + "u"), virtuoso.count(G + "to")) == (0, 1)
    virtuoso.drop_graph(G + "to")
    virtuoso.drop_graph(G + "never-created")  # SILENT: no error
    assert virtuoso.count(G + "to") == 0


@pytest.mark.virtuoso
def test_virtuoso_insert_data_limits(virtuoso: Virtuoso) -> None:
    def insert(count: int) -> str:
        return f"INSERT DATA {{ GRAPH <{G}limit> {{ {ntriples(count)} }} }}"

    virtuoso.update(insert(1426))
    assert virtuoso.count(G + "limit") == 1426
    with pytest.raises(SparqlError, match="generated SQL text has exceeded 10000 lines"):
        virtuoso.update(insert(1427))
    with pytest.raises(SparqlError, match="Blank node '_:b' is not allowed in a constant clause"):
        virtuoso.update(f"INSERT DATA {{ GRAPH <{G}limit> {{ _:b <http://test.example/p> 1 }} }}")
    virtuoso.drop_graph(G + "limit")


@pytest.mark.virtuoso
def test_virtuoso_graph_store_put(virtuoso: Virtuoso) -> None:
    virtuoso.put_graph(ntriples(30000), G + "gsp", "application/n-triples")
    virtuoso.put_graph(ntriples(2), G + "gsp", "text/turtle")  # PUT replaces
    assert virtuoso.count(G + "gsp") == 2
    url = (
        f"{virtuoso.base}/sparql-graph-crud-auth?{urllib.parse.urlencode({'graph-uri': G + 'gsp'})}"
    )
    assert http(virtuoso.opener, "GET", url).status == 401  # digest auth required
    virtuoso.drop_graph(G + "gsp")


@pytest.mark.virtuoso
def test_virtuoso_json_terms(virtuoso: Virtuoso) -> None:
    virtuoso.put_graph(TERMS_TTL, G + "terms")
    rows = virtuoso.select(f"SELECT ?p ?o WHERE {{ GRAPH <{G}terms> {{ ?s ?p ?o }} }}")
    terms = terms_by_predicate(rows)
    assert terms["lang"] == {"type": "literal", "xml:lang": "en-gb", "value": "Hello"}
    assert terms["date"] == {
        "type": "typed-literal",
        "datatype": XSD + "date",
        "value": "2020-01-02",
    }
    assert terms["double"]["value"] == "3.14159"  # printed with 6 significant digits
    assert terms["boolean"]["value"] == "1"
    assert terms["string"] == {
        "type": "typed-literal",
        "datatype": XSD + "string",
        "value": "explicit",
    }
    assert terms["int"]["datatype"] == XSD + "int"
    assert terms["iri"] == {"type": "uri", "value": "http://test.example/o"}
    assert terms["bnode"]["type"] == "bnode"
    assert terms["bnode"]["value"].startswith("nodeID://")
    full = virtuoso.select(
        f"SELECT (STR(?o) AS ?v) WHERE {{ GRAPH <{G}terms> {{ ?s <http://test.example/double> ?o }} }}"
    )
    assert full[0]["v"]["value"] == "3.141592653589793"  # stored in full: STR() shows it
    virtuoso.drop_graph(G + "terms")
