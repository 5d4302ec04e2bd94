"""The write stage: what each output says, as the plain data the renderers take.

Every function reads the state the earlier steps filled in (the links with
their distances per attribute, the near-misses, the report's sweeps) and
computes nothing again; :func:`render` hands an output's content to its
renderer (``renderers``), and :func:`published_lines` gives the triples a
publish step sends besides the links.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from engine.alignment.blocking import describe
from engine.alignment.changes import Changes, Quad, changes, read_quads
from engine.alignment.compare import missing_fill
from engine.alignment.fit.model import Model
from engine.alignment.formats import FORMATS
from engine.alignment.identity import output_rows as cluster_rows
from engine.alignment.identity import report as identity_summary
from engine.alignment.metrics import METRICS
from engine.alignment.review import evidence, review_pairs
from engine.alignment.state import AlignmentState, Pairs
from engine.version import __version__
from renderers import LinksetDescription, LinkTable, write_description
from renderers.clusters import write_clusters_csv, write_clusters_rdf
from renderers.csv import write_links_csv
from renderers.graph import curation_lines
from renderers.html import (
    AlignmentReport,
    AttributeComparison,
    AttributeInfo,
    PairDetail,
    RunSummary,
    SourceSummary,
    write_report,
)
from renderers.html_model import ModelAttribute, ModelFacts, ModelLevel
from renderers.rdf import check_iri, checked_pairs, write_nquads, write_ntriples, write_turtle
from renderers.review import write_review_csv, write_review_sssom
from renderers.sparql_update import write_update
from renderers.sssom import MappingSet, MatchAttribute, link_scores, write_sssom
from schemas.alignment import (
    AlignmentSpec,
    HtmlOutput,
    LinksCsvOutput,
    RdfOutput,
    SssomOutput,
    output_path,
)
from schemas.alignment.outputs import ClustersOutput, DiffOutput
from schemas.alignment.review import ReviewOutput
from schemas.alignment.spec import diff_source

__all__ = [
    "FORMATS",
    "curated",
    "linkset",
    "mapping_set",
    "published_lines",
    "render",
    "report",
    "scores",
]

Floats = npt.NDArray[np.float64]

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


def linkset(state: AlignmentState, iri: str, predicate: str, dump: str) -> LinksetDescription:
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
        linkset=iri,
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
            normalisers=tuple(r.name for r in a.chain("align")),
            target_normalisers=tuple(r.name for r in a.chain("target")),
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


def _details(state: AlignmentState, pairs: Pairs) -> tuple[PairDetail, ...]:
    """Each pair with its normalised values and distances, attribute by attribute."""
    if not len(pairs):
        return ()
    align, target = state.sides["align"], state.sides["target"]
    # A missing value adds the attribute's `missing` distance: show that, so the
    # contributions add up to the global distance.
    distances = {}
    for attribute in state.spec.attributes:
        metric = METRICS[attribute.metric.name].func()
        fill = missing_fill(attribute.missing, metric.bounded(attribute.metric.options))
        values = pairs.distances[attribute.name]
        # With a model a missing value is no evidence, not a distance: shown missing.
        scored = state.spec.model is not None
        distances[attribute.name] = values if scored else np.where(np.isnan(values), fill, values)
    weights, prior = evidence(state, pairs)
    out = []
    for k, (a, b) in enumerate(zip(pairs.ia.tolist(), pairs.ib.tolist(), strict=True)):
        comparisons = tuple(
            AttributeComparison(
                attribute=attribute.name,
                align_value=_shown_value(align.normalised[attribute.name][a]),
                target_value=_shown_value(target.normalised[attribute.name][b]),
                distance=float(distances[attribute.name][k]),
                evidence=None if prior is None else float(weights[attribute.name][k]),
            )
            for attribute in state.spec.attributes
        )
        out.append(
            PairDetail(
                align_id=align.records.ids[a],
                target_id=target.records.ids[b],
                distance=float(pairs.total[k]),
                attributes=comparisons,
                probability=None if prior is None else 1.0 - float(pairs.total[k]),
                match_weight=_match_weight(prior, comparisons),
            )
        )
    return tuple(out)


def _sample(state: AlignmentState, count: int) -> tuple[PairDetail, ...]:
    """``count`` links spread evenly from the closest to the farthest."""
    links, rows = state.links, state.link_rows
    if links is None or rows is None or not count or not len(links):
        return ()
    order = np.argsort(links.distance, kind="stable")
    picks = order[
        np.unique(np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int))
    ]
    sample = Pairs(
        rows[0][picks],
        rows[1][picks],
        links.distance[picks],
        {name: distance[picks] for name, distance in links.attributes.items()},
    )
    return _details(state, sample)


def _near_misses(state: AlignmentState, count: int) -> tuple[PairDetail, ...]:
    """The ``count`` closest pairs above the threshold."""
    near = state.near
    if near is None or not count:
        return ()
    return _details(state, near.take(np.lexsort((near.ib, near.ia, near.total))[:count]))


def _model_facts(spec: AlignmentSpec) -> ModelFacts | None:
    """The fitted model as the report shows it: each level's m, u and match weight."""
    if spec.model is None:
        return None
    model = Model.from_data(spec.model.model_dump())
    return ModelFacts(
        prior=model.prior,
        threshold=model.threshold,
        attributes=tuple(
            ModelAttribute(
                a.name,
                tuple(
                    ModelLevel(name, m, u, float(bits))
                    for name, m, u, bits in zip(a.names(), a.m, a.u, a.bits(), strict=True)
                ),
                a.term_frequency,
            )
            for a in model.attributes
        ),
    )


def _match_weight(
    prior: float | None, comparisons: tuple[AttributeComparison, ...]
) -> float | None:
    """With a model, a pair's match weight: the prior's plus each attribute's evidence."""
    if prior is None:
        return None
    return prior + sum(c.evidence or 0.0 for c in comparisons)


def report(state: AlignmentState, output: HtmlOutput) -> AlignmentReport:
    """The HTML report's content."""
    assert state.links is not None and state.pairs is not None
    spec = state.spec

    def side(role: str) -> SourceSummary:
        records = state.records(role)
        name = records.source.removeprefix(f"{role} source ")
        return SourceSummary(name, len(records), len(records.skipped))

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
        blocking=describe(spec.blocking),
        outputs=tuple(str(output_path(o)) for o in spec.outputs),
        warnings=tuple(state.warnings),
        dedup=spec.dedup,
    )
    attributes = tuple(
        AttributeInfo(
            name=a.name,
            align_columns=_columns(state, "align", a.align_columns),
            target_columns=_columns(state, "target", a.target_columns),
            normalisers=tuple(a.normaliser_names),
            metric=a.metric.name,
            weight=a.weight,
            missing=str(a.missing),
        )
        for a in spec.attributes
    )
    distances = state.pairs.total
    if state.near is not None:
        distances = np.concatenate([distances, state.near.total])
    return AlignmentReport(
        summary=summary,
        attributes=attributes,
        distances=distances,
        sweep=state.sweeps.get(output.gold) if output.gold is not None else None,
        sample=_sample(state, output.sample),
        near_misses=_near_misses(state, output.near_misses),
        model=_model_facts(spec),
        identity=None if state.identity is None else identity_summary(state),
    )


# --------------------------------------------------------------------------- rendering


def curated(state: AlignmentState) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """The links that came from the spec's curation: their curator's IRI and date."""
    if not state.curation:
        return {}
    return {pair: (c.author, c.date) for pair, c in state.curation.by_ids().items()}


def _annotation_lines(state: AlignmentState, index: int, output: RdfOutput) -> Iterator[str]:
    """The N-Triples lines annotating an RDF output's links that came from the curation."""
    linkset_iri = f"urn:specengine:{state.spec.name}:linkset:{index}"
    for (subject, target), (author, _) in sorted(curated(state).items()):
        yield from curation_lines(linkset_iri, subject, output.predicate, target, author)


def _curation_annotations(
    state: AlignmentState, index: int, output: RdfOutput, fmt: str, handle: TextIO
) -> None:
    """After an RDF output's links: the annotation of those that came from the curation.

    N-Triples lines, which Turtle reads too; N-Quads put them in the links' graph.
    """
    graph = _graph(state, index, output) if fmt == "nquads" else None
    for line in _annotation_lines(state, index, output):
        handle.write(line if graph is None else line[: -len(" .\n")] + f" <{graph}> .\n")


def _graph(state: AlignmentState, index: int, output: RdfOutput) -> str:
    """The named graph of an N-Quads output's triples."""
    return output.graph or f"urn:specengine:{state.spec.name}:linkset:{index}"


def _write_rdf(
    state: AlignmentState, index: int, output: RdfOutput, fmt: str, handle: TextIO
) -> None:
    """An RDF output's links, then the annotations of those from the curation."""
    assert state.links is not None
    if fmt == "nquads":
        write_nquads(state.links, output.predicate, _graph(state, index, output), handle)
    else:
        writer = write_turtle if fmt == "turtle" else write_ntriples
        writer(state.links, output.predicate, handle)
    _curation_annotations(state, index, output, fmt, handle)


def _rdf_quads(
    state: AlignmentState, index: int, output: RdfOutput, fmt: str, graph: str | None
) -> set[Quad]:
    """The triples of RDF output ``index``, as :func:`~engine.alignment.changes.read_quads` reads them.

    Made from the links, not by writing the output and parsing it back (rdflib takes
    seconds per hundred thousand triples): its terms are the IRIs between ``<>`` as
    written, which a reader gives back unchanged, as :func:`renderers.rdf.check_iri`
    lets through no escape nor anything else a reader would turn into another IRI.
    An N-Quads output's triples are in its own graph, the others' in ``graph``.
    """
    assert state.links is not None
    if fmt == "nquads":
        graph = _graph(state, index, output)
    predicate = f"<{check_iri(output.predicate)}>"
    quads = {(f"<{s}>", predicate, f"<{o}>", graph) for s, o in checked_pairs(state.links)}
    for line in _annotation_lines(state, index, output):
        subject, property_, value = line[: -len(" .\n")].split(" ")
        quads.add((subject, property_, value, graph))
    return quads


def _write_diff(state: AlignmentState, output: DiffOutput, path: Path) -> None:
    """The SPARQL Update from the RDF output on disk (the previous run's) to this run's."""
    source = diff_source(state.spec.outputs, output, publishes=state.spec.publish is not None)
    if source is None:  # against the published graph: the publish step writes it
        return
    assert isinstance(source, int)  # the spec's checks said so
    rdf = state.spec.outputs[source]
    assert isinstance(rdf, RdfOutput)
    fmt = rdf.resolved_format
    found = changes(
        rdf.rdf, _rdf_quads(state, source, rdf, fmt, output.graph), fmt, output.graph, rdf.predicate
    )
    removed, added = found.links(found.removed), found.links(found.added)
    comment = (
        f"specengine {__version__}: the change of {rdf.rdf.name} ({state.spec.name})"
        f" since the previous run, {state.started.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        f"{removed:,} links removed, {added:,} added"
        f" ({len(found.removed):,} triples deleted, {len(found.added):,} inserted)"
    )
    assert state.transaction is not None
    handle = state.transaction.open_text(path, newline="\n")
    write_update(found.removed, found.added, comment, handle)


def published_diffs(
    state: AlignmentState, before: set[tuple[str, str, str]], lines: list[str]
) -> None:
    """The diff outputs against the published graph: from what it holds to ``lines``.

    Written by the publish step, once it knows both (before it replaces the graph).
    """
    publish = state.spec.publish
    assert publish is not None and state.transaction is not None
    after = {q[:3] for q in read_quads("".join(lines), "ntriples", None, "the new graph")}
    graph = publish.graph
    for output in state.spec.outputs:
        if not isinstance(output, DiffOutput) or output.of is not None:
            continue
        target = output.graph or graph
        removed = tuple(sorted((s, p, o, target) for s, p, o in before - after))
        added = tuple(sorted((s, p, o, target) for s, p, o in after - before))
        found = Changes(removed, added, publish.predicate)
        comment = (
            f"specengine {__version__}: the change of <{graph}> ({state.spec.name}) as this run"
            f" publishes it, {state.started.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
            f"{found.links(removed):,} links removed, {found.links(added):,} added"
            f" ({len(removed):,} triples deleted, {len(added):,} inserted)"
        )
        handle = state.transaction.open_text(Path(output.diff), newline="\n")
        write_update(removed, added, comment, handle)


def render(state: AlignmentState, index: int, output: Any, fmt: str, path: Path) -> None:
    """Write output number ``index`` (its spec ``output``) into the run's transaction.

    The output's format (:data:`~engine.alignment.formats.FORMATS`) writes it. An
    ``OSError`` (the file system refuses) is left to the caller.
    """
    assert state.links is not None and state.transaction is not None
    FORMATS.of(output).write(state, index, output, fmt, path)


@FORMATS.register("rdf", RdfOutput, offered=(("ttl", "Turtle (.ttl)"), ("nt", "N-Triples (.nt)")))
def _render_rdf(state: AlignmentState, index: int, output: RdfOutput, fmt: str, path: Path) -> None:
    assert state.transaction is not None
    handle = state.transaction.open_text(path, newline="\n")
    _write_rdf(state, index, output, fmt, handle)
    if output.void is not None:
        description = state.transaction.open_text(output.void, newline="\n")
        iri = f"urn:specengine:{state.spec.name}:linkset:{index}"
        facts = linkset(state, iri, output.predicate, path.resolve().as_uri())
        write_description(facts, description)


@FORMATS.register("csv", LinksCsvOutput, offered=(("csv", "CSV (.csv)"),))
def _render_csv(
    state: AlignmentState, index: int, output: LinksCsvOutput, fmt: str, path: Path
) -> None:
    assert state.links is not None and state.transaction is not None
    handle = state.transaction.open_text(path)
    write_links_csv(state.links, handle, delimiter=output.delimiter)


@FORMATS.register("sssom", SssomOutput, offered=(("sssom.tsv", "SSSOM (.sssom.tsv)"),))
def _render_sssom(
    state: AlignmentState, index: int, output: SssomOutput, fmt: str, path: Path
) -> None:
    assert state.links is not None and state.transaction is not None
    handle = state.transaction.open_text(path, newline="\n")
    write_sssom(state.links, mapping_set(state, index, output), handle, curated(state))


@FORMATS.register("html", HtmlOutput, offered=(("html", "HTML report (.html)"),))
def _render_html(
    state: AlignmentState, index: int, output: HtmlOutput, fmt: str, path: Path
) -> None:
    assert state.transaction is not None
    handle = state.transaction.open_text(path, newline="\n")
    write_report(report(state, output), handle)


@FORMATS.register("clusters", ClustersOutput)
def _render_clusters(
    state: AlignmentState, index: int, output: ClustersOutput, fmt: str, path: Path
) -> None:
    assert state.transaction is not None
    rows = cluster_rows(state, output)
    if output.resolved_format == "csv":
        names = [f"cluster_id_{limit:g}" for limit in output.thresholds]
        write_clusters_csv(rows, state.transaction.open_text(path), names)
    else:
        handle = state.transaction.open_text(path, newline="\n")
        write_clusters_rdf(rows, output.predicate, output.resolved_format, handle)


@FORMATS.register("diff", DiffOutput)
def _render_diff(
    state: AlignmentState, index: int, output: DiffOutput, fmt: str, path: Path
) -> None:
    _write_diff(state, output, path)


@FORMATS.register("review", ReviewOutput)
def _render_review(
    state: AlignmentState, index: int, output: ReviewOutput, fmt: str, path: Path
) -> None:
    """The pairs of the review band, with both records' values and each attribute's evidence."""
    assert state.transaction is not None
    pairs = () if state.review is None else review_pairs(state, state.review)
    names = [a.name for a in state.spec.attributes]
    model = state.spec.model is not None
    if output.resolved_format == "csv":
        handle = state.transaction.open_text(path)
        write_review_csv(pairs, names, model, handle, delimiter=output.delimiter)
        return
    facts = SssomOutput.model_construct(
        sssom=path,
        predicate="http://www.w3.org/2002/07/owl#sameAs",
        mapping_set_id=f"urn:specengine:{state.spec.name}:review:{index}",
        license=None,
    )
    handle = state.transaction.open_text(path, newline="\n")
    write_review_sssom(pairs, mapping_set(state, index, facts), handle)


def scores(state: AlignmentState, table: LinkTable) -> Floats:
    """Each link's score: its match probability with a model, else its SSSOM similarity score."""
    if table.probability is not None:
        return table.probability
    facts = MappingSet(
        mapping_set_id=f"urn:specengine:{state.spec.name}:mappings",
        threshold=state.spec.threshold,
        max_distance=_max_distance(state.spec),
        mapping_tool_version=__version__,
        mapping_date=state.started.date(),
    )
    similarity: Floats = link_scores(table.distance, facts)[1]
    return similarity


def published_lines(state: AlignmentState, endpoint: str) -> list[str]:
    """The VoID + PROV-O description as N-Triples lines, for the published graph."""
    from rdflib import Graph

    publish = state.spec.publish
    assert publish is not None
    text = io.StringIO()
    write_description(linkset(state, publish.graph, publish.predicate, endpoint), text)
    graph = Graph().parse(data=text.getvalue(), format="turtle")
    lines = graph.serialize(format="nt", encoding="utf-8").decode("utf-8").splitlines(True)
    return sorted(line for line in lines if line.strip())
