"""The rules on whole keys: none (the cross product) and key (equal keys)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine.alignment.blocking.keys import KeyRule, NoBlocking
from engine.alignment.normalise import normalise_column
from schemas.alignment import SoundexOptions
from schemas.base import Ref
from tests.engine.alignment.blocking.contract import (
    check,
    pairs_of,
    random_keys,
)


def test_no_blocking_is_the_cross_product() -> None:
    rule = NoBlocking(3, 4)
    got = pairs_of(rule, chunk=5)
    assert sorted(got) == [(i, j) for i in range(3) for j in range(4)]
    assert rule.estimate() == 12
    assert rule.contains(np.array([0]), np.array([3])).all()
    assert rule.warnings == []


@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_key_rule_pairs_equal_keys_only(chunk: int) -> None:
    rng = random.Random(1)
    a, b = random_keys(rng, 80), random_keys(rng, 90)
    rule = KeyRule(a, b)
    got = pairs_of(rule, chunk)
    expected = {
        (i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x is not None and x == y
    }
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    assert rule.estimate() == len(expected)
    ia = np.array([p[0] for p in got] + [0], dtype=np.int64)
    ib = np.array([p[1] for p in got] + [0], dtype=np.int64)
    contained = rule.contains(ia, ib)
    assert contained[:-1].all()
    assert contained[-1] == (a[0] is not None and a[0] == b[0])


def test_key_rule_contract() -> None:
    rng = random.Random(11)
    a, b = random_keys(rng, 40), random_keys(rng, 30)
    expected = {(i, j) for i, x in enumerate(a) for j, y in enumerate(b) if x and x == y}
    check(KeyRule(a, b), expected, 40, 30)


def test_key_rule_with_no_common_key() -> None:
    rule = KeyRule(["a", None], ["b", "c"])
    assert pairs_of(rule) == []
    assert rule.estimate() == 0


def test_phonetic_key_is_a_key_on_soundex_codes() -> None:
    chain = [Ref("soundex", SoundexOptions())]
    a = ["Robert", "Smith", None, "Tymczak", "Lee"]
    b = ["Rupert", "Smyth", "Tymczak", "Ashcraft", "Robert"]
    rule = KeyRule(normalise_column(a, chain), normalise_column(b, chain), label="phonetic")
    expected = {(0, 0), (0, 4), (1, 1), (3, 2)}
    check(rule, expected, len(a), len(b))


def test_a_giant_key_block_is_reported() -> None:
    a = ["same"] * 400 + ["x", None]
    b = ["same"] * 300 + ["y"]
    rule = KeyRule(a, b, label="key on attribute city")
    assert len(rule.warnings) == 1
    warning = rule.warnings[0]
    assert "key on attribute city" in warning and "'same'" in warning
    assert "400 x 300 = 120,000 pairs" in warning
    # Small blocks are not worth a warning, however large their share.
    assert KeyRule(["a", "a"], ["a"]).warnings == []
