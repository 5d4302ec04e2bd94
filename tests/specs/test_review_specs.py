"""specs/febrl4-review.yaml: the fitted febrl4 model with a review band, run end to end."""

from __future__ import annotations

import csv
from pathlib import Path

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_review_spec_sets_the_unsure_pairs_apart(tmp_path: Path) -> None:
    assert main(["run", "-q", str(SPECS / "febrl4-review.yaml"), "--out-dir", str(tmp_path)]) == 0
    assert (
        main(["run", "-q", str(SPECS / "febrl4-unsupervised.yaml"), "--out-dir", str(tmp_path)])
        == 0
    )
    links = _rows(tmp_path / "febrl4-review-links.csv")
    review = _rows(tmp_path / "febrl4-review.csv")
    plain = {(r["align_id"], r["target_id"]) for r in _rows(tmp_path / "febrl4-unsupervised.csv")}
    assert len(review) == 40 and len(links) == 4959
    assert all(0.1 <= float(r["probability"]) < 0.999999 for r in review)
    assert all(float(r["probability"]) >= 0.999999 for r in links)
    linked = {(r["align_id"], r["target_id"]) for r in links}
    unsure = {(r["align_id"], r["target_id"]) for r in review if float(r["probability"]) >= 0.5}
    # Over the model's threshold the band only moves links to the review file.
    assert linked | unsure == plain and not linked & unsure
    gold = {
        tuple(f"http://example.org/febrl/{v}" for v in row.values())
        for row in _rows(ROOT / "data" / "febrl" / "febrl4_true_links.csv")
    }
    right = sum((r["align_id"], r["target_id"]) in gold for r in review)
    assert right == 40  # here every unsure pair is a match whose evidence is weak
    assert (tmp_path / "febrl4-review.sssom.tsv").read_text(encoding="utf-8").count(
        "\treview: {"
    ) == 40
