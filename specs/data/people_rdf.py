"""Turn a generated people task (``engine generate people``) into RDF for specs/linked.

    engine generate people --size 12000 --out /tmp/people
    python specs/data/people_rdf.py /tmp/people/people-a.csv http://example.org/people/a > a.nt
    python specs/data/people_rdf.py /tmp/people/people-b.csv http://example.org/people/b > b.nt

Each record becomes a foaf:Person ``<http://example.org/people/REC_ID>`` with foaf:givenName,
foaf:familyName, schema:birthDate (an xsd:date; an impossible date is left
out, as a curated store would), schema:postalCode, schema:addressLocality
(suburb) and schema:identifier (social security number). The second argument is
only a comment in the output: load each file into the graph of that name (for
Virtuoso, a Graph Store PUT to /sparql-graph-crud-auth?graph-uri=GRAPH).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Iterator
from pathlib import Path

FOAF = "http://xmlns.com/foaf/0.1/"
SCHEMA = "http://schema.org/"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _date(text: str) -> str | None:
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        return None


def triples(path: Path) -> Iterator[str]:
    """N-Triples lines of the records of one generated CSV file."""
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            subject = f"<http://example.org/people/{row['rec_id']}>"
            yield f"{subject} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{FOAF}Person> .\n"
            values = [
                (FOAF + "givenName", row["given_name"] and _literal(row["given_name"])),
                (FOAF + "familyName", row["surname"] and _literal(row["surname"])),
                (SCHEMA + "postalCode", row["postcode"] and _literal(row["postcode"])),
                (SCHEMA + "addressLocality", row["suburb"] and _literal(row["suburb"])),
                (SCHEMA + "identifier", row["soc_sec_id"] and _literal(row["soc_sec_id"])),
            ]
            born = _date(row["date_of_birth"]) if len(row["date_of_birth"]) == 8 else None
            if born:
                values.append((SCHEMA + "birthDate", f"{_literal(born)}^^<{XSD_DATE}>"))
            for predicate, value in values:
                if value:
                    yield f"{subject} <{predicate}> {value} .\n"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.stdout.write(f"# graph {sys.argv[2]}\n")
    sys.stdout.writelines(triples(Path(sys.argv[1])))
