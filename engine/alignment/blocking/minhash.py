"""MinHash LSH: pairs whose shingle sets agree on a band of their MinHash signatures."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from engine.alignment.blocking.base import Bools, Ints, Keys, Values, budget_text, input_text
from engine.alignment.blocking.qgram import gram_table, qgrams
from engine.alignment.blocking.registry import RULES
from engine.alignment.blocking.tokens import (
    SharedTokenRule,
    binary_matrix,
    distinct_keys,
    encode_tokens,
    row_codes,
)
from engine.registry import Example

__all__ = ["MinHashRule", "minhash_bands", "minhash_split", "shingles"]

#: MinHash permutations: universal hashing ``(a x + b) mod p`` with the Mersenne
#: prime p = 2^31 - 1 and a, b, x < p, so that ``a x + b`` < 2^63 is exact in uint64
#: (with a larger p the product would wrap, and a small a would barely mix).
_PRIME = (1 << 31) - 1


def shingles(key: str | None, kind: str, q: int = 3) -> list[str]:
    """The distinct shingles of a key: its white-space ``tokens`` or its ``qgrams``."""
    if not key:
        return []
    if kind == "tokens":
        return list(dict.fromkeys(key.split()))
    return qgrams(key, q)


def minhash_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """The ``(bands, rows)`` with ``bands x rows <= num_perm`` that best separate ``threshold``.

    A pair of Jaccard similarity ``s`` is a candidate with probability
    ``1 - (1 - s^rows)^bands``; the split minimises the area of false positives
    below the threshold plus false negatives above it (as datasketch does).
    """
    s = np.linspace(0.0, 1.0, 1001)
    below, above = s <= threshold, s >= threshold
    best, choice = math.inf, (1, 1)
    for bands in range(1, num_perm + 1):
        rows = np.arange(1, num_perm // bands + 1)
        p = 1.0 - (1.0 - s[None, :] ** rows[:, None]) ** bands
        error = (p * below).sum(axis=1) + ((1.0 - p) * above).sum(axis=1)
        index = int(np.argmin(error))
        if error[index] < best - 1e-12:
            best, choice = float(error[index]), (bands, int(rows[index]))
    return choice


def _hash32(text: str) -> int:
    # A stable hash (Python's hash() of a str changes from one process to the next).
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).digest(), "little"
    )


def _band_codes(indptr: Ints, indices: Ints, hashes: Any, bands: int, rows: int, seed: int) -> Ints:
    """MinHash band values of shingle sets (CSR form) as codes: ``(bands, sets)``.

    Permutation ``k = band x rows + i`` maps a shingle hash ``x`` to
    ``(a_k x + b_k) mod p``; a set's signature entry is the minimum over its
    shingles. Equal band values get equal codes; a set without shingles gets -1.
    One band at a time, one permutation at a time: memory stays at one value
    per (set, shingle) entry, never sets x permutations.
    """
    rng = np.random.default_rng(seed)
    a = rng.integers(1, _PRIME, size=bands * rows, dtype=np.uint64)
    b = rng.integers(0, _PRIME, size=bands * rows, dtype=np.uint64)
    x = hashes.astype(np.uint64) % np.uint64(_PRIME)
    n = len(indptr) - 1
    out = np.full((bands, n), -1, dtype=np.int64)
    nonempty = np.diff(indptr) > 0
    if not nonempty.any():
        return out
    starts = indptr[:-1][nonempty]
    for band in range(bands):  # a loop per band and permutation, vectorised over entries
        signature = np.empty((rows, len(starts)), dtype=np.uint32)
        for i in range(rows):
            k = band * rows + i
            # Each distinct shingle once; values < 2^31 fit 32 bits (half the memory traffic).
            values = ((x * a[k] + b[k]) % np.uint64(_PRIME)).astype(np.uint32)
            signature[i] = np.minimum.reduceat(values[indices], starts)
        out[band, nonempty] = row_codes(signature)
    return out


def minhash_split(options: Any) -> tuple[int, int]:
    """The ``(bands, rows)`` of a minhash rule: given, or chosen for its threshold."""
    if options.bands is not None:
        return int(options.bands), int(options.rows)
    return minhash_bands(options.threshold, options.num_perm)


@RULES.register(
    "minhash",
    # Identical shingle sets always pair (the word order does not matter); disjoint ones never.
    Example(
        (["anna bob", "carl", None], ["bob anna", "dora", "carl"]),
        [(0, 0), (1, 2)],
        {"attribute": "name", "bands": 4, "rows": 2},
    ),
    Example(
        (["abcd", "wxyz"], ["abcd", "abce"]),
        [(0, 0)],
        {"attribute": "name", "shingles": "qgrams", "q": 2, "bands": 2, "rows": 8},
    ),
)
class MinHashRule(SharedTokenRule):
    """MinHash LSH: pairs whose signatures agree on all ``rows`` hashes of at least one band.

    Each record's shingles (:func:`shingles`) get a signature of ``bands x rows``
    universal hashes (fixed ``seed``: the same input gives the same pairs). Each
    band's exact value is a token shared by the records that agree on it; records
    with identical shingle sets agree on every band, so they always pair. The
    estimate follows :class:`SharedTokenRule`; ``contains`` compares band values.
    """

    def __init__(
        self,
        align: Keys,
        target: Keys,
        *,
        kind: str = "tokens",
        q: int = 3,
        bands: int = 16,
        rows: int = 8,
        seed: int = 1,
        label: str = "minhash",
    ) -> None:
        # Signatures of each distinct key once (names and codes repeat a lot); the
        # last row of the key tables stands for a missing key.
        keys, key_a, key_b = distinct_keys(align, target)
        if kind == "qgrams":
            table = gram_table(keys, q, padding=False)
            indptr, indices, hashes = table.indptr, table.indices, table.hashes()
        else:
            vocab: dict[str, int] = {}
            indptr, indices = encode_tokens([*keys, None], lambda k: shingles(k, kind), vocab)
            hashes = np.fromiter((_hash32(s) for s in vocab), dtype=np.uint64, count=len(vocab))
        # Token ids are the band codes offset per band, so that band j only meets band j.
        band_codes = _band_codes(indptr, indices, hashes, bands, rows, seed)
        offsets = np.zeros(bands + 1, dtype=np.int64)
        np.cumsum(band_codes.max(axis=1) + 1, out=offsets[1:])
        self.codes_a, self.codes_b = band_codes[:, key_a], band_codes[:, key_b]
        self.bands, self.rows = bands, rows

        def tokens(codes_side: Ints) -> Any:
            valid = codes_side[0] >= 0
            lengths = np.where(valid, bands, 0)
            ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            ids = (codes_side + offsets[:-1, None])[:, valid].T.ravel()
            return binary_matrix(ptr, ids, int(offsets[-1]))

        def name(token: int) -> str:
            band = int(np.searchsorted(offsets, token, side="right")) - 1
            key = int(np.flatnonzero(band_codes[band] == token - offsets[band])[0])
            return f"band {band}, e.g. {keys[key]}"

        super().__init__(
            tokens(self.codes_a),
            tokens(self.codes_b),
            label=label,
            what="band value",
            name=name,
        )

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for band in range(self.bands):  # a loop per band, vectorised over the pairs
            ka = self.codes_a[band, ia]
            out |= (ka >= 0) & (ka == self.codes_b[band, ib])
        return out

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> MinHashRule:
        bands, rows = minhash_split(options)
        return cls(
            align,
            target,
            kind=options.shingles,
            q=options.q,
            bands=bands,
            rows=rows,
            seed=options.seed,
            label=label,
        )

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        bands, rows = minhash_split(options)
        shingled = "tokens" if options.shingles == "tokens" else f"{options.q}-grams"
        text = input_text(name, options) + f", {shingled}, {bands} bands x {rows} rows"
        if options.bands is None:
            text += f" (min_similarity {options.threshold:g})"
        return text + budget_text(options)
