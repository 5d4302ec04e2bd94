"""The change of a linkset between two runs: which triples go, which come.

A ``diff:`` output compares the RDF output this run writes with the same file
on disk before the run commits (the previous run's): both are read as RDF, so
their layout does not matter, and their triples (the links and their
annotations) are compared as sets. The difference is written as a SPARQL 1.1
Update (``renderers.sparql_update``) that turns a store holding the previous
linkset into one holding the new.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataError

__all__ = ["Changes", "Quad", "changes", "read_quads"]

#: (subject, predicate, object, graph) as N-Triples terms; graph None: the default graph.
Quad = tuple[str, str, str, str | None]

_RDFLIB_FORMATS = {"ntriples": "nt", "nquads": "nquads", "turtle": "turtle"}


@dataclass(frozen=True)
class Changes:
    """The triples to delete and to insert, sorted, and how many of them are links."""

    removed: tuple[Quad, ...]
    added: tuple[Quad, ...]
    predicate: str

    def links(self, quads: tuple[Quad, ...]) -> int:
        """How many of ``quads`` are links (their predicate is the linkset's)."""
        term = f"<{self.predicate}>"
        return sum(1 for quad in quads if quad[1] == term)


def read_quads(text: str, fmt: str, graph: str | None, source: str) -> set[Quad]:
    """The triples of an RDF text (N-Triples, N-Quads or Turtle), each in ``graph``.

    N-Quads keep their own graph (``graph`` names the default graph's). A text
    that is not the format is a data error naming ``source``.
    """
    plain = _plain_quads(text, fmt, graph)
    if plain is not None:
        return plain
    from rdflib import Dataset, Graph
    from rdflib.graph import DATASET_DEFAULT_GRAPH_ID
    from rdflib.term import Node

    def term(node: Node) -> str:
        return str(node.n3())

    try:
        if fmt == "nquads":
            dataset = Dataset()
            dataset.parse(data=text, format="nquads")
            out: set[Quad] = set()
            for s, p, o, g in dataset.quads((None, None, None, None)):
                name = None if g is None or g == DATASET_DEFAULT_GRAPH_ID else str(g)
                out.add((term(s), term(p), term(o), name or graph))
            return out
        parsed = Graph().parse(data=text, format=_RDFLIB_FORMATS[fmt])
    except Exception as exc:  # rdflib raises many kinds: all mean unreadable RDF
        raise DataError(source, f"cannot read the previous linkset as {fmt}: {exc}") from None
    return {(term(s), term(p), term(o), graph) for s, p, o in parsed}


# A line of IRIs as the engine writes them (renderers.rdf): rdflib reads each IRI back
# unchanged (no escape, no character its parser or n3() refuses, Unicode spaces too).
_IRI = r"<([A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\s<>\"{}|^`\\]*)>"
_LINES = {
    "ntriples": re.compile(rf"^{_IRI} {_IRI} {_IRI}() \.$", re.MULTILINE),
    "nquads": re.compile(rf"^{_IRI} {_IRI} {_IRI}(?: {_IRI})? \.$", re.MULTILINE),
}


def _plain_quads(text: str, fmt: str, graph: str | None) -> set[Quad] | None:
    """:func:`read_quads` of a text made only of such lines, without rdflib; else None.

    rdflib reads about 30,000 triples a second: a linkset of a big run takes it seconds.
    """
    pattern = _LINES.get(fmt)
    if pattern is None or (text and not text.endswith("\n")):
        return None
    found = pattern.findall(text)
    if len(found) != text.count("\n"):  # a line of another form: rdflib reads it
        return None
    default = {"", "urn:x-rdflib:default"}  # rdflib's name of the default graph
    return {(f"<{s}>", f"<{p}>", f"<{o}>", graph if g in default else g) for s, p, o, g in found}


_UNREADABLE = "cannot be read as the previous linkset, which the diff output compares the links to"
_WHAT_TO_DO = "remove it or move it away (the run then writes every link as added)"
_FORMAT_NAMES = {"turtle": "Turtle", "ntriples": "N-Triples", "nquads": "N-Quads"}


def changes(
    previous: Path, new: str | set[Quad], fmt: str, graph: str | None, predicate: str
) -> Changes:
    """What turns the linkset in file ``previous`` (perhaps absent) into ``new``.

    ``new``: the new linkset's text, or its quads as :func:`read_quads` reads them.
    """
    try:
        # utf-8-sig: a byte order mark (an editor's on Windows) is no character of the RDF.
        old_text = previous.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        old_text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(str(previous), f"{_UNREADABLE} ({exc}); {_WHAT_TO_DO}") from None
    try:
        old = read_quads(old_text, fmt, graph, str(previous))
    except DataError:
        # rdflib's own message (its parser's internals) helps nobody here: the file is
        # the run's previous output, and what to do about it is the point.
        raise DataError(
            str(previous), f"{_UNREADABLE}: it is not {_FORMAT_NAMES.get(fmt, fmt)}; {_WHAT_TO_DO}"
        ) from None
    if isinstance(new, str):
        new = read_quads(new, fmt, graph, f"the new {previous.name}")
    return Changes(
        tuple(sorted(old - new, key=_key)), tuple(sorted(new - old, key=_key)), predicate
    )


def _key(quad: Quad) -> tuple[str, str, str, str]:
    return (quad[3] or "", quad[0], quad[1], quad[2])
