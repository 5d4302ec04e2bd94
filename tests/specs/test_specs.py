"""Every spec in specs/ validates and runs; the reference examples give the reference links."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import engine
from engine.alignment.evaluate import score
from schemas.alignment import output_path

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))
#: Specs that read from or publish to a triple store run in test_linked_specs.py;
#: image recipes (minutes each) in test_image_specs.py; the lab storage host and
#: its pool in tests/test_pool_lab.py.
LINKED = ROOT / "specs" / "linked"
IMAGES = ROOT / "specs" / "images"
LAB = ROOT / "specs" / "lab"
LOCAL_SPECS = [p for p in SPECS if not any(p.is_relative_to(d) for d in (LINKED, IMAGES, LAB))]


def _run_into(spec_path: Path, out: Path) -> dict[str, Path]:
    """Run a spec with its outputs redirected into ``out``."""
    spec = engine.with_outputs_in(engine.load_spec(spec_path), out)
    engine.run(engine.build_plan(spec, spec_path), spec)
    return {output_path(o).name: output_path(o) for o in spec.outputs}


def test_specs_exist() -> None:
    assert {p.name for p in SPECS} >= {"seed-people.yaml", "febrl4.yaml", "writers.yaml"}


@pytest.mark.parametrize("spec_path", LOCAL_SPECS, ids=[p.name for p in LOCAL_SPECS])
def test_every_spec_runs(spec_path: Path, tmp_path: Path) -> None:
    paths = _run_into(spec_path, tmp_path)
    for path in paths.values():
        assert path.is_file()


def _links(nt: Path) -> list[tuple[str, str]]:
    out = []
    for line in nt.read_text().splitlines():
        s, _, o, _ = line.split(" ")
        out.append((s.strip("<>"), o.strip("<>")))
    return out


def test_seed_people_links(tmp_path: Path) -> None:
    paths = _run_into(ROOT / "specs" / "seed-people.yaml", tmp_path)
    base_a, base_t = "http://example.org/align/person/", "http://example.org/target/person/"
    assert _links(paths["seed-people.nt"]) == [
        (base_a + "0", base_t + "0"),
        (base_a + "1", base_t + "2"),
        (base_a + "2", base_t + "1"),
    ]
    rows = list(csv.DictReader(paths["seed-people.csv"].open()))
    assert [(r["distance"], r["d_name"], r["d_birthdate"], r["d_city"]) for r in rows] == [
        ("1", "1", "0", "0"),
        ("0", "0", "0", "0"),
        ("0", "0", "0", "0"),
    ]


def test_writers_links(tmp_path: Path) -> None:
    paths = _run_into(ROOT / "specs" / "writers.yaml", tmp_path)
    assert _links(paths["writers.nt"]) == [
        ("http://example.org/writer/Albert%20Camus", "http://dbpedia.org/resource/Albert_Camus"),
        ("http://example.org/writer/Victor%20Hugo", "http://dbpedia.org/resource/Victor_Hugo"),
    ]


def test_febrl4_f1(tmp_path: Path) -> None:
    paths = _run_into(ROOT / "specs" / "febrl4.yaml", tmp_path)
    base = "http://example.org/febrl/"
    with (ROOT / "data" / "febrl" / "febrl4_true_links.csv").open() as handle:
        gold = [(base + row["rec_id_a"], base + row["rec_id_b"]) for row in csv.DictReader(handle)]
    scores = score(_links(paths["febrl4.nt"]), gold)
    assert scores.gold == 5000
    assert scores.f1 >= 0.99, scores


@pytest.mark.parametrize(("number", "minimum"), [(1, 0.99), (2, 0.98)])
def test_febrl_dedup(number: int, minimum: float, tmp_path: Path) -> None:
    paths = _run_into(ROOT / "specs" / f"febrl{number}-dedup.yaml", tmp_path)
    base = f"http://example.org/febrl{number}/"
    links = _links(paths[f"febrl{number}-dedup.nt"])
    assert all(a != b for a, b in links), "a record linked to itself"
    unordered = [frozenset(link) for link in links]
    assert len(set(unordered)) == len(unordered), "a pair written twice"
    with (ROOT / "data" / "febrl" / f"febrl{number}_true_links.csv").open() as handle:
        gold = [frozenset((base + a, base + b)) for a, b in list(csv.reader(handle))[1:]]
    scores = score(unordered, gold)
    assert scores.f1 >= minimum, scores


def test_goncourt_rdf_links(tmp_path: Path) -> None:
    paths = _run_into(ROOT / "specs" / "goncourt-rdf.yaml", tmp_path)
    dbr = "http://dbpedia.org/resource/"
    assert _links(paths["goncourt.nt"]) == [
        ("http://example.org/goncourt/1903", dbr + "John-Antoine_Nau"),
        ("http://example.org/goncourt/1904", dbr + "Léon_Frapié"),
        ("http://example.org/goncourt/1905", dbr + "Claude_Farrère"),
        ("http://example.org/goncourt/1906", dbr + "Jérôme_et_Jean_Tharaud"),
    ]
