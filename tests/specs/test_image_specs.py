"""specs/images: real builds (mmdebstrap, e2fsprogs, GRUB, qemu-img), QEMU boots, a real Glance.

One build per spec for the whole module (minutes each: marked slow, run by
.ci/run); the tests share it and look at what it made, what booted, what
Glance holds, and that a second run rebuilds and uploads nothing.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.cli import main
from engine.image.state import ImageState
from tests.glance import Glance

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "specs" / "images"


@dataclass
class Built:
    """One spec run for real, and where it put things."""

    spec_path: Path
    out: Path
    state: ImageState
    glance: Glance

    @property
    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "manifest.json").read_text())
        return data


def _run(spec_path: Path, out: Path, cache: Path) -> ImageState:
    spec = engine.with_outputs_in(engine.load_spec(spec_path), out)
    spec = spec.model_copy(update={"cache": cache})
    state = engine.run(engine.build_plan(spec, spec_path), spec)
    assert isinstance(state, ImageState)
    return state


@pytest.fixture(scope="module")
def image_env(glance: Glance, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    cache = tmp_path_factory.mktemp("image-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLANCE_URL", glance.url)
        patch.setenv("OS_AUTH_TOKEN", "any-token")
        yield cache


@pytest.fixture(scope="module")
def uec(image_env: Path, glance: Glance, tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("uec") / "out"
    spec_path = IMAGES / "debian-bookworm-uec.yaml"
    return Built(spec_path, out, _run(spec_path, out, image_env), glance)


@pytest.fixture(scope="module")
def disk(image_env: Path, glance: Glance, tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("disk") / "out"
    spec_path = IMAGES / "debian-bookworm-disk.yaml"
    return Built(spec_path, out, _run(spec_path, out, image_env), glance)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_triplet_and_its_manifest(uec: Built) -> None:
    manifest = uec.manifest
    assert set(manifest["artefacts"]) == {"kernel", "initrd", "rootfs.img"}
    for name, facts in manifest["artefacts"].items():
        path = uec.out / name
        assert path.stat().st_size == facts["size"] > 0
        assert _sha256(path) == facts["sha256"]
    names = {p["name"] for p in manifest["packages"]}
    assert {"linux-image-amd64", "openssh-server", "systemd-sysv"} <= names
    assert manifest["recipe"] == uec.state.manifest["recipe"]
    assert manifest["engine_version"] and len(manifest["spec_sha256"]) == 64
    # The kernel is a real bzImage and the root filesystem a clean ext4 with its label.
    assert (uec.out / "kernel").read_bytes()[0x202:0x206] == b"HdrS"
    label = subprocess.run(
        ["e2label", str(uec.out / "rootfs.img")], capture_output=True, text=True, check=True
    )
    assert label.stdout.strip() == "cloudimg-rootfs"
    check = subprocess.run(["e2fsck", "-f", "-n", str(uec.out / "rootfs.img")], capture_output=True)
    assert check.returncode == 0


def test_the_root_filesystem_is_minimised(uec: Built) -> None:
    used = uec.manifest["root"]["used_mib"] << 20
    size = uec.manifest["artefacts"]["rootfs.img"]["size"]
    assert size <= 1.10 * used, (size / (1 << 20), used / (1 << 20))


def test_the_triplet_boots_to_login_and_ssh(uec: Built) -> None:
    boot = uec.manifest["boot"]["uec"]
    assert boot["ssh_banner"].startswith("SSH-2.0-OpenSSH")
    assert boot["login_s"] <= 300


def test_the_triplet_is_in_glance_with_kernel_and_ramdisk_ids(uec: Built) -> None:
    ids = uec.manifest["glance"]["images"]
    kernel = uec.glance.image(ids["debian-bookworm-uec-kernel"])
    ramdisk = uec.glance.image(ids["debian-bookworm-uec-initrd"])
    root = uec.glance.image(ids["debian-bookworm-uec-rootfs.img"])
    assert (kernel["disk_format"], kernel["container_format"]) == ("aki", "aki")
    assert (ramdisk["disk_format"], ramdisk["container_format"]) == ("ari", "ari")
    assert (root["disk_format"], root["container_format"]) == ("ami", "ami")
    assert root["kernel_id"] == kernel["id"] and root["ramdisk_id"] == ramdisk["id"]
    assert root["status"] == "active"
    local = hashlib.sha512((uec.out / "rootfs.img").read_bytes()).hexdigest()
    assert root["os_hash_value"] == local


def test_a_second_run_builds_and_uploads_nothing(uec: Built, image_env: Path) -> None:
    before = {image["id"] for image in uec.glance.images()}
    again = _run(uec.spec_path, uec.out, image_env)
    assert again.cached
    assert again.uploaded == {}
    assert sorted(again.reused) == sorted(uec.manifest["glance"]["images"])
    assert {image["id"] for image in uec.glance.images()} == before


def test_the_plan_of_a_built_recipe_changes_nothing(
    uec: Built, image_env: Path, tmp_path: Path
) -> None:
    text = uec.spec_path.read_text().replace(
        "output: ../../out/images/debian-bookworm-uec", f"output: {tmp_path / 'o'}"
    )
    spec = tmp_path / "uec.yaml"
    spec.write_text(text + f"cache: {image_env}\n")
    assert main(["plan", "--detailed-exitcode", str(spec)]) == 0


def test_the_bare_disk_boots_and_is_in_glance(disk: Built) -> None:
    manifest = disk.manifest
    assert set(manifest["artefacts"]) == {"disk.qcow2"}
    info = subprocess.run(
        ["qemu-img", "info", "--output=json", str(disk.out / "disk.qcow2")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(info.stdout)["format"] == "qcow2"
    assert manifest["boot"]["qcow2"]["ssh_banner"].startswith("SSH-2.0-OpenSSH")
    (image_id,) = manifest["glance"]["images"].values()
    image = disk.glance.image(image_id)
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "bare")
    assert image["status"] == "active"


def test_an_unknown_package_fails_at_its_step_and_leaves_nothing_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("kept")
    cache = tmp_path / "cache"
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "kind: image\nname: bad\npackages: [no-such-package-specengine]\n"
        f"output: {out}\ncache: {cache}\n"
    )
    assert main(["run", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "task 'Install Debian with mmdebstrap' failed" in err
    assert "no-such-package-specengine" in err and "Traceback" not in err
    assert (out / "previous.txt").read_text() == "kept"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_glance_down_fails_the_upload_and_leaves_the_outputs(
    uec: Built, image_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.hosts.ansible import HostError

    before = (uec.out / "manifest.json").read_bytes()
    monkeypatch.setenv("GLANCE_URL", "http://127.0.0.1:9")
    with pytest.raises(HostError, match="task 'Check that Glance answers' failed"):
        _run(uec.spec_path, uec.out, image_env)
    assert (uec.out / "manifest.json").read_bytes() == before
