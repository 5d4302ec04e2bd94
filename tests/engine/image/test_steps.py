"""engine/image/steps.py and report.py: the plan of a recipe, and its text."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.loader import load_spec
from engine.plan import build_plan
from tests.engine.image.test_recipe import RECIPE


def test_the_plan_lists_steps_and_artefacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "image.yaml"
    path.write_text(RECIPE + "verify: {boot: true}\n", encoding="utf-8")
    plan = build_plan(load_spec(path), str(path))
    kinds = [type(step).__name__ for step in plan.steps]
    assert kinds == ["Build", "Verify", "WriteOutputs"]
    write = plan.steps[-1]
    assert write.files == (
        "kernel",
        "initrd",
        "rootfs.img",
        "disk.qcow2",
        "packages.tsv",
        "manifest.json",
    )
    assert main(["plan", "--detailed-exitcode", str(path)]) == 2  # not built yet: changes pending
    out = capsys.readouterr().out
    assert "to build" in out and "boot under QEMU: uec, qcow2" in out
