"""What every distance metric offers, the table of metrics by name, and one-pair helpers.

A metric works in two stages so that costly work is done once per record, not
once per pair: ``prepare`` turns one side's raw values into an array-friendly
form (distinct strings and codes, parsed dates, coordinates in radians), and
``compute`` returns the distances of many pairs ``(ia[k], ib[k])`` at once
(rapidfuzz's C++ ``cpdist``/``cdist`` for strings, numpy for numbers). Missing
values give NaN; the caller applies the attribute's ``missing`` policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.alignment.normalise import NormaliseError
from engine.registry import Registry
from schemas.alignment import METRICS as _OPTION_MODELS

__all__ = [
    "METRICS",
    "Bad",
    "Metric",
    "Value",
    "block",
    "distance",
    "distance_matrix",
    "scalar_strings",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Value = str | tuple[str | None, ...] | None
Bad = list[tuple[int, str]] | None

#: name -> the metric's class (instantiate it: ``METRICS[name].func()``).
METRICS: Registry[Any] = Registry("metric")


class Metric(Protocol):
    """What every registered metric provides."""

    def prepare(self, values: Sequence[Value], options: Any, bad: Bad = None) -> Any:
        """One side's values in the form ``compute`` wants.

        A value that cannot be read raises :class:`NormaliseError`, or, when ``bad``
        is a list, is appended to it as ``(index, message)`` and counts as missing.
        """

    def compute(self, a: Any, b: Any, ia: Ints, ib: Ints, options: Any) -> Floats:
        """Distances of the pairs ``(ia[k], ib[k])``; NaN where a value is missing."""

    def bounded(self, options: Any) -> bool:
        """True when every distance is within [0, 1]."""


def block(metric: Any, a: Any, b: Any, rows_a: Ints, rows_b: Ints, options: Any) -> Floats:
    """The len(rows_a) x len(rows_b) distances of a cross product of records.

    Metrics with a ``block`` method compute it directly (rapidfuzz ``cdist`` on the
    block's distinct values, numpy broadcasting); the others, or a ``block`` that
    returns None, go through ``compute`` on the flattened pairs.
    """
    direct = getattr(metric, "block", None)
    if direct is not None:
        out = direct(a, b, rows_a, rows_b, options)
        if out is not None:
            return np.asarray(out, dtype=np.float64)
    ia = np.repeat(rows_a, len(rows_b))
    ib = np.tile(rows_b, len(rows_a))
    flat: Floats = metric.compute(a, b, ia, ib, options)
    return flat.reshape(len(rows_a), len(rows_b))


def scalar_strings(values: Sequence[Value], metric: str) -> Sequence[str | None]:
    """Values that must be single strings (a tuple is a NormaliseError)."""
    # The spec checks an attribute's column count against its metric; this guards
    # direct callers.
    if tuple not in set(map(type, values)):  # in C; the loop below only to name the value
        return values  # type: ignore[return-value]
    for index, v in enumerate(values):
        if isinstance(v, tuple):
            raise NormaliseError(
                index, str(v), f"metric '{metric}' compares single values, not tuples"
            )
    return values  # type: ignore[return-value]


def _options(name: str, options: dict[str, Any] | Any | None) -> Any:
    if options is None or isinstance(options, dict):
        return _OPTION_MODELS[name](**(options or {}))
    return options


def distance_matrix(
    name: str,
    align: Sequence[Value],
    target: Sequence[Value],
    options: dict[str, Any] | Any | None = None,
) -> Floats:
    """The full len(align) x len(target) matrix of one metric (for small sets and tests)."""
    metric = METRICS[name].func()
    opts = _options(name, options)
    pa, pb = metric.prepare(list(align), opts), metric.prepare(list(target), opts)
    ia = np.repeat(np.arange(len(align), dtype=np.int64), len(target))
    ib = np.tile(np.arange(len(target), dtype=np.int64), len(align))
    return np.asarray(metric.compute(pa, pb, ia, ib, opts)).reshape(len(align), len(target))


def distance(name: str, a: Value, b: Value, options: dict[str, Any] | Any | None = None) -> float:
    """The distance of one pair (for examples and tests; pipelines use ``compute``)."""
    return float(distance_matrix(name, [a], [b], options)[0, 0])
