"""Metrics on numbers: scales."""

from __future__ import annotations

from engine.alignment.metrics import distance


def test_scale_caps_numeric_distances() -> None:
    assert distance("temporal", "2000-01-01", "2010-01-01", {"unit": "years", "scale": 5}) == 1.0
    assert distance("euclidean", "1", "2", {"scale": 4}) == 0.25
