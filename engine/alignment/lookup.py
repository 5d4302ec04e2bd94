"""The tables of the ``lookup`` normaliser: a CSV file or an inline mapping, read once.

A table maps a value as found (a synonym, a code, a name in another language) to
the value compared in its place. The file's first row names its columns; the
``key`` and ``value`` options pick two of them (by default the first two). A
table that cannot be used is a :class:`~engine.errors.DataError` naming the file
and its row: the file was there when the spec was validated, but its content is
data, read when the run needs it.
"""

from __future__ import annotations

import csv
from collections import OrderedDict
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

from engine.errors import DataError
from schemas.alignment import Lookup

if TYPE_CHECKING:
    from _csv import Reader

__all__ = ["fold", "lookup_table", "read_table"]

#: A table: the folded key -> its replacement (``None``: the value becomes missing).
Table = dict[str, str | None]

#: Tables already read, by the identity of their options (kept alive here, so an
#: id cannot be reused while its entry stands); bounded for long-lived processes.
_CACHE: OrderedDict[int, tuple[Lookup, Table]] = OrderedDict()
_CACHE_SIZE = 32
_LOCK = Lock()


def fold(text: str, case_sensitive: bool) -> str:
    """The form a value and a key are compared in: stripped, case-folded unless told."""
    text = text.strip()
    return text if case_sensitive else text.casefold()


def lookup_table(options: Lookup) -> Table:
    """The table ``options`` name, read at its first use and kept for the next values."""
    with _LOCK:
        hit = _CACHE.get(id(options))
        if hit is not None and hit[0] is options:
            _CACHE.move_to_end(id(options))
            return hit[1]
    if options.file is not None:
        table = read_table(options.file, options.key, options.value, options.case_sensitive)
    else:
        table = _inline(options)
    with _LOCK:
        _CACHE[id(options)] = (options, table)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return table


def _inline(options: Lookup) -> Table:
    table: Table = {}
    for key, value in (options.table or {}).items():
        # The schema refuses blank keys and folded duplicates: nothing can fail here.
        table[fold(key, options.case_sensitive)] = value.strip() or None
    return table


def _column(header: list[str], name: str | None, position: int, path: Path) -> int:
    if name is None:
        if len(header) <= position:
            raise DataError(
                str(path),
                f"the header names {len(header)} column(s); a lookup table needs two"
                " (the value as found, then its replacement)",
                row=1,
            )
        return position
    names = [h.strip() for h in header]
    if name not in names:
        raise DataError(
            str(path), f"no column '{name}' (columns: {', '.join(names) or 'none'})", row=1
        )
    return names.index(name)


def read_table(
    path: Path, key: str | None = None, value: str | None = None, case_sensitive: bool = False
) -> Table:
    """Read a lookup table: CSV (TSV for a ``.tsv`` file) with a header row.

    Blank rows are skipped; an empty replacement makes the value missing. Raises
    :class:`DataError` (file and row) for a file that cannot be read, a missing
    column, a short row, an empty key, or a key given two different replacements.
    """
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return _read(csv.reader(handle, delimiter=delimiter), path, key, value, case_sensitive)
    except UnicodeDecodeError as exc:
        raise DataError(str(path), f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(str(path), f"not a readable CSV file: {exc}") from None
    except OSError as exc:
        raise DataError(str(path), f"cannot read the lookup table: {exc.strerror}") from None


def _read(
    reader: Reader,
    path: Path,
    key: str | None,
    value: str | None,
    case_sensitive: bool,
) -> Table:
    header = next(reader, None)
    if header is None:
        raise DataError(str(path), "the lookup table is empty: it needs a header row", row=1)
    k, v = _column(header, key, 0, path), _column(header, value, 1, path)
    table: Table = {}
    rows: dict[str, tuple[int, str]] = {}  # folded key -> (row, raw key) for messages
    for fields in reader:
        row = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) <= max(k, v):
            raise DataError(
                str(path),
                f"{len(fields)} field(s) where the table's columns need {max(k, v) + 1}",
                row=row,
            )
        raw = fields[k]
        folded = fold(raw, case_sensitive)
        if not folded:
            raise DataError(str(path), f"empty value in column '{header[k].strip()}'", row=row)
        replacement = fields[v].strip() or None
        if folded in table and table[folded] != replacement:
            first_row, first_key = rows[folded]
            raise DataError(
                str(path),
                f"'{raw}' is given two replacements: '{replacement or ''}' here and"
                f" '{table[folded] or ''}' for '{first_key}' on row {first_row}",
                row=row,
            )
        table[folded] = replacement
        rows.setdefault(folded, (row, raw))
    return table
