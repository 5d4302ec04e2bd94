"""The blocking-*.yaml specs: each runs, its blocking keeps the true pairs, its links are right.

Also the blocking guards seen from a spec: warnings in the plan, ``max_pairs``,
bad coordinates, and the schema errors of the new rules.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

import engine
from engine import kinds
from engine.alignment import evaluate
from engine.alignment.state import AlignmentState
from engine.errors import DataError, SpecError
from engine.loader import load_spec
from schemas import json_schemas

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
FEBRL_GOLD = ROOT / "data" / "febrl" / "febrl4_true_links.csv"
PLACES_GOLD = SPECS / "data" / "places_true_links.csv"


def _run_into(spec_path: Path, out: Path) -> tuple[AlignmentState, dict[str, Path]]:
    """Run a spec with its outputs redirected into ``out``."""
    spec = engine.with_outputs_in(load_spec(spec_path), out)
    state = engine.run(engine.build_plan(spec, spec_path), spec)
    paths = {
        Path(getattr(o, "rdf", None) or o.csv).name: Path(getattr(o, "rdf", None) or o.csv)
        for o in spec.outputs
    }
    return state, paths


def _links(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [(row["align_id"], row["target_id"]) for row in csv.DictReader(handle)]


def _gold(path: Path, base: str = "") -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))[1:]
    return [(base + a, base + b) for a, b in rows]


def _completeness(state: AlignmentState, gold_path: Path) -> float:
    """Share of the gold pairs the blocking rule contains."""
    spec = state.spec
    gold = evaluate.read_gold(
        gold_path,
        state.records("align"),
        state.records("target"),
        spec.sources.align.id,
        spec.sources.target.id,
        spec.dedup,
    )
    assert state.rule is not None and len(gold.ia) and not gold.unresolved
    return float(state.rule.contains(gold.ia, gold.ib).mean())


# spec, gold, minimum pair completeness, minimum F1 of the links
CASES = [
    ("blocking-geo.yaml", "places", 1.0, 1.0),
    ("blocking-kmeans.yaml", "places", 1.0, 1.0),
    ("blocking-qgram.yaml", "febrl", 0.99, 0.99),
    ("blocking-minhash.yaml", "febrl", 0.98, 0.99),
    ("blocking-tfidf.yaml", "febrl", 0.95, 0.97),
    ("blocking-pipeline.yaml", "febrl", 0.99, 0.99),
]


def test_every_blocking_spec_is_tested() -> None:
    assert {p.name for p in SPECS.glob("blocking-*.yaml")} == {c[0] for c in CASES}


@pytest.mark.parametrize(("name", "gold", "completeness", "f1"), CASES, ids=[c[0] for c in CASES])
def test_blocking_spec(
    name: str, gold: str, completeness: float, f1: float, tmp_path: Path
) -> None:
    started = time.perf_counter()
    state, paths = _run_into(SPECS / name, tmp_path)
    seconds = time.perf_counter() - started
    gold_path = PLACES_GOLD if gold == "places" else FEBRL_GOLD
    truth = _gold(gold_path, "" if gold == "places" else "http://example.org/febrl/")
    assert _completeness(state, gold_path) >= completeness
    # The blocking prunes: far fewer comparisons than all pairs.
    full = len(state.records("align")) * len(state.records("target"))
    assert state.compared_pairs < 0.1 * full
    assert state.compared_pairs <= state.estimated_pairs, "the estimate is an upper bound"
    (output,) = paths.values()
    scores = evaluate.score(_links(output), truth)
    assert scores.f1 >= f1, scores
    assert seconds < 20, f"{name} took {seconds:.1f} s"  # a guard, not a benchmark


def test_geo_links_are_exactly_the_true_ones(tmp_path: Path) -> None:
    state, paths = _run_into(SPECS / "blocking-geo.yaml", tmp_path)
    assert sorted(_links(paths["blocking-geo.csv"])) == sorted(_gold(PLACES_GOLD))
    assert state.rule is not None and state.rule.warnings == []


def test_kmeans_and_geo_runs_are_reproducible(tmp_path: Path) -> None:
    for name in ("blocking-kmeans.yaml", "blocking-geo.yaml"):
        _, first = _run_into(SPECS / name, tmp_path / "1")
        _, second = _run_into(SPECS / name, tmp_path / "2")
        (a,), (b,) = first.values(), second.values()
        assert a.read_bytes() == b.read_bytes()


def test_the_place_files_are_generated(tmp_path: Path) -> None:
    import importlib.util

    module_spec = importlib.util.spec_from_file_location(
        "make_places", SPECS / "data" / "make_places.py"
    )
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.generate(tmp_path)
    for name in ("places-a.csv", "places-b.csv", "places_true_links.csv"):
        committed = SPECS / "data" / name
        assert (tmp_path / name).read_bytes() == committed.read_bytes(), name
        assert committed.stat().st_size < 200_000


# --------------------------------------------------------------------------- guards

PEOPLE = """kind: alignment
name: guard
sources:
  align: {{csv: a.csv, id: {{template: "http://example.org/a/{{id}}"}}}}
  target: {{csv: b.csv, id: {{template: "http://example.org/b/{{id}}"}}}}
attributes:
  - {{name: name, metric: jaro_winkler}}
blocking:
{blocking}
threshold: 0.1
outputs:
  - {{csv: out.csv}}
"""


def _people(folder: Path, blocking: str, rows: int = 500, city: str = "paris") -> Path:
    for side, count in (("a", rows), ("b", rows - 100)):
        with (folder / f"{side}.csv").open("w", encoding="utf-8") as handle:
            handle.write("id,name,city,lat,long\n")
            for i in range(count):
                handle.write(f"{i},name {i % 37},{city},{45 + i / 1000:.4f},{2 + i / 1000:.4f}\n")
    path = folder / "spec.yaml"
    path.write_text(PEOPLE.format(blocking=blocking), encoding="utf-8")
    return path


def _plan(path: Path) -> tuple[str, AlignmentState]:
    spec = load_spec(path)
    plan = engine.build_plan(spec, path)
    state = engine.run(plan, spec, dry_run=True)
    return engine.explain(plan, state), state


def test_the_plan_warns_about_a_giant_block(tmp_path: Path) -> None:
    text, _ = _plan(_people(tmp_path, "  key: {align: city}"))
    assert (
        "   warning: key on columns city/city: the key 'paris' makes one block of"
        " 500 x 400 = 200,000 pairs (100% of all pairs)"
    ) in text


def test_a_run_prints_the_warnings_before_comparing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _people(tmp_path, "  key: {align: city}")
    spec = load_spec(path)
    engine.run(engine.build_plan(spec, path), spec)
    assert "warning: key on columns city/city: the key 'paris'" in capsys.readouterr().err


def test_max_pairs_stops_the_run_before_comparing(tmp_path: Path) -> None:
    path = _people(tmp_path, "  key: {align: city, max_pairs: 1000}")
    spec = load_spec(path)
    plan = engine.build_plan(spec, path)
    with pytest.raises(DataError) as caught:
        engine.run(plan, spec)
    message = str(caught.value)
    assert "blocking rule key on columns city/city" in message
    assert "200,000 candidate pairs, more than its max_pairs (1,000)" in message
    assert not (tmp_path / "out.csv").exists()


def test_max_pairs_of_a_nested_group(tmp_path: Path) -> None:
    blocking = """  union:
    - key: {align: name}
    - pipeline:
        rules:
          - key: {align: city}
          - radius: {align: [lat, long], radius: 1000 km}
        max_pairs: 5000"""
    path = _people(tmp_path, blocking)
    # A plan shows the refusal under the blocking step (`engine plan` then fails with it).
    text, state = _plan(path)
    assert state.refusal is not None
    assert state.refusal.message.startswith("blocking rule pipeline: key on columns city/city")
    assert f"   refused: {state.refusal.message}" in text
    # Within budget, the same spec plans.
    text, state = _plan(_people(tmp_path, blocking.replace("5000", "500000")))
    assert "pipeline: key on columns city/city; kept if radius" in text
    assert state.estimated_pairs > 0


def test_bad_coordinates_name_the_rule_source_row_and_value(tmp_path: Path) -> None:
    path = _people(tmp_path, "  radius: {align: [lat, long], radius: 5 km}", rows=150)
    lines = (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = "2,name 2,paris,95.5,2.1"
    (tmp_path / "b.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        _plan(path)
    error = caught.value
    assert error.source.endswith("b.csv") and error.row == 4
    assert "blocking rule radius on columns lat,long/lat,long" in error.message
    assert "latitude 95.5 is outside [-90, 90]" in error.message


def test_radius_on_a_non_number(tmp_path: Path) -> None:
    path = _people(tmp_path, "  radius: {align: [lat], radius: 0.01}", rows=150)
    text = (tmp_path / "a.csv").read_text(encoding="utf-8").replace(",45.0050,", ",north,")
    (tmp_path / "a.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"a\.csv:7: blocking rule radius .*not a number: 'north'"):
        _plan(path)


@pytest.mark.parametrize(
    ("blocking", "message"),
    [
        ("  radius: {align: [lat, long]}", "missing required key 'radius'"),
        (
            "  radius: {align: [lat, long], radius: 1, coordinates: lonlat}",
            "need a radius with its",
        ),
        ("  radius: {align: [lat, long], radius: 1 mile}", "is not a length"),
        ("  radius: {align: [lat, long], radius: 1 km, algorithm: kdtree}", "cannot measure great"),
        ("  qgram: {align: name, q: 0}", "greater than or equal to 1"),
        ("  minhash: {align: name, rows: 4}", "give both 'bands' and 'rows'"),
        ("  kmeans: {align: [lat, long], clusters: 2, nearest: 3}", "'nearest' cannot exceed"),
        ("  pipeline: []", "at least 1 item"),
        ("  union: [{qgram: {attribute: nom}}]", "blocking refers to attribute 'nom'"),
        ("  pipeline: [{key: {align: name}}, {tfidf: {attribute: surname}}]", "'surname'"),
        ("  union: {rules: [{key: {align: name}}], max_pairs: 0}", "greater than or equal"),
    ],
)
def test_rule_options_are_validated(tmp_path: Path, blocking: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(_people(tmp_path, blocking, rows=101))


def test_the_schema_names_every_rule() -> None:
    text = str(json_schemas(kinds.models())["alignment.schema.json"])
    for name in ("qgram", "minhash", "tfidf", "radius", "kmeans", "pipeline"):
        assert f"'{name}'" in text


def test_engine_plan_prints_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    assert main(["plan", str(SPECS / "blocking-minhash.yaml")]) == 0
    out = capsys.readouterr().out
    assert "minhash on attribute soc_sec_id, 2-grams" in out and "bands x" in out
