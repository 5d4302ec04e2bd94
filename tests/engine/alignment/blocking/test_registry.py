"""The registry of blocking rules: every worked example, descriptions, why a rule found nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from engine.alignment.blocking.registry import RULES, build, describe, is_group, why_no_pairs
from engine.registry import Example
from schemas.alignment import BLOCKINGS, BlockingRef
from tests.engine.alignment.blocking.contract import pairs_of

EXAMPLES = [(entry.name, example) for entry in RULES for example in entry.examples]


def _blocking(blocking: Any) -> Any:
    return TypeAdapter(BlockingRef).validate_python(blocking)


def test_every_rule_of_the_spec_language_is_registered_with_examples() -> None:
    assert RULES.names() == sorted(BLOCKINGS)
    for entry in RULES:
        assert entry.examples, f"blocking rule '{entry.name}' has no worked example"
        assert entry.doc, f"blocking rule '{entry.name}' has no docstring"


@pytest.mark.parametrize(
    ("name", "example"), EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EXAMPLES)]
)
def test_worked_example(name: str, example: Example) -> None:
    """The example's keys give exactly its pairs, and the rule's other answers agree."""
    align, target = example.args
    ref = _blocking({name: example.options})
    rule = build(ref, lambda _: (align, target))
    got = pairs_of(rule, chunk=2)
    assert got == sorted(set(got)), "each pair once, in order"
    assert got == example.expected
    assert rule.estimate() >= len(got)
    assert rule.label == describe(ref)
    ia = np.repeat(np.arange(len(align), dtype=np.int64), len(target))
    ib = np.tile(np.arange(len(target), dtype=np.int64), len(align))
    contained = rule.contains(ia, ib)
    found = set(example.expected)
    assert [(a, b) for a, b, c in zip(ia.tolist(), ib.tolist(), contained, strict=True) if c] == [
        pair for pair in zip(ia.tolist(), ib.tolist(), strict=True) if pair in found
    ]


def test_groups_are_the_rules_made_of_rules() -> None:
    assert [name for name in RULES.names() if is_group(name)] == ["pipeline", "union"]


@pytest.mark.parametrize(
    ("blocking", "text"),
    [
        ("none", "none (every align record meets every target record)"),
        ({"key": {"attribute": ["surname", "city"], "normalise": ["soundex"]}},
         "key on attributes surname,city (soundex)"),
        ({"key": {"align": "code", "target": "ref", "max_pairs": 5000}},
         "key on columns code/ref, max_pairs 5,000"),
        ({"sorted_neighbourhood": {"attribute": "name", "window": 7}},
         "sorted_neighbourhood on attribute name, window 7"),
        ({"qgram": {"attribute": "name", "q": 2, "padding": True}},
         "qgram on attribute name, 2-grams padded, min_common 1, max_block 10,000"),
        ({"minhash": {"attribute": "name", "min_similarity": 0.6}},
         "minhash on attribute name, tokens, 18 bands x 7 rows (min_similarity 0.6)"),
        ({"tfidf": {"attribute": "name", "top_k": 5, "min_similarity": 0.3, "max_df": 0.5}},
         "tfidf on attribute name, top 5 by char 2-3-gram cosine >= 0.3, max_df 0.5"),
        ({"radius": {"align": ["lat", "lon"], "radius": "3 km"}},
         "radius on columns lat,lon/lat,lon, within 3 km (haversine, latlon)"),
        ({"radius": {"align": ["lat", "lon"], "radius": "500 m", "coordinates": "lonlat"}},
         "radius on columns lat,lon/lat,lon, within 0.5 km (haversine, lonlat)"),
        ({"radius": {"attribute": "place", "radius": 0.5, "algorithm": "balltree"}},
         "radius on attribute place, within 0.5 (euclidean, balltree)"),
        ({"radius": {"attribute": "place", "radius": 0.5}},
         "radius on attribute place, within 0.5 (euclidean, kdtree)"),
        ({"kmeans": {"attribute": "place", "clusters": 1000, "coordinates": "lonlat"}},
         "kmeans on attribute place, 1,000 clusters, nearest 1 (coordinates lonlat)"),
        ({"union": [{"key": {"attribute": "name"}},
                    {"minhash": {"align": "name", "bands": 4, "rows": 2}}]},
         "union of: key on attribute name; minhash on columns name/name, tokens, 4 bands x 2 rows"),
        ({"pipeline": {"rules": [{"key": {"attribute": "zip"}},
                                 {"union": [{"key": {"attribute": "a"}},
                                            {"key": {"attribute": "b"}}]}],
                       "max_pairs": 100}},
         "pipeline: key on attribute zip; kept if (union of: key on attribute a;"
         " key on attribute b); max_pairs 100"),
    ],
)  # fmt: skip
def test_describe(blocking: Any, text: str) -> None:
    assert describe(_blocking(blocking)) == text


def test_why_no_pairs() -> None:
    assert why_no_pairs("key", ["Paris", None], [None, "PARIS"]) == (
        "the two sources share no key (align keys look like 'Paris', target keys look like 'PARIS')"
    )
    assert why_no_pairs("qgram", ["Paris"], [None, ""]) == (
        "every target record's blocking key is missing"
    )
    assert why_no_pairs("radius", [("48.85", "2.35")], [("2.35", "48.85")]) == (
        "no align point is within reach of a target point (align points look like (48.85, 2.35),"
        " target points look like (2.35, 48.85)); check the order of the coordinate columns on"
        " each side"
    )
    assert why_no_pairs("tfidf", ["abc"], ["xyz"]) == (
        "no align key comes close enough to a target key (align keys look like 'abc',"
        " target keys look like 'xyz')"
    )
