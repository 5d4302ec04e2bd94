"""Big outputs written a chunk of rows at a time, their numbers formatted in bulk.

Formatting a float in Python costs about a microsecond; a run with hundreds of
thousands of links writes millions of them. Here a chunk's columns are
formatted by Arrow (``pyarrow.compute.cast`` to string, compiled) and its rows
joined by Arrow too, then handed to the output as one string: no Python object
per value, and no more than a chunk of text in memory at a time.

Arrow's shortest round-trip digits are Python's (``repr``: both give the
shortest digits that read back exactly, the closest to the value among them);
its notation differs outside ``[1e-4, 1e10)`` (``1e-05`` is ``0.00001``,
``1e+10`` is ``10000000000``), and ``-0.0`` is ``-0``. Those values, and NaN
and infinities, are formatted in Python by the writer's own function, so the
text is byte for byte that function's. pyarrow is imported only for outputs big
enough to pay its import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

import numpy as np
import numpy.typing as npt

from renderers.links import FloatArray

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "BULK_ROWS",
    "CHUNK_ROWS",
    "booleans",
    "float_texts",
    "plain_text",
    "strings",
    "text",
    "write_rows",
]

#: Outputs with fewer rows are written value by value: importing pyarrow would cost more.
BULK_ROWS = 20_000
#: Rows formatted and written at a time.
CHUNK_ROWS = 16_384

# Where Arrow writes the digits Python's repr writes, in the same notation.
_LOW, _HIGH = 1e-4, 1e10


def float_texts(values: FloatArray, python: Callable[[float], str]) -> pa.Array:
    """``[python(v) for v in values]`` as an Arrow string array, without the loop.

    ``python`` formats a float as repr's shortest digits (integral values without
    ``.0`` and ``-0.0`` as ``0``, as :func:`renderers.csv.format_distance` does)
    and NaN (a missing value) as the empty string; it is called only on
    infinities, ``-0.0`` and magnitudes outside ``[1e-4, 1e10)``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    values = np.ascontiguousarray(values, dtype=np.float64)
    missing = np.isnan(values)
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        arrow = ((magnitude >= _LOW) & (magnitude < _HIGH)) | ((values == 0) & ~np.signbit(values))
    arrow |= missing
    # NaN as a null: cast to a null string, then filled with "".
    # From its buffers, not with pa.array, which imports pandas (0.4 s) on first use.
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    array = pa.Array.from_buffers(pa.float64(), len(values), [validity, pa.py_buffer(values)])
    texts = pc.cast(array, pa.string())
    if missing.any():
        texts = pc.fill_null(texts, text(""))
    if arrow.all():
        return texts
    others = np.flatnonzero(~arrow)
    replacements = strings([python(v) for v in values[others].tolist()])
    assert replacements is not None, "a number's text is ASCII"
    return pc.replace_with_mask(texts, booleans(~arrow), replacements)


def booleans(values: npt.NDArray[np.bool_]) -> pa.Array:
    """A NumPy boolean array as an Arrow one, from its bits (``pa.array`` imports pandas)."""
    import pyarrow as pa

    bits = pa.py_buffer(np.packbits(values, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, bits])


def strings(values: Sequence[str], joined: str | None = None) -> pa.Array | None:
    """``values`` as an Arrow string array (None if one is not valid UTF-8: a lone surrogate).

    Built from its buffers, not with ``pa.array``: pyarrow imports pandas (about
    0.4 s) the first time it converts a Python object. ``joined`` is
    ``"".join(values)`` when the caller has it already.
    """
    import pyarrow as pa

    everything = "".join(values) if joined is None else joined
    try:
        data = everything.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if len(data) > np.iinfo(np.int32).max:  # a string array's offsets are 32-bit
        return None
    if len(data) == len(everything):  # ASCII: a value's bytes are its characters
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    else:
        lengths = np.fromiter(
            (len(v.encode("utf-8")) for v in values), dtype=np.int64, count=len(values)
        )
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data))


def text(value: str) -> pa.Scalar:
    """One string as an Arrow scalar, without ``pa.scalar`` (which imports pandas)."""
    array = strings([value])
    assert array is not None, "a text the caller chose is valid UTF-8"
    return array[0]


def plain_text(values: Sequence[str], special: str) -> pa.Array | None:
    """``values`` as an Arrow string array; None when one holds a character of ``special``.

    For fields a writer must quote or escape when they hold such characters: the
    caller then writes the chunk its own way. None too when a value cannot be
    written as UTF-8 (a lone surrogate), so the caller's own writing reports it.
    """

    # One search of one string per character: far quicker than a test per value.
    everything = "".join(values)
    if any(c in everything for c in special):
        return None
    return strings(values, everything)


def write_rows(columns: Sequence[pa.Array | str], delimiter: str, handle: TextIO) -> None:
    """Write one line per row: the columns' texts (a ``str`` repeats) joined by ``delimiter``.

    Each line ends with ``\\n``; the chunk goes to ``handle`` as one string.
    """
    import pyarrow.compute as pc

    fields = [text(c) if isinstance(c, str) else c for c in columns]
    joined = pc.binary_join_element_wise(*fields, text(delimiter))
    # Joined with an empty string by "\n": each row then ends with its line end.
    lines = pc.binary_join_element_wise(joined, text(""), text("\n"))
    if not len(lines):
        return
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset :]
    start, end = int(offsets[0]), int(offsets[len(lines)])
    data = lines.buffers()[2]
    assert data is not None
    handle.write(memoryview(data)[start:end].tobytes().decode("utf-8"))
