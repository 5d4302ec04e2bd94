"""The SPARQL Update of a linkset's change (renderers.sparql_update), applied by a store."""

from __future__ import annotations

import io

import pyoxigraph
import pytest

from renderers.sparql_update import Quad, write_update

SAME = "<http://www.w3.org/2002/07/owl#sameAs>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
GRAPH = "http://example.org/linkset"


def _update(removed: list[Quad], added: list[Quad]) -> str:
    handle = io.StringIO()
    write_update(removed, added, "a change", handle)
    return handle.getvalue()


def _store(quads: list[Quad]) -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    lines = "".join(f"{s} {p} {o}{f' <{g}>' if g else ''} .\n" for s, p, o, g in quads)
    store.load(lines.encode("utf-8"), format=pyoxigraph.RdfFormat.N_QUADS)
    return store


@pytest.mark.parametrize("graph", [None, GRAPH])
def test_blank_nodes_of_the_previous_linkset_are_deleted_by_a_valid_update(
    graph: str | None,
) -> None:
    # A previous linkset edited by hand (or read back from a store) may hold blank
    # nodes, which DELETE DATA cannot name (SPARQL 1.1 Update, 3.1.2): a store refuses
    # the whole update, and the store keeps the previous linkset.
    kept: Quad = ("<http://a.org/1>", SAME, "<http://b.org/1>", graph)
    gone: list[Quad] = [
        ("<http://a.org/2>", SAME, "<http://b.org/2>", graph),
        ("_:x", SAME, "<http://a.org/1>", graph),
        ("_:x", LABEL, '"a \\"quoted\\" label"@en', graph),
        ("<http://a.org/3>", SAME, "_:y", graph),
    ]
    new: Quad = ("<http://a.org/4>", SAME, "<http://b.org/4>", graph)
    store = _store([kept, *gone])
    store.update(_update(sorted(gone), [new]))
    after = {
        (str(q.subject), str(q.predicate), str(q.object))
        for q in store.quads_for_pattern(None, None, None, None)
    }
    assert after == {kept[:3], new[:3]}
