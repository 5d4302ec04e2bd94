"""specs/linked/people-virtuoso.yaml against a real Virtuoso 7: past the row cap, digest publishing."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import engine
from engine.alignment.evaluate import score
from engine.cli import main
from tests.stores import Virtuoso

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "linked" / "people-virtuoso.yaml"
LINKSET = "http://example.org/linksets/people"
PEOPLE = "http://example.org/people"
SIZE = 12_000  # more than Virtuoso's ResultSetMaxRows (10,000)


def _people_rdf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("people_rdf", ROOT / "specs/data/people_rdf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def people(virtuoso: Virtuoso, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated task loaded as two graphs; returns the folder with the gold links."""
    from engine.generate import main as generate

    folder = tmp_path_factory.mktemp("people")
    assert generate(["people", "--size", str(SIZE), "--out", str(folder)]) == 0
    convert = _people_rdf()
    for side in ("a", "b"):
        lines = "".join(convert.triples(folder / f"people-{side}.csv"))
        virtuoso.put_graph(lines, f"{PEOPLE}/{side}", "application/n-triples")
    return folder


@pytest.fixture
def env(virtuoso: Virtuoso, people: Path, monkeypatch: pytest.MonkeyPatch) -> Virtuoso:
    monkeypatch.setenv("VIRTUOSO_URL", virtuoso.base)
    monkeypatch.setenv("VIRTUOSO_PASSWORD", virtuoso.password)
    virtuoso.drop_graph(LINKSET)
    return virtuoso


def _gold(folder: Path) -> list[tuple[str, str]]:
    with (folder / "people-gold.csv").open(encoding="utf-8") as handle:
        return [
            (f"{PEOPLE}/{row['rec_id_a']}", f"{PEOPLE}/{row['rec_id_b']}")
            for row in csv.DictReader(handle)
        ]


def _published(virtuoso: Virtuoso) -> set[tuple[str, str]]:
    # Read in pages like the engine: a plain SELECT would stop at 10,000 rows.
    links: set[tuple[str, str]] = set()
    offset = 0
    while True:
        rows = virtuoso.select(
            f"SELECT ?s ?o WHERE {{ {{ SELECT ?s ?o WHERE {{ GRAPH <{LINKSET}> {{"
            " ?s <http://www.w3.org/2002/07/owl#sameAs> ?o } } ORDER BY ?s ?o } }"
            f" LIMIT 5000 OFFSET {offset}"
        )
        if not rows:
            return links
        links |= {(r["s"]["value"], r["o"]["value"]) for r in rows}
        offset += len(rows)


def test_the_cap_is_real(env: Virtuoso) -> None:
    rows = env.select(f"SELECT ?s WHERE {{ GRAPH <{PEOPLE}/a> {{ ?s ?p ?o }} }}")
    assert len(rows) == 10_000  # what a source read in one request would get


def test_sources_past_the_cap_come_back_whole_and_links_are_published(
    env: Virtuoso, people: Path, tmp_path: Path
) -> None:
    spec = engine.with_outputs_in(engine.load_spec(SPEC), tmp_path)
    state = engine.run(engine.build_plan(spec, SPEC), spec)
    assert len(state.records("align")) == SIZE
    assert len(state.records("target")) == SIZE
    assert state.links is not None
    found = list(zip(state.links.align_ids, state.links.target_ids, strict=True))
    scores = score(found, _gold(people))
    assert scores.f1 > 0.98, scores
    # Published through the authenticated Graph Store endpoint (digest).
    assert _published(env) == set(found)
    assert state.published == len(found)
    # A second run replaces the graph: the same links, no duplicates.
    assert main(["run", "-q", str(SPEC), "--out-dir", str(tmp_path)]) == 0
    assert _published(env) == set(found)
    axioms = env.select(
        f"SELECT (COUNT(?a) AS ?n) WHERE {{ GRAPH <{LINKSET}> {{ ?a a <http://www.w3.org/2002/07/owl#Axiom> }} }}"
    )
    assert int(axioms[0]["n"]["value"]) == len(found)
    assert main(["plan", "--detailed-exitcode", str(SPEC)]) == 0  # nothing left to change


def test_a_wrong_password_is_refused_and_publishes_nothing(
    env: Virtuoso,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VIRTUOSO_PASSWORD", "not-the-password")
    assert main(["run", "-q", str(SPEC), "--out-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "publishing failed, the published graph is unchanged" in err and "401" in err
    assert _published(env) == set()
    assert not (tmp_path / "people-virtuoso.nt").exists()


def _small_spec(tmp_path: Path, virtuoso: Virtuoso, rows: str) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(
        f"""
kind: alignment
name: small-virtuoso
sources:
  align: {{inline: [{rows}], columns: [id, name], id: {{template: "http://example.org/a/{{id}}"}}}}
  target: {{inline: [[1, Zola], [2, Hugo], [3, Sand]], columns: [id, name], id: {{template: "http://example.org/b/{{id}}"}}}}
attributes:
  - {{name: name, metric: exact}}
threshold: 0
publish:
  update: {virtuoso.auth_url}
  query: {virtuoso.sparql_url}
  graph: {LINKSET}
  auth: {{method: digest, user: dba, password_env: VIRTUOSO_PASSWORD}}
""",
        encoding="utf-8",
    )
    return path


def test_publishing_through_sparql_update_replaces_the_graph(env: Virtuoso, tmp_path: Path) -> None:
    three = _small_spec(tmp_path, env, "[1, Zola], [2, Hugo], [3, Sand]")
    assert main(["run", "-q", str(three)]) == 0
    assert len(_published(env)) == 3
    two = _small_spec(tmp_path, env, "[1, Zola], [2, Hugo]")
    assert main(["run", "-q", str(two)]) == 0
    assert _published(env) == {
        ("http://example.org/a/1", "http://example.org/b/1"),
        ("http://example.org/a/2", "http://example.org/b/2"),
    }
    staging = env.select(
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } FILTER(STRSTARTS(STR(?g), 'urn:specengine:staging')) }"
    )
    assert staging == []  # MOVEd away, nothing left behind
