"""A curation's must-links as compared pairs, for the match step.

Apart from :mod:`engine.alignment.curation` (reading curated SSSOM files) because it
needs the run's state, which itself holds the curation read.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.alignment.curation import Curation, pair_keys
from engine.alignment.state import AlignmentState, Pairs

__all__ = ["curated_pairs"]

Ints = npt.NDArray[np.int64]


def curated_pairs(state: AlignmentState, curation: Curation) -> Pairs:
    """The must-links as pairs with their distances: those compared, else compared now.

    A must-link the blocking never proposed (or that lay beyond the near-misses)
    is compared here, so its outputs show its real scores.
    """
    ma, mb = curation.arrays("must")
    width = max(len(state.records("target")), 1)
    keys = pair_keys(ma, mb, width)
    total = np.full(len(ma), np.nan)
    names = [a.name for a in state.spec.attributes]
    distances = {name: np.full(len(ma), np.nan) for name in names}
    for known in (state.pairs, state.near):
        if known is None or not len(known):
            continue
        known_keys = pair_keys(known.ia, known.ib, width)
        order = np.argsort(known_keys, kind="stable")
        at = np.searchsorted(known_keys[order], keys)
        at = np.minimum(at, len(order) - 1)
        hit = (known_keys[order][at] == keys) & np.isnan(total)
        where = order[at[hit]]
        total[hit] = known.total[where]
        for name in names:
            if name in known.distances:
                distances[name][hit] = known.distances[name][where]
    missing = np.flatnonzero(np.isnan(total))
    if len(missing):
        compared = _compare(state, ma[missing], mb[missing])
        total[missing] = compared.total
        for name in names:
            distances[name][missing] = compared.distances[name]
    return Pairs(ma, mb, total, distances)


def _compare(state: AlignmentState, ia: Ints, ib: Ints) -> Pairs:
    """Each pair's global distance (or 1 - its model probability) and distances per attribute."""
    from engine.alignment.compare import compare_chunk, compare_task
    from engine.alignment.fit.model import Model
    from engine.alignment.fit.tf import pair_frequencies

    spec = state.spec
    model = None if spec.model is None else Model.from_data(spec.model.model_dump())
    attributes = (
        spec.attributes
        if model is None
        else [a.model_copy(update={"weight": 0.0}) for a in spec.attributes]
    )
    align, target = state.sides["align"], state.sides["target"]
    task = compare_task(attributes, align.prepared, target.prepared, np.inf, False)
    result = compare_chunk(task, ia, ib)
    # compare_chunk keeps every pair at an infinite limit, in their order.
    distances = {a.name: result.distances[a.name] for a in spec.attributes}
    total = result.total
    if model is not None:
        tf = pair_frequencies(
            model.term_frequency(),
            align.normalised,
            None if spec.dedup else target.normalised,
            result.ia,
        )
        total = model.distance(distances, len(result.ia), tf)
    total = np.where(np.isfinite(total), total, np.finfo(np.float64).max)
    return Pairs(result.ia, result.ib, total, distances)
