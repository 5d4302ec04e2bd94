"""A change of a linkset as a SPARQL 1.1 Update: ``DELETE DATA`` then ``INSERT DATA``.

Terms are written as N-Triples terms (absolute IRIs, typed literals), which
SPARQL reads unchanged; no blank node (the engine writes none, and ``DELETE
DATA`` cannot name one). Triples of a named graph go in a ``GRAPH`` block.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby, islice
from typing import TextIO

__all__ = ["write_update"]

Quad = tuple[str, str, str, str | None]

#: Lines written at a time: a big update's text never sits in memory all at once.
_CHUNK_LINES = 4096


def _block(operation: str, quads: Iterable[Quad], handle: TextIO) -> None:
    handle.write(f"{operation} {{\n")
    for graph, group in groupby(quads, key=lambda quad: quad[3]):
        indent = "  " if graph is None else "    "
        if graph is not None:
            handle.write(f"  GRAPH <{graph}> {{\n")
        lines = (f"{indent}{s} {p} {o} .\n" for s, p, o, _ in group)
        while chunk := "".join(islice(lines, _CHUNK_LINES)):
            handle.write(chunk)
        if graph is not None:
            handle.write("  }\n")
    handle.write("}")


def write_update(
    removed: Iterable[Quad], added: Iterable[Quad], comment: str, handle: TextIO
) -> None:
    """Write the update: ``comment`` lines first, then the deletions, then the insertions.

    The quads should be sorted by graph (each graph's triples are grouped). The
    text goes to ``handle`` a chunk of lines at a time. Empty blocks are valid
    SPARQL: an unchanged linkset gives a no-op update.
    """
    for line in comment.splitlines():
        handle.write(f"# {line}\n")
    _block("DELETE DATA", removed, handle)
    handle.write(" ;\n")
    _block("INSERT DATA", added, handle)
    handle.write("\n")
