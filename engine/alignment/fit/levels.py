"""Comparison levels: each attribute's distance cut into a few ordered levels.

Level 0 is the closest (``d <= cuts[0]``, usually exact agreement), level
``k`` holds ``cuts[k-1] < d <= cuts[k]``, and the last level everything
further than the last cut. A missing value (a NaN distance) is level
:data:`MISSING`: it is evidence neither for nor against a match.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["MISSING", "cut", "default_cuts", "level_names"]

#: The level of a pair whose value is missing on either side.
MISSING = -1

Floats = npt.NDArray[np.float64]
Levels = npt.NDArray[np.int8]

#: Default cut points per metric (distances): exact, close, far.
_CUTS: dict[str, tuple[float, ...]] = {
    "exact": (0.0,),
    "jaro_winkler": (0.0, 0.08, 0.16),
    "jaro": (0.0, 0.1, 0.2),
}
#: Bounded metrics (distances in [0, 1]) without an entry above.
_BOUNDED = (0.0, 0.15, 0.3)
#: Unbounded metrics (numbers, dates, places): equal, or not.
_UNBOUNDED = (0.0,)


def default_cuts(metric: str, bounded: bool) -> tuple[float, ...]:
    """The cut points used when a spec gives none for an attribute."""
    if metric in _CUTS:
        return _CUTS[metric]
    return _BOUNDED if bounded else _UNBOUNDED


def cut(distances: Floats, cuts: Sequence[float]) -> Levels:
    """Each distance's level (0 = closest, ``len(cuts)`` = beyond the last cut, NaN = MISSING)."""
    d = np.asarray(distances, dtype=np.float64)
    # A tolerance so that a distance computed as 0.1500000001 still counts as 0.15.
    edges = np.asarray(cuts, dtype=np.float64) + 1e-9
    levels = np.searchsorted(edges, d, side="left").astype(np.int8)
    levels[np.isnan(d)] = MISSING
    return levels


def level_names(cuts: Sequence[float]) -> list[str]:
    """Readable names of the levels of ``cuts``: ``exact``, ``<= 0.1``..., ``> 0.3``."""
    names = []
    for k, c in enumerate(cuts):
        names.append("exact" if k == 0 and c == 0 else f"<= {c:g}")
    names.append(f"> {cuts[-1]:g}" if cuts else "any")
    return names
