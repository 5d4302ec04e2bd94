"""Writers of alignment outputs: RDF links, CSV tables, all-or-nothing file commits.

This package imports nothing from ``engine``: the engine hands it a
:class:`LinkTable` and the writers only serialise it.
"""

from renderers.atomic import (
    OutputBusyError,
    OutputError,
    OutputTransaction,
    is_transient,
    recover,
)
from renderers.csv import format_distance, write_links_csv
from renderers.links import LinkTable, sorted_links
from renderers.rdf import check_iri, write_nquads, write_ntriples, write_turtle
from renderers.void import LinksetDescription, write_description

__all__ = [
    "LinkTable",
    "LinksetDescription",
    "OutputBusyError",
    "OutputError",
    "OutputTransaction",
    "check_iri",
    "format_distance",
    "is_transient",
    "recover",
    "sorted_links",
    "write_description",
    "write_links_csv",
    "write_nquads",
    "write_ntriples",
    "write_turtle",
]
