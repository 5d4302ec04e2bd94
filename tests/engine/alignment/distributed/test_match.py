"""The distributed matching: match.select's links, the driver never holding all pairs at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from engine.alignment import match
from engine.alignment.distributed import match as remote_match
from engine.alignment.distributed.compare import Found
from engine.alignment.distributed.match import ROWS, WHERE, Buckets, choose


class Local:
    """The cluster's part in one process: each task runs at once; what comes back is measured."""

    def __init__(self) -> None:
        self.largest = 0  # the most pairs (array items) one answer brought to the driver

    def submit(self, func: Callable[..., Any], *args: Any) -> Any:
        return func(*args)

    def wait(self, futures: list[Any]) -> list[Any]:
        for value in futures:
            arrays = value if isinstance(value, tuple | list) else [value]
            for a in arrays:
                items = a if isinstance(a, tuple) else [a]
                for x in items:
                    if isinstance(x, np.ndarray):
                        self.largest = max(self.largest, len(x))
        return futures

    def broadcast(self, value: Any) -> Any:
        return value


def _task(seed: int, n: int = 400, m: int = 380) -> tuple[list[Found], np.ndarray, np.ndarray]:
    """Buckets of distinct pairs: a few dense clusters (large components) and many small ones;
    totals on a coarse grid, so that many pairs tie."""
    rng = np.random.default_rng(seed)
    pairs = set()
    for start in (0, 150):  # two large components of ~100 records a side
        for _ in range(900):
            pairs.add((start + int(rng.integers(100)), start + int(rng.integers(100))))
    for a in range(250, n):  # small ones: each record a few pairs nearby
        for _ in range(int(rng.integers(1, 3))):
            b = min(m - 1, a - 20 + int(rng.integers(0, 3)))
            pairs.add((a, b))
    listed = sorted(pairs)
    order = rng.permutation(len(listed))
    ia = np.array([listed[k][0] for k in order], dtype=np.int64)
    ib = np.array([listed[k][1] for k in order], dtype=np.int64)
    total = rng.integers(0, 12, len(ia)).astype(np.float64) / 4  # ties everywhere
    cuts = np.sort(rng.choice(np.arange(1, len(ia)), 6, replace=False))
    found = [
        Found(len(a), a, b, t, {})
        for a, b, t in zip(
            np.split(ia, cuts), np.split(ib, cuts), np.split(total, cuts), strict=True
        )
    ]
    return found, ia, ib


def _rows(pairs: Any) -> list[tuple[int, int, float, float]]:
    return sorted(
        zip(
            pairs.ia.tolist(),
            pairs.ib.tolist(),
            pairs.total.tolist(),
            pairs.distances[WHERE].tolist(),
            strict=True,
        )
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mode", ["one-to-one", "best", "all"])
def test_the_links_are_selects_over_every_pair_and_the_driver_holds_a_piece_at_a_time(
    seed: int, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(match, "EXACT_COMPONENT", 60)  # the two dense clusters are "giant"
    monkeypatch.setattr(remote_match, "CHUNK", 64)
    monkeypatch.setattr(remote_match, "_SAMPLE", 8)
    found, ia, ib = _task(seed)
    total = np.concatenate([f.total for f in found])
    where = np.concatenate([np.arange(len(f.ia)) + k * ROWS for k, f in enumerate(found)]).astype(
        np.float64
    )
    keep = match.select(ia, ib, total, mode, 2.5)
    if mode == "one-to-one":  # the task has both kinds of component
        giant = match._in_giant(ia, ib)
        assert giant.any() and not giant.all()
    expected = sorted(
        zip(
            ia[keep].tolist(),
            ib[keep].tolist(),
            total[keep].tolist(),
            where[keep].tolist(),
            strict=True,
        )
    )
    cluster = Local()
    chosen = choose(cluster, Buckets(found, [len(f.ia) for f in found]), mode, 2.5, (400, 380))
    assert _rows(chosen) == expected
    if mode == "one-to-one":
        # Never all pairs at once: a union-find piece, a range of totals, the small components.
        small = int(np.count_nonzero(~match._in_giant(ia, ib)))
        assert cluster.largest <= max(small, 64 + len(found) * 8 + 200) < len(ia)


def test_an_empty_run_and_a_single_bucket() -> None:
    empty = choose(Local(), Buckets([], []), "one-to-one", 1.0, (3, 3))
    assert len(empty) == 0 and len(empty.ia) == 0
    one = Found(2, np.array([0, 1]), np.array([1, 1]), np.array([0.5, 0.25]), {})
    chosen = choose(Local(), Buckets([one], [2]), "one-to-one", 1.0, (3, 3))
    assert _rows(chosen) == [(1, 1, 0.25, 1.0)]
