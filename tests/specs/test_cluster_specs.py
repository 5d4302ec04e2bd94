"""The febrl deduplications' clusters: their pairwise F1 equals or beats the links' F1."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import pytest

import engine
from engine.alignment.evaluate import Scores, score
from schemas.alignment import output_path

ROOT = Path(__file__).resolve().parents[2]


def _gold(number: int) -> list[frozenset[str]]:
    base = f"http://example.org/febrl{number}/"
    with (ROOT / "data" / "febrl" / f"febrl{number}_true_links.csv").open() as handle:
        return [frozenset((base + a, base + b)) for a, b in list(csv.reader(handle))[1:]]


def _scores(number: int, out: Path) -> tuple[Scores, Scores]:
    """The links' scores and the clusters' (every pair within a cluster) against the gold."""
    spec_path = ROOT / "specs" / f"febrl{number}-dedup.yaml"
    spec = engine.with_outputs_in(engine.load_spec(spec_path), out)
    engine.run(engine.build_plan(spec, spec_path), spec)
    paths = {output_path(o).name: output_path(o) for o in spec.outputs}
    with paths[f"febrl{number}-dedup.csv"].open(encoding="utf-8") as handle:
        links = [frozenset((r["align_id"], r["target_id"])) for r in csv.DictReader(handle)]
    members: dict[str, list[str]] = {}
    with paths[f"febrl{number}-clusters.csv"].open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            members.setdefault(row["cluster_id"], []).append(row["record_id"])
    pairs = [
        frozenset(pair) for group in members.values() for pair in itertools.combinations(group, 2)
    ]
    gold = _gold(number)
    return score(links, gold), score(pairs, gold)


@pytest.mark.parametrize(
    ("number", "links_f1", "clusters_f1"), [(1, 0.9989, 0.9989), (2, 0.9891, 0.9944)]
)
def test_clusters_f1_equals_or_beats_the_links(
    number: int, links_f1: float, clusters_f1: float, tmp_path: Path
) -> None:
    links, clusters = _scores(number, tmp_path)
    assert links.f1 >= links_f1, links
    assert clusters.f1 >= clusters_f1, clusters
    assert clusters.f1 >= links.f1, (clusters, links)
