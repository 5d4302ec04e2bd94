"""Keys of the spec language that were renamed: what an old spec wrote, what to write now.

Plain data. The loader refuses an old key at its line with ``renamed: write
NEW`` (exit 2): no silent alias, so that a spec means one thing, as written.

An entry matches a key ``old`` in a mapping held by a key named in ``under``
(the nearest key above, list positions skipped: ``union: [{kdtree: ...}]`` is
under ``union``); ``""`` stands for the top of the spec. ``new`` is what to
write instead; ``{value}`` in it stands for the value written, when a scalar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RENAMES", "Rename", "renamed"]


@dataclass(frozen=True)
class Rename:
    """One renamed key of one kind of spec."""

    kind: str
    under: tuple[str, ...]
    old: str
    new: str


#: The mappings holding a blocking rule (a rule in a group is under the group's key).
_BLOCKING = ("blocking", "union", "pipeline", "rules")
#: The mappings holding a source of an alignment.
_SOURCES = ("align", "target")
#: The mappings holding a radius rule's options, under its old names and its new one.
_RADIUS = ("kdtree", "balltree", "radius")

RENAMES: tuple[Rename, ...] = (
    # One way to write a quantity: its unit in the value, never in the key.
    Rename("alignment", _SOURCES, "timeout_s", "timeout: {value}s"),
    Rename("alignment", _SOURCES, "backoff_s", "backoff: {value}s"),
    Rename("alignment", _SOURCES, "cache_ttl_s", "cache_ttl: {value}s"),
    Rename("alignment", ("publish",), "timeout_s", "timeout: {value}s"),
    Rename("alignment", ("publish",), "backoff_s", "backoff: {value}s"),
    Rename("alignment", ("dask",), "timeout_s", "timeout: {value}s"),
    Rename("alignment", _RADIUS, "radius_km", "radius: {value} km"),
    Rename("image", ("verify",), "timeout_s", "timeout: {value}s"),
    Rename("image", ("verify",), "memory_mb", "memory: {value}M"),
    Rename("volume-pool", ("host",), "timeout_s", "timeout: {value}s"),
    # One key for a unit chosen (the distance a metric gives is in its 'unit').
    Rename("alignment", ("geographic",), "units", "unit: {value}"),
    # One key for the order of coordinates.
    Rename("alignment", ("geographic", *_RADIUS), "order", "coordinates: {value}"),
    # A threshold is a distance (the top-level one); a bound on a similarity says so.
    Rename("alignment", ("minhash",), "threshold", "min_similarity: {value}"),
    # 'description' is the text describing a spec; publishing the VoID description is 'void'.
    Rename("alignment", ("publish",), "description", "void: {value}"),
    # One rule for pairs within a radius, the tree an option.
    Rename(
        "alignment", _BLOCKING, "kdtree", "radius: {{...}} (a KD tree is its default for numbers)"
    ),
    Rename("alignment", _BLOCKING, "balltree", "radius: {{..., algorithm: balltree}}"),
)


def renamed(data: Any, kind: str) -> list[tuple[tuple[Any, ...], str]]:
    """Each old key of a ``kind`` spec's data: its path and ``'OLD' renamed: write NEW``."""
    table = {(r.old, holder): r.new for r in RENAMES if r.kind == kind for holder in r.under}
    found: list[tuple[tuple[Any, ...], str]] = []

    def visit(node: Any, path: tuple[Any, ...], holder: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, (*path, index), holder)
        elif isinstance(node, dict):
            for key, value in node.items():
                new = table.get((key, holder)) if isinstance(key, str) else None
                if new is not None:
                    found.append(
                        ((*path, key), f"'{key}' renamed: write {new.format(value=_scalar(value))}")
                    )
                visit(value, (*path, key), str(key))

    visit(data, (), "")
    return found


def _scalar(value: Any) -> str:
    """A value as a spec writes it, for a message; ``...`` for a mapping or a list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int | str):
        return str(value)
    return "..."
