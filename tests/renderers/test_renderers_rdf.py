"""N-Triples and Turtle writers, checked by parsing their output with rdflib."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np
import pytest
from rdflib import Graph, URIRef

from renderers import LinkTable, OutputTransaction, check_iri, write_ntriples, write_turtle

Writer = Callable[[LinkTable, str, TextIO], None]
SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
EXACT_MATCH = "http://www.w3.org/2004/02/skos/core#exactMatch"
FORMATS: list[tuple[Writer, str]] = [(write_ntriples, "nt"), (write_turtle, "turtle")]

PAIRS = [
    ("http://example.org/a/1", "http://example.com/x"),
    ("http://example.org/a/1", "http://example.com/y"),  # one subject, several objects
    ("http://example.org/Hélène", "http://example.com/Zoë"),
    ("http://example.org/a/2", "urn:isbn:0451450523"),
    ("http://example.org/a/3?q=1&r=%20#frag", "http://example.com/%C3%A9"),
    ("http://example.org/a/4", "http://example.com/x"),  # one object, several subjects
]


def _table(pairs: list[tuple[str, str]]) -> LinkTable:
    return LinkTable(
        align_ids=[a for a, _ in pairs],
        target_ids=[t for _, t in pairs],
        distance=np.linspace(0.0, 0.5, len(pairs)),
        attributes={"name": np.full(len(pairs), np.nan)},
    )


def _render(writer: Writer, table: LinkTable, predicate: str, path: Path) -> bytes:
    with OutputTransaction() as tx:
        writer(table, predicate, tx.open_text(path))
        tx.commit()
    return path.read_bytes()


def _triples(path: Path, fmt: str) -> set[tuple[object, object, object]]:
    return set(Graph().parse(path, format=fmt))


@pytest.mark.parametrize(("writer", "fmt"), FORMATS)
@pytest.mark.parametrize("predicate", [SAME_AS, EXACT_MATCH, "http://example.org/vocab#linked"])
def test_round_trip_through_rdflib(
    tmp_path: Path, writer: Writer, fmt: str, predicate: str
) -> None:
    path = tmp_path / f"links.{fmt}"
    _render(writer, _table(PAIRS), predicate, path)
    expected = {(URIRef(a), URIRef(predicate), URIRef(t)) for a, t in PAIRS}
    # Set equality also proves no distance/confidence triples or literals leaked in.
    assert _triples(path, fmt) == expected


@pytest.mark.parametrize(("writer", "fmt"), FORMATS)
def test_shuffled_input_gives_identical_bytes(tmp_path: Path, writer: Writer, fmt: str) -> None:
    pairs = [(f"http://example.org/a/{i % 13}", f"http://example.com/t/{i}") for i in range(200)]
    reference = _render(writer, _table(pairs), SAME_AS, tmp_path / "reference")
    rng = random.Random(7)
    for attempt in range(3):
        rng.shuffle(pairs)
        assert _render(writer, _table(pairs), SAME_AS, tmp_path / f"run{attempt}") == reference


def test_ntriples_text(tmp_path: Path) -> None:
    table = _table([("http://e.org/b", "http://t.org/1"), ("http://e.org/a", "http://t.org/2")])
    text = _render(write_ntriples, table, SAME_AS, tmp_path / "x.nt").decode()
    assert text == (
        f"<http://e.org/a> <{SAME_AS}> <http://t.org/2> .\n"
        f"<http://e.org/b> <{SAME_AS}> <http://t.org/1> .\n"
    )


def test_unicode_iris_are_written_as_utf8_not_escaped(tmp_path: Path) -> None:
    table = _table([("http://example.org/Hélène", "http://example.com/日本")])
    data = _render(write_ntriples, table, SAME_AS, tmp_path / "x.nt")
    assert "<http://example.org/Hélène>".encode() in data
    assert "<http://example.com/日本>".encode() in data


def test_turtle_groups_objects_by_subject_and_uses_curies(tmp_path: Path) -> None:
    table = _table(
        [
            ("http://e.org/a", "http://t.org/2"),
            ("http://e.org/b", "http://t.org/3"),
            ("http://e.org/a", "http://t.org/1"),
        ]
    )
    text = _render(write_turtle, table, SAME_AS, tmp_path / "x.ttl").decode()
    assert text == (
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "\n"
        "<http://e.org/a> owl:sameAs <http://t.org/1>, <http://t.org/2> .\n"
        "<http://e.org/b> owl:sameAs <http://t.org/3> .\n"
    )


def test_turtle_declares_the_predicate_prefix(tmp_path: Path) -> None:
    table = _table([("http://e.org/a", "http://t.org/1")])
    text = _render(write_turtle, table, EXACT_MATCH, tmp_path / "x.ttl").decode()
    assert "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .\n" in text
    assert "<http://e.org/a> skos:exactMatch <http://t.org/1> .\n" in text


def test_turtle_writes_other_predicates_in_full(tmp_path: Path) -> None:
    table = _table([("http://e.org/a", "http://t.org/1")])
    predicate = "http://www.w3.org/2002/07/owl#weird.name"  # not a simple local name
    text = _render(write_turtle, table, predicate, tmp_path / "x.ttl").decode()
    assert f"<http://e.org/a> <{predicate}> <http://t.org/1> .\n" in text


@pytest.mark.parametrize(("writer", "fmt"), FORMATS)
def test_empty_table_is_a_valid_empty_document(tmp_path: Path, writer: Writer, fmt: str) -> None:
    path = tmp_path / "empty"
    data = _render(writer, _table([]), SAME_AS, path)
    assert _triples(path, fmt) == set()
    if fmt == "turtle":
        assert data.startswith(b"@prefix owl: <http://www.w3.org/2002/07/owl#> .\n")
    else:
        assert data == b""


@pytest.mark.parametrize(("writer", "fmt"), FORMATS)
def test_duplicate_links_are_written_once(tmp_path: Path, writer: Writer, fmt: str) -> None:
    pair = ("http://e.org/a", "http://t.org/1")
    data = _render(writer, _table([pair, pair]), SAME_AS, tmp_path / "dup")
    assert data.count(b"<http://t.org/1>") == 1


BAD_IRIS = [
    "http://example.org/with space",
    "http://example.org/<angle>",
    'http://example.org/"quote"',
    "http://example.org/{brace}",
    "http://example.org/pipe|",
    "http://example.org/caret^",
    "http://example.org/back`tick",
    "http://example.org/back\\slash",
    "http://example.org/new\nline",
    "http://example.org/tab\t",
    "http://example.org/nul\x00",
    "http://example.org/surrogate\udce9",
    "relative/path",
    "",
]


@pytest.mark.parametrize("iri", BAD_IRIS)
def test_check_iri_rejects(iri: str) -> None:
    with pytest.raises(ValueError) as error:
        check_iri(iri)
    assert repr(iri) in str(error.value)  # the message names the offending IRI


@pytest.mark.parametrize(("writer", "fmt"), FORMATS)
@pytest.mark.parametrize("side", ["align", "target", "predicate"])
def test_writers_reject_invalid_iris(tmp_path: Path, writer: Writer, fmt: str, side: str) -> None:
    bad = "http://example.org/a b"
    align, target = ("http://e.org/a", "http://t.org/1")
    predicate = SAME_AS
    if side == "align":
        align = bad
    elif side == "target":
        target = bad
    else:
        predicate = bad
    existing = tmp_path / "links"
    existing.write_text("previous\n")
    with pytest.raises(ValueError, match="a b"), OutputTransaction() as tx:
        writer(_table([(align, target)]), predicate, tx.open_text(existing))
        tx.commit()
    assert existing.read_text() == "previous\n"


def test_check_iri_accepts_valid_iris() -> None:
    for align, target in PAIRS:
        assert check_iri(align) == align
        assert check_iri(target) == target
