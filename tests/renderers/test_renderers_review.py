"""The review band's writers (renderers/review.py): CSV columns, order, missing values, SSSOM comment."""

from __future__ import annotations

import io
import json
import math
from datetime import date

from renderers.review import ReviewAttribute, ReviewPair, write_review_csv, write_review_sssom
from renderers.sssom import MappingSet


def _pair(a: str, t: str, distance: float, name: str | None) -> ReviewPair:
    return ReviewPair(
        align_id=f"http://a/{a}",
        target_id=f"http://t/{t}",
        distance=distance,
        probability=1 - distance,
        match_weight=math.log2((1 - distance) / distance),
        attributes=(
            ReviewAttribute(
                "name",
                name,
                "Ann",
                name and name.lower(),
                "ann",
                0.25 if name else math.nan,
                2.5 if name else 0.0,
            ),
        ),
    )


def test_an_empty_band_still_has_its_header() -> None:
    out = io.StringIO()
    write_review_csv([], ["name", "city"], True, out)
    assert out.getvalue() == (
        "align_id,target_id,distance,probability,match_weight,name_align,name_target,"
        "name_align_normalised,name_target_normalised,d_name,evidence_name,city_align,"
        "city_target,city_align_normalised,city_target_normalised,d_city,evidence_city\n"
    )


def test_rows_are_sorted_and_a_missing_value_is_empty() -> None:
    out = io.StringIO()
    write_review_csv(
        [_pair("2", "1", 0.25, "Anne"), _pair("1", "1", 0.5, None)], ["name"], True, out
    )
    lines = out.getvalue().splitlines()
    assert lines[1] == "http://a/1,http://t/1,0.5,0.5,0,,Ann,,ann,,0"
    assert (
        lines[2] == "http://a/2,http://t/1,0.25,0.75,1.584962500721156,Anne,Ann,anne,ann,0.25,2.5"
    )


def test_the_sssom_rows_carry_the_values_in_their_comment() -> None:
    facts = MappingSet(
        "urn:x:review:0",
        threshold=0.5,
        max_distance=1.0,
        mapping_tool_version="1",
        mapping_date=date(2026, 12, 7),
    )
    out = io.StringIO()
    write_review_sssom([_pair("2", "1", 0.25, "Anne")], facts, out)
    lines = out.getvalue().splitlines()
    header = next(line for line in lines if line.startswith("subject_id")).split("\t")
    row = lines[-1].split("\t")
    assert header[-1] == "comment" and len(row) == len(header)
    assert row[header.index("confidence")] == "0.75"
    comment = json.loads(row[-1].removeprefix("review: "))
    assert comment["name"] == {
        "align": "Anne",
        "target": "Ann",
        "align_normalised": "anne",
        "target_normalised": "ann",
        "distance": 0.25,
        "evidence": 2.5,
    }
    assert any("Pairs of the review band" in line for line in lines if line.startswith("#"))
