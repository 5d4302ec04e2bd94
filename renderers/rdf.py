"""owl:sameAs links (or another predicate) as N-Triples or Turtle.

The triples are written directly rather than through an rdflib Graph: a run can
produce millions of links, and building a Graph first would cost memory and
time for nothing. The output is plain ``<align> <predicate> <target>`` triples;
distances belong in the CSV output, not in the links loaded into triple stores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TextIO

from renderers.links import LinkTable, sorted_links

__all__ = ["check_iri", "checked_pairs", "write_nquads", "write_ntriples", "write_turtle"]

OWL = "http://www.w3.org/2002/07/owl#"
# Namespaces whose predicates are written as CURIEs in Turtle.
_CURIE_PREFIXES = {
    "owl": OWL,
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
}

# An absolute IRI (scheme first: relative IRIs are invalid in N-Triples and would be
# resolved against the document in Turtle) without the characters that the IRIREF
# production of N-Triples/Turtle excludes: controls and space, <>"{}|^`\ .
# Lone surrogates are excluded too, as they cannot be written as UTF-8.
_VALID_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|^`\\\ud800-\udfff]*")
# A conservative local name: anything fancier is written as a full IRI instead.
_SIMPLE_LOCAL = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def check_iri(iri: str) -> str:
    """Return ``iri`` unchanged if it can be written as an IRIREF, else raise ``ValueError``.

    Ids are validated upstream; rejecting here rather than escaping is a safety
    net, because an escaped forbidden character still makes an invalid IRI that
    triple stores may refuse or mangle.
    """
    if _VALID_IRI.fullmatch(iri) is None:
        raise ValueError(f"not an absolute IRI that N-Triples/Turtle can represent: {iri!r}")
    return iri


def checked_pairs(table: LinkTable) -> Iterator[tuple[str, str]]:
    """The (subject, object) pairs in canonical order, validated, duplicates dropped."""
    table = sorted_links(table)
    previous: tuple[str, str] | None = None
    for pair in zip(table.align_ids, table.target_ids, strict=True):
        # Duplicate pairs are adjacent after sorting; RDF is a set, so write them once.
        if pair == previous:
            continue
        check_iri(pair[0])
        check_iri(pair[1])
        previous = pair
        yield pair


def write_ntriples(table: LinkTable, predicate_iri: str, handle: TextIO) -> None:
    """Write one ``<align> <predicate> <target> .`` line per link, sorted, to ``handle``.

    Raises ``ValueError`` naming the first IRI (id or predicate) that N-Triples
    cannot represent; in that case partial output may have been written, which is
    why callers write through :class:`renderers.atomic.OutputTransaction`.
    """
    middle = f"> <{check_iri(predicate_iri)}> <"
    handle.writelines(f"<{s}{middle}{o}> .\n" for s, o in checked_pairs(table))


def write_nquads(table: LinkTable, predicate_iri: str, graph_iri: str, handle: TextIO) -> None:
    """Write one ``<align> <predicate> <target> <graph> .`` line per link, sorted.

    The named graph lets a store hold, replace or drop one linkset as a unit.
    """
    middle = f"> <{check_iri(predicate_iri)}> <"
    tail = f"> <{check_iri(graph_iri)}> .\n"
    handle.writelines(f"<{s}{middle}{o}{tail}" for s, o in checked_pairs(table))


def _predicate_term(predicate_iri: str) -> tuple[str, str | None]:
    """The Turtle term for the predicate, and the prefix name it needs (if any)."""
    for name, namespace in _CURIE_PREFIXES.items():
        local = predicate_iri.removeprefix(namespace)
        if local != predicate_iri and _SIMPLE_LOCAL.fullmatch(local):
            return f"{name}:{local}", name
    return f"<{predicate_iri}>", None


def write_turtle(table: LinkTable, predicate_iri: str, handle: TextIO) -> None:
    """Write the links as Turtle, one statement per align id listing all its targets.

    ``@prefix owl:`` is always declared (a recognisable header even when empty);
    an skos or rdfs predicate also gets its prefix and is written as a CURIE.
    Subjects and objects are sorted, so the output is deterministic.
    Raises ``ValueError`` like :func:`write_ntriples`.
    """
    predicate, prefix = _predicate_term(check_iri(predicate_iri))
    handle.write(f"@prefix owl: <{OWL}> .\n")
    if prefix is not None and prefix != "owl":
        handle.write(f"@prefix {prefix}: <{_CURIE_PREFIXES[prefix]}> .\n")
    handle.write("\n")

    subject: str | None = None
    objects: list[str] = []

    def statement() -> str:
        return f"<{subject}> {predicate} " + ", ".join(f"<{o}>" for o in objects) + " .\n"

    for s, o in checked_pairs(table):
        if s != subject:
            if objects:
                handle.write(statement())
            subject, objects = s, []
        objects.append(o)
    if objects:
        handle.write(statement())
