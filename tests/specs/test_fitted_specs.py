"""The fitted example spec: its committed model is what `engine fit` writes, and it scores F1 >= 0.999."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "febrl4-unsupervised.yaml"


def test_the_committed_model_is_what_fit_writes(tmp_path: Path) -> None:
    # Fitted from the spec's own sources, written elsewhere: where its relative paths
    # (../data/febrl) resolve too, as `fit --out` into another folder requires.
    (tmp_path / "data").symlink_to(ROOT / "data")
    again = tmp_path / "specs" / "again.yaml"
    again.parent.mkdir()
    assert main(["fit", str(SPEC), "--out", str(again)]) == 0
    assert again.read_bytes() == SPEC.read_bytes()


def test_the_fitted_spec_finds_the_febrl4_links(capsys: pytest.CaptureFixture[str]) -> None:
    gold = ROOT / "data" / "febrl" / "febrl4_true_links.csv"
    assert main(["eval", str(SPEC), "--gold", str(gold), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["links"]["f1"] >= 0.999


def test_plan_shows_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SPEC)]) == 0
    out = capsys.readouterr().out
    assert "keep pairs with match probability >= 0.5 (a fitted model: prior 0.0002" in out
    assert "metric: jaro_winkler, levels exact +7.7, <= 0.08 +6.7" in out
