"""Metrics on numbers: euclidean, geographic (haversine) and temporal (days apart)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.metrics.base import METRICS, Bad, Value, scalar_strings
from engine.alignment.normalise import NORMALISERS as _NORMALISERS
from engine.alignment.normalise import NormaliseError
from engine.registry import Example

__all__ = ["EuclideanMetric", "GeographicMetric", "TemporalMetric", "haversine_distance"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def _problem(bad: Bad, index: int, value: Value, message: str) -> None:
    if bad is None:
        raise NormaliseError(index, str(value), message)
    bad.append((index, message))


def _numbers(values: Sequence[Value], width: int | None, what: str, bad: Bad = None) -> Floats:
    """Values (strings or tuples of strings) as a float matrix, NaN rows where missing."""
    k = width or next((len(v) if isinstance(v, tuple) else 1 for v in values if v is not None), 1)
    out = np.full((len(values), k), np.nan)
    for index, value in enumerate(values):
        if value is None:
            continue
        row = value if isinstance(value, tuple) else (value,)
        if len(row) != k:
            _problem(bad, index, value, f"expected {k} values for {what}, found {len(row)}")
            continue
        if any(x is None for x in row):
            continue
        try:
            numbers = [float(x) for x in row]  # type: ignore[arg-type]
        except ValueError:
            _problem(bad, index, value, f"not a number: {value!r}")
            continue
        if not all(math.isfinite(x) for x in numbers):
            _problem(bad, index, value, f"not a finite number: {value!r}")
            continue
        out[index] = numbers
    return out


def _scaled(d: Floats, options: Any) -> Floats:
    scale = getattr(options, "scale", None)
    return d if scale is None else np.minimum(d / scale, 1.0)


@METRICS.register(
    "euclidean",
    Example(("3", "5"), 2.0),
    Example((("0", "0"), ("3", "4")), 5.0),
    Example(("10", "30"), 1.0, {"scale": 10}),
)
class EuclideanMetric:
    """Euclidean distance between numbers or tuples of numbers (``scale`` bounds it)."""

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> Floats:
        return _numbers(values, None, "euclidean", bad)

    def compute(self, a: Floats, b: Floats, ia: Ints, ib: Ints, options: Any) -> Floats:
        if a.shape[1] != b.shape[1]:
            raise ValueError(
                f"euclidean: {a.shape[1]} columns on one side, {b.shape[1]} on the other"
            )
        d: Floats = np.sqrt(((a[ia] - b[ib]) ** 2).sum(axis=1))
        return _scaled(d, options)

    def block(
        self, a: Floats, b: Floats, rows_a: Ints, rows_b: Ints, options: Any
    ) -> Floats | None:
        if a.shape[1] != b.shape[1]:
            return None  # compute() reports the mismatch
        diff = a[rows_a][:, None, :] - b[rows_b][None, :, :]
        d: Floats = np.sqrt((diff**2).sum(axis=2))
        return _scaled(d, options)

    def bounded(self, options: Any) -> bool:
        return getattr(options, "scale", None) is not None


_EARTH_RADIUS_KM = 6371.0088


def haversine_distance(root: Floats, options: Any) -> Floats:
    """The distance (km or m, scaled) from ``sqrt(h)``, h the haversine of the angle.

    The compiled kernel (``engine.alignment.kernel``) computes ``sqrt(h)`` as
    this metric does and finishes here: numpy's ``arcsin`` is not the C library's
    to the last bit.
    """
    km = 2 * _EARTH_RADIUS_KM * np.arcsin(root)
    return _scaled(km if options.units == "km" else km * 1000.0, options)


@METRICS.register(
    "geographic",
    Example((("48.8566", "2.3522"), ("45.7640", "4.8357")), 391.5, {}),
    Example((("2.3522", "48.8566"), ("2.3522", "48.8566")), 0.0, {"order": "lonlat"}),
)
class GeographicMetric:
    """Great-circle (haversine) distance between two points, in km or m."""

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> Floats:
        points = _numbers(values, 2, "a point (two columns)", bad)
        if options.order == "lonlat":
            points = points[:, ::-1]
        lat, lon = points[:, 0], points[:, 1]
        with np.errstate(invalid="ignore"):
            outside = (np.abs(lat) > 90) | (np.abs(lon) > 180)
        for index in np.flatnonzero(outside).tolist():
            _problem(
                bad,
                index,
                values[index],
                f"not a {options.order} point (latitude within ±90, longitude within ±180):"
                f" {values[index]!r}",
            )
        points[outside] = np.nan
        return np.radians(points)

    def compute(self, a: Floats, b: Floats, ia: Ints, ib: Ints, options: Any) -> Floats:
        lat1, lon1 = a[ia, 0], a[ia, 1]
        lat2, lon2 = b[ib, 0], b[ib, 1]
        h = (
            np.sin((lat2 - lat1) / 2) ** 2
            + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
        )
        return haversine_distance(np.sqrt(np.clip(h, 0.0, 1.0)), options)

    def block(self, a: Floats, b: Floats, rows_a: Ints, rows_b: Ints, options: Any) -> Floats:
        lat1, lon1 = a[rows_a, 0][:, None], a[rows_a, 1][:, None]
        lat2, lon2 = b[rows_b, 0][None, :], b[rows_b, 1][None, :]
        h = (
            np.sin((lat2 - lat1) / 2) ** 2
            + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
        )
        return haversine_distance(np.sqrt(np.clip(h, 0.0, 1.0)), options)

    def bounded(self, options: Any) -> bool:
        return getattr(options, "scale", None) is not None


_UNIT_DAYS = {"days": 1.0, "months": 30.5, "years": 365.25}  # Nazca's factors


@METRICS.register(
    "temporal",
    Example(("14-08-1991", "18/04/1881"), 40294, {"dayfirst": True}),
    Example(("14-08-1991", "01-12-2012"), 7780, {"dayfirst": True}),
    Example(("2000-01-01", "2001-01-01"), 366 / 365.25, {"unit": "years"}),
)
class TemporalMetric:
    """Distance between two dates in days, months (30.5 days) or years (365.25 days)."""

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> Floats:
        parse = _NORMALISERS["date"].func
        cache: dict[str, float | str] = {}  # a day number, or the reason it failed
        out = np.full(len(values), np.nan)
        for index, v in enumerate(scalar_strings(values, "temporal")):
            if v is None:
                continue
            day = cache.get(v)
            if day is None:
                try:
                    iso = parse(v, options)
                    day = float(date.fromisoformat(iso).toordinal()) if iso else math.nan
                except ValueError as exc:
                    day = str(exc)
                cache[v] = day
            if isinstance(day, str):
                _problem(bad, index, v, day)
            else:
                out[index] = day
        return out

    def compute(self, a: Floats, b: Floats, ia: Ints, ib: Ints, options: Any) -> Floats:
        d = np.abs(a[ia] - b[ib]) / _UNIT_DAYS[options.unit]
        return _scaled(d, options)

    def block(self, a: Floats, b: Floats, rows_a: Ints, rows_b: Ints, options: Any) -> Floats:
        d = np.abs(a[rows_a][:, None] - b[rows_b][None, :]) / _UNIT_DAYS[options.unit]
        return _scaled(d, options)

    def bounded(self, options: Any) -> bool:
        return getattr(options, "scale", None) is not None
