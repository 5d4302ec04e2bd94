"""Upload a built image to Glance through ``playbooks/image-upload.yml``.

The engine computes the checksums Glance reports (md5 ``checksum`` and sha512
``os_hash_value``) and hands the playbook the files in upload order: kernel
(``aki``), ramdisk (``ari``), root filesystem (``ami``, with ``kernel_id`` and
``ramdisk_id``), bare disks (``qcow2``/``raw`` in a ``bare`` container). An
image with the same name and checksum is reused, not uploaded again.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from engine.hosts.ansible import PlaybookRun, run_playbook
from engine.image.state import ImageState
from engine.image.steps import Upload

__all__ = ["glance_images", "handle_upload", "upload"]

#: artefact file -> (key, disk_format, container_format).
_FORMATS = {
    "kernel": ("kernel", "aki", "aki"),
    "initrd": ("initrd", "ari", "ari"),
    "rootfs.img": ("rootfs", "ami", "ami"),
    "disk.qcow2": ("qcow2", "qcow2", "bare"),
    "disk.raw": ("raw", "raw", "bare"),
}


def _digests(path: Path) -> tuple[str, str]:
    md5, sha512 = hashlib.md5(), hashlib.sha512()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            md5.update(chunk)
            sha512.update(chunk)
    return md5.hexdigest(), sha512.hexdigest()


def glance_images(state: ImageState, folder: Path) -> list[dict[str, Any]]:
    """The images to upload, in order, with their formats and checksums."""
    spec = state.spec
    assert spec.upload is not None
    prefix = spec.upload.glance.name or spec.name
    out = []
    for name in _FORMATS:
        if name not in state.manifest.get("artefacts", {}):
            continue
        key, disk_format, container_format = _FORMATS[name]
        md5, sha512 = _digests(folder / name)
        properties: dict[str, str] = {}
        if key == "rootfs":
            # Nova boots the triplet with this command line.
            properties["os_command_line"] = (
                f"root=LABEL={spec.root.label} ro console=tty0 console=ttyS0"
            )
        if key in ("rootfs", "qcow2", "raw"):
            properties.update({"os_distro": "debian", "os_version": spec.debian.suite})
        out.append(
            {
                "key": key,
                "name": f"{prefix}-{name}",
                "file": str(folder / name),
                "disk_format": disk_format,
                "container_format": container_format,
                "md5": md5,
                "sha512": sha512,
                "properties": properties,
            }
        )
    return out


def upload(state: ImageState, folder: Path) -> None:
    """Upload the artefacts of ``folder``; record the ids in the state and its manifest."""
    spec = state.spec
    assert spec.upload is not None
    glance = spec.upload.glance
    token = ""
    if glance.token_env is not None:
        # The run's environment, never the process's: in the web interface a
        # spec must not choose which of the server's variables goes to Glance.
        token = state.environment.get(glance.token_env) or ""
    images = glance_images(state, folder)
    run = PlaybookRun(
        "image-upload.yml",
        {
            "glance_url": glance.url,
            "glance_visibility": glance.visibility,
            "glance_images": images,
        },
        spec.build.host,
        spec.build.inventory,
    )
    # The token goes to this playbook's environment only: never into the plan or
    # the process's environment (two web runs at once would see each other's).
    result = run_playbook(run, progress=lambda task: None, secrets={"GLANCE_TOKEN": token})
    report = result.facts.get("specengine_glance") or {}
    ids: dict[str, str] = report.get("ids", {})
    reused = set(report.get("reused", []))
    for image in images:
        image_id = ids.get(image["key"], "")
        if image["name"] in reused:
            state.reused.append(image["name"])
        else:
            state.uploaded[image["name"]] = image_id
    state.manifest["glance"] = {
        "url": glance.url,
        "images": {image["name"]: ids.get(image["key"], "") for image in images},
    }


def handle_upload(step: Upload, state: ImageState) -> None:
    """Upload through playbooks/image-upload.yml (idempotent: same name and checksum reused)."""
    if state.dry_run or state.cache is None:
        return
    started = time.perf_counter()
    upload(state, state.cache)
    state.timings["upload"] = time.perf_counter() - started
