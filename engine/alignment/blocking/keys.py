"""Rules on whole keys: ``none`` (every record meets every record) and ``key`` (equal keys)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    Bools,
    Ints,
    Keys,
    RuleKind,
    Values,
    codes,
    expand,
    giant_warnings,
    slices,
)
from engine.alignment.blocking.registry import RULES
from engine.registry import Example

__all__ = ["KeyRule", "NoBlocking"]


@RULES.register(
    "none",
    Example((["a", "b"], ["x", None, "z"]), [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]),
    Example(([], ["x"]), []),
)
@dataclass
class NoBlocking(RuleKind):
    """Every align record meets every target record (for small sets); the estimate is exact."""

    reads_values: ClassVar[bool] = False

    n_align: int
    n_target: int
    label: str = "none"
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> NoBlocking:
        return cls(len(align), len(target), label=label)

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        return "none (every align record meets every target record)"

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


@RULES.register(
    "key",
    Example(
        (["paris", "lyon", None, "paris"], ["lyon", "paris", None, "nice"]),
        [(0, 1), (1, 0), (3, 1)],
        {"attribute": "city"},
    ),
    # A phonetic key: the key normalised with soundex (here, already normalised).
    Example(
        (["R163", "S530"], ["R163", "S530", "R163"]), [(0, 0), (0, 2), (1, 1)], {"align": "name"}
    ),
    Example((["a", None], ["b", "c"]), [], {"align": "code", "target": "ref"}),
)
class KeyRule(RuleKind):
    """Pairs whose keys are equal (records with a missing key are in no block).

    The key is any normalised value; a phonetic key is a key normalised with
    ``soundex``. The estimate is exact. A key shared by so many records that its
    block alone is giant is reported in ``warnings``.
    """

    reads_codes: ClassVar[bool] = True

    def __init__(self, align: Keys, target: Keys, *, label: str = "key") -> None:
        self.label = label
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
        count_a = np.bincount(self.ca[self.rows_a], minlength=n).astype(np.int64)

        def name(code: int) -> str:
            return str(align[int(np.flatnonzero(self.ca == code)[0])])

        full = len(align) * len(target)
        self.warnings = giant_warnings(label, "key", count_a, self.count_b, full, name)

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> KeyRule:
        return cls(align, target, label=label)

    @classmethod
    def no_pairs(cls, looks: str) -> str:
        return f"the two sources share no key ({looks})"

    def estimate(self) -> int:
        return int(self.reps.sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        keep = self.reps > 0
        rows, reps = self.rows_a[keep], self.reps[keep]
        first = self.first_b[self.ca[rows]]
        for start, stop in slices(reps, chunk):
            yield expand(rows[start:stop], reps[start:stop], first[start:stop], self.order_b)

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        ka = self.ca[ia]
        result: Bools = (ka >= 0) & (ka == self.cb[ib])
        return result
