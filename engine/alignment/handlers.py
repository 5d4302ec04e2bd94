"""The handlers of the alignment steps: the only code that changes an AlignmentState.

Each ``handle_*`` carries one step (``engine.alignment.steps``) out: it calls
the stage's pure functions (``prepare``, ``candidates``, ``stream``,
``match``, ``evaluate``, ``write``, ``publish``) with the step's configuration
and keeps what they return. The generic executor (``engine.execute``) walks
the plan and looks each step's handler up in :data:`HANDLERS`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from engine.alignment import evaluate, identity
from engine.alignment import publish as publishing
from engine.alignment.blocking import NoBlocking
from engine.alignment.candidates import build_rule, check_budget, empty_source, why_none
from engine.alignment.compare import compare_chunk, compare_task
from engine.alignment.curation import CURATED, Curation, fixed_records, read_curation
from engine.alignment.fit.tf import pair_frequencies
from engine.alignment.headers import check_columns, check_sources
from engine.alignment.match import select
from engine.alignment.multivalued import collapse_pairs
from engine.alignment.must_links import curated_pairs
from engine.alignment.prepare import prepare_side
from engine.alignment.records import Skip
from engine.alignment.remote import resolve_auth
from engine.alignment.review import split, widen
from engine.alignment.sources import read_source
from engine.alignment.state import AlignmentState, Pairs, Side
from engine.alignment.steps import (
    Block,
    Compare,
    Identity,
    Match,
    Prepare,
    Publish,
    ReadSource,
    Write,
)
from engine.alignment.stream import Compared, compare_all
from engine.alignment.write import curated, published_diffs, published_lines, render, scores
from engine.errors import DataError
from renderers import LinkTable
from renderers.graph import link_lines
from renderers.html import Sweep, SweepPoint
from renderers.links import links_order
from schemas.alignment.outputs import DiffOutput
from schemas.base import Ref

__all__ = [
    "HANDLERS",
    "handle_block",
    "handle_compare",
    "handle_identity",
    "handle_match",
    "handle_prepare",
    "handle_publish",
    "handle_read",
    "handle_write",
]

#: Thresholds in a report's precision/recall sweep.
SWEEP_STEPS = 20


def _say(state: AlignmentState, warning: str) -> None:
    """A warning for the summary; a real run also prints it at once."""
    state.warnings.append(warning)
    if state.transaction is not None:
        print(f"warning: {warning}", file=sys.stderr)


# --------------------------------------------------------------------------- read, prepare


def handle_read(step: ReadSource, state: AlignmentState) -> None:
    """Read a source into columnar records."""
    publish = state.spec.publish
    if step.role == "align" and publish is not None and publish.auth is not None:
        # Before minutes of reading and comparing: the credentials exist.
        resolve_auth(publish.auth, f"publish to <{publish.graph}>", state.environment)
    if step.role == "align":  # a misspelt column: a spec error before reading in full
        check_sources(state.spec, state.spec_file)
    started = time.perf_counter()
    if step.source == "same":  # deduplication: the target side is the align side itself
        state.sides[step.role] = state.sides["align"]
        return
    if _distributed(step, state):  # read in partitions on the workers: a stub here
        with _closing_on_error(step.session):
            records = step.session.read(step.role, step.source, state.spec_file)
    else:
        records = read_source(
            step.source, step.role, state.spec_file, environment=state.environment
        )
    check_columns(state.spec, state.spec_file, {step.role: records.names})
    state.warnings.extend(records.warnings)
    state.sides[step.role] = Side(records)
    state.timings[f"read {step.role}"] = time.perf_counter() - started


def handle_prepare(step: Prepare, state: AlignmentState) -> None:
    """Normalise and prepare every attribute; bad values fail the run or skip their records."""
    started = time.perf_counter()
    if _distributed(step, state):
        with _closing_on_error(step.session):
            for role in step.roles:
                side = state.sides[role]
                on_error = getattr(state.spec.sources, role).on_error
                side.records, never = step.session.prepare(
                    role, step.specs, on_error, side.records.source
                )
                state.warnings.extend(
                    f"attribute '{a.name}': every value is missing in {side.records.source}"
                    f" (each pair gets its 'missing' distance: {a.missing})"
                    for a in step.specs
                    if a.name in never and len(side.records)
                )
        state.timings["prepare"] = time.perf_counter() - started
        return
    for role in step.roles:
        side = state.sides[role]
        prepared = prepare_side(step.specs, side.records, role)
        side.normalised, side.prepared = prepared.normalised, prepared.prepared
        for attribute in step.specs:
            values = side.normalised.get(attribute.name, [])
            if values and all(v is None for v in values):
                state.warnings.append(
                    f"attribute '{attribute.name}': every value is missing in {side.records.source}"
                    f" (each pair gets its 'missing' distance: {attribute.missing})"
                )
        bad = prepared.bad
        if not bad:
            continue
        records = side.records
        if getattr(state.spec.sources, role).on_error == "fail":
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
        again = prepare_side(step.specs, side.records, role)
        if again.bad:  # cannot happen: the same values were dropped
            raise DataError(records.source, f"values still unreadable after skipping: {again.bad}")
        side.normalised, side.prepared = again.normalised, again.prepared
        if len(step.roles) == 1:  # a deduplication: the target side is the same records
            state.sides["target"] = side
    state.timings["prepare"] = time.perf_counter() - started


# --------------------------------------------------------------------------- block


def _no_candidates(
    state: AlignmentState,
    blocking: Ref,
    *,
    dedup: bool,
    allow_empty: bool,
    description: str,
    upper_bound: int = 0,
) -> None:
    """A rule found no pair: fail a run (outputs untouched), warn in a plan or with allow_empty."""
    assert state.rule is not None
    why = empty_source(state.sides, dedup) or why_none(state.sides, blocking, state.rule, {})
    if upper_bound:
        why += f" (its estimate, {upper_bound:,}, was an upper bound)"
    found = f"blocking rule {description} finds no candidate pair: {why}"
    if allow_empty:
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
    assert step.blocking is not None
    started = time.perf_counter()
    n_align, n_target = len(state.records("align")), len(state.records("target"))
    if empty_source(state.sides, step.dedup):
        # Whatever the rule, there is nothing to pair (and a rule on no records
        # would complain about its keys rather than about the source).
        state.rule = NoBlocking(n_align, n_target, label=step.description)
    elif _distributed(step, state):  # keys computed and counted on the workers
        with _closing_on_error(step.session):
            state.rule = step.session.block(step.blocking)
    else:
        state.rule = build_rule(state.sides, step.blocking, {})
    state.estimated_pairs = state.rule.estimate()
    if step.dedup:
        # Rules see the records twice: drop self pairs and count each pair once.
        state.estimated_pairs = max(0, (state.estimated_pairs - n_align) // 2)
    try:
        check_budget(
            step.blocking, state.rule, dedup=step.dedup, records=n_align, spec_file=state.spec_file
        )
    except DataError as exc:
        if not state.dry_run:
            raise
        state.refusal = exc
    if state.estimated_pairs == 0 and _distributed(step, state):
        step.session.close()
        raise DataError(
            state.spec_file,
            f"blocking rule {step.description} finds no candidate pair: the sources share no"
            " key. Nothing was written",
        )
    if state.estimated_pairs == 0:
        _no_candidates(
            state,
            step.blocking,
            dedup=step.dedup,
            allow_empty=step.allow_empty,
            description=step.description,
        )
    if state.transaction is not None:  # a real run (a plan lists them): say it before comparing
        for warning in [*state.warnings, *state.rule.warnings]:
            print(f"warning: {warning}", file=sys.stderr)
    state.timings["block"] = time.perf_counter() - started


# --------------------------------------------------------------------------- compare, match


def handle_compare(step: Compare, state: AlignmentState) -> None:
    """Weighted global distance over candidate pairs, chunk by chunk, on the executor."""
    if state.refusal is not None:  # a plan that publishes: nothing to compare, the plan says why
        return
    assert state.rule is not None
    started = time.perf_counter()
    if _distributed(step, state):
        found = _compare_distributed(step, state)
    else:
        found = compare_all(
            state.rule,
            step.specs,
            state.sides["align"].prepared,
            state.sides["target"].prepared,
            step.keep_until,
            executor=step.executor,
            matching=step.matching,
            dedup=step.dedup,
            estimated=state.estimated_pairs,
            progress=state.progress,
            distances=not _lean(step, state),
        )
    state.executor = found.executor
    state.compared_pairs += found.compared
    pairs = found.pairs
    if step.model is not None:  # the model's score: 1 - the match probability
        tf = pair_frequencies(
            step.model.term_frequency(),
            state.sides["align"].normalised,
            None if step.dedup else state.sides["target"].normalised,
            pairs.ia,
        )
        scored = step.model.distance(pairs.distances, len(pairs), tf)
        pairs = Pairs(pairs.ia, pairs.ib, scored, pairs.distances)
        pairs = pairs.take(pairs.total <= step.keep_until + 1e-12)
    # Records with several values are several rows: one pair per pair of records.
    pairs = collapse_pairs(pairs, state.records("align"), state.records("target"), dedup=step.dedup)
    if not found.compared and state.estimated_pairs:
        # The estimate was an upper bound (a pipeline, a deduplication): no pair after all.
        _no_candidates(
            state,
            state.spec.blocking,
            dedup=step.dedup,
            allow_empty=state.spec.allow_empty,
            description=state.rule.label,
            upper_bound=state.estimated_pairs,
        )
    if step.keep_until > step.threshold:  # near-misses apart: they are not candidates
        under = pairs.total <= step.threshold + 1e-9 * max(1.0, step.threshold)
        state.near = pairs.take(~under)
        pairs = pairs.take(under)
    state.pairs = pairs
    state.under_threshold = len(pairs) if found.under is None else found.under
    state.timings["compare"] = time.perf_counter() - started


#: Candidate pairs (the blocking's estimate) from which the pool is lean: below, the
#: distances kept cost little memory, and computing the links' again would cost time.
LEAN_FROM = 10_000_000


def _lean(step: Compare, state: AlignmentState) -> bool:
    """Whether the pool may keep only each pair's indexes and total (24 bytes, not 24 + 8
    per attribute): when nothing but the chosen links needs the per-attribute distances.

    Those are then computed again for the links alone (:func:`_attach_distances`). A
    model scores from them, near-misses, a review band and curation show them, and a
    record with several rows takes each attribute's best over its rows: those keep them.
    """
    spec = state.spec
    return (
        state.estimated_pairs >= LEAN_FROM
        and step.model is None
        and step.keep_until <= step.threshold
        and spec.review is None
        and not spec.curation
        and state.records("align").record is None
        and state.records("target").record is None
    )


def _attach_distances(state: AlignmentState, chosen: Pairs) -> Pairs:
    """The chosen pairs with their distance per attribute, computed again (the same floats:
    the same functions on the same values; the total is the compare stage's)."""
    spec = state.spec
    task = compare_task(
        spec.attributes,
        state.sides["align"].prepared,
        state.sides["target"].prepared,
        math.inf,
        dedup=False,  # the chosen pairs are each once already
        compiled=False,  # one pass: the metrics, without encoding both sides again
    )
    found = compare_chunk(task, chosen.ia, chosen.ib)
    if len(found.ia) != len(chosen):
        raise AssertionError("every chosen pair is compared again, under no limit")
    names = [a.name for a in spec.attributes]
    return Pairs(chosen.ia, chosen.ib, chosen.total, {n: found.distances[n] for n in names})


def _distributed(step: Any, state: AlignmentState) -> bool:
    """Whether the step runs on the workers (a plan reads and blocks on the driver)."""
    return step.session is not None and not state.dry_run


@contextmanager
def _closing_on_error(session: Any) -> Iterator[None]:
    try:
        yield
    except BaseException:
        session.close()
        raise


def _compare_distributed(step: Compare, state: AlignmentState) -> Compared:
    """The buckets compared on the workers; the distances per attribute stay there."""
    try:
        links, compared, under = step.session.compare(step.specs, step.keep_until, step.matching)
    except BaseException:
        step.session.close()
        raise
    return Compared(links, compared, step.session.description, under=under)


def _links_distributed(step: Match, state: AlignmentState, chosen: Pairs) -> Pairs:
    """The links' distances per attribute and their records' ids, fetched from the workers."""
    session = step.session
    try:
        chosen = session.distances(chosen, [a.name for a in state.spec.attributes])
        for role, rows in (("align", chosen.ia), ("target", chosen.ib)):
            ids = state.records(role).ids
            for row, iri in session.ids(role, rows).items():
                ids[row] = iri
    finally:
        session.close()
    return chosen


def _sweep(state: AlignmentState, step: Match, gold_file: Path) -> Sweep:
    """The precision/recall of the pairs kept (near-misses too) over thresholds up to the reach."""
    assert state.pairs is not None
    spec = state.spec
    align, target = state.records("align"), state.records("target")
    target_source = spec.sources.align if spec.dedup else spec.sources.target
    assert not isinstance(target_source, str)
    gold = evaluate.read_gold(
        gold_file, align, target, spec.sources.align.id, target_source.id, step.dedup
    )
    warning = gold.warning()
    if warning is not None and warning not in state.warnings:
        _say(state, warning)
    ia, ib, total = state.pairs.ia, state.pairs.ib, state.pairs.total
    if state.near is not None:
        ia = np.concatenate([ia, state.near.ia])
        ib = np.concatenate([ib, state.near.ib])
        total = np.concatenate([total, state.near.total])
    steps = {step.reach * k / SWEEP_STEPS for k in range(1, SWEEP_STEPS + 1)}
    thresholds = sorted(steps | {step.threshold})
    points = tuple(
        SweepPoint(t, s.found, s.precision, s.recall, s.f1)
        for t, s in evaluate.sweep(
            ia, ib, total, gold, thresholds, step.mode, len(target), step.dedup
        )
    )
    return Sweep(str(gold_file), len(gold.ia), points)


def _read_curation(state: AlignmentState, step: Match) -> Curation:
    spec = state.spec
    target_source = spec.sources.align if spec.dedup else spec.sources.target
    assert not isinstance(target_source, str)
    curation = read_curation(
        step.curation,
        state.records("align"),
        state.records("target"),
        spec.sources.align.id,
        target_source.id,
        dedup=step.dedup,
    )
    if curation.ignored:
        _say(
            state,
            f"{curation.ignored:,} rows of the curation are neither a manual curation"
            f" ({CURATED}) nor negated (predicate_modifier Not): left out",
        )
    return curation


def _concatenate(first: Pairs, second: Pairs) -> Pairs:
    return Pairs(
        np.concatenate([first.ia, second.ia]),
        np.concatenate([first.ib, second.ib]),
        np.concatenate([first.total, second.total]),
        {
            name: np.concatenate([d, second.distances.get(name, np.full(len(second), np.nan))])
            for name, d in first.distances.items()
        },
    )


def handle_match(step: Match, state: AlignmentState) -> None:
    """Select the links and attach record ids, in a deterministic order.

    A real run also scores the HTML reports' sweeps against their gold links.
    """
    if state.pairs is None:  # a refused plan compared nothing
        return
    started = time.perf_counter()
    pairs = state.pairs
    if state.compared_pairs and not len(pairs):
        # Unlike no candidate pair (a blocking or source problem), a strict
        # threshold is a choice: warn, and write the empty outputs.
        _say(
            state,
            f"none of the {state.compared_pairs:,} candidate pairs is at or under the threshold"
            f" ({step.threshold:g}): no links (`engine eval` sweeps thresholds against gold links)",
        )
    if step.review is not None:  # the band may reach over the threshold
        pairs = widen(pairs, state.near, step.review[1])
    if step.curation:
        state.curation = _read_curation(state, step)
        width = max(len(state.records("target")), 1)
        pairs = pairs.take(
            fixed_records(state.curation, pairs.ia, pairs.ib, step.mode, width, dedup=step.dedup)
        )
    reach = step.threshold if step.review is None else max(step.threshold, step.review[1])
    if _distributed(step, state):  # the workers chose the links (distributed.match)
        chosen = _links_distributed(step, state, pairs)
    else:
        chosen = pairs.take(
            select(pairs.ia, pairs.ib, pairs.total, step.mode, reach, dedup=step.dedup)
        )
        if len(state.spec.attributes) and not chosen.distances:  # a lean pool (_lean)
            chosen = _attach_distances(state, chosen)
    if step.review is not None:
        chosen, state.review = split(chosen, step.threshold, *step.review)
    if state.curation:  # the must-links, whatever their score
        chosen = _concatenate(chosen, curated_pairs(state, state.curation))
    align_ids, target_ids = state.records("align").ids, state.records("target").ids
    table = LinkTable(
        align_ids=[align_ids[i] for i in chosen.ia],
        target_ids=[target_ids[i] for i in chosen.ib],
        distance=chosen.total,
        attributes=chosen.distances,
        probability=None if state.spec.model is None else 1.0 - chosen.total,
    )
    order = links_order(table)
    if order is not None:
        table, chosen = table.take(order), chosen.take(order)
    state.links, state.link_rows = table, (chosen.ia, chosen.ib)
    if state.transaction is not None:  # a run that writes: its reports' gold scores
        for gold in step.golds:
            state.sweeps[gold] = _sweep(state, step, gold)
    state.timings["match"] = time.perf_counter() - started


# --------------------------------------------------------------------------- identity graph

#: Findings of one check said one by one; the rest are counted.
SHOWN_FINDINGS = 10


def handle_identity(step: Identity, state: AlignmentState) -> None:
    """Cluster the links; a failed check fails a run here, before any output is written."""
    if state.links is None:  # a refused plan: no links
        return
    started = time.perf_counter()
    state.identity = graph = identity.graph(state.links, dedup=state.spec.dedup)
    if step.checks is not None:
        state.findings = identity.check(graph, state.links, step.checks)
    for check in ("same_source", "max_cluster_size", "bridges"):
        found = [f for f in state.findings if f.check == check and f.action == "warn"]
        for finding in found[:SHOWN_FINDINGS]:
            _say(state, finding.text())
        if len(found) > SHOWN_FINDINGS:
            _say(state, f"{check}: {len(found) - SHOWN_FINDINGS:,} more")
    failed = [f for f in state.findings if f.action == "fail"]
    state.timings["identity"] = time.perf_counter() - started
    if not failed:
        return
    shown = "; ".join(f.text() for f in failed[:SHOWN_FINDINGS])
    more = f"; and {len(failed) - SHOWN_FINDINGS:,} more" if len(failed) > SHOWN_FINDINGS else ""
    checks = ", ".join(dict.fromkeys(f.check for f in failed))
    if state.transaction is None:  # a plan or an evaluation: say it, the figures still count
        state.warnings.append(
            f"a run would fail the identity-graph check(s) {checks}: {shown}{more}"
        )
        return
    raise DataError(
        state.spec_file,
        f"identity-graph check(s) {checks} failed: {shown}{more}. Nothing was written;"
        " fix the links (threshold, attributes) or set the check to warn",
    )


# --------------------------------------------------------------------------- write, publish


def handle_write(step: Write, state: AlignmentState) -> None:
    """Write one output into the run's transaction (committed after the last step)."""
    try:
        render(state, step.output, step.config, step.format, Path(step.path))
    except OSError as exc:
        raise DataError(step.path, f"cannot write: {exc.strerror or exc}") from None
    state.written.append(step.path)


def handle_publish(step: Publish, state: AlignmentState) -> None:
    """Compare the links with the published graph; unless a dry run, replace it."""
    if state.links is None:  # a refused plan: no links to compare with the store
        return
    spec = step.config
    assert spec is not None
    where = f"publish to <{spec.graph}> at {step.endpoint}"
    auth = resolve_auth(spec.auth, where, state.environment)
    link_scores = scores(state, state.links) if spec.scores else None
    new: dict[tuple[str, str], float | None] = {}
    for k, pair in enumerate(zip(state.links.align_ids, state.links.target_ids, strict=True)):
        score = None if link_scores is None else round(float(link_scores[k]), 6)
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
    authors = {pair: author for pair, (author, _) in curated(state).items()}
    lines = list(link_lines(state.links, spec.predicate, spec.graph, link_scores, authors))
    extra = published_lines(state, step.endpoint) if spec.description else []
    if any(isinstance(o, DiffOutput) and o.of is None for o in state.spec.outputs):
        # What the graph holds before it is replaced: the diff outputs' "before".
        before = publishing.graph_triples(spec, auth, where)
        published_diffs(state, before, [line for link in lines for line in link] + extra)
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
    ReadSource: handle_read,
    Prepare: handle_prepare,
    Block: handle_block,
    Compare: handle_compare,
    Match: handle_match,
    Identity: handle_identity,
    Write: handle_write,
    Publish: handle_publish,
}
