"""Output formats by name: each registers its spec key, its model and its writer once.

A writer (:data:`Writer`) is registered with ``@FORMATS.register(name, model)``
(in :mod:`engine.alignment.write`, beside the others); ``render`` looks the
output's key up here, the web's compose page offers the formats that declare
``offered`` file names, and the tests check the table against the spec
language's (``schemas.alignment.outputs.OUTPUT_MODELS``), so that a format
cannot be accepted by a spec and unknown to a run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "Format", "Formats", "Writer"]

#: ``writer(state, index, output, fmt, path)``: write output number ``index`` (its
#: spec ``output``, serialisation ``fmt``) to ``path`` in the run's transaction.
Writer = Callable[[Any, int, Any, str, Path], None]


@dataclass(frozen=True)
class Format:
    """One output format: its key in a spec (``{csv: out/links.csv}``), model and writer."""

    name: str
    model: type[Any]
    write: Writer
    #: The compose page's choices: (file name suffix, label), e.g. ("ttl", "Turtle (.ttl)").
    offered: tuple[tuple[str, str], ...] = ()


class Formats:
    """The registered output formats, in the order they were registered."""

    def __init__(self) -> None:
        self._formats: dict[str, Format] = {}

    def register(
        self, name: str, model: type[Any], *, offered: tuple[tuple[str, str], ...] = ()
    ) -> Callable[[Writer], Writer]:
        """Decorator registering ``writer`` as the format ``name`` of outputs of ``model``."""

        def add(writer: Writer) -> Writer:
            if name in self._formats:
                raise ValueError(f"output format '{name}' registered twice")
            self._formats[name] = Format(name, model, writer, offered)
            return writer

        return add

    def __getitem__(self, name: str) -> Format:
        try:
            return self._formats[name]
        except KeyError:
            valid = ", ".join(self._formats)
            raise KeyError(f"unknown output format '{name}' (valid: {valid})") from None

    def __iter__(self) -> Iterator[Format]:
        return iter(list(self._formats.values()))

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._formats)

    def of(self, output: Any) -> Format:
        """The format of a validated output (by its model)."""
        for entry in self._formats.values():
            if type(output) is entry.model:
                return entry
        raise KeyError(f"no output format writes {type(output).__name__}")

    def offered(self) -> dict[str, tuple[str, str]]:
        """The compose page's choices: file name suffix -> (the format's key, label)."""
        return {suffix: (f.name, label) for f in self for suffix, label in f.offered}


#: Every output format of an alignment spec (registered by engine.alignment.write).
FORMATS = Formats()
