"""engine.alignment.match_loops: the compiled rows, links and components."""

from __future__ import annotations

import numpy as np

from engine.alignment.compiled import load

loops = load("engine.alignment.match_loops")


def test_rows_rank_each_records_pairs_by_distance_other_and_position() -> None:
    rng = np.random.default_rng(1)
    for size in (0, 1, 30, 400):  # rows past the insertion sort's length too
        group = rng.integers(0, 4, size)
        other = rng.integers(0, 6, size)
        d = rng.integers(0, 3, size) / 2.0
        use = rng.random(size) < 0.8
        starts, order, ends = loops.rows(group, 4, d, other, use)
        for g in range(4):
            row = order[starts[g] : starts[g + 1]].tolist()
            expected = sorted(
                (k for k in range(size) if use[k] and group[k] == g),
                key=lambda k: (d[k], other[k], k),
            )
            assert row == expected
            assert ends[starts[g] : starts[g + 1]].tolist() == other[expected].tolist()


def test_link_takes_the_closest_pair_then_what_is_left() -> None:
    # a0-b0 0.1 first; a1's closest, b0, is taken: a1-b1 (0.5), not a1-b0 (0.2).
    a = np.array([0, 1, 1, 0], dtype=np.int64)
    b = np.array([0, 0, 1, 1], dtype=np.int64)
    d = np.array([0.1, 0.2, 0.5, 0.3])
    use = np.ones(4, dtype=bool)
    chosen = loops.link(4, *loops.rows(a, 2, d, b, use), *loops.rows(b, 2, d, a, use))
    assert chosen.tolist() == [0, 2]


def test_roots_put_connected_records_together() -> None:
    # a0-b0, a1-b0: one component; a2-b2: another; a3, b1, b3 alone.
    a = np.array([0, 1, 2], dtype=np.int64)
    b = np.array([0, 0, 2], dtype=np.int64)
    root = loops.roots(a, b, 4, 4)
    assert root[0] == root[1] == root[4] and root[2] == root[6]
    assert len({root[0], root[2], root[3], root[5], root[7]}) == 5
    assert loops.in_large(a, b, 4, 4, 2).tolist() == [True, True, False]
