"""Text shown to the user: the plan of an alignment job and the summary of a run."""

from __future__ import annotations

from pathlib import Path

from engine.alignment import pipeline
from engine.alignment.pipeline import AlignmentState
from engine.plan import Plan

__all__ = ["plan_text", "summary_text"]

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
    line = f"{len(records):,} records"
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


def plan_text(plan: Plan, state: AlignmentState) -> str:
    """The plan with the figures a dry run found (record counts, candidate pairs)."""
    spec = state.spec
    lines = [f"plan for {plan.kind} '{plan.name}' ({plan.spec_file})"]
    n_align, n_target = len(state.records("align")), len(state.records("target"))
    for number, step in enumerate(plan.steps, 1):
        if isinstance(step, pipeline.ReadSource):
            records = state.records(step.role)
            lines.append(f"{number}. read {records.source}: {_records_line(state, step.role)}")
        elif isinstance(step, pipeline.Prepare):
            lines.append(f"{number}. compare {len(spec.attributes)} attribute(s):")
            for a in spec.attributes:
                chain = " | ".join(r.name for r in a.normalise) or "as is"
                cols = "/".join(str(c) for c in a.align_columns)
                tcols = "/".join(str(c) for c in a.target_columns)
                lines.append(
                    f"   - {a.name}: {cols} ~ {tcols}, normalise: {chain}, metric: {a.metric.name}"
                    f", weight {a.weight:g}, missing: {a.missing}"
                )
        elif isinstance(step, pipeline.Block):
            full = n_align * n_target
            ratio = f" ({state.estimated_pairs / full:.2%} of {full:,})" if full else ""
            lines.append(f"{number}. blocking: {step.description}")
            lines.append(f"   estimated comparisons: {state.estimated_pairs:,}{ratio}")
        elif isinstance(step, pipeline.Compare):
            lines.append(f"{number}. keep pairs with global distance <= {step.threshold:g}")
        elif isinstance(step, pipeline.Match):
            lines.append(f"{number}. matching: {step.mode}")
        elif isinstance(step, pipeline.Write):
            lines.append(f"{number}. write {step.format} -> {_shown(step.path)}")
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
    if links is not None and 0 < count <= SHOW_LINKS:
        for a, t, d in zip(links.align_ids, links.target_ids, links.distance, strict=True):
            lines.append(f"  <{a}> -> <{t}>  distance {d:g}")
    lines.extend(f"wrote {_shown(path)}" for path in state.written)
    lines.extend(_skipped(state))
    lines.append(f"done in {seconds:.2f} s")
    return "\n".join(lines)
