"""The prepare stage: each attribute's values normalised and prepared for its metric.

Pure functions of one side's records and the attributes' specs; values that
cannot be read are collected (record index -> reason) rather than raised, so
that a run can name them all, or skip their records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.alignment.metrics import METRICS
from engine.alignment.normalise import NormaliseError, normalise_column, normalise_value
from engine.alignment.records import Records
from engine.alignment.terms import wkt_point
from engine.errors import DataError
from schemas.alignment import Attribute
from schemas.base import Ref

__all__ = ["POINT_METRICS", "Prepared", "prepare_side"]

#: Metrics on points: one column of WKT points stands for two columns.
POINT_METRICS = {"geographic"}


@dataclass
class Prepared:
    """One side's values per attribute: normalised, prepared for the metric, and the bad ones."""

    normalised: dict[str, list[Any]] = field(default_factory=dict)
    prepared: dict[str, Any] = field(default_factory=dict)
    #: Records whose values cannot be read: index -> "column NAME: reason".
    bad: dict[int, str] = field(default_factory=dict)


def _normalise_collecting(
    raw: list[str | None], chain: list[Ref], bad: dict[int, str], column: str
) -> list[str | None]:
    """Normalise a column; values that fail become missing and are noted in ``bad``."""
    try:
        return normalise_column(raw, chain)
    except NormaliseError:
        pass  # the slow path below visits each distinct value once to find every failure
    cache: dict[str | None, str | None] = {None: None}
    failed: dict[str, str] = {}
    out: list[str | None] = []
    for index, value in enumerate(raw):
        if value in failed:
            bad.setdefault(index, f"column {column}: {failed[value]}")
            out.append(None)
            continue
        if value not in cache:
            try:
                cache[value] = normalise_value(value, chain)
            except NormaliseError as exc:
                assert value is not None
                failed[value] = exc.message
                bad.setdefault(index, f"column {column}: {exc.message}")
                out.append(None)
                continue
        out.append(cache[value])
    return out


def _wkt_points(
    values: list[str | None], order: str, bad: dict[int, str], column: str
) -> list[tuple[str, str] | None]:
    """WKT ``POINT (long lat)`` values as the (lat, long) tuples two columns would give."""
    out: list[tuple[str, str] | None] = []
    for index, value in enumerate(values):
        point = None if value is None else wkt_point(value)
        if value is not None and point is None:
            bad.setdefault(
                index, f"column {column}: {value!r} is not a WKT point, e.g. POINT(2.35 48.85)"
            )
        if point is not None and order == "lonlat":
            point = (point[1], point[0])
        out.append(point)
    return out


def prepare_side(attributes: tuple[Attribute, ...], records: Records, role: str) -> Prepared:
    """Normalise and prepare every attribute of one side.

    The records whose values cannot be read (all found in one pass) are in the
    result's ``bad``; their values count as missing in what was prepared.
    """
    out = Prepared()
    for attribute in attributes:
        columns: list[list[str | None]] = []
        names: list[str] = []
        refs = attribute.align_columns if role == "align" else attribute.target_columns
        # Each side its own chain where the spec gives one per side (French and English...).
        chain = attribute.chain(role)
        for ref in refs:
            try:
                name = records.column_name(ref)
            except KeyError as exc:
                raise DataError(
                    records.source, f"attribute '{attribute.name}': {exc.args[0]}"
                ) from None
            names.append(name)
            columns.append(_normalise_collecting(records.columns[name], chain, out.bad, name))
        values: list[Any]
        if len(columns) == 1 and attribute.metric.name in POINT_METRICS:
            order = attribute.metric.option("order")
            values = _wkt_points(columns[0], order, out.bad, names[0])
        elif len(columns) == 1:
            values = columns[0]
        else:  # a tuple with a missing part is a missing value
            values = [None if None in row else row for row in zip(*columns, strict=True)]
        metric = METRICS[attribute.metric.name].func()
        problems: list[tuple[int, str]] = []
        out.prepared[attribute.name] = metric.prepare(values, attribute.metric.options, problems)
        for index, message in problems:
            out.bad.setdefault(index, f"column {', '.join(names)}: {message}")
        out.normalised[attribute.name] = values
    return out
