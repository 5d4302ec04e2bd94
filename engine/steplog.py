"""Log lines around each plan step: what it is about to do, then what it found and how long.

The executor (and the volume pool's) call :func:`run_step` for every step, so
``engine -v`` shows a run's progress step by step whatever its kind. The
lines are INFO; nothing is formatted when INFO is off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["after", "before", "run_step"]

log = logging.getLogger("engine.execute")


def _doc(step: Any) -> str:
    """The first line of the step's docstring, without its full stop."""
    text = (type(step).__doc__ or type(step).__name__).strip().splitlines()[0]
    return text.rstrip(".")


def _size(path: Path) -> str:
    """`` (12.3 MiB)``: the size of a file about to be read, or nothing."""
    try:
        size = float(path.stat().st_size)
    except OSError:
        return ""
    if size < 1024:
        return f" ({int(size):,} bytes)"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f" ({size:,.1f} {unit})"


def _source(spec: Any) -> str:
    """Where an alignment source reads from, with the size of a file."""
    if spec == "same":
        return "the align records (deduplication)"
    for key in ("csv", "tsv"):
        path = getattr(spec, key, None)
        if path is not None:
            return f"{key} {path}{_size(Path(path))}"
    if getattr(spec, "rdf", None):
        return "rdf " + ", ".join(f"{p}{_size(Path(p))}" for p in spec.rdf)
    if getattr(spec, "sparql", None) is not None:
        return f"SPARQL endpoint {spec.sparql}"
    if getattr(spec, "rql", None) is not None:
        return f"CubicWeb RQL {spec.rql}"
    return "inline rows"


def before(step: Any, state: Any) -> str:
    """What the step is about to do."""
    from engine import image, pool
    from engine.alignment import pipeline

    if isinstance(step, pipeline.ReadSource):
        return f"read the {step.role} source: {_source(getattr(state.spec.sources, step.role))}"
    if isinstance(step, pipeline.Prepare):
        return f"normalise and prepare {len(step.attributes)} attribute(s): {', '.join(step.attributes)}"
    if isinstance(step, pipeline.Block):
        return f"blocking: {step.description}"
    if isinstance(step, pipeline.Compare):
        return f"compare about {state.estimated_pairs:,} candidate pairs (threshold {step.threshold:g})"
    if isinstance(step, pipeline.Match):
        return f"matching: {step.mode}"
    if isinstance(step, pipeline.Write):
        return f"write {step.format} -> {step.path}"
    if isinstance(step, pipeline.Publish):
        return f"publish to <{step.graph}> ({step.protocol} {step.endpoint})"
    if isinstance(step, image.Build):
        return f"build recipe {step.recipe[:16]} with {step.run.playbook} on {step.run.host}"
    if isinstance(step, pool.Connect):
        return f"connect to {step.where}"
    return _doc(step)


def _alignment_after(step: Any, state: Any) -> str | None:
    from engine.alignment import pipeline

    if isinstance(step, pipeline.ReadSource):
        records = state.sides[step.role].records
        skipped = f", {len(records.skipped):,} rows skipped" if records.skipped else ""
        return f"{records.source}: {len(records):,} records{skipped}"
    if isinstance(step, pipeline.Block):
        return f"about {state.estimated_pairs:,} candidate pairs"
    if isinstance(step, pipeline.Compare):
        return (
            f"compared {state.compared_pairs:,} pairs ({state.executor}),"
            f" {state.under_threshold:,} under the threshold"
        )
    if isinstance(step, pipeline.Match):
        return f"{0 if state.links is None else len(state.links):,} links"
    if isinstance(step, pipeline.Publish):
        if state.published is not None:
            return f"published {state.published:,} links"
        if state.publish_diff is not None:
            return f"against what is published: {state.publish_diff.lines()[0]}"
    return None


def after(step: Any, state: Any) -> str | None:
    """What the step found or made, when there is something to say."""
    from engine import image, pool
    from engine.alignment.pipeline import AlignmentState

    if isinstance(state, AlignmentState):
        return _alignment_after(step, state)
    if isinstance(step, image.Build):
        if state.cached:
            return f"cached in {state.cache}: not built again"
        return "not built (plan)" if state.dry_run else f"built into {state.cache}"
    if isinstance(step, image.Upload) and (state.uploaded or state.reused):
        return f"{len(state.uploaded)} uploaded, {len(state.reused)} reused"
    if isinstance(step, image.WriteOutputs) and state.written:
        return f"wrote {len(state.written)} file(s) into {Path(state.written[0]).parent}"
    if isinstance(step, pool.ReadLive) and state.live is not None:
        return (
            f"{len(state.live.volumes)} volume(s), {len(state.live.exports)} iSCSI target(s);"
            f" {pool.plan_summary(state.actions)}"
        )
    if isinstance(step, pool.Apply) and state.applied:
        return f"{len(state.applied)} command(s) applied"
    return None


def run_step(
    number: int, total: int, step: Any, state: Any, handler: Callable[[Any, Any], None]
) -> None:
    """Carry one step out with ``handler``, logging it before and after."""
    if not log.isEnabledFor(logging.INFO):
        handler(step, state)
        return
    log.info("step %d/%d: %s", number, total, before(step, state))
    log.debug("step %d/%d as planned: %r", number, total, step)
    started = time.perf_counter()
    handler(step, state)
    seconds = time.perf_counter() - started
    found = after(step, state)
    log.info("step %d/%d done in %.2f s%s", number, total, seconds, f": {found}" if found else "")
