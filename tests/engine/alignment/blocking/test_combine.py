"""Groups of rules: a union yields each pair once, a pipeline refines its first rule."""

from __future__ import annotations

import random

from engine.alignment.blocking.combine import Pipeline, Union
from engine.alignment.blocking.keys import KeyRule
from engine.alignment.blocking.qgram import QGramRule
from engine.alignment.blocking.sorted_neighbourhood import SortedNeighbourhoodRule
from tests.engine.alignment.blocking.contract import (
    check,
    pairs_of,
    random_keys,
    random_names,
)


def test_union_yields_each_pair_once() -> None:
    rng = random.Random(5)
    a1, b1 = random_keys(rng, 60), random_keys(rng, 70)
    a2, b2 = random_keys(rng, 60), random_keys(rng, 70)
    r1, r2 = KeyRule(a1, b1), KeyRule(a2, b2)
    r3 = SortedNeighbourhoodRule(a1, b2, window=4)
    union = Union([r1, r2, r3])
    got = pairs_of(union, chunk=13)
    expected = set(pairs_of(r1)) | set(pairs_of(r2)) | set(pairs_of(r3))
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert union.estimate() >= len(expected)


def test_pipeline_refines_the_first_rule() -> None:
    rng = random.Random(6)
    n_a, n_b = 50, 60
    zone_a, zone_b = random_keys(rng, n_a), random_keys(rng, n_b)
    name_a, name_b = random_names(rng, n_a), random_names(rng, n_b)
    key, gram = KeyRule(zone_a, zone_b), QGramRule(name_a, name_b, q=3, min_common=2)
    expected = set(pairs_of(key)) & set(pairs_of(gram))
    rule = Pipeline([key, gram])
    check(rule, expected, n_a, n_b, exact=False)
    assert rule.estimate() == min(key.estimate(), gram.estimate())


def test_groups_nest() -> None:
    rng = random.Random(7)
    n_a, n_b = 40, 45
    zone_a, zone_b = random_keys(rng, n_a), random_keys(rng, n_b)
    other_a, other_b = random_keys(rng, n_a), random_keys(rng, n_b)
    name_a, name_b = random_names(rng, n_a), random_names(rng, n_b)
    k1, k2 = KeyRule(zone_a, zone_b), KeyRule(other_a, other_b)
    gram = QGramRule(name_a, name_b, q=2, min_common=3)
    s1, s2, s3 = set(pairs_of(k1)), set(pairs_of(k2)), set(pairs_of(gram))
    # A union inside a pipeline: (k1 or k2) and gram.
    inner = Pipeline([Union([k1, k2]), gram])
    check(inner, (s1 | s2) & s3, n_a, n_b, exact=False)
    # A pipeline inside a union: k2 or (k1 and gram).
    outer = Union([k2, Pipeline([k1, gram])])
    check(outer, s2 | (s1 & s3), n_a, n_b, exact=False)
    assert outer.warnings == [] and inner.label == "pipeline"


def test_group_warnings_gather_their_rules() -> None:
    giant = KeyRule(["x"] * 500, ["x"] * 400, label="giant key")
    rule = Pipeline([Union([KeyRule(["a"], ["a"]), giant]), KeyRule(["x"] * 500, ["x"] * 400)])
    assert len(rule.warnings) == 2 and rule.warnings[0].startswith("giant key:")
