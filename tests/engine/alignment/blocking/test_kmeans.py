"""The k-means rule: nearest centroids, shared clusters."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from engine.alignment.blocking.base import BlockingValueError
from engine.alignment.blocking.kmeans import KMeansRule
from tests.engine.alignment.blocking.contract import (
    check,
    pairs_of,
)


def test_kmeans_assigns_the_nearest_centroids_and_pairs_shared_clusters() -> None:
    rng = random.Random(31)
    a = [(rng.gauss(c, 1), rng.gauss(c, 1)) for c in (0, 10, 20) for _ in range(30)] + [None]
    b = [(rng.gauss(c, 1), rng.gauss(c, 1)) for c in (0, 10, 20) for _ in range(25)]
    for nearest in (1, 2):
        rule = KMeansRule(a, b, clusters=4, nearest=nearest, seed=0)
        assert rule.clusters == 4 and rule.centres.shape == (4, 2)
        for points, assign in ((a, rule.assign_a), (b, rule.assign_b)):
            for index, point in enumerate(points):
                if point is None:
                    assert (assign[:, index] == -1).all()
                    continue
                d = np.linalg.norm(rule.centres - np.array(point), axis=1)
                assert set(assign[:, index].tolist()) == set(np.argsort(d)[:nearest].tolist())
        expected = {
            (i, j)
            for i in range(len(a))
            for j in range(len(b))
            if a[i] is not None and set(rule.assign_a[:, i]) & set(rule.assign_b[:, j])
        }
        check(rule, expected, len(a), len(b))
        if nearest == 1:
            one = expected
        else:
            assert expected >= one, "a second centroid only adds pairs"


def test_kmeans_on_coordinates_and_too_many_clusters() -> None:
    a = [("48.85", "2.35"), ("48.86", "2.34"), ("45.76", "4.83")]
    b = [("48.85", "2.35"), ("45.76", "4.84"), None]
    rule = KMeansRule(a, b, clusters=10, coordinates="latlon", label="kmeans on places")
    assert rule.clusters == 4  # distinct points (one is on both sides)
    assert "10 clusters asked, 4 distinct points" in rule.warnings[0]
    got = set(pairs_of(rule))
    assert (0, 0) in got  # the same point always pairs
    again = KMeansRule(a, b, clusters=10, coordinates="latlon")
    assert pairs_of(again) == sorted(got)
    with pytest.raises(BlockingValueError, match="latitude 99"):
        KMeansRule([("99", "0")], b, clusters=2, coordinates="latlon")


@pytest.mark.parametrize("empty", [[], [None, None]], ids=["no record", "no value"])
def test_a_side_without_points_pairs_with_nothing(empty: list[Any]) -> None:
    points: list[Any] = [("48.85", "2.35"), ("45.76", "4.83")]
    numbers: list[Any] = [("1", "2"), ("3", "4")]
    for rule in (
        KMeansRule(points, empty, clusters=2, coordinates="latlon"),
        KMeansRule(empty, numbers, clusters=2),
    ):
        assert rule.estimate() == 0
        assert pairs_of(rule) == []
