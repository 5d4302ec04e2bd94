"""Writing a generated task: its files, CSV columns formatted by chunk, atomic writes."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.generate.arrays import CHUNK, BoolArray, IntArray, strs

Formatter = Callable[[IntArray], list[str]]
"""A column of the output: the text of the rows it is given."""


@dataclass(frozen=True)
class GeneratedTask:
    """The files written by a generator and their sizes."""

    align: Path
    target: Path
    gold: Path
    n_align: int
    n_target: int
    n_links: int


def check_args(n: int, duplicates: float) -> None:
    """Refuse a size that is not a positive integer or a share of duplicates outside [0, 1]."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    if not 0.0 <= duplicates <= 1.0:
        raise ValueError(f"duplicates must be within [0, 1], not {duplicates!r}")


def text_column(col: NDArray[Any]) -> Formatter:
    """A column of strings, as they are."""
    return lambda idx: strs(col[idx])


def number_column(col: IntArray) -> Formatter:
    """A column of integers; a negative one (missing) is written empty."""

    def fmt(idx: IntArray) -> list[str]:
        values = col[idx]
        out = list(map(str, values.tolist()))
        for i in np.flatnonzero(values < 0).tolist():
            out[i] = ""
        return out

    return fmt


def id_column(prefix: str, num: IntArray, dup: BoolArray) -> Formatter:
    """Record ids: ``<prefix>-<i>-org`` for originals, ``<prefix>-<i>-dup-0`` for duplicates."""
    org, dup0 = f"{prefix}-{{}}-org".format, f"{prefix}-{{}}-dup-0".format

    def fmt(idx: IntArray) -> list[str]:
        nums, dups = num[idx], dup[idx]
        out = np.empty(len(idx), dtype=object)
        out[dups] = list(map(dup0, nums[dups].tolist()))
        out[~dups] = list(map(org, nums[~dups].tolist()))
        return strs(out)

    return fmt


def write_csv(path: Path, header: Sequence[str], columns: Sequence[Formatter],
              order: IntArray) -> None:  # fmt: skip
    """Write the rows ``order`` of the columns, in chunks, atomically (temp file then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for start in range(0, len(order), CHUNK):
            idx = order[start : start + CHUNK]
            values = [col(idx) for col in columns]
            # Joining is much faster than the csv writer and gives the same bytes when no value
            # needs quoting (no delimiter, quote or line break): check, else use the writer.
            text = "\n".join(map(",".join, zip(*values, strict=True)))
            if (
                text.count(",") == len(idx) * (len(columns) - 1)
                and text.count("\n") == len(idx) - 1
                and '"' not in text
                and "\r" not in text
            ):
                fh.write(text + "\n")
            else:
                writer.writerows(zip(*values, strict=True))
    os.replace(tmp, path)
