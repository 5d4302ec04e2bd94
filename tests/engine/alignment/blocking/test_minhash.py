"""MinHash LSH against band values computed naively, and its S-curve."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.alignment.blocking.minhash import MinHashRule, minhash_bands
from tests.engine.alignment.blocking.contract import (
    check,
    naive_qgrams,
    pairs_of,
    random_names,
)


def _fnv(text: str, q: int) -> int:
    h = 0xCBF29CE484222325
    for c in [ord(x) for x in text] + [0x1FFFFF] * (q - len(text)):
        h = ((h ^ c) * 0x100000001B3) % (1 << 64)
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def _naive_minhash_bands(
    keys: list[str | None], kind: str, q: int, bands: int, rows: int, seed: int
) -> list[list[tuple[int, ...]] | None]:
    """Band values of each key with Python integers (no numpy arithmetic)."""
    import hashlib

    p = (1 << 31) - 1
    rng = np.random.default_rng(seed)
    a = [int(x) for x in rng.integers(1, p, size=bands * rows, dtype=np.uint64)]
    b = [int(x) for x in rng.integers(0, p, size=bands * rows, dtype=np.uint64)]
    out: list[list[tuple[int, ...]] | None] = []
    for key in keys:
        if not key:
            out.append(None)
            continue
        if kind == "tokens":  # blake2b of the token's UTF-8
            hashes = [
                int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") % p
                for s in set(key.split())
            ]
        else:  # FNV-1a of the q-gram's code points, padded to q with 0x1FFFFF
            hashes = [_fnv(gram, q) % p for gram in naive_qgrams(key, q, False)]
        signature = [min((a[k] * h + b[k]) % p for h in hashes) for k in range(bands * rows)]
        out.append([tuple(signature[j * rows : (j + 1) * rows]) for j in range(bands)])
    return out


@pytest.mark.parametrize(("kind", "bands", "rows"), [("tokens", 4, 2), ("qgrams", 6, 3)])
def test_minhash_pairs_share_a_band_computed_naively(kind: str, bands: int, rows: int) -> None:
    rng = random.Random(bands)
    a, b = random_names(rng, 40), random_names(rng, 50)
    band_a = _naive_minhash_bands(a, kind, 3, bands, rows, seed=7)
    band_b = _naive_minhash_bands(b, kind, 3, bands, rows, seed=7)
    expected = {
        (i, j)
        for i, x in enumerate(band_a)
        for j, y in enumerate(band_b)
        if x is not None and y is not None and any(u == v for u, v in zip(x, y, strict=True))
    }
    rule = MinHashRule(a, b, kind=kind, q=3, bands=bands, rows=rows, seed=7)
    check(rule, expected, len(a), len(b))


def test_minhash_identical_shingle_sets_always_pair() -> None:
    rng = random.Random(4)
    a = random_names(rng, 60)
    # Same token sets in another order (and repeated tokens): identical shingle sets.
    b = [None if k is None else " ".join(reversed(k.split() + k.split()[:1])) for k in a]
    rule = MinHashRule(a, b, kind="tokens", bands=20, rows=5)
    got = set(pairs_of(rule))
    assert all((i, i) in got for i, k in enumerate(a) if k is not None)
    assert not any(i == j and a[i] is None for i, j in got)


@pytest.mark.parametrize("shared", [0, 10, 16])
def test_minhash_candidate_rate_follows_the_s_curve(shared: int) -> None:
    # Pairs of 20-token sets sharing `shared` tokens: Jaccard s = shared / (40 - shared).
    bands, rows, n = 10, 2, 300
    a = [" ".join(f"t{i}-{k}" for k in range(20)) for i in range(n)]
    b = [
        " ".join([f"t{i}-{k}" for k in range(shared)] + [f"u{i}-{k}" for k in range(20 - shared)])
        for i in range(n)
    ]
    rule = MinHashRule(a, b, kind="tokens", bands=bands, rows=rows, seed=11)
    index = np.arange(n, dtype=np.int64)
    rate = rule.contains(index, index).mean()
    s = shared / (40 - shared)
    assert abs(rate - (1 - (1 - s**rows) ** bands)) < 0.1


def test_minhash_is_deterministic_and_seeded() -> None:
    rng = random.Random(5)
    a, b = random_names(rng, 50), random_names(rng, 50)
    first = pairs_of(MinHashRule(a, b, kind="qgrams", bands=8, rows=2, seed=3))
    assert pairs_of(MinHashRule(a, b, kind="qgrams", bands=8, rows=2, seed=3)) == first


def test_minhash_bands_for_a_threshold() -> None:
    for threshold in (0.3, 0.5, 0.8):
        bands, rows = minhash_bands(threshold, 128)
        assert bands * rows <= 128
        # The S-curve's steepest point (1/b)^(1/r) sits near the threshold.
        assert abs((1 / bands) ** (1 / rows) - threshold) < 0.15
    assert minhash_bands(0.9, 1) == (1, 1)
