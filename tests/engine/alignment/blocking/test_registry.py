"""Text about blocking rules: their one-line descriptions, and why one found no pair."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from engine.alignment.describe import describe_blocking, why_no_pairs
from schemas.alignment import BlockingRef


def _blocking(blocking: Any) -> Any:
    return TypeAdapter(BlockingRef).validate_python(blocking)


def test_describe_blocking() -> None:
    assert describe_blocking(_blocking("none")) == (
        "none (every align record meets every target record)"
    )
    union = [{"key": {"attribute": "name"}}, {"minhash": {"align": "name", "bands": 4, "rows": 2}}]
    assert describe_blocking(_blocking({"union": union})) == (
        "union of: key on attribute name; minhash on columns name/name, tokens, 4 bands x 2 rows"
    )


def test_why_no_pairs() -> None:
    assert why_no_pairs("key", ["Paris", None], [None, "PARIS"]) == (
        "the two sources share no key (align keys look like 'Paris', target keys look like 'PARIS')"
    )
    assert why_no_pairs("qgram", ["Paris"], [None, ""]) == (
        "every target record's blocking key is missing"
    )
    assert why_no_pairs("kdtree", [("48.85", "2.35")], [("2.35", "48.85")]) == (
        "no align point is within reach of a target point (align points look like (48.85, 2.35),"
        " target points look like (2.35, 48.85)); check the order of the coordinate columns on"
        " each side"
    )
    assert why_no_pairs("tfidf", ["abc"], ["xyz"]) == (
        "no align key comes close enough to a target key (align keys look like 'abc',"
        " target keys look like 'xyz')"
    )
