"""The alignment job's plan steps and the handlers that carry them out.

``steps(spec)`` turns a spec into plain-data steps; each ``handle_*`` function
carries one step out on an :class:`AlignmentState`. The generic executor in
``engine.execute`` walks the steps; ``engine plan`` stops before comparing.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.batches import batches
from engine.alignment.blocking import (
    BlockingRule,
    BlockingValueError,
    KeyRule,
    KMeansRule,
    MinHashRule,
    NoBlocking,
    Pipeline,
    QGramRule,
    RadiusRule,
    SortedNeighbourhoodRule,
    TfidfRule,
    Union,
)
from engine.alignment.compare import AttributeJob, ChunkResult, CompareTask, missing_fill
from engine.alignment.describe import (
    POINT_RULES,
    describe_blocking,
    minhash_split,
    why_no_pairs,
)
from engine.alignment.executors import make_executor
from engine.alignment.headers import check_columns, check_sources
from engine.alignment.match import prune, select
from engine.alignment.metrics import METRICS, clear_tables
from engine.alignment.normalise import NormaliseError, normalise_column, normalise_value
from engine.alignment.records import Records, Skip
from engine.alignment.remote import resolve_auth
from engine.alignment.sources import read_source
from engine.alignment.terms import wkt_point
from engine.environment import Environment
from engine.errors import DataError
from renderers import (
    LinkTable,
    OutputTransaction,
    sorted_links,
)
from schemas.alignment import (
    AlignmentSpec,
    Attribute,
    HtmlOutput,
    RdfOutput,
    output_kind,
    output_path,
)
from schemas.base import Ref

__all__ = [
    "AlignmentState",
    "Block",
    "Compare",
    "Match",
    "Prepare",
    "Publish",
    "ReadSource",
    "Write",
    "steps",
]

log = logging.getLogger(__name__)

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
    """Weighted global distance of every candidate pair; keep those under the threshold.

    ``keep_until`` (above the threshold when a report shows near-misses) keeps
    the pairs up to it too, apart from the candidates.
    """

    threshold: float
    keep_until: float


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


@dataclass(frozen=True)
class Publish:
    """Replace the links' named graph in a triple store (before the files are committed)."""

    graph: str
    endpoint: str
    protocol: str


def near_limit(spec: AlignmentSpec) -> float:
    """Up to which global distance pairs are kept: the threshold, or the near-misses' reach."""
    margins = [o.margin for o in spec.outputs if isinstance(o, HtmlOutput) and o.near_misses]
    if not margins:
        return spec.threshold
    margin = max(margins)
    return max(spec.threshold * (1 + margin), spec.threshold + margin)


def steps(spec: AlignmentSpec) -> list[Any]:
    """The plan of an alignment job, as plain data."""
    out: list[Any] = [
        ReadSource("align"),
        ReadSource("target"),
        Prepare(tuple(a.name for a in spec.attributes)),
        Block(describe_blocking(spec.blocking)),
        Compare(spec.threshold, near_limit(spec)),
        Match(spec.matching, spec.threshold),
    ]
    for index, output in enumerate(spec.outputs):
        kind = output_kind(output)
        fmt = output.resolved_format if isinstance(output, RdfOutput) else kind
        out.append(Write(index, str(output_path(output)), fmt))
    if spec.publish is not None:
        target = spec.publish.graph_store or spec.publish.update
        protocol = "graph store" if spec.publish.graph_store else "SPARQL update"
        out.append(Publish(spec.publish.graph, str(target), protocol))
    return out


# --------------------------------------------------------------------------- state


@dataclass
class Side:
    """One side's records and, per attribute, its normalised and prepared values."""

    records: Records
    normalised: dict[str, list[Any]] = field(default_factory=dict)
    prepared: dict[str, Any] = field(default_factory=dict)
    keys: dict[Any, list[Any]] = field(default_factory=dict)


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
    near: tuple[Ints, Ints, Floats] | None = None
    under_threshold: int = 0
    links: LinkTable | None = None
    written: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    transaction: OutputTransaction | None = None
    executor: str = ""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    publish_diff: Any = None
    published: int | None = None
    publish_error: tuple[str, str] | None = None
    #: A dry run's refusal to compare (a rule over its max_pairs): the plan shows it, then fails.
    refusal: DataError | None = None
    #: The environment variables the spec's credentials are read from (engine.environment).
    environment: Environment = field(default_factory=Environment.of_process, repr=False)

    def records(self, role: str) -> Records:
        """The records of ``align`` or ``target``."""
        return self.sides[role].records


# --------------------------------------------------------------------------- handlers


def handle_read(step: ReadSource, state: AlignmentState) -> None:
    """Read a source into columnar records."""
    publish = state.spec.publish
    if step.role == "align" and publish is not None and publish.auth is not None:
        # Before minutes of reading and comparing: the credentials exist.
        resolve_auth(publish.auth, f"publish to <{publish.graph}>", state.environment)
    if step.role == "align":  # a misspelt column: a spec error before reading in full
        check_sources(state.spec, state.spec_file)
    source = getattr(state.spec.sources, step.role)
    started = time.perf_counter()
    if source == "same":  # deduplication: the target side is the align side itself
        state.sides[step.role] = state.sides["align"]
        return
    records = read_source(source, step.role, state.spec_file, environment=state.environment)
    check_columns(state.spec, state.spec_file, {step.role: records.names})
    state.warnings.extend(records.warnings)
    state.sides[step.role] = Side(records)
    state.timings[f"read {step.role}"] = time.perf_counter() - started


def _columns(attribute: Attribute, role: str) -> list[str | int]:
    return attribute.align_columns if role == "align" else attribute.target_columns


def _normalise_collecting(
    raw: list[str | None], chain: list[Ref], bad: dict[int, str], column: str
) -> list[str | None]:
    """Normalise a column; values that fail become missing and are noted in ``bad``."""
    try:
        return normalise_column(raw, chain)
    except NormaliseError:
        pass  # the slow path below visits each distinct value once to find every failure
    cache: dict[str | None, str | None] = {None: None}
    failed: dict[str, str] = {}
    out: list[str | None] = []
    for index, value in enumerate(raw):
        if value in failed:
            bad.setdefault(index, f"column {column}: {failed[value]}")
            out.append(None)
            continue
        if value not in cache:
            try:
                cache[value] = normalise_value(value, chain)
            except NormaliseError as exc:
                assert value is not None
                failed[value] = exc.message
                bad.setdefault(index, f"column {column}: {exc.message}")
                out.append(None)
                continue
        out.append(cache[value])
    return out


#: Metrics on points: one column of WKT points stands for two columns.
POINT_METRICS = {"geographic"}


def _wkt_points(
    values: list[str | None], order: str, bad: dict[int, str], column: str
) -> list[tuple[str, str] | None]:
    """WKT ``POINT (long lat)`` values as the (lat, long) tuples two columns would give."""
    out: list[tuple[str, str] | None] = []
    for index, value in enumerate(values):
        point = None if value is None else wkt_point(value)
        if value is not None and point is None:
            bad.setdefault(
                index, f"column {column}: {value!r} is not a WKT point, e.g. POINT(2.35 48.85)"
            )
        if point is not None and order == "lonlat":
            point = (point[1], point[0])
        out.append(point)
    return out


def _prepare_side(spec: AlignmentSpec, side: Side, role: str) -> dict[int, str]:
    """Normalise and prepare every attribute of one side.

    Returns the records whose values cannot be read (index -> reason), all found
    in one pass; their values count as missing in what was prepared.
    """
    records = side.records
    bad: dict[int, str] = {}
    for attribute in spec.attributes:
        columns: list[list[str | None]] = []
        names: list[str] = []
        for ref in _columns(attribute, role):
            try:
                name = records.column_name(ref)
            except KeyError as exc:
                raise DataError(
                    records.source, f"attribute '{attribute.name}': {exc.args[0]}"
                ) from None
            names.append(name)
            columns.append(
                _normalise_collecting(records.columns[name], attribute.normalise, bad, name)
            )
        values: list[Any]
        if len(columns) == 1 and attribute.metric.name in POINT_METRICS:
            values = _wkt_points(columns[0], attribute.metric.option("order"), bad, names[0])
        elif len(columns) == 1:
            values = columns[0]
        else:  # a tuple with a missing part is a missing value
            values = [None if None in row else row for row in zip(*columns, strict=True)]
        metric = METRICS[attribute.metric.name].func()
        problems: list[tuple[int, str]] = []
        side.prepared[attribute.name] = metric.prepare(values, attribute.metric.options, problems)
        for index, message in problems:
            bad.setdefault(index, f"column {', '.join(names)}: {message}")
        side.normalised[attribute.name] = values
    return bad


def handle_prepare(step: Prepare, state: AlignmentState) -> None:
    """Normalise and prepare every attribute; bad values fail the run or skip their records."""
    started = time.perf_counter()
    roles = ("align",) if state.spec.dedup else ("align", "target")
    for role in roles:
        side = state.sides[role]
        policy = getattr(state.spec.sources, role).on_error
        bad = _prepare_side(state.spec, side, role)
        for attribute in state.spec.attributes:
            values = side.normalised.get(attribute.name, [])
            if values and all(v is None for v in values):
                state.warnings.append(
                    f"attribute '{attribute.name}': every value is missing in {side.records.source}"
                    f" (each pair gets its 'missing' distance: {attribute.missing})"
                )
        if not bad:
            continue
        records = side.records
        if policy == "fail":
            index = min(bad)
            column, _, message = bad[index].partition(": ")
            raise DataError(
                records.source,
                message + " (set `on_error: skip` to leave such rows out)",
                row=int(records.rows[index]),
                column=column.removeprefix("column "),
            )
        # Drop every bad record at once, then prepare again without them.
        mask = np.zeros(len(records), dtype=bool)
        mask[list(bad)] = True
        skipped = [Skip(int(records.rows[i]), bad[i]) for i in sorted(bad)]
        side.records = records.take(~mask)
        side.records.skipped.extend(skipped)
        side.records.skipped.sort(key=lambda skip: skip.row)
        side.normalised.clear()
        side.prepared.clear()
        again = _prepare_side(state.spec, side, role)
        if again:  # cannot happen: the same values were dropped
            raise DataError(records.source, f"values still unreadable after skipping: {again}")
        if state.spec.dedup:
            state.sides["target"] = side
    state.timings["prepare"] = time.perf_counter() - started


def _composite(side: Side, names: list[str], chain: list[Ref], source: str) -> list[Any]:
    """One key per record from several attributes (missing when any part is)."""
    parts = []
    for name in names:
        values = side.normalised[name]
        if any(isinstance(v, tuple) for v in values[:100]):
            raise DataError(
                source, f"blocking on attribute '{name}' needs single values, not tuples"
            )
        if not chain:
            parts.append(values)
            continue
        # Several rules often key on the same attribute and chain (soundex of a name).
        cache_key = (name, tuple(chain))
        if cache_key not in side.keys:
            side.keys[cache_key] = normalise_column(values, chain)
        parts.append(side.keys[cache_key])
    # The unit separator cannot occur in normalised text: keys stay distinct.
    return [None if None in row else "\x1f".join(row) for row in zip(*parts, strict=True)]


def _keys(state: AlignmentState, rule: Ref, points: bool = False) -> tuple[list[Any], list[Any]]:
    """Each side's blocking values: normalised keys, or (``points``) tuples of several columns."""
    options = rule.options
    out: list[list[Any]] = []
    for role in ("align", "target"):
        side = state.sides[role]
        source = side.records.source
        try:
            if isinstance(options.attribute, list):  # a composite key
                keys = _composite(side, options.attributes, options.normalise, source)
            elif options.attribute is not None:
                if options.attribute not in side.normalised:
                    raise DataError(source, f"blocking: no attribute '{options.attribute}'")
                values = side.normalised[options.attribute]
                tuples = any(isinstance(v, tuple) for v in values[:100])
                if tuples and not points:
                    raise DataError(
                        source,
                        f"blocking on attribute '{options.attribute}' needs single values, not tuples",
                    )
                if not options.normalise:
                    keys = values
                elif tuples:  # normalise each column of the tuples
                    width = len(next(v for v in values if v is not None))
                    parts = [
                        normalise_column(
                            [None if v is None else v[j] for v in values], options.normalise
                        )
                        for j in range(width)
                    ]
                    keys = [None if None in row else row for row in zip(*parts, strict=True)]
                else:
                    keys = normalise_column(values, options.normalise)
            else:
                ref = options.align if role == "align" or options.target is None else options.target
                columns = []
                for one in ref if isinstance(ref, list) else [ref]:
                    try:
                        raw = side.records.column(one)
                    except KeyError as exc:
                        raise DataError(source, f"blocking: {exc.args[0]}") from None
                    columns.append(normalise_column(raw, options.normalise))
                first = next((v for v in columns[0] if v is not None), "") if points else ""
                if len(columns) == 1 and first.lstrip().upper().startswith(("POINT", "<")):
                    # One column of WKT points (one column of numbers stays 1-D).
                    keys = [None if v is None else wkt_point(v) for v in columns[0]]
                    bad = next((i for i, v in enumerate(columns[0]) if v and not keys[i]), None)
                    if bad is not None:
                        raise DataError(
                            source,
                            f"blocking: {columns[0][bad]!r} is not a WKT point",
                            row=int(side.records.rows[bad]),
                        )
                elif len(columns) == 1:
                    keys = columns[0]
                else:
                    keys = [None if None in row else row for row in zip(*columns, strict=True)]
        except NormaliseError as exc:
            row = int(side.records.rows[exc.index])
            raise DataError(source, f"blocking key: {exc.message}", row=row) from None
        out.append(keys)
    return out[0], out[1]


def build_rule(state: AlignmentState, blocking: Ref) -> BlockingRule:
    """The blocking rule object of a blocking spec, on the prepared records."""
    name, options = blocking.name, blocking.options
    label = describe_blocking(blocking)
    if name == "none":
        return NoBlocking(len(state.records("align")), len(state.records("target")))
    if name == "union":
        return Union([build_rule(state, rule) for rule in options], label=label)
    if name == "pipeline":
        return Pipeline([build_rule(state, rule) for rule in options], label=label)
    align, target = _keys(state, blocking, points=name in POINT_RULES)
    try:
        if name == "key":
            return KeyRule(align, target, label=label)
        if name == "sorted_neighbourhood":
            return SortedNeighbourhoodRule(align, target, options.window, label=label)
        if name == "qgram":
            return QGramRule(
                align,
                target,
                q=options.q,
                padding=options.padding,
                min_common=options.min_common,
                max_block=options.max_block,
                label=label,
            )
        if name == "minhash":
            bands, rows = minhash_split(options)
            return MinHashRule(
                align,
                target,
                kind=options.shingles,
                q=options.q,
                bands=bands,
                rows=rows,
                seed=options.seed,
                label=label,
            )
        if name == "tfidf":
            return TfidfRule(
                align,
                target,
                top_k=options.top_k,
                min_similarity=options.min_similarity,
                ngrams=options.ngrams,
                max_df=options.max_df,
                label=label,
            )
        if name in ("kdtree", "balltree"):
            return RadiusRule(
                align,
                target,
                radius=options.radius,
                radius_km=options.radius_km,
                order=options.order,
                tree=name,
                label=label,
            )
        if name == "kmeans":
            return KMeansRule(
                align,
                target,
                clusters=options.clusters,
                nearest=options.nearest,
                coordinates=options.coordinates,
                seed=options.seed,
                label=label,
            )
    except BlockingValueError as exc:
        records = state.records(exc.side)
        row = int(records.rows[exc.index]) if exc.index < len(records.rows) else None
        raise DataError(records.source, f"blocking rule {label}: {exc.message}", row=row) from None
    raise ValueError(f"no blocking rule named '{name}'")


def _pair_budget(state: AlignmentState, blocking: Ref, rule: BlockingRule) -> None:
    """Stop before comparing when a rule's estimated pairs exceed its ``max_pairs``."""
    limit = blocking.option("max_pairs")
    if limit is not None:
        estimate = rule.estimate()
        if state.spec.dedup:
            estimate = max(0, (estimate - len(state.records("align"))) // 2)
        if estimate > limit:
            raise DataError(
                state.spec_file,
                f"blocking rule {rule.label}: about {estimate:,} candidate pairs, more than its"
                f" max_pairs ({limit:,}); make the blocking more selective or raise max_pairs",
            )
    if isinstance(rule, Union | Pipeline):
        for child_ref, child in zip(blocking.options, rule.rules, strict=True):
            _pair_budget(state, child_ref, child)


def _empty_source(state: AlignmentState) -> str | None:
    """Why no rule can find a pair whatever its keys: a source without (enough) records."""
    roles = ("align",) if state.spec.dedup else ("align", "target")
    for role in roles:
        records = state.records(role)
        if not len(records):
            return f"the {records.source} has no records"
    if state.spec.dedup and len(state.records("align")) < 2:
        return f"the {state.records('align').source} has a single record"
    return None


def _why_rule(state: AlignmentState, blocking: Ref, rule: BlockingRule) -> str:
    """Why a rule (a group: its rules that find nothing) finds no pair."""
    if blocking.name in ("union", "pipeline"):
        members = zip(blocking.options, rule.rules, strict=True)  # type: ignore[attr-defined]
        empty = [(ref, member) for ref, member in members if member.estimate() == 0]
        if not empty:  # a pipeline whose rules each find pairs, but none that all keep
            return "its rules keep no pair in common"
        return "; ".join(f"{describe_blocking(r)}: {_why_rule(state, r, m)}" for r, m in empty)
    align, target = _keys(state, blocking, points=blocking.name in POINT_RULES)
    return why_no_pairs(blocking.name, align, target)


def _no_candidates(state: AlignmentState, description: str, upper_bound: int = 0) -> None:
    """A rule found no pair: fail a run (outputs untouched), warn in a plan or with allow_empty."""
    assert state.rule is not None
    why = _empty_source(state) or _why_rule(state, state.spec.blocking, state.rule)
    if upper_bound:
        why += f" (its estimate, {upper_bound:,}, was an upper bound)"
    found = f"blocking rule {description} finds no candidate pair: {why}"
    if state.spec.allow_empty:
        state.warnings.append(f"{found}; the outputs are empty (allow_empty: true)")
    elif state.dry_run:
        state.warnings.append(
            f"{found}; a run would fail (set `allow_empty: true` to accept empty outputs)"
        )
    else:
        raise DataError(
            state.spec_file,
            f"{found}. Nothing was written; fix the blocking or the sources, or set"
            " `allow_empty: true` to accept empty outputs",
        )


def handle_block(step: Block, state: AlignmentState) -> None:
    """Build the blocking rule and count its candidate pairs.

    No pair at all fails a run unless the spec allows empty outputs (a plan
    warns); a rule over its ``max_pairs`` fails a run, and a plan shows it.
    """
    started = time.perf_counter()
    if _empty_source(state):
        # Whatever the rule, there is nothing to pair (and a rule on no records
        # would complain about its keys rather than about the source).
        n_align, n_target = len(state.records("align")), len(state.records("target"))
        state.rule = NoBlocking(n_align, n_target, label=step.description)
    else:
        state.rule = build_rule(state, state.spec.blocking)
    state.estimated_pairs = state.rule.estimate()
    if state.spec.dedup:
        # Rules see the records twice: drop self pairs and count each pair once.
        n = len(state.records("align"))
        state.estimated_pairs = max(0, (state.estimated_pairs - n) // 2)
    try:
        _pair_budget(state, state.spec.blocking, state.rule)
    except DataError as exc:
        if not state.dry_run:
            raise
        state.refusal = exc
    if state.estimated_pairs == 0:
        _no_candidates(state, step.description)
    if state.transaction is not None:  # a real run (a plan lists them): say it before comparing
        for warning in [*state.warnings, *state.rule.warnings]:
            print(f"warning: {warning}", file=sys.stderr)
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


#: Pairs under the threshold held before pruning those the matching cannot choose.
POOL_LIMIT = 4_000_000


def _merged(parts: list[ChunkResult], spec: AlignmentSpec) -> ChunkResult:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        return ChunkResult(0, empty_i, empty_i, empty_f, {})
    return ChunkResult(
        sum(p.compared for p in parts),
        np.concatenate([p.ia for p in parts]),
        np.concatenate([p.ib for p in parts]),
        np.concatenate([p.total for p in parts]),
        {},
    )


def _pruned(pool: ChunkResult, spec: AlignmentSpec) -> ChunkResult:
    keep = prune(pool.ia, pool.ib, pool.total, spec.matching, dedup=spec.dedup)
    return ChunkResult(
        pool.compared,
        pool.ia[keep],
        pool.ib[keep],
        pool.total[keep],
        {n: d[keep] for n, d in pool.distances.items()},
    )


#: Seconds between the compare step's progress lines in the log.
PROGRESS_EVERY_S = 10.0


def compare_upto(state: AlignmentState, limit: float) -> tuple[Ints, Ints, Floats, int]:
    """Every candidate pair at or under ``limit``: align and target indexes, distances, count.

    Pairs the matching cannot choose may be dropped on the way (memory stays
    bounded); the last item is how many candidate pairs were compared.
    """
    assert state.rule is not None
    spec = state.spec
    task = compare_task(state, limit)
    kept: list[ChunkResult] = []
    compared = 0
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
        pooled, limit = 0, POOL_LIMIT
        said = time.monotonic()
        for result in executor.map(task, batches(state.rule, dedup=spec.dedup)):
            bar.update(result.compared)
            compared += result.compared
            if time.monotonic() - said >= PROGRESS_EVERY_S:  # -v: a line now and then
                said = time.monotonic()
                log.info(
                    "compare: %s of about %s candidate pairs, %s kept",
                    f"{compared:,}",
                    f"{state.estimated_pairs:,}",
                    f"{pooled:,}",
                )
            if len(result.ia):
                # Only the totals: per-attribute distances of the links are computed
                # again after matching, so the pool costs 24 bytes a pair.
                kept.append(ChunkResult(result.compared, result.ia, result.ib, result.total, {}))
                pooled += len(result.ia)
            if pooled > limit and spec.matching != "all":
                # Memory grows with the pairs under the threshold: drop those the
                # matching can no longer choose. The next pruning waits until the
                # pool has doubled, so the work stays linear in the pairs kept.
                kept = [_pruned(_merged(kept, spec), spec)]
                pooled = len(kept[0].ia)
                limit = max(POOL_LIMIT, 2 * pooled)
    finally:
        executor.close()
        bar.close()
        clear_tables()
    merged = _merged(kept, spec)
    return merged.ia, merged.ib, merged.total, compared


def handle_compare(step: Compare, state: AlignmentState) -> None:
    """Weighted global distance over candidate pairs, chunk by chunk, on the executor."""
    if state.refusal is not None:  # a plan that publishes: nothing to compare, the plan says why
        return
    started = time.perf_counter()
    ia, ib, total, compared = compare_upto(state, step.keep_until)
    state.compared_pairs += compared
    if not compared and state.estimated_pairs:
        # The estimate was an upper bound (a pipeline, a deduplication): no pair after all.
        assert state.rule is not None
        _no_candidates(state, state.rule.label, upper_bound=state.estimated_pairs)
    if step.keep_until > step.threshold:  # near-misses apart: they are not candidates
        under = total <= step.threshold + 1e-9 * max(1.0, step.threshold)
        state.near = (ia[~under], ib[~under], total[~under])
        ia, ib, total = ia[under], ib[under], total[under]
    state.pairs = (ia, ib, total, {})
    state.under_threshold = len(ia)
    state.timings["compare"] = time.perf_counter() - started


def attribute_distances(state: AlignmentState, ia: Ints, ib: Ints) -> dict[str, Floats]:
    """Each attribute's distance for the links, computed again (the pool keeps only totals)."""
    out: dict[str, Floats] = {}
    align, target = state.sides["align"], state.sides["target"]
    for attribute in state.spec.attributes:
        metric = METRICS[attribute.metric.name].func()
        name = attribute.name
        out[name] = metric.compute(
            align.prepared[name], target.prepared[name], ia, ib, attribute.metric.options
        )
    return out


def handle_match(step: Match, state: AlignmentState) -> None:
    """Select the links and attach record ids, in a deterministic order."""
    if state.pairs is None:  # a refused plan compared nothing
        return
    started = time.perf_counter()
    ia, ib, total, _ = state.pairs
    if state.compared_pairs and not len(ia):
        # Unlike no candidate pair (a blocking or source problem), a strict
        # threshold is a choice: warn, and write the empty outputs.
        warning = (
            f"none of the {state.compared_pairs:,} candidate pairs is at or under the threshold"
            f" ({step.threshold:g}): no links (`engine eval` sweeps thresholds against gold links)"
        )
        state.warnings.append(warning)
        if state.transaction is not None:
            print(f"warning: {warning}", file=sys.stderr)
    keep = select(ia, ib, total, step.mode, step.threshold, dedup=state.spec.dedup)
    align_ids, target_ids = state.records("align").ids, state.records("target").ids
    la, lb = ia[keep], ib[keep]
    table = LinkTable(
        align_ids=[align_ids[i] for i in la],
        target_ids=[target_ids[i] for i in lb],
        distance=total[keep],
        attributes=attribute_distances(state, la, lb),
    )
    state.links = sorted_links(table)
    state.timings["match"] = time.perf_counter() - started


HANDLERS: dict[type, Any] = {
    ReadSource: handle_read,
    Prepare: handle_prepare,
    Block: handle_block,
    Compare: handle_compare,
    Match: handle_match,
}
