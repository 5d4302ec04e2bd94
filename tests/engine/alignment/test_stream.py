"""The compare stage over a whole rule: the pairs kept, each with its distance per attribute."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from engine.alignment import stream
from engine.alignment.blocking import KeyRule, NoBlocking, Union
from engine.alignment.compare import missing_fill
from engine.alignment.metrics import METRICS
from engine.alignment.stream import compare_all
from schemas.alignment import Attribute, LocalExecutor
from schemas.base import Ref

ATTRIBUTES = [
    Attribute.model_validate(a)
    for a in (
        {"name": "name", "metric": "levenshtein", "weight": 0.5, "missing": 0.5},
        {"name": "city", "metric": "jaro_winkler", "weight": 2},
        {"name": "code", "metric": "exact", "weight": 0},
        {"name": "size", "metric": "euclidean", "weight": 1, "missing": "ignore"},
    )
]
EXECUTOR = Ref("local", TypeAdapter(LocalExecutor).validate_python({"workers": 2}))


def _side(rng: random.Random, n: int) -> dict[str, list[Any]]:
    def maybe(value: str) -> str | None:
        return None if rng.random() < 0.1 else value

    return {
        "name": [maybe(rng.choice(["ann", "anne", "bob", "rob", "carl"])) for _ in range(n)],
        "city": [maybe(rng.choice(["paris", "pariz", "lyon", "lyons"])) for _ in range(n)],
        "code": [maybe(rng.choice("ab")) for _ in range(n)],
        "size": [maybe(str(rng.randint(0, 3))) for _ in range(n)],
    }


def _prepared(values: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        a.name: METRICS[a.metric.name].func().prepare(values[a.name], a.metric.options)
        for a in ATTRIBUTES
    }


def _naive(
    align: dict[str, Any], target: dict[str, Any], ia: Any, ib: Any
) -> tuple[Any, dict[str, Any]]:
    """Each attribute's distance of the pairs, and their weighted sum, computed pair by pair."""
    distances = {}
    total = np.zeros(len(ia))
    for a in ATTRIBUTES:
        metric = METRICS[a.metric.name].func()
        d = metric.compute(align[a.name], target[a.name], ia, ib, a.metric.options)
        distances[a.name] = d
        fill = missing_fill(a.missing, metric.bounded(a.metric.options))
        total += a.weight * np.where(np.isnan(d), fill, d)
    return total, distances


@pytest.mark.parametrize("pool_limit", [10**9, 50], ids=["whole pool", "pruned on the way"])
def test_the_kept_pairs_carry_each_attributes_distance(
    pool_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "POOL_LIMIT", pool_limit)
    rng = random.Random(4)
    raw_a, raw_b = _side(rng, 120), _side(rng, 130)
    align, target = _prepared(raw_a), _prepared(raw_b)
    # Blocks of the key rule go through cdist, the loose pairs of the union through cpdist.
    rule = Union([KeyRule(raw_a["city"], raw_b["city"]), KeyRule(raw_a["name"], raw_b["name"])])
    found = compare_all(
        rule, ATTRIBUTES, align, target, 1.5, executor=EXECUTOR, matching="best", dedup=False
    )
    pairs = found.pairs
    assert found.executor == "local, 2 threads" and found.compared > len(pairs) > 0
    assert list(pairs.distances) == ["name", "city", "code", "size"]  # the spec's order
    total, distances = _naive(align, target, pairs.ia, pairs.ib)
    assert np.array_equal(pairs.total, total)
    for name, values in distances.items():
        assert np.array_equal(pairs.distances[name], values, equal_nan=True), name
    assert (pairs.total <= 1.5 + 1e-9).all()


def test_every_pair_under_the_limit_is_kept_once_pruning_aside() -> None:
    rng = random.Random(5)
    raw_a, raw_b = _side(rng, 40), _side(rng, 50)
    align, target = _prepared(raw_a), _prepared(raw_b)
    found = compare_all(
        NoBlocking(40, 50), ATTRIBUTES, align, target, 1.0, executor=EXECUTOR, matching="all",
        dedup=False,
    )  # fmt: skip
    ia = np.repeat(np.arange(40, dtype=np.int64), 50)
    ib = np.tile(np.arange(50, dtype=np.int64), 40)
    total, _ = _naive(align, target, ia, ib)
    under = total <= 1.0 + 1e-9
    got = sorted(zip(found.pairs.ia.tolist(), found.pairs.ib.tolist(), strict=True))
    assert got == sorted(zip(ia[under].tolist(), ib[under].tolist(), strict=True))
    assert found.compared == 40 * 50


def test_a_one_to_one_pool_is_never_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    # Which pair a one-to-one assignment takes depends on every pair of its component.
    monkeypatch.setattr(stream, "POOL_LIMIT", 10)
    rng = random.Random(8)
    raw_a, raw_b = _side(rng, 40), _side(rng, 50)
    align, target = _prepared(raw_a), _prepared(raw_b)
    found = compare_all(
        NoBlocking(40, 50), ATTRIBUTES, align, target, 1.5, executor=EXECUTOR,
        matching="one-to-one", dedup=False,
    )  # fmt: skip
    ia = np.repeat(np.arange(40, dtype=np.int64), 50)
    ib = np.tile(np.arange(50, dtype=np.int64), 40)
    total, _ = _naive(align, target, ia, ib)
    under = total <= 1.5 + 1e-9
    assert np.count_nonzero(under) > 10 * stream.POOL_LIMIT
    got = sorted(zip(found.pairs.ia.tolist(), found.pairs.ib.tolist(), strict=True))
    assert got == sorted(zip(ia[under].tolist(), ib[under].tolist(), strict=True))


def test_without_distances_only_the_totals_are_kept() -> None:
    rng = random.Random(6)
    raw_a, raw_b = _side(rng, 30), _side(rng, 30)
    found = compare_all(
        NoBlocking(30, 30), ATTRIBUTES, _prepared(raw_a), _prepared(raw_b), 2.0,
        executor=EXECUTOR, matching="all", dedup=False, distances=False,
    )  # fmt: skip
    assert found.pairs.distances == {} and len(found.pairs) > 0


def test_nothing_to_compare() -> None:
    found = compare_all(
        NoBlocking(0, 3), ATTRIBUTES, _prepared(_side(random.Random(1), 0)),
        _prepared(_side(random.Random(2), 3)), 1.0, executor=EXECUTOR, matching="one-to-one",
        dedup=False,
    )  # fmt: skip
    assert found.compared == 0 and len(found.pairs) == 0
    assert list(found.pairs.distances) == ["name", "city", "code", "size"]
    assert found.pairs.ia.dtype == np.int64 and found.pairs.total.dtype == np.float64


def test_the_pool_keeps_every_pair_across_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.alignment.compare import ChunkResult

    monkeypatch.setattr(stream, "SEGMENT", 7)
    rng = np.random.default_rng(9)
    pool = stream._Pool(["x"])
    chunks = []
    for size in (0, 3, 7, 1, 15, 2, 0, 9):
        ia, ib = rng.integers(0, 100, size), rng.integers(0, 100, size)
        total, x = rng.random(size), rng.random(size)
        pool.add(ChunkResult(size, ia, ib, total, {"x": x}))
        chunks.append((ia, ib, total, x))
    assert pool.size == 37
    merged = pool.merged()
    for got, k in ((merged.ia, 0), (merged.ib, 1), (merged.total, 2), (merged.distances["x"], 3)):
        assert got.tolist() == np.concatenate([c[k] for c in chunks]).tolist()
    assert pool.size == 0 and len(pool.merged()) == 0
