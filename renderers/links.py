"""The links handed to the writers, and their canonical order."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import numpy.typing as npt

__all__ = ["FloatArray", "LinkTable", "links_order", "sorted_links"]

FloatArray = npt.NDArray[np.float64]


# eq=False: the generated __eq__ would compare numpy arrays, whose truth value is
# ambiguous; tables are compared by their content in tests, never with ==.
@dataclass(frozen=True, eq=False)
class LinkTable:
    """Accepted links, one row per link, as parallel columns.

    ``align_ids`` and ``target_ids`` are the IRIs of the two linked records,
    ``distance`` the global distance of each link and ``attributes`` the
    per-attribute distances (NaN where a value was missing), in spec order;
    ``probability`` each link's match probability when a fitted model scored them.
    Array-likes are converted to float64 arrays; all columns must have one
    entry per link, else ``ValueError``.
    """

    align_ids: list[str]
    target_ids: list[str]
    distance: FloatArray
    attributes: dict[str, FloatArray] = field(default_factory=dict)
    probability: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.align_ids)
        # Frozen dataclass: coerce through object.__setattr__ so callers may pass lists.
        object.__setattr__(self, "align_ids", list(self.align_ids))
        object.__setattr__(self, "target_ids", list(self.target_ids))
        object.__setattr__(self, "distance", _column("distance", self.distance, n))
        object.__setattr__(
            self,
            "attributes",
            {name: _column(f"attribute {name!r}", col, n) for name, col in self.attributes.items()},
        )
        if self.probability is not None:
            object.__setattr__(self, "probability", _column("probability", self.probability, n))
        if len(self.target_ids) != n:
            raise ValueError(f"{len(self.target_ids)} target ids for {n} align ids")

    def __len__(self) -> int:
        return len(self.align_ids)

    def take(self, indices: npt.ArrayLike) -> LinkTable:
        """A new table with the rows at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.intp)
        return LinkTable(
            align_ids=[self.align_ids[i] for i in idx.tolist()],
            target_ids=[self.target_ids[i] for i in idx.tolist()],
            distance=self.distance[idx],
            attributes={name: col[idx] for name, col in self.attributes.items()},
            probability=None if self.probability is None else self.probability[idx],
        )


def _column(label: str, values: npt.ArrayLike, n: int) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"{label} has shape {array.shape}, expected ({n},)")
    return array


def sorted_links(table: LinkTable) -> LinkTable:
    """The links ordered by align id, then target id (code-point order).

    The order depends only on the content, not on the input order, so outputs
    regenerated from shuffled candidates are byte-identical and diff well in git.
    Duplicate (align, target) pairs, which upstream should not produce, are
    ordered by distance so that even they stay deterministic.
    """
    order = links_order(table)
    return table if order is None else table.take(order)


def links_order(table: LinkTable) -> list[int] | None:
    """The row order of :func:`sorted_links` (None: the rows are in that order already).

    For whoever keeps data beside the links (their records, say) in the same order.
    """
    align, target = table.align_ids, table.target_ids
    # NaN compares false with everything, which would make the order input-dependent.
    distance = np.where(np.isnan(table.distance), np.inf, table.distance)
    if _is_sorted(align, target, distance.tolist()):
        # The engine sorts once and every writer sorts again: make that repeat ~free.
        return None
    # Least significant key first, each sort stable. Python's sort keyed by
    # list.__getitem__ compares the str objects directly, without np.lexsort's
    # fixed-width unicode copy of millions of IRIs.
    order: list[int] = np.argsort(distance, kind="stable").tolist()
    order.sort(key=target.__getitem__)
    order.sort(key=align.__getitem__)
    return order


def _is_sorted(align: list[str], target: list[str], distance: list[float]) -> bool:
    """Whether the rows are already in (align, target, distance) order."""
    # Lazily pair each row with the next one: no copy of the columns.
    rows = zip(align, target, distance, strict=True)
    following = zip(
        islice(align, 1, None), islice(target, 1, None), islice(distance, 1, None), strict=True
    )
    return all(map(operator.le, rows, following))
