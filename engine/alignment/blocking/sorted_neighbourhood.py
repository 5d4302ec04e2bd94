"""The sorted neighbourhood rule: each align record meets the target keys nearest in sort order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    Bools,
    Ints,
    Keys,
    RuleKind,
    Values,
    budget_text,
    expand,
    input_text,
    objects,
    slices,
)
from engine.alignment.blocking.registry import RULES
from engine.registry import Example

__all__ = ["SortedNeighbourhoodRule"]


@RULES.register(
    "sorted_neighbourhood",
    # 'm' sorts between c and n: it meets c, n and o; 'a' meets the first three.
    Example(
        (["m", "a", None, "z"], ["a", "b", "c", "n", "o", "y", "z"]),
        [(0, 2), (0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (3, 4), (3, 5), (3, 6)],
        {"attribute": "name", "window": 3},
    ),
    Example((["b"], ["a", "c"]), [(0, 0), (0, 1)], {"attribute": "name", "window": 5}),
)
class SortedNeighbourhoodRule(RuleKind):
    """Each align record meets the ``window`` target records nearest to its key in sort order.

    The estimate is exact; no block exceeds ``window`` pairs per align record.
    """

    def __init__(self, align: Keys, target: Keys, window: int, *, label: str = "") -> None:
        self.label = label or "sorted_neighbourhood"
        self.warnings: list[str] = []
        self.window = window
        valid_b = np.array([v is not None for v in target], dtype=bool)
        self.order_b = np.flatnonzero(valid_b).astype(np.int64)
        keys_b = objects([target[int(i)] for i in self.order_b])
        sort = np.argsort(keys_b, kind="stable")
        self.order_b, keys_b = self.order_b[sort], keys_b[sort]
        self.rank_b = np.full(len(target), -1, dtype=np.int64)
        self.rank_b[self.order_b] = np.arange(len(self.order_b), dtype=np.int64)
        self.rows_a = np.array([i for i, v in enumerate(align) if v is not None], dtype=np.int64)
        keys_a = objects([align[int(i)] for i in self.rows_a])
        position = np.searchsorted(keys_b, keys_a, side="left") if len(keys_b) else np.zeros(0)
        half = window // 2
        last = max(len(self.order_b) - window, 0)
        self.low = np.full(len(align), 0, dtype=np.int64)
        self.low[self.rows_a] = np.clip(position.astype(np.int64) - half, 0, last)
        self.high = np.full(len(align), -1, dtype=np.int64)
        self.high[self.rows_a] = np.minimum(self.low[self.rows_a] + window, len(self.order_b)) - 1

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> SortedNeighbourhoodRule:
        return cls(align, target, options.window, label=label)

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        return input_text(name, options) + f", window {options.window}" + budget_text(options)

    def estimate(self) -> int:
        return int(np.maximum(self.high - self.low + 1, 0).sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        rows = self.rows_a
        reps = np.maximum(self.high[rows] - self.low[rows] + 1, 0)
        for start, stop in slices(reps, chunk):
            yield expand(
                rows[start:stop], reps[start:stop], self.low[rows[start:stop]], self.order_b
            )

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        rank = self.rank_b[ib]
        result: Bools = (rank >= 0) & (rank >= self.low[ia]) & (rank <= self.high[ia])
        return result
