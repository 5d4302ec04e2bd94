"""Columnar records read from a source."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from schemas.base import closest

__all__ = ["MAX_ROWS_PER_RECORD", "Records", "Skip", "expand_rows"]

#: The most rows one record expands into (the product of its columns' value counts).
MAX_ROWS_PER_RECORD = 64


@dataclass(frozen=True)
class Skip:
    """A row left out under ``on_error: skip``: where, and why."""

    row: int
    reason: str


@dataclass
class Records:
    """Records of one source, column by column.

    ``ids`` are absolute IRIs. ``columns`` maps each column name to its values,
    one per record, ``None`` where the cell is empty. ``rows`` gives each
    record's position in its source (1-based line of a file, or 1-based index
    of an inline row), for error messages. ``warnings`` are what a user should
    know about the data read (records without a value in the listed languages).

    A record with several values in a column (every label of an RDF resource,
    a CSV cell split on a separator) is several rows, one per combination of
    its values, sharing its id: ``record`` then gives each row's record
    number, and an attribute's distance for a pair of records is the best over
    their rows (:func:`engine.alignment.multivalued.collapse_pairs`).
    """

    source: str
    ids: list[str]
    names: list[str]
    columns: dict[str, list[str | None]]
    rows: npt.NDArray[np.int64]
    skipped: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: Each row's record number where records have several rows; None: one row each.
    record: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def record_count(self) -> int:
        """How many records: the rows, unless records with several values have several."""
        if self.record is None or not len(self.record):
            return len(self.ids)
        return int(np.count_nonzero(self.record[1:] != self.record[:-1])) + 1

    def column_name(self, ref: str | int) -> str:
        """The name of a column given by name or 0-based index; KeyError with the valid ones."""
        if isinstance(ref, int):
            if 0 <= ref < len(self.names):
                return self.names[ref]
            raise KeyError(
                f"{self.source} has no column {ref} (it has {len(self.names)}: 0..{len(self.names) - 1})"
            )
        if ref in self.columns:
            return ref
        raise KeyError(
            f"{self.source} has no column '{ref}'{closest(ref, self.names)}"
            f" (columns: {', '.join(self.names)})"
        )

    def column(self, ref: str | int) -> list[str | None]:
        """The values of a column given by name or 0-based index."""
        return self.columns[self.column_name(ref)]

    def take(self, keep: npt.NDArray[np.bool_]) -> Records:
        """The records where ``keep`` is true (skipped lists are kept)."""
        index = np.flatnonzero(keep)
        return Records(
            source=self.source,
            ids=[self.ids[i] for i in index],
            names=self.names,
            columns={k: [v[i] for i in index] for k, v in self.columns.items()},
            rows=self.rows[index],
            skipped=list(self.skipped),
            warnings=list(self.warnings),
            record=None if self.record is None else self.record[index],
        )

    def representatives(self) -> npt.NDArray[np.int64] | None:
        """Each row's record's first row (the row the record's links name); None: one row each.

        The first row is also the one an id names wherever ids are looked up.
        """
        if self.record is None:
            return None
        # Rows of a record are contiguous: a record starts where the record number changes.
        first = np.flatnonzero(np.insert(self.record[1:] != self.record[:-1], 0, True))
        counts = np.diff(np.append(first, len(self.record)))
        return np.repeat(first, counts).astype(np.int64)


def expand_rows(
    ids: list[str],
    columns: dict[str, list[str | None]],
    rows: npt.NDArray[np.int64],
    alternatives: dict[str, dict[int, list[str]]],
    warnings: list[str],
    source: str,
) -> tuple[list[str], dict[str, list[str | None]], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One row per combination of a record's values: ids, columns, source rows, record numbers.

    ``alternatives`` maps a column to the records (by index) holding several values
    there; ``columns`` holds one value per record. A record whose combinations pass
    :data:`MAX_ROWS_PER_RECORD` keeps the first ones, with a warning.
    """
    names = list(columns)
    several = sorted({index for values in alternatives.values() for index in values})
    out_ids: list[str] = []
    out_columns: dict[str, list[str | None]] = {name: [] for name in names}
    records: list[npt.NDArray[np.int64]] = []
    capped = 0
    start = 0
    # Records with one value everywhere are copied a run at a time (slices, in C); only
    # those with several values go through the Python loop.
    for index in [*several, len(ids)]:
        if index > start:
            out_ids.extend(ids[start:index])
            for name in names:
                out_columns[name].extend(columns[name][start:index])
            records.append(np.arange(start, index, dtype=np.int64))
        if index == len(ids):
            break
        choices = [
            alternatives[name][index]
            if name in alternatives and index in alternatives[name]
            else [columns[name][index]]
            for name in names
        ]
        combos = list(itertools.islice(itertools.product(*choices), MAX_ROWS_PER_RECORD + 1))
        if len(combos) > MAX_ROWS_PER_RECORD:
            combos = combos[:MAX_ROWS_PER_RECORD]
            capped += 1
        for combo in combos:
            out_ids.append(ids[index])
            for name, value in zip(names, combo, strict=True):
                out_columns[name].append(value)
        records.append(np.full(len(combos), index, dtype=np.int64))
        start = index + 1
    if capped:
        warnings.append(
            f"{source}: {capped:,} record(s) have more than {MAX_ROWS_PER_RECORD} combinations"
            " of values: only the first are compared"
        )
    record = np.concatenate(records) if records else np.zeros(0, dtype=np.int64)
    return out_ids, out_columns, np.asarray(rows, dtype=np.int64)[record], record
