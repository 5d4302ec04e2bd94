"""numpy helpers shared by the generators: typed conversions, weighted draws, column tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
ObjArray = NDArray[np.object_]
Table = dict[str, NDArray[Any]]
Rng = np.random.Generator

CHUNK: Final = 131_072  # rows per chunk when writing and selecting


def ints(values: Any) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def bools(values: Any) -> BoolArray:
    return np.asarray(values, dtype=np.bool_)


def strs(values: Any) -> list[str]:
    """``values.tolist()`` of an object array of strings, typed."""
    out: list[str] = values.tolist()
    return out


def objects(values: Sequence[str] | NDArray[Any]) -> ObjArray:
    """An object array of ``values`` (numpy concatenates its strings element-wise)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def cdf(weights: Sequence[float] | FloatArray) -> FloatArray:
    """The cumulative distribution of relative ``weights``."""
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w)
    return np.asarray(c / c[-1], dtype=np.float64)


def draw(rng: Rng, cdf: FloatArray, size: int) -> IntArray:
    """Indexes drawn with the probabilities of a cumulative distribution."""
    idx = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(idx, len(cdf) - 1).astype(np.int64)


def zipf(m: int, offset: float, s: float = 1.0) -> FloatArray:
    """Zipf-Mandelbrot weights of ranks ``0 .. m-1``: a few frequent values, a long tail."""
    return 1.0 / (np.arange(m, dtype=np.float64) + 1.0 + offset) ** s


def pick(rng: Rng, values: Sequence[str], size: int) -> ObjArray:
    """``size`` values drawn uniformly (with replacement)."""
    arr = objects(values)
    return arr[rng.integers(0, len(arr), size=size)]


def syllables(rng: Rng, m: int, onsets: Sequence[str], vowels: Sequence[str],
              codas: Sequence[str]) -> ObjArray:  # fmt: skip
    """``m`` syllables: an onset, a vowel and a coda each drawn uniformly."""
    return pick(rng, onsets, m) + pick(rng, vowels, m) + pick(rng, codas, m)  # type: ignore[no-any-return]


def take(t: Table, rows: IntArray) -> Table:
    return {k: v[rows] for k, v in t.items()}


def concat(a: Table, b: Table) -> Table:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def n_digits(v: IntArray) -> IntArray:
    return np.floor(np.log10(np.maximum(v, 1))).astype(np.int64) + 1
