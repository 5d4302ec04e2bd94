"""Publishing: the difference with what is published, batches, and SPARQL Update on Oxigraph."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from engine.alignment.publish import (
    Published,
    _request_at,
    diff,
    read_published,
    send,
    send_with,
)
from renderers.graph import link_lines
from renderers.links import LinkTable
from schemas.alignment import Publish
from tests.stores import Oxigraph, Virtuoso

GRAPH = "http://example.org/linksets/test"
SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"


def test_the_difference_counts_added_removed_rescored_and_unchanged() -> None:
    published = Published({("a", "1"): 0.9, ("b", "2"): 0.8, ("c", "3"): None}, True)
    new = {("a", "1"): 0.9, ("b", "2"): 0.7, ("d", "4"): 1.0, ("c", "3"): 0.5}
    change = diff(published, new)
    assert change.added == [("d", "4")]
    assert change.removed == []
    assert change.rescored == [("b", "2"), ("c", "3")]
    assert change.unchanged == 1 and change.changes
    assert change.lines()[0] == "1 added, 0 removed, 2 re-scored, 1 unchanged"


def test_scores_equal_at_the_published_precision_are_unchanged() -> None:
    change = diff(Published({("a", "1"): 0.123456}, True), {("a", "1"): 0.1234562})
    assert not change.changes and change.unchanged == 1


def test_a_long_difference_lists_the_first_links_then_counts() -> None:
    new = {(f"http://a/{i:02d}", "http://b/1"): None for i in range(15)}
    lines = diff(Published({}, False), new).lines()
    assert lines[1] == "  + <http://a/00> <http://b/1>"
    assert lines[-1] == "  + ... and 5 more"


def test_requests_never_split_a_link_and_respect_the_size() -> None:
    groups = [[f"l{i}a\n", f"l{i}b\n", f"l{i}c\n"] for i in range(5)] + [["x\n"]]
    text, following = _request_at(groups, 0, 7, "urn:staging")
    operations = text.split(" ;\n")
    assert following == len(groups)
    assert [op.count("\n") - 1 for op in operations] == [6, 6, 4]
    assert all(op.startswith("INSERT DATA { GRAPH <urn:staging> {") for op in operations)
    # A link larger than the size still goes whole, alone.
    text, following = _request_at(groups, 0, 2, "urn:staging")
    assert [op.count("\n") - 1 for op in text.split(" ;\n")] == [3, 3, 3, 3, 3, 1]


def test_an_operation_too_large_for_the_store_is_sent_again_in_halves(
    virtuoso: Virtuoso,
) -> None:
    spec = Publish.model_validate(
        {
            "update": virtuoso.auth_url,
            "query": virtuoso.sparql_url,
            "graph": GRAPH,
            "batch": 3000,
        }
    )
    pairs = [(f"http://a/{i}", f"http://b/{i}") for i in range(1000)]
    lines = list(link_lines(_table(pairs), SAME_AS, GRAPH, np.linspace(0, 1, 1000)))
    from engine.http import Auth

    send_with(spec, Auth("digest", virtuoso.user, virtuoso.password), lines, [], "t")
    assert virtuoso.count(GRAPH) == 6000  # 6,000 triples: Virtuoso refuses them in one go
    virtuoso.drop_graph(GRAPH)


def _table(pairs: list[tuple[str, str]], distances: list[float] | None = None) -> LinkTable:
    return LinkTable(
        align_ids=[a for a, _ in pairs],
        target_ids=[b for _, b in pairs],
        distance=np.asarray(distances or [0.0] * len(pairs)),
    )


def test_link_lines_annotate_each_link_with_a_stable_axiom() -> None:
    table = _table([("http://a/2", "http://b/2"), ("http://a/1", "http://b/1")])
    lines = list(link_lines(table, SAME_AS, GRAPH, np.asarray([0.5, 1.0])))
    assert lines[0][0] == f"<http://a/1> <{SAME_AS}> <http://b/1> .\n"  # sorted
    assert '"1.000000"' in lines[0][-1] and '"0.500000"' in lines[1][-1]
    again = list(link_lines(table, SAME_AS, GRAPH, np.asarray([0.5, 1.0])))
    assert again == lines  # the axiom IRIs do not change between runs


def _spec(store: Oxigraph, **options: Any) -> Publish:
    data = {"update": store.update_url, "query": store.query_url, "graph": GRAPH, **options}
    return Publish.model_validate(data)


def test_sparql_update_replaces_the_graph_through_a_staging_graph(empty_oxigraph: Oxigraph) -> None:
    spec = _spec(empty_oxigraph, batch=4)
    first = list(
        link_lines(
            _table([("http://a/1", "http://b/1"), ("http://a/2", "http://b/2")]),
            SAME_AS,
            GRAPH,
            np.asarray([1.0, 0.75]),
        )
    )
    send(spec, first, [], "test")
    published = read_published(spec, None, "test")
    assert published.links == {
        ("http://a/1", "http://b/1"): 1.0,
        ("http://a/2", "http://b/2"): 0.75,
    }
    second = list(
        link_lines(_table([("http://a/1", "http://b/1")]), SAME_AS, GRAPH, np.asarray([0.5]))
    )
    change = diff(published, {("http://a/1", "http://b/1"): 0.5})
    assert change.removed == [("http://a/2", "http://b/2")]
    assert change.rescored == [("http://a/1", "http://b/1")]
    send(spec, second, [], "test")
    assert read_published(spec, None, "test").links == {("http://a/1", "http://b/1"): 0.5}
    graphs = empty_oxigraph.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert [g["g"]["value"] for g in graphs] == [GRAPH]  # the staging graph is gone


def test_a_failed_update_drops_the_staging_graph_and_keeps_the_published_one(
    empty_oxigraph: Oxigraph,
) -> None:
    from engine.errors import DataError

    spec = _spec(empty_oxigraph)
    send(spec, list(link_lines(_table([("http://a/1", "http://b/1")]), SAME_AS, GRAPH)), [], "t")
    before = empty_oxigraph.dump(GRAPH)
    broken = [[f"<http://a/2> <{SAME_AS}> <not an iri> .\n"]]
    with pytest.raises(DataError, match="publishing failed, the published graph is unchanged"):
        send(spec, broken, [], "t")
    assert empty_oxigraph.dump(GRAPH) == before
    graphs = empty_oxigraph.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert [g["g"]["value"] for g in graphs] == [GRAPH]


def test_a_graph_store_without_a_query_endpoint_is_read_back_with_a_get(
    empty_oxigraph: Oxigraph,
) -> None:
    spec = Publish.model_validate({"graph_store": empty_oxigraph.store_url, "graph": GRAPH})
    assert read_published(spec, None, "t") == Published({}, False)  # 404: nothing yet
    send(
        spec,
        list(link_lines(_table([("http://a/1", "http://b/1")]), SAME_AS, GRAPH, np.asarray([1.0]))),
        [],
        "t",
    )
    assert read_published(spec, None, "t").links == {("http://a/1", "http://b/1"): 1.0}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give either 'graph_store'"),
        ({"graph_store": "http://x/store", "update": "http://x/update"}, "give either"),
        ({"update": "http://x/update"}, "needs 'query'"),
        ({"graph_store": "http://x/store", "graph": "not an iri"}, "is not an absolute IRI"),
    ],
)
def test_publish_specs_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Publish.model_validate({"graph": GRAPH, **options})


def test_publishing_logs_its_progress(
    empty_oxigraph: Oxigraph, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="engine.alignment.publish")
    pairs = [(f"http://a/{i:02d}", f"http://b/{i:02d}") for i in range(25)]
    lines = list(link_lines(_table(pairs), SAME_AS, GRAPH, np.linspace(0, 1, 25)))
    # SPARQL Update in batches (a link per operation, 10 operations a request): a line each.
    send(_spec(empty_oxigraph, batch=4), lines, [], "t")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith(
        f"SPARQL Update to {empty_oxigraph.update_url}: 25 groups of triples (one per link,"
        " then the description) into the staging graph <urn:specengine:staging:"
    )
    assert messages[0].endswith(">, batches of 4 triples")
    assert [m for m in messages if m.startswith("request ")] == [
        "request 1 sent: groups 1-10 of 25 (40%)",
        "request 2 sent: groups 11-20 of 25 (80%)",
        "request 3 sent: groups 21-25 of 25 (100%)",
    ]
    assert f"MOVE of the staging graph onto <{GRAPH}>" in messages
    assert messages[-1].startswith(f"published <{GRAPH}> in ")
    caplog.clear()
    read_published(_spec(empty_oxigraph), None, "t")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == f"reading what <{GRAPH}> holds from {empty_oxigraph.query_url}"
    assert messages[1].startswith(f"<{GRAPH}> holds 25 links and 0 other triples (")
    caplog.clear()
    # Graph Store Protocol: one PUT, its size said.
    spec = Publish.model_validate({"graph_store": empty_oxigraph.store_url, "graph": GRAPH})
    send(spec, lines[:2], [], "t")
    body = "".join(line for group in lines[:2] for line in group).encode()
    assert caplog.records[0].getMessage() == (
        f"PUT of 2 links ({len(body)} bytes) to {empty_oxigraph.store_url}, graph <{GRAPH}>"
    )
