"""The review band (engine/alignment/review.py) through ``engine run``: reviewed pairs are not links."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.alignment.review import split, widen
from engine.alignment.state import Pairs
from engine.cli import main

ROOT = Path(__file__).resolve().parents[3]
FEBRL4 = ROOT / "specs" / "febrl4-unsupervised.yaml"


def _pairs(total: list[float]) -> Pairs:
    n = len(total)
    return Pairs(
        np.arange(n, dtype=np.int64),
        np.arange(n, dtype=np.int64),
        np.asarray(total, dtype=np.float64),
        {"a": np.asarray(total, dtype=np.float64)},
    )


def test_split_keeps_the_band_apart_and_links_under_the_threshold() -> None:
    links, review = split(_pairs([0.0, 0.1, 0.2, 0.3, 0.5, 0.7]), 0.4, 0.1, 0.5)
    assert links.total.tolist() == [0.0, 0.1]  # at the band's near end: accepted
    assert review.total.tolist() == [0.2, 0.3, 0.5]  # 0.5: the far end is in the band


def test_split_never_links_over_the_threshold() -> None:
    links, review = split(_pairs([0.0, 0.3, 0.6]), 0.2, 0.5, 0.8)  # a band over the threshold
    assert links.total.tolist() == [0.0]
    assert review.total.tolist() == [0.6]


def test_widen_adds_the_near_misses_up_to_the_band() -> None:
    wide = widen(_pairs([0.1]), _pairs([0.3, 0.6]), 0.5)
    assert wide.total.tolist() == [0.1, 0.3]
    assert wide.distances["a"].tolist() == [0.1, 0.3]
    assert widen(_pairs([0.1]), None, 0.5).total.tolist() == [0.1]


def _febrl4(tmp_path: Path, name: str, band: str | None) -> Path:
    """The fitted febrl4 spec writing into ``tmp_path``, with a review band."""
    data = yaml.safe_load(FEBRL4.read_text(encoding="utf-8"))
    data["sources"]["target"]["csv"] = str(ROOT / "data" / "febrl" / "febrl4b.csv")
    data["sources"]["align"]["csv"] = str(ROOT / "data" / "febrl" / "febrl4a.csv")
    data["outputs"] = [{"csv": f"{name}.csv"}]
    if band is not None:
        data["review"] = yaml.safe_load(band)
        data["outputs"] += [
            {"review": f"{name}-review.csv"},
            {"review": f"{name}-review.sssom.tsv"},
        ]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def febrl4_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """febrl4 run once without a band, once with {from: 0.5, to: 0.999}."""
    tmp = tmp_path_factory.mktemp("review")
    assert main(["run", str(_febrl4(tmp, "plain", None))]) == 0
    assert main(["run", str(_febrl4(tmp, "band", "{from: 0.5, to: 0.999}"))]) == 0
    return tmp


def test_pairs_in_the_band_are_reviewed_not_linked(febrl4_runs: Path) -> None:
    plain = {(r["align_id"], r["target_id"]) for r in _rows(febrl4_runs / "plain.csv")}
    links = _rows(febrl4_runs / "band.csv")
    review = _rows(febrl4_runs / "band-review.csv")
    linked = {(r["align_id"], r["target_id"]) for r in links}
    reviewed = {(r["align_id"], r["target_id"]) for r in review}
    assert reviewed and not linked & reviewed
    # The band starts at the model's threshold: the same pairs, split in two.
    assert linked | reviewed == plain
    assert len(links) + len(review) == len(plain)
    assert all(0.5 <= float(r["probability"]) < 0.999 for r in review)
    assert all(float(r["probability"]) >= 0.999 for r in links)


def test_the_evidence_adds_up_to_the_probability(febrl4_runs: Path) -> None:
    spec = yaml.safe_load(FEBRL4.read_text(encoding="utf-8"))
    prior = spec["model"]["prior"]
    names = [a["name"] for a in spec["attributes"]]
    for row in _rows(febrl4_runs / "band-review.csv"):
        weight = math.log2(prior / (1 - prior)) + sum(float(row[f"evidence_{n}"]) for n in names)
        assert weight == pytest.approx(float(row["match_weight"]), abs=1e-9)
        assert 1 / (1 + 2**-weight) == pytest.approx(float(row["probability"]), abs=1e-12)
        assert float(row["distance"]) == pytest.approx(1 - float(row["probability"]), abs=1e-12)


def test_the_review_file_holds_both_records_values(febrl4_runs: Path) -> None:
    def read(name: str) -> dict[str, dict[str, str]]:
        rows = _rows(ROOT / "data" / "febrl" / name)
        return {f"http://example.org/febrl/{r['rec_id']}": r for r in rows}

    align, target = read("febrl4a.csv"), read("febrl4b.csv")
    review = _rows(febrl4_runs / "band-review.csv")
    for row in review:
        a, b = align[row["align_id"]], target[row["target_id"]]
        for name in ("given_name", "surname", "soc_sec_id", "date_of_birth"):
            assert row[f"{name}_align"] == (a[name] or "")
            assert row[f"{name}_target"] == (b[name] or "")
            # A missing value: no distance, no evidence.
            if not a[name] or not b[name]:
                assert row[f"d_{name}"] == "" and float(row[f"evidence_{name}"]) == 0


def test_the_review_sssom_reads_with_sssom_py(febrl4_runs: Path) -> None:
    from sssom.parsers import parse_sssom_table
    from sssom.validators import validate

    review = _rows(febrl4_runs / "band-review.csv")
    msdf = parse_sssom_table(febrl4_runs / "band-review.sssom.tsv")
    reports = validate(msdf, fail_on_error=False)
    assert [r.message for report in reports.values() for r in report.results] == []
    assert len(msdf.df) == len(review)
    expand = msdf.converter.expand
    by_pair = {(r["align_id"], r["target_id"]): r for r in review}
    for s, o, confidence, comment in zip(
        msdf.df.subject_id, msdf.df.object_id, msdf.df.confidence, msdf.df.comment, strict=True
    ):
        row = by_pair[(expand(s), expand(o))]
        assert confidence == pytest.approx(float(row["probability"]))
        evidence = json.loads(comment.removeprefix("review: "))
        assert evidence["surname"]["align"] == (row["surname_align"] or None)
        assert evidence["surname"]["evidence"] == pytest.approx(float(row["evidence_surname"]))
    assert "review band" in msdf.metadata["mapping_set_description"]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([("id", "name"), *rows])


def test_a_distance_band_reaches_over_the_threshold(tmp_path: Path) -> None:
    # The pairs 1, 2, 3 and 4 lie 0, 1, 2 and 3 edits apart; any other pair 4 or more.
    _write(tmp_path / "a.csv", [("1", "anna"), ("2", "bobby"), ("3", "carla"), ("4", "edward")])
    _write(tmp_path / "b.csv", [("1", "anna"), ("2", "bobb"), ("3", "car"), ("4", "edw")])
    (tmp_path / "spec.yaml").write_text(
        """\
kind: alignment
name: band
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target: {csv: b.csv, id: {template: "http://b/{id}"}}
attributes:
  - {name: name, metric: levenshtein}
threshold: 1.5
review: {from: 0.5, to: 2.5}
matching: all
outputs:
  - {csv: links.csv}
  - {review: review.csv}
""",
        encoding="utf-8",
    )
    assert main(["run", str(tmp_path / "spec.yaml")]) == 0
    links = [(r["align_id"], r["target_id"]) for r in _rows(tmp_path / "links.csv")]
    review = {(r["align_id"], r["target_id"]): r for r in _rows(tmp_path / "review.csv")}
    assert links == [("http://a/1", "http://b/1")]
    # 1 edit: under the threshold, in the band; 2 edits: over the threshold, in the band.
    assert sorted(review) == [("http://a/2", "http://b/2"), ("http://a/3", "http://b/3")]
    row = review[("http://a/3", "http://b/3")]
    assert (row["name_align"], row["name_target"], row["d_name"]) == ("carla", "car", "2")
    assert row["evidence_name"] == "2" and row["distance"] == "2" and "probability" not in row


def test_plan_and_run_say_the_band(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _febrl4(tmp_path, "said", "{from: 0.5, to: 0.999}")
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "   match probability in [0.5, 0.999): written for review, not linked" in out
    assert "write review csv -> " in out and "write review sssom -> " in out
    assert main(["run", str(spec)]) == 0
    rows = (tmp_path / "said-review.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert (
        f"review: {len(rows)} pairs, match probability in [0.5, 0.999)" in capsys.readouterr().out
    )
