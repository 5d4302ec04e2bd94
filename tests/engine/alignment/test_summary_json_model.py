"""A fitted model and the review band in the plan and run documents (engine/alignment/summary_json.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from engine.cli import main

ROOT = Path(__file__).resolve().parents[3]
FEBRL4 = ROOT / "specs" / "febrl4-unsupervised.yaml"


def test_plan_json_shows_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", str(FEBRL4)]) == 0
    model = json.loads(capsys.readouterr().out)["alignment"]["model"]
    spec = yaml.safe_load(FEBRL4.read_text(encoding="utf-8"))["model"]
    assert model["prior"] == spec["prior"] and model["threshold"] == spec["threshold"]
    assert model["prior_weight"] == pytest.approx(math.log2(spec["prior"] / (1 - spec["prior"])))
    names = [a["name"] for a in model["attributes"]]
    assert names == list(spec["attributes"])
    given = model["attributes"][0]["levels"]
    assert [level["level"] for level in given] == ["exact", "<= 0.08", "<= 0.16", "> 0.16"]
    assert [level["upper"] for level in given] == [0.0, 0.08, 0.16, None]
    m, u = spec["attributes"]["given_name"]["m"], spec["attributes"]["given_name"]["u"]
    assert given[0]["m"] == m[0] and given[0]["u"] == u[0]
    assert given[0]["weight"] == pytest.approx(math.log2(m[0] / u[0]))


def test_run_json_counts_the_review_band(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(FEBRL4.read_text(encoding="utf-8"))
    for role, name in (("align", "febrl4a.csv"), ("target", "febrl4b.csv")):
        data["sources"][role]["csv"] = str(ROOT / "data" / "febrl" / name)
    data["review"] = {"from": 0.5, "to": 0.999}
    data["outputs"] = [{"csv": "links.csv"}, {"review": "review.csv"}]
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert main(["run", "--json", str(spec)]) == 0
    figures = json.loads(capsys.readouterr().out)["alignment"]
    rows = (tmp_path / "review.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert figures["review"] == {"from": 0.5, "to": 0.999, "pairs": len(rows)} and rows
    links = (tmp_path / "links.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert figures["links"] == len(links)
    assert figures["model"]["threshold"] == 0.5


def test_no_model_no_band(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", str(ROOT / "specs" / "febrl4.yaml")]) == 0
    figures = json.loads(capsys.readouterr().out)["alignment"]
    assert figures["model"] is None and figures["review"] is None
