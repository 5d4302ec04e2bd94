"""Clusters as CSV and RDF."""

from __future__ import annotations

import io

import pytest

from renderers.clusters import ClusterRow, write_clusters_csv, write_clusters_rdf

ROWS = [
    ClusterRow("http://a/1", "c-1", "http://a/1", "align"),
    ClusterRow("http://b/2", "c-1", "http://a/1", "target"),
    ClusterRow("http://a/3", "c-3", "http://a/3", "align"),
    ClusterRow("http://a/4", "c-3", "http://a/3", "align"),
]


def test_csv_has_a_header_and_a_row_per_record() -> None:
    out = io.StringIO()
    write_clusters_csv(ROWS, out)
    assert out.getvalue().splitlines() == [
        "record_id,cluster_id,canonical_id,source",
        "http://a/1,c-1,http://a/1,align",
        "http://b/2,c-1,http://a/1,target",
        "http://a/3,c-3,http://a/3,align",
        "http://a/4,c-3,http://a/3,align",
    ]


def test_rdf_links_each_record_to_its_canonical_iri() -> None:
    out = io.StringIO()
    write_clusters_rdf(ROWS, "http://www.w3.org/2002/07/owl#sameAs", "ntriples", out)
    same = "<http://www.w3.org/2002/07/owl#sameAs>"
    assert out.getvalue().splitlines() == [
        f"<http://a/4> {same} <http://a/3> .",
        f"<http://b/2> {same} <http://a/1> .",
    ]
    turtle = io.StringIO()
    write_clusters_rdf(ROWS, "http://www.w3.org/2002/07/owl#sameAs", "turtle", turtle)
    assert "<http://b/2> owl:sameAs <http://a/1> ." in turtle.getvalue()


def test_rdf_refuses_an_iri_it_cannot_write() -> None:
    rows = [ClusterRow("not an iri", "c", "http://a/1", "align")]
    with pytest.raises(ValueError, match="not an absolute IRI"):
        write_clusters_rdf(rows, "http://www.w3.org/2002/07/owl#sameAs", "ntriples", io.StringIO())
