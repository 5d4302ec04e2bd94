"""Evaluation against gold links: scores, gold files, blocking quality, threshold sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.alignment.blocking import KeyRule
from engine.alignment.evaluate import (
    blocking_quality,
    read_gold,
    score,
    sweep,
    sweep_reach,
    sweep_thresholds,
)
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


def test_a_header_only_gold_file_is_an_error(tmp_path: Path) -> None:
    # It used to give 0 gold links, hence "recall 1.0000".
    align = _records("a", ["k1"])
    gold = tmp_path / "gold.csv"
    gold.write_text("align,target\n\n")
    with pytest.raises(DataError, match=r"gold.csv: the gold file has no pairs"):
        read_gold(gold, align, align, "key", "key", dedup=True)


def test_gold_ids_naming_no_record_say_what_they_look_like(tmp_path: Path) -> None:
    # Raw codes against records whose ids are IRIs from a column (no template):
    # nothing resolves, which used to score recall 1.0000.
    align, target = _records("a", ["k1", "k2"]), _records("t", ["m1", "m2"])
    gold = tmp_path / "gold.csv"
    gold.write_text("a,t\nk1,m1\nk2,m2\n")
    with pytest.raises(DataError) as caught:
        read_gold(gold, align, target, "uri", "uri", dedup=False)
    error = caught.value
    assert error.source == str(gold)
    assert error.message.startswith("none of the 2 gold pairs names records of the sources: ")
    assert "align ids look like 'k1' (line 2) but the align records are IRIs like" in error.message
    assert "'http://x/a/k1'; write the records' IRIs" in error.message
    assert "target ids look like 'm1' (line 2)" in error.message


def test_gold_ids_against_a_template_suggest_its_raw_value(tmp_path: Path) -> None:
    align, target = _records("a", ["k1"]), _records("t", ["m1"])
    gold = tmp_path / "gold.csv"
    gold.write_text("a,t\nrec-1-org,m1\n")
    template_a = {"template": "http://x/a/{key}"}
    template_t = {"template": "http://x/t/{key}"}
    with pytest.raises(DataError) as caught:
        read_gold(gold, align, target, template_a, template_t, dedup=False)
    message = caught.value.message
    assert message.startswith("the gold pair names no records of the sources: align ids look")
    assert "write IRIs or the raw value of the id template's {key} ('k1')" in message
    assert "target ids" not in message  # 'm1' is a raw key of the target template: found


def test_gold_columns_swapped(tmp_path: Path) -> None:
    align, target = _records("a", ["k1"]), _records("t", ["m1"])
    gold = tmp_path / "gold.csv"
    gold.write_text("t,a\nhttp://x/t/m1,http://x/a/k1\n")
    with pytest.raises(DataError, match="its columns look swapped"):
        read_gold(gold, align, target, "uri", "uri", dedup=False)


def test_some_gold_ids_unknown_is_a_warning(tmp_path: Path) -> None:
    align, target = _records("a", ["k1", "k2"]), _records("t", ["m1", "m2"])
    gold = tmp_path / "gold.csv"
    gold.write_text("a,t\nhttp://x/a/k1,http://x/t/m1\nk9,http://x/t/m2\n")
    result = read_gold(gold, align, target, "uri", "uri", dedup=False)
    assert len(result.ia) == 1 and result.read == 2
    assert result.warning() == (
        f"1 of the 2 gold pairs in {gold} name records not in the sources (line 3: 'k9');"
        " they are left out of the scores"
    )


def test_a_sweep_goes_both_sides_of_the_threshold() -> None:
    none = np.zeros(0)
    assert sweep_reach(10, 0.5) == 1.0
    assert sweep_thresholds(4, 0.5, none) == [0.25, 0.5, 0.75, 1.0]
    # The spec's threshold is always among them, and no 0.30000000000000004.
    assert sweep_thresholds(3, 0.15, none) == [0.1, 0.15, 0.2, 0.3]
    # Given thresholds are taken as they are, whatever the spec's.
    assert sweep_reach([0.1, 3.0], 0.5) == 3.0
    assert sweep_thresholds([0.1, 3.0], 0.5, none) == [0.1, 3.0]
    # A threshold of 0: up to the largest finite candidate distance.
    assert sweep_reach(2, 0.0) == float("inf")
    assert sweep_thresholds(2, 0.0, np.array([0.5, 4.0, np.inf])) == [0.0, 2.0, 4.0]


def test_read_gold_from_sssom_expands_curies_and_skips_negated_mappings(tmp_path: Path) -> None:
    align, target = _records("a", ["k1", "k2", "k3"]), _records("t", ["m1", "m2", "m3"])
    gold = tmp_path / "gold.sssom.tsv"
    gold.write_text(
        "#curie_map:\n#  a: http://x/a/\n#  t: http://x/t/\n#mapping_set_id: urn:x\n"
        "subject_id\tpredicate_id\tobject_id\tpredicate_modifier\tmapping_justification\n"
        "a:k1\towl:sameAs\tt:m2\t\tsemapv:ManualMappingCuration\n"
        "http://x/a/k2\towl:sameAs\tt:m1\t\tsemapv:ManualMappingCuration\n"
        "a:k3\towl:sameAs\tt:m3\tNot\tsemapv:ManualMappingCuration\n"
        "a:k9\towl:sameAs\tt:m3\t\tsemapv:ManualMappingCuration\n"
    )
    result = read_gold(gold, align, target, "uri", "uri", dedup=False)
    assert sorted(zip(result.ia.tolist(), result.ib.tolist(), strict=True)) == [(0, 1), (1, 0)]
    assert result.unresolved == [(9, "http://x/a/k9")]  # its line in the file
