"""Publish a linkset to a triple store as one named graph, and tell what would change.

Two protocols, one promise: the published graph is replaced as a whole, or
not at all.

- Graph Store HTTP Protocol: one ``PUT`` of the graph (the store swaps it in).
- SPARQL 1.1 Update: the triples go, in batches of ``INSERT DATA``, to a
  staging graph; one ``MOVE`` then replaces the published graph. A failed
  batch drops the staging graph and leaves the published one as it was.

Before anything is sent, what is published is read back (a SPARQL query on
``query``, else a GET of the graph) and compared with the new links: added,
removed, re-scored. A run that would remove more than ``max_removals`` links
stops there unless ``allow_removals`` is set. After publishing, the links are
counted in the store again: a store that accepted less is an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from engine.alignment import sparql
from engine.alignment.remote import resolve_auth
from engine.environment import Environment
from engine.errors import DataError
from engine.http import Auth, HttpFailure, Response, RetryPolicy, request
from renderers.graph import OWL, SSSOM
from schemas.alignment import Publish

__all__ = [
    "Diff",
    "Published",
    "diff",
    "graph_triples",
    "read_published",
    "send",
    "send_with",
]

#: Links listed by name in a difference (the rest are counted).
SHOWN = 10

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Published:
    """What a store holds in the graph: each link and its score (None: not annotated),
    and how many other triples (not links, annotations or descriptions of ours)."""

    links: dict[tuple[str, str], float | None]
    exists: bool
    foreign: int = 0


@dataclass(frozen=True)
class Diff:
    """The difference between the published links and a run's links."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    rescored: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    foreign: int = 0

    @property
    def changes(self) -> bool:
        """Whether publishing would change the graph's links or scores."""
        return bool(self.added or self.removed or self.rescored or self.foreign)

    @property
    def removals(self) -> int:
        """Links removed, plus other triples the replaced graph loses."""
        return len(self.removed) + self.foreign

    def lines(self) -> list[str]:
        """The difference for the user: counts, then the first links of each kind."""
        out = [
            f"{len(self.added):,} added, {len(self.removed):,} removed,"
            f" {len(self.rescored):,} re-scored, {self.unchanged:,} unchanged"
        ]
        if self.foreign:
            out.append(
                f"  and {self.foreign:,} other triples of the graph (not links of this spec:"
                " another predicate, or other data) would be removed: the graph is replaced whole"
            )
        for sign, pairs in (("+", self.added), ("-", self.removed), ("~", self.rescored)):
            out.extend(f"  {sign} <{a}> <{b}>" for a, b in pairs[:SHOWN])
            if len(pairs) > SHOWN:
                out.append(f"  {sign} ... and {len(pairs) - SHOWN:,} more")
        return out


def diff(published: Published, new: dict[tuple[str, str], float | None]) -> Diff:
    """Added, removed and re-scored links (scores compared at the published precision)."""
    old = published.links
    added = sorted(pair for pair in new if pair not in old)
    removed = sorted(pair for pair in old if pair not in new)
    rescored = sorted(
        pair
        for pair, score in new.items()
        if pair in old
        and score is not None
        and (old[pair] is None or abs(float(old[pair] or 0.0) - score) > 5e-7)
    )
    unchanged = len(new) - len(added) - len(rescored)
    return Diff(added, removed, rescored, unchanged, published.foreign)


# --------------------------------------------------------------------------- reading


def _policy(spec: Publish) -> RetryPolicy:
    return RetryPolicy(spec.timeout_s, spec.retries, spec.backoff_s)


def _published_query(spec: Publish, in_graph: bool) -> str:
    pattern = (
        f"?s <{spec.predicate}> ?o . OPTIONAL {{ ?a <{OWL}annotatedSource> ?s ;"
        f" <{OWL}annotatedTarget> ?o ; <{OWL}annotatedProperty> <{spec.predicate}> ;"
        f" <{SSSOM}similarity_score> ?score }}"
    )
    if in_graph:
        pattern = f"GRAPH <{spec.graph}> {{ {pattern} }}"
    return f"SELECT ?s ?o ?score WHERE {{ {pattern} }}"


def _foreign_query(spec: Publish, in_graph: bool) -> str:
    """Triples of the graph that publishing would drop without counting them as links."""
    pattern = (
        f"?s ?p ?o FILTER(?p != <{spec.predicate}> && !STRSTARTS(STR(?s), 'urn:specengine:')"
        f" && ?s != <{spec.graph}>)"
    )
    if in_graph:
        pattern = f"GRAPH <{spec.graph}> {{ {pattern} }}"
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"


def _links_of(rows: Iterable[tuple[str, str, str | None]]) -> dict[tuple[str, str], float | None]:
    links: dict[tuple[str, str], float | None] = {}
    for s, o, score in rows:
        try:
            value = float(score) if score is not None else None
        except ValueError:
            value = None
        if links.get((s, o)) is None:
            links[(s, o)] = value
    return links


def _graph_url(spec: Publish) -> str:
    assert spec.graph_store is not None
    joiner = "&" if "?" in spec.graph_store else "?"
    return f"{spec.graph_store}{joiner}{urllib.parse.urlencode({'graph': spec.graph})}"


def read_published(spec: Publish, auth: Auth | None, where: str) -> Published:
    """The links the store holds in the spec's graph now."""
    policy = _policy(spec)
    started = time.perf_counter()
    log.info("reading what <%s> holds from %s", spec.graph, spec.query or spec.graph_store)
    published = _read_published(spec, auth, where, policy)
    log.info(
        "<%s> holds %d links and %d other triples (%.1f s)",
        spec.graph,
        len(published.links),
        published.foreign,
        time.perf_counter() - started,
    )
    return published


def _read_published(spec: Publish, auth: Auth | None, where: str, policy: RetryPolicy) -> Published:
    if spec.query is not None:
        try:
            answer = sparql.fetch(
                spec.query, _published_query(spec, True), page_size=10000, auth=auth, policy=policy
            )
        except sparql.SparqlFailure as exc:
            raise DataError(where, f"cannot read the published graph: {exc.message}") from None
        rows = [
            (s.value, o.value, None if score is None else score.value)
            for s, o, score in (row for row in answer.rows)
            if s is not None and o is not None
        ]
        try:
            counted = sparql.fetch(
                spec.query, _foreign_query(spec, True), page_size=None, auth=auth, policy=policy
            )
        except sparql.SparqlFailure as exc:
            raise DataError(where, f"cannot read the published graph: {exc.message}") from None
        foreign = int(counted.rows[0][0].value) if counted.rows and counted.rows[0][0] else 0
        return Published(_links_of(rows), bool(rows) or foreign > 0, foreign)
    return _read_by_get(spec, auth, where)


def _read_by_get(spec: Publish, auth: Auth | None, where: str) -> Published:
    from rdflib import Graph

    def parse(response: Response) -> Graph:
        graph = Graph()
        kind = response.headers.get("content-type", "application/n-triples").split(";")[0]
        try:
            graph.parse(data=response.body, format=_RDF_FORMATS.get(kind.strip(), "nt"))
        except Exception as exc:  # rdflib raises many kinds
            raise ValueError(f"cannot read the graph ({kind}): {exc}") from None
        return graph

    try:
        graph = request(
            _graph_url(spec),
            headers={"Accept": "application/n-triples, text/turtle;q=0.9"},
            auth=auth,
            policy=_policy(spec),
            parse=parse,
        )
    except HttpFailure as exc:
        if exc.status == 404:  # the graph does not exist yet
            return Published({}, False)
        raise DataError(where, f"cannot read the published graph: {exc.message}") from None
    rows = [
        (str(row[0]), str(row[1]), None if row[2] is None else str(row[2]))
        for row in graph.query(_published_query(spec, False))
        if isinstance(row, tuple)
    ]
    foreign = next(
        (
            int(str(row[0]))
            for row in graph.query(_foreign_query(spec, False))
            if isinstance(row, tuple)
        ),
        0,
    )
    return Published(_links_of(rows), len(graph) > 0, foreign)


def graph_triples(spec: Publish, auth: Auth | None, where: str) -> set[tuple[str, str, str]]:
    """Every triple of the published graph now, as N-Triples terms (a diff output's "before")."""
    from rdflib import BNode, Graph, Literal, URIRef
    from rdflib.term import Node

    def node(term: Any) -> Node:
        if term.kind == "uri":
            return URIRef(term.value)
        if term.kind == "bnode":
            return BNode(term.value)
        return Literal(term.value, lang=term.lang, datatype=term.datatype)

    if spec.query is not None:
        query = f"SELECT ?s ?p ?o WHERE {{ GRAPH <{spec.graph}> {{ ?s ?p ?o }} }}"
        try:
            answer = sparql.fetch(
                spec.query, query, page_size=10000, auth=auth, policy=_policy(spec)
            )
        except sparql.SparqlFailure as exc:
            raise DataError(where, f"cannot read the published graph: {exc.message}") from None
        return {
            (node(s).n3(), node(p).n3(), node(o).n3())
            for s, p, o in answer.rows
            if s is not None and p is not None and o is not None
        }

    def parse(response: Response) -> Graph:
        graph = Graph()
        kind = response.headers.get("content-type", "application/n-triples").split(";")[0]
        graph.parse(data=response.body, format=_RDF_FORMATS.get(kind.strip(), "nt"))
        return graph

    try:
        graph = request(
            _graph_url(spec),
            headers={"Accept": "application/n-triples, text/turtle;q=0.9"},
            auth=auth,
            policy=_policy(spec),
            parse=parse,
        )
    except HttpFailure as exc:
        if exc.status == 404:  # the graph does not exist yet
            return set()
        raise DataError(where, f"cannot read the published graph: {exc.message}") from None
    return {(s.n3(), p.n3(), o.n3()) for s, p, o in graph}


_RDF_FORMATS = {
    "application/n-triples": "nt",
    "text/plain": "nt",
    "text/turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/n-quads": "nquads",
}

# --------------------------------------------------------------------------- writing


def _ok(response: Response) -> Response:
    return response


def _update(spec: Publish, auth: Auth | None, text: str) -> None:
    assert spec.update is not None
    request(
        spec.update,
        method="POST",
        data=urllib.parse.urlencode({"update": text}).encode("utf-8"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=auth,
        policy=_policy(spec),
        parse=_ok,
        # Too large stays too large: halve it at once instead of asking again.
        final=lambda reason: _TOO_LARGE.search(reason) is not None,
    )


#: INSERT DATA operations sent in one request (joined by ';').
OPERATIONS_PER_REQUEST = 10
#: What stores say when an update is too large: Virtuoso's generated SQL outgrows
#: its limits (SP031, SQ199) or its parser runs out of memory (SP030); HTTP 413.
_TOO_LARGE = re.compile(
    r"SP031|SP030|SQ199|memory exhausted|longer than \d+ ?[MK]b|HTTP 413|too large",
    re.IGNORECASE,
)


def _request_at(groups: list[list[str]], start: int, size: int, staging: str) -> tuple[str, int]:
    """The update text of up to OPERATIONS_PER_REQUEST operations from ``groups[start]`` on,
    and where the next request starts."""
    operations: list[str] = []
    position = start
    while position < len(groups) and len(operations) < OPERATIONS_PER_REQUEST:
        body: list[str] = []
        while position < len(groups) and (not body or len(body) + len(groups[position]) <= size):
            body.extend(groups[position])
            position += 1
        operations.append(f"INSERT DATA {{ GRAPH <{staging}> {{\n{''.join(body)}}} }}")
    return " ;\n".join(operations), position


def send(
    spec: Publish,
    links: list[list[str]],
    extra: list[str],
    where: str,
    environment: Environment | None = None,
) -> None:
    """Replace the published graph with ``links`` (lines per link) and ``extra`` lines.

    The credentials are read in ``environment`` (default: the process's).
    """
    env = Environment.of_process() if environment is None else environment
    send_with(spec, resolve_auth(spec.auth, where, env), links, extra, where)


def send_with(
    spec: Publish, auth: Auth | None, links: list[list[str]], extra: list[str], where: str
) -> None:
    """:func:`send` with the credentials given."""
    started = time.perf_counter()
    try:
        if spec.graph_store is not None:
            body = "".join(line for lines in links for line in lines) + "".join(extra)
            log.info(
                "PUT of %d links (%d bytes) to %s, graph <%s>",
                len(links),
                len(body.encode("utf-8")),
                spec.graph_store,
                spec.graph,
            )
            request(
                _graph_url(spec),
                method="PUT",
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/n-triples"},
                auth=auth,
                policy=_policy(spec),
                parse=_ok,
            )
        else:
            _send_by_update(spec, auth, links, extra)
        log.info("published <%s> in %.1f s", spec.graph, time.perf_counter() - started)
    except HttpFailure as exc:
        raise DataError(
            where, f"publishing failed, the published graph is unchanged: {exc.message}"
        ) from None


def _send_by_update(
    spec: Publish, auth: Auth | None, links: list[list[str]], extra: list[str]
) -> None:
    """INSERT DATA into a staging graph, then MOVE it onto the graph.

    An operation the store finds too large (Virtuoso refuses more than about
    1,400 triples in one) is sent again in halves: the batch adapts to the
    store, and re-sending triples already in the staging graph adds nothing.
    """
    digest = hashlib.sha256(spec.graph.encode()).hexdigest()[:16]
    staging = f"urn:specengine:staging:{digest}:{time.time_ns()}"
    groups = [lines for lines in [*links, extra] if lines]
    size = spec.batch
    _drop_stale_staging(spec, auth, f"urn:specengine:staging:{digest}:")
    log.info(
        "SPARQL Update to %s: %d groups of triples (one per link, then the description)"
        " into the staging graph <%s>, batches of %d triples",
        spec.update,
        len(groups),
        staging,
        size,
    )
    try:
        _update(spec, auth, f"DROP SILENT GRAPH <{staging}>")
        position = 0
        requests = 0
        while position < len(groups):
            text, following = _request_at(groups, position, size, staging)
            try:
                _update(spec, auth, text)
            except HttpFailure as exc:
                if size > 1 and _TOO_LARGE.search(exc.message):
                    size = max(1, size // 2)
                    log.info("the store found a batch too large: batches of %d triples", size)
                    continue
                raise
            requests += 1
            log.info(
                "request %d sent: groups %d-%d of %d (%.0f%%)",
                requests,
                position + 1,
                following,
                len(groups),
                100 * following / len(groups),
            )
            position = following
        if groups:
            log.info("MOVE of the staging graph onto <%s>", spec.graph)
            _update(spec, auth, f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{spec.graph}>")
        else:
            _update(spec, auth, f"DROP SILENT GRAPH <{spec.graph}>")
    except HttpFailure:
        # The store may be gone: the staging graph is then unreachable, never published.
        with contextlib.suppress(HttpFailure):
            _update(spec, auth, f"DROP SILENT GRAPH <{staging}>")
        raise


def _drop_stale_staging(spec: Publish, auth: Auth | None, prefix: str) -> None:
    """Drop the staging graphs an earlier run left when its store went away mid-publish."""
    assert spec.query is not None
    query = (
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o }"
        f" FILTER(STRSTARTS(STR(?g), '{prefix}')) }}"
    )
    try:
        answer = sparql.fetch(spec.query, query, page_size=None, auth=auth, policy=_policy(spec))
    except sparql.SparqlFailure:
        return  # cleaning up is a courtesy: publishing itself decides
    for (graph,) in answer.rows:
        if graph is not None:
            log.info("dropping the staging graph <%s> an earlier run left", graph.value)
            _update(spec, auth, f"DROP SILENT GRAPH <{graph.value}>")


def count_links(spec: Publish, auth: Auth | None, where: str) -> int:
    """How many links the store holds in the graph (after publishing)."""
    return len(read_published(spec, auth, where).links)
