"""The pairs a person still has to review: a run's review output minus the curated pairs.

The review output (``- {review: FILE.csv}`` or ``.sssom.tsv``, see
:mod:`renderers.review`) of the spec's latest run is read back as
:class:`~renderers.review.ReviewPair` values; the pairs its curation files
already decide (:func:`engine.alignment.curation_write.decided_pairs`) leave
the queue. engine serve's review page shows what is left.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.alignment.curation import _expand, _header
from engine.alignment.curation_write import decided_pairs
from engine.errors import DataError
from renderers.review import ReviewAttribute, ReviewPair

__all__ = ["NEAR_MARGIN", "ReviewQueue", "near_miss_spec", "read_review", "review_queue"]

#: How far past the threshold the near-misses of a spec without a band reach (as an
#: HTML report's default ``margin``): threshold x (1 + margin), at least + margin.
NEAR_MARGIN = 0.25


@dataclass(frozen=True)
class ReviewQueue:
    """What the review page shows: the pairs left, where they come from, what is decided."""

    #: The review output read (None: the spec has none).
    source: Path | None
    pairs: tuple[ReviewPair, ...]
    #: How many pairs of the output the curation files already decide.
    decided: int
    #: Why there is nothing to show (no band, not run yet), or "".
    note: str = ""


def _number(text: str) -> float:
    return float(text) if text.strip() else math.nan


def _optional(text: str | None) -> float | None:
    return float(text) if text else None


def _read_csv(path: Path) -> list[ReviewPair]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        names = [h[2:] for h in reader.fieldnames or [] if h.startswith("d_")]
    out = []
    for row in rows:
        attributes = tuple(
            ReviewAttribute(
                name=name,
                align_value=row[f"{name}_align"] or None,
                target_value=row[f"{name}_target"] or None,
                align_normalised=row[f"{name}_align_normalised"] or None,
                target_normalised=row[f"{name}_target_normalised"] or None,
                distance=_number(row[f"d_{name}"]),
                evidence=_number(row[f"evidence_{name}"]),
            )
            for name in names
        )
        out.append(
            ReviewPair(
                align_id=row["align_id"],
                target_id=row["target_id"],
                distance=_number(row["distance"]),
                probability=_optional(row.get("probability")),
                match_weight=_optional(row.get("match_weight")),
                attributes=attributes,
            )
        )
    return out


def _read_sssom(path: Path) -> list[ReviewPair]:
    lines = path.read_text(encoding="utf-8").splitlines()
    prefixes, start = _header(lines, str(path))
    header = lines[start].split("\t")
    out = []
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        row = dict(zip(header, line.split("\t"), strict=False))
        comment = row.get("comment", "").removeprefix("review: ")
        data: dict[str, Any] = json.loads(comment) if comment else {}
        weight = data.pop("match_weight", None)
        attributes = tuple(
            ReviewAttribute(
                name=name,
                align_value=value.get("align"),
                target_value=value.get("target"),
                align_normalised=value.get("align_normalised"),
                target_normalised=value.get("target_normalised"),
                distance=math.nan if value.get("distance") is None else value["distance"],
                evidence=float(value.get("evidence", math.nan)),
            )
            for name, value in data.items()
        )
        probability = _optional(row.get("confidence")) if weight is not None else None
        out.append(
            ReviewPair(
                align_id=_expand(row["subject_id"], prefixes),
                target_id=_expand(row["object_id"], prefixes),
                distance=_number(row.get("ext_distance", "")),
                probability=probability,
                match_weight=weight,
                attributes=attributes,
            )
        )
    return out


def read_review(path: Path) -> list[ReviewPair]:
    """The pairs of a review output (CSV, or SSSOM/TSV whose comments hold the evidence).

    A file that cannot be read is a DataError naming it.
    """
    try:
        if path.suffix.lower() == ".csv":
            return _read_csv(path)
        return _read_sssom(path)
    except (OSError, UnicodeDecodeError, KeyError, ValueError, IndexError) as exc:
        raise DataError(str(path), f"cannot read the review output: {exc}") from None


def near_miss_spec(spec: Any, output: Path) -> Any | None:
    """The spec with a review band just past its threshold, writing only ``output`` (a CSV).

    For a spec without a band: its near-misses, the pairs the threshold just
    refused, up to ``threshold x (1 + NEAR_MARGIN)`` (at least ``+ NEAR_MARGIN``)
    as a distance, or the match probabilities down to ``1 -`` that with a
    model. Nothing else is written or published; the curation still applies.
    None for a spec with a band (its runs write the pairs to review).
    """
    from schemas.alignment.review import ReviewBand, ReviewOutput

    if spec.review is not None:
        return None
    reach = max(spec.threshold * (1 + NEAR_MARGIN), spec.threshold + NEAR_MARGIN)
    if spec.model is None:
        band = {"from": spec.threshold, "to": reach}
    else:
        band = {"from": max(0.0, 1.0 - reach), "to": 1.0 - spec.threshold}
        if band["from"] >= band["to"]:
            return None
    return spec.model_copy(
        update={
            "review": ReviewBand.model_validate(band),
            "outputs": [ReviewOutput(review=output)],
            "publish": None,
            "checks": None,
        }
    )


def review_queue(outputs: list[Path], curation: list[Path], *, symmetric: bool) -> ReviewQueue:
    """The review queue of a spec: its first review output that exists, minus the decided pairs.

    ``outputs``: the review outputs (CSV first: it needs no prefixes);
    ``curation``: the curation files; ``symmetric``: a deduplication.
    """
    found = next((p for p in outputs if p.is_file()), None)
    if found is None:
        return ReviewQueue(None, (), 0, "no pairs to review yet: run the spec")
    decided: set[tuple[str, str]] = set()
    for path in curation:
        for a, b in decided_pairs(path):
            decided.add((a, b))
            if symmetric:
                decided.add((b, a))
    pairs = read_review(found)
    left = tuple(p for p in pairs if (p.align_id, p.target_id) not in decided)
    return ReviewQueue(found, left, len(pairs) - len(left))
