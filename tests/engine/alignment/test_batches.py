"""Work for the compare stage: whole blocks and loose pairs, each candidate pair once."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.alignment.batches import SMALL_BLOCK, TILE, batches
from engine.alignment.blocking import KeyRule, Union


def _pairs(rule: object, chunk: int, dedup: bool = False) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for batch in batches(rule, chunk, dedup=dedup):  # type: ignore[arg-type]
        for block in batch.blocks:
            keep = np.ones((len(block.rows_a), len(block.rows_b)), bool)
            if block.keep is not None:
                assert block.keep.shape == keep.shape and block.keep.any()
                keep = block.keep
            out += [
                (int(block.rows_a[i]), int(block.rows_b[j]))
                for i, j in zip(*np.nonzero(keep), strict=True)
                if not dedup or block.rows_a[i] < block.rows_b[j]
            ]
        out += list(zip(batch.ia.tolist(), batch.ib.tolist(), strict=True))
    return out


def _keys(rng: random.Random, n: int, alphabet: str) -> list[str | None]:
    # Few distinct keys: blocks large enough to travel whole, and small ones as pairs.
    return [None if rng.random() < 0.1 else rng.choice(alphabet) for _ in range(n)]


@pytest.mark.parametrize("chunk", [5, 300, 1 << 20])
def test_a_union_yields_each_pair_of_any_rule_once(chunk: int) -> None:
    rng = random.Random(7)
    n_a, n_b = 120, 150
    sides = [
        (_keys(rng, n_a, alphabet), _keys(rng, n_b, alphabet))
        for alphabet in ("ab", "abcdefghijklmnopqrst", "xyz")
    ]
    rules = [KeyRule(a, b) for a, b in sides]
    expected = {
        (i, j)
        for a, b in sides
        for i in range(n_a)
        for j in range(n_b)
        if a[i] is not None and a[i] == b[j]
    }
    got = _pairs(Union(rules), chunk)
    assert len(got) == len(set(got))
    assert set(got) == expected
    # Some blocks of later rules were masked, some dropped whole.
    sizes = {
        len(b.rows_a) * len(b.rows_b)
        for batch in batches(Union(rules), chunk)
        for b in batch.blocks
    }
    assert min(sizes) >= SMALL_BLOCK


def test_a_deduplicating_union_yields_each_unordered_pair_once() -> None:
    rng = random.Random(8)
    first, second = _keys(rng, 200, "abc"), _keys(rng, 200, "abcdefghij")
    rules = [KeyRule(first, first), KeyRule(second, second)]
    expected = {
        (i, j)
        for keys in (first, second)
        for i in range(200)
        for j in range(i + 1, 200)
        if keys[i] is not None and keys[i] == keys[j]
    }
    got = _pairs(Union(rules), 1000, dedup=True)
    assert len(got) == len(set(got)) and set(got) == expected


def test_a_block_over_a_tile_is_cut_into_row_tiles() -> None:
    n = 1100  # 1100 x 1100 cells: more than one tile of TILE cells
    rule = KeyRule(["k"] * n, ["k"] * n)
    blocks = [b for batch in batches(rule, 1 << 22) for b in batch.blocks]
    assert len(blocks) == -(-n * n // ((TILE // n) * n))
    assert all(b.cells <= TILE for b in blocks)
    assert np.concatenate([b.rows_a for b in blocks]).tolist() == list(range(n))
