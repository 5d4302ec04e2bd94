"""Curated mappings in: the links a person confirmed or rejected, read from SSSOM files.

A spec's ``curation:`` names SSSOM/TSV mapping sets (a ``# curie_map`` YAML
header, CURIEs expanded). A row whose ``mapping_justification`` is
``semapv:ManualMappingCuration`` and that has no ``predicate_modifier`` is a
*must-link*: the run writes it whatever its score, even when the blocking never
proposed the pair, and in ``best`` / ``one-to-one`` matching it is fixed (its
records are linked to nothing else). A row with ``predicate_modifier: Not`` is a
*cannot-link*: never written. Other rows (a tool's own mappings kept beside the
curation) are left out, and counted.

The curation is also gold: ``engine eval`` scores the matcher's own links
(before the curation is applied: applied, it would trivially agree) against the
must-links, and counts the cannot-links it proposes; ``engine fit`` learns
from the must-links.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.evaluate import _lookup
from engine.alignment.records import Records
from engine.errors import DataError

__all__ = [
    "CURATED",
    "Curated",
    "Curation",
    "check_must_links",
    "fixed_records",
    "pair_keys",
    "read_curation",
]

Ints = npt.NDArray[np.int64]

#: The SEMAPV justification of a curated mapping, as a CURIE and as an IRI.
CURATED = "semapv:ManualMappingCuration"
CURATED_IRI = "https://w3id.org/semapv/vocab/ManualMappingCuration"

#: Prefixes an SSSOM file may use without declaring them (SSSOM's built-in ones).
_BUILT_IN = {
    "semapv": "https://w3id.org/semapv/vocab/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "sssom": "https://w3id.org/sssom/",
}


@dataclass(frozen=True)
class Curated:
    """One curated pair: its records (indexes), who curated it and when, where it is written."""

    ia: int
    ib: int
    align_id: str
    target_id: str
    author: str | None
    date: str | None
    file: str
    line: int


@dataclass(frozen=True)
class Curation:
    """The must-links and cannot-links of a spec's curation files."""

    must: tuple[Curated, ...] = ()
    cannot: tuple[Curated, ...] = ()
    #: Rows that are neither (another justification, no modifier): left out.
    ignored: int = 0
    files: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return bool(self.must or self.cannot)

    def arrays(self, which: str) -> tuple[Ints, Ints]:
        """The (align, target) record indexes of the ``must`` or ``cannot`` links."""
        rows = self.must if which == "must" else self.cannot
        return (
            np.array([c.ia for c in rows], dtype=np.int64),
            np.array([c.ib for c in rows], dtype=np.int64),
        )

    def by_ids(self) -> dict[tuple[str, str], Curated]:
        """The must-links by (align IRI, target IRI): how the writers mark them."""
        return {(c.align_id, c.target_id): c for c in self.must}


def pair_keys(ia: Ints, ib: Ints, width: int) -> Ints:
    """One integer per pair (``ia * width + ib``), for set operations on pairs."""
    return ia.astype(np.int64) * width + ib.astype(np.int64)


def fixed_records(
    curation: Curation, ia: Ints, ib: Ints, mode: str, width: int, *, dedup: bool
) -> npt.NDArray[np.bool_]:
    """Which pairs the matching may still choose once the curation is applied.

    A cannot-link is never chosen; in ``best`` and ``one-to-one`` matching, a pair
    touching a record of a must-link is not either (the must-link is that record's
    match), in a deduplication on either side; ``all`` keeps the other pairs.
    """
    check_must_links(curation, mode, dedup=dedup)
    keep = np.ones(len(ia), dtype=bool)
    ca, cb = curation.arrays("cannot")
    if len(ca):
        keep &= ~np.isin(pair_keys(ia, ib, width), pair_keys(ca, cb, width))
    ma, mb = curation.arrays("must")
    if len(ma) and mode != "all":
        if dedup:
            taken = np.union1d(ma, mb)
            keep &= ~(np.isin(ia, taken) | np.isin(ib, taken))
        elif mode == "best":
            keep &= ~np.isin(ia, ma)
        else:
            keep &= ~(np.isin(ia, ma) | np.isin(ib, mb))
    # The must-links themselves are added back by the caller, with their own distances.
    if len(ma):
        keep &= ~np.isin(pair_keys(ia, ib, width), pair_keys(ma, mb, width))
    return keep


def check_must_links(curation: Curation, mode: str, *, dedup: bool) -> None:
    """Refuse two must-links the matching cannot both keep: a data error at the second.

    In ``one-to-one`` matching a record has one match (a deduplication: one
    partner), in ``best`` an align record has one; ``all`` keeps every must-link.
    Without this, the matching silently dropped one of them.
    """
    if mode == "all":
        return
    order = {name: at for at, name in enumerate(curation.files)}
    rows = sorted(curation.must, key=lambda c: (order.get(c.file, len(order)), c.line))
    seen: dict[tuple[str, int], Curated] = {}
    for row in rows:
        if dedup:
            ends = [("record", row.ia), ("record", row.ib)]
        elif mode == "best":
            ends = [("align", row.ia)]
        else:
            ends = [("align", row.ia), ("target", row.ib)]
        for end in ends:
            first = seen.get(end)
            if first is not None:
                side_a = end[0] == "align" or (end[0] == "record" and end[1] == first.ia)
                record = first.align_id if side_a else first.target_id
                raise DataError(
                    row.file,
                    f"{row.align_id} -> {row.target_id} and {first.align_id} ->"
                    f" {first.target_id} (at {first.file}, line {first.line}) are both"
                    f" confirmed, but with matching: {mode} {record} has one match"
                    " (keep one of them, or use matching: all)",
                    row=row.line,
                )
        for end in ends:
            seen[end] = row


def _header(lines: list[str], shown: str) -> tuple[dict[str, str], int]:
    """The curie_map of the ``#`` metadata block, and how many lines the block takes."""
    import yaml

    count = 0
    while count < len(lines) and lines[count].startswith("#"):
        count += 1
    try:
        meta = yaml.safe_load("\n".join(line[1:] for line in lines[:count])) or {}
    except yaml.YAMLError as exc:
        raise DataError(shown, f"cannot read the SSSOM metadata block: {exc}") from None
    if not isinstance(meta, dict):
        raise DataError(shown, "the SSSOM metadata block is not a YAML mapping", row=1)
    prefixes = meta.get("curie_map") or {}
    if not isinstance(prefixes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in prefixes.items()
    ):
        raise DataError(shown, "curie_map must map prefix names to IRIs", row=1)
    return {**_BUILT_IN, **prefixes}, count


def _expand(value: str, prefixes: dict[str, str]) -> str:
    prefix, colon, local = value.partition(":")
    namespace = prefixes.get(prefix) if colon and not local.startswith("//") else None
    return namespace + local if namespace is not None else value


def _read_one(
    path: Path, lookups: tuple[dict[str, int], dict[str, int]], records: tuple[Records, Records]
) -> tuple[list[Curated], list[Curated], int]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(shown, "no such curation file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(shown, f"cannot read the curation file: {exc}") from None
    lines = text.splitlines()
    prefixes, start = _header(lines, shown)
    if start >= len(lines):
        raise DataError(shown, "no header row (subject_id, object_id, ...) after the metadata")
    header = lines[start].split("\t")
    for column in ("subject_id", "object_id", "mapping_justification"):
        if column not in header:
            raise DataError(shown, f"the header has no {column} column", row=start + 1)
    where = {name: header.index(name) for name in header}
    must: list[Curated] = []
    cannot: list[Curated] = []
    ignored = 0
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise DataError(
                shown, f"{len(cells)} cells where the header has {len(header)}", row=number
            )

        def cell(name: str, cells: list[str] = cells) -> str:
            return cells[where[name]].strip() if name in where else ""

        subject, obj = cell("subject_id"), cell("object_id")
        if not subject or not obj:
            raise DataError(shown, "a mapping needs a subject_id and an object_id", row=number)
        modifier = cell("predicate_modifier")
        if modifier not in ("", "Not"):
            raise DataError(
                shown, f"predicate_modifier {modifier!r}: SSSOM knows only 'Not'", row=number
            )
        justification = _expand(cell("mapping_justification"), prefixes)
        if not modifier and justification != CURATED_IRI:
            ignored += 1
            continue
        align_id, target_id = _expand(subject, prefixes), _expand(obj, prefixes)
        a, b = lookups[0].get(align_id), lookups[1].get(target_id)
        if a is None or b is None:
            role, value, side = (
                ("subject", align_id, records[0])
                if a is None
                else ("object", target_id, records[1])
            )
            raise DataError(
                shown,
                f"the {role} {value!r} names no record of the {side.source}"
                " (write the records' IRIs, or CURIEs of the curie_map)",
                row=number,
            )
        found = Curated(
            a,
            b,
            records[0].ids[a],
            records[1].ids[b],
            _expand(cell("author_id"), prefixes) or None,
            cell("mapping_date") or None,
            shown,
            number,
        )
        (cannot if modifier else must).append(found)
    return must, cannot, ignored


def read_curation(
    paths: list[Path] | tuple[Path, ...],
    align: Records,
    target: Records,
    align_id: Any,
    target_id: Any,
    *,
    dedup: bool,
) -> Curation:
    """Read the curation files: must-links and cannot-links as record indexes.

    A row naming no record of the sources, or a pair both confirmed and rejected,
    is a data error naming the file and line.
    """
    lookups = (_lookup(align, align_id), _lookup(target, target_id))
    must: dict[tuple[int, int], Curated] = {}
    cannot: dict[tuple[int, int], Curated] = {}
    ignored = 0
    for path in paths:
        yes, no, left = _read_one(path, lookups, (align, target))
        ignored += left
        for rows, mine, other in ((yes, must, cannot), (no, cannot, must)):
            for row in rows:
                key = (min(row.ia, row.ib), max(row.ia, row.ib)) if dedup else (row.ia, row.ib)
                if dedup and row.ia == row.ib:
                    raise DataError(
                        row.file,
                        f"{row.align_id} is mapped to itself: a deduplication links two records",
                        row=row.line,
                    )
                if dedup:
                    row = replace(
                        row,
                        ia=key[0],
                        ib=key[1],
                        align_id=align.ids[key[0]],
                        target_id=align.ids[key[1]],
                    )
                if key in other:
                    first = other[key]
                    raise DataError(
                        row.file,
                        f"{row.align_id} -> {row.target_id} is both confirmed and rejected"
                        f" (also at {first.file}, line {first.line})",
                        row=row.line,
                    )
                mine.setdefault(key, row)
    return Curation(
        tuple(must[k] for k in sorted(must)),
        tuple(cannot[k] for k in sorted(cannot)),
        ignored,
        tuple(str(p) for p in paths),
    )
