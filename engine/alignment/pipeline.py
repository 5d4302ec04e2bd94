"""The alignment job's plan steps and the handlers that carry them out.

``steps(spec)`` turns a spec into plain-data steps; each ``handle_*`` function
carries one step out on an :class:`AlignmentState`. The generic executor in
``engine.execute`` walks the steps; ``engine plan`` stops before comparing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.blocking import (
    BlockingRule,
    KeyRule,
    NoBlocking,
    SortedNeighbourhoodRule,
    Union,
)
from engine.alignment.compare import AttributeJob, ChunkResult, CompareTask, missing_fill
from engine.alignment.executors import make_executor
from engine.alignment.match import select
from engine.alignment.metrics import METRICS
from engine.alignment.normalise import NormaliseError, normalise_column
from engine.alignment.records import Records, Skip
from engine.alignment.sources import read_source
from engine.errors import DataError
from renderers import LinkTable, OutputTransaction, sorted_links
from renderers.csv import write_links_csv
from renderers.rdf import write_ntriples, write_turtle
from schemas.alignment import AlignmentSpec, Attribute, LinksCsvOutput, RdfOutput
from schemas.base import Ref

__all__ = [
    "AlignmentState",
    "Block",
    "Compare",
    "Match",
    "Prepare",
    "ReadSource",
    "Write",
    "steps",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

# --------------------------------------------------------------------------- steps (plain data)


@dataclass(frozen=True)
class ReadSource:
    """Read one side's records."""

    role: str


@dataclass(frozen=True)
class Prepare:
    """Normalise each attribute's values and prepare them for their metric."""

    attributes: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """Build the blocking rule and count its candidate pairs."""

    description: str


@dataclass(frozen=True)
class Compare:
    """Weighted global distance of every candidate pair; keep those under the threshold."""

    threshold: float


@dataclass(frozen=True)
class Match:
    """Choose the links among the pairs under the threshold."""

    mode: str
    threshold: float


@dataclass(frozen=True)
class Write:
    """Write the links to one output (all outputs are committed together)."""

    output: int
    path: str
    format: str


def steps(spec: AlignmentSpec) -> list[Any]:
    """The plan of an alignment job, as plain data."""
    out: list[Any] = [
        ReadSource("align"),
        ReadSource("target"),
        Prepare(tuple(a.name for a in spec.attributes)),
        Block(describe_blocking(spec.blocking)),
        Compare(spec.threshold),
        Match(spec.matching, spec.threshold),
    ]
    for index, output in enumerate(spec.outputs):
        if isinstance(output, RdfOutput):
            out.append(Write(index, str(output.rdf), output.resolved_format))
        else:
            out.append(Write(index, str(output.csv), "csv"))
    return out


def describe_blocking(blocking: Ref) -> str:
    """One line describing a blocking spec."""
    if blocking.name == "none":
        return "none (every align record meets every target record)"
    if blocking.name == "union":
        return "union of: " + "; ".join(describe_blocking(rule) for rule in blocking.options)
    options = blocking.options
    source = (
        f"attribute {options.attribute}"
        if options.attribute
        else f"columns {options.align}/{options.target if options.target is not None else options.align}"
    )
    chain = " | ".join(r.name for r in options.normalise)
    text = f"{blocking.name} on {source}" + (f" ({chain})" if chain else "")
    if blocking.name == "sorted_neighbourhood":
        text += f", window {options.window}"
    return text


# --------------------------------------------------------------------------- state


@dataclass
class Side:
    """One side's records and, per attribute, its normalised and prepared values."""

    records: Records
    normalised: dict[str, list[Any]] = field(default_factory=dict)
    prepared: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlignmentState:
    """Everything the steps produce, and the figures of the run summary."""

    spec: AlignmentSpec
    spec_file: str
    progress: bool = False
    sides: dict[str, Side] = field(default_factory=dict)
    rule: BlockingRule | None = None
    estimated_pairs: int = 0
    compared_pairs: int = 0
    pairs: tuple[Ints, Ints, Floats, dict[str, Floats]] | None = None
    under_threshold: int = 0
    links: LinkTable | None = None
    written: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    transaction: OutputTransaction | None = None
    executor: str = ""

    def records(self, role: str) -> Records:
        """The records of ``align`` or ``target``."""
        return self.sides[role].records


# --------------------------------------------------------------------------- handlers


def handle_read(step: ReadSource, state: AlignmentState) -> None:
    """Read a source into columnar records."""
    source = getattr(state.spec.sources, step.role)
    started = time.perf_counter()
    if source == "same":  # deduplication: the target side is the align side itself
        state.sides[step.role] = state.sides["align"]
        return
    state.sides[step.role] = Side(read_source(source, step.role, state.spec_file))
    state.timings[f"read {step.role}"] = time.perf_counter() - started


class _BadValue(Exception):
    """A value no record may keep; ``mask`` marks every record holding it."""

    def __init__(self, mask: list[bool], index: int, message: str, column: str) -> None:
        super().__init__(message)
        self.mask, self.index, self.message, self.column = mask, index, message, column


def _guard(values: Sequence[Any], index: int) -> list[bool]:
    bad = values[index]
    return [v == bad for v in values]


def _columns(attribute: Attribute, role: str) -> list[str | int]:
    return attribute.align_columns if role == "align" else attribute.target_columns


def _prepare_side(spec: AlignmentSpec, side: Side, role: str) -> None:
    records = side.records
    for attribute in spec.attributes:
        columns: list[list[str | None]] = []
        for ref in _columns(attribute, role):
            try:
                name = records.column_name(ref)
            except KeyError as exc:
                raise DataError(
                    records.source, f"attribute '{attribute.name}': {exc.args[0]}"
                ) from None
            raw = records.columns[name]
            try:
                columns.append(normalise_column(raw, attribute.normalise))
            except NormaliseError as exc:
                raise _BadValue(_guard(raw, exc.index), exc.index, exc.message, name) from None
        values: list[Any]
        if len(columns) == 1:
            values = columns[0]
        else:
            values = [None if None in row else row for row in zip(*columns, strict=True)]
        metric = METRICS[attribute.metric.name].func()
        try:
            prepared = metric.prepare(values, attribute.metric.options)
        except NormaliseError as exc:
            column = ", ".join(str(c) for c in _columns(attribute, role))
            raise _BadValue(_guard(values, exc.index), exc.index, exc.message, column) from None
        side.normalised[attribute.name] = values
        side.prepared[attribute.name] = prepared


def handle_prepare(step: Prepare, state: AlignmentState) -> None:
    """Normalise and prepare every attribute; bad values fail or skip their records."""
    started = time.perf_counter()
    roles = ("align",) if state.spec.dedup else ("align", "target")
    for role in roles:
        side = state.sides[role]
        policy = getattr(state.spec.sources, role).on_error
        while True:
            try:
                _prepare_side(state.spec, side, role)
                break
            except _BadValue as bad:
                records = side.records
                row = int(records.rows[bad.index])
                if policy == "fail":
                    raise DataError(
                        records.source, bad.message, row=row, column=bad.column
                    ) from None
                # Skip every record holding the same bad value at once, then retry:
                # one retry per distinct bad value, not per bad record.
                mask = np.array(bad.mask, dtype=bool)
                skipped = [
                    Skip(int(r), f"column {bad.column}: {bad.message}") for r in records.rows[mask]
                ]
                side.records = records.take(~mask)
                if state.spec.dedup:
                    state.sides["target"] = side
                side.records.skipped.extend(skipped)
                side.normalised.clear()
                side.prepared.clear()
    state.timings["prepare"] = time.perf_counter() - started


def _keys(state: AlignmentState, rule: Ref) -> tuple[list[str | None], list[str | None]]:
    options = rule.options
    out: list[list[str | None]] = []
    for role in ("align", "target"):
        side = state.sides[role]
        if options.attribute is not None:
            values = side.normalised[options.attribute]
            if values and any(isinstance(v, tuple) for v in values[:100]):
                raise DataError(
                    side.records.source,
                    f"blocking on attribute '{options.attribute}' needs single values, not tuples",
                )
            keys = normalise_column(values, options.normalise) if options.normalise else values
        else:
            ref = options.align if role == "align" or options.target is None else options.target
            try:
                raw = side.records.column(ref)
            except KeyError as exc:
                raise DataError(side.records.source, f"blocking: {exc.args[0]}") from None
            try:
                keys = normalise_column(raw, options.normalise)
            except NormaliseError as exc:
                row = int(side.records.rows[exc.index])
                raise DataError(
                    side.records.source, f"blocking key: {exc.message}", row=row
                ) from None
        out.append(keys)
    return out[0], out[1]


def build_rule(state: AlignmentState, blocking: Ref) -> BlockingRule:
    """The blocking rule object of a blocking spec, on the prepared records."""
    if blocking.name == "none":
        return NoBlocking(len(state.records("align")), len(state.records("target")))
    if blocking.name == "union":
        return Union([build_rule(state, rule) for rule in blocking.options])
    align, target = _keys(state, blocking)
    if blocking.name == "key":
        return KeyRule(align, target)
    if blocking.name == "sorted_neighbourhood":
        return SortedNeighbourhoodRule(align, target, blocking.options.window)
    raise ValueError(f"no blocking rule named '{blocking.name}'")


def handle_block(step: Block, state: AlignmentState) -> None:
    """Build the blocking rule and count its candidate pairs."""
    started = time.perf_counter()
    state.rule = build_rule(state, state.spec.blocking)
    state.estimated_pairs = state.rule.estimate()
    if state.spec.dedup:
        # Rules see the records twice: drop self pairs and count each pair once.
        n = len(state.records("align"))
        state.estimated_pairs = max(0, (state.estimated_pairs - n) // 2)
    state.timings["block"] = time.perf_counter() - started


def compare_task(state: AlignmentState, threshold: float) -> CompareTask:
    """The plain-data task every chunk of the compare stage runs with."""
    spec = state.spec
    jobs = []
    for attribute in sorted(spec.attributes, key=lambda a: -a.weight):  # heaviest first
        metric = METRICS[attribute.metric.name].func()
        fill = missing_fill(attribute.missing, metric.bounded(attribute.metric.options))
        jobs.append(
            AttributeJob(
                attribute.name,
                attribute.metric.name,
                attribute.metric.options,
                attribute.weight,
                fill,
            )
        )
    return CompareTask(
        attributes=tuple(jobs),
        align=state.sides["align"].prepared,
        target=state.sides["target"].prepared,
        limit=threshold + 1e-9 * max(1.0, threshold),
        dedup=spec.dedup,
    )


def handle_compare(step: Compare, state: AlignmentState) -> None:
    """Weighted global distance over candidate pairs, chunk by chunk, on the executor."""
    assert state.rule is not None
    started = time.perf_counter()
    spec = state.spec
    task = compare_task(state, step.threshold)
    kept: list[ChunkResult] = []
    from tqdm import tqdm  # lazily: start-up time matters for small specs

    bar = tqdm(
        total=state.estimated_pairs,
        unit="pairs",
        unit_scale=True,
        desc="compare",
        disable=not state.progress,
        leave=False,
    )
    executor = make_executor(spec.executor)
    state.executor = executor.description
    try:
        for result in executor.map(task, state.rule.pairs()):
            bar.update(result.compared)
            state.compared_pairs += result.compared
            if len(result.ia):
                kept.append(result)
    finally:
        executor.close()
        bar.close()
    names = [a.name for a in spec.attributes]
    empty_f = np.zeros(0)
    state.pairs = (
        np.concatenate([k.ia for k in kept]) if kept else np.zeros(0, np.int64),
        np.concatenate([k.ib for k in kept]) if kept else np.zeros(0, np.int64),
        np.concatenate([k.total for k in kept]) if kept else empty_f,
        {n: np.concatenate([k.distances[n] for k in kept]) if kept else empty_f for n in names},
    )
    state.under_threshold = len(state.pairs[0])
    state.timings["compare"] = time.perf_counter() - started


def handle_match(step: Match, state: AlignmentState) -> None:
    """Select the links and attach record ids, in a deterministic order."""
    assert state.pairs is not None
    started = time.perf_counter()
    ia, ib, total, dists = state.pairs
    keep = select(ia, ib, total, step.mode, step.threshold, dedup=state.spec.dedup)
    align_ids, target_ids = state.records("align").ids, state.records("target").ids
    table = LinkTable(
        align_ids=[align_ids[i] for i in ia[keep]],
        target_ids=[target_ids[i] for i in ib[keep]],
        distance=total[keep],
        attributes={name: d[keep] for name, d in dists.items()},
    )
    state.links = sorted_links(table)
    state.timings["match"] = time.perf_counter() - started


def handle_write(step: Write, state: AlignmentState) -> None:
    """Write one output into the run's transaction (committed after the last step)."""
    assert state.links is not None and state.transaction is not None
    output = state.spec.outputs[step.output]
    path = Path(step.path)
    try:
        if isinstance(output, RdfOutput):
            handle = state.transaction.open_text(path, newline="\n")
            writer = write_turtle if step.format == "turtle" else write_ntriples
            writer(state.links, output.predicate, handle)
        else:
            assert isinstance(output, LinksCsvOutput)
            handle = state.transaction.open_text(path)
            write_links_csv(state.links, handle, delimiter=output.delimiter)
    except OSError as exc:
        raise DataError(step.path, f"cannot write: {exc.strerror or exc}") from None
    state.written.append(step.path)


HANDLERS: dict[type, Any] = {
    ReadSource: handle_read,
    Prepare: handle_prepare,
    Block: handle_block,
    Compare: handle_compare,
    Match: handle_match,
    Write: handle_write,
}
