"""Log lines on stderr (engine/logs.py): -v, -vv and --log-level on the command line."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import logs
from engine.cli import main

SPEC = """\
kind: alignment
name: people
sources:
  align: {csv: align.csv, id: {template: "http://example.org/a/{id}"}}
  target: {csv: target.csv, id: {template: "http://example.org/t/{id}"}}
attributes:
  - {name: name, metric: {levenshtein: {normalised: true}}, normalise: [lowercase]}
blocking: {key: {attribute: name, normalise: [{prefix: 1}]}}
threshold: 0.5
outputs: [{csv: out/links.csv}]
"""


@pytest.fixture(autouse=True)
def _quiet_afterwards() -> Iterator[None]:
    """Later tests in this process run at the default level again."""
    yield
    logs.configure(logging.WARNING)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "align.csv").write_text("id,name\n1,Ann\n2,Bob\n3,Cid\n", encoding="utf-8")
    (tmp_path / "target.csv").write_text("id,name\n10,ann\n20,bob\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    return spec


def test_levels() -> None:
    assert logs.level_for(0, None) == logging.WARNING
    assert logs.level_for(1, None) == logging.INFO
    assert logs.level_for(2, None) == logging.DEBUG
    assert logs.level_for(3, None) == logging.DEBUG
    assert logs.level_for(2, "error") == logging.ERROR  # --log-level wins over -v
    assert logs.level_for(0, "INFO") == logging.INFO


def test_by_default_a_run_logs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(_project(tmp_path))]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "links: 2 (best)" in captured.out


def test_v_logs_each_step_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _project(tmp_path)
    assert main(["-v", "run", str(spec)]) == 0
    captured = capsys.readouterr()
    assert "INFO" not in captured.out and "links: 2 (best)" in captured.out
    lines = captured.err.splitlines()
    # HH:MM:SS LEVEL logger: message
    assert all(line[2] == ":" and " INFO engine." in line for line in lines), lines
    text = "\n".join(line.split(" ", 1)[1] for line in lines)
    align = tmp_path / "align.csv"
    assert f"INFO engine.execute: step 1/7: read the align source: csv {align} (26 bytes)" in text
    assert "step 1/7 done in " in text and f": align source {align}: 3 records" in text
    assert "step 4/7: blocking: key on attribute name (prefix)" in text
    assert ": about 2 candidate pairs" in text
    assert "step 5/7: compare about 2 candidate pairs (threshold 0.5)" in text
    assert "compared 2 pairs (local, " in text and "), 2 under the threshold" in text
    assert ": 2 links" in text
    assert "every step done: 1 output(s) renamed into place" in text
    assert "DEBUG" not in text


def test_options_after_the_command_and_log_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _project(tmp_path)
    assert main(["run", "-v", "-q", str(spec)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "step 4/7: blocking" in captured.err
    assert main(["-vv", "plan", str(spec)]) == 0
    err = capsys.readouterr().err
    assert "DEBUG engine.execute: step 1/7 as planned: ReadSource(role='align')" in err
    assert main(["-v", "--log-level", "warning", "run", str(spec)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["--log-level", "INFO", "plan", str(spec)]) == 0
    assert "INFO engine.execute: step 4/7" in capsys.readouterr().err
    assert main(["--log-level", "loud", "plan", str(spec)]) == 2
    assert "invalid choice: 'loud'" in capsys.readouterr().err


def test_a_plan_logs_only_the_steps_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-v", "plan", str(_project(tmp_path))]) == 0
    err = capsys.readouterr().err
    assert "step 4/7 done" in err and "step 5/7" not in err


def test_logs_of_the_console_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "-v", "run", str(_project(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "INFO engine.execute: step 5/7" in done.stderr
    assert "INFO" not in done.stdout and "links: 2" in done.stdout


def test_v_shows_the_compare_steps_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long compare step says how far it is, not only when it ends.
    monkeypatch.setattr("engine.alignment.stream.PROGRESS_EVERY_S", 0.0)
    assert main(["-v", "run", "-q", str(_project(tmp_path))]) == 0
    err = capsys.readouterr().err
    assert "INFO engine.alignment.stream: compare: " in err
    assert "of about" in err and "candidate pairs" in err
