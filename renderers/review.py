"""The pairs of a review band, for a person to accept or reject: CSV and SSSOM.

Each pair is self-contained: both records' ids, each attribute's values on
both sides as read and as normalised, its distance and its evidence, and the
pair's score. The CSV has one group of columns per attribute; the SSSOM is a
mapping set like the links' (``renderers.sssom``) whose rows carry the same
values and evidence in their ``comment``, and whose ``mapping_set_description``
says that they are candidates for review, not links.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TextIO

import numpy as np

from renderers.csv import format_distance
from renderers.links import LinkTable, links_order
from renderers.sssom import MappingSet, write_sssom

__all__ = [
    "ReviewAttribute",
    "ReviewPair",
    "review_header",
    "write_review_csv",
    "write_review_sssom",
]


@dataclass(frozen=True)
class ReviewAttribute:
    """One attribute of a reviewed pair.

    ``align_value`` / ``target_value`` as read (None: missing), the
    ``*_normalised`` values as compared, ``distance`` (NaN: a value was
    missing) and ``evidence``: the match weight (bits) of its level with a
    model, else ``weight x distance`` (the part of the global distance).
    """

    name: str
    align_value: str | None
    target_value: str | None
    align_normalised: str | None
    target_normalised: str | None
    distance: float
    evidence: float


@dataclass(frozen=True)
class ReviewPair:
    """A pair of the review band; ``probability`` and ``match_weight`` with a model only."""

    align_id: str
    target_id: str
    distance: float
    probability: float | None
    match_weight: float | None
    attributes: tuple[ReviewAttribute, ...]


def _ordered(pairs: Sequence[ReviewPair]) -> list[ReviewPair]:
    """The pairs in the links' canonical order (align id, target id, distance)."""
    table = _table(pairs)
    order = links_order(table)
    return list(pairs) if order is None else [pairs[i] for i in order]


def _table(pairs: Sequence[ReviewPair]) -> LinkTable:
    names = [a.name for a in pairs[0].attributes] if pairs else []
    scored = bool(pairs) and pairs[0].probability is not None
    return LinkTable(
        align_ids=[p.align_id for p in pairs],
        target_ids=[p.target_id for p in pairs],
        distance=np.array([p.distance for p in pairs], dtype=np.float64),
        attributes={
            name: np.array([p.attributes[k].distance for p in pairs], dtype=np.float64)
            for k, name in enumerate(names)
        },
        probability=(
            np.array([p.probability for p in pairs], dtype=np.float64) if scored else None
        ),
    )


def review_header(names: Sequence[str], model: bool) -> list[str]:
    """The CSV header: ids, scores, then per attribute its values, distance and evidence."""
    header = ["align_id", "target_id", "distance"]
    if model:
        header += ["probability", "match_weight"]
    for name in names:
        header += [
            f"{name}_align",
            f"{name}_target",
            f"{name}_align_normalised",
            f"{name}_target_normalised",
            f"d_{name}",
            f"evidence_{name}",
        ]
    return header


def _number(value: float | None) -> str:
    return "" if value is None else format_distance(value)


def write_review_csv(
    pairs: Sequence[ReviewPair],
    names: Sequence[str],
    model: bool,
    handle: TextIO,
    delimiter: str = ",",
) -> None:
    """Write the reviewed pairs as CSV, sorted like the links (see :func:`review_header`).

    A missing value, and the distance of a missing value, is the empty string.
    ``names``: the attributes, for the header of an empty band.
    """
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    writer.writerow(review_header(names, model))
    for pair in _ordered(pairs):
        row = [pair.align_id, pair.target_id, format_distance(pair.distance)]
        if model:
            row += [_number(pair.probability), _number(pair.match_weight)]
        for a in pair.attributes:
            row += [
                a.align_value or "",
                a.target_value or "",
                a.align_normalised or "",
                a.target_normalised or "",
                format_distance(a.distance),
                format_distance(a.evidence),
            ]
        writer.writerow(row)


def _comment(pair: ReviewPair) -> str:
    """A pair's values and evidence as one line of JSON (no tab, no newline)."""
    data = {
        a.name: {
            "align": a.align_value,
            "target": a.target_value,
            "align_normalised": a.align_normalised,
            "target_normalised": a.target_normalised,
            "distance": None if math.isnan(a.distance) else a.distance,
            "evidence": a.evidence,
        }
        for a in pair.attributes
    }
    if pair.match_weight is not None:
        data = {"match_weight": pair.match_weight, **data}  # type: ignore[dict-item]
    return "review: " + json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def write_review_sssom(
    pairs: Sequence[ReviewPair], mapping_set: MappingSet, handle: TextIO
) -> None:
    """Write the reviewed pairs as an SSSOM/TSV mapping set, sorted like the links.

    The columns of the links' SSSOM (``confidence``: the match probability with
    a model), then ``comment``: ``review: `` and a JSON object giving, per
    attribute, both sides' values as read and normalised, the distance and the
    evidence (and the pair's ``match_weight`` with a model).
    """
    ordered = _ordered(pairs)
    described = replace(
        mapping_set,
        description="Pairs of the review band: candidates for a person to accept or reject,"
        " not links. Each row's comment gives both records' values and each attribute's"
        " evidence (JSON)." + (f" {mapping_set.description}" if mapping_set.description else ""),
    )
    text = io.StringIO()
    write_sssom(_table(ordered), described, text)
    lines = text.getvalue().splitlines(keepends=True)
    body = next(k for k, line in enumerate(lines) if not line.startswith("#"))
    handle.writelines(lines[:body])
    handle.write(lines[body].rstrip("\n") + "\tcomment\n")
    for line, pair in zip(lines[body + 1 :], ordered, strict=True):
        handle.write(line.rstrip("\n") + "\t" + _comment(pair) + "\n")
