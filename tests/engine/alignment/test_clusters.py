"""Clusters of links: components, canonical IRIs, bridges, same-source clusters."""

from __future__ import annotations

import doctest
import random

import numpy as np
import pytest

from engine.alignment import clusters
from engine.alignment.clusters import (
    Bridge,
    bridges,
    canonical,
    cluster_id,
    components,
    same_source,
    sizes,
)


def _links(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([x for x, _ in pairs], dtype=np.int64)
    b = np.array([y for _, y in pairs], dtype=np.int64)
    return a, b


def test_the_worked_examples() -> None:
    result = doctest.testmod(clusters, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 7
    assert result.failed == 0


def test_components_do_not_depend_on_link_order() -> None:
    pairs = [(5, 6), (0, 1), (1, 2), (6, 7), (3, 3)]
    expected = [0, 0, 0, 1, 2, 3, 3, 3]
    for seed in range(5):
        random.Random(seed).shuffle(pairs)
        assert components(8, *_links(pairs)).tolist() == expected
    assert components(0, *_links([])).tolist() == []
    assert sizes(np.array(expected)).tolist() == [3, 1, 1, 3]


def test_canonical_prefers_the_source_then_the_smallest_iri() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    iris = ["http://z/1", "http://a/2", "http://a/1", "http://b/2", "http://b/1"]
    assert canonical(labels, iris, [0, 1, 1, 1, 1]).tolist() == [0, 4]
    assert canonical(labels, iris, [1, 1, 1, 1, 1]).tolist() == [2, 4]
    # The id follows the canonical IRI, not the label or the run.
    assert cluster_id("http://a/1") == cluster_id("http://a/1") != cluster_id("http://a/2")


def test_a_wrong_link_between_two_groups_is_the_bridge() -> None:
    # Two duplicate groups (triangles 0-1-2 and 3-4-5-6, dense) joined by one wrong link.
    group_a = [(0, 1), (1, 2), (2, 0)]
    group_b = [(3, 4), (4, 5), (5, 6), (6, 3), (3, 5)]
    wrong = (2, 4)
    a, b = _links([*group_a, wrong, *group_b])
    assert bridges(7, a, b) == [Bridge(3, (3, 4))]
    assert components(7, a, b).tolist() == [0] * 7


def test_min_side_decides_which_bridges_count() -> None:
    chain = [(0, 1), (1, 2), (2, 3)]
    a, b = _links(chain)
    assert bridges(4, a, b, min_side=1) == [Bridge(0, (1, 3)), Bridge(1, (2, 2)), Bridge(2, (1, 3))]
    assert bridges(4, a, b) == [Bridge(1, (2, 2))]
    assert bridges(4, a, b, min_side=3) == []


def test_parallel_links_and_cycles_are_not_bridges() -> None:
    a, b = _links([(0, 1), (1, 0), (2, 3), (3, 4), (4, 2)])
    assert bridges(5, a, b, min_side=1) == []


def test_bridges_of_a_long_chain_need_no_recursion() -> None:
    n = 200_000
    a = np.arange(n - 1, dtype=np.int64)
    found = bridges(n, a, a + 1, min_side=n // 2)
    assert found == [Bridge(n // 2 - 1, (n // 2, n // 2))]


def test_bridges_agree_with_removing_each_link() -> None:
    rng = random.Random(7)
    for _ in range(30):
        n = rng.randint(2, 12)
        pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(rng.randint(1, 16))]
        a, b = _links(pairs)
        labels = components(n, a, b)
        expected = []
        for index in range(len(pairs)):
            keep = np.arange(len(pairs)) != index
            after = components(n, a[keep], b[keep])
            x, y = pairs[index]
            if after[x] != after[y]:
                side = int(np.sum(after == after[x]))
                other = int(np.sum(labels == labels[x])) - side
                expected.append(Bridge(index, (min(side, other), max(side, other))))
        assert bridges(n, a, b, min_side=1) == expected


@pytest.mark.parametrize(
    ("labels", "source", "expected"),
    [([0, 0, 1, 1], [0, 1, 0, 1], []), ([0, 0, 0, 1], [0, 1, 1, 0], [0]), ([], [], [])],
)
def test_same_source(labels: list[int], source: list[int], expected: list[int]) -> None:
    got = same_source(np.array(labels, dtype=np.int64), np.array(source, dtype=np.int64))
    assert got == expected
