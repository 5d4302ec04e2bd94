"""The q-gram rule: pairs whose keys share enough character q-grams, found with numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.alignment.blocking.base import Ints, Keys, Values, budget_text, input_text
from engine.alignment.blocking.registry import RULES
from engine.alignment.blocking.tokens import (
    SharedTokenRule,
    binary_matrix,
    distinct_keys,
    row_codes,
)
from engine.registry import Example

__all__ = ["GramTable", "QGramRule", "gram_table", "qgrams"]


def qgrams(key: str | None, q: int, padding: bool = False) -> list[str]:
    """The distinct character q-grams of a key, in order of appearance.

    ``padding`` adds ``q - 1`` ``#`` on both ends; a (padded) key shorter than
    ``q`` is its own single q-gram; a missing or empty key has none.
    """
    if not key:
        return []
    if padding:
        key = "#" * (q - 1) + key + "#" * (q - 1)
    if len(key) <= q:
        return [key]
    return list(dict.fromkeys(key[i : i + q] for i in range(len(key) - q + 1)))


#: Pads the windows of keys shorter than q: above every code point (0x10FFFF), and
#: within 21 bits, so that a window of up to 3 code points packs into 63 bits.
_SENTINEL = np.uint32(0x1FFFFF)
#: FNV-1a (64-bit) over code points: the stable hash of a q-gram shingle.
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@dataclass
class GramTable:
    """The distinct q-grams of distinct keys, found with numpy on code points.

    Row ``i`` of the CSR (``indptr``, ``indices``) lists the gram ids of key ``i``
    (sorted, each once); a last, empty row stands for a missing key. ``windows``
    (q x windows) holds the code points of every window and ``example`` a window
    of each gram id, for its text and its stable 32-bit ``hashes``.
    """

    indptr: Ints
    indices: Ints
    n_grams: int
    windows: Any
    example: Ints

    def name(self, gram: int) -> str:
        """The text of a gram id (for warnings)."""
        column = self.windows[:, int(self.example[gram])]
        return "".join(chr(int(c)) for c in column if c != _SENTINEL)

    def hashes(self) -> Any:
        """FNV-1a of each gram's code points (same text, same hash, in any run)."""
        h = np.full(self.n_grams, _FNV_OFFSET, dtype=np.uint64)
        for row in self.windows[:, self.example]:
            h = (h ^ row.astype(np.uint64)) * _FNV_PRIME
        return (h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def gram_table(keys: list[str], q: int, padding: bool) -> GramTable:
    """The q-grams of non-empty keys (as :func:`qgrams` defines them), vectorised.

    Each key's windows of q code points are taken from one array of all keys'
    code points; equal windows get equal ids (:func:`row_codes`, exact).
    """
    if padding:
        pad = "#" * (q - 1)
        keys = [pad + k + pad for k in keys]
    n = len(keys)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=n)
    points = np.frombuffer("".join(keys).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(lengths[:-1], out=starts[1:])
    count = np.where(lengths > 0, np.maximum(lengths - q + 1, 1), 0)  # a short key: one window
    owner = np.repeat(np.arange(n, dtype=np.int64), count)
    offset = np.arange(len(owner), dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    windows = np.empty((q, len(owner)), dtype=np.uint32)
    for j in range(q):  # a loop per position in the window, vectorised over windows
        inside = offset + j < lengths[owner]
        at = np.minimum(starts[owner] + offset + j, max(len(points) - 1, 0))
        windows[j] = np.where(inside, points[at] if len(points) else _SENTINEL, _SENTINEL)
    gram = row_codes(windows)
    n_grams = int(gram.max()) + 1 if len(gram) else 0
    pairs = np.sort(owner * max(n_grams, 1) + gram)  # each (key, gram) once, sorted
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    key_of, gram_of = pairs // max(n_grams, 1), pairs % max(n_grams, 1)
    indptr = np.zeros(n + 2, dtype=np.int64)
    np.cumsum(np.bincount(key_of, minlength=n + 1), out=indptr[1:])
    # A window of each gram (any one: equal ids, equal code points) for its text and hash.
    example = np.zeros(n_grams, dtype=np.int64)
    example[gram] = np.arange(len(gram), dtype=np.int64)
    return GramTable(indptr, gram_of, n_grams, windows, example)


@RULES.register(
    "qgram",
    # anna/annie share "an" and "nn"; bob/rob share "ob".
    Example(
        (["anna", "bob", None], ["annie", "rob", "zed"]),
        [(0, 0), (1, 1)],
        {"attribute": "name", "q": 2},
    ),
    Example(
        (["anna", "bob"], ["annie", "rob", "zed"]),
        [(0, 0)],
        {"attribute": "name", "q": 2, "min_common": 2},
    ),
    # Padded, the last letters meet: "b#" in both.
    Example((["ab"], ["xb", "xy"]), [(0, 0)], {"align": "name", "q": 2, "padding": True}),
    # "street" is in every key: with max_block 2 its q-grams are skipped.
    Example(
        (["rue street", "oak street"], ["oak street", "elm street", "ash street"]),
        [(1, 0)],
        {"attribute": "address", "q": 3, "max_block": 2},
    ),
)
class QGramRule(SharedTokenRule):
    """Pairs whose keys share at least ``min_common`` distinct character q-grams.

    See :func:`qgrams` for the q-grams of a key and :class:`SharedTokenRule`
    for ``max_block`` and the estimate.
    """

    def __init__(
        self,
        align: Keys,
        target: Keys,
        *,
        q: int = 3,
        padding: bool = False,
        min_common: int = 1,
        max_block: int | None = 10_000,
        label: str = "qgram",
    ) -> None:
        keys, key_a, key_b = distinct_keys(align, target)
        table = gram_table(keys, q, padding)
        grams = binary_matrix(
            table.indptr, table.indices, table.n_grams
        )  # one row per distinct key
        super().__init__(
            grams[key_a],
            grams[key_b],
            min_common=min_common,
            max_block=max_block,
            label=label,
            what="q-gram",
            name=table.name,
        )

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> QGramRule:
        return cls(
            align,
            target,
            q=options.q,
            padding=options.padding,
            min_common=options.min_common,
            max_block=options.max_block,
            label=label,
        )

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        padded = " padded" if options.padding else ""
        return (
            input_text(name, options)
            + f", {options.q}-grams{padded}, min_common {options.min_common},"
            + f" max_block {options.max_block:,}"
            + budget_text(options)
        )
