"""The k-means rule: pairs of records in a common cluster of their points."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from engine.alignment.blocking.base import (
    BlockingValueError,
    Bools,
    Floats,
    Ints,
    Values,
    budget_text,
    input_text,
)
from engine.alignment.blocking.registry import RULES
from engine.alignment.blocking.spatial import point_rows, point_width, radians
from engine.alignment.blocking.tokens import SharedTokenRule, binary_matrix
from engine.registry import Example

__all__ = ["KMeansRule"]


@RULES.register(
    "kmeans",
    # Two clear clusters: each record meets the records of its own.
    Example(
        ([(0.0, 0.0), (10.0, 10.0), None], [(0.1, 0.0), (10.0, 10.1), (0.0, 0.2)]),
        [(0, 0), (0, 2), (1, 1)],
        {"align": ["x", "y"], "clusters": 2},
    ),
    # Coordinates on the sphere: Paris and Lyon records apart.
    Example(
        ([(48.8566, 2.3522), (45.7640, 4.8357)], [(45.7600, 4.8300), (48.8600, 2.3500)]),
        [(0, 1), (1, 0)],
        {"align": ["lat", "lon"], "clusters": 2, "coordinates": "latlon"},
    ),
)
class KMeansRule(SharedTokenRule):
    """Pairs of records in a common k-means cluster of their points.

    ``MiniBatchKMeans`` (fixed ``seed``) is fitted on both sides' points; each
    record joins its ``nearest`` closest centroids so that records near a
    boundary meet their neighbours on both sides of it. ``coordinates``
    (``latlon``/``lonlat``) clusters points on the unit sphere (euclidean
    distance there grows with the great-circle distance); else the values are
    numbers, used unscaled. ``clusters`` is capped at the number of distinct
    points. The estimate follows :class:`SharedTokenRule`; ``contains`` compares
    assignments.
    """

    points: ClassVar[bool] = True

    def __init__(
        self,
        align: Values,
        target: Values,
        *,
        clusters: int,
        nearest: int = 1,
        coordinates: str | None = None,
        seed: int = 0,
        label: str = "kmeans",
    ) -> None:
        fallback = 2 if coordinates is not None else point_width(align) or point_width(target) or 1
        pa, pb = point_rows(align, "align", fallback), point_rows(target, "target", fallback)
        if coordinates is not None:
            pa = sphere(radians(pa, coordinates, "align", align))
            pb = sphere(radians(pb, coordinates, "target", target))
        elif len(align) and len(target) and pa.shape[1] != pb.shape[1]:
            raise BlockingValueError(
                "target", 0, f"{pb.shape[1]} column(s) here, {pa.shape[1]} on the align side"
            )
        valid_a, valid_b = ~np.isnan(pa).any(axis=1), ~np.isnan(pb).any(axis=1)
        points = np.concatenate([pa[valid_a], pb[valid_b]])
        distinct = len(np.unique(points, axis=0)) if len(points) else 0
        k = min(clusters, distinct)
        notes: list[str] = []
        if 0 < k < clusters:
            notes.append(f"{label}: {clusters:,} clusters asked, {k:,} distinct points: {k:,} used")
        nearest = min(nearest, k)
        assign = np.full((max(nearest, 1), len(points)), -1, dtype=np.int64)
        centres = np.zeros((0, points.shape[1]))
        if k:
            from sklearn.cluster import MiniBatchKMeans
            from sklearn.neighbors import KDTree

            model = MiniBatchKMeans(
                n_clusters=k,
                random_state=seed,
                n_init=1,
                batch_size=min(4096, len(points)),
                compute_labels=False,
            )
            model.fit(points)
            centres = model.cluster_centers_
            # The nearest centroids of every point from a tree of the centroids: no
            # points x clusters distance matrix.
            chosen = KDTree(centres).query(points, k=nearest, return_distance=False)
            assign[:] = np.sort(chosen, axis=1).T
        self.assign_a = np.full((assign.shape[0], len(align)), -1, dtype=np.int64)
        self.assign_b = np.full((assign.shape[0], len(target)), -1, dtype=np.int64)
        self.assign_a[:, valid_a] = assign[:, : int(valid_a.sum())]
        self.assign_b[:, valid_b] = assign[:, int(valid_a.sum()) :]
        self.clusters, self.centres = k, centres

        def tokens(side: Ints) -> Any:
            valid = side[0] >= 0
            ptr = np.concatenate([[0], np.cumsum(np.where(valid, len(side), 0))]).astype(np.int64)
            return binary_matrix(ptr, side[:, valid].T.ravel(), k)

        def name(cluster: int) -> str:
            centre = centres[cluster]
            if coordinates is not None:
                lat = math.degrees(
                    math.asin(max(-1.0, min(1.0, centre[2] / np.linalg.norm(centre))))
                )
                lon = math.degrees(math.atan2(centre[1], centre[0]))
                return f"cluster {cluster} near lat {lat:.4f}, lon {lon:.4f}"
            return f"cluster {cluster} around {', '.join(f'{x:g}' for x in centre)}"

        super().__init__(
            tokens(self.assign_a), tokens(self.assign_b), label=label, what="cluster", name=name
        )
        self.warnings = notes + self.warnings

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for slot_a in self.assign_a:  # nearest x nearest comparisons, vectorised over pairs
            ka = slot_a[ia]
            for slot_b in self.assign_b:
                out |= (ka >= 0) & (ka == slot_b[ib])
        return out

    @classmethod
    def from_options(
        cls, name: str, options: Any, align: Values, target: Values, label: str
    ) -> KMeansRule:
        return cls(
            align,
            target,
            clusters=options.clusters,
            nearest=options.nearest,
            coordinates=options.coordinates,
            seed=options.seed,
            label=label,
        )

    @classmethod
    def describe(cls, name: str, options: Any) -> str:
        text = (
            input_text(name, options)
            + f", {options.clusters:,} clusters, nearest {options.nearest}"
        )
        if options.coordinates:
            text += f" (coordinates {options.coordinates})"
        return text + budget_text(options)


def sphere(latlon: Floats) -> Floats:
    """Unit vectors of ``[lat, lon]`` radians (NaN rows stay NaN)."""
    lat, lon = latlon[:, 0], latlon[:, 1]
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
