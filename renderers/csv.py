"""Links as CSV: ids, global distance and per-attribute distances, for review."""

from __future__ import annotations

import csv
import math
from typing import TextIO

from renderers.links import LinkTable, sorted_links

__all__ = ["format_distance", "write_links_csv"]


def format_distance(value: float) -> str:
    """A float as the shortest text that reads back to exactly the same value.

    ``repr`` already gives the shortest round-tripping digits; integral values
    lose their ``.0`` (``1.0`` -> ``1``), ``-0.0`` is written ``0`` and NaN
    (a missing value) is written as the empty string.
    """
    if math.isnan(value):
        return ""
    if value == 0:
        return "0"
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def write_links_csv(table: LinkTable, handle: TextIO, delimiter: str = ",") -> None:
    """Write the links, sorted, with the header ``align_id,target_id,distance,d_<attr>...``.

    One ``d_<name>`` column per attribute, in the table's order. When a fitted
    model scored the links, a ``probability`` column (each link's match
    probability) follows ``distance``. ``handle`` should
    be opened with ``newline=""`` (as :meth:`OutputTransaction.open_text` does);
    rows end with ``\\n`` so regenerated files diff cleanly in git.
    """
    table = sorted_links(table)
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    names = list(table.attributes)
    scored = [] if table.probability is None else ["probability"]
    header = ["align_id", "target_id", "distance", *scored, *(f"d_{name}" for name in names)]
    writer.writerow(header)
    # tolist() converts to Python floats in one go, much faster than per-element numpy access.
    columns = [table.distance.tolist()]
    if table.probability is not None:
        columns.append(table.probability.tolist())
    columns += [table.attributes[name].tolist() for name in names]
    for i, (align, target) in enumerate(zip(table.align_ids, table.target_ids, strict=True)):
        writer.writerow([align, target, *(format_distance(col[i]) for col in columns)])
