import numpy as np

from engine.alignment.fit.levels import MISSING
from engine.alignment.fit.u import level_frequencies, random_pairs


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
