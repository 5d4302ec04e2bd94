"""The identity graph of a run's links: its clusters, their canonical IRIs, and its checks.

The links make a graph whose nodes are the linked records (an alignment's align
and target records apart, a deduplication's records once) and whose connected
components are the entities owl:sameAs consumers compute (:mod:`clusters`).
:func:`graph` builds it from the link table; :func:`check` looks for what
merges two entities: a cluster joining two records of one source (an
alignment's one-to-one violated), a cluster over the spec's size limit, and the
bridges, single links whose removal splits a cluster into two groups. Each
finding names the links involved.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from engine.alignment.clusters import (
    Ints,
    bridges,
    canonical,
    cluster_id,
    components,
    same_source,
    sizes,
)
from engine.alignment.state import AlignmentState
from engine.errors import DataError
from renderers.clusters import ClusterRow, IdentityFinding, IdentitySummary
from renderers.links import LinkTable
from schemas.alignment.outputs import ClustersOutput
from schemas.alignment.spec import IdentityChecks

__all__ = [
    "SHOWN_LINKS",
    "Finding",
    "IdentityGraph",
    "check",
    "checks_text",
    "closure",
    "figures",
    "graph",
    "output_rows",
    "read_links",
    "report",
    "rows",
]

#: Links named per finding; the rest are counted.
SHOWN_LINKS = 10

#: The node's source: an alignment's two sides (a deduplication's records are all ``ALIGN``).
ALIGN, TARGET, OTHER = 0, 1, 2
SOURCES = ("align", "target", "other")


@dataclass(frozen=True, eq=False)
class IdentityGraph:
    """The linked records as nodes (``iris``, ``source``), the links as node pairs, the clusters."""

    iris: list[str]
    source: Ints
    a: Ints
    b: Ints
    labels: Ints
    dedup: bool

    @property
    def sizes(self) -> Ints:
        """Each cluster's number of records, by label."""
        return sizes(self.labels)

    @cached_property
    def _link_groups(self) -> list[list[int]]:
        return _groups(self.labels[self.a], len(self.sizes))

    @cached_property
    def _member_groups(self) -> list[list[int]]:
        return _groups(self.labels, len(self.sizes))

    def links_of(self, label: int) -> list[int]:
        """The links (indexes in the link table) inside cluster ``label``, ascending."""
        return self._link_groups[label]

    def members(self, label: int) -> list[int]:
        """The nodes of cluster ``label``, ascending."""
        return self._member_groups[label]

    @cached_property
    def smallest(self) -> list[str]:
        """Each cluster's smallest IRI, by label: how findings name a cluster."""
        return [min(self.iris[node] for node in group) for group in self._member_groups]


def _groups(labels: Ints, count: int) -> list[list[int]]:
    """The indexes holding each label, ascending: one sort, not a scan per label."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    return [order[bounds[k] : bounds[k + 1]].tolist() for k in range(count)]


@dataclass(frozen=True)
class Finding:
    """What one check found: the check, ``warn`` or ``fail``, what it means, the links involved."""

    check: str
    action: str
    message: str
    links: tuple[tuple[str, str], ...]
    #: Links involved beyond those listed.
    more: int = 0

    def text(self) -> str:
        """The finding and its links, one line."""
        shown = ", ".join(f"<{a}> - <{b}>" for a, b in self.links)
        more = f" and {self.more:,} more" if self.more else ""
        return f"{self.check}: {self.message}; links: {shown}{more}"


def graph(links: LinkTable, *, dedup: bool, threshold: float | None = None) -> IdentityGraph:
    """The identity graph of the links: nodes in order of (source, IRI), labels by smallest node.

    ``threshold``: only the links at or under this global distance (as the spec's
    threshold, so 1 - the match probability with a model).
    """
    if threshold is not None:
        keep = links.distance <= threshold + 1e-9 * max(1.0, threshold)
        links = links.take(np.flatnonzero(keep))
    align_side = ALIGN
    target_side = ALIGN if dedup else TARGET
    keys = sorted(
        {(align_side, iri) for iri in links.align_ids}
        | {(target_side, iri) for iri in links.target_ids}
    )
    node = {key: index for index, key in enumerate(keys)}
    a = np.array([node[(align_side, iri)] for iri in links.align_ids], dtype=np.int64)
    b = np.array([node[(target_side, iri)] for iri in links.target_ids], dtype=np.int64)
    return IdentityGraph(
        iris=[iri for _, iri in keys],
        source=np.array([side for side, _ in keys], dtype=np.int64),
        a=a,
        b=b,
        labels=components(len(keys), a, b),
        dedup=dedup,
    )


def closure(
    links: LinkTable,
    others: Sequence[tuple[str, str]],
    *,
    dedup: bool,
    threshold: float | None = None,
) -> IdentityGraph:
    """The identity graph of the links and of ``others`` (other specs' links), node by IRI.

    Across specs an IRI is one entity whichever side it was on: an IRI of this
    run's align records is ``align``, else of its target records ``target``, else
    ``other`` (only in the other links).
    """
    if threshold is not None:
        keep = links.distance <= threshold + 1e-9 * max(1.0, threshold)
        links = links.take(np.flatnonzero(keep))
    side = {iri: OTHER for pair in others for iri in pair}
    side.update((iri, ALIGN if dedup else TARGET) for iri in links.target_ids)
    side.update((iri, ALIGN) for iri in links.align_ids)
    iris = sorted(side)
    node = {iri: index for index, iri in enumerate(iris)}
    pairs = [*zip(links.align_ids, links.target_ids, strict=True), *others]
    a = np.array([node[x] for x, _ in pairs], dtype=np.int64)
    b = np.array([node[y] for _, y in pairs], dtype=np.int64)
    return IdentityGraph(
        iris=iris,
        source=np.array([side[iri] for iri in iris], dtype=np.int64),
        a=a,
        b=b,
        labels=components(len(iris), a, b),
        dedup=dedup,
    )


def read_links(path: Path, predicate: str) -> list[tuple[str, str]]:
    """The links of another spec's output: a links CSV/TSV (its first two columns, after the
    header) or RDF by its extension (.nt, .ttl, .nq: the triples of ``predicate``)."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(str(path), f"cannot read the links: {exc}") from None
    if suffix in (".csv", ".tsv"):
        rows = list(csv.reader(text.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
        found = []
        for line, row in enumerate(rows[1:], start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < 2 or not row[0].strip() or not row[1].strip():
                raise DataError(str(path), "expected two IRIs (the linked records)", row=line)
            found.append((row[0].strip(), row[1].strip()))
        return found
    formats = {".nt": "nt", ".ttl": "turtle", ".nq": "nquads"}
    if suffix not in formats:
        raise DataError(str(path), "links are read from .csv, .tsv, .nt, .ttl or .nq files")
    from rdflib import Dataset, Graph, URIRef

    pattern = (None, URIRef(predicate), None)
    try:
        if suffix == ".nq":
            dataset = Dataset()
            dataset.parse(data=text, format="nquads")
            triples = [(s, o) for s, _, o, _ in dataset.quads((*pattern, None))]
        else:
            parsed = Graph().parse(data=text, format=formats[suffix])
            triples = [(s, o) for s, _, o in parsed.triples(pattern)]
    except Exception as exc:  # rdflib raises many kinds: all mean unreadable RDF
        raise DataError(str(path), f"cannot read the links: {exc}") from None
    return sorted(
        {(str(s), str(o)) for s, o in triples if isinstance(s, URIRef) and isinstance(o, URIRef)}
    )


def _named(identity: IdentityGraph, label: int) -> str:
    """A cluster as a person finds it: its smallest IRI and its size."""
    size = len(identity.members(label))
    return f"the cluster of <{identity.smallest[label]}> ({size:,} records)"


def _finding(
    check: str, action: str, message: str, links: LinkTable, indexes: list[int]
) -> Finding:
    shown = tuple((links.align_ids[k], links.target_ids[k]) for k in indexes[:SHOWN_LINKS])
    return Finding(check, action, message, shown, max(0, len(indexes) - SHOWN_LINKS))


def check(identity: IdentityGraph, links: LinkTable, checks: IdentityChecks) -> list[Finding]:
    """What the spec's identity-graph checks find, cluster by cluster, link by link."""
    found: list[Finding] = []
    if checks.same_source != "off" and not identity.dedup:
        for label in same_source(identity.labels, identity.source):
            members = identity.members(label)
            counts = np.bincount(identity.source[members], minlength=2)
            sides = " and ".join(
                f"{int(counts[side]):,} {SOURCES[side]} records"
                for side in (ALIGN, TARGET)
                if counts[side] > 1
            )
            message = f"{_named(identity, label)} joins {sides} (one-to-one violated)"
            found.append(
                _finding(
                    "same_source", checks.same_source, message, links, identity.links_of(label)
                )
            )
    if checks.max_cluster_size is not None:
        for label, size in enumerate(identity.sizes.tolist()):
            if size > checks.max_cluster_size:
                message = (
                    f"{_named(identity, label)} is over max_cluster_size"
                    f" ({checks.max_cluster_size:,})"
                )
                found.append(
                    _finding(
                        "max_cluster_size",
                        checks.cluster_size,
                        message,
                        links,
                        identity.links_of(label),
                    )
                )
    if checks.bridges != "off":
        n = len(identity.iris)
        for bridge in bridges(n, identity.a, identity.b, min_side=checks.bridge_side):
            label = int(identity.labels[identity.a[bridge.link]])
            small, large = bridge.sides
            message = (
                f"one link splits {_named(identity, label)} into {small:,} and {large:,} records"
            )
            found.append(_finding("bridges", checks.bridges, message, links, [bridge.link]))
    return found


def _ids(identity: IdentityGraph, prefer: str | None) -> tuple[list[str], list[str]]:
    """Each cluster's id and canonical IRI, by label."""
    preferred = -1 if prefer is None else SOURCES.index(prefer)
    rank = [0 if side == preferred else 1 for side in identity.source.tolist()]
    best = [
        identity.iris[node] for node in canonical(identity.labels, identity.iris, rank).tolist()
    ]
    return [cluster_id(iri) for iri in best], best


def rows(
    identity: IdentityGraph, prefer: str | None, levels: Sequence[IdentityGraph] = ()
) -> list[ClusterRow]:
    """Each linked record, its cluster id and canonical IRI, sorted by cluster then record.

    The canonical IRI is the smallest IRI of the ``prefer``-red source's records
    in the cluster, else the cluster's smallest IRI. ``levels`` (the clusters of
    the links under other thresholds) give each record's cluster id in each, or
    ``""`` where no link under that threshold touches it.
    """
    if not len(identity.iris):
        return []
    ids, best = _ids(identity, prefer)
    at: list[dict[tuple[int, str], str]] = []
    for level in levels:
        level_ids, _ = _ids(level, prefer) if len(level.iris) else ([], [])
        at.append(
            {
                (side, iri): level_ids[label]
                for side, iri, label in zip(
                    level.source.tolist(), level.iris, level.labels.tolist(), strict=True
                )
            }
        )
    out = [
        ClusterRow(
            record=iri,
            cluster=ids[label],
            canonical=best[label],
            source=SOURCES[side],
            levels=tuple(known.get((side, iri), "") for known in at),
        )
        for iri, side, label in zip(
            identity.iris, identity.source.tolist(), identity.labels.tolist(), strict=True
        )
    ]
    return sorted(out, key=lambda row: (row.canonical, row.record != row.canonical, row.record))


def checks_text(checks: IdentityChecks | None, *, dedup: bool) -> str:
    """The spec's identity-graph checks in a few words."""
    if checks is None:
        return "no checks"
    parts = []
    if checks.max_cluster_size is not None:
        parts.append(f"max_cluster_size {checks.max_cluster_size:,} ({checks.cluster_size})")
    parts.append(f"bridges ({checks.bridges}, sides >= {checks.bridge_side})")
    if not dedup:
        parts.append(f"same_source ({checks.same_source})")
    return "checks: " + ", ".join(parts)


def report(state: AlignmentState) -> IdentitySummary:
    """The clusters and the checks' findings, for the HTML report."""
    identity: IdentityGraph = state.identity
    values, counts = np.unique(identity.sizes, return_counts=True)
    return IdentitySummary(
        clusters=len(identity.sizes),
        records=len(identity.iris),
        sizes=tuple(zip(values.tolist(), counts.tolist(), strict=True)),
        checks=checks_text(state.spec.checks, dedup=state.spec.dedup),
        findings=tuple(
            IdentityFinding(f.check, f.action, f.message, f.links, f.more) for f in state.findings
        ),
    )


def figures(state: AlignmentState) -> dict[str, Any] | None:
    """The clusters and the checks' findings for the run's JSON document (None: not clustered)."""
    identity: IdentityGraph | None = state.identity
    if identity is None:
        return None
    sizes = identity.sizes
    return {
        "clusters": len(sizes),
        "records": len(identity.iris),
        "largest": int(sizes.max()) if len(sizes) else 0,
        "findings": [
            {
                "check": f.check,
                "action": f.action,
                "message": f.message,
                "links": [list(link) for link in f.links],
                "more_links": f.more,
            }
            for f in state.findings
        ],
    }


def output_rows(state: AlignmentState, output: ClustersOutput) -> list[ClusterRow]:
    """The rows of a clusters output: its threshold, its other thresholds, other specs' links."""
    links = state.links
    assert links is not None
    dedup = state.spec.dedup
    others = [pair for path in output.links for pair in read_links(path, output.predicate)]

    def clustered(threshold: float | None) -> IdentityGraph:
        if others:
            return closure(links, others, dedup=dedup, threshold=threshold)
        if threshold is None and state.identity is not None:
            built: IdentityGraph = state.identity
            return built
        return graph(links, dedup=dedup, threshold=threshold)

    levels = [clustered(limit) for limit in output.thresholds]
    return rows(clustered(output.threshold), output.prefer, levels)
