"""IRIs cut in bulk: each plain one as the SSSOM writer's splitter cuts it, the rest left to it."""

from __future__ import annotations

import io
import random
from datetime import date

import numpy as np
import pytest

from renderers import LinkTable
from renderers import sssom as sssom_renderer
from renderers.iri_split import plain_splits
from renderers.rdf import _VALID_IRI
from renderers.sssom import _LOCAL, MappingSet, _known_namespaces, _Splitter, write_sssom

PIECES = [
    "http://e.org/",
    "https://x.org/a/",
    "urn:isbn:",
    "http://dbpedia.org/resource/",
    "http://schema.org/",
    "http://e.org/p#",
    "tag:x",
    "mailto:",
    "http://é.org/",
    "a",
    "b1",
    "Zoë",
    "%C3%A9",
    "%zz",
    "x y",
    "/",
    "#",
    "?q=1",
    ":",
    "..",
    "-",
    "_",
    "~",
    "[1]",
    "a|b",
    "<",
    "é",
    "\u2028",
    "",
    "https://orcid.org/0000-0002-1825-0097",
]


def _iris(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 5))) for _ in range(n)]


def test_plain_iris_are_cut_as_the_splitter_cuts_them() -> None:
    known = _known_namespaces({"ex": "http://e.org/p#"})
    splitter = _Splitter(known)
    iris = _iris(1, 20_000)
    locals_ = plain_splits(iris, known, _LOCAL.pattern)
    assert locals_ is not None
    plain = 0
    for iri, local in zip(iris, locals_, strict=True):
        if local is None:
            continue
        plain += 1
        assert splitter.split(iri) == (iri[: len(iri) - len(local)], local), iri
    assert 500 < plain < len(iris)  # both paths are taken


def test_iris_arrow_cannot_hold_are_left_to_the_splitter() -> None:
    assert plain_splits(["http://e.org/\ud800"], [], _LOCAL.pattern) is None


def _written(table: LinkTable, bulk: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(sssom_renderer, "BULK_ROWS", bulk)
    handle = io.StringIO()
    mapping_set = MappingSet("urn:specengine:x:0", 0.6, 3.0, "0.1.0", date(2024, 5, 1))
    write_sssom(table, mapping_set, handle)
    return handle.getvalue()


def test_sssom_with_iris_cut_in_bulk_is_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(2)
    valid = [i for i in _iris(3, 6_000) if _VALID_IRI.fullmatch(i)]
    n = 2_000
    table = LinkTable(
        [rng.choice(valid) for _ in range(n)],
        [rng.choice(valid) for _ in range(n)],
        np.linspace(0, 0.6, n),
    )
    assert _written(table, 100, monkeypatch) == _written(table, 10**9, monkeypatch)


def test_sssom_in_bulk_names_an_invalid_iri(monkeypatch: pytest.MonkeyPatch) -> None:
    n = 500
    align = [f"http://e.org/{i}" for i in range(n)]
    align[250] = "http://e.org/a b"
    table = LinkTable(align, [f"http://t.org/{i}" for i in range(n)], np.zeros(n))
    with pytest.raises(ValueError, match="a b"):
        _written(table, 100, monkeypatch)


def test_iris_under_a_known_namespace_are_cut_in_bulk() -> None:
    known = _known_namespaces({"ex": "http://e.org/p#", "exa": "http://e.org/p#a/"})
    iris = [
        "http://dbpedia.org/resource/Paris",
        "http://e.org/p#a/b",  # the longest known namespace
        "http://e.org/p#x",
        "http://dbpedia.org/resource/",  # the namespace itself: an empty local part
        "http://dbpedia.org/resource/Zoë",  # not a CURIE tail: the splitter's
    ]
    assert plain_splits(iris, known, _LOCAL.pattern) == ["Paris", "b", "x", "", None]
    splitter = _Splitter(known)
    assert [splitter.split(iri)[1] for iri in iris[:4]] == ["Paris", "b", "x", ""]
