"""Quality of a set of links against gold links: precision, recall, F1."""

from __future__ import annotations

import csv as _csv
import re as _re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.records import Records
from engine.errors import DataError

__all__ = ["Gold", "Scores", "read_gold", "score"]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Scores:
    """Counts and rates of found links against the gold ones."""

    found: int
    gold: int
    true_positives: int

    @property
    def precision(self) -> float:
        """Share of found links that are gold links (1 when nothing was found)."""
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        """Share of gold links that were found (1 when there is no gold link)."""
        return self.true_positives / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(found: Iterable[Pair], gold: Iterable[Pair]) -> Scores:
    """Compare found links with gold links (each counted once)."""
    found_set, gold_set = set(found), set(gold)
    return Scores(len(found_set), len(gold_set), len(found_set & gold_set))


# --------------------------------------------------------------------------- against a run

_PLACEHOLDER = _re.compile(r"\{([^{}]*)\}")


def _lookup(records: Records, id_spec: Any) -> dict[str, int]:
    """Record index by IRI and, for a one-placeholder id template, by the raw key too."""
    table = {iri: index for index, iri in enumerate(records.ids)}
    if isinstance(id_spec, dict):
        refs = _PLACEHOLDER.findall(id_spec["template"])
        if len(set(refs)) == 1:
            ref = refs[0]
            try:
                column = records.column(
                    int(ref) if ref.isdigit() and ref not in records.columns else ref
                )
            except KeyError:
                return table
            for index, value in enumerate(column):
                if value is not None:
                    table.setdefault(value, index)
    return table


@dataclass(frozen=True)
class Gold:
    """Gold links as record indexes, with how many could not be found in the sources."""

    ia: npt.NDArray[np.int64]
    ib: npt.NDArray[np.int64]
    unresolved: list[tuple[int, str]]
    path: str


def read_gold(
    path: Path, align: Records, target: Records, align_id: Any, target_id: Any, dedup: bool
) -> Gold:
    """Read a gold CSV (header, then align id, target id per row) as record indexes.

    Ids may be the records' IRIs, or the raw value of a one-placeholder id
    template (``rec-1-org`` for ``http://example.org/{rec_id}``).
    """
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(shown, "no such gold file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(shown, f"cannot read the gold file: {exc}") from None
    rows = list(_csv.reader(text.splitlines()))
    if not rows:
        raise DataError(
            shown, "the gold file is empty (expected a header, then align id, target id)"
        )
    la, lb = _lookup(align, align_id), _lookup(target, target_id)
    ia: list[int] = []
    ib: list[int] = []
    unresolved: list[tuple[int, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise DataError(shown, "expected two ids (align, target)", row=line)
        a, b = la.get(row[0].strip()), lb.get(row[1].strip())
        if a is None or b is None:
            unresolved.append((line, row[0] if a is None else row[1]))
            continue
        if dedup and a > b:
            a, b = b, a
        ia.append(a)
        ib.append(b)
    pairs = sorted(set(zip(ia, ib, strict=True)))
    return Gold(
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
        unresolved,
        shown,
    )


@dataclass(frozen=True)
class RuleQuality:
    """How well one blocking rule keeps the gold pairs, and how much it prunes."""

    description: str
    candidates: int
    pair_completeness: float
    reduction_ratio: float


def _keys(
    ia: npt.NDArray[np.int64], ib: npt.NDArray[np.int64], width: int
) -> npt.NDArray[np.int64]:
    return ia.astype(np.int64) * width + ib


def blocking_quality(
    rules: list[tuple[str, Any]], gold: Gold, n_align: int, n_target: int, dedup: bool
) -> list[RuleQuality]:
    """Pair completeness and reduction ratio of each (description, rule) pair.

    Candidates come from each rule's ``estimate`` (exact for key rules; an upper
    bound for unions); in a deduplication self pairs are left out and each pair
    counts once.
    """
    full = n_align * (n_align - 1) // 2 if dedup else n_align * n_target
    out: list[RuleQuality] = []
    for description, rule in rules:
        candidates = rule.estimate()
        if dedup:
            candidates = max(0, (candidates - n_align) // 2)
        kept = rule.contains(gold.ia, gold.ib)
        if dedup:
            kept |= rule.contains(gold.ib, gold.ia)
        completeness = float(kept.mean()) if len(kept) else 1.0
        reduction = 1.0 - candidates / full if full else 0.0
        out.append(RuleQuality(description, candidates, completeness, reduction))
    return out


def sweep(
    ia: npt.NDArray[np.int64],
    ib: npt.NDArray[np.int64],
    distance: npt.NDArray[np.float64],
    gold: Gold,
    thresholds: list[float],
    mode: str,
    n_target: int,
    dedup: bool,
) -> list[tuple[float, Scores]]:
    """Precision, recall and F1 of the links the matching makes at each threshold."""
    from engine.alignment.match import select

    gold_keys = _keys(gold.ia, gold.ib, n_target)
    out: list[tuple[float, Scores]] = []
    for threshold in thresholds:
        under = distance <= threshold + 1e-9 * max(1.0, threshold)
        xa, xb, xd = ia[under], ib[under], distance[under]
        keep = select(xa, xb, xd, mode, threshold, dedup=dedup)
        found = np.unique(_keys(xa[keep], xb[keep], n_target))
        true = int(np.isin(found, gold_keys).sum())
        out.append((threshold, Scores(len(found), len(gold_keys), true)))
    return out
