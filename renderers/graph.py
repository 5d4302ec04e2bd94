"""The content of a published linkset graph, as N-Triples lines grouped by link.

Each link is its plain triple ``<align> <predicate> <target>``; with scores,
an ``owl:Axiom`` annotates it with its SSSOM similarity score, so the plain
triple stays exactly the link and a store can still tell how strong it is.
The axiom's IRI is derived from the graph and the triple: publishing the same
link again gives the same IRI, and the lines of a link never depend on the
others (batches may split anywhere between links).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from renderers.links import LinkTable, sorted_links
from renderers.rdf import check_iri

__all__ = ["OWL", "SSSOM", "axiom_iri", "curation_lines", "link_lines", "score_text"]

OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SSSOM = "https://w3id.org/sssom/"
MANUAL_CURATION = "https://w3id.org/semapv/vocab/ManualMappingCuration"
# Decimal, not double: Virtuoso prints doubles with six significant digits.
XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"


def axiom_iri(graph: str, subject: str, predicate: str, target: str) -> str:
    """The deterministic IRI of the annotation of one link in one graph."""
    digest = hashlib.sha256(f"{graph}\n{subject}\n{predicate}\n{target}".encode()).hexdigest()
    return f"urn:specengine:axiom:{digest[:32]}"


def score_text(score: float) -> str:
    """A score as written in the graph: six decimals, so re-runs compare exactly."""
    return f"{score:.6f}"


def curation_lines(
    graph: str,
    subject: str,
    predicate: str,
    target: str,
    author: str | None = None,
    *,
    typed: bool = True,
) -> list[str]:
    """The annotation of a link that came from a curation: SSSOM's manual-curation justification.

    ``typed``: also the axiom's type and annotated triple (when no score wrote them).
    """
    axiom = axiom_iri(graph, subject, predicate, target)
    lines = (
        [
            f"<{axiom}> <{RDF_TYPE}> <{OWL}Axiom> .\n",
            f"<{axiom}> <{OWL}annotatedSource> <{subject}> .\n",
            f"<{axiom}> <{OWL}annotatedProperty> <{predicate}> .\n",
            f"<{axiom}> <{OWL}annotatedTarget> <{target}> .\n",
        ]
        if typed
        else []
    )
    lines.append(f"<{axiom}> <{SSSOM}mapping_justification> <{MANUAL_CURATION}> .\n")
    if author is not None:
        lines.append(f"<{axiom}> <{SSSOM}author_id> <{check_iri(author)}> .\n")
    return lines


def link_lines(
    table: LinkTable,
    predicate: str,
    graph: str,
    scores: npt.NDArray[np.float64] | None = None,
    curated: Mapping[tuple[str, str], str | None] | None = None,
) -> Iterator[list[str]]:
    """The N-Triples lines of each link (sorted, duplicates once), one list per link.

    ``scores`` (one per row of ``table``, in [0, 1]) adds the annotation axiom;
    ``curated`` (link -> its curator's IRI or None) annotates the links that came
    from a curation (:func:`curation_lines`).
    """
    curated = curated or {}
    check_iri(predicate)
    order = sorted_links(table)
    if scores is not None:
        # Carry the scores along the same sort: sorted_links reorders the rows.
        index = {
            pair: i for i, pair in enumerate(zip(table.align_ids, table.target_ids, strict=False))
        }
        by_row = scores.tolist()
    previous: tuple[str, str] | None = None
    for pair in zip(order.align_ids, order.target_ids, strict=True):
        if pair == previous:
            continue
        previous = pair
        subject, target = check_iri(pair[0]), check_iri(pair[1])
        lines = [f"<{subject}> <{predicate}> <{target}> .\n"]
        if scores is not None:
            axiom = axiom_iri(graph, subject, predicate, target)
            score = score_text(by_row[index[pair]])
            lines += [
                f"<{axiom}> <{RDF_TYPE}> <{OWL}Axiom> .\n",
                f"<{axiom}> <{OWL}annotatedSource> <{subject}> .\n",
                f"<{axiom}> <{OWL}annotatedProperty> <{predicate}> .\n",
                f"<{axiom}> <{OWL}annotatedTarget> <{target}> .\n",
                f'<{axiom}> <{SSSOM}similarity_score> "{score}"^^<{XSD_DECIMAL}> .\n',
            ]
        if pair in curated:
            author = curated[pair]
            lines += curation_lines(graph, subject, predicate, target, author, typed=scores is None)
        yield lines
