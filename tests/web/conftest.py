"""Fixtures of the web interface tests: a served folder in tmp and a client on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.web.app import create_app
from tests.web.people import SEED, write_people

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
            )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A served folder: the people spec (outputs inside), the seed copy (outputs outside), a bad spec."""
    root = tmp_path / "served"
    root.mkdir()
    write_people(root)
    shutil.copy(SEED, root / "seed-people.yaml")  # writes ../out: outside the folder
    (root / "bad.yaml").write_text(
        "kind: alignment\nname: bad\nsources: {}\nattributes: []\nthreshold: abc\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture
def app(folder: Path) -> Starlette:
    """The application over ``folder``."""
    return create_app(folder)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """An HTTP client on the application."""
    with TestClient(app) as test_client:
        yield test_client
