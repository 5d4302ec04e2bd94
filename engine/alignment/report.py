"""Text shown to the user: the plan of an alignment job and the summary of a run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.alignment.blocking import Pipeline, Union, describe
from engine.alignment.fit.summary import attribute_text, threshold_text
from engine.alignment.state import AlignmentState, Floats, Ints
from engine.alignment.steps import (
    Block,
    Compare,
    Identity,
    Match,
    Prepare,
    Publish,
    ReadSource,
    Write,
    near_limit,
)
from engine.alignment.stream import compare_all

if TYPE_CHECKING:
    from engine.kinds import Plan

__all__ = ["eval_text", "identity_line", "plan_text", "summary_text", "sweep_pairs"]

#: Runs with at most this many links list them in the summary.
SHOW_LINKS = 20


def _shown(path: str) -> str:
    """A path relative to the working directory when it is below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _records_line(state: AlignmentState, role: str) -> str:
    records = state.records(role)
    line = f"{records.record_count:,} records"
    if records.record is not None:  # several values: a row per combination
        line += f" ({len(records):,} rows: one per combination of values)"
    if records.skipped:
        line += f", {len(records.skipped):,} rows skipped"
    return line


def _skipped(state: AlignmentState) -> list[str]:
    lines: list[str] = []
    for role in ("align", "target"):
        records = state.records(role)
        for skip in records.skipped[:10]:
            lines.append(f"  skipped {records.source}:{skip.row}: {skip.reason}")
        if len(records.skipped) > 10:
            lines.append(
                f"  ... and {len(records.skipped) - 10:,} more skipped in {records.source}"
            )
    return lines


def _members(blocking: Any) -> list[Any]:
    options = blocking.options
    return list(options) if isinstance(options, list) else list(getattr(options, "rules", []))


def identity_line(state: AlignmentState) -> str:
    """The clusters in a line: how many, the largest, what the checks found."""
    graph = state.identity
    if graph is None:
        return "no clusters"
    sizes = graph.sizes
    line = f"{len(sizes):,} clusters of {len(graph.iris):,} linked records"
    if len(sizes):
        line += f", the largest {int(sizes.max()):,}"
    if state.spec.checks is not None:
        counts = {f.check: 0 for f in state.findings}
        for finding in state.findings:
            counts[finding.check] += 1
        found = ", ".join(f"{n:,} {check}" for check, n in counts.items())
        line += f"; checks: {found or 'nothing found'}"
    return line


def _checks_text(state: AlignmentState) -> str:
    """The spec's identity-graph checks in a few words."""
    from engine.alignment.identity import checks_text

    return checks_text(state.spec.checks, dedup=state.spec.dedup)


def _band_text(state: AlignmentState) -> str:
    """The review band in a few words: probabilities with a model, else distances."""
    band = state.spec.review
    assert band is not None
    if state.spec.model is not None:
        return f"match probability in [{band.start:g}, {band.end:g})"
    return f"global distance in ({band.start:g}, {band.end:g}]"


def plan_text(plan: Plan, state: AlignmentState) -> str:
    """The plan with the figures a dry run found (record counts, candidate pairs)."""
    spec = state.spec
    model = next((s.model for s in plan.steps if isinstance(s, Compare)), None)
    lines = [f"plan for {plan.kind} '{plan.name}' ({plan.spec_file})"]
    n_align, n_target = len(state.records("align")), len(state.records("target"))
    for number, step in enumerate(plan.steps, 1):
        if isinstance(step, ReadSource):
            if step.role == "target" and spec.dedup:
                lines.append(f"{number}. deduplicate the align records (target: same)")
                continue
            records = state.records(step.role)
            lines.append(f"{number}. read {records.source}: {_records_line(state, step.role)}")
        elif isinstance(step, Prepare):
            lines.append(f"{number}. compare {len(spec.attributes)} attribute(s):")
            for a in spec.attributes:
                chain = " | ".join(a.normaliser_names) or "as is"
                cols = "/".join(str(c) for c in a.align_columns)
                tcols = "/".join(str(c) for c in a.target_columns)
                scoring = (
                    f"weight {a.weight:g}, missing: {a.missing}"
                    if model is None
                    else attribute_text(model, a.name)
                )
                lines.append(
                    f"   - {a.name}: {cols} ~ {tcols}, normalise: {chain}, metric: {a.metric.name}"
                    f", {scoring}"
                )
        elif isinstance(step, Block):
            full = n_align * (n_align - 1) // 2 if spec.dedup else n_align * n_target
            ratio = f" ({state.estimated_pairs / full:.2%} of {full:,})" if full else ""
            lines.append(f"{number}. blocking: {step.description}")
            lines.append(f"   estimated comparisons: {state.estimated_pairs:,}{ratio}")
            if isinstance(state.rule, Union | Pipeline):
                # Each rule's own estimate: where the comparisons come from.
                for description, member in zip(
                    [describe(r) for r in _members(spec.blocking)],
                    state.rule.rules,
                    strict=False,
                ):
                    lines.append(f"   - {description}: {member.estimate():,}")
            if state.rule is not None:
                lines.extend(f"   warning: {warning}" for warning in state.rule.warnings)
            lines.extend(f"   warning: {warning}" for warning in state.warnings)
            if state.refusal is not None:  # shown in place; the command fails after the plan
                lines.append(f"   refused: {state.refusal.message}")
        elif isinstance(step, Compare) and model is not None:
            lines.append(f"{number}. {threshold_text(model)}")
        elif isinstance(step, Compare):
            lines.append(f"{number}. keep pairs with global distance <= {step.threshold:g}")
            if step.keep_until > step.threshold:
                lines.append(f"   (and near-misses up to {step.keep_until:g} for the report)")
        elif isinstance(step, Match):
            lines.append(f"{number}. matching: {step.mode}")
            if state.spec.review is not None:
                lines.append(f"   {_band_text(state)}: written for review, not linked")
        elif isinstance(step, Identity):
            lines.append(f"{number}. cluster the links; {_checks_text(state)}")
            if state.identity is not None:
                lines.append(f"   {identity_line(state)}")
        elif isinstance(step, Write):
            lines.append(f"{number}. write {step.format} -> {_shown(step.path)}")
        elif isinstance(step, Publish):
            lines.append(
                f"{number}. publish to graph <{step.graph}> ({step.protocol} {step.endpoint})"
            )
            if state.publish_diff is not None:
                count = 0 if state.links is None else len(state.links)
                lines.append(f"   {count:,} links; against what is published:")
                lines.extend(f"   {line}" for line in state.publish_diff.lines())
    lines.extend(_skipped(state))
    return "\n".join(lines)


def summary_text(state: AlignmentState, seconds: float) -> str:
    """The end-of-run summary: records, comparisons, links, outputs, time."""
    links = state.links
    count = 0 if links is None else len(links.align_ids)
    lines = [
        f"align:  {_records_line(state, 'align')} ({state.records('align').source})",
        f"target: {_records_line(state, 'target')} ({state.records('target').source})",
        f"compared {state.compared_pairs:,} candidate pairs, {state.under_threshold:,} under the threshold",
        f"links: {count:,} ({state.spec.matching})",
    ]
    if state.review is not None:
        lines.append(f"review: {len(state.review):,} pairs, {_band_text(state)}")
    if links is not None and 0 < count <= SHOW_LINKS:
        for a, t, d in zip(links.align_ids, links.target_ids, links.distance, strict=True):
            lines.append(f"  <{a}> -> <{t}>  distance {d:g}")
    if state.identity is not None:
        lines.append(f"clusters: {identity_line(state)}")
        lines.extend(f"  {finding.text()}" for finding in state.findings[:SHOW_LINKS])
        if len(state.findings) > SHOW_LINKS:
            lines.append(f"  ... and {len(state.findings) - SHOW_LINKS:,} more findings")
    lines.extend(f"wrote {_shown(path)}" for path in state.written)
    if state.published is not None and state.spec.publish is not None:
        lines.append(f"published {state.published:,} links to <{state.spec.publish.graph}>")
        if state.publish_diff is not None:
            lines.append("  " + state.publish_diff.lines()[0])
    lines.extend(_skipped(state))
    lines.append(f"done in {seconds:.2f} s")
    return "\n".join(lines)


def sweep_pairs(state: AlignmentState, reach: float) -> tuple[Ints, Ints, Floats]:
    """The candidate pairs up to ``reach``: those the run kept, or compared again further."""
    assert state.pairs is not None and state.rule is not None
    spec = state.spec
    if reach > near_limit(spec):
        found = compare_all(
            state.rule,
            spec.attributes,
            state.sides["align"].prepared,
            state.sides["target"].prepared,
            reach,
            executor=spec.executor,
            matching=spec.matching,
            dedup=spec.dedup,
            estimated=state.estimated_pairs,
            progress=state.progress,
            distances=False,
        )
        return found.pairs.ia, found.pairs.ib, found.pairs.total
    ia, ib, distance = state.pairs.ia, state.pairs.ib, state.pairs.total
    if state.near is not None:  # the near-misses of an HTML report: pairs above the threshold
        ia = np.concatenate([ia, state.near.ia])
        ib = np.concatenate([ib, state.near.ib])
        distance = np.concatenate([distance, state.near.total])
    return ia, ib, distance


def eval_text(state: AlignmentState, gold_path: Path | None, steps: int | list[float] = 10) -> str:
    """Precision/recall/F1 of the links, blocking quality per rule, a threshold sweep.

    ``steps`` is a count of thresholds spread up to twice the spec's (see
    :func:`evaluate.sweep_thresholds`), or the thresholds themselves.
    """
    from engine.alignment import evaluate

    spec = state.spec
    align, target = state.records("align"), state.records("target")
    gold, curation = evaluate.eval_gold(state, gold_path)
    assert state.pairs is not None and state.links is not None and state.rule is not None
    ia, ib, distance = state.pairs.ia, state.pairs.ib, state.pairs.total
    lines = [f"gold: {len(gold.ia):,} links from {_shown(gold.path)}"]
    warning = gold.warning()
    if warning is not None:
        lines.append(f"warning: {warning}")
    (_, final), *_ = evaluate.sweep(
        ia, ib, distance, gold, [spec.threshold], spec.matching, len(target), spec.dedup
    )
    lines.append(
        f"links: {final.found:,} found, {final.true_positives:,} true:"
        f" precision {final.precision:.4f}  recall {final.recall:.4f}  F1 {final.f1:.4f}"
    )
    if curation is not None:
        lines.append(curation.line())
    rules: list[tuple[str, object]] = []
    if isinstance(state.rule, Union):
        descriptions = [describe(r) for r in spec.blocking.options]
        rules.extend(zip(descriptions, state.rule.rules, strict=True))
        rules.append(("union", state.rule))
    else:
        rules.append((describe(spec.blocking), state.rule))
    lines.append("blocking: candidates, reduction ratio, pair completeness")
    for quality in evaluate.blocking_quality(rules, gold, len(align), len(target), spec.dedup):
        if quality.description == "union":
            # The compare step counted the union's distinct pairs exactly.
            full = len(align) * (len(align) - 1) // 2 if spec.dedup else len(align) * len(target)
            reduction = 1 - state.compared_pairs / full if full else 0.0
            quality = evaluate.RuleQuality(
                "union", state.compared_pairs, quality.pair_completeness, reduction
            )
        lines.append(
            f"  {quality.description}: {quality.candidates:,}, RR {quality.reduction_ratio:.5f},"
            f" PC {quality.pair_completeness:.4f}"
        )
    model = spec.model is not None
    steps = evaluate.distance_steps(steps, model)
    sa, sb, sd = sweep_pairs(state, evaluate.sweep_reach(steps, spec.threshold))
    thresholds = evaluate.sweep_thresholds(steps, spec.threshold, sd)
    lines.append(f"threshold sweep (matching: {spec.matching}; *: the spec's threshold):")
    # With a model, in the spec's own unit: match probabilities (distance 1 - p), rising.
    lines.append(
        f"  {'P(match)' if model else 'threshold':>9}      links  precision  recall      F1"
    )
    rows = []
    for threshold, scores in evaluate.sweep(
        sa, sb, sd, gold, thresholds, spec.matching, len(target), spec.dedup
    ):
        mark = " *" if math.isclose(threshold, spec.threshold, abs_tol=1e-12) else ""
        shown = round(1 - threshold, 12) if model else threshold
        rows.append(
            f"  {shown:9.4g} {scores.found:10,}     {scores.precision:.4f}  {scores.recall:.4f}"
            f"  {scores.f1:.4f}{mark}"
        )
    lines.extend(reversed(rows) if model else rows)
    return "\n".join(lines)
