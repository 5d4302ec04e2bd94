"""The specs of specs/linked against real stores: Oxigraph, and recorded CubicWeb answers.

Each spec reads its endpoint from the environment (``${OXIGRAPH_URL}``,
``${CUBICWEB_URL}``), which these tests point at the session's servers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli import main
from tests.cubicweb import recorded_cubicweb
from tests.httpserver import ScriptedServer
from tests.renderers.test_renderers_sssom import _problems as _sssom_problems
from tests.stores import Oxigraph

ROOT = Path(__file__).resolve().parents[2]
LINKED = ROOT / "specs" / "linked"
DATA = ROOT / "specs" / "data"
OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
GONCOURT_GRAPH = "http://example.org/linksets/goncourt"


@pytest.fixture
def store(empty_oxigraph: Oxigraph, monkeypatch: pytest.MonkeyPatch) -> Oxigraph:
    """The session's Oxigraph holding the specs' data, named by OXIGRAPH_URL."""
    for name in ("french-novelists.ttl", "places-b.ttl"):
        empty_oxigraph.load((DATA / name).read_bytes(), "text/turtle")
    monkeypatch.setenv("OXIGRAPH_URL", empty_oxigraph.base)
    return empty_oxigraph


@pytest.fixture
def cubicweb(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    """Recorded CubicWeb answers, named by CUBICWEB_URL."""
    with recorded_cubicweb(DATA / "cubicweb-places.json") as server:
        monkeypatch.setenv("CUBICWEB_URL", server.url + "/")
        yield server


def _engine(*args: str) -> int:
    return main(["--debug", *args])


def _nt_links(path: Path) -> set[tuple[str, str]]:
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        s, p, o, _ = line.split(" ")
        assert p == f"<{OWL_SAME_AS}>"
        out.add((s.strip("<>"), o.strip("<>")))
    return out


def _gold() -> set[tuple[str, str]]:
    with (DATA / "places_true_links.csv").open(encoding="utf-8") as handle:
        return {(row["align"], row["target"]) for row in csv.DictReader(handle)}


def test_every_linked_spec_validates() -> None:
    specs = sorted(LINKED.glob("*.yaml"))
    assert {p.name for p in specs} >= {
        "goncourt-sparql.yaml",
        "places-sparql.yaml",
        "places-rql.yaml",
    }
    assert _engine("validate", *map(str, specs)) == 0


def test_places_from_cubicweb_rql_in_pages(cubicweb: ScriptedServer, tmp_path: Path) -> None:
    assert _engine("run", "-q", str(LINKED / "places-rql.yaml"), "--out-dir", str(tmp_path)) == 0
    assert _nt_links(tmp_path / "places-rql.nt") == _gold()
    pages = [r.query["rql"][0] for r in cubicweb.requests]
    # 531 rows in pages of 200, then the empty page (at the rows read) that ends it.
    assert [p.split("OFFSET ")[1].split()[0] for p in pages] == ["0", "200", "400", "531"]
    assert all("ORDERBY U, N, LONG, LAT LIMIT 200" in p for p in pages)


def test_places_from_sparql_with_wkt_points_and_languages(store: Oxigraph, tmp_path: Path) -> None:
    assert _engine("run", "-q", str(LINKED / "places-sparql.yaml"), "--out-dir", str(tmp_path)) == 0
    assert _nt_links(tmp_path / "places-sparql.nt") == _gold()
    # The SSSOM output is a valid mapping set (sssom-py's own validation), every row read.
    assert _sssom_problems(tmp_path / "places-sparql.sssom.tsv", len(_gold())) == []
    report = (tmp_path / "places-sparql.html").read_text(encoding="utf-8")
    assert "<svg" in report and "places_true_links.csv" in report
    from rdflib import Graph, URIRef

    void = Graph().parse(tmp_path / "places-sparql.void.ttl")
    used = {str(o) for o in void.objects(None, URIRef("http://www.w3.org/ns/prov#used"))}
    assert f"{store.base}/query" in used


def _published(store: Oxigraph, graph: str = GONCOURT_GRAPH) -> set[tuple[str, str]]:
    rows = store.select(f"SELECT ?s ?o WHERE {{ GRAPH <{graph}> {{ ?s <{OWL_SAME_AS}> ?o }} }}")
    return {(r["s"]["value"], r["o"]["value"]) for r in rows}


GONCOURT_LINKS = {
    ("http://example.org/goncourt/1903", "http://dbpedia.org/resource/John-Antoine_Nau"),
    ("http://example.org/goncourt/1904", "http://dbpedia.org/resource/Léon_Frapié"),
    ("http://example.org/goncourt/1905", "http://dbpedia.org/resource/Claude_Farrère"),
    ("http://example.org/goncourt/1906", "http://dbpedia.org/resource/Jérôme_et_Jean_Tharaud"),
}


def test_goncourt_published_through_the_graph_store(
    store: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = str(LINKED / "goncourt-sparql.yaml")
    assert _engine("plan", "--detailed-exitcode", spec) == 2  # changes pending
    assert "4 added, 0 removed, 0 re-scored, 0 unchanged" in capsys.readouterr().out
    assert _engine("run", "-q", spec, "--out-dir", str(tmp_path)) == 0
    assert _published(store) == GONCOURT_LINKS
    # Scores and the run's description travel with the links, in the same graph.
    scores = store.select(
        f"SELECT ?s ?score WHERE {{ GRAPH <{GONCOURT_GRAPH}> {{ ?a <http://www.w3.org/2002/07/owl#annotatedSource> ?s ;"
        " <https://w3id.org/sssom/similarity_score> ?score } }"
    )
    assert len(scores) == 4 and {float(r["score"]["value"]) for r in scores} == {1.0}
    assert store.ask(
        f"ASK {{ GRAPH <{GONCOURT_GRAPH}> {{ ?l a <http://rdfs.org/ns/void#Linkset> ;"
        " <http://rdfs.org/ns/void#triples> 4 } }"
    )
    # A second run replaces the graph: no duplicates, nothing to do in the plan.
    assert _engine("run", "-q", spec, "--out-dir", str(tmp_path)) == 0
    assert store.count(GONCOURT_GRAPH) == len(store.dump(GONCOURT_GRAPH).splitlines())
    assert _published(store) == GONCOURT_LINKS
    capsys.readouterr()
    assert _engine("plan", "--detailed-exitcode", spec) == 0
    assert "0 added, 0 removed, 0 re-scored, 4 unchanged" in capsys.readouterr().out


def _variant(
    tmp_path: Path,
    store_url: str,
    rows: str,
    extra: str = "",
    source: str = "",
    publish_url: str | None = None,
) -> Path:
    publish_url = publish_url or store_url
    text = f"""
kind: alignment
name: goncourt-variant
sources:
  align:
    inline:
{rows}
    columns: [year, name]
    id: {{template: "http://example.org/goncourt/{{year}}"}}
  target:
    sparql: {store_url}/query
    query: |
      SELECT ?writer ?name WHERE {{
        ?writer <http://purl.org/dc/terms/subject> <http://dbpedia.org/resource/Category:French_novelists> ;
                <http://www.w3.org/2000/01/rdf-schema#label> ?name .
      }}
    id: writer
    languages: [fr]
{source}
attributes:
  - {{name: name, normalise: [simplify], metric: {{levenshtein: {{normalised: true}}}}}}
threshold: 0.4
outputs:
  - {{rdf: {tmp_path / "out" / "links.nt"}}}
publish:
  graph_store: {publish_url}/store
  query: {publish_url}/query
  graph: {GONCOURT_GRAPH}
{extra}
"""
    path = tmp_path / "variant.yaml"
    path.write_text(text, encoding="utf-8")
    return path


ALL_ROWS = """      - [1903, John-Antoine Nau]
      - [1904, Léon Frapié]
      - [1905, Claude Farrère]"""


def test_removing_more_links_than_allowed_is_refused(
    store: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _engine("run", "-q", str(_variant(tmp_path, store.base, ALL_ROWS))) == 0
    before = store.dump(GONCOURT_GRAPH)
    written = (tmp_path / "out" / "links.nt").read_bytes()
    fewer = _variant(tmp_path, store.base, "      - [1903, John-Antoine Nau]", "  max_removals: 1")
    capsys.readouterr()
    assert main(["run", "-q", str(fewer)]) == 1
    err = capsys.readouterr().err
    assert "would remove 2 published links (2), more than max_removals (1)" in err
    assert store.dump(GONCOURT_GRAPH) == before
    assert (tmp_path / "out" / "links.nt").read_bytes() == written  # outputs intact too
    allowed = _variant(
        tmp_path,
        store.base,
        "      - [1903, John-Antoine Nau]",
        "  max_removals: 1\n  allow_removals: true",
    )
    assert main(["run", "-q", str(allowed)]) == 0
    assert len(_published(store)) == 1


def test_a_store_that_is_down_fails_the_run_and_leaves_the_outputs(
    store: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _engine("run", "-q", str(_variant(tmp_path, store.base, ALL_ROWS))) == 0
    written = (tmp_path / "out" / "links.nt").read_bytes()
    dead = _variant(tmp_path, "http://127.0.0.1:9", ALL_ROWS, "  retries: 0", "    retries: 0")
    capsys.readouterr()
    assert main(["run", "-q", str(dead)]) == 1
    err = capsys.readouterr().err
    assert "SPARQL endpoint http://127.0.0.1:9/query" in err and "cannot connect" in err
    assert "Traceback" not in err
    assert (tmp_path / "out" / "links.nt").read_bytes() == written


def test_a_failed_publish_leaves_the_graph_and_the_outputs(
    store: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _engine("run", "-q", str(_variant(tmp_path, store.base, ALL_ROWS))) == 0
    before = store.dump(GONCOURT_GRAPH)
    written = (tmp_path / "out" / "links.nt").read_bytes()
    one = "      - [1903, John-Antoine Nau]"
    down = _variant(tmp_path, store.base, one, "  retries: 0", publish_url="http://127.0.0.1:9")
    capsys.readouterr()
    assert main(["run", "-q", str(down)]) == 1
    err = capsys.readouterr().err
    assert "publish to <http://example.org/linksets/goncourt>" in err and "cannot connect" in err
    assert store.dump(GONCOURT_GRAPH) == before
    assert (tmp_path / "out" / "links.nt").read_bytes() == written


def test_triples_that_are_not_links_of_the_spec_count_as_removals(
    store: Oxigraph, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A graph holding other data (here: under another predicate) would be wiped.
    store.load(
        "<http://example.org/x> <http://www.w3.org/2004/02/skos/core#exactMatch> <http://example.org/y> .",
        "application/n-triples",
        graph=GONCOURT_GRAPH,
    )
    spec = _variant(tmp_path, store.base, ALL_ROWS, "  max_removals: 0")
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 2
    out = capsys.readouterr().out
    assert "1 other triples of the graph" in out and "a run would be refused" in out
    assert main(["run", "-q", str(spec)]) == 1
    assert "and 1 other triples of the graph" in capsys.readouterr().err
    assert store.count(GONCOURT_GRAPH) == 1  # untouched


def test_radius_blocking_on_a_named_wkt_column(store: Oxigraph, tmp_path: Path) -> None:
    text = (LINKED / "places-sparql.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "radius: {attribute: place, radius: 3 km}",
        "radius: {align: [lat, long], target: point, radius: 3 km}",
    ).replace("../data/", f"{DATA}/")
    spec = tmp_path / "places.yaml"
    spec.write_text(text, encoding="utf-8")
    assert _engine("run", "-q", str(spec), "--out-dir", str(tmp_path / "out")) == 0
    assert _nt_links(tmp_path / "out" / "places-sparql.nt") == _gold()
