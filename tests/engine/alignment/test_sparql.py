"""SPARQL paging: query rewriting, page loop, failures (scripted HTTP server)."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from engine.alignment.sparql import SparqlFailure, fetch, paged_query, split_query
from engine.alignment.terms import Term
from engine.http import RetryPolicy
from tests.httpserver import Behaviour, Recorded, fixed, serve

FAST = RetryPolicy(timeout_s=0.5, retries=2, backoff_s=0.0)


def test_split_keeps_the_prologue_and_finds_the_projection() -> None:
    query = (
        "# writers\nPREFIX dct: <http://purl.org/dc/terms/>\nBASE <http://x/>\n"
        "SELECT DISTINCT ?writer (STR(?n) AS ?name) WHERE { ?writer dct:subject ?c ; <l> ?n }"
    )
    split = split_query(query)
    assert split.prologue.startswith("# writers\nPREFIX dct:")
    assert split.body.startswith("SELECT DISTINCT ?writer")
    assert split.variables == ["writer", "name"]
    assert not split.ordered and not split.limited


def test_split_reads_virtuoso_style_commas_and_star() -> None:
    assert split_query("SELECT ?writer, ?name WHERE { ?writer ?p ?name }").variables == [
        "writer",
        "name",
    ]
    assert sorted(split_query("SELECT * WHERE { ?s ?p ?o }").variables) == ["o", "p", "s"]


def test_split_sees_existing_modifiers_after_the_where_clause() -> None:
    assert split_query("SELECT ?s WHERE { ?s ?p ?o } ORDER BY DESC(?s)").ordered
    assert split_query("SELECT ?s WHERE { ?s ?p ?o } LIMIT 10").limited
    # A LIMIT inside a subquery is not the query's own.
    inner = "SELECT ?s WHERE { { SELECT ?s WHERE { ?s ?p ?o } LIMIT 5 } }"
    assert not split_query(inner).limited


def test_split_rejects_what_is_not_a_select() -> None:
    with pytest.raises(ValueError, match="must be a SELECT"):
        split_query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")


def test_pages_wrap_the_query_and_order_on_every_variable() -> None:
    split = split_query("PREFIX a: <http://a/>\nSELECT ?s ?o WHERE { ?s a:p ?o } # all")
    assert paged_query(split, 100, 200) == (
        "PREFIX a: <http://a/>\nSELECT ?s ?o WHERE {\n{\nSELECT ?s ?o WHERE { ?s a:p ?o } # all\n}\n}"
        "\nORDER BY ?s ?o\nLIMIT 100 OFFSET 200"
    )
    assert paged_query(split, 100, 200, subquery=True) == (
        "PREFIX a: <http://a/>\nSELECT ?s ?o WHERE {\n{\nSELECT ?s ?o WHERE {\n{\n"
        "SELECT ?s ?o WHERE { ?s a:p ?o } # all\n}\n}\nORDER BY ?s ?o\n}\n}\nLIMIT 100 OFFSET 200"
    )


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?s ?o WHERE { ?s <http://a/p> ?o } # a comment after the WHERE clause",
        "SELECT ?s ?o WHERE { ?s <http://a/p> ?o } VALUES ?s { <http://a/1> <http://a/2> }",
        "SELECT ?s (COUNT(?o) AS ?n) WHERE { ?s <http://a/p> ?o } GROUP BY ?s ORDER BY DESC(?n)",
        "SELECT ?s ?o WHERE { ?s <http://a/p> ?o } ORDER BY ?o LIMIT 20000",
    ],
)
def test_every_page_is_valid_sparql(query: str) -> None:
    from rdflib.plugins.sparql import prepareQuery

    split = split_query(query)
    for subquery in (False, True):
        prepareQuery(paged_query(split, 10, 20, subquery))  # raises on a syntax error


# --------------------------------------------------------------------------- against a scripted endpoint

ROWS = [(f"http://x/{i:03d}", f"name {i}") for i in range(25)]


def _answer(rows: list[tuple[str, str]]) -> bytes:
    bindings = [
        {"s": {"type": "uri", "value": s}, "name": {"type": "literal", "value": n}} for s, n in rows
    ]
    return json.dumps({"head": {"vars": ["s", "name"]}, "results": {"bindings": bindings}}).encode()


def _query_of(recorded: Recorded) -> str:
    return urllib.parse.parse_qs(recorded.body.decode())["query"][0]


def _subquery_form(query: str) -> bool:
    """Virtuoso's paging form: the ORDER BY inside, LIMIT/OFFSET outside."""
    return "ORDER BY ?s ?name\n}" in query


def _capped_endpoint(cap: int) -> Behaviour:
    """An endpoint that honours LIMIT/OFFSET but never returns more than ``cap`` rows."""

    def answer(recorded: Recorded) -> tuple[int, str, bytes]:
        query = _query_of(recorded)
        limit = int(query.split("LIMIT ")[1].split()[0])
        offset = int(query.split("OFFSET ")[1].split()[0])
        page = ROWS[offset : offset + min(limit, cap)]
        return 200, "application/sparql-results+json", _answer(page)

    return Behaviour(answer)


QUERY = "SELECT ?s ?name WHERE { ?s <http://x/name> ?name }"


def test_every_row_comes_back_even_when_the_endpoint_caps_below_the_page_size() -> None:
    with serve(_capped_endpoint(cap=7)) as server:
        answer = fetch(server.url, QUERY, page_size=10, policy=FAST)
    assert [row[0] for row in answer.rows] == [Term("uri", s) for s, _ in ROWS]
    offsets = [int(_query_of(r).split("OFFSET ")[1]) for r in server.requests]
    assert offsets == [0, 7, 14, 21, 25]  # moves by the rows received, stops at an empty page


def test_a_query_with_its_own_limit_is_paged_within_it() -> None:
    with serve(_capped_endpoint(cap=100)) as server:
        answer = fetch(server.url, QUERY + " LIMIT 30", page_size=10, policy=FAST)
    assert len(answer.rows) == 25  # the scripted endpoint ignores the inner LIMIT: all rows
    assert "LIMIT 30" in _query_of(server.requests[0])


def test_a_page_cut_mid_answer_is_asked_again() -> None:
    body = _answer(ROWS[:10])
    cut = Behaviour(lambda _: (200, "application/sparql-results+json", body), cut=len(body) // 2)
    with serve(cut, _capped_endpoint(cap=100)) as server:
        answer = fetch(server.url, QUERY, page_size=100, policy=FAST)
    assert len(answer.rows) == 25


def test_duplicate_rows_across_pages_are_not_taken_for_an_ignored_offset() -> None:
    same = [("http://x/1", "a")] * 6

    def answer(recorded: Recorded) -> tuple[int, str, bytes]:
        query = _query_of(recorded)
        offset = int(query.split("OFFSET ")[1])
        return 200, "application/sparql-results+json", _answer(same[offset : offset + 2])

    with serve(Behaviour(answer)) as server:
        assert len(fetch(server.url, QUERY, page_size=2, policy=FAST).rows) == 6


def test_an_endpoint_that_ignores_offset_is_an_error_not_a_loop() -> None:
    with serve(fixed(200, _answer(ROWS[:5]))) as server, pytest.raises(SparqlFailure) as caught:
        fetch(server.url, QUERY, page_size=5, policy=FAST)
    assert "ignores OFFSET" in caught.value.message


def test_a_failing_endpoint_names_the_offset_and_the_query() -> None:
    with (
        serve(fixed(500, "Virtuoso 42000 Error")) as server,
        pytest.raises(SparqlFailure) as caught,
    ):
        fetch(server.url, QUERY, page_size=5, policy=FAST)
    assert "HTTP 500" in caught.value.message and "Virtuoso 42000 Error" in caught.value.message
    assert "from offset 0" in caught.value.message
    assert "LIMIT 5 OFFSET 0" in caught.value.query
    assert len(server.requests) == 3  # the first attempt and two retries


def test_virtuosos_sort_limit_switches_to_the_subquery_form() -> None:
    def answer(recorded: Recorded) -> tuple[int, str, bytes]:
        query = _query_of(recorded)
        if not _subquery_form(query):
            return 500, "text/plain", b"SR353: Sorted TOP clause specifies more than 10001 rows"
        offset = int(query.split("OFFSET ")[1])
        return 200, "application/sparql-results+json", _answer(ROWS[offset : offset + 10])

    with serve(Behaviour(answer)) as server:
        result = fetch(server.url, QUERY, page_size=10, policy=FAST)
    assert len(result.rows) == 25
    # The sort limit is not retried: the next request is already the other form.
    assert not _subquery_form(_query_of(server.requests[0]))
    assert all(_subquery_form(_query_of(r)) for r in server.requests[1:])
    assert len(server.requests) == 1 + 4


def test_a_partial_virtuoso_answer_is_not_taken_for_a_whole_one() -> None:
    # Virtuoso's "anytime" answers: status 200, rows, and an X-SQL-State header.
    from engine.alignment.sparql import _parse
    from engine.http import Response

    with pytest.raises(ValueError, match="partial answer"):
        _parse(Response(200, {"x-sql-state": "S1TAT"}, _answer(ROWS[:3])))


def test_an_html_error_page_with_status_200_is_reported_at_once() -> None:
    page = fixed(200, "<html>maintenance</html>", "text/html")
    with serve(page) as server, pytest.raises(SparqlFailure) as caught:
        fetch(server.url, QUERY, page_size=None, policy=FAST)
    assert "did not answer SPARQL JSON results (text/html): <html>maintenance</html>" in (
        caught.value.message
    )
    assert len(server.requests) == 1  # a whole page of another kind: not asked again
