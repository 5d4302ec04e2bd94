"""The outputs of a run: an HTML report's gold links that name no or some unknown records."""

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
