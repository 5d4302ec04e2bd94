"""The lab storage host for tests: ``specs/lab/storage-host.yaml`` booted under QEMU.

``lab_fixture`` defines the session fixture ``storage_lab``: it builds the
image as ``engine run`` does (or reuses the cached build: the first build
takes about 6-10 minutes, later sessions none), boots it in a temporary
folder with :func:`engine.lab.start` and stops it by its PID at the end.
Register it from a conftest, or in a test module, with::

    from tests.lab import lab_fixture  # noqa: F401 - defines the session fixture `storage_lab`

Skipped, with the reason, when QEMU is not installed; a failed build or boot
fails the tests with the engine's message (the console's last lines).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.lab import Lab, build_image, start, stop

__all__ = ["LAB_SPEC", "QEMU_HINT", "lab_fixture", "lab_image"]

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB_SPEC = REPO_ROOT / "specs" / "lab" / "storage-host.yaml"
QEMU_HINT = "qemu-system-x86_64 not found: apt-get install qemu-system-x86 qemu-utils"


def lab_image(spec: Path = LAB_SPEC) -> Path:
    """The lab image's ``disk.qcow2``, built when its recipe is not cached yet."""
    return build_image(spec)


@pytest.fixture(scope="session", name="storage_lab")
def lab_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab storage host for the session (SSH and iSCSI on 127.0.0.1); stopped at the end."""
    if shutil.which("qemu-system-x86_64") is None or shutil.which("qemu-img") is None:
        pytest.skip(QEMU_HINT)
    try:
        lab = start(lab_image(), tmp_path_factory.mktemp("lab"))
    except EngineError as error:
        message = error.render()
    else:
        try:
            yield lab
        finally:
            stop(lab.folder)
        return
    # Outside the except block, so the report is the message alone.
    pytest.fail(message, pytrace=False)
