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

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
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
from renderers.clusters import ClusterRow, IdentityFinding, IdentitySummary
from renderers.links import LinkTable
from schemas.alignment.spec import IdentityChecks

__all__ = [
    "SHOWN_LINKS",
    "Finding",
    "IdentityGraph",
    "check",
    "checks_text",
    "figures",
    "graph",
    "report",
    "rows",
]

#: Links named per finding; the rest are counted.
SHOWN_LINKS = 10

#: The node's source: an alignment's two sides (a deduplication's records are all ``ALIGN``).
ALIGN, TARGET = 0, 1
SOURCES = ("align", "target")


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
