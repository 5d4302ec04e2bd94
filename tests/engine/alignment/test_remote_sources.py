"""SPARQL and RQL sources end to end through read_source: records, cache, bad answers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from engine.alignment.sources import read_source
from engine.errors import DataError
from schemas.alignment import RqlSource, SparqlSource
from tests.httpserver import Recorded, fixed, serve

XSD = "http://www.w3.org/2001/XMLSchema#"
QUERY = "SELECT ?s ?name ?born WHERE { ?s <http://x/name> ?name . OPTIONAL { ?s <http://x/born> ?born } }"


def _binding(s: str, name: str, lang: str | None = None, born: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "s": {"type": "uri", "value": s},
        "name": {"type": "literal", "value": name},
    }
    if lang:
        row["name"]["xml:lang"] = lang
    if born is not None:
        row["born"] = {"type": "literal", "value": born, "datatype": XSD + "date"}
    return row


def _answer(*bindings: dict[str, Any]) -> str:
    return json.dumps(
        {"head": {"vars": ["s", "name", "born"]}, "results": {"bindings": list(bindings)}}
    )


def _paged(*bindings: dict[str, Any]) -> Any:
    """An endpoint answering the page its LIMIT/OFFSET ask for."""
    from urllib.parse import parse_qs

    from tests.httpserver import Behaviour

    def answer(request: Recorded) -> tuple[int, str, bytes]:
        query = parse_qs(request.body.decode())["query"][0]
        offset = int(query.rsplit("OFFSET ", 1)[1]) if "OFFSET" in query else 0
        page = list(bindings)[offset:] if "LIMIT" in query else list(bindings)
        return 200, "application/sparql-results+json", _answer(*page).encode()

    return Behaviour(answer)


def _source(url: str, **options: Any) -> SparqlSource:
    return SparqlSource.model_validate(
        {"sparql": url, "query": QUERY, "id": "s", "retries": 0, **options},
        context={"check_files": False},
    )


def test_rows_merge_into_records_in_the_preferred_language() -> None:
    endpoint = _paged(
        _binding("http://x/1", "Zola", "en", "1840-04-02"),
        _binding("http://x/1", "Émile Zola", "fr"),
        _binding("http://x/2", "Hugo"),
    )
    with serve(endpoint) as server:
        records = read_source(_source(server.url, languages=["fr", ""]), "target")
    assert records.ids == ["http://x/1", "http://x/2"]
    assert records.columns["name"] == ["Émile Zola", "Hugo"]
    assert records.columns["born"] == ["1840-04-02", None]
    assert records.source == f"target source SPARQL endpoint {server.url}"


def test_the_cache_answers_the_second_read_until_its_ttl(tmp_path: Path) -> None:
    endpoint = _paged(_binding("http://x/1", "Zola", born="1840-04-02"))
    with serve(endpoint) as server:
        spec = _source(server.url, cache=str(tmp_path / "cache"), cache_ttl_s=3600)
        first = read_source(spec, "align")
        asked = len(server.requests)
        second = read_source(spec, "align")
        assert len(server.requests) == asked  # nothing asked again
        assert first.ids == second.ids == ["http://x/1"]
        (entry,) = (tmp_path / "cache").iterdir()
        old = time.time() - 7200
        os.utime(entry, (old, old))
        read_source(spec, "align")
        assert len(server.requests) > asked  # expired: asked again


def test_an_empty_answer_is_an_error_not_an_empty_source() -> None:
    with serve(fixed(200, _answer())) as server, pytest.raises(DataError) as caught:
        read_source(_source(server.url), "target")
    assert "the query returned no rows" in str(caught.value)


def test_a_variable_never_bound_is_named() -> None:
    rows = [_binding("http://x/1", "Zola"), _binding("http://x/2", "Hugo")]
    with serve(_paged(*rows)) as server, pytest.raises(DataError) as caught:
        read_source(_source(server.url), "target")
    assert "variable ?born is unbound in every row" in str(caught.value)


def test_a_badly_typed_literal_names_the_source_the_row_and_the_variable() -> None:
    rows = [
        _binding("http://x/1", "Zola", born="1840-04-02"),
        _binding("http://x/2", "Hugo", born="26/02/1802"),
    ]
    with serve(_paged(*rows)) as server:
        with pytest.raises(DataError) as caught:
            read_source(_source(server.url), "target")
        message = str(caught.value)
        assert f"target source SPARQL endpoint {server.url} row 2" in message
        assert "literal '26/02/1802' is not a valid xsd:date (variable ?born)" in message
        skipped = read_source(_source(server.url, on_error="skip"), "target")
    assert skipped.ids == ["http://x/1"] and skipped.skipped[0].row == 2


def test_a_failing_endpoint_is_reported_with_the_query() -> None:
    with serve(fixed(500, "Virtuoso 42000 Error")) as server, pytest.raises(DataError) as caught:
        read_source(_source(server.url), "target")
    message = str(caught.value)
    assert "the SPARQL query failed: HTTP 500" in message
    assert "query sent:" in message and "LIMIT 10000 OFFSET 0" in message


def test_an_answer_cut_at_the_endpoints_cap_is_an_error_when_read_in_one_request() -> None:
    from tests.httpserver import Behaviour

    body = _answer(_binding("http://x/1", "Z", born="1900-01-01")).encode()
    capped = Behaviour(
        lambda _: (200, "application/sparql-results+json", body), headers={"X-SPARQL-MaxRows": "1"}
    )
    with serve(capped) as server, pytest.raises(DataError) as caught:
        read_source(_source(server.url, page_size=None), "target")
    assert "cut its answer at 1 rows (X-SPARQL-MaxRows)" in str(caught.value)


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    auth = {"method": "basic", "user": "alice", "password_env": "SPECENGINE_TEST_PASSWORD"}
    monkeypatch.delenv("SPECENGINE_TEST_PASSWORD", raising=False)
    with serve(_paged(_binding("http://x/1", "Zola", born="1840-04-02"))) as server:
        with pytest.raises(DataError, match=r"SPECENGINE_TEST_PASSWORD .* is not set"):
            read_source(_source(server.url, auth=auth), "align")
        monkeypatch.setenv("SPECENGINE_TEST_PASSWORD", "s3cret")
        read_source(_source(server.url, auth=auth), "align")
    assert server.requests[-1].headers["authorization"].startswith("Basic ")


def test_rql_columns_must_match_the_answer() -> None:
    spec = RqlSource.model_validate(
        {
            "rql": "http://127.0.0.1:1/",
            "query": "Any X, N WHERE X name N",
            "id": "x",
            "columns": ["x"],
        }
    )
    with serve(fixed(200, json.dumps([["http://x/1", "Zola"]]))) as server:
        spec = spec.model_copy(update={"rql": server.url + "/"})
        with pytest.raises(DataError) as caught:
            read_source(spec, "target")
    assert "row 1 of the answer has 2 values, but `columns:` names 1" in str(caught.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give either 'query' or 'query_file'"),
        ({"query": "ASK {}"}, "must be a SPARQL SELECT"),
        ({"query": QUERY, "sparql": "ftp://x"}, "is not an http:// or https:// URL"),
        ({"query": QUERY, "auth": {"password_env": "P"}}, "give either 'user' or 'user_env'"),
    ],
)
def test_source_specs_are_checked(options: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    data = {"sparql": "http://127.0.0.1/q", "id": "s", **options}
    with pytest.raises(ValidationError, match=message):
        SparqlSource.model_validate(data)
