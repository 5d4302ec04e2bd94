"""Partitions prepared and keyed on the workers: normalised values, blocking keys, key hashes.

A key's bucket is its 64-bit hash (FNV-1a of its text, the same in every
process, unlike ``hash``) modulo the number of buckets; the hash also stands
for the key when a later rule of a union asks whether an earlier rule already
paired two records (a false match needs a 64-bit collision).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.candidates import rule_keys
from engine.alignment.distributed.read import Failure, Part
from engine.alignment.prepare import prepare_side
from engine.alignment.records import Records, Skip
from engine.alignment.state import Side
from engine.errors import DataError
from schemas.alignment import Attribute
from schemas.base import Ref

__all__ = [
    "Summary",
    "bucket_counts",
    "duplicate_ids",
    "estimate_bucket",
    "hashes",
    "id_buckets",
    "key_part",
    "prepare_part",
    "summary",
]

Hashes = npt.NDArray[np.uint64]


def prepare_part(part: Part, attributes: tuple[Attribute, ...], on_error: str) -> Part:
    """The partition's attributes normalised; bad records dropped (skip) or the first kept as the failure."""
    if part.failure is not None:
        return part
    records = part.records
    prepared = prepare_side(attributes, records, part.role)
    if prepared.bad:
        if on_error == "fail":
            index = min(prepared.bad)
            column, _, message = prepared.bad[index].partition(": ")
            failure = Failure(
                records.source,
                message + " (set `on_error: skip` to leave such rows out)",
                int(records.rows[index]),
                column.removeprefix("column "),
            )
            return replace(part, failure=failure)
        mask = np.zeros(len(records), dtype=bool)
        mask[list(prepared.bad)] = True
        skipped = [Skip(int(records.rows[i]), prepared.bad[i]) for i in sorted(prepared.bad)]
        records = records.take(~mask)
        records.skipped.extend(skipped)
        records.skipped.sort(key=lambda skip: skip.row)
        prepared = prepare_side(attributes, records, part.role)
    # The raw columns are not read again (the keys come from the attributes): freed.
    records = replace(records, columns={name: [] for name in records.columns})
    return replace(part, records=records, normalised=prepared.normalised)


#: FNV-1a, 64 bits: the same in every process (Python's ``hash`` of a str is not).
_FNV_OFFSET, _FNV_PRIME = np.uint64(0xCBF29CE484222325), np.uint64(0x100000001B3)


def hashes(keys: list[Any]) -> tuple[Hashes, npt.NDArray[np.bool_]]:
    """Each key's 64-bit FNV-1a hash of its UTF-8 text (0 where missing), in numpy."""
    texts = [
        b""
        if key is None
        else ("\x1f".join(map(str, key)) if isinstance(key, tuple) else str(key)).encode(
            "utf-8", "surrogatepass"
        )
        for key in keys
    ]
    n = len(texts)
    valid = np.fromiter((key is not None for key in keys), dtype=bool, count=n)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    hashes = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    width = int(lengths.max()) if n else 0
    if width:
        # One column of bytes at a time over every key (numpy pads the shorter keys).
        table = np.array(texts, dtype=f"S{width}").view(np.uint8).reshape(n, width)
        for j in range(width):
            going = lengths > j
            mixed = (hashes ^ table[:, j].astype(np.uint64)) * _FNV_PRIME
            hashes = np.where(going, mixed, hashes)
    hashes[~valid] = 0
    return hashes, valid


def key_part(part: Part, rules: tuple[Ref, ...]) -> Part:
    """The partition's key under every rule, and the keys' hashes."""
    if part.failure is not None:
        return part
    side = Side(part.records, part.normalised, {})
    names = list(part.normalised)
    stub = Side(
        Records(
            part.records.source,
            [],
            part.records.names,
            {n: [] for n in part.records.names},
            np.zeros(0, np.int64),
        ),
        {n: [] for n in names},
        {},
    )
    sides = (
        {"align": side, "target": stub} if part.role == "align" else {"align": stub, "target": side}
    )
    cache: dict[Any, Any] = {}
    keys = []
    for rule in rules:
        try:
            pair = rule_keys(sides, rule, cache)
        except DataError as exc:
            return replace(part, failure=Failure.of(exc))
        values = pair[0] if part.role == "align" else pair[1]
        keys.append((values, *hashes(values)))
    return replace(part, keys=keys)


def bucket_counts(
    part: Part, rule: int, buckets: int
) -> list[tuple[Hashes, npt.NDArray[np.int64]]]:
    """Per bucket, the distinct key hashes of the partition under ``rule`` and their counts."""
    _, hashes, valid = part.keys[rule]
    hashes = hashes[valid]
    where = hashes % np.uint64(buckets)
    out = []
    for bucket in range(buckets):
        unique, counts = np.unique(hashes[where == bucket], return_counts=True)
        out.append((unique, counts.astype(np.int64)))
    return out


def estimate_bucket(rule: int, bucket: int, n_align: int, *pieces: Any) -> int:
    """Candidate pairs of a bucket: the sum over its keys of align count x target count."""

    def merged(group: tuple[Any, ...]) -> tuple[Hashes, npt.NDArray[np.int64]]:
        if not group:
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        unique = np.concatenate([g[bucket][0] for g in group])
        counts = np.concatenate([g[bucket][1] for g in group])
        keys, inverse = np.unique(unique, return_inverse=True)
        return keys, np.bincount(inverse.ravel(), weights=counts, minlength=len(keys)).astype(
            np.int64
        )

    ka, ca = merged(pieces[:n_align])
    kb, cb = merged(pieces[n_align:])
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=True, return_indices=True)
    return int((ca[ia] * cb[ib]).sum())


@dataclass(frozen=True)
class Summary:
    """What the driver learns of a partition: its size, lines skipped, warnings, failure."""

    records: int
    names: list[str]
    skipped: list[Skip]
    warnings: list[str]
    failure: Failure | None
    #: The attributes with no value at all in the partition.
    all_missing: frozenset[str]


def summary(part: Part) -> Summary:
    """The partition's summary (small: sent to the driver)."""
    missing = frozenset(
        name for name, values in part.normalised.items() if all(v is None for v in values)
    )
    records = part.records
    return Summary(
        len(records), records.names, records.skipped, records.warnings, part.failure, missing
    )


def id_buckets(part: Part, buckets: int) -> list[tuple[Any, Any, Any]]:
    """The partition's ids as (hash, partition, index) by bucket, to find duplicates across partitions."""
    ids, _ = hashes(list(part.records.ids))
    where = ids % np.uint64(buckets)
    out = []
    for bucket in range(buckets):
        index = np.flatnonzero(where == bucket)
        out.append((ids[index], np.full(len(index), part.index), index))
    return out


def duplicate_ids(
    bucket: int, *pieces: list[tuple[Any, Any, Any]]
) -> list[tuple[int, int, int, int]]:
    """Ids met in two partitions: (partition, index) of the later one and of the first one."""
    ids = np.concatenate([p[bucket][0] for p in pieces])
    part = np.concatenate([p[bucket][1] for p in pieces])
    index = np.concatenate([p[bucket][2] for p in pieces])
    order = np.lexsort((index, part, ids))
    ids, part, index = ids[order], part[order], index[order]
    again = np.flatnonzero(ids[1:] == ids[:-1]) + 1
    out = []
    for k in again.tolist():
        first = k - 1
        while first and ids[first - 1] == ids[k]:
            first -= 1
        if part[first] != part[k]:  # duplicates within a partition: its reader said so
            out.append((int(part[k]), int(index[k]), int(part[first]), int(index[first])))
    return out
