"""The block stage: blocking keys from the prepared records, the rule, its pair budget.

Pure functions of the sides (records, normalised values) and the blocking
spec; the handler of the block step keeps what they return. ``cache`` (owned
by the caller, one per step) holds the keys several rules compute alike (the
soundex of a name, keyed by attribute and normalisers).
"""

from __future__ import annotations

from typing import Any

from engine.alignment.blocking import (
    BlockingRule,
    BlockingValueError,
    build,
    describe,
    is_group,
    reads_points,
    reads_values,
    why_no_pairs,
)
from engine.alignment.normalise import NormaliseError, normalise_column
from engine.alignment.state import Side
from engine.alignment.terms import wkt_point
from engine.errors import DataError
from schemas.base import Ref

__all__ = ["build_rule", "check_budget", "empty_source", "rule_keys", "why_none"]

#: Keys already computed: (side, attribute, normalisers) -> the side's keys.
KeyCache = dict[tuple[int, str, tuple[Ref, ...]], list[Any]]


def _composite(side: Side, names: list[str], chain: list[Ref], cache: KeyCache) -> list[Any]:
    """One key per record from several attributes (missing when any part is)."""
    source = side.records.source
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
        cache_key = (id(side), name, tuple(chain))
        if cache_key not in cache:
            cache[cache_key] = normalise_column(values, chain)
        parts.append(cache[cache_key])
    # The unit separator cannot occur in normalised text: keys stay distinct.
    return [None if None in row else "\x1f".join(row) for row in zip(*parts, strict=True)]


def _attribute_keys(side: Side, options: Any, points: bool) -> list[Any]:
    """The keys of a rule on one attribute: its normalised values, normalised further."""
    source = side.records.source
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
        return values
    if tuples:  # normalise each column of the tuples
        width = len(next(v for v in values if v is not None))
        parts = [
            normalise_column([None if v is None else v[j] for v in values], options.normalise)
            for j in range(width)
        ]
        return [None if None in row else row for row in zip(*parts, strict=True)]
    return normalise_column(values, options.normalise)


def _column_keys(side: Side, role: str, options: Any, points: bool) -> list[Any]:
    """The keys of a rule on columns: one column, several (tuples), or WKT points."""
    source = side.records.source
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
        return keys
    if len(columns) == 1:
        return columns[0]
    return [None if None in row else row for row in zip(*columns, strict=True)]


def rule_keys(sides: dict[str, Side], rule: Ref, cache: KeyCache) -> tuple[list[Any], list[Any]]:
    """Each side's keys for one rule: normalised values, or tuples of numbers for points."""
    if not reads_values(rule.name):  # every record meets every record: no key to read
        return (
            [None] * len(sides["align"].records),
            [None] * len(sides["target"].records),
        )
    options, points = rule.options, reads_points(rule.name)
    out: list[list[Any]] = []
    for role in ("align", "target"):
        side = sides[role]
        try:
            if isinstance(options.attribute, list):  # a composite key
                keys = _composite(side, options.attributes, options.normalise, cache)
            elif options.attribute is not None:
                keys = _attribute_keys(side, options, points)
            else:
                keys = _column_keys(side, role, options, points)
        except NormaliseError as exc:
            row = int(side.records.rows[exc.index])
            raise DataError(side.records.source, f"blocking key: {exc.message}", row=row) from None
        out.append(keys)
    return out[0], out[1]


def build_rule(sides: dict[str, Side], blocking: Ref, cache: KeyCache) -> BlockingRule:
    """The blocking rule of a blocking spec, on the prepared records."""
    try:
        return build(blocking, lambda rule: rule_keys(sides, rule, cache))
    except BlockingValueError as exc:
        records = sides[exc.side].records
        row = int(records.rows[exc.index]) if exc.index < len(records.rows) else None
        message = f"blocking rule {exc.rule}: {exc.message}"
        raise DataError(records.source, message, row=row) from None


def check_budget(
    blocking: Ref, rule: BlockingRule, *, dedup: bool, records: int, spec_file: str
) -> None:
    """Stop before comparing when a rule's estimated pairs exceed its ``max_pairs``.

    ``records``: how many align records a deduplication pairs among themselves.
    """
    limit = blocking.option("max_pairs")
    if limit is not None:
        estimate = rule.estimate()
        if dedup:
            estimate = max(0, (estimate - records) // 2)
        if estimate > limit:
            raise DataError(
                spec_file,
                f"blocking rule {rule.label}: about {estimate:,} candidate pairs, more than its"
                f" max_pairs ({limit:,}); make the blocking more selective or raise max_pairs",
            )
    if is_group(blocking.name):
        members = zip(blocking.options, rule.rules, strict=True)  # type: ignore[attr-defined]
        for member_ref, member in members:
            check_budget(member_ref, member, dedup=dedup, records=records, spec_file=spec_file)


def empty_source(sides: dict[str, Side], dedup: bool) -> str | None:
    """Why no rule can find a pair whatever its keys: a source without (enough) records."""
    roles = ("align",) if dedup else ("align", "target")
    for role in roles:
        records = sides[role].records
        if not len(records):
            return f"the {records.source} has no records"
    if dedup and len(sides["align"].records) < 2:
        return f"the {sides['align'].records.source} has a single record"
    return None


def why_none(sides: dict[str, Side], blocking: Ref, rule: BlockingRule, cache: KeyCache) -> str:
    """Why a rule (a group: its rules that find nothing) finds no pair."""
    if is_group(blocking.name):
        members = zip(blocking.options, rule.rules, strict=True)  # type: ignore[attr-defined]
        empty = [(ref, member) for ref, member in members if member.estimate() == 0]
        if not empty:  # a pipeline whose rules each find pairs, but none that all keep
            return "its rules keep no pair in common"
        return "; ".join(f"{describe(r)}: {why_none(sides, r, m, cache)}" for r, m in empty)
    align, target = rule_keys(sides, blocking, cache)
    return why_no_pairs(blocking.name, align, target)
