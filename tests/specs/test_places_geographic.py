"""specs/places-geographic.yaml: Nazca's cities example (a kd-tree, then names) on generated places.

The spec runs through ``engine run`` on a task that ``engine generate places`` writes into a
temporary folder (as ``bench/peers.py --sizes places`` builds its larger one): the first rows
of the generated align file against every place of the target file, each of those with its
one counterpart there.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from engine.alignment.evaluate import score

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "places-geographic.yaml"
IRI = "http://example.org/place/"


def _engine(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "engine", *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done


def _task(
    folder: Path, n_target: int, n_align: int, seed: int
) -> tuple[Path, Path, set[tuple[str, str]]]:
    """``n_align`` generated places against ``n_target``; the align file, the target file, gold."""
    _engine(
        "generate", "places", "--size", str(n_target), "--seed", str(seed), "--out", str(folder),
        cwd=folder.parent,
    )  # fmt: skip
    with (folder / "places-a.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[: n_align + 1]
    align = folder / "cities.csv"
    with align.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with (folder / "places-gold.csv").open(newline="", encoding="utf-8") as fh:
        links = dict(list(csv.reader(fh))[1:])
    gold = {(IRI + row[0], IRI + links[row[0]]) for row in rows[1:]}
    return align, folder / "places-b.csv", gold


def _links(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [(row["align_id"], row["target_id"]) for row in csv.DictReader(fh)]


def test_places_geographic_links_generated_places(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    align, target, gold = _task(data, n_target=12_000, n_align=3_000, seed=5)
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    spec["sources"]["align"]["csv"] = str(align)
    spec["sources"]["target"]["csv"] = str(target)
    path = tmp_path / "places.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    done = _engine("run", "--out-dir", str(tmp_path / "out"), str(path), cwd=tmp_path)
    links = _links(tmp_path / "out" / "places-geographic.csv")
    scores = score(links, sorted(gold))
    # One link per city at most (one-to-one), nearly all of them right.
    assert len(links) <= len(gold)
    assert scores.f1 >= 0.99, (scores, done.stdout)


def test_places_geographic_spec_links_its_data(tmp_path: Path) -> None:
    """The spec's own small task (specs/data/places-geo, written by bench/peers.py's
    ``places_task(folder, 1000, 250, 0)``): every city linked to its place."""
    _engine("run", "-q", "--out-dir", str(tmp_path), str(SPEC), cwd=ROOT)
    with (ROOT / "specs" / "data" / "places-geo" / "gold.csv").open(encoding="utf-8") as fh:
        gold = [(IRI + r["id_a"], IRI + r["id_b"]) for r in csv.DictReader(fh)]
    links = _links(tmp_path / "places-geographic.csv")
    assert sorted(links) == sorted(gold)


def _peers() -> Any:
    """bench/peers.py (bench/ is not a package: found through sys.path, as bench/profile.py does)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import peers
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return peers


def test_spec_data_is_the_benchmark_task_in_small(tmp_path: Path) -> None:
    """specs/data/places-geo is what bench/peers.py's places_task writes for 250 against 1,000."""
    task = _peers().places_task(tmp_path / "small", 1000, 250, 0)
    data = ROOT / "specs" / "data" / "places-geo"
    assert task.align.read_bytes() == (data / "cities.csv").read_bytes()
    assert task.target.read_bytes() == (data / "places.csv").read_bytes()
    assert task.gold.read_bytes() == (data / "gold.csv").read_bytes()


def test_nazca_runs_the_spec_configuration() -> None:
    """The Nazca runner gets the spec's kd-tree radius, weights, name chain and threshold."""
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    config = _peers().places_config()
    assert config["radius"] == spec["blocking"]["radius"]["radius"]
    assert config["points"] == spec["blocking"]["radius"]["align"]
    assert config["threshold"] == spec["threshold"]
    name, place = config["attributes"]
    assert (name["kind"], name["field"], name["tokens"]) == ("levenshtein", "name", False)
    assert [step for step, _ in name["normalise"]] == ["unaccent", "simplify", "regex_replace"]
    assert (place["kind"], place["unit"], place["weight"]) == ("geographic", "km", 0.5)
