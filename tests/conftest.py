"""Shared fixtures: real triple stores (tests/stores.py), started once per session.

Tests that use a store are marked with its name (``oxigraph``, ``virtuoso``),
so ``pytest -m virtuoso`` or ``pytest -m "not virtuoso"`` selects them.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.glance import glance_fixture  # noqa: F401 - defines the session fixture `glance`
from tests.stores import NotInstalledError, Oxigraph, Virtuoso, start_oxigraph, start_virtuoso

S = TypeVar("S", Oxigraph, Virtuoso)

STORE_MARKERS = {
    "oxigraph": "uses a real Oxigraph server (tests/stores.py, the oxigraph fixture)",
    "virtuoso": "uses a real Virtuoso 7 server (tests/stores.py, the virtuoso fixture)",
    "glance": "uses a real OpenStack Glance, Images API v2 (tests/glance.py, the glance fixture)",
}


def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not in pyproject.toml, so --strict-markers accepts them.
    for name, description in STORE_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # The suite promises 0 skipped: a skip (a missing tool, an import that
    # failed) would turn a broken set-up into a green run, so it fails instead.
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, and skips are not allowed in this suite: {reason}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test is marked by the store fixtures it needs, directly or not, so the
    # marks cannot go missing on tests written elsewhere.
    for item in items:
        needed = set(getattr(item, "fixturenames", ()))
        for name in STORE_MARKERS.keys() & needed:
            item.add_marker(name)
    # Longest files first, so that `make test`'s two workers (pytest-xdist,
    # --dist loadfile --no-loadscope-reorder: whole files, in this order) start
    # with them and the short files fill in behind: the first two go to the
    # first worker (both boot the lab storage host, whose image is built once
    # under its cache lock), the image builds to the second.
    items.sort(key=_file_rank)


#: Files that share one worker (and so its lab storage host's image build):
#: scheduled as one unit by the scheduler below.
SAME_WORKER = {"test_pool_lab.py": "lab storage host", "test_lab.py": "lab storage host"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Whole files per worker, in collection order; the lab's files as one unit."""
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            scope = str(super()._split_scope(nodeid))
            return SAME_WORKER.get(Path(scope).name, scope)

    return Scheduling(config, log)


#: Files by expected duration on a fresh machine, longest first; the rest keep
#: their order behind the files marked slow.
LONGEST_FIRST = (
    "test_pool_lab.py",
    "test_image_specs.py",
    "test_lab.py",
)


def _file_rank(item: pytest.Item) -> tuple[int, int]:
    name = item.path.name
    if name in LONGEST_FIRST:
        return (0, LONGEST_FIRST.index(name))
    return (1, 0) if item.get_closest_marker("slow") else (2, 0)


@pytest.fixture(scope="session")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oxigraph]:
    """One Oxigraph server for the session, on 127.0.0.1; stopped by PID at the end."""
    store = _started(start_oxigraph, tmp_path_factory.mktemp("oxigraph"))
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def empty_oxigraph(oxigraph: Oxigraph) -> Oxigraph:
    """The session's Oxigraph, emptied (DROP ALL) before the test."""
    oxigraph.clear()
    return oxigraph


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Virtuoso]:
    """One Virtuoso 7 server for the session (fresh database, ResultSetMaxRows 10000).

    Fails, never skips, when virtuoso-t is missing: CI installs it.
    """
    store = _started(start_virtuoso, tmp_path_factory.mktemp("virtuoso"))
    try:
        yield store
    finally:
        store.stop()


def _started(start: Callable[[Path], S], directory: Path) -> S:
    try:
        return start(directory)
    except NotInstalledError as error:
        message = str(error)
    # Outside the except block, so the report is the message alone.
    pytest.fail(message, pytrace=False)


@pytest.fixture(autouse=True)
def _sigint_delivered() -> None:
    """Every test starts with Python's own Ctrl-C handler.

    A process that ignores SIGINT hands that on to every process it starts: a test run
    started as a background job of a shell without job control does, and so would any
    test after one that left it ignored. The Ctrl-C tests need SIGINT delivered.
    """
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
