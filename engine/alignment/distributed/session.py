"""The driver's side of the distributed path: tasks submitted stage by stage, small answers back.

A :class:`Session` lives from the first read to the end of the compare
stage. The partitions stay on the workers as futures, and so do the pairs
under the limit; the driver only ever holds the partitions' summaries (sizes,
skipped rows, warnings), the estimates, what the matching
(``engine.alignment.distributed.match``) keeps: O(records), the pairs coming a
piece at a time, and ``match.select``'s links whatever order the buckets
answer in; then the links' distances per attribute and the ids of their
records.
"""

from __future__ import annotations

import json
import logging
import operator
import os
import time
from collections import defaultdict
from collections.abc import Callable, ItemsView, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.alignment.distributed.compare import Found, compare_bucket, split_part
from engine.alignment.distributed.keys import (
    Summary,
    bucket_counts,
    duplicate_ids,
    estimate_bucket,
    id_buckets,
    key_part,
    prepare_part,
    summary,
)
from engine.alignment.distributed.match import ROWS, WHERE, Buckets, choose
from engine.alignment.distributed.read import (
    Part,
    id_and_line,
    plan_file,
    read_part,
    split_records,
)
from engine.alignment.headers import source_name
from engine.alignment.records import Records, Skip
from engine.alignment.sources import read_source
from engine.alignment.state import Pairs
from engine.errors import DataError
from engine.memory import give_back
from engine.profiling import ENV
from schemas.alignment import Attribute
from schemas.alignment.sources import InlineSource
from schemas.base import Ref

__all__ = ["WHERE", "RemoteRule", "Session"]

log = logging.getLogger(__name__)


@dataclass
class RemoteRule:
    """A blocking rule whose candidates live on the workers: its estimate and label only."""

    label: str
    estimates: list[int]
    labels: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def rules(self) -> list[RemoteRule]:
        """The union's rules, one by one (for the budget check)."""
        return [
            RemoteRule(label, [n], [label])
            for label, n in zip(self.labels, self.estimates, strict=True)
        ]

    def estimate(self) -> int:
        """Candidate pairs: the sum of the rules' (an upper bound for a union)."""
        return sum(self.estimates)

    # The driver never lists or tests candidates on the distributed path (route() sends
    # every step that would, such as curation and review, to the compare-only path): a
    # call here is a bug, said as one.
    def pairs(self, chunk: int = 0) -> Any:
        raise RuntimeError(f"{self.label}: the candidate pairs are on the workers, not here")

    def contains(self, ia: Any, ib: Any) -> Any:
        raise RuntimeError(f"{self.label}: the candidate pairs are on the workers, not here")


def _sparse_ids(n: int) -> list[str]:
    return [""] * n


class Session:
    """One distributed run on the spec's dask cluster."""

    def __init__(self, executor: Ref) -> None:
        self.executor = executor
        self.runner: Any = None
        self.parts: dict[str, list[Any]] = {}
        self.summaries: dict[str, list[Summary]] = {}
        self.offsets: dict[str, list[int]] = {}
        self.blocking: list[Ref] = []
        self.figures: dict[str, float] = defaultdict(float)
        self.description = ""
        self.buckets = 1
        #: The buckets' results, on the workers (their distances per attribute).
        self.found: list[Any] = []
        #: How many pairs under the limit each bucket of :attr:`found` holds.
        self.sizes: list[int] = []
        self._compared = 0

    # ------------------------------------------------------------------ cluster

    @property
    def client(self) -> Any:
        if self.runner is None:
            from engine.alignment.executors import make_executor

            self.runner = make_executor(self.executor)
            self.description = f"{self.runner.description}, distributed"
        return self.runner.client

    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def close(self) -> None:
        """Release the cluster (idempotent); with SPECENGINE_PROFILE, note the workers' figures."""
        if self.runner is not None:
            self.runner.close()
            self.runner = None
        profile = os.environ.get(ENV)
        if profile and self.figures:
            with open(profile, "a", encoding="utf-8") as out:
                out.write(json.dumps({"step": "distributed", "workers": dict(self.figures)}) + "\n")
            self.figures.clear()

    def _wait(self, futures: list[Any]) -> list[Any]:
        try:
            return list(self.client.gather(futures))
        except DataError:
            raise
        except Exception as exc:
            raise DataError(
                "executor dask", f"the cluster failed during the run: {type(exc).__name__}: {exc}"
            ) from None

    def _timed(self, stage: str, func: Any, *args: Any) -> Any:
        """A task that also adds its seconds to the figures of ``stage``."""
        return self.client.submit(_timed_call, stage, func, *args, pure=False)

    def _stage_figures(self, futures: list[Any]) -> None:
        """Wait for timed tasks; their seconds (not their values) come to the driver."""
        figures = [self.client.submit(_figure, f, pure=False) for f in futures]
        for stage, seconds in self._wait(figures):
            self.figures[f"{stage} (worker s)"] += seconds

    def _values(self, futures: list[Any]) -> list[Any]:
        """The values of timed tasks, brought to the driver (small ones only)."""
        self._stage_figures(futures)
        return self._wait([self.client.submit(_value, f, pure=False) for f in futures])

    # The cluster as the matching uses it (engine.alignment.distributed.match.Remote).

    def submit(self, func: Any, *args: Any) -> Any:
        """``func(*args)`` as a task: its future."""
        return self.client.submit(func, *args, pure=False)

    def wait(self, futures: list[Any]) -> list[Any]:
        """The futures' values, here."""
        return self._wait(futures)

    def broadcast(self, value: Any) -> Any:
        """``value`` on every worker: a future for tasks to take."""
        return self.client.scatter(value, broadcast=True)

    # ------------------------------------------------------------------ read, prepare

    def read(self, role: str, source: Any, spec_file: str) -> Records:
        """The side read in partitions on the workers; the driver gets a records stub."""
        name = source_name(source, role, spec_file)
        partitions = 2 * self.workers()
        if isinstance(source, InlineSource):
            records = read_source(source, role, spec_file)
            futures = self.client.scatter(split_records(records, role, partitions))
            parts = [self.client.submit(_identity, f, pure=False) for f in futures]
        else:
            path = str(source.csv if hasattr(source, "csv") else source.tsv)
            plan_future = self._timed(
                "plan",
                plan_file,
                path,
                source.header,
                source.quotechar,
                source.encoding,
                partitions,
            )
            (plan,) = self._values([plan_future])
            parts = [
                self._timed("read", read_part, source, role, spec_file, plan, k, name)
                for k in range(len(plan.starts))
            ]
            self._stage_figures(parts)
            parts = [self.client.submit(_value, p, pure=False) for p in parts]
        self.parts[role] = parts
        records = self._summarise(role, name)
        if len(parts) > 1:
            self._unique_ids(role, name, source.on_error)
        return records

    def _unique_ids(self, role: str, name: str, on_error: str) -> None:
        """An id in two partitions is an error at its second line, as the local reader says."""
        buckets = 2 * self.workers()
        pieces = [self.client.submit(id_buckets, p, buckets, pure=False) for p in self.parts[role]]
        found = self._wait(
            [self.client.submit(duplicate_ids, b, *pieces, pure=False) for b in range(buckets)]
        )
        twice = [d for bucket in found for d in bucket]
        if not twice:
            return
        where = [
            (
                self.client.submit(id_and_line, self.parts[role][k], i, pure=False),
                self.client.submit(id_and_line, self.parts[role][f], j, pure=False),
            )
            for k, i, f, j in twice
        ]
        met = self._wait([x for pair in where for x in pair])
        lines = []
        for (iri, line), (first, first_line) in zip(met[::2], met[1::2], strict=True):
            if iri == first:  # not a 64-bit collision
                lines.append((line, iri, first_line))
        if not lines:
            return
        line, iri, first_line = min(lines)
        message = f"duplicate id <{iri}> (first used at line {first_line})"
        if on_error == "skip":
            message += (
                "; the dask executor reads the file in partitions and cannot leave out a"
                " duplicate met in another partition: remove it, or use the local executor"
            )
        else:
            message += " (set `on_error: skip` to leave such rows out)"
        raise DataError(name, message, row=line)

    def _summarise(self, role: str, name: str) -> Records:
        summaries = self._wait(
            [self.client.submit(summary, p, pure=False) for p in self.parts[role]]
        )
        for s in summaries:
            if s.failure is not None:
                raise s.failure.error()
        self.summaries[role] = summaries
        offsets = [0]
        for s in summaries:
            offsets.append(offsets[-1] + s.records)
        self.offsets[role] = offsets
        skipped: list[Skip] = [skip for s in summaries for skip in s.skipped]
        warnings = list(dict.fromkeys(w for s in summaries for w in s.warnings))
        names = summaries[0].names if summaries else []
        return Records(
            name, _sparse_ids(offsets[-1]), names, {}, np.zeros(0, np.int64), skipped, warnings
        )

    def prepare(
        self, role: str, attributes: tuple[Attribute, ...], on_error: str, name: str
    ) -> tuple[Records, frozenset[str]]:
        """The side's attributes normalised on the workers; the records stub again, and the attributes never given."""
        futures = [
            self._timed("prepare", prepare_part, p, attributes, on_error) for p in self.parts[role]
        ]
        self.parts[role] = [self.client.submit(_value, f, pure=False) for f in futures]
        self._stage_figures(futures)
        records = self._summarise(role, name)
        missing = (
            frozenset.intersection(*[s.all_missing for s in self.summaries[role]])
            if self.summaries[role]
            else frozenset()
        )
        return records, missing

    # ------------------------------------------------------------------ block

    def block(self, blocking: Ref) -> RemoteRule:
        """Every key computed on the workers; each rule's candidate pairs counted per bucket."""
        rules = list(blocking.options) if blocking.name == "union" else [blocking]
        self.blocking = rules
        self.buckets = 2 * self.workers()
        keyed = {
            role: [self._timed("keys", key_part, p, tuple(rules)) for p in self.parts[role]]
            for role in ("align", "target")
        }
        for role, futures in keyed.items():
            self.parts[role] = [self.client.submit(_value, f, pure=False) for f in futures]
        checks = [
            self.client.submit(summary, p, pure=False)
            for role in ("align", "target")
            for p in self.parts[role]
        ]
        from engine.alignment.blocking import describe

        # Every rule's buckets counted at once: one wait for the whole stage.
        estimates = []
        for r in range(len(rules)):
            counts = {
                role: [
                    self.client.submit(bucket_counts, p, r, self.buckets, pure=False)
                    for p in self.parts[role]
                ]
                for role in ("align", "target")
            }
            estimates.append(
                [
                    self._timed(
                        "estimate",
                        estimate_bucket,
                        r,
                        b,
                        len(counts["align"]),
                        *counts["align"],
                        *counts["target"],
                    )
                    for b in range(self.buckets)
                ]
            )
        for s in self._wait(checks):  # a key that cannot be computed: its error first
            if s.failure is not None:
                raise s.failure.error()
        self._stage_figures([f for futures in keyed.values() for f in futures])
        totals = [sum(self._values(futures)) for futures in estimates]
        return RemoteRule(describe(blocking), totals, [describe(rule) for rule in rules])

    # ------------------------------------------------------------------ compare

    def compare(
        self, attributes: tuple[Attribute, ...], limit: float, matching: str
    ) -> tuple[Pairs, int, int]:
        """Each rule's buckets gathered and compared on the workers; the links ``matching``
        chooses, the candidate pairs compared, and how many were under ``limit``.

        The pairs under ``limit`` (the threshold: this path keeps no near-misses)
        stay on the workers; the links come with their bucket and row there
        (:data:`WHERE`) instead of their distances, for :meth:`distances` to fetch
        those of the links alone.
        """
        from engine.alignment.blocking import describe

        self.found = []
        self.sizes = []
        self._compared = 0
        pending = None
        # Two rules in flight: the next rule's shuffle runs while this rule's buckets are
        # compared, and the workers hold at most two rules' buckets.
        for r, rule in enumerate(self.blocking):
            submitted = self._submit_rule(r, describe(rule), attributes, limit)
            if pending is not None:
                self._collect(*pending)
            pending = submitted
        if pending is not None:
            self._collect(*pending)
        started = time.perf_counter()
        records = (self.offsets["align"][-1], self.offsets["target"][-1])
        pairs = choose(self, Buckets(self.found, self.sizes), matching, limit, records)
        give_back()  # the matching's pieces, freed: not under the next stage's peak
        log.info("distributed: %s links chosen in %.2f s", matching, time.perf_counter() - started)
        return pairs, self._compared, sum(self.sizes)

    def _submit_rule(
        self, r: int, label: str, attributes: tuple[Attribute, ...], limit: float
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """Rule ``r``'s shuffle and its buckets' comparisons, submitted."""
        pieces: dict[str, list[list[Any]]] = {}
        splits: list[Any] = []
        for role in ("align", "target"):
            split = [
                self._timed("shuffle", split_part, p, r, self.buckets, self.offsets[role][k])
                for k, p in enumerate(self.parts[role])
            ]
            splits.extend(split)
            values = [self.client.submit(_value, f, pure=False) for f in split]
            pieces[role] = [
                [self.client.submit(operator.getitem, v, b, pure=False) for v in values]
                for b in range(self.buckets)
            ]
        futures = [
            self.client.submit(
                compare_bucket,
                r,
                label,
                attributes,
                limit,
                len(pieces["align"][b]),
                *pieces["align"][b],
                *pieces["target"][b],
                pure=False,
            )
            for b in range(self.buckets)
        ]
        light = [self.client.submit(_light, f, pure=False) for f in futures]
        return splits, futures, light

    def _collect(self, splits: list[Any], futures: list[Any], light: list[Any]) -> None:
        """A rule's buckets with pairs under the limit, in submission order (the same on every run)."""
        answers = self._wait(light)
        self._stage_figures(splits)
        for future, (count, under, seconds) in zip(futures, answers, strict=True):
            self._compared += count
            for stage, spent in seconds.items():
                self.figures[f"bucket {stage} (worker s)"] += spent
            if under:
                self.found.append(future)
                self.sizes.append(under)

    def distances(self, pairs: Pairs, names: list[str]) -> Pairs:
        """``pairs`` (from :meth:`compare`) with their distances per attribute, fetched."""
        if WHERE not in pairs.distances:
            return pairs
        where = pairs.distances[WHERE].astype(np.int64)
        bucket, row = where // int(ROWS), where % int(ROWS)
        out = {name: np.full(len(pairs), np.nan) for name in names}
        futures, places = [], []
        for k in np.unique(bucket).tolist():
            place = np.flatnonzero(bucket == k)
            futures.append(self.client.submit(_take, self.found[k], row[place], pure=False))
            places.append(place)
        # One bucket's answer at a time: the links' distances, not a second copy of them.
        for place, future in zip(places, futures, strict=True):
            (got,) = self._wait([future])
            for name in names:
                out[name][place] = got[name]
        return Pairs(pairs.ia, pairs.ib, pairs.total, out)

    def ids(self, role: str, rows: Any) -> Mapping[int, str]:
        """The ids of the records at ``rows`` (global indexes), fetched from their partitions."""
        started = time.perf_counter()
        try:
            return self._ids(role, rows)
        finally:
            log.info("distributed: %s ids fetched in %.2f s", role, time.perf_counter() - started)

    def _ids(self, role: str, rows: Any) -> Fetched:
        offsets = np.asarray(self.offsets[role])
        rows = np.unique(rows)
        where = np.searchsorted(offsets, rows, side="right") - 1
        futures, wanted = [], []
        for k, part in enumerate(self.parts[role]):
            mine = rows[where == k]
            if len(mine):
                futures.append(self.client.submit(_ids, part, mine - offsets[k], pure=False))
                wanted.append(mine)
        return Fetched(list(zip(wanted, futures, strict=True)), lambda f: self._wait([f])[0])


class Fetched(Mapping[int, str]):
    """The ids asked for: each partition's rows (sorted) and its answer, their ids as one
    string (``fetch`` brings an answer here).

    Its items are fetched and made as they are read, a partition at a time: a dict of
    a million ids and their rows held ~200 MB more on the driver while the caller
    copied them into the records' ids.
    """

    def __init__(self, pieces: list[tuple[Any, Any]], fetch: Callable[[Any], str]) -> None:
        self.pieces = pieces
        self.fetch = fetch

    def __len__(self) -> int:
        return sum(len(rows) for rows, _ in self.pieces)

    def __iter__(self) -> Iterator[int]:
        for rows, _ in self.pieces:
            yield from rows.tolist()

    def __getitem__(self, row: int) -> str:
        for rows, answer in self.pieces:
            k = int(np.searchsorted(rows, row))
            if k < len(rows) and rows[k] == row:
                return self.fetch(answer).split("\n")[k]
        raise KeyError(row)

    def items(self) -> ItemsView[int, str]:
        return _Items(self)


class _Items(ItemsView[int, str]):
    def __init__(self, fetched: Fetched) -> None:
        super().__init__(fetched)
        self.fetched = fetched

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for rows, answer in self.fetched.pieces:
            text = self.fetched.fetch(answer)
            yield from zip(rows.tolist(), text.split("\n"), strict=True)


def _light(found: Found) -> tuple[int, int, dict[str, float]]:
    """A bucket's figures: pairs compared, pairs under the limit (those stay on the worker)."""
    return found.compared, len(found.ia), found.seconds


def _take(found: Found, rows: Any) -> dict[str, Any]:
    return {name: d[rows] for name, d in found.distances.items()}


def _timed_call(stage: str, func: Any, *args: Any) -> tuple[str, float, Any]:
    started = time.perf_counter()
    value = func(*args)
    return stage, time.perf_counter() - started, value


def _figure(result: tuple[str, float, Any]) -> tuple[str, float]:
    return result[0], result[1]


def _value(result: tuple[str, float, Any]) -> Any:
    return result[2]


def _identity(part: Part) -> Part:
    return part


def _ids(part: Part, rows: Any) -> str:
    # One string, not a list: dask serialises a list's items one by one (~50 µs each),
    # and an IRI holds no line break.
    ids = part.records.ids
    return "\n".join([ids[i] for i in rows.tolist()])
