"""Rules on points within a radius, against brute-force haversine and euclidean distances."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from engine.alignment.blocking.base import BlockingValueError
from engine.alignment.blocking.spatial import EARTH_RADIUS_KM, RadiusRule
from tests.engine.alignment.blocking.contract import (
    check,
    pairs_of,
)


def _haversine_km(p: tuple[float, float], r: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*p, *r))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, h)))


def _places(rng: random.Random, n: int) -> list[tuple[str, str] | None]:
    return [
        None if rng.random() < 0.05 else (f"{rng.uniform(43, 46):.5f}", f"{rng.uniform(3, 7):.5f}")
        for _ in range(n)
    ]


@pytest.mark.parametrize("name", ["kdtree", "balltree"])
def test_radius_km_against_brute_force_haversine(name: str) -> None:
    rng = random.Random(21)
    a, b = _places(rng, 120), _places(rng, 150)
    radius = 25.0
    expected = {
        (i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
        if x is not None
        and y is not None
        and _haversine_km((float(x[0]), float(x[1])), (float(y[0]), float(y[1]))) <= radius
    }
    assert 0 < len(expected) < len(a) * len(b) / 4
    rule = RadiusRule(a, b, radius_km=radius, tree=name)
    got = check(rule, expected, len(a), len(b))
    assert got == sorted(got)
    # The same points as long/lat pairs give the same pairs.
    swap = [None if p is None else (p[1], p[0]) for p in a]
    swap_b = [None if p is None else (p[1], p[0]) for p in b]
    assert pairs_of(RadiusRule(swap, swap_b, radius_km=radius, order="lonlat")) == got


@pytest.mark.parametrize("name", ["kdtree", "balltree"])
def test_radius_on_numbers_against_brute_force_euclidean(name: str) -> None:
    rng = random.Random(22)
    a = [tuple(rng.uniform(0, 10) for _ in range(3)) for _ in range(80)] + [None]
    b = [tuple(rng.uniform(0, 10) for _ in range(3)) for _ in range(90)]
    expected = {
        (i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
        if x is not None and y is not None and math.dist(x, y) <= 2.0
    }
    check(RadiusRule(a, b, radius=2.0, tree=name), expected, len(a), len(b))


def test_radius_on_one_numeric_column() -> None:
    a = ["1.0", "5", None, "10"]
    b = ["1.5", "4.0", "9.9", "20"]
    expected = {(0, 0), (1, 1), (3, 2)}
    check(RadiusRule(a, b, radius=1.0), expected, 4, 4)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("95", "2.3"), "latitude 95 is outside [-90, 90]"),
        (("45", "-190"), "longitude -190 is outside [-180, 180]"),
        (("north", "2.3"), "not a number: ('north', '2.3')"),
        (("45", "2", "7"), "expected 2 values"),
    ],
)
def test_bad_coordinates_name_the_value(value: tuple[str, ...], message: str) -> None:
    good: list[Any] = [("45", "2")] * 3
    with pytest.raises(BlockingValueError) as caught:
        RadiusRule(good, [good[0], value], radius_km=10)
    assert caught.value.side == "target"
    assert caught.value.index == 1
    assert message in caught.value.message
    with pytest.raises(BlockingValueError, match="coordinates need two columns"):
        RadiusRule(["45", "46"], ["45"], radius_km=10)


@pytest.mark.parametrize("empty", [[], [None, None]], ids=["no record", "no value"])
def test_a_side_without_points_pairs_with_nothing(empty: list[Any]) -> None:
    # Not "coordinates need two columns, found 1": an empty source has no columns to count.
    points: list[Any] = [("48.85", "2.35"), ("45.76", "4.83")]
    numbers: list[Any] = [("1", "2"), ("3", "4")]
    rules = [
        RadiusRule(points, empty, radius_km=10),
        RadiusRule(empty, points, radius_km=10, tree="balltree"),
        RadiusRule(numbers, empty, radius=1.0),
        RadiusRule(empty, numbers, radius=1.0),
    ]
    for rule in rules:
        assert rule.estimate() == 0
        assert pairs_of(rule) == []
