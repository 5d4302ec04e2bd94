"""The block stage: blocking keys from the prepared records, the rule, its pair budget.

Pure functions of the sides (records, normalised values) and the blocking
spec; the handler of the block step keeps what they return. ``cache`` (owned
by the caller, one per step) holds the keys several rules compute alike (the
soundex of a name, keyed by attribute and normalisers).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.blocking import (
    BlockingRule,
    BlockingValueError,
    CodedKeys,
    build,
    describe,
    factorise,
    first_appearance,
    is_group,
    reads_codes,
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

Ints = npt.NDArray[np.int64]

#: Keys already computed: both sides' codes of an attribute under a chain of normalisers.
KeyCache = dict[Any, Any]


class _KeyFailure(Exception):
    """A key value a normaliser cannot read, on side ``role`` at record ``index``."""

    def __init__(self, role: str, index: int, message: str) -> None:
        super().__init__(message)
        self.role, self.index, self.message = role, index, message


class _Joint:
    """Both sides' values of one attribute as codes of their shared distinct values.

    The distinct values come in order of first appearance (align side first),
    so a chain of normalisers runs once per distinct value, and the codes of
    its results keep that order.
    """

    def __init__(self, codes: Ints, uniques: list[Any], n_align: int) -> None:
        self.codes, self.uniques, self.n_align = codes, uniques, n_align

    @classmethod
    def of(cls, sides: dict[str, Side], name: str) -> _Joint:
        align, target = sides["align"], sides["target"]
        values = align.normalised[name]
        if target is align:  # a deduplication: the same records on both sides
            codes, uniques = factorise(values)
            return cls(np.concatenate([codes, codes]), uniques, len(values))
        codes, uniques = factorise([*values, *target.normalised[name]])
        return cls(codes, uniques, len(values))

    def normalised(self, chain: list[Ref]) -> _Joint:
        """The values through ``chain``: each distinct value once; raises :class:`_KeyFailure`."""
        try:
            results = normalise_column(self.uniques, chain)
        except NormaliseError as exc:
            # Distinct values come in order of first appearance: the first that fails is
            # the first failing align value if there is one, else the first target one.
            where = int(np.flatnonzero(self.codes == exc.index)[0])
            if where < self.n_align:
                raise _KeyFailure("align", where, exc.message) from None
            raise _KeyFailure("target", where - self.n_align, exc.message) from None
        remap, uniques = factorise(results)
        codes = np.full(len(self.codes), -1, dtype=np.int64)
        valid = self.codes >= 0
        codes[valid] = remap[self.codes[valid]]
        return _Joint(codes, uniques, self.n_align)

    def keys(self, vocabulary: object) -> tuple[CodedKeys, CodedKeys]:
        """Each side's keys; their codes number the values in order of first appearance."""
        key = self.uniques.__getitem__
        return (
            CodedKeys(self.codes[: self.n_align], key, vocabulary, ordered=True),
            CodedKeys(self.codes[self.n_align :], key, vocabulary, ordered=True),
        )


def _check_single(sides: dict[str, Side], names: list[str]) -> None:
    for role in ("align", "target"):
        side = sides[role]
        for name in names:
            if name not in side.normalised:
                raise DataError(side.records.source, f"blocking: no attribute '{name}'")
            if any(isinstance(v, tuple) for v in side.normalised[name][:100]):
                raise DataError(
                    side.records.source,
                    f"blocking on attribute '{name}' needs single values, not tuples",
                )


def _joint(sides: dict[str, Side], name: str, chain: list[Ref], cache: KeyCache) -> _Joint:
    """The attribute's joint codes through ``chain``, computed once per build."""
    # Several rules often key on the same attribute and chain (soundex of a name).
    cache_key = (id(sides["align"]), id(sides["target"]), name, tuple(chain))
    if cache_key not in cache:
        joint = _joint(sides, name, [], cache) if chain else _Joint.of(sides, name)
        cache[cache_key] = joint.normalised(chain) if chain else joint
    found: _Joint = cache[cache_key]
    return found


def _composite(
    sides: dict[str, Side], names: list[str], chain: list[Ref], cache: KeyCache
) -> tuple[CodedKeys, CodedKeys]:
    """One key per record from several attributes (missing when any part is)."""
    _check_single(sides, names)
    parts: list[_Joint] = []
    failures: list[_KeyFailure] = []
    for name in names:
        try:
            parts.append(_joint(sides, name, chain, cache))
        except _KeyFailure as failure:
            failures.append(failure)
    if failures:  # an align value first, as when each side was keyed in turn
        raise min(failures, key=lambda f: f.role != "align")
    # Codes of the tuples of the parts' codes: each pair packed into one integer and
    # numbered again, so that the next product stays below the square of the records.
    codes = parts[0].codes
    for part in parts[1:]:
        valid = (codes >= 0) & (part.codes >= 0)
        packed = np.where(valid, codes * max(len(part.uniques), 1) + part.codes, -1)
        codes = first_appearance(packed)[0]
    witness: list[Ints] = []

    def key(code: int) -> str:
        if not witness:  # a record holding each composite key, found once when asked
            valid = codes >= 0
            witness.append(np.flatnonzero(valid)[np.unique(codes[valid], return_index=True)[1]])
        record = int(witness[0][code])
        # The unit separator cannot occur in normalised text: keys stay distinct.
        return "\x1f".join(str(p.uniques[int(p.codes[record])]) for p in parts)

    n = parts[0].n_align
    vocabulary = object()
    # Numbered in order of first appearance over both sides, by _joint or first_appearance.
    return (
        CodedKeys(codes[:n], key, vocabulary, ordered=True),
        CodedKeys(codes[n:], key, vocabulary, ordered=True),
    )


def _attribute_keys(
    sides: dict[str, Side], options: Any, points: bool, cache: KeyCache, coded: bool
) -> Any:
    """Both sides' keys of a rule on one attribute: its normalised values, normalised further."""
    name = options.attribute
    out = []
    for role in ("align", "target"):
        side = sides[role]
        if name not in side.normalised:
            raise DataError(side.records.source, f"blocking: no attribute '{name}'")
        values = side.normalised[name]
        tuples = any(isinstance(v, tuple) for v in values[:100])
        if tuples and not points:
            raise DataError(
                side.records.source,
                f"blocking on attribute '{name}' needs single values, not tuples",
            )
        out.append((values, tuples))
    if coded and not out[0][1] and not out[1][1]:
        return _joint(sides, name, options.normalise, cache).keys(object())
    if not options.normalise:
        return out[0][0], out[1][0]
    keys = []
    for role, (values, tuples) in zip(("align", "target"), out, strict=True):
        try:
            keys.append(
                _tuple_keys(values, options.normalise)
                if tuples
                else normalise_column(values, options.normalise)
            )
        except NormaliseError as exc:
            raise _KeyFailure(role, exc.index, exc.message) from None
    return keys[0], keys[1]


def _tuple_keys(values: list[Any], chain: list[Ref]) -> list[Any]:
    """Tuples (points) with each of their columns normalised."""
    width = len(next(v for v in values if v is not None))
    parts = [
        normalise_column([None if v is None else v[j] for v in values], chain) for j in range(width)
    ]
    return [None if None in row else row for row in zip(*parts, strict=True)]


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


def rule_keys(
    sides: dict[str, Side], rule: Ref, cache: KeyCache, *, coded: bool = False
) -> tuple[Any, Any]:
    """Each side's keys for one rule: normalised values, or tuples of numbers for points.

    ``coded``: keys of attributes may come as :class:`CodedKeys` (the rules that
    take them compare codes); otherwise they are lists.
    """
    if not reads_values(rule.name):  # every record meets every record: no key to read
        return (
            [None] * len(sides["align"].records),
            [None] * len(sides["target"].records),
        )
    options, points = rule.options, reads_points(rule.name)
    keys: tuple[Any, Any]
    try:
        if isinstance(options.attribute, list):  # a composite key
            keys = _composite(sides, options.attributes, options.normalise, cache)
        elif options.attribute is not None:
            keys = _attribute_keys(sides, options, points, cache, coded and reads_codes(rule.name))
        else:
            keys = tuple(
                _side_column_keys(sides, role, options, points) for role in ("align", "target")
            )  # type: ignore[assignment]
    except _KeyFailure as exc:
        records = sides[exc.role].records
        row = int(records.rows[exc.index])
        raise DataError(records.source, f"blocking key: {exc.message}", row=row) from None
    if coded and reads_codes(rule.name):
        return keys
    return tuple(k if isinstance(k, list) else list(k) for k in keys)  # type: ignore[return-value]


def _side_column_keys(sides: dict[str, Side], role: str, options: Any, points: bool) -> list[Any]:
    try:
        return _column_keys(sides[role], role, options, points)
    except NormaliseError as exc:
        raise _KeyFailure(role, exc.index, exc.message) from None


def build_rule(sides: dict[str, Side], blocking: Ref, cache: KeyCache) -> BlockingRule:
    """The blocking rule of a blocking spec, on the prepared records."""
    try:
        return build(blocking, lambda rule: rule_keys(sides, rule, cache, coded=True))
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
