"""Blocking: candidate pairs without an N x M matrix.

Each rule turns the key values of both sides into candidate pairs, streamed in
chunks of at most ``chunk`` pairs. A rule can also say whether it produces a
given pair (``contains``), which lets a union drop the pairs an earlier rule
already produced without keeping a set of every pair in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "BlockingRule",
    "KeyRule",
    "NoBlocking",
    "SortedNeighbourhoodRule",
    "Union",
    "codes",
]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Keys = Sequence[str | None]

DEFAULT_CHUNK = 1 << 21


class BlockingRule(Protocol):
    """What a blocking rule offers the pipeline."""

    def estimate(self) -> int:
        """How many candidate pairs the rule yields (exact for keys; an upper bound for unions)."""

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        """Candidate pairs ``(align index, target index)`` in chunks."""

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        """Whether each pair is one of this rule's candidates."""


def codes(align: Keys, target: Keys) -> tuple[Ints, Ints, int]:
    """Shared integer codes of both sides' keys (-1 for a missing key) and their count."""
    index: dict[str, int] = {}

    def encode(values: Keys) -> Ints:
        return np.fromiter(
            (-1 if v is None else index.setdefault(v, len(index)) for v in values),
            dtype=np.int64,
            count=len(values),
        )

    ca = encode(align)
    cb = encode(target)
    return ca, cb, len(index)


def _objects(values: list[str | None]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _slices(weights: Ints, chunk: int) -> Iterator[tuple[int, int]]:
    """Consecutive ranges of items whose summed weight stays near ``chunk``."""
    total = np.cumsum(weights)
    start = 0
    while start < len(weights):
        base = total[start - 1] if start else 0
        stop = int(np.searchsorted(total, base + chunk, side="right"))
        stop = max(stop, start + 1)
        yield start, stop
        start = stop


def _expand(rows: Ints, reps: Ints, first: Ints, order: Ints) -> tuple[Ints, Ints]:
    """Pairs of each row with ``reps`` consecutive entries of ``order`` from ``first``."""
    ia = np.repeat(rows, reps)
    ends = np.cumsum(reps)
    local = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(
        ends - reps, reps
    )
    ib = order[np.repeat(first, reps) + local]
    return ia, ib


@dataclass
class NoBlocking:
    """Every align record meets every target record (for small sets)."""

    n_align: int
    n_target: int

    def estimate(self) -> int:
        return self.n_align * self.n_target

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        if self.n_target == 0:
            return
        rows = max(1, chunk // self.n_target)
        targets = np.arange(self.n_target, dtype=np.int64)
        for start in range(0, self.n_align, rows):
            block = np.arange(start, min(start + rows, self.n_align), dtype=np.int64)
            yield np.repeat(block, self.n_target), np.tile(targets, len(block))

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        return np.ones(len(ia), dtype=bool)


class KeyRule:
    """Pairs whose keys are equal (records with a missing key are in no block)."""

    def __init__(self, align: Keys, target: Keys) -> None:
        self.ca, self.cb, n = codes(align, target)
        valid_b = self.cb >= 0
        self.order_b = np.flatnonzero(valid_b).astype(np.int64)
        self.order_b = self.order_b[np.argsort(self.cb[self.order_b], kind="stable")]
        self.count_b = np.bincount(self.cb[valid_b], minlength=n).astype(np.int64)
        self.first_b = np.zeros(n, dtype=np.int64)
        if n:
            np.cumsum(self.count_b[:-1], out=self.first_b[1:])
        self.rows_a = np.flatnonzero(self.ca >= 0).astype(np.int64)
        self.reps = self.count_b[self.ca[self.rows_a]] if n else np.zeros(0, np.int64)

    def estimate(self) -> int:
        return int(self.reps.sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        keep = self.reps > 0
        rows, reps = self.rows_a[keep], self.reps[keep]
        first = self.first_b[self.ca[rows]]
        for start, stop in _slices(reps, chunk):
            yield _expand(rows[start:stop], reps[start:stop], first[start:stop], self.order_b)

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        ka = self.ca[ia]
        result: Bools = (ka >= 0) & (ka == self.cb[ib])
        return result


class SortedNeighbourhoodRule:
    """Each align record meets the ``window`` target records nearest to its key in sort order."""

    def __init__(self, align: Keys, target: Keys, window: int) -> None:
        self.window = window
        valid_b = np.array([v is not None for v in target], dtype=bool)
        self.order_b = np.flatnonzero(valid_b).astype(np.int64)
        keys_b = _objects([target[int(i)] for i in self.order_b])
        sort = np.argsort(keys_b, kind="stable")
        self.order_b, keys_b = self.order_b[sort], keys_b[sort]
        self.rank_b = np.full(len(target), -1, dtype=np.int64)
        self.rank_b[self.order_b] = np.arange(len(self.order_b), dtype=np.int64)
        self.rows_a = np.array([i for i, v in enumerate(align) if v is not None], dtype=np.int64)
        keys_a = _objects([align[int(i)] for i in self.rows_a])
        position = np.searchsorted(keys_b, keys_a, side="left") if len(keys_b) else np.zeros(0)
        half = window // 2
        last = max(len(self.order_b) - window, 0)
        self.low = np.full(len(align), 0, dtype=np.int64)
        self.low[self.rows_a] = np.clip(position.astype(np.int64) - half, 0, last)
        self.high = np.full(len(align), -1, dtype=np.int64)
        self.high[self.rows_a] = np.minimum(self.low[self.rows_a] + window, len(self.order_b)) - 1

    def estimate(self) -> int:
        return int(np.maximum(self.high - self.low + 1, 0).sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        rows = self.rows_a
        reps = np.maximum(self.high[rows] - self.low[rows] + 1, 0)
        for start, stop in _slices(reps, chunk):
            yield _expand(
                rows[start:stop], reps[start:stop], self.low[rows[start:stop]], self.order_b
            )

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        rank = self.rank_b[ib]
        result: Bools = (rank >= 0) & (rank >= self.low[ia]) & (rank <= self.high[ia])
        return result


class Union:
    """Pairs of any of the rules, each pair once: a rule drops what earlier rules produced."""

    def __init__(self, rules: list[BlockingRule]) -> None:
        self.rules = rules

    def estimate(self) -> int:
        return sum(rule.estimate() for rule in self.rules)

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        for position, rule in enumerate(self.rules):
            earlier = self.rules[:position]
            for ia, ib in rule.pairs(chunk):
                if earlier:
                    seen = np.zeros(len(ia), dtype=bool)
                    for other in earlier:
                        seen |= other.contains(ia, ib)
                    ia, ib = ia[~seen], ib[~seen]
                if len(ia):
                    yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for rule in self.rules:
            out |= rule.contains(ia, ib)
        return out
