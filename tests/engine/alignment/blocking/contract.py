"""The contract every blocking rule follows, checked against naive set computations.

:func:`check`: a rule's pairs are exactly the naive ones, each once, the same
whatever the chunk size; ``contains`` agrees with ``pairs`` on every possible
pair, and ``estimate`` is exact or an upper bound as the rule documents.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

__all__ = ["WORDS", "check", "naive_qgrams", "pairs_of", "random_keys", "random_names"]

Pair = tuple[int, int]


def pairs_of(rule: Any, chunk: int = 1 << 20) -> list[Pair]:
    out: list[Pair] = []
    for ia, ib in rule.pairs(chunk):
        assert ia.dtype == np.int64 and ib.dtype == np.int64
        out.extend(zip(ia.tolist(), ib.tolist(), strict=True))
    return out


def check(rule: Any, expected: set[Pair], n_a: int, n_b: int, exact: bool = True) -> list[Pair]:
    """The contract every rule follows, against the naive pairs ``expected``."""
    got = pairs_of(rule)
    assert len(got) == len(set(got)), "a pair yielded twice"
    assert set(got) == expected
    for chunk in (1, 7, 50):
        assert pairs_of(rule, chunk) == got, f"chunk {chunk} changed the pairs or their order"
    if exact:
        assert rule.estimate() == len(expected)
    else:
        assert rule.estimate() >= len(expected)
    ia = np.repeat(np.arange(n_a, dtype=np.int64), n_b)
    ib = np.tile(np.arange(n_b, dtype=np.int64), n_a)
    contained = rule.contains(ia, ib)
    naive = np.array([(i, j) in expected for i, j in zip(ia.tolist(), ib.tolist(), strict=True)])
    assert (contained == naive).all(), "contains disagrees with pairs"
    return got


def random_keys(rng: random.Random, n: int) -> list[str | None]:
    return [None if rng.random() < 0.1 else rng.choice("abcdefg") for _ in range(n)]


WORDS = ["anna", "annie", "bob", "bobby", "carl", "karl", "dora", "doris", "ed", "eddie", "jo"]


def random_names(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.1:
            out.append(None)
        else:
            out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3))))
    return out


def naive_qgrams(key: str | None, q: int, padding: bool) -> set[str]:
    if not key:
        return set()
    if padding:
        key = "#" * (q - 1) + key + "#" * (q - 1)
    if len(key) < q:
        return {key}
    return {key[i : i + q] for i in range(len(key) - q + 1)}
