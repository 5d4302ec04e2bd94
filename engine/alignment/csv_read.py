"""A delimited file parsed by pyarrow's multithreaded reader, when it reads it as the csv module would.

:mod:`engine.alignment.sources` reads delimited files with the csv module, which
knows where each record starts and reports every kind of bad row. Most files
need none of that: each record is one line, every row has the header's width.
:func:`parse_columns` parses those with ``pyarrow.csv`` (several times faster,
on every core) and turns the cells into Python strings column by column, blank
cells into ``None`` in Arrow's kernels. It answers ``None`` for anything it
cannot read exactly as the csv module does (a record spanning lines, a row of
another width, an option pyarrow lacks, text the two parsers may split
differently): the caller then reads the file with the csv module, whose
messages name the line.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Parsed", "ascii_text", "parse_columns"]

#: Encodings that read ASCII bytes as the same characters (codecs' names).
_ASCII_COMPATIBLE = frozenset({"ascii", "utf-8", "utf-8-sig", "iso8859-1", "iso8859-15", "cp1252"})

#: Below this many bytes the csv module is faster: importing pyarrow costs about 0.25 s
#: of CPU, what it saves on some 10 MB (the Febrl files, 0.5 MB each, read in 30 ms).
MIN_BYTES = 4 << 20


@dataclass
class Parsed:
    """A delimited file's records: the first one raw, the others column by column.

    ``columns`` holds one list per field, a value per record after the first
    (``None`` for an empty or white-space-only cell) when ``skip_first`` was
    asked, else for every record; ``lines`` is the physical line of each of
    those records (1-based).
    """

    first: list[str]
    first_line: int
    columns: list[list[str | None]]
    lines: npt.NDArray[np.int64]


def parse_columns(
    data: bytes,
    encoding: str,
    text: str | None,
    delimiter: str,
    quotechar: str | None,
    *,
    skip_first: bool,
) -> Parsed | None:
    """The file's records read by pyarrow, or None when the csv module must read it.

    ``data`` are the file's bytes and ``text`` the same decoded (strictly, BOM
    removed) by the caller, which has already reported undecodable bytes; None
    when ``data`` is ASCII text in an encoding that reads ASCII as ASCII (see
    :func:`ascii_text`).
    """
    if not _plain_options(delimiter, quotechar):
        return None
    if text is None or codecs.lookup(encoding).name == "utf-8":
        buffer = data  # pyarrow drops a leading BOM, as the caller's decoding did
    else:
        try:
            buffer = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate some codec let through
            return None
    if len(buffer) < MIN_BYTES or b"\x00" in buffer:
        return None
    # A lone \r ends a line for the csv module; keep line counting to \n and \r\n.
    if buffer.count(b"\r") != buffer.count(b"\r\n"):
        return None
    if quotechar is not None and not _plain_quoting(buffer, delimiter, quotechar):
        return None
    lines, first_start = _record_lines(buffer)
    if not len(lines):
        return None
    end = buffer.find(b"\n", first_start)
    # Names typed for any width the first record may have (its quoted delimiters
    # included): pyarrow ignores the types of columns a file lacks.
    width = buffer.count(delimiter.encode("ascii"), first_start, None if end < 0 else end) + 1
    table = _read_table(buffer, delimiter, quotechar, width)
    # Each non-blank line must be one record: fewer records means one spans lines.
    if table is None or table.num_rows != len(lines):
        return None
    first = [column[0].as_py() for column in table.columns]
    start = 1 if skip_first else 0
    columns = [_cells(column.slice(start)) for column in table.columns]
    return Parsed(first, int(lines[0]), columns, lines[start:])


def ascii_text(data: bytes, encoding: str) -> bool:
    """Whether ``data`` reads the same in ``encoding`` as in ASCII (no need to decode it)."""
    return codecs.lookup(encoding).name in _ASCII_COMPATIBLE and data.isascii()


def _plain_options(delimiter: str, quotechar: str | None) -> bool:
    """pyarrow takes one ASCII character for each, and line breaks cannot be either."""
    for char in (delimiter, quotechar):
        if char is not None and (len(char) != 1 or not char.isascii() or char in "\r\n"):
            return False
    return delimiter != quotechar


def _plain_quoting(buffer: bytes, delimiter: str, quotechar: str) -> bool:
    """Whether every quote opens a field, closes it, or is doubled inside it.

    The csv module and pyarrow agree on such fields; they part on the rest (a
    quote inside an unquoted field, text after a closing quote, a quote left
    open): those files are the csv module's. The text is UTF-8, whose
    characters outside ASCII hold no ASCII byte: bytes tell as well as text.
    """
    quote = quotechar.encode("ascii")
    if quote not in buffer:
        return True
    boundary = (ord(delimiter), 0x0A, 0x0D)
    last = 0
    size = len(buffer)
    # A quoted field: a quote, then anything but a quote or a doubled quote, then a quote.
    # From any quote the pattern reaches the next lone quote, so only the last quote of
    # the text can be left unmatched (one never closed).
    q = re.escape(quote)
    for match in re.finditer(rb"%s(?:[^%s]|%s%s)*%s" % (q, q, q, q, q), buffer):
        start, last = match.span()
        if (start and buffer[start - 1] not in boundary) or (
            last < size and buffer[last] not in boundary
        ):
            return False
    return buffer.rfind(quote) < last


def _record_lines(buffer: bytes) -> tuple[npt.NDArray[np.int64], int]:
    """The 1-based numbers of the non-empty lines, and where the first one starts.

    The csv module skips empty lines only (a line of blanks is a record).
    """
    raw = np.frombuffer(buffer, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 0x0A)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(raw)]))
    # A \r before the \n belongs to the line break (lone ones were refused).
    ends = ends - np.concatenate((raw[breaks - 1] == 0x0D, [False])).astype(np.int64)
    if buffer.startswith(codecs.BOM_UTF8):
        starts[0] += len(codecs.BOM_UTF8)
    full = np.flatnonzero(ends > starts)
    return full.astype(np.int64) + 1, int(starts[full[0]]) if len(full) else 0


def _read_table(buffer: bytes, delimiter: str, quotechar: str | None, width: int) -> Any:
    """Every record of the file as string columns f0, f1...; None if pyarrow refuses it."""
    import pyarrow as pa
    import pyarrow.csv as pv

    try:
        table = pv.read_csv(
            pa.py_buffer(buffer),
            read_options=pv.ReadOptions(autogenerate_column_names=True, use_threads=True),
            parse_options=pv.ParseOptions(
                delimiter=delimiter,
                quote_char=False if quotechar is None else quotechar,
                double_quote=True,
                escape_char=False,
                newlines_in_values=quotechar is not None and quotechar.encode() in buffer,
                ignore_empty_lines=True,
            ),
            convert_options=pv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(width)},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a row of another width, mostly
        return None
    if any(column.type != pa.string() for column in table.columns):
        return None  # wider than the first line said: a type was guessed
    return table


def _cells(column: Any) -> list[str | None]:
    """A string column as Python values, ``None`` for empty and white-space-only cells.

    Arrow's ``utf8_is_space`` holds the same characters as ``str.isspace``
    (tests check every code point). Repeated values (a town, a state) are made
    into Python strings once and shared. Nothing here goes through NumPy
    conversions or Python scalars, which would import pandas (0.5 s).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    array = column.combine_chunks()
    encoded = pc.dictionary_encode(array)
    if 2 * len(encoded.dictionary) <= len(array):
        values: list[str | None] = encoded.dictionary.to_pylist()
        for i in _blank(pa, pc, encoded.dictionary):
            values[i] = None
        indices = encoded.indices  # int32, no nulls: the file's cells are never null
        codes = np.frombuffer(indices.buffers()[1], dtype=np.int32)
        codes = codes[indices.offset : indices.offset + len(indices)]
        return np.array(values, dtype=object)[codes].tolist()  # type: ignore[no-any-return]
    cells: list[str | None] = array.to_pylist()
    for i in _blank(pa, pc, array):
        cells[i] = None
    return cells


def _blank(pa: Any, pc: Any, array: Any) -> list[int]:
    """The positions of the empty and white-space-only strings of ``array``."""
    empty = pc.invert(pc.cast(pc.utf8_length(array), pa.bool_()))
    return pc.indices_nonzero(pc.or_(empty, pc.utf8_is_space(array))).to_pylist()  # type: ignore[no-any-return]
