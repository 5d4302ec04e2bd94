"""The sorted neighbourhood rule: the window around each key in sort order."""

from __future__ import annotations

import numpy as np

from engine.alignment.blocking.sorted_neighbourhood import SortedNeighbourhoodRule
from tests.engine.alignment.blocking.contract import (
    pairs_of,
)


def test_sorted_neighbourhood_window() -> None:
    a = ["m", "a", None, "z"]
    b = ["a", "b", "c", "n", "o", "y", "z"]
    rule = SortedNeighbourhoodRule(a, b, window=3)
    got = set(pairs_of(rule))
    by_align: dict[int, set[str]] = {}
    for i, j in got:
        by_align.setdefault(i, set()).add(b[j])
    assert by_align[0] == {"c", "n", "o"}  # 'm' sorts between c and n
    assert by_align[1] == {"a", "b", "c"}
    assert by_align[3] == {"o", "y", "z"}
    assert 2 not in by_align
    assert rule.estimate() == len(got) == 9
    ia = np.array([i for i, _ in got], dtype=np.int64)
    ib = np.array([j for _, j in got], dtype=np.int64)
    assert rule.contains(ia, ib).all()
    assert not rule.contains(np.array([1]), np.array([6])).any()
