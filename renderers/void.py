"""A linkset's description: VoID (what the links are) and PROV-O (which run made them).

Written to its own Turtle file beside the links, so the plain link triples stay
exactly the links, and the description can be loaded with them or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from renderers.rdf import check_iri

__all__ = ["LinksetDescription", "write_description"]


@dataclass(frozen=True)
class LinksetDescription:
    """The facts a linkset description states."""

    linkset: str
    predicate: str
    triples: int
    subjects: str
    objects: str
    data_dump: str
    activity: str
    spec_file: str  # an IRI (file:...)
    spec_sha256: str
    engine_version: str
    started: datetime
    ended: datetime
    sources: tuple[str, ...]  # IRIs of the sources read


def _literal(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _iri(iri: str) -> str:
    return f"<{check_iri(iri)}>"


def write_description(description: LinksetDescription, handle: TextIO) -> None:
    """Write the VoID and PROV-O description of one linkset as Turtle."""
    d = description
    handle.write(
        "@prefix void: <http://rdfs.org/ns/void#> .\n"
        "@prefix prov: <http://www.w3.org/ns/prov#> .\n"
        "@prefix dct: <http://purl.org/dc/terms/> .\n"
        "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\n"
    )
    handle.write(
        f"{_iri(d.linkset)} a void:Linkset ;\n"
        f"    void:linkPredicate {_iri(d.predicate)} ;\n"
        f"    void:subjectsTarget {_iri(d.subjects)} ;\n"
        f"    void:objectsTarget {_iri(d.objects)} ;\n"
        f'    void:triples "{d.triples}"^^xsd:integer ;\n'
        f"    void:dataDump {_iri(d.data_dump)} ;\n"
        f"    prov:wasGeneratedBy {_iri(d.activity)} .\n\n"
    )
    for dataset in sorted({d.subjects, d.objects}):
        handle.write(f"{_iri(dataset)} a void:Dataset .\n")
    used = "".join(f"    prov:used {_iri(source)} ;\n" for source in d.sources)
    handle.write(
        f"\n{_iri(d.activity)} a prov:Activity ;\n"
        f"    prov:startedAtTime {_literal(d.started.isoformat())}^^xsd:dateTime ;\n"
        f"    prov:endedAtTime {_literal(d.ended.isoformat())}^^xsd:dateTime ;\n"
        f"{used}"
        f"    prov:wasAssociatedWith <urn:specengine:version:{d.engine_version}> ;\n"
        f"    dct:source {_iri(d.spec_file)} ;\n"
        f"    dct:identifier {_literal('sha256:' + d.spec_sha256)} .\n"
    )
