"""Blocking rules against naive set computations."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.alignment.blocking import KeyRule, NoBlocking, SortedNeighbourhoodRule, Union


def _pairs(rule: object, chunk: int = 1 << 20) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for ia, ib in rule.pairs(chunk):  # type: ignore[attr-defined]
        out.extend(zip(ia.tolist(), ib.tolist(), strict=True))
    return out


def _keys(rng: random.Random, n: int) -> list[str | None]:
    return [None if rng.random() < 0.1 else rng.choice("abcdefg") for _ in range(n)]


def test_no_blocking_is_the_cross_product() -> None:
    rule = NoBlocking(3, 4)
    got = _pairs(rule, chunk=5)
    assert sorted(got) == [(i, j) for i in range(3) for j in range(4)]
    assert rule.estimate() == 12
    assert rule.contains(np.array([0]), np.array([3])).all()


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_key_rule_pairs_equal_keys_only(chunk: int) -> None:
    rng = random.Random(1)
    a, b = _keys(rng, 80), _keys(rng, 90)
    rule = KeyRule(a, b)
    got = _pairs(rule, chunk)
    expected = {
        (i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x is not None and x == y
    }
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    assert rule.estimate() == len(expected)
    ia = np.array([p[0] for p in got] + [0], dtype=np.int64)
    ib = np.array([p[1] for p in got] + [0], dtype=np.int64)
    contained = rule.contains(ia, ib)
    assert contained[:-1].all()
    assert contained[-1] == (a[0] is not None and a[0] == b[0])


def test_key_rule_with_no_common_key() -> None:
    rule = KeyRule(["a", None], ["b", "c"])
    assert _pairs(rule) == []
    assert rule.estimate() == 0


def test_sorted_neighbourhood_window() -> None:
    a = ["m", "a", None, "z"]
    b = ["a", "b", "c", "n", "o", "y", "z"]
    rule = SortedNeighbourhoodRule(a, b, window=3)
    got = set(_pairs(rule))
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


def test_union_yields_each_pair_once() -> None:
    rng = random.Random(5)
    a1, b1 = _keys(rng, 60), _keys(rng, 70)
    a2, b2 = _keys(rng, 60), _keys(rng, 70)
    r1, r2 = KeyRule(a1, b1), KeyRule(a2, b2)
    r3 = SortedNeighbourhoodRule(a1, b2, window=4)
    union = Union([r1, r2, r3])
    got = _pairs(union, chunk=13)
    expected = set(_pairs(r1)) | set(_pairs(r2)) | set(_pairs(r3))
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert union.estimate() >= len(expected)
