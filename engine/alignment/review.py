"""The review band: which chosen pairs are reviewed rather than linked, and what a reviewer sees.

A spec's ``review: {from, to}`` band holds match probabilities with a fitted
model, global distances otherwise; as distances (``1 - probability`` with a
model) a pair is reviewed when ``accept < d <= reject``. The match step
chooses among the pairs under the threshold and those of the band together
(:func:`widen`), then splits what it chose (:func:`split`): the links, and the
pairs for review. :func:`review_pairs` gives each reviewed pair with both
records' values and each attribute's evidence, for ``renderers.review``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.alignment.compare import missing_fill
from engine.alignment.fit.model import Model, weight_of
from engine.alignment.fit.tf import pair_frequencies
from engine.alignment.metrics import METRICS
from engine.alignment.state import AlignmentState, Pairs
from renderers.review import ReviewAttribute, ReviewPair

__all__ = ["evidence", "review_pairs", "split", "widen"]

Floats = npt.NDArray[np.float64]

#: Slack on the band's ends: distances computed as 1 - p carry rounding.
_EPS = 1e-12


def widen(pairs: Pairs, near: Pairs | None, reject: float) -> Pairs:
    """The pairs under the threshold and those over it up to ``reject`` (the band's far end)."""
    if near is None or not len(near):
        return pairs
    extra = near.take(near.total <= reject + _EPS)
    return Pairs(
        np.concatenate([pairs.ia, extra.ia]),
        np.concatenate([pairs.ib, extra.ib]),
        np.concatenate([pairs.total, extra.total]),
        {name: np.concatenate([d, extra.distances[name]]) for name, d in pairs.distances.items()},
    )


def split(chosen: Pairs, threshold: float, accept: float, reject: float) -> tuple[Pairs, Pairs]:
    """(links, reviewed) of the chosen pairs: the band's pairs apart, links under the threshold.

    A pair closer than the band is a link when it is also at or under the
    threshold; a pair in the band is reviewed whatever the threshold says.
    """
    in_band = (chosen.total > accept + _EPS) & (chosen.total <= reject + _EPS)
    linked = ~in_band & (chosen.total <= threshold + 1e-9 * max(1.0, threshold))
    return chosen.take(linked), chosen.take(in_band)


def _shown(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _raw(state: AlignmentState, role: str, refs: list[str | int], row: int) -> str | None:
    """A record's values of an attribute's columns, as read (several columns joined by ', ')."""
    records = state.records(role)
    values = [records.column(ref)[row] for ref in refs]
    if all(v is None for v in values):
        return None
    return ", ".join("" if v is None else str(v) for v in values)


def evidence(state: AlignmentState, pairs: Pairs) -> tuple[dict[str, Floats], float | None]:
    """Each attribute's evidence for each pair, and the prior's match weight (with a model).

    With a model, an attribute's evidence is the match weight (bits) of the
    pair's level (term-frequency adjusted where the model says so; 0 for a
    missing value); without one, ``weight x distance`` (a missing value counts
    its ``missing`` distance), and the global distance is their sum.
    """
    spec = state.spec
    align, target = state.sides["align"], state.sides["target"]
    out: dict[str, Floats] = {}
    if spec.model is None:
        for a in spec.attributes:
            bounded = METRICS[a.metric.name].func().bounded(a.metric.options)
            d = pairs.distances[a.name]
            out[a.name] = a.weight * np.where(np.isnan(d), missing_fill(a.missing, bounded), d)
        return out, None
    model = Model.from_data(spec.model.model_dump())
    tf = pair_frequencies(
        model.term_frequency(),
        align.normalised,
        None if spec.dedup else target.normalised,
        pairs.ia,
    )
    for attribute in model.attributes:
        out[attribute.name] = attribute.weights(
            pairs.distances[attribute.name], tf.get(attribute.name)
        )
    return out, weight_of(model.prior)


def review_pairs(state: AlignmentState, pairs: Pairs) -> tuple[ReviewPair, ...]:
    """Each pair with both records' values, each attribute's distance and :func:`evidence`.

    With a model the pair's match weight is the prior's plus its evidence.
    """
    spec = state.spec
    align, target = state.sides["align"], state.sides["target"]
    weights, prior = evidence(state, pairs)
    out = []
    for k, (i, j) in enumerate(zip(pairs.ia.tolist(), pairs.ib.tolist(), strict=True)):
        attributes = tuple(
            ReviewAttribute(
                name=a.name,
                align_value=_raw(state, "align", a.align_columns, i),
                target_value=_raw(state, "target", a.target_columns, j),
                align_normalised=_shown(align.normalised[a.name][i]),
                target_normalised=_shown(target.normalised[a.name][j]),
                distance=float(pairs.distances[a.name][k]),
                evidence=float(weights[a.name][k]),
            )
            for a in spec.attributes
        )
        weight = None if prior is None else prior + sum(x.evidence for x in attributes)
        out.append(
            ReviewPair(
                align_id=align.records.ids[i],
                target_id=target.records.ids[j],
                distance=float(pairs.total[k]),
                probability=None if prior is None else 1.0 - float(pairs.total[k]),
                match_weight=weight,
                attributes=attributes,
            )
        )
    return tuple(out)
