"""engine/alignment/formats.py: the output formats' registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.alignment.formats import Formats
from engine.alignment.write import FORMATS
from schemas.alignment import LinksCsvOutput, RdfOutput


def _writer(state: Any, index: int, output: Any, fmt: str, path: Path) -> None:
    """A writer that writes nothing."""


def test_a_format_is_found_by_name_and_by_its_output() -> None:
    formats = Formats()
    formats.register("csv", LinksCsvOutput, offered=(("csv", "CSV (.csv)"),))(_writer)
    formats.register("rdf", RdfOutput)(_writer)
    assert formats.names() == ["csv", "rdf"]  # as registered
    output = LinksCsvOutput.model_construct(csv=Path("links.csv"), delimiter=",")
    assert formats.of(output).name == "csv" and formats["rdf"].write is _writer
    assert formats.offered() == {"csv": ("csv", "CSV (.csv)")}
    with pytest.raises(ValueError, match="'csv' registered twice"):
        formats.register("csv", LinksCsvOutput)(_writer)
    with pytest.raises(KeyError, match=r"unknown output format 'jsonl' \(valid: csv, rdf\)"):
        formats["jsonl"]
    with pytest.raises(KeyError, match="no output format writes int"):
        formats.of(3)


def test_the_compose_page_offers_the_formats_that_need_only_a_file_name() -> None:
    # The page's choices before the registry, still offered in this order.
    assert list(FORMATS.offered().items())[:5] == list(
        {
            "ttl": ("rdf", "Turtle (.ttl)"),
            "nt": ("rdf", "N-Triples (.nt)"),
            "csv": ("csv", "CSV (.csv)"),
            "sssom.tsv": ("sssom", "SSSOM (.sssom.tsv)"),
            "html": ("html", "HTML report (.html)"),
        }.items()
    )
