"""Clusters of linked records as CSV or RDF: each record, its cluster id, its canonical IRI."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from renderers.links import LinkTable
from renderers.rdf import write_ntriples, write_turtle

__all__ = [
    "ClusterRow",
    "IdentityFinding",
    "IdentitySummary",
    "write_clusters_csv",
    "write_clusters_rdf",
]

HEADER = ("record_id", "cluster_id", "canonical_id", "source")


@dataclass(frozen=True)
class ClusterRow:
    """One linked record: its IRI, its cluster's id and canonical IRI, its source (align, target)."""

    record: str
    cluster: str
    canonical: str
    source: str
    #: The record's cluster id under each of the output's other thresholds ("": no link there).
    levels: tuple[str, ...] = ()


def write_clusters_csv(rows: list[ClusterRow], handle: TextIO, levels: Sequence[str] = ()) -> None:
    """A header, then one row per record, in the given order; rows end with ``\\n``.

    ``levels`` name the columns of each row's ``levels`` (its cluster under other thresholds).
    """
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow((*HEADER, *levels))
    writer.writerows(
        (row.record, row.cluster, row.canonical, row.source, *row.levels) for row in rows
    )


def write_clusters_rdf(rows: list[ClusterRow], predicate: str, fmt: str, handle: TextIO) -> None:
    """``<record> <predicate> <canonical>`` for every record but the canonical ones, sorted.

    The closure a consumer would compute, as a star on each cluster's canonical IRI.
    Raises ``ValueError`` for an IRI that N-Triples/Turtle cannot represent.
    """
    pairs = sorted((row.record, row.canonical) for row in rows if row.record != row.canonical)
    table = LinkTable(
        align_ids=[record for record, _ in pairs],
        target_ids=[iri for _, iri in pairs],
        distance=np.zeros(len(pairs)),
    )
    writer = write_turtle if fmt == "turtle" else write_ntriples
    writer(table, predicate, handle)


@dataclass(frozen=True)
class IdentityFinding:
    """What one identity-graph check found, for a report: the check, warn or fail, the links."""

    check: str
    action: str
    message: str
    links: tuple[tuple[str, str], ...]
    more: int = 0


@dataclass(frozen=True)
class IdentitySummary:
    """The clusters of a run's links for a report: how many, their sizes, the checks' findings.

    ``sizes`` pairs each cluster size with the number of clusters of that size, smallest first.
    """

    clusters: int
    records: int
    sizes: tuple[tuple[int, int], ...]
    checks: str
    findings: tuple[IdentityFinding, ...] = ()
