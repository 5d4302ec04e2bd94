"""An image recipe's outputs: the cached build's files, put in place by the run's output commit.

The build itself is faked: a cache entry made by hand, which the Build step
finds and reuses (no mmdebstrap, no QEMU).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from engine import image
from engine.cli import main
from engine.loader import load_spec
from renderers import OutputTransaction, is_transient
from schemas.image import ImageSpec

RECIPE = """\
kind: image
name: demo
formats: [{formats}]
output: out/demo
cache: cache
"""


def _recipe(tmp_path: Path, formats: str = "uec, qcow2") -> Path:
    """A recipe whose build is in the cache already (files named after their content)."""
    path = tmp_path / "image.yaml"
    path.write_text(RECIPE.format(formats=formats), encoding="utf-8")
    spec = load_spec(path)
    assert isinstance(spec, ImageSpec)
    entry = tmp_path / "cache" / image.recipe_hash(spec)[:16]
    entry.mkdir(parents=True)
    artefacts: dict[str, Any] = {}
    for fmt in spec.formats:
        for name in image.ARTEFACTS[fmt]:
            (entry / name).write_text(f"{name} of {formats}\n")
            artefacts[name] = {"format": fmt, "size": 1, "sha256": "0" * 64}
    (entry / "packages.tsv").write_text("bash\t5.2\tamd64\n")
    manifest = {"name": "demo", "artefacts": artefacts, "packages": []}
    (entry / image.MANIFEST).write_text(json.dumps(manifest))
    return path


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_outputs_are_the_cached_files_linked_in(tmp_path: Path) -> None:
    spec = _recipe(tmp_path)
    assert main(["run", "-q", str(spec)]) == 0
    out = tmp_path / "out" / "demo"
    assert _listing(out) == sorted(
        ["kernel", "initrd", "rootfs.img", "disk.qcow2", "packages.tsv", "manifest.json"]
    )
    spec_model = load_spec(spec)
    assert isinstance(spec_model, ImageSpec)
    entry = tmp_path / "cache" / image.recipe_hash(spec_model)[:16]
    assert os.path.samefile(out / "disk.qcow2", entry / "disk.qcow2")  # no copy of gigabytes
    assert json.loads((out / "manifest.json").read_text())["name"] == "demo"
    assert not any(is_transient(name) for name in _listing(out.parent) + _listing(out))
    assert main(["run", "-q", str(spec)]) == 0  # again: the same files, nothing left over
    assert len(_listing(out)) == 6


def test_a_failed_write_leaves_the_previous_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _recipe(tmp_path)
    out = tmp_path / "out" / "demo"
    out.mkdir(parents=True)
    previous = {"kernel": "old kernel\n", "manifest.json": "{}\n", "notes.txt": "mine\n"}
    for name, text in previous.items():
        (out / name).write_text(text)
    real_rename, real_replace = os.rename, os.replace

    def refuse(src: Any, dst: Any) -> None:
        # The last step of the old swap, or the manifest's rename in the commit.
        if Path(dst) in (out, out / "manifest.json") and ".old" not in str(src):
            raise OSError(28, "No space left on device")

    def rename(src: Any, dst: Any) -> None:
        refuse(src, dst)
        real_rename(src, dst)

    def replace(src: Any, dst: Any) -> None:
        refuse(src, dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", replace)
    assert main(["run", "-q", str(spec)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert {name: (out / name).read_text() for name in _listing(out)} == previous
    assert _listing(out.parent) == ["demo"]


def test_files_of_a_dropped_format_go_and_other_files_stay(tmp_path: Path) -> None:
    both = _recipe(tmp_path)
    assert main(["run", "-q", str(both)]) == 0
    out = tmp_path / "out" / "demo"
    (out / "notes.txt").write_text("not the engine's\n")
    assert _recipe(tmp_path, "qcow2") == both  # the same recipe, without uec now
    assert main(["run", "-q", str(both)]) == 0
    assert _listing(out) == ["disk.qcow2", "manifest.json", "notes.txt", "packages.tsv"]
    assert (out / "disk.qcow2").read_text() == "disk.qcow2 of qcow2\n"


def test_a_run_while_another_writes_the_outputs_fails_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _recipe(tmp_path)
    with OutputTransaction(owner="engine run image.yaml") as other:
        other.claim([tmp_path / "out" / "demo" / "disk.qcow2"])
        assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "disk.qcow2: another run is writing this output" in err
    assert f"`engine run image.yaml`, pid {os.getpid()}" in err
    assert not (tmp_path / "out" / "demo" / "kernel").exists()
