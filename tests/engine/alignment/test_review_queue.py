"""The review queue: a run's review output read back (CSV or SSSOM), minus the curated pairs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine import load_spec
from engine.alignment.curation_write import Decision, append_decision
from engine.alignment.review_queue import near_miss_spec, read_review, review_queue
from engine.cli import main
from engine.errors import DataError
from tests.web.test_review import BAND, A, T, write_reviewed


@pytest.fixture
def run(tmp_path: Path) -> Path:
    path = write_reviewed(tmp_path)
    assert main(["run", str(path)]) == 0
    return tmp_path / "out"


def _key(pair: object) -> tuple[object, ...]:
    return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in vars(pair).values())


def test_csv_and_sssom_outputs_read_back_the_same_pairs(run: Path) -> None:
    from_csv = read_review(run / "people-review.csv")
    from_sssom = read_review(run / "people-review.sssom.tsv")
    assert [(p.align_id, p.target_id) for p in from_csv] == [
        (A.format(a), T.format(b)) for a, b in BAND
    ]
    assert [_key(p) for p in from_csv] == [_key(p) for p in from_sssom]
    first = from_csv[0].attributes[0]
    assert (first.name, first.align_value, first.target_value) == (
        "name",
        "Paul Dupont",
        "Dupond Paul",
    )


def test_decided_pairs_leave_the_queue(run: Path, tmp_path: Path) -> None:
    curation = tmp_path / "curation.sssom.tsv"
    decision = Decision(A.format(0), T.format(3), False, "x:me", "2026-12-07")
    append_decision(curation, decision, set_id="urn:x", symmetric=False)
    queue = review_queue([run / "people-review.csv"], [curation], symmetric=False)
    assert queue.decided == 1 and len(queue.pairs) == len(BAND) - 1
    assert review_queue([run / "absent.csv"], [], symmetric=False).source is None


def test_an_unreadable_review_output_is_a_data_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "review.csv"
    bad.write_text("align_id,target_id,distance,d_x\na,b,1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"review\.csv"):
        read_review(bad)


def test_near_misses_reach_just_past_the_threshold(tmp_path: Path) -> None:
    spec = load_spec(write_reviewed(tmp_path))
    assert near_miss_spec(spec, tmp_path / "near.csv") is None  # it has a band
    plain = spec.model_copy(update={"review": None, "threshold": 2.0})
    near = near_miss_spec(plain, tmp_path / "near.csv")
    assert (near.review.start, near.review.end) == (2.0, 2.5)
    assert [o.review for o in near.outputs] == [tmp_path / "near.csv"]
    assert near.publish is None
