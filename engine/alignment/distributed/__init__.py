"""The distributed path of the dask executor: read, block and compare where the records live.

The driver plans and matches; the workers read each delimited file in byte
ranges (``read``), normalise and prepare their partitions and compute every
blocking key there (``keys``), send each record to the bucket of its key, one
shuffle per key rule (``shuffle``), and compare each bucket where it was
gathered, with the same compare functions as the local path (``compare``).
The pairs under the limit stay there; the driver (``session``) chooses the
links among them a piece at a time (``match``), then fetches the links'
distances and the ids of their records alone.

:func:`route` says whether a spec can take this path, and why not: key rules
(single or composite keys, or a union of them) on CSV, TSV or inline sources,
no deduplication, no fitted model, no output reading the records' values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Route", "route"]


@dataclass(frozen=True)
class Route:
    """Whether the dask executor runs the whole job distributed, and a few words why."""

    distributed: bool
    why: str


def _key_rules(blocking: Any) -> str | None:
    """Why the blocking is not a key rule or a union of key rules (None: it is)."""
    rules = blocking.options if blocking.name == "union" else [blocking]
    for rule in rules:
        if rule.name != "key":
            return f"blocking '{rule.name}' is not a key rule"
        options = rule.options
        if options.attribute is None:
            return "a key on raw columns (not attributes)"
    return None


def route(spec: Any) -> Route:
    """The path a spec's ``executor: dask`` takes: distributed, or the compare stage only."""
    from schemas.alignment import HtmlOutput
    from schemas.alignment.outputs import ClustersOutput
    from schemas.alignment.review import ReviewOutput
    from schemas.alignment.sources import CsvSource, InlineSource, TsvSource

    if spec.executor is None or spec.executor.name != "dask":
        return Route(False, "local executor")
    reasons: list[str] = []
    if spec.dedup:
        reasons.append("a deduplication")
    if spec.model is not None:
        reasons.append("a fitted model")
    if spec.curation:
        reasons.append("curation files")
    if spec.review is not None:
        reasons.append("a review band")
    if any(isinstance(o, HtmlOutput | ReviewOutput | ClustersOutput) for o in spec.outputs):
        reasons.append("an output showing the records' values")
    for role in ("align", "target"):
        source = getattr(spec.sources, role)
        if not isinstance(source, CsvSource | TsvSource | InlineSource):
            reasons.append(f"the {role} source is not CSV, TSV or inline")
        elif not isinstance(source, InlineSource) and source.split:
            reasons.append(f"the {role} source splits cells into several values")
    keys = _key_rules(spec.blocking)
    if keys is not None:
        reasons.append(keys)
    if reasons:
        return Route(
            False, "dask compares only; the driver reads and blocks: " + ", ".join(reasons)
        )
    return Route(
        True, "distributed on dask: read, blocking keys, shuffle by key and compare on the workers"
    )
