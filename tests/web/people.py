"""The reference's people example (specs/seed-people.yaml) as CSV files and as specs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import rdflib
import yaml

__all__ = ["ALIGN", "EXPECTED_LINKS", "TARGET", "csv_bytes", "links", "write_people"]

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "specs" / "seed-people.yaml"
ALIGN = "http://example.org/align/person/{row}"
TARGET = "http://example.org/target/person/{row}"
#: The three owl:sameAs links of the reference: 0->0, 1->2, 2->1.
EXPECTED_LINKS = {
    ("http://example.org/align/person/0", "http://example.org/target/person/0"),
    ("http://example.org/align/person/1", "http://example.org/target/person/2"),
    ("http://example.org/align/person/2", "http://example.org/target/person/1"),
}


def csv_bytes(role: str) -> bytes:
    """One side of the example as a CSV file (header: its columns), from the seed spec's rows."""
    source = yaml.safe_load(SEED.read_text(encoding="utf-8"))["sources"][role]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(source["columns"])
    writer.writerows([str(cell) for cell in row] for row in source["inline"])
    return out.getvalue().encode("utf-8")


def write_people(folder: Path, name: str = "people") -> Path:
    """The seed spec with its outputs inside ``folder`` (``out/NAME.*``); returns its path."""
    spec = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    spec["name"] = name
    for role in ("align", "target"):  # YAML 1.1 reads 0 as a number: inline cells stay text
        spec["sources"][role]["inline"] = [
            [str(c) for c in row] for row in spec["sources"][role]["inline"]
        ]
    spec["outputs"] = [
        {"rdf": f"out/{name}.ttl"},
        {"rdf": f"out/{name}.nt"},
        {"csv": f"out/{name}.csv"},
        {"html": f"out/{name}.html"},
    ]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def links(data: bytes, format: str) -> set[tuple[str, str]]:
    """The owl:sameAs pairs of an RDF file."""
    graph = rdflib.Graph()
    graph.parse(data=data.decode("utf-8"), format=format)
    return {(str(s), str(o)) for s, o in graph.subject_objects(rdflib.OWL.sameAs)}
