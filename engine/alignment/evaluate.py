"""Quality of a set of links against gold links: precision, recall, F1."""

from __future__ import annotations

import csv as _csv
import math
import re as _re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.records import Records
from engine.errors import DataError, UsageError

__all__ = [
    "CurationScores",
    "Gold",
    "Scores",
    "distance_steps",
    "eval_gold",
    "found_keys",
    "read_gold",
    "score",
    "sweep_thresholds",
]

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
    table: dict[str, int] = {}
    for index, iri in enumerate(records.ids):
        # The first row: a record with several values has several rows, links name the first.
        table.setdefault(iri, index)
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


def _template_key(id_spec: Any) -> str | None:
    """The placeholder of a one-placeholder id template, whose raw values gold files may use."""
    if isinstance(id_spec, dict):
        refs: set[str] = set(_PLACEHOLDER.findall(id_spec["template"]))
        if len(refs) == 1:
            return refs.pop()
    return None


@dataclass(frozen=True)
class Gold:
    """Gold links as record indexes, with how many could not be found in the sources."""

    ia: npt.NDArray[np.int64]
    ib: npt.NDArray[np.int64]
    unresolved: list[tuple[int, str]]
    path: str
    read: int = 0

    def warning(self) -> str | None:
        """What to tell the user when some gold pairs name records not in the sources."""
        if not self.unresolved:
            return None
        first = ", ".join(f"line {line}: {value!r}" for line, value in self.unresolved[:3])
        more = ", ..." if len(self.unresolved) > 3 else ""
        return (
            f"{len(self.unresolved):,} of the {self.read:,} gold pairs in {self.path} name"
            f" records not in the sources ({first}{more}); they are left out of the scores"
        )


def read_gold(
    path: Path, align: Records, target: Records, align_id: Any, target_id: Any, dedup: bool
) -> Gold:
    """Read a gold CSV (header, then align id, target id per row) as record indexes.

    Ids may be the records' IRIs, or the raw value of a one-placeholder id
    template (``rec-1-org`` for ``http://example.org/{rec_id}``). An SSSOM/TSV
    mapping set is read too: its ``subject_id`` and ``object_id`` (CURIEs
    expanded with its ``curie_map``), but for mappings whose
    ``predicate_modifier`` is ``Not``.
    """
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(shown, "no such gold file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(shown, f"cannot read the gold file: {exc}") from None
    rows = _sssom_rows(text, shown)
    if rows is None:
        rows = list(_csv.reader(text.splitlines()))
    if not rows:
        raise DataError(
            shown, "the gold file is empty (expected a header, then align id, target id)"
        )
    la, lb = _lookup(align, align_id), _lookup(target, target_id)
    ia: list[int] = []
    ib: list[int] = []
    unresolved: list[tuple[int, str]] = []
    read: list[tuple[int, str, str]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise DataError(shown, "expected two ids (align, target)", row=line)
        read.append((line, row[0].strip(), row[1].strip()))
        a, b = la.get(row[0].strip()), lb.get(row[1].strip())
        if a is None or b is None:
            unresolved.append((line, row[0] if a is None else row[1]))
            continue
        if dedup and a > b:
            a, b = b, a
        ia.append(a)
        ib.append(b)
    if not read:
        raise DataError(
            shown,
            "the gold file has no pairs (expected a header, then align id, target id per row)",
        )
    if not ia:
        sides = {"align": (align, align_id, la), "target": (target, target_id, lb)}
        raise DataError(shown, _none_found(read, sides))
    pairs = sorted(set(zip(ia, ib, strict=True)))
    return Gold(
        np.array([p[0] for p in pairs], dtype=np.int64),
        np.array([p[1] for p in pairs], dtype=np.int64),
        unresolved,
        shown,
        len(read),
    )


def _sssom_rows(text: str, shown: str) -> list[list[str]] | None:
    """An SSSOM/TSV file's pairs as gold CSV rows (line numbers kept), or None: not SSSOM."""
    lines = text.splitlines()
    metadata = [line[1:] for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    header = body[0].split("\t") if body else []
    if not metadata or "subject_id" not in header or "object_id" not in header:
        return None
    import yaml

    try:
        meta = yaml.safe_load("\n".join(metadata)) or {}
    except yaml.YAMLError as exc:
        raise DataError(shown, f"cannot read the SSSOM metadata block: {exc}") from None
    prefixes = meta.get("curie_map") or {} if isinstance(meta, dict) else {}

    def expand(curie: str) -> str:
        prefix, colon, local = curie.partition(":")
        namespace = prefixes.get(prefix) if colon else None
        return f"{namespace}{local}" if isinstance(namespace, str) else curie

    subject, obj = header.index("subject_id"), header.index("object_id")
    modifier = header.index("predicate_modifier") if "predicate_modifier" in header else None
    # The header row, then one empty row per metadata line: the pairs keep their line numbers.
    rows: list[list[str]] = [["subject_id", "object_id"], *([[]] * len(metadata))]
    for line in body[1:]:
        cells = line.split("\t")
        negated = modifier is not None and len(cells) > modifier and cells[modifier] == "Not"
        if negated or len(cells) <= max(subject, obj):
            rows.append([])
            continue
        rows.append([expand(cells[subject]), expand(cells[obj])])
    return rows


def _none_found(
    read: list[tuple[int, str, str]], sides: dict[str, tuple[Records, Any, dict[str, int]]]
) -> str:
    """Why no gold pair names records of the sources: what the ids look like on each side."""
    text = (
        f"none of the {len(read):,} gold pairs names records of the sources"
        if len(read) > 1
        else "the gold pair names no records of the sources"
    )
    align_lookup, target_lookup = sides["align"][2], sides["target"][2]
    if any(b in align_lookup and a in target_lookup for _, a, b in read):
        return text + (
            ": its columns look swapped (the first names target records, the second align"
            " records); write the align id first"
        )
    reasons: list[str] = []
    for column, (role, (records, id_spec, lookup)) in enumerate(sides.items()):
        unknown = [(line, pair[column]) for line, *pair in read if pair[column] not in lookup]
        if len(unknown) < len(read):
            continue  # this side's ids are found at least once: the other side is to blame
        line, value = unknown[0]
        if not len(records):
            reasons.append(f"the {records.source} has no records")
            continue
        reason = (
            f"{role} ids look like {value!r} (line {line}) but the {role} records are"
            f" IRIs like {records.ids[0]!r}"
        )
        key = _template_key(id_spec)
        if key is not None:
            try:
                raw = records.column(
                    int(key) if key.isdigit() and key not in records.columns else key
                )
                example = next((v for v in raw if v is not None), None)
            except KeyError:
                example = None
            reason += "; write IRIs or the raw value of the id template's {" + key + "}"
            reason += f" ({example!r})" if example is not None else ""
        else:
            reason += "; write the records' IRIs"
        reasons.append(reason)
    if not reasons:  # each pair misses on one side or the other
        line, a, b = read[0]
        reasons.append(f"line {line}: {a!r}, {b!r} name no align and target records")
    return text + ": " + "; and ".join(reasons)


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
    gold_keys = _keys(gold.ia, gold.ib, n_target)
    out: list[tuple[float, Scores]] = []
    for threshold in thresholds:
        found = found_keys(ia, ib, distance, threshold, mode, n_target, dedup)
        true = int(np.isin(found, gold_keys).sum())
        out.append((threshold, Scores(len(found), len(gold_keys), true)))
    return out


def found_keys(
    ia: npt.NDArray[np.int64],
    ib: npt.NDArray[np.int64],
    distance: npt.NDArray[np.float64],
    threshold: float,
    mode: str,
    n_target: int,
    dedup: bool,
) -> npt.NDArray[np.int64]:
    """The links the matching makes at ``threshold``, as ``align * n_target + target`` keys."""
    from engine.alignment.match import select

    under = distance <= threshold + 1e-9 * max(1.0, threshold)
    xa, xb, xd = ia[under], ib[under], distance[under]
    keep = select(xa, xb, xd, mode, threshold, dedup=dedup)
    return np.unique(_keys(xa[keep], xb[keep], n_target))


# --------------------------------------------------------------------------- the curation as gold


@dataclass(frozen=True)
class CurationScores:
    """How the matcher's own links (the curation not applied) agree with the curation.

    ``must_found`` of the ``must_links`` are links the matcher makes at the
    threshold (the curation's recall); ``cannot_found`` of the ``cannot_links``
    are links it makes too (known errors, which the curation removes).
    """

    must_links: int
    must_found: int
    cannot_links: int
    cannot_found: int

    @property
    def labelled_precision(self) -> float:
        """Share of the matcher's labelled links that the curation confirms (1: none labelled)."""
        labelled = self.must_found + self.cannot_found
        return self.must_found / labelled if labelled else 1.0

    def figures(self) -> dict[str, Any]:
        """As JSON figures."""
        return {
            "must_links": self.must_links,
            "must_found": self.must_found,
            "cannot_links": self.cannot_links,
            "cannot_found": self.cannot_found,
            "labelled_precision": self.labelled_precision,
        }

    def line(self) -> str:
        """One line of ``engine eval``'s text."""
        return (
            f"curation: the matcher alone finds {self.must_found:,} of the {self.must_links:,}"
            f" must-links and makes {self.cannot_found:,} of the {self.cannot_links:,}"
            f" cannot-links: labelled precision {self.labelled_precision:.4f}"
        )


def eval_gold(state: Any, gold_path: Path | None) -> tuple[Gold, CurationScores | None]:
    """``engine eval``'s gold: the gold file's links and the curation's must-links, less
    its cannot-links; and how the matcher agrees with the curation.

    The scores are the matcher's own (the pairs before the curation is applied:
    applied, it agrees with itself). Without a gold file the must-links are the
    whole gold, so precision counts every unlabelled link as wrong (a lower bound);
    the labelled precision counts only links the curation labels.
    """
    from engine.errors import UsageError

    spec = state.spec
    align, target = state.records("align"), state.records("target")
    target_source = spec.sources.align if spec.dedup else spec.sources.target
    curation = state.curation
    if gold_path is None and not curation:
        raise UsageError(
            "eval needs gold links: --gold FILE, or curated mappings (curation:) in the spec"
        )
    width = max(len(target), 1)
    if gold_path is not None:
        gold = read_gold(
            gold_path, align, target, spec.sources.align.id, target_source.id, spec.dedup
        )
    else:
        gold = Gold(np.zeros(0, np.int64), np.zeros(0, np.int64), [], ", ".join(curation.files), 0)
    if not curation:
        return gold, None
    ma, mb = curation.arrays("must")
    ca, cb = curation.arrays("cannot")
    keys = np.union1d(_keys(gold.ia, gold.ib, width), _keys(ma, mb, width))
    keys = np.setdiff1d(keys, _keys(ca, cb, width))
    read = gold.read + len(ma)
    path = gold.path if gold_path is None else f"{gold.path} and the curation"
    combined = Gold(keys // width, keys % width, gold.unresolved, path, read)
    assert state.pairs is not None
    found = found_keys(
        state.pairs.ia,
        state.pairs.ib,
        state.pairs.total,
        spec.threshold,
        spec.matching,
        width,
        spec.dedup,
    )
    scores = CurationScores(
        len(ma),
        int(np.isin(_keys(ma, mb, width), found).sum()),
        len(ca),
        int(np.isin(_keys(ca, cb, width), found).sum()),
    )
    return combined, scores


# --------------------------------------------------------------------------- sweep thresholds

#: Thresholds of ``engine eval``'s sweep when ``--steps`` is not given.
DEFAULT_STEPS = 10


def sweep_reach(steps: int | list[float], threshold: float) -> float:
    """Up to which distance a sweep needs the pairs: twice the threshold, or the largest listed.

    With a threshold of 0 and a count of steps: every candidate (infinity).
    """
    if isinstance(steps, list):
        return max(steps)
    return 2 * threshold if threshold > 0 else math.inf


def sweep_thresholds(
    steps: int | list[float], threshold: float, distances: npt.NDArray[np.float64]
) -> list[float]:
    """The thresholds of a sweep: those listed, or ``steps`` evenly spaced up to its reach.

    A count spaces them over (0, 2 x threshold] (up to the largest candidate
    distance when the threshold is 0), so the sweep shows both sides of the
    spec's threshold, which is always one of them.
    """
    if isinstance(steps, list):
        return sorted(set(steps))
    reach = sweep_reach(steps, threshold)
    if math.isinf(reach):
        finite = distances[np.isfinite(distances)]
        reach = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
    # Rounded: 0.1 * 3 is 0.30000000000000004, which the table would show.
    points = {round(reach * k / steps, 12) for k in range(1, steps + 1)}
    # A model's threshold 0.9 is the distance 1 - 0.9 = 0.09999999999999998: the point
    # 0.1 beside it would be a second row of the same threshold.
    points = {p for p in points if not math.isclose(p, threshold, rel_tol=1e-9, abs_tol=1e-12)}
    return sorted(points | {threshold})


def distance_steps(steps: int | list[float], model: bool) -> int | list[float]:
    """``--steps`` as distances: with a model, listed thresholds are match probabilities.

    A fitted spec's threshold is a probability (``model.threshold``); its sweep
    is read and shown in probabilities, the distance being ``1 - p``. Raises
    :class:`~engine.errors.UsageError` for a probability above 1.
    """
    if not model or not isinstance(steps, list):
        return steps
    if any(p > 1 for p in steps):
        raise UsageError(
            "--steps: with a model, the thresholds are match probabilities, from 0 to 1"
        )
    return sorted({round(1 - p, 12) for p in steps})
