"""The shuffle and the compare stage of one bucket, on the worker that gathers it.

For a key rule, every partition sends each record with a key to the bucket
its key hashes to (:func:`split_part`): its global index, its key, the hashes
of its keys under the union's earlier rules and its normalised values. The
bucket (:func:`compare_bucket`) prepares the values for their metrics, builds
the key rule over its records and runs the rule's batches through
``compare_batch`` as the local path does, without the pairs an earlier rule
of the union produced; the pairs come back with global indexes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.batches import Batch, Block, batches
from engine.alignment.blocking import KeyRule
from engine.alignment.compare import compare_batch, compare_task
from engine.alignment.distributed.read import Part
from engine.alignment.metrics import METRICS, clear_tables
from schemas.alignment import Attribute

__all__ = ["Found", "Piece", "compare_bucket", "split_part"]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Piece:
    """The records of one partition bound for one bucket."""

    index: Ints
    keys: list[Any]
    #: Key hashes under the earlier rules (rules x records), and where there is a key.
    earlier: npt.NDArray[np.uint64]
    earlier_valid: Bools
    values: dict[str, list[Any]]


@dataclass(frozen=True)
class Found:
    """A bucket's pairs at or under the limit, with global indexes, and its figures."""

    compared: int
    ia: Ints
    ib: Ints
    total: npt.NDArray[np.float64]
    distances: dict[str, npt.NDArray[np.float64]]
    records: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def split_part(part: Part, rule: int, buckets: int, offset: int) -> list[Piece]:
    """The partition's records with a key under ``rule``, by bucket (runs where the partition is)."""
    keys, hashes, valid = part.keys[rule]
    where = np.where(valid, hashes % np.uint64(buckets), np.uint64(buckets)).astype(np.int64)
    n = len(keys)
    earlier = np.zeros((rule, n), np.uint64)
    earlier_valid = np.zeros((rule, n), bool)
    for k, (_, h, v) in enumerate(part.keys[:rule]):
        earlier[k], earlier_valid[k] = h, v
    out = []
    for bucket in range(buckets):
        rows = np.flatnonzero(where == bucket)
        listed = rows.tolist()
        out.append(
            Piece(
                rows + offset,
                [keys[i] for i in listed],
                earlier[:, rows],
                earlier_valid[:, rows],
                {name: [values[i] for i in listed] for name, values in part.normalised.items()},
            )
        )
    return out


def _gather(pieces: tuple[Piece, ...], rules: int) -> Piece:
    if not pieces:
        return Piece(
            np.zeros(0, np.int64),
            [],
            np.zeros((rules, 0), np.uint64),
            np.zeros((rules, 0), bool),
            {},
        )
    names = list(pieces[0].values)
    return Piece(
        np.concatenate([p.index for p in pieces]),
        [k for p in pieces for k in p.keys],
        np.concatenate([p.earlier for p in pieces], axis=1),
        np.concatenate([p.earlier_valid for p in pieces], axis=1),
        {name: [v for p in pieces for v in p.values[name]] for name in names},
    )


def _fresh(a: Piece, b: Piece, ia: Ints, ib: Ints) -> Bools:
    """The pairs no earlier rule of the union produced."""
    seen = np.zeros(len(ia), dtype=bool)
    for rule in range(a.earlier.shape[0]):
        seen |= a.earlier_valid[rule, ia] & (a.earlier[rule, ia] == b.earlier[rule, ib])
    return ~seen


def _unseen(batch: Batch, a: Piece, b: Piece) -> Batch:
    """The batch without the pairs an earlier rule produced (as ``batches`` does for a union)."""
    if not a.earlier.shape[0]:
        return batch
    blocks = []
    for block in batch.blocks:
        ia = np.repeat(block.rows_a, len(block.rows_b))
        ib = np.tile(block.rows_b, len(block.rows_a))
        keep = _fresh(a, b, ia, ib)
        if block.keep is not None:
            keep &= block.keep.ravel()
        if keep.all():
            blocks.append(block)
        elif keep.any():
            shape = (len(block.rows_a), len(block.rows_b))
            blocks.append(Block(block.rows_a, block.rows_b, keep.reshape(shape)))
    fresh = _fresh(a, b, batch.ia, batch.ib)
    return Batch(tuple(blocks), batch.ia[fresh], batch.ib[fresh])


def compare_bucket(
    rule: int,
    label: str,
    attributes: tuple[Attribute, ...],
    limit: float,
    n_align: int,
    *pieces: Piece,
) -> Found:
    """Every pair of the bucket under ``rule`` at or under ``limit`` (runs on a worker)."""
    started = time.perf_counter()
    a, b = _gather(pieces[:n_align], rule), _gather(pieces[n_align:], rule)
    names = [attribute.name for attribute in attributes]
    empty = np.zeros(0, np.int64)
    if not len(a.index) or not len(b.index):
        none = np.zeros(0)
        return Found(0, empty, empty, none, {name: none for name in names})
    prepared = []
    for piece in (a, b):
        columns = {}
        for attribute in attributes:
            metric = METRICS[attribute.metric.name].func()
            columns[attribute.name] = metric.prepare(
                piece.values[attribute.name], attribute.metric.options
            )
        prepared.append(columns)
    key_rule = KeyRule(a.keys, b.keys, label=label)
    task = compare_task(attributes, prepared[0], prepared[1], limit, False)
    gathered = time.perf_counter()
    compared = 0
    parts = []
    try:
        for batch in batches(key_rule):
            fresh = _unseen(batch, a, b)
            if not fresh.blocks and not len(fresh.ia):
                continue
            result = compare_batch(task, fresh)
            compared += result.compared
            if len(result.ia):
                parts.append(result)
    finally:
        clear_tables()
    done = time.perf_counter()

    def joined(values: list[Any], dtype: Any) -> Any:
        return np.concatenate(values) if values else np.zeros(0, dtype)

    return Found(
        compared,
        a.index[joined([p.ia for p in parts], np.int64)],
        b.index[joined([p.ib for p in parts], np.int64)],
        joined([p.total for p in parts], np.float64),
        {name: joined([p.distances[name] for p in parts], np.float64) for name in names},
        len(a.index) + len(b.index),
        {"prepare": gathered - started, "compare": done - gathered},
    )
