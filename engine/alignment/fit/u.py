"""u probabilities: how often each level occurs among random record pairs.

Almost every random pair is a non-match, so the level frequencies among them
estimate u = P(level | non-match), as Splink does. Sampling is seeded: the
same inputs give the same u.

Where each record holds one value, the record pairs whose values are both
known are split in two strata (:func:`stratified_frequencies`): the pairs whose
values are *equal*, counted exactly from the values' frequencies (``n_a(v) *
n_b(v)`` pairs share the value ``v``; one of them is compared to find its
level), and the pairs whose values differ, sampled at random. The exact level
of a discriminating attribute (one in tens of thousands of random pairs agree
on a date of birth) is then exact, not a count of a few sampled pairs, and the
sample, left to find the close levels of differing values, can be small.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.alignment.fit.levels import MISSING, Levels

__all__ = [
    "SAMPLE",
    "SEED",
    "UNEQUAL_SAMPLE",
    "EqualPairs",
    "equal_pairs",
    "level_frequencies",
    "random_pairs",
    "shared_codes",
    "stratified_frequencies",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Random pairs drawn when every level comes from the sample (records with several
#: values): enough for a level as rare as 1 in 100,000 pairs to be seen a few times.
SAMPLE = 500_000
#: Random pairs drawn when the pairs of equal values are counted exactly: the sample
#: only has to find how often differing values are close (a typo apart).
UNEQUAL_SAMPLE = 50_000
#: The sampling seed (fixed: a second fit writes the same model).
SEED = 15


def random_pairs(
    n_align: int, n_target: int, *, dedup: bool, size: int = SAMPLE, seed: int = SEED
) -> tuple[Ints, Ints]:
    """``size`` random pairs, sorted (no self pair in a dedup, each pair as ``i < j``).

    When there are fewer possible pairs than ``size``, every pair, once.
    """
    total = n_align * (n_align - 1) // 2 if dedup else n_align * n_target
    if total <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rng = np.random.default_rng(seed)
    if total <= size:
        codes = np.arange(total, dtype=np.int64)
    else:
        # Drawn with replacement (a pair twice is rare, and harmless to a frequency),
        # sorted so that the comparisons read the records in order.
        codes = np.sort(rng.integers(0, total, size=size, dtype=np.int64))
    if not dedup:
        return codes // n_target, codes % n_target
    # Unordered pair number -> (i, j), i < j: row i starts at i*(2n-i-1)/2.
    n = n_align
    i = np.floor((2 * n - 1 - np.sqrt((2 * n - 1) ** 2 - 8 * codes.astype(np.float64))) / 2)
    i = i.astype(np.int64)
    start = i * (2 * n - i - 1) // 2
    # Floating point can put i one row off near a row's edge: fix it exactly.
    low = codes < start
    i[low] -= 1
    start = i * (2 * n - i - 1) // 2
    high = codes >= start + (n - 1 - i)
    i[high] += 1
    start = i * (2 * n - i - 1) // 2
    j = i + 1 + (codes - start)
    return i, j


def level_frequencies(levels: Levels, count: int, *, floor: float = 0.5) -> Floats:
    """P(level) among the pairs of known value (levels ``0..count-1``; MISSING left out).

    A level never seen gets ``floor`` pseudo-pairs, so its u is small but not
    zero (a zero u would make its match weight infinite).
    """
    known = levels[levels != MISSING].astype(np.int64)
    counts = np.bincount(known, minlength=count)[:count].astype(np.float64)
    counts = np.maximum(counts, floor)
    shares: Floats = counts / counts.sum()
    return shares


def _key(value: object) -> Hashable | None:
    if value is None or isinstance(value, Hashable):
        return value
    if isinstance(value, list):
        return tuple(value)
    return repr(value)


def _numbered(values: Sequence[object]) -> tuple[Ints, dict[object, int]]:
    """Each value's number (in order of first appearance; None -1), and the numbering."""
    # dict.fromkeys and map run in C (as in metrics.strings.factorize).
    try:
        distinct = dict.fromkeys(values)
    except TypeError:  # lists (several columns' values): as tuples
        return _numbered([_key(v) for v in values])
    distinct.pop(None, None)
    index: dict[object, int] = {k: i for i, k in enumerate(distinct)}
    index[None] = -1
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, index


def shared_codes(align: Sequence[object], target: Sequence[object] | None) -> tuple[Ints, Ints]:
    """Each record's value as a number, equal values equal numbers on both sides; missing -1.

    ``target`` None: a deduplication (one side, the same numbers twice). The
    align side's values are numbered in order of first appearance; a target
    value the align side does not hold gets one number past them all (it
    equals no align value, which is all that is asked of it).
    """
    codes_a, index = _numbered(align)
    if target is None:
        return codes_a, codes_a
    other = itertools.repeat(len(index) - 1)  # index holds None too
    try:
        numbers = map(index.get, target, other)
        codes_b = np.fromiter(numbers, dtype=np.int64, count=len(target))
    except TypeError:
        numbers = map(index.get, (_key(v) for v in target), other)
        codes_b = np.fromiter(numbers, dtype=np.int64, count=len(target))
    return codes_a, codes_b


@dataclass(frozen=True)
class EqualPairs:
    """The record pairs whose values are equal, one stratum per value both sides hold.

    ``ia[k], ib[k]``: a pair of records holding the k-th such value (``ia <
    ib`` in a deduplication); ``pairs[k]``: how many record pairs hold it;
    ``known``: how many record pairs have both values known (equal or not).
    """

    ia: Ints
    ib: Ints
    pairs: Floats
    known: float


def _holders(codes: Ints, count: int) -> tuple[Ints, Ints, Ints]:
    """Per value ``0..count-1``: how many records hold it, and the first two that do.

    A value held once has its first record as its second; one never held, any record.
    """
    held = np.flatnonzero(codes >= 0)
    if not len(held):
        zeros = np.zeros(count, np.int64)
        return zeros, zeros, zeros
    order = held[np.argsort(codes[held], kind="stable")]  # each value's records in order
    counts = np.bincount(codes[held], minlength=count)[:count]
    starts = np.cumsum(counts) - counts
    last = len(order) - 1
    first = order[np.minimum(starts, last)]
    second = order[np.minimum(starts + (counts > 1), last)]
    return counts.astype(np.int64), first.astype(np.int64), second.astype(np.int64)


def equal_pairs(codes_a: Ints, codes_b: Ints, *, dedup: bool) -> EqualPairs:
    """The stratum of equal values, from :func:`shared_codes`' numbers of each side's records."""
    count = int(codes_a.max(initial=-1)) + 1
    known_a = float((codes_a >= 0).sum())
    held_a, first_a, second_a = _holders(codes_a, count)
    if dedup:
        keep = held_a >= 2
        pairs = held_a[keep].astype(np.float64) * (held_a[keep] - 1) / 2
        return EqualPairs(first_a[keep], second_a[keep], pairs, known_a * (known_a - 1) / 2)
    # Target values the align side does not hold (numbered ``count``) are no stratum.
    held_b, first_b, _ = _holders(np.where(codes_b < count, codes_b, -1), count)
    keep = (held_a > 0) & (held_b > 0)
    pairs = held_a[keep].astype(np.float64) * held_b[keep]
    known = known_a * float((codes_b >= 0).sum())
    return EqualPairs(first_a[keep], first_b[keep], pairs, known)


def stratified_frequencies(
    equal: EqualPairs,
    equal_levels: Levels,
    unequal_levels: Levels,
    count: int,
    *,
    floor: float = 0.5,
) -> Floats:
    """P(level) among the record pairs of known value, from both strata.

    ``equal_levels``: the level of each of ``equal``'s pairs (it stands for
    every pair holding that value); ``unequal_levels``: the levels of sampled
    pairs whose values are known and differ, each standing for an equal share
    of all such pairs. A pair the metric finds missing (a value its
    ``prepare`` could not use) counts in neither stratum's levels. A level
    never seen gets the weight of ``floor`` sampled pairs, as in
    :func:`level_frequencies`.
    """
    found = equal_levels != MISSING
    counts = np.bincount(
        equal_levels[found].astype(np.int64), weights=equal.pairs[found], minlength=count
    )[:count]
    unequal = max(equal.known - float(equal.pairs.sum()), 0.0)
    # How many record pairs one sampled pair stands for (a whole pair when none is sampled).
    each = unequal / len(unequal_levels) if len(unequal_levels) else 1.0
    seen = unequal_levels[unequal_levels != MISSING].astype(np.int64)
    counts = counts + np.bincount(seen, minlength=count)[:count] * each
    counts = np.where(counts > 0, counts, floor * each)
    shares: Floats = counts / counts.sum()
    return shares
