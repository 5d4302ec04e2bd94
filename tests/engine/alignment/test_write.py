"""The outputs of a run: an HTML report and its gold links (none or some unknown records), its pairs."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from engine.cli import main

SPEC = """\
kind: alignment
name: towns
sources:
  align: {csv: a.csv, id: {template: "http://a/{id}"}}
  target: {csv: b.csv, id: {template: "http://b/{id}"}}
attributes: [{name: name, metric: levenshtein}]
threshold: 1
outputs: [{csv: out/links.csv}, {html: out/report.html, gold: gold.csv}]
"""


def _project(tmp_path: Path, gold: str) -> Path:
    (tmp_path / "a.csv").write_text("id,name\n1,Paris\n2,Lyon\n")
    (tmp_path / "b.csv").write_text("id,name\n10,Pariz\n20,Lyons\n")
    (tmp_path / "gold.csv").write_text(gold)
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path / "spec.yaml"


def test_report_gold_naming_no_record_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, "a,t\n1,10\n")
    assert main(["run", "-q", str(spec)]) == 0
    before = (tmp_path / "out" / "links.csv").read_text()
    (tmp_path / "gold.csv").write_text("a,t\nP-1,L-10\n")
    capsys.readouterr()
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"engine: {tmp_path / 'gold.csv'}: the gold pair names no records of the sources:"
    )
    assert (tmp_path / "out" / "links.csv").read_text() == before


def test_report_gold_with_unknown_records_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path, "a,t\n1,10\n2,20\n3,30\n")
    assert main(["run", "-q", str(spec)]) == 0
    warning = (
        f"1 of the 3 gold pairs in {tmp_path / 'gold.csv'} name records not in the sources"
        " (line 4: '3'); they are left out of the scores"
    )
    assert f"warning: {warning}\n" in capsys.readouterr().err
    report = html.unescape((tmp_path / "out" / "report.html").read_text())
    assert warning in report


def test_the_reports_pairs_show_the_distances_the_compare_step_kept(tmp_path: Path) -> None:
    import numpy as np

    import engine
    from engine.alignment.write import report

    (tmp_path / "a.csv").write_text("id,name\n1,Paris\n2,Lyon\n3,Nice\n4,\n")
    (tmp_path / "b.csv").write_text("id,name\n10,Pariz\n20,Lyons\n30,Nizza\n40,Pau\n")
    (tmp_path / "spec.yaml").write_text(
        SPEC.replace("threshold: 1", "threshold: 1\nmatching: best")
        .replace(
            "[{name: name, metric: levenshtein}]",
            "[{name: name, metric: levenshtein, missing: 0.5}]",
        )
        .replace(
            "{html: out/report.html, gold: gold.csv}",
            "{html: out/report.html, near_misses: 9, margin: 3}",
        )
    )
    spec = engine.load_spec(tmp_path / "spec.yaml")
    state = engine.run(engine.build_plan(spec, tmp_path / "spec.yaml"), spec)
    content = report(state, spec.outputs[1])
    links = state.links
    assert links is not None and len(content.sample) == len(links) == 3
    for pair in content.sample:
        k = links.align_ids.index(pair.align_id)
        assert links.target_ids[k] == pair.target_id and pair.distance == links.distance[k]
        (name,) = pair.attributes
        kept = links.attributes["name"][k]
        assert name.distance == (0.5 if np.isnan(kept) else kept)  # a missing value: its fill
    shown = {
        (p.align_id, p.attributes[0].align_value, p.attributes[0].target_value)
        for p in content.sample
    }
    assert shown == {
        ("http://a/1", "Paris", "Pariz"),
        ("http://a/2", "Lyon", "Lyons"),
        ("http://a/4", None, "Pariz"),
    }
    near = content.near_misses
    assert [p.distance for p in near] == sorted(p.distance for p in near) and near
    assert all(p.distance > 1 for p in near)
    assert ("http://a/3", "http://b/30", 3.0) in {
        (p.align_id, p.target_id, p.distance) for p in near
    }
    assert all(np.isclose(p.attributes[0].distance, p.distance) for p in near)
