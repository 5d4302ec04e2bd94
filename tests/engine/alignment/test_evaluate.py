"""Evaluation against gold links: scores, gold files, blocking quality, threshold sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.alignment.blocking import KeyRule
from engine.alignment.evaluate import blocking_quality, read_gold, score, sweep
from engine.alignment.records import Records
from engine.errors import DataError


def _records(prefix: str, keys: list[str]) -> Records:
    return Records(
        source=f"{prefix} source",
        ids=[f"http://x/{prefix}/{k}" for k in keys],
        names=["key"],
        columns={"key": list(keys)},
        rows=np.arange(2, len(keys) + 2, dtype=np.int64),
    )


def test_scores() -> None:
    s = score(
        [("a", "1"), ("b", "2"), ("c", "9")], [("a", "1"), ("b", "2"), ("d", "4"), ("e", "5")]
    )
    assert (s.found, s.gold, s.true_positives) == (3, 4, 2)
    assert s.precision == pytest.approx(2 / 3) and s.recall == 0.5
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert score([], []).f1 == 1.0


def test_read_gold_by_iri_or_raw_key(tmp_path: Path) -> None:
    align, target = _records("a", ["k1", "k2", "k3"]), _records("t", ["m1", "m2"])
    gold = tmp_path / "gold.csv"
    gold.write_text("a,b\nk1,m2\nhttp://x/a/k2,http://x/t/m1\nk9,m1\n\n")
    template_a = {"template": "http://x/a/{key}"}
    template_t = {"template": "http://x/t/{key}"}
    result = read_gold(gold, align, target, template_a, template_t, dedup=False)
    assert sorted(zip(result.ia.tolist(), result.ib.tolist(), strict=True)) == [(0, 1), (1, 0)]
    assert result.unresolved == [(4, "k9")]


def test_read_gold_errors(tmp_path: Path) -> None:
    align = _records("a", ["k1"])
    with pytest.raises(DataError, match="no such gold file"):
        read_gold(tmp_path / "none.csv", align, align, "key", "key", dedup=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nonly-one\n")
    with pytest.raises(DataError, match=r"bad.csv:2: expected two ids"):
        read_gold(bad, align, align, "key", "key", dedup=True)


def test_blocking_quality_and_sweep(tmp_path: Path) -> None:
    align, target = _records("a", ["k1", "k2", "k3"]), _records("t", ["m1", "m2", "m3"])
    gold_file = tmp_path / "gold.csv"
    gold_file.write_text("a,b\nk1,m1\nk2,m2\nk3,m3\n")
    gold = read_gold(gold_file, align, target, {"template": "{key}"}, {"template": "{key}"}, False)
    rule = KeyRule(["x", "x", "y"], ["x", "z", "y"])  # keeps (0,0) and (2,2), misses (1,1)
    (quality,) = blocking_quality([("key", rule)], gold, 3, 3, dedup=False)
    assert quality.candidates == 3  # (0,0), (1,0), (2,2)
    assert quality.pair_completeness == pytest.approx(2 / 3)
    assert quality.reduction_ratio == pytest.approx(1 - 3 / 9)
    ia = np.array([0, 1, 2], dtype=np.int64)
    ib = np.array([0, 0, 2], dtype=np.int64)
    d = np.array([0.1, 0.5, 0.9])
    results = dict(sweep(ia, ib, d, gold, [0.2, 1.0], "all", 3, dedup=False))
    assert (results[0.2].found, results[0.2].true_positives) == (1, 1)
    assert (results[1.0].found, results[1.0].true_positives) == (3, 2)
