"""Columnar records read from a source."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from schemas.base import closest

__all__ = ["Records", "Skip"]


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
    """

    source: str
    ids: list[str]
    names: list[str]
    columns: dict[str, list[str | None]]
    rows: npt.NDArray[np.int64]
    skipped: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

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
        )
