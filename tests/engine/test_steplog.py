"""Step log lines (engine/steplog.py) of image recipes and volume pools, with ``-v``."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import logs
from engine.cli import main
from engine.execute import execute
from engine.plan import Plan
from engine.volume_pool.steps import Apply, Confirm, Lock
from tests.engine.test_cli import _image
from tests.engine.volume_pool.test_handlers import BASE, LISTING, READS, _reading


@pytest.fixture(autouse=True)
def _quiet_afterwards() -> Iterator[None]:
    yield
    logs.configure(logging.WARNING)


def _lines(err: str) -> list[str]:
    return [re.sub(r"^\d\d:\d\d:\d\d ", "", line) for line in err.splitlines()]


def test_the_steps_of_an_image_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _image(tmp_path)
    assert main(["-v", "plan", str(spec)]) == 0
    lines = _lines(capsys.readouterr().err)
    assert re.fullmatch(
        r"INFO engine\.execute: step 1/2: build recipe [0-9a-f]{16} with image-build\.yml"
        r" on localhost",
        lines[0],
    )
    assert re.fullmatch(
        r"INFO engine\.execute: step 1/2 done in \S+ s: not built \(plan\)", lines[1]
    )
    assert lines[2] == (
        "INFO engine.execute: step 2/2: Put the artefacts and the manifest into the output"
        " folder (one journaled commit)"
    )
    (tmp_path / "built").mkdir()
    spec = _image(tmp_path / "built", built=True)
    assert main(["-v", "plan", str(spec)]) == 0
    err = capsys.readouterr().err
    assert "done in " in err and f": cached in {tmp_path / 'built' / 'cache'}/" in err
    assert ": not built again" in err


def test_the_steps_of_a_volume_pool_plan(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="engine")
    state = _reading(LISTING)
    steps = (Lock(BASE), READS, Apply("volume-pool.yml", {}, ""), Confirm())
    execute(Plan("volume-pool", "lab", "pool.yaml", steps), state, dry_run=True)
    messages = [r.getMessage() for r in caplog.records if r.name == "engine.execute"]
    assert messages[0] == (
        "step 1/4: Hold the pool's lock on the host until the run ends (not in a plan)"
    )
    assert messages[2] == (
        "step 2/4: Read the pool (zfs list), who made what (zfs get) and the exports (tgtadm show)"
    )
    assert re.fullmatch(
        r"step 2/4 done in \S+ s: 3 volume\(s\), 2 iSCSI target\(s\);"
        r" 1 grow, 1 snapshot, 1 create, 1 export, 1 destroy",
        messages[3],
    )
    assert (
        messages[4]
        == "step 3/4: Run the actions' commands with the playbook, through the restricted key"
    )
    assert len(messages) == 8  # before and after each of the four steps
