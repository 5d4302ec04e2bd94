"""A change of a linkset as a SPARQL 1.1 Update: ``DELETE DATA`` then ``INSERT DATA``.

Terms are written as N-Triples terms (absolute IRIs, typed literals), which
SPARQL reads unchanged. The engine writes no blank node, but a previous linkset
edited by hand, or a published graph, may hold some: ``DELETE DATA`` cannot name
one (SPARQL 1.1 Update, 3.1.2), so each such triple is deleted by a ``DELETE
WHERE`` of its own, its blank nodes made variables that match only blank nodes.
Triples of a named graph go in a ``GRAPH`` block.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import groupby, islice
from typing import TextIO

__all__ = ["write_update"]

Quad = tuple[str, str, str, str | None]

#: Lines written at a time: a big update's text never sits in memory all at once.
_CHUNK_LINES = 4096


def _blank_deletion(quad: Quad) -> str:
    """``DELETE WHERE`` of one triple whose subject or object is a blank node."""
    names: dict[str, str] = {}
    terms = []
    for term in quad[:3]:
        if term.startswith("_:"):
            term = names.setdefault(term, f"?b{len(names)}")
        terms.append(term)
    pattern = " ".join(terms) + " ."
    if quad[3] is not None:
        pattern = f"GRAPH <{quad[3]}> {{ {pattern} }}"
    blank = " && ".join(f"isBlank({name})" for name in names.values())
    return f"DELETE {{ {pattern} }}\nWHERE {{ {pattern} FILTER({blank}) }} ;\n"


def _without_blanks(quads: Iterable[Quad], blank: list[Quad]) -> Iterator[Quad]:
    """``quads`` but those naming a blank node, which go to ``blank``."""
    for quad in quads:
        if quad[0].startswith("_:") or quad[2].startswith("_:"):
            blank.append(quad)
        else:
            yield quad


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
    blank: list[Quad] = []  # rare (never in the engine's own linksets): kept aside
    _block("DELETE DATA", _without_blanks(removed, blank), handle)
    handle.write(" ;\n")
    for quad in blank:
        handle.write(_blank_deletion(quad))
    _block("INSERT DATA", added, handle)
    handle.write("\n")
