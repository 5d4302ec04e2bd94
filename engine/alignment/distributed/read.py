"""Sources read in partitions on the workers: a delimited file in byte ranges.

One worker scans the file once for line ends (:func:`plan_file`: the byte
ranges, cut at line ends, and the line each range starts at); each range is
then parsed where its task runs by the ordinary reader
(:func:`engine.alignment.sources.read_source`), on a copy of the header and
the range, so that every rule of the local reader holds. A file whose quote
character occurs anywhere (a quoted field may hold a line break), or in an
encoding where a newline byte is not a line end, is read as one partition (on
a worker all the same). Inline rows are read on the driver and split.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.alignment.records import Records, Skip
from engine.alignment.sources import read_source
from engine.errors import DataError

__all__ = ["Failure", "FilePlan", "Part", "id_and_line", "plan_file", "read_part", "split_records"]

#: Encodings in which byte 0x0a is always a line end.
_BYTE_SAFE = {
    "utf-8",
    "utf8",
    "utf-8-sig",
    "ascii",
    "us-ascii",
    "latin-1",
    "latin1",
    "iso-8859-1",
    "cp1252",
}
#: Bytes scanned at once.
_BLOCK = 1 << 24


@dataclass(frozen=True)
class Failure:
    """A data error met on a worker, sent back as data (the driver raises it)."""

    source: str
    message: str
    row: int | None = None
    column: str | None = None

    @classmethod
    def of(cls, exc: DataError) -> Failure:
        """The error as plain data."""
        return cls(exc.source, exc.message, exc.row, exc.column)

    def error(self) -> DataError:
        """The error to raise on the driver."""
        return DataError(self.source, self.message, row=self.row, column=self.column)


@dataclass
class Part:
    """One partition of a side, held on a worker: its records, then their prepared values."""

    role: str
    index: int
    records: Records
    failure: Failure | None = None
    normalised: dict[str, list[Any]] = field(default_factory=dict)
    #: Per blocking rule: each record's key, its 64-bit hash, and whether it has one.
    keys: list[tuple[list[Any], Any, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class FilePlan:
    """Where a delimited file's partitions start and end, and the line each starts at."""

    header_end: int
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    lines: tuple[int, ...]


def plan_file(
    path: str, header: bool, quotechar: str | None, encoding: str, parts: int
) -> FilePlan:
    """Byte ranges of about ``size / parts`` bytes cut at line ends (runs on a worker)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header_end = len(f.readline()) if header else 0
        quote = quotechar.encode() if quotechar else None
        safe = encoding.lower().replace("_", "-") in _BYTE_SAFE
        # Candidate cuts, then each moved to the line end at or after it.
        wanted = [header_end + k * (size - header_end) // parts for k in range(1, parts)]
        cuts: list[int] = []
        f.seek(0)
        position = 0
        quoted = False
        while True:
            block = f.read(_BLOCK)
            if not block:
                break
            if quote is not None and quote in block:
                quoted = True
                break
            position += len(block)
        if quoted or not safe or parts <= 1:
            return FilePlan(header_end, (header_end,), (size,), (2 if header else 1,))
        for cut in wanted:
            f.seek(cut)
            f.readline()
            end = f.tell()
            if header_end < end < size and (not cuts or end > cuts[-1]):
                cuts.append(end)
        starts = (header_end, *cuts)
        ends = (*cuts, size)
        lines = [2 if header else 1]
        for start, end in zip(starts[:-1], ends[:-1], strict=True):
            f.seek(start)
            count = 0
            left = end - start
            while left:
                block = f.read(min(_BLOCK, left))
                count += block.count(b"\n")
                left -= len(block)
            lines.append(lines[-1] + count)
    return FilePlan(header_end, starts, ends, tuple(lines))


def read_part(
    source: Any, role: str, spec_file: str, plan: FilePlan, index: int, name: str
) -> Part:
    """Partition ``index`` of a delimited file, read by the ordinary reader (runs on a worker).

    Rows are the file's lines, as the local reader gives them.
    """
    path = Path(source.csv if hasattr(source, "csv") else source.tsv)
    key = "csv" if hasattr(source, "csv") else "tsv"
    with open(path, "rb") as f:
        head = f.read(plan.header_end)
        f.seek(plan.starts[index])
        body = f.read(plan.ends[index] - plan.starts[index])
    handle, copy = tempfile.mkstemp(suffix=path.suffix, prefix="specengine-part-")
    shift = plan.lines[index] - (2 if plan.header_end else 1)
    empty = Records(name, [], [], {}, np.zeros(0, np.int64))
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(head)
            out.write(body)
        del body
        records = read_source(source.model_copy(update={key: Path(copy)}), role, spec_file)
    except DataError as exc:
        row = None if exc.row is None else exc.row + shift
        return Part(role, index, empty, Failure(name, exc.message, row, exc.column))
    finally:
        os.unlink(copy)
    records.source = name
    records.rows = records.rows + shift
    records.skipped = [Skip(s.row + shift, s.reason) for s in records.skipped]
    return Part(role, index, records)


def split_records(records: Records, role: str, parts: int) -> list[Part]:
    """Records read on the driver (inline rows) as partitions."""
    n = len(records)
    bounds = [k * n // parts for k in range(parts + 1)]
    out = []
    for index in range(parts):
        keep = np.zeros(n, dtype=bool)
        keep[bounds[index] : bounds[index + 1]] = True
        part = records.take(keep)
        if index:
            part.skipped = []
            part.warnings = []
        out.append(Part(role, index, part))
    return out


def id_and_line(part: Part, index: int) -> tuple[str, int]:
    """A record's id and its line in the file."""
    return part.records.ids[index], int(part.records.rows[index])
