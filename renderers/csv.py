"""Links as CSV: ids, global distance and per-attribute distances, for review."""

from __future__ import annotations

import csv
import math
from typing import TextIO

from renderers.columns import BULK_ROWS, CHUNK_ROWS, float_texts, plain_text, write_rows
from renderers.links import FloatArray, LinkTable, sorted_links

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
    rows end with ``\\n`` so regenerated files diff cleanly in git. A big table
    is formatted and written a chunk of rows at a time (:mod:`renderers.columns`),
    in the bytes the csv module writes.
    """
    table = sorted_links(table)
    writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
    names = list(table.attributes)
    scored = [] if table.probability is None else ["probability"]
    header = ["align_id", "target_id", "distance", *scored, *(f"d_{name}" for name in names)]
    writer.writerow(header)
    columns = [table.distance]
    if table.probability is not None:
        columns.append(table.probability)
    columns += [table.attributes[name] for name in names]
    # A delimiter that can occur in a number would quote it: the csv module decides.
    bulk = len(table) >= BULK_ROWS and delimiter not in _NUMBER_CHARACTERS
    step = CHUNK_ROWS if bulk else max(len(table), 1)
    for start in range(0, len(table), step):
        end = start + step
        align, target = table.align_ids[start:end], table.target_ids[start:end]
        chunk = [column[start:end] for column in columns]
        if bulk and _write_bulk(align, target, chunk, delimiter, handle):
            continue
        # tolist() converts to Python floats in one go, much faster than per-element numpy access.
        values = [column.tolist() for column in chunk]
        for i, (a, b) in enumerate(zip(align, target, strict=True)):
            writer.writerow([a, b, *(format_distance(col[i]) for col in values)])


#: What a formatted number may hold (``1e-05``, ``inf``, ``-0.5``).
_NUMBER_CHARACTERS = frozenset("0123456789.+-einf")


def _write_bulk(
    align: list[str], target: list[str], columns: list[FloatArray], delimiter: str, handle: TextIO
) -> bool:
    """Write one chunk of rows formatted by Arrow; False (nothing written) when an id needs quotes."""
    quoted = delimiter + '"\r\n'  # what makes the csv module quote a field
    subjects, objects = plain_text(align, quoted), plain_text(target, quoted)
    if subjects is None or objects is None:
        return False
    texts = [float_texts(column, format_distance) for column in columns]
    write_rows([subjects, objects, *texts], delimiter, handle)
    return True
