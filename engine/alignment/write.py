"""The last steps of an alignment: write each output, publish the graph.

Every file goes into the run's output transaction; publishing happens after
all of them were written and before they are committed, so a failed publish
leaves both the files and the published graph as they were.
"""

from __future__ import annotations

import hashlib
import io
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine import __version__
from engine.alignment import publish as publishing
from engine.alignment.compare import missing_fill
from engine.alignment.describe import describe_blocking
from engine.alignment.metrics import METRICS
from engine.alignment.pipeline import (
    HANDLERS as COMPUTE_HANDLERS,
)
from engine.alignment.pipeline import (
    AlignmentState,
    Floats,
    Ints,
    Publish,
    Write,
    attribute_distances,
    near_limit,
)
from engine.alignment.remote import resolve_auth
from engine.errors import DataError
from renderers import LinksetDescription, LinkTable, write_description
from renderers.csv import write_links_csv
from renderers.graph import link_lines
from renderers.html import (
    AlignmentReport,
    AttributeComparison,
    AttributeInfo,
    PairDetail,
    RunSummary,
    SourceSummary,
    Sweep,
    SweepPoint,
    write_report,
)
from renderers.rdf import write_nquads, write_ntriples, write_turtle
from renderers.sssom import MappingSet, MatchAttribute, link_scores, write_sssom
from schemas.alignment import (
    AlignmentSpec,
    HtmlOutput,
    LinksCsvOutput,
    RdfOutput,
    SssomOutput,
    output_path,
)

__all__ = ["HANDLERS", "handle_publish", "handle_write"]

#: Thresholds in a report's precision/recall sweep.
SWEEP_STEPS = 20


# --------------------------------------------------------------------------- descriptions


def _source_iris(state: AlignmentState, role: str) -> list[str]:
    """IRIs of what a side was read from: its files, its endpoint, or the spec's rows."""
    source = getattr(state.spec.sources, role)
    if source == "same":
        return []
    endpoint = getattr(source, "sparql", None) or getattr(source, "rql", None)
    if endpoint is not None:
        return [str(endpoint)]
    files = [getattr(source, key) for key in ("csv", "tsv") if getattr(source, key, None)]
    files = list(getattr(source, "rdf", files))
    if files:
        return [Path(f).resolve().as_uri() for f in files]
    return [Path(state.spec_file).resolve().as_uri() + f"#sources.{role}"]


def _dataset(spec: AlignmentSpec, role: str) -> str:
    side = "align" if role == "align" or spec.dedup else "target"
    return f"urn:specengine:{spec.name}:dataset:{side}"


def _describe(state: AlignmentState, linkset: str, predicate: str, dump: str) -> LinksetDescription:
    """The VoID + PROV-O facts of one written or published linkset."""
    assert state.links is not None
    spec = state.spec
    spec_path = Path(state.spec_file).resolve()
    try:
        digest = hashlib.sha256(spec_path.read_bytes()).hexdigest()
    except OSError:
        digest = "unknown"
    base = f"urn:specengine:{spec.name}"
    return LinksetDescription(
        linkset=linkset,
        predicate=predicate,
        triples=len(set(zip(state.links.align_ids, state.links.target_ids, strict=True))),
        subjects=_dataset(spec, "align"),
        objects=_dataset(spec, "target"),
        data_dump=dump,
        activity=f"{base}:run:{state.started.strftime('%Y%m%dT%H%M%S%fZ')}",
        spec_file=spec_path.as_uri(),
        spec_sha256=digest,
        engine_version=__version__,
        started=state.started,
        ended=datetime.now(UTC),
        sources=tuple(_source_iris(state, "align") + _source_iris(state, "target")),
    )


def _max_distance(spec: AlignmentSpec) -> float | None:
    """The largest global distance a pair can reach, when every weighted metric is bounded."""
    total = 0.0
    for attribute in spec.attributes:
        if attribute.weight == 0:
            continue
        metric = METRICS[attribute.metric.name].func()
        if not metric.bounded(attribute.metric.options):
            return None
        missing = attribute.missing
        worst = max(1.0, missing) if isinstance(missing, float | int) else 1.0
        total += attribute.weight * worst
    return total or None


def _columns(state: AlignmentState, role: str, refs: list[str | int]) -> tuple[str, ...]:
    records = state.records(role)
    names = []
    for ref in refs:
        try:
            names.append(records.column_name(ref))
        except KeyError:
            names.append(str(ref))
    return tuple(names)


def mapping_set(state: AlignmentState, index: int, output: SssomOutput) -> MappingSet:
    """The SSSOM facts of the run's links."""
    spec = state.spec
    attributes = tuple(
        MatchAttribute(
            name=a.name,
            metric=a.metric.name,
            weight=a.weight,
            align_fields=_columns(state, "align", a.align_columns),
            target_fields=_columns(state, "target", a.target_columns),
            normalisers=tuple(r.name for r in a.normalise),
        )
        for a in spec.attributes
    )
    return MappingSet(
        mapping_set_id=output.mapping_set_id or f"urn:specengine:{spec.name}:mappings:{index}",
        threshold=spec.threshold,
        max_distance=_max_distance(spec),
        mapping_tool_version=__version__,
        mapping_date=state.started.date(),
        attributes=attributes,
        predicate=output.predicate,
        license=output.license,
        title=spec.name,
        description=spec.description,
        subject_source=_dataset(spec, "align"),
        object_source=_dataset(spec, "target"),
        subject_field_namespace=_dataset(spec, "align") + ":field:",
        object_field_namespace=_dataset(spec, "target") + ":field:",
    )


# --------------------------------------------------------------------------- the report


def _shown_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _details(state: AlignmentState, ia: Ints, ib: Ints, total: Floats) -> tuple[PairDetail, ...]:
    """Each pair with its normalised values and distances, attribute by attribute."""
    if not len(ia):
        return ()
    distances = attribute_distances(state, ia, ib)
    align, target = state.sides["align"], state.sides["target"]
    # A missing value adds the attribute's `missing` distance: show that, so the
    # contributions add up to the global distance.
    fills = {}
    for attribute in state.spec.attributes:
        metric = METRICS[attribute.metric.name].func()
        fills[attribute.name] = missing_fill(
            attribute.missing, metric.bounded(attribute.metric.options)
        )
    for name, values in distances.items():
        distances[name] = np.where(np.isnan(values), fills[name], values)
    out = []
    for k, (a, b) in enumerate(zip(ia.tolist(), ib.tolist(), strict=True)):
        comparisons = tuple(
            AttributeComparison(
                attribute=attribute.name,
                align_value=_shown_value(align.normalised[attribute.name][a]),
                target_value=_shown_value(target.normalised[attribute.name][b]),
                distance=float(distances[attribute.name][k]),
            )
            for attribute in state.spec.attributes
        )
        out.append(
            PairDetail(
                align_id=align.records.ids[a],
                target_id=target.records.ids[b],
                distance=float(total[k]),
                attributes=comparisons,
            )
        )
    return tuple(out)


def _sample(state: AlignmentState, count: int) -> tuple[PairDetail, ...]:
    """``count`` links spread evenly from the closest to the farthest."""
    assert state.links is not None
    links = state.links
    if not count or not len(links):
        return ()
    order = np.argsort(links.distance, kind="stable")
    picks = order[
        np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))
    ]
    align_index = {iri: i for i, iri in enumerate(state.records("align").ids)}
    target_index = {iri: i for i, iri in enumerate(state.records("target").ids)}
    ia = np.array([align_index[links.align_ids[i]] for i in picks], dtype=np.int64)
    ib = np.array([target_index[links.target_ids[i]] for i in picks], dtype=np.int64)
    return _details(state, ia, ib, links.distance[picks])


def _near_misses(state: AlignmentState, count: int) -> tuple[PairDetail, ...]:
    """The ``count`` closest pairs above the threshold."""
    if state.near is None or not count:
        return ()
    ia, ib, total = state.near
    order = np.lexsort((ib, ia, total))[:count]
    return _details(state, ia[order], ib[order], total[order])


def _sweep(state: AlignmentState, gold_file: Path) -> Sweep:
    from engine.alignment import evaluate

    spec = state.spec
    assert state.pairs is not None
    align, target = state.records("align"), state.records("target")
    target_source = spec.sources.align if spec.dedup else spec.sources.target
    assert not isinstance(target_source, str)
    gold = evaluate.read_gold(
        gold_file, align, target, spec.sources.align.id, target_source.id, spec.dedup
    )
    warning = gold.warning()
    if warning is not None and warning not in state.warnings:
        state.warnings.append(warning)
        print(f"warning: {warning}", file=sys.stderr)
    ia, ib, total, _ = state.pairs
    if state.near is not None:
        ia = np.concatenate([ia, state.near[0]])
        ib = np.concatenate([ib, state.near[1]])
        total = np.concatenate([total, state.near[2]])
    reach = near_limit(spec) or 1.0
    thresholds = sorted(
        {reach * k / SWEEP_STEPS for k in range(1, SWEEP_STEPS + 1)} | {spec.threshold}
    )
    points = tuple(
        SweepPoint(t, s.found, s.precision, s.recall, s.f1)
        for t, s in evaluate.sweep(
            ia, ib, total, gold, thresholds, spec.matching, len(target), spec.dedup
        )
    )
    return Sweep(str(gold_file), len(gold.ia), points)


def report(state: AlignmentState, output: HtmlOutput) -> AlignmentReport:
    """The HTML report's content."""
    assert state.links is not None and state.pairs is not None
    spec = state.spec

    def side(role: str) -> SourceSummary:
        records = state.records(role)
        name = records.source.removeprefix(f"{role} source ")
        return SourceSummary(name, len(records), len(records.skipped))

    sweep = _sweep(state, output.gold) if output.gold is not None else None
    summary = RunSummary(
        job=spec.name,
        spec_file=state.spec_file,
        engine_version=__version__,
        started=state.started,
        duration=datetime.now(UTC) - state.started,
        align=side("align"),
        target=side("target"),
        compared_pairs=state.compared_pairs,
        under_threshold=state.under_threshold,
        links=len(state.links),
        matching=spec.matching,
        threshold=spec.threshold,
        blocking=describe_blocking(spec.blocking),
        outputs=tuple(str(output_path(o)) for o in spec.outputs),
        warnings=tuple(state.warnings),
        dedup=spec.dedup,
    )
    attributes = tuple(
        AttributeInfo(
            name=a.name,
            align_columns=_columns(state, "align", a.align_columns),
            target_columns=_columns(state, "target", a.target_columns),
            normalisers=tuple(r.name for r in a.normalise),
            metric=a.metric.name,
            weight=a.weight,
            missing=str(a.missing),
        )
        for a in spec.attributes
    )
    distances = state.pairs[2]
    if state.near is not None:
        distances = np.concatenate([distances, state.near[2]])
    return AlignmentReport(
        summary=summary,
        attributes=attributes,
        distances=distances,
        sweep=sweep,
        sample=_sample(state, output.sample),
        near_misses=_near_misses(state, output.near_misses),
    )


# --------------------------------------------------------------------------- handlers


def handle_write(step: Write, state: AlignmentState) -> None:
    """Write one output into the run's transaction (committed after the last step)."""
    assert state.links is not None and state.transaction is not None
    output = state.spec.outputs[step.output]
    path = Path(step.path)
    try:
        if isinstance(output, RdfOutput):
            handle = state.transaction.open_text(path, newline="\n")
            if step.format == "nquads":
                graph = output.graph or f"urn:specengine:{state.spec.name}:linkset:{step.output}"
                write_nquads(state.links, output.predicate, graph, handle)
            else:
                writer = write_turtle if step.format == "turtle" else write_ntriples
                writer(state.links, output.predicate, handle)
            if output.void is not None:
                description = state.transaction.open_text(output.void, newline="\n")
                linkset = f"urn:specengine:{state.spec.name}:linkset:{step.output}"
                facts = _describe(state, linkset, output.predicate, path.resolve().as_uri())
                write_description(facts, description)
        elif isinstance(output, SssomOutput):
            handle = state.transaction.open_text(path, newline="\n")
            write_sssom(state.links, mapping_set(state, step.output, output), handle)
        elif isinstance(output, HtmlOutput):
            handle = state.transaction.open_text(path, newline="\n")
            write_report(report(state, output), handle)
        else:
            assert isinstance(output, LinksCsvOutput)
            handle = state.transaction.open_text(path)
            write_links_csv(state.links, handle, delimiter=output.delimiter)
    except OSError as exc:
        raise DataError(step.path, f"cannot write: {exc.strerror or exc}") from None
    state.written.append(step.path)


def _scores(state: AlignmentState, table: LinkTable) -> Floats:
    """Each link's SSSOM similarity score (the same as in an SSSOM output)."""
    facts = MappingSet(
        mapping_set_id=f"urn:specengine:{state.spec.name}:mappings",
        threshold=state.spec.threshold,
        max_distance=_max_distance(state.spec),
        mapping_tool_version=__version__,
        mapping_date=state.started.date(),
    )
    similarity: Floats = link_scores(table.distance, facts)[1]
    return similarity


def _description_lines(state: AlignmentState, step: Publish) -> list[str]:
    """The VoID + PROV-O description as N-Triples lines, for the published graph."""
    from rdflib import Graph

    publish = state.spec.publish
    assert publish is not None
    text = io.StringIO()
    write_description(_describe(state, publish.graph, publish.predicate, step.endpoint), text)
    graph = Graph().parse(data=text.getvalue(), format="turtle")
    lines = graph.serialize(format="nt", encoding="utf-8").decode("utf-8").splitlines(True)
    return sorted(line for line in lines if line.strip())


def handle_publish(step: Publish, state: AlignmentState) -> None:
    """Compare the links with the published graph; unless a dry run, replace it."""
    if state.links is None:  # a refused plan: no links to compare with the store
        return
    spec = state.spec.publish
    assert spec is not None
    where = f"publish to <{spec.graph}> at {step.endpoint}"
    auth = resolve_auth(spec.auth, where, state.environment)
    scores = _scores(state, state.links) if spec.scores else None
    new: dict[tuple[str, str], float | None] = {}
    for k, pair in enumerate(zip(state.links.align_ids, state.links.target_ids, strict=True)):
        score = None if scores is None else round(float(scores[k]), 6)
        if pair not in new or (score is not None and (new[pair] or 0) < score):
            new[pair] = score
    current = publishing.read_published(spec, auth, where)
    state.publish_diff = difference = publishing.diff(current, new)
    refused = difference.removals > spec.max_removals and not spec.allow_removals
    if state.dry_run:
        if refused:
            state.warnings.append(
                f"a run would be refused: {difference.removals:,} removals, more than"
                f" max_removals ({spec.max_removals:,}); set allow_removals: true to allow them"
            )
        return
    if refused:
        what = f"{len(difference.removed):,} published links"
        if difference.foreign:
            what += f" and {difference.foreign:,} other triples of the graph"
        raise DataError(
            where,
            f"this run would remove {what} ({difference.removals:,}), more than max_removals"
            f" ({spec.max_removals:,}); nothing was published or written. Check the sources"
            " and the graph, or raise max_removals or set allow_removals: true",
        )
    lines = list(link_lines(state.links, spec.predicate, spec.graph, scores))
    extra = _description_lines(state, step) if spec.description else []
    publishing.send_with(spec, auth, lines, extra, where)
    state.published = len(new)
    # The graph is replaced now: the local outputs follow it even when the check
    # below cannot be made; its failure is reported after they are written.
    try:
        count = publishing.count_links(spec, auth, where)
    except DataError as exc:
        state.publish_error = (
            where,
            f"the graph WAS replaced (the local outputs were written), but the check after"
            f" publishing failed: {exc.message}",
        )
        return
    if count != len(new):
        state.publish_error = (
            where,
            f"the graph was replaced (the local outputs were written), but the store holds"
            f" {count:,} links in it, expected {len(new):,}",
        )


HANDLERS: dict[type, Any] = {
    **COMPUTE_HANDLERS,
    Write: handle_write,
    Publish: handle_publish,
}
