"""Matching modes against brute force."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from engine.alignment.match import select


def _instance(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = random.Random(seed)
    pairs = sorted({(rng.randrange(5), rng.randrange(5)) for _ in range(12)})
    ia = np.array([p[0] for p in pairs], dtype=np.int64)
    ib = np.array([p[1] for p in pairs], dtype=np.int64)
    d = np.array([round(rng.random(), 3) for _ in pairs])
    return ia, ib, d


def test_all_keeps_everything() -> None:
    ia, ib, d = _instance(1)
    assert select(ia, ib, d, "all", 1.0).tolist() == list(range(len(ia)))


def test_best_takes_the_closest_target_per_align_record() -> None:
    for seed in range(20):
        ia, ib, d = _instance(seed)
        kept = select(ia, ib, d, "best", 1.0)
        assert len(set(ia[kept].tolist())) == len(kept) == len(set(ia.tolist()))
        for k in kept:
            same = ia == ia[k]
            assert d[k] == d[same].min()


def test_best_breaks_ties_by_target_index() -> None:
    ia = np.array([0, 0, 0], dtype=np.int64)
    ib = np.array([2, 1, 3], dtype=np.int64)
    d = np.array([0.5, 0.5, 0.7])
    assert select(ia, ib, d, "best", 1.0).tolist() == [1]


def _brute_force(ia: np.ndarray, ib: np.ndarray, d: np.ndarray, threshold: float) -> float:
    best = 0.0
    n = len(ia)
    for size in range(1, min(5, n) + 1):
        for combo in itertools.combinations(range(n), size):
            if len({ia[k] for k in combo}) < size or len({ib[k] for k in combo}) < size:
                continue
            best = max(best, sum(threshold - d[k] for k in combo))
    return best


def test_one_to_one_is_an_optimal_assignment() -> None:
    for seed in range(15):
        ia, ib, d = _instance(seed)
        kept = select(ia, ib, d, "one-to-one", 1.0)
        assert len(set(ia[kept].tolist())) == len(kept)
        assert len(set(ib[kept].tolist())) == len(kept)
        margin = float(sum(1.0 - d[k] for k in kept))
        assert (
            margin == _brute_force(ia, ib, d, 1.0)
            or abs(margin - _brute_force(ia, ib, d, 1.0)) < 1e-6
        )


def test_empty() -> None:
    empty = np.zeros(0, dtype=np.int64)
    for mode in ("all", "best", "one-to-one"):
        assert select(empty, empty, np.zeros(0), mode, 1.0).tolist() == []


def _many(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = np.unique(rng.integers(0, 40, size=(n, 2)), axis=0)
    return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), rng.random(len(pairs))


def test_prune_keeps_what_best_chooses() -> None:
    from engine.alignment.match import prune

    for seed in range(5):
        ia, ib, d = _many(seed)
        kept = prune(ia, ib, d, "best")
        assert len(kept) == len(set(ia.tolist()))
        full = {(ia[k], ib[k]) for k in select(ia, ib, d, "best", 1.0)}
        after = {
            (ia[kept][k], ib[kept][k]) for k in select(ia[kept], ib[kept], d[kept], "best", 1.0)
        }
        assert after == full


def test_prune_one_to_one_keeps_the_assignment() -> None:
    from engine.alignment.match import prune

    for seed in range(5):
        ia, ib, d = _many(seed)  # about 10 candidates per record: the bound holds
        kept = prune(ia, ib, d, "one-to-one")
        full = {(ia[k], ib[k]) for k in select(ia, ib, d, "one-to-one", 1.0)}
        sub = select(ia[kept], ib[kept], d[kept], "one-to-one", 1.0)
        assert {(ia[kept][k], ib[kept][k]) for k in sub} == full
        assert len(kept) <= len(ia)


def test_prune_all_keeps_everything() -> None:
    from engine.alignment.match import prune

    ia, ib, d = _many(1)
    assert prune(ia, ib, d, "all").tolist() == list(range(len(ia)))


def test_giant_components_are_matched_greedily(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.alignment import match

    ia, ib, d = _many(3)
    exact = set(select(ia, ib, d, "one-to-one", 1.0).tolist())
    monkeypatch.setattr(match, "EXACT_COMPONENT", 5)
    greedy = select(ia, ib, d, "one-to-one", 1.0)
    assert len(set(ia[greedy].tolist())) == len(greedy) == len(set(ib[greedy].tolist()))
    # Greedy takes the closest pair overall first.
    assert int(np.argmin(d)) in set(greedy.tolist())
    assert set(greedy.tolist()) != exact or len(exact) == len(greedy)


def _sequential_greedy(ia: np.ndarray, ib: np.ndarray, d: np.ndarray) -> list[int]:
    """The greedy one-to-one pass as a plain loop: closest first, ties by (ia, ib, position)."""
    used_a: set[int] = set()
    used_b: set[int] = set()
    keep = []
    for k in sorted(range(len(ia)), key=lambda k: (d[k], ia[k], ib[k], k)):
        if ia[k] not in used_a and ib[k] not in used_b:
            used_a.add(int(ia[k]))
            used_b.add(int(ib[k]))
            keep.append(k)
    return sorted(keep)


#: The greedy pass's two implementations past the plain loop: numpy rounds, compiled.
GREEDY_PATHS = pytest.mark.parametrize("compiled_from", [10**12, 0], ids=["rounds", "compiled"])


@GREEDY_PATHS
def test_greedy_links_the_pairs_of_the_sequential_pass(
    compiled_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.alignment import match
    from engine.alignment.match import _greedy

    monkeypatch.setattr(match, "_COMPILED_GREEDY_FROM", compiled_from)

    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(2_500, 6_000))  # over the size that runs rounds
        ia = rng.integers(0, int(rng.integers(20, 400)), n)
        ib = rng.integers(0, int(rng.integers(20, 400)), n)
        # Few distinct distances: ties everywhere; duplicate pairs; -0.0 equals 0.0.
        d = rng.integers(0, int(rng.integers(1, 12)), n) / 4.0
        if trial % 3 == 0:
            d[rng.random(n) < 0.3] = -0.0
        assert _greedy(ia, ib, d).tolist() == _sequential_greedy(ia, ib, d)


@GREEDY_PATHS
def test_greedy_on_a_chain_of_ever_closer_pairs(
    compiled_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.alignment import match
    from engine.alignment.match import _greedy

    monkeypatch.setattr(match, "_COMPILED_GREEDY_FROM", compiled_from)

    # Each round of locally closest pairs links only the chain's end: the loop finishes it.
    n = 9_000
    ia = np.arange(n, dtype=np.int64) // 2
    ib = (np.arange(n, dtype=np.int64) + 1) // 2
    d = np.arange(n)[::-1] / n
    assert _greedy(ia, ib, d).tolist() == _sequential_greedy(ia, ib, d)


@GREEDY_PATHS
def test_giant_component_links_unchanged_by_the_vectorised_greedy(
    compiled_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.alignment import match

    monkeypatch.setattr(match, "_COMPILED_GREEDY_FROM", compiled_from)

    rng = np.random.default_rng(11)
    pairs = np.unique(rng.integers(0, 3_000, size=(20_000, 2)), axis=0)
    ia, ib = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    d = rng.integers(0, 50, len(pairs)) / 10.0
    monkeypatch.setattr(match, "EXACT_COMPONENT", 100)
    kept = select(ia, ib, d, "one-to-one", 5.0)
    assert kept.tolist() == _sequential_greedy(ia, ib, d)


def test_one_to_one_never_prunes_a_link_away() -> None:
    from engine.alignment.match import prune

    # Align record 0's true partner, target 6, is its seventh closest, and target 6 has
    # five closer align records (7..11); each of those records is taken by a closer
    # pair of its own, so the greedy pass links 0-6. Keeping each record's five
    # closest pairs (the old rule) dropped 0-6.
    ia = np.array([0] * 7 + [1, 2, 3, 4, 5, 6] + [7, 8, 9, 10, 11] * 2, dtype=np.int64)
    ib = np.array([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5] + [6] * 5 + [7, 8, 9, 10, 11])
    d = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.5] + [0.1] * 6 + [1.2] * 5 + [0.1] * 5)
    kept = prune(ia, ib, d, "one-to-one")
    links = kept[select(ia[kept], ib[kept], d[kept], "one-to-one", 2.0)]
    assert (0, 6) in set(zip(ia[links].tolist(), ib[links].tolist(), strict=True))


def test_compiled_components_match_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.alignment import match

    rng = np.random.default_rng(5)
    for trial in range(30):
        n, m = int(rng.integers(1, 500)), int(rng.integers(1, 500))
        size = int(rng.integers(1, 800))
        a, b = rng.integers(0, n, size), rng.integers(0, m, size)
        if trial % 4 == 0:  # indexes too sparse to number arrays: compacted first
            a = a * 10**9
        monkeypatch.setattr(match, "EXACT_COMPONENT", int(rng.integers(1, 60)))
        monkeypatch.setattr(match, "_COMPILED_FROM", 10**9)
        with_scipy = match._in_giant(a, b)
        monkeypatch.setattr(match, "_COMPILED_FROM", 0)
        assert match._in_giant(a, b).tolist() == with_scipy.tolist()


def test_compact_numbers_like_unique() -> None:
    from engine.alignment.match import _compact

    rng = np.random.default_rng(3)
    for values in (
        rng.integers(0, 50, 200),
        rng.integers(0, 10**12, 200),  # sparse: through np.unique
        np.array([5, -1, 5, 3], dtype=np.int64),
        np.zeros(0, dtype=np.int64),
    ):
        unique, inverse = _compact(values)
        expected_unique, expected_inverse = np.unique(values, return_inverse=True)
        assert unique.tolist() == expected_unique.tolist()
        assert inverse.tolist() == expected_inverse.ravel().tolist()


def _sorted_top(keys: np.ndarray, other: np.ndarray, d: np.ndarray, k: int) -> set[int]:
    """The k first pairs of each key in np.lexsort((other, d, keys))'s order."""
    order = np.lexsort((other, d, keys)).tolist()
    seen: dict[int, int] = {}
    kept = set()
    for i in order:
        seen[keys[i]] = seen.get(keys[i], 0) + 1
        if seen[keys[i]] <= k:
            kept.add(i)
    return kept


@pytest.mark.parametrize("with_nan", [False, True])
def test_prune_keeps_the_first_pairs_of_each_record_in_sorted_order(with_nan: bool) -> None:
    from engine.alignment.match import prune

    rng = np.random.default_rng(13)
    for _ in range(20):
        n = int(rng.integers(1, 3_000))
        ia = rng.integers(0, int(rng.integers(1, 300)), n)
        ib = rng.integers(0, int(rng.integers(1, 300)), n)
        d = rng.integers(0, 6, n) / 2.0  # ties everywhere
        d[rng.random(n) < 0.2] = -0.0
        if with_nan:
            d[rng.random(n) < 0.1] = np.nan
        # One-to-one keeps every pair: dropping any could change an assignment.
        assert prune(ia, ib, d, "one-to-one").tolist() == list(range(n))
        assert prune(ia, ib, d, "all").tolist() == list(range(n))
        assert prune(ia, ib, d, "best").tolist() == sorted(_sorted_top(ia, ib, d, 1))
        dedup = sorted(_sorted_top(ia, ib, d, 1) | _sorted_top(ib, ia, d, 1))
        assert prune(ia, ib, d, "best", dedup=True).tolist() == dedup


@pytest.mark.parametrize("with_nan", [False, True])
def test_best_keeps_the_first_pair_of_each_record_in_sorted_order(with_nan: bool) -> None:
    rng = np.random.default_rng(17)
    for _ in range(20):
        n = int(rng.integers(1, 3_000))
        ia = rng.integers(0, int(rng.integers(1, 300)), n)
        ib = rng.integers(0, int(rng.integers(1, 300)), n)
        d = rng.integers(0, 6, n) / 2.0
        if with_nan:
            d[rng.random(n) < 0.1] = np.nan
        assert select(ia, ib, d, "best", 3.0).tolist() == sorted(_sorted_top(ia, ib, d, 1))
        # A deduplication: each record's first pair, its pairs on both sides together.
        doubled = _sorted_top(
            np.concatenate([ia, ib]), np.concatenate([ib, ia]), np.concatenate([d, d]), 1
        )
        expected = sorted({i % n for i in doubled})
        assert select(ia, ib, d, "best", 3.0, dedup=True).tolist() == expected
