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
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.alignment import sparql
from engine.alignment.remote import resolve_auth
from engine.errors import DataError
from engine.http import Auth, HttpFailure, Response, RetryPolicy, request
from renderers.graph import OWL, SSSOM
from schemas.alignment import Publish

__all__ = ["Diff", "Published", "diff", "read_published", "send"]

#: Links listed by name in a difference (the rest are counted).
SHOWN = 10


@dataclass(frozen=True)
class Published:
    """What a store holds in the graph: each link and its score (None: not annotated)."""

    links: dict[tuple[str, str], float | None]
    exists: bool


@dataclass(frozen=True)
class Diff:
    """The difference between the published links and a run's links."""

    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    rescored: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changes(self) -> bool:
        """Whether publishing would change the graph's links or scores."""
        return bool(self.added or self.removed or self.rescored)

    def lines(self) -> list[str]:
        """The difference for the user: counts, then the first links of each kind."""
        out = [
            f"{len(self.added):,} added, {len(self.removed):,} removed,"
            f" {len(self.rescored):,} re-scored, {self.unchanged:,} unchanged"
        ]
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
    return Diff(added, removed, rescored, unchanged)


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
        return Published(_links_of(rows), bool(rows))
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
    return Published(_links_of(rows), len(graph) > 0)


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
    )


#: INSERT DATA operations sent in one request (joined by ';').
OPERATIONS_PER_REQUEST = 10


def _batches(links: list[list[str]], extra: list[str], size: int) -> Iterable[list[str]]:
    """Triples in operations of at most ``size`` triples (a link's lines never split).

    Virtuoso refuses an INSERT DATA of more than 1,426 triples (its generated
    SQL outgrows 10,000 lines), whatever their length: hence small operations,
    several to a request.
    """
    operation: list[str] = []
    for lines in [*links, extra]:
        if operation and len(operation) + len(lines) > size:
            yield operation
            operation = []
        operation.extend(lines)
    if operation:
        yield operation


def _requests(links: list[list[str]], extra: list[str], size: int, staging: str) -> Iterable[str]:
    operations: list[str] = []
    for body in _batches(links, extra, size):
        operations.append(f"INSERT DATA {{ GRAPH <{staging}> {{\n{''.join(body)}}} }}")
        if len(operations) == OPERATIONS_PER_REQUEST:
            yield " ;\n".join(operations)
            operations = []
    if operations:
        yield " ;\n".join(operations)


def send(spec: Publish, links: list[list[str]], extra: list[str], where: str) -> None:
    """Replace the published graph with ``links`` (lines per link) and ``extra`` lines."""
    auth = resolve_auth(spec.auth, where)
    try:
        if spec.graph_store is not None:
            body = "".join(line for lines in links for line in lines) + "".join(extra)
            request(
                _graph_url(spec),
                method="PUT",
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/n-triples"},
                auth=auth,
                policy=_policy(spec),
                parse=_ok,
            )
            return
        _send_by_update(spec, auth, links, extra)
    except HttpFailure as exc:
        raise DataError(
            where, f"publishing failed, the published graph is unchanged: {exc.message}"
        ) from None


def _send_by_update(
    spec: Publish, auth: Auth | None, links: list[list[str]], extra: list[str]
) -> None:
    digest = hashlib.sha256(spec.graph.encode()).hexdigest()[:16]
    staging = f"urn:specengine:staging:{digest}:{time.time_ns()}"
    try:
        _update(spec, auth, f"DROP SILENT GRAPH <{staging}>")
        for text in _requests(links, extra, spec.batch, staging):
            _update(spec, auth, text)
        if links or extra:
            _update(spec, auth, f"MOVE SILENT GRAPH <{staging}> TO GRAPH <{spec.graph}>")
        else:
            _update(spec, auth, f"DROP SILENT GRAPH <{spec.graph}>")
    except HttpFailure:
        # The store may be gone: the staging graph is then unreachable, never published.
        with contextlib.suppress(HttpFailure):
            _update(spec, auth, f"DROP SILENT GRAPH <{staging}>")
        raise


def count_links(spec: Publish, auth: Auth | None, where: str) -> int:
    """How many links the store holds in the graph (after publishing)."""
    return len(read_published(spec, auth, where).links)
