"""Rules on points: pairs within a radius, found with a space-partitioning tree.

Also the helpers every rule on points shares: values as rows of numbers, and
coordinates as radians.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from engine.alignment.blocking.base import (
    DEFAULT_CHUNK,
    BlockingValueError,
    Bools,
    Floats,
    Ints,
    RuleKind,
    Values,
    budget_text,
    input_text,
    slices,
)
from engine.alignment.blocking.registry import RULES
from engine.registry import Example

__all__ = ["EARTH_RADIUS_KM", "RadiusRule", "point_rows", "point_width", "radians"]

#: Mean Earth radius (km), as the geographic metric uses.
EARTH_RADIUS_KM = 6371.0088


def point_width(values: Values) -> int | None:
    """Numbers per value, from the first value present (None: no value at all)."""
    for v in values:
        if v is not None:
            return len(v) if isinstance(v, tuple | list) else 1
    return None


def point_rows(values: Values, side: str, fallback: int = 1) -> Floats:
    """Values (numbers or tuples of them, possibly as strings) as rows; NaN rows where missing.

    A side without any value (an empty source, a column missing everywhere) has
    ``fallback`` columns: the width the other side or the rule expects, so that
    it pairs with nothing instead of failing on its shape.
    """
    width = point_width(values) or fallback
    out = np.full((len(values), width), np.nan)
    present = np.array([v is not None for v in values], dtype=bool)
    try:  # the common case at numpy's speed; the loop below finds what is wrong
        rows = np.array([v for v in values if v is not None], dtype=np.float64)
        rows = rows.reshape(len(rows), -1)
        if rows.shape[1] == width and np.isfinite(rows).all():
            out[present] = rows
            return out
    except (TypeError, ValueError):
        pass
    for index, v in enumerate(values):  # a loop per record, not per pair
        if v is None:
            continue
        row = tuple(v) if isinstance(v, tuple | list) else (v,)
        if len(row) != width:
            raise BlockingValueError(side, index, f"expected {width} values, found {row!r}")
        if any(x is None for x in row):
            continue
        try:
            out[index] = [float(x) for x in row]
        except (TypeError, ValueError):
            raise BlockingValueError(side, index, f"not a number: {v!r}") from None
        if not np.isfinite(out[index]).all():
            raise BlockingValueError(side, index, f"not a finite number: {v!r}")
    return out


def radians(points: Floats, order: str, side: str, values: Values) -> Floats:
    """``[lat, lon]`` in radians from points in ``order``; out-of-range values are errors."""
    if points.shape[1] != 2:
        raise BlockingValueError(
            side, 0, f"coordinates need two columns ({order}), found {points.shape[1]}"
        )
    if order == "lonlat":
        points = points[:, ::-1]
    lat, lon = points[:, 0], points[:, 1]
    with np.errstate(invalid="ignore"):
        bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        what = "latitude" if abs(lat[index]) > 90 else "longitude"
        limit = 90 if what == "latitude" else 180
        value = lat[index] if what == "latitude" else lon[index]
        raise BlockingValueError(
            side,
            index,
            f"{what} {value:g} is outside [-{limit}, {limit}] in {values[index]!r} ({order})",
        )
    return np.radians(points)


def haversine(a: Floats, b: Floats) -> Floats:
    """Central angle (radians) between rows of ``[lat, lon]`` radians."""
    h = (
        np.sin((b[:, 0] - a[:, 0]) / 2) ** 2
        + np.cos(a[:, 0]) * np.cos(b[:, 0]) * np.sin((b[:, 1] - a[:, 1]) / 2) ** 2
    )
    out: Floats = 2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


@RULES.register(
    "radius",
    # Euclidean on numbers (a KD tree): a distance of exactly the radius is in.
    Example(
        ([(0.0, 0.0), (5.0, 5.0), None], [(0.5, 0.0), (5.0, 6.0), (10.0, 10.0)]),
        [(0, 0), (1, 1)],
        {"align": ["x", "y"], "radius": 1},
    ),
    # The same on a ball tree, numbers written as text.
    Example(
        (["1.0", "2.0"], ["1.4", "3.5", None]),
        [(0, 0)],
        {"align": "x", "radius": 0.5, "algorithm": "balltree"},
    ),
    # Haversine on coordinates: Paris meets the point 400 m away, not Marseille.
    Example(
        ([(48.8566, 2.3522), (45.7640, 4.8357)], [(48.8600, 2.3500), (43.2965, 5.3698)]),
        [(0, 0)],
        {"align": ["lat", "lon"], "radius": "1 km"},
    ),
    # Coordinates as longitude, latitude; the radius in metres.
    Example(
        ([(2.3522, 48.8566)], [(2.3500, 48.8600), (5.3698, 43.2965)]),
        [(0, 0)],
        {"align": ["lon", "lat"], "radius": "500 m", "coordinates": "lonlat"},
    ),
)
class RadiusRule(RuleKind):
    """Pairs of points within a radius, found by querying a tree of the target points.

    With a length (``radius: 3 km``) the values are coordinates (``coordinates``)
    and the distance is haversine (on radians; the kd-tree, scipy's, holds
    the points as unit vectors and is asked for the chord of the radius;
    ``algorithm: balltree`` uses sklearn's ball tree, ``metric="haversine"``);
    with a number they are numbers (one or more columns) and the distance is
    euclidean (``algorithm``: ``kdtree``, the default, scipy's, or
    ``balltree``, sklearn's, whose import costs about a second). Align points query the tree a chunk at a time; the tree's
    answers (with a radius a hair larger) are filtered by the same vectorised
    distance ``contains`` uses, so both always agree.
    The estimate counts the tree's answers (``count_only``): exact but for
    points within rounding of the radius. The tree is built on first use.
    """

    points: ClassVar[bool] = True

    def __init__(
        self,
        align: Values,
        target: Values,
        *,
        radius: float | None = None,
        radius_km: float | None = None,
        order: str = "latlon",
        tree: str = "kdtree",
        label: str = "radius",
    ) -> None:
        if (radius is None) == (radius_km is None):
            raise ValueError("give either radius or radius_km")
        self.label = label
        self.warnings: list[str] = []
        self.geographic = radius_km is not None
        fallback = 2 if self.geographic else point_width(align) or point_width(target) or 1
        pa, pb = point_rows(align, "align", fallback), point_rows(target, "target", fallback)
        if self.geographic:
            pa = radians(pa, order, "align", align)
            pb = radians(pb, order, "target", target)
            self.radius = float(radius_km or 0.0) / EARTH_RADIUS_KM
        else:
            self.radius = float(radius or 0.0)
            if len(align) and len(target) and pa.shape[1] != pb.shape[1]:
                raise BlockingValueError(
                    "target", 0, f"{pb.shape[1]} column(s) here, {pa.shape[1]} on the align side"
                )
        self.pa, self.pb, self.tree_kind = pa, pb, tree
        self.rows_a = np.flatnonzero(~np.isnan(pa).any(axis=1)).astype(np.int64)
        self.rows_b = np.flatnonzero(~np.isnan(pb).any(axis=1)).astype(np.int64)
        self._tree: Any = None
        self._counts: Ints | None = None

    def _query_radius(self) -> float:
        if self.geographic and self.tree_kind != "balltree":
            # The chord of the radius's central angle, on unit vectors (scipy's kd-tree).
            return 2 * math.sin(min(self.radius, math.pi) / 2) * (1 + 1e-9) + 1e-12
        return self.radius * (1 + 1e-9) + 1e-12

    def _queries(self, points: Floats) -> Floats:
        """Points as the tree takes them: unit vectors for coordinates on a kd-tree."""
        if self.geographic and self.tree_kind != "balltree":
            lat, lon = points[:, 0], points[:, 1]
            return np.column_stack(
                (np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat))
            )
        return points

    def _index(self) -> Any:
        if self._tree is None:
            points = self._queries(self.pb[self.rows_b])
            if self.tree_kind == "balltree":
                # sklearn's import costs about a second (it loads scipy.stats): only here.
                from sklearn.neighbors import BallTree

                self._tree = BallTree(
                    points, metric="haversine" if self.geographic else "euclidean"
                )
            else:
                from scipy.spatial import cKDTree

                self._tree = cKDTree(points)
        return self._tree

    def _query(self, rows: Ints, count_only: bool = False) -> Any:
        points = self._queries(self.pa[rows])
        if self.tree_kind == "balltree":
            return self._index().query_radius(points, self._query_radius(), count_only=count_only)
        if count_only:
            return self._index().query_ball_point(points, self._query_radius(), return_length=True)
        # Sorted neighbours: rows_b rises, so each align row's pairs come out in order.
        return self._index().query_ball_point(points, self._query_radius(), return_sorted=True)

    def _count(self) -> Ints:
        if self._counts is None:
            if not len(self.rows_a) or not len(self.rows_b):
                self._counts = np.zeros(len(self.rows_a), dtype=np.int64)
            else:
                self._counts = np.asarray(self._query(self.rows_a, True), dtype=np.int64)
        return self._counts

    def _distance(self, ia: Ints, ib: Ints) -> Floats:
        a, b = self.pa[ia], self.pb[ib]
        if self.geographic:
            return haversine(a, b)
        d: Floats = np.sqrt(((a - b) ** 2).sum(axis=1))
        return d

    def estimate(self) -> int:
        return int(self._count().sum())

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        counts = self._count()
        some = counts > 0
        rows, counts = self.rows_a[some], counts[some]
        for start, stop in slices(counts, chunk):
            selected = rows[start:stop]
            found = self._query(selected)
            lengths = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
            ia = np.repeat(selected, lengths)
            ib = self.rows_b[np.concatenate(found).astype(np.int64)]
            keep = self._distance(ia, ib) <= self.radius
            ia, ib = ia[keep], ib[keep]
            if self.tree_kind == "balltree":  # sklearn's answers come unsorted
                order = np.lexsort((ib, ia))
                ia, ib = ia[order], ib[order]
            if len(ia):
                yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        with np.errstate(invalid="ignore"):
            result: Bools = self._distance(ia, ib) <= self.radius  # NaN (missing) -> False
        return result

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> RadiusRule:
        return cls(
            align,
            target,
            radius=None if options.radius_km is not None else options.radius,
            radius_km=options.radius_km,
            order=options.order,
            tree=options.tree,
            label=label,
        )

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        if options.radius_km is not None:
            reach = f", within {options.radius_km:g} km (haversine, {options.order})"
        else:
            reach = f", within {options.radius:g} (euclidean, {options.tree})"
        return input_text(name, options) + reach + budget_text(options)

    @classmethod
    def no_pairs(cls, looks: str) -> str:
        return (
            f"no align point is within reach of a target point ({looks});"
            " check the order of the coordinate columns on each side"
        )
