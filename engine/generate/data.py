"""The generator's word lists, read from the data files shipped beside it (``data/``).

Plain lists are text files: words separated by white space, or one entry a line where an
entry holds a space; lines starting with ``#`` are comments. Tables are CSV files with a
header. Lists whose entries carry meaningful spaces or empty strings (name parts, place
styles) are JSON, where both are visible. The files ship as package data
(pyproject.toml), so an installed engine generates the same tasks as a checkout.
"""

from __future__ import annotations

import csv
import io
import json
from importlib import resources

__all__ = ["lines", "mapping", "number", "rows", "strings", "table", "words"]


def _read(name: str) -> str:
    return (resources.files("engine.generate") / "data" / name).read_text(encoding="utf-8")


def _content(name: str) -> list[str]:
    return [line for line in _read(name).splitlines() if not line.startswith("#")]


def words(name: str) -> tuple[str, ...]:
    """The words of a text file, in order (duplicates kept: callers decide)."""
    return tuple(word for line in _content(name) for word in line.split())


def lines(name: str) -> tuple[str, ...]:
    """The non-blank lines of a text file, stripped: one entry a line."""
    return tuple(line.strip() for line in _content(name) if line.strip())


def rows(name: str) -> tuple[dict[str, str], ...]:
    """The rows of a CSV file with a header, as dictionaries keyed by column."""
    return tuple(csv.DictReader(io.StringIO(_read(name), newline="")))


def table(name: str) -> object:
    """The content of a JSON file (check its shape with :func:`strings` and :func:`number`)."""
    value: object = json.loads(_read(name))
    return value


def mapping(value: object, where: str) -> dict[str, object]:
    """``value`` as a JSON object; ``where`` names it in the error of a malformed file."""
    if not isinstance(value, dict):
        raise ValueError(f"engine/generate/data: {where} must be an object")
    return value


def strings(value: object, where: str) -> tuple[str, ...]:
    """``value`` as a tuple of strings; ``where`` names it in the error of a malformed file."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"engine/generate/data: {where} must be a list of strings")
    return tuple(value)


def number(value: object, where: str) -> float:
    """``value`` as a float; ``where`` names it in the error of a malformed file."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"engine/generate/data: {where} must be a number")
    return float(value)
