"""u probabilities: how often each level occurs among random record pairs.

Almost every random pair is a non-match, so the level frequencies among them
estimate u = P(level | non-match), as Splink does. The sample is drawn with a
fixed seed: the same inputs give the same u.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.alignment.fit.levels import MISSING, Levels

__all__ = ["SAMPLE", "SEED", "level_frequencies", "random_pairs"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

#: Random pairs drawn to estimate u: enough for a level as rare as 1 in 100,000
#: pairs to be seen a few times, and cheap next to a run (``engine fit`` must be).
SAMPLE = 500_000
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
