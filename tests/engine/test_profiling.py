"""Per-step profile lines (engine/profiling.py), written when SPECENGINE_PROFILE is set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import profiling
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_writes_one_line_per_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = tmp_path / "profile.jsonl"
    monkeypatch.setenv(profiling.ENV, str(lines))
    spec = ROOT / "specs" / "febrl4.yaml"
    assert main(["run", "-q", "--out-dir", str(tmp_path / "out"), str(spec)]) == 0
    steps = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    names = [s["step"] for s in steps]
    assert (
        names
        == ["ReadSource", "ReadSource", "Prepare", "Block", "Compare", "Match"] + ["Write"] * 2
    )
    for s in steps:
        assert s["seconds"] >= 0
        assert s["peak_rss_kib"] >= (s["start_rss_kib"] or 0) > 0


def test_nothing_is_written_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(profiling.ENV, raising=False)
    assert profiling.from_environment() is None


def test_a_failing_step_is_recorded_and_its_error_kept(tmp_path: Path) -> None:
    profile = profiling.StepProfile(tmp_path / "p.jsonl")

    class Boom:
        pass

    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        profile.run(Boom(), fail)
    (line,) = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["step"] == "Boom"


def test_the_peak_is_never_under_the_starting_rss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel's counters lag: VmHWM read after a step can be a few pages under
    # the VmRSS read before it.
    reads = iter([623828, 623812])
    monkeypatch.setattr(profiling, "_reset_peak", lambda: True)
    monkeypatch.setattr(profiling, "_status_kib", lambda field: next(reads))
    profile = profiling.StepProfile(tmp_path / "p.jsonl")
    profile.run(object(), lambda: None)
    line = json.loads((tmp_path / "p.jsonl").read_text(encoding="utf-8"))
    assert line["peak_rss_kib"] >= line["start_rss_kib"] == 623828
