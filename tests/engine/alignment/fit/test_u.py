import numpy as np
import pytest

from engine.alignment.fit.levels import MISSING, cut
from engine.alignment.fit.u import (
    equal_pairs,
    level_frequencies,
    random_pairs,
    shared_codes,
    stratified_frequencies,
)


def test_random_pairs_are_seeded_and_in_range() -> None:
    ia, ib = random_pairs(100, 50, dedup=False, size=1000)
    again = random_pairs(100, 50, dedup=False, size=1000)
    assert np.array_equal(ia, again[0]) and np.array_equal(ib, again[1])
    assert len(ia) == 1000 and (np.diff(ia * 50 + ib) >= 0).all()
    assert ia.max() < 100 and ib.max() < 50 and ia.min() >= 0


def test_every_pair_when_there_are_few() -> None:
    ia, ib = random_pairs(3, 2, dedup=False, size=1000)
    assert sorted(zip(ia.tolist(), ib.tolist(), strict=True)) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
        (2, 0),
        (2, 1),
    ]


def test_dedup_pairs_are_each_unordered_pair_once_without_self_pairs() -> None:
    ia, ib = random_pairs(7, 7, dedup=True, size=1000)
    pairs = set(zip(ia.tolist(), ib.tolist(), strict=True))
    assert pairs == {(i, j) for i in range(7) for j in range(i + 1, 7)}
    ia, ib = random_pairs(2000, 2000, dedup=True, size=5000)
    assert (ia < ib).all() and ib.max() < 2000


def test_level_frequencies_leave_missing_out_and_never_give_zero() -> None:
    levels = np.array([0, 1, 1, 1, MISSING], dtype=np.int8)
    u = level_frequencies(levels, 3)
    assert u.sum() == 1.0
    assert u[1] > u[0] > u[2] > 0


def test_shared_codes_number_equal_values_alike_on_both_sides() -> None:
    a, b = shared_codes(["x", None, "y", "x"], ["y", "z", None, "x", ["list"]])
    assert a.tolist() == [0, -1, 1, 0]
    assert b[0] == 1 and b[3] == 0 and b[2] == -1
    assert b[1] == b[4] == 2  # held by the target only: equal to no align value
    same_a, same_b = shared_codes([("1", "2"), ("1", "2"), None], None)
    assert same_a.tolist() == [0, 0, -1] and same_b is same_a


def test_equal_pairs_count_the_record_pairs_sharing_each_value() -> None:
    codes_a, codes_b = shared_codes(["x", "y", "x", None, "w"], ["x", "x", "z", "y", None])
    equal = equal_pairs(codes_a, codes_b, dedup=False)
    assert equal.known == 4 * 4
    found = {(int(i), int(j)): n for i, j, n in zip(equal.ia, equal.ib, equal.pairs, strict=True)}
    assert found == {(0, 0): 2 * 2, (1, 3): 1 * 1}  # x: 2 x 2 pairs; y: 1 x 1; w, z: none
    codes, _ = shared_codes(["x", "y", "x", None, "x", "y", "v"], None)
    equal = equal_pairs(codes, codes, dedup=True)
    assert equal.known == 6 * 5 / 2
    found = {(int(i), int(j)): n for i, j, n in zip(equal.ia, equal.ib, equal.pairs, strict=True)}
    assert found == {(0, 2): 3.0, (1, 5): 1.0}  # x held 3 times: 3 pairs; y twice: 1


def test_stratified_frequencies_equal_the_frequencies_over_every_pair() -> None:
    # Values 0..9 on each side, level = |a - b| cut at 0 and 2: every pair against both strata.
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 10, 300), rng.integers(0, 10, 200)
    a_values: list[str | None] = [str(v) for v in a]
    b_values = [str(v) for v in b]
    a_values[5] = None
    ca, cb = shared_codes(a_values, b_values)

    def level(ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
        d = np.abs(a[ia] - b[ib]).astype(np.float64)
        d[(ca[ia] < 0) | (cb[ib] < 0)] = np.nan
        return cut(d, [0.0, 2.0])

    ia, ib = np.divmod(np.arange(300 * 200), 200)
    everything = level_frequencies(level(ia, ib), 3)
    equal = equal_pairs(ca, cb, dedup=False)
    differ = (ca[ia] >= 0) & (cb[ib] >= 0) & (ca[ia] != cb[ib])
    u = stratified_frequencies(equal, level(equal.ia, equal.ib), level(ia, ib)[differ], 3)
    assert np.allclose(u, everything, rtol=1e-12)
    # From a small sample of the differing pairs, the exact level is still exact.
    sample = rng.choice(np.flatnonzero(differ), 500)
    u = stratified_frequencies(equal, level(equal.ia, equal.ib), level(ia[sample], ib[sample]), 3)
    assert u[0] == pytest.approx(everything[0], rel=1e-12)
    assert u[1] == pytest.approx(everything[1], rel=0.2)


def test_stratified_frequencies_never_give_zero() -> None:
    codes, _ = shared_codes(["a", "b", "c"], None)
    equal = equal_pairs(codes, codes, dedup=True)
    u = stratified_frequencies(equal, np.zeros(0, np.int8), np.array([2, 2, 2], np.int8), 3)
    assert u[2] > 0.5 and 0 < u[0] == u[1]
