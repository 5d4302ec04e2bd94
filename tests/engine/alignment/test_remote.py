"""Remote sources (engine/alignment/remote.py): each page read is logged as it arrives.

A paged SPARQL source against the real Oxigraph of the session, and a paged
RQL source against recorded CubicWeb answers, run through ``engine -v run``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import logs
from engine.cli import main
from tests.cubicweb import recorded_cubicweb
from tests.stores import Oxigraph

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _quiet_afterwards() -> Iterator[None]:
    yield
    logs.configure(logging.WARNING)


SPEC = """\
kind: alignment
name: paged
sources:
  align:
    inline: [[1, Anne], [2, Bruno], [3, Chloé]]
    columns: [n, name]
    id: {{template: "http://example.org/a/{{n}}"}}
  target:
    sparql: {endpoint}
    query: "SELECT ?p ?name WHERE {{ ?p <http://example.org/name> ?name }}"
    id: p
    page_size: 3
attributes:
  - {{name: name, metric: {{levenshtein: {{normalised: true}}}}, normalise: [lowercase]}}
threshold: 0.3
outputs: [{{csv: out/links.csv}}]
"""
NAMES = ["anne", "bruno", "chloe", "david", "eve", "fanny", "gael"]


def test_v_shows_each_page_of_a_sparql_source(
    empty_oxigraph: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    triples = "".join(
        f'<http://example.org/p/{i}> <http://example.org/name> "{name}" .\n'
        for i, name in enumerate(NAMES)
    )
    empty_oxigraph.load(triples.encode(), "application/n-triples")
    spec = tmp_path / "paged.yaml"
    spec.write_text(SPEC.format(endpoint=empty_oxigraph.query_url), encoding="utf-8")
    assert main(["-v", "run", "-q", str(spec)]) == 0
    err = re.sub(r"^\d\d:\d\d:\d\d ", "", capsys.readouterr().err, flags=re.MULTILINE)
    source = f"target source SPARQL endpoint {empty_oxigraph.query_url}"
    assert (
        f"INFO engine.alignment.remote: {source}: reading the SPARQL answer in pages of 3 rows"
        in err
    )
    pages = re.findall(rf"{re.escape(source)}: page (\d) read, (\d) rows \((\d) so far", err)
    assert pages == [("1", "3", "3"), ("2", "3", "6"), ("3", "1", "7")]
    # Four requests: the last page is the empty one that ends the reading.
    assert f"{source}: 7 rows in 4 request(s)" in err
    # The step lines around it, then blocking and comparing.
    assert "step 2/7: read the target source: SPARQL endpoint" in err
    assert "step 2/7 done in " in err and f": {source}: 7 records" in err
    assert "step 4/7: blocking: none (every align record meets every target record)" in err
    assert "compared 21 pairs" in err and "3 under the threshold" in err
    assert (tmp_path / "out" / "links.csv").read_text().count("\n") == 4


def test_vv_shows_the_query(
    empty_oxigraph: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_oxigraph.load(
        b'<http://x/1> <http://example.org/name> "anne" .\n', "application/n-triples"
    )
    spec = tmp_path / "paged.yaml"
    spec.write_text(SPEC.format(endpoint=empty_oxigraph.query_url), encoding="utf-8")
    assert main(["-vv", "plan", str(spec)]) == 0
    err = capsys.readouterr().err
    assert "DEBUG engine.alignment.remote: target source SPARQL endpoint" in err
    assert "query:\n    SELECT ?p ?name WHERE { ?p <http://example.org/name> ?name }" in err


def test_v_shows_each_page_of_an_rql_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with recorded_cubicweb(ROOT / "specs" / "data" / "cubicweb-places.json") as server:
        monkeypatch.setenv("CUBICWEB_URL", server.url + "/")
        spec = ROOT / "specs" / "linked" / "places-rql.yaml"
        assert main(["-v", "run", "-q", str(spec), "--out-dir", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    pages = re.findall(r"CubicWeb RQL \S+: page (\d) read, (\d+) rows \((\d+) so far", err)
    assert pages == [("1", "200", "200"), ("2", "200", "400"), ("3", "131", "531")]
    assert "reading the RQL answer in pages of 200 rows" in err
    assert ": 531 rows in 4 request(s)" in err
