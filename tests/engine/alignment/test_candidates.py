"""The block stage: keys from the prepared records, the rule, its budget, why it found nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter

from engine.alignment import candidates
from engine.alignment.blocking import KeyRule
from engine.alignment.candidates import build_rule, check_budget, empty_source, rule_keys, why_none
from engine.alignment.records import Records
from engine.alignment.state import Side
from engine.cli import main
from engine.errors import DataError
from schemas.alignment import BlockingRef


def _blocking(blocking: Any) -> Any:
    return TypeAdapter(BlockingRef).validate_python(blocking)


def _side(role: str, columns: dict[str, list[str | None]], first_row: int = 2) -> Side:
    n = len(next(iter(columns.values())))
    records = Records(
        source=f"{role} source {role}.csv",
        ids=[f"http://{role}/{i}" for i in range(n)],
        names=list(columns),
        columns=columns,
        rows=np.arange(first_row, first_row + n, dtype=np.int64),
    )
    # The attributes' normalised values are the columns themselves here.
    return Side(records, normalised=dict(columns))


def _sides(**target: list[str | None]) -> dict[str, Side]:
    align = {
        "name": ["Robert", "Rupert", None],
        "lat": ["48.85", "45.76", "95"],
        "lon": ["2.35", "4.83", "1"],
    }
    return {"align": _side("align", align), "target": _side("target", target or align)}


def test_composite_keys_are_normalised_once_per_attribute_and_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = candidates.normalise_column

    def counting(values: list[Any], chain: list[Any]) -> list[Any]:
        calls.append(len(values))
        return real(values, chain)

    monkeypatch.setattr(candidates, "normalise_column", counting)
    sides = _sides()
    rule = {"key": {"attribute": ["name", "name"], "normalise": ["soundex"]}}
    cache: candidates.KeyCache = {}
    align, target = rule_keys(sides, _blocking(rule), cache)
    assert align == ["R163\x1fR163", "R163\x1fR163", None] == target
    rule_keys(sides, _blocking(rule), cache)
    # Once for both sides, on their distinct values, whatever the rules and parts asking.
    assert calls == [2]


def test_none_reads_no_key() -> None:
    sides = _sides(name=["a", "b"])
    assert rule_keys(sides, _blocking("none"), {}) == ([None] * 3, [None] * 2)
    assert build_rule(sides, _blocking("none"), {}).estimate() == 6


def test_a_value_a_rule_cannot_use_names_the_rule_and_the_row() -> None:
    sides = _sides()
    blocking = _blocking({"union": [
        {"key": {"attribute": "name"}},
        {"radius": {"align": ["lat", "lon"], "radius": "5 km"}},
    ]})  # fmt: skip
    with pytest.raises(DataError) as caught:
        build_rule(sides, blocking, {})
    assert caught.value.source == "align source align.csv" and caught.value.row == 4
    assert caught.value.message == (
        "blocking rule radius on columns lat,lon/lat,lon, within 5 km (haversine, latlon):"
        " latitude 95 is outside [-90, 90] in ('95', '1') (latlon)"
    )


def test_a_rule_over_its_budget_stops_the_run() -> None:
    sides = _sides(name=["Robert", "Robert"])
    blocking = _blocking({"union": {"rules": [{"key": {"attribute": "name", "max_pairs": 1}}]}})
    rule = build_rule(sides, blocking, {})
    with pytest.raises(
        DataError, match=r"blocking rule key on attribute name, max_pairs 1: about 2 candidate"
    ):
        check_budget(blocking, rule, dedup=False, records=3, spec_file="spec.yaml")
    check_budget(blocking, rule, dedup=True, records=0, spec_file="spec.yaml")  # 2 // 2 = 1


def test_why_a_group_finds_nothing() -> None:
    sides = _sides(name=["Alice", "Bob"])
    blocking = _blocking(
        {"pipeline": [{"key": {"attribute": "name"}}, {"qgram": {"attribute": "name", "q": 2}}]}
    )
    rule = build_rule(sides, blocking, {})
    assert rule.estimate() == 0
    assert why_none(sides, blocking, rule, {}) == (
        "key on attribute name: the two sources share no key (align keys look like 'Robert',"
        " target keys look like 'Alice')"
    )
    assert empty_source(sides, dedup=False) is None
    assert empty_source({"align": _side("align", {"name": []})}, dedup=True) == (
        "the align source align.csv has no records"
    )


@pytest.mark.parametrize(
    "blocking",
    [
        "{radius: {attribute: place, radius: 5 km}}",
        "{kmeans: {attribute: place, clusters: 2, coordinates: latlon}}",
    ],
)
def test_a_run_on_a_header_only_source_names_it(
    blocking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.csv").write_text("id,lat,lon\n1,48.85,2.35\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id,lat,lon\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"""kind: alignment
name: empty-target
sources:
  align: {{csv: a.csv, id: {{template: "http://a/{{id}}"}}}}
  target: {{csv: b.csv, id: {{template: "http://b/{{id}}"}}}}
attributes:
  - {{name: place, align: [lat, lon], metric: geographic}}
blocking: {blocking}
threshold: 1
outputs:
  - {{csv: out/links.csv}}
""",
        encoding="utf-8",
    )
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "b.csv has no records" in err
    assert "coordinates need" not in err
    assert not (tmp_path / "out").exists()


def test_key_rules_on_codes_pair_as_on_the_keys_themselves() -> None:
    names = ["Robert", "Rupert", None, "Anna", "Hanna", "Robert", "anna"]
    towns = ["Lyon", "Lyon", "Paris", None, "Paris", "Nice", "Paris"]
    align = _side("align", {"name": names, "town": towns})
    target = _side("target", {"name": names[::-1], "town": towns[1:] + towns[:1]})
    sides = {"align": align, "target": target}
    for spec in [
        {"key": {"attribute": ["name", "town"], "normalise": ["soundex"]}},
        {"key": {"attribute": ["town", "name"]}},
        {"key": {"attribute": "name", "normalise": ["soundex"]}},
        {"key": {"attribute": "town"}},
    ]:
        blocking = _blocking(spec)
        rule = build_rule(sides, blocking, {})
        keys = rule_keys(sides, blocking, {})  # lists, as other rules read them
        assert all(isinstance(k, list) for k in keys)
        plain = KeyRule(*keys)
        assert [p.tolist() for p in next(rule.pairs())] == [p.tolist() for p in next(plain.pairs())]
        assert rule.ca.tolist() == plain.ca.tolist() and rule.cb.tolist() == plain.cb.tolist()


@pytest.mark.parametrize(
    ("align", "target", "where"),
    [
        (["2020-01-02", "1999-12-31"], ["2020-01-02", "nope"], ("target", 3)),
        (["2020-01-02", "never", "nope"], ["nope", "2020-01-02"], ("align", 3)),
    ],
)
@pytest.mark.parametrize("attribute", ["born", ["born", "born"]])
def test_a_key_a_normaliser_cannot_read_names_its_source_and_row(
    align: list[str | None], target: list[str | None], where: tuple[str, int], attribute: Any
) -> None:
    sides = {"align": _side("align", {"born": align}), "target": _side("target", {"born": target})}
    blocking = _blocking({"key": {"attribute": attribute, "normalise": ["date"]}})
    with pytest.raises(DataError) as caught:
        build_rule(sides, blocking, {})
    assert caught.value.source == f"{where[0]} source {where[0]}.csv"
    assert caught.value.row == where[1]
    assert "blocking key: cannot read" in caught.value.message
