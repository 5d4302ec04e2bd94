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
