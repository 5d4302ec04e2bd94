"""The lab storage host for tests: ``specs/lab/storage-host.yaml`` booted under QEMU.

``lab_fixture`` defines the session fixture ``storage_lab``: it builds the
image as ``engine run`` does (or reuses the cached build: the first build
takes about 6-10 minutes, later sessions none), boots it in a temporary
folder with :func:`engine.lab.start` and stops it by its PID at the end.
Register it from a conftest, or in a test module, with::

    from tests.lab import lab_fixture  # noqa: F401 - defines the session fixture `storage_lab`

A missing QEMU fails the tests with the package to install (never a skip); a
failed build or boot fails them with the engine's message (the console's last lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.lab import Lab, build_image, start, stop
from tests.tools import require_tools

__all__ = ["LAB_SPEC", "lab_fixture", "lab_image"]

REPO_ROOT = Path(__file__).resolve().parent.parent
LAB_SPEC = REPO_ROOT / "specs" / "lab" / "storage-host.yaml"


def lab_image(spec: Path = LAB_SPEC) -> Path:
    """The lab image's ``disk.qcow2``, built when its recipe is not cached yet."""
    return build_image(spec)


@pytest.fixture(scope="session", name="storage_lab")
def lab_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab storage host for the session (SSH and iSCSI on 127.0.0.1); stopped at the end."""
    require_tools("qemu-system-x86 qemu-utils", "qemu-system-x86_64", "qemu-img")
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
