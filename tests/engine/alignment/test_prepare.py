"""The prepare stage: values normalised for their metric; the unreadable ones collected."""

from __future__ import annotations

import numpy as np

from engine.alignment.prepare import prepare_side
from engine.alignment.records import Records
from schemas.alignment import Attribute


def _records(columns: dict[str, list[str | None]]) -> Records:
    n = len(next(iter(columns.values())))
    return Records(
        source="align source a.csv",
        ids=[f"http://a/{i}" for i in range(n)],
        names=list(columns),
        columns=columns,
        rows=np.arange(2, n + 2, dtype=np.int64),
    )


def test_every_unreadable_value_is_found_in_one_pass() -> None:
    attributes = (
        Attribute.model_validate({"name": "born", "metric": "temporal", "normalise": ["date"]}),
        Attribute.model_validate({"name": "place", "metric": "geographic"}),
        Attribute.model_validate({"name": "name", "metric": "levenshtein"}),
    )
    records = _records(
        {
            "born": ["1802-02-26", "soon", None, "1840-04-02"],
            "place": ["POINT(2.35 48.85)", "POINT(4.83 45.76)", "Paris", None],
            "name": ["Hugo", "Zola", "Verne", None],
        }
    )
    prepared = prepare_side(attributes, records, "align")
    assert sorted(prepared.bad) == [1, 2]
    assert prepared.bad[1].startswith("column born: ")
    assert prepared.bad[2] == ("column place: 'Paris' is not a WKT point, e.g. POINT(2.35 48.85)")
    # WKT points are (lat, long) tuples, as two columns would give; bad values are missing.
    assert prepared.normalised["place"][:3] == [("48.85", "2.35"), ("45.76", "4.83"), None]
    assert prepared.normalised["born"][1] is None
    assert list(prepared.prepared) == ["born", "place", "name"]
