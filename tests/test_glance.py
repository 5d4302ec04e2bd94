"""The Glance fixture works, and the Glance behaviours image uploads rely on hold.

One Glance for the whole run (the session fixture ``glance`` from tests/glance.py);
each test makes its own images under unique names, so order does not matter.
/tmp/glance-notes.md has the HTTP exchanges behind these facts.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.glance import (
    INSTALL_HINT,
    REPO_ROOT,
    Glance,
    GlanceError,
    start_glance,
)
from tests.stores import NotInstalledError

JSON = {"Content-Type": "application/json"}


def unique(prefix: str) -> str:
    """An image name no other test uses (names are not unique in Glance)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def listed_ids(glance: Glance, **filters: str) -> set[str]:
    return {image["id"] for image in glance.images(**filters)}


def test_listens_on_loopback_without_a_token(glance: Glance) -> None:
    assert glance.url.startswith("http://127.0.0.1:")
    assert glance.process.alive()
    assert glance.pid == glance.process.popen.pid
    # No Keystone: a bare request, without any X-Auth-Token, is served.
    answer = glance.request("GET", "/v2/images")
    assert answer.status == 200
    assert "images" in answer.json()


def test_create_upload_read_back_and_delete(glance: Glance) -> None:
    data = os.urandom(70_000)
    name = unique("kernel")
    image = glance.create_image(name, "aki", "aki")
    assert image["status"] == "queued"
    assert image["checksum"] is None and image["os_hash_value"] is None

    glance.upload(image["id"], data)
    stored = glance.image(image["id"])
    assert stored["status"] == "active"
    assert stored["size"] == len(data)
    assert stored["checksum"] == hashlib.md5(data).hexdigest()
    assert stored["os_hash_algo"] == "sha512"
    assert stored["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert glance.download(image["id"]) == data
    assert [found["id"] for found in glance.images(name=name)] == [image["id"]]

    glance.delete(image["id"])
    with pytest.raises(GlanceError) as gone:
        glance.image(image["id"])
    assert gone.value.status == 404
    assert glance.images(name=name) == []


def test_uec_triplet_with_kernel_and_ramdisk_ids(glance: Glance) -> None:
    kernel = glance.create_image(unique("uec-kernel"), "aki", "aki")
    ramdisk = glance.create_image(unique("uec-ramdisk"), "ari", "ari")
    glance.upload(kernel["id"], os.urandom(4096))
    glance.upload(ramdisk["id"], os.urandom(2048))
    machine = glance.create_image(
        unique("uec-machine"),
        "ami",
        "ami",
        visibility="public",  # allowed by the fixture's policy (publicize_image)
        kernel_id=kernel["id"],
        ramdisk_id=ramdisk["id"],
    )
    root = os.urandom(65536)
    glance.upload(machine["id"], root)
    stored = glance.image(machine["id"])
    # Custom properties come back as top-level strings.
    assert (stored["kernel_id"], stored["ramdisk_id"]) == (kernel["id"], ramdisk["id"])
    assert (stored["visibility"], stored["status"]) == ("public", "active")
    assert stored["os_hash_value"] == hashlib.sha512(root).hexdigest()
    # Found again by name and checksum, the way an upload is made idempotent.
    found = glance.images(name=stored["name"], os_hash_value=stored["os_hash_value"])
    assert [image["id"] for image in found] == [machine["id"]]


def test_kernel_id_must_be_a_uuid(glance: Glance) -> None:
    # The fixture installs the schema-image.json deployments have.
    body = {"name": unique("bad"), "disk_format": "ami", "container_format": "ami"}
    body["kernel_id"] = "not-a-uuid"
    answer = glance.request("POST", "/v2/images", json.dumps(body).encode(), JSON)
    assert answer.status == 400
    assert b"does not match" in answer.body


def test_bare_qcow2_whose_bytes_are_raw_is_refused(glance: Glance) -> None:
    data = os.urandom(4096)
    image = glance.create_image(unique("not-qcow2"), "qcow2", "bare")
    with pytest.raises(GlanceError) as refused:
        glance.upload(image["id"], data)
    assert refused.value.status == 415
    assert "Image disk_format qcow2 does not match stream data raw" in refused.value.body
    # Left queued, yet with the refused data's checksum: never trust a
    # checksum match on an image that is not active.
    left = glance.image(image["id"])
    assert left["status"] == "queued"
    assert left["checksum"] == hashlib.md5(data).hexdigest()
    glance.delete(image["id"])


def test_names_are_not_unique(glance: Glance) -> None:
    name = unique("twice")
    first = glance.create_image(name, "raw", "bare")
    second = glance.create_image(name, "raw", "bare")
    assert first["id"] != second["id"]
    assert listed_ids(glance, name=name) == {first["id"], second["id"]}


def test_chunked_upload_of_1_mib_chunks(glance: Glance) -> None:
    # python-glanceclient's chunk size: needs uwsgi's chunked-input-limit raised.
    chunks = [os.urandom(1024 * 1024), os.urandom(1024 * 1024)]
    image = glance.create_image(unique("chunked"), "raw", "bare")
    request = urllib.request.Request(
        f"{glance.url}/v2/images/{image['id']}/file",
        data=iter(chunks),  # an iterable without a length: urllib sends it chunked
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 204
    assert glance.image(image["id"])["checksum"] == hashlib.md5(b"".join(chunks)).hexdigest()


def test_clear_deletes_every_image(glance: Glance) -> None:
    # Empties the shared server: tests elsewhere make their own images as
    # they need them, never ones left by an earlier test.
    image = glance.create_image(unique("to-clear"), "raw", "bare", os_hidden=True)
    assert glance.images(name=image["name"]) == []  # hidden from plain listings
    glance.clear()
    assert glance.images(visibility="all") == []
    assert glance.images(visibility="all", os_hidden="true") == []


def test_missing_venv_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLANCE_VENV", str(tmp_path / "no-such-venv"))
    with pytest.raises(NotInstalledError) as missing:
        start_glance(tmp_path / "glance")
    assert str(missing.value).startswith(INSTALL_HINT)


def test_fixture_fails_not_skips_without_the_venv(tmp_path: Path) -> None:
    # A pytest run of its own, so this run's session Glance is not involved.
    (tmp_path / "test_uses_glance.py").write_text(
        "from tests.glance import glance_fixture  # noqa: F401\ndef test_it(glance):\n    pass\n",
        "utf-8",
    )
    env = dict(os.environ, GLANCE_VENV=str(tmp_path / "no-such-venv"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert INSTALL_HINT in done.stdout
    assert "1 error" in done.stdout and "skipped" not in done.stdout
