"""OutputTransaction: all outputs appear together, or nothing changes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderers import OutputTransaction


@pytest.fixture
def umask_022() -> Iterator[None]:
    """Pin the umask so expected modes don't depend on the machine running the tests."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_commit_replaces_every_target(tmp_path: Path) -> None:
    old = tmp_path / "links.nt"
    old.write_bytes(b"old content\n")
    new = tmp_path / "sub" / "dir" / "links.csv"  # parent directories are created
    with OutputTransaction() as tx:
        tx.open_text(old).write("replaced\n")
        tx.open_text(new).write("Hélène\n")
        assert old.read_bytes() == b"old content\n"  # nothing visible before commit
        assert not new.exists()
        targets = tx.commit()
    assert targets == [old, new]
    assert old.read_bytes() == b"replaced\n"
    assert new.read_bytes() == "Hélène\n".encode()  # UTF-8 whatever the locale
    assert _listing(tmp_path) == ["links.nt", "sub"]
    assert _listing(new.parent) == ["links.csv"]


def test_exception_keeps_previous_outputs_and_leaves_no_temp(tmp_path: Path) -> None:
    existing = tmp_path / "links.ttl"
    previous = b"@prefix owl: <http://www.w3.org/2002/07/owl#> .\n\xc3\xa9\n"
    existing.write_bytes(previous)
    with pytest.raises(RuntimeError, match="boom"), OutputTransaction() as tx:
        tx.open_text(existing).write("half written")
        tx.open_text(tmp_path / "other.csv").write("a,b\n")
        assert len(_listing(tmp_path)) == 3  # the two temporaries exist meanwhile
        raise RuntimeError("boom")
    assert existing.read_bytes() == previous
    assert _listing(tmp_path) == ["links.ttl"]


def test_missing_commit_rolls_back(tmp_path: Path) -> None:
    with OutputTransaction() as tx:
        tx.open_text(tmp_path / "links.nt").write("never published\n")
    assert _listing(tmp_path) == []


def test_explicit_rollback(tmp_path: Path) -> None:
    target = tmp_path / "links.nt"
    target.write_text("keep\n")
    with OutputTransaction() as tx:
        handle = tx.open_text(target)
        handle.write("drop\n")
        tx.rollback()
        assert handle.closed
    assert target.read_text() == "keep\n"
    assert _listing(tmp_path) == ["links.nt"]


def test_temp_file_is_next_to_target(tmp_path: Path) -> None:
    with OutputTransaction() as tx:
        tx.open_text(tmp_path / "links.nt")
        (temp,) = _listing(tmp_path)
        assert temp.startswith(".links.nt.")
        assert temp.endswith(".tmp")


@pytest.mark.parametrize("second", ["links.nt", "sub/../links.nt", "alias/links.nt"])
def test_same_path_twice_is_rejected(tmp_path: Path, second: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    with OutputTransaction() as tx:
        tx.open_text(tmp_path / "links.nt")
        with pytest.raises(ValueError, match="twice"):
            tx.open_text(tmp_path / second)
    assert _listing(tmp_path) == ["alias", "sub"]


def test_directory_target_is_rejected_before_writing(tmp_path: Path) -> None:
    with OutputTransaction() as tx, pytest.raises(IsADirectoryError):
        tx.open_text(tmp_path)


@pytest.mark.parametrize("below", ["links.nt", "sub/links.nt"])
def test_a_file_in_the_way_of_the_folder_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, below: str
) -> None:
    # The run reports the error's strerror: it must say which path blocks the folder.
    monkeypatch.chdir(tmp_path)
    Path("out").write_text("a file where a folder should be")
    with OutputTransaction() as tx, pytest.raises(NotADirectoryError) as caught:
        tx.open_text(Path("out") / below)
    assert caught.value.strerror == "out is a file, not a folder: move or rename it"
    assert caught.value.filename == "out"
    assert Path("out").read_text() == "a file where a folder should be"
    assert _listing(tmp_path) == ["out"]


@pytest.mark.usefixtures("umask_022")
def test_committed_files_are_not_private(tmp_path: Path) -> None:
    target = tmp_path / "links.nt"
    with OutputTransaction() as tx:
        tx.open_text(target).write("x\n")
        tx.commit()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_mode_respects_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        with OutputTransaction() as tx:
            tx.open_text(tmp_path / "links.nt")
            tx.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "links.nt").stat().st_mode) == 0o640


def test_failure_while_syncing_renames_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.nt", tmp_path / "b.nt"
    first.write_text("old a\n")
    second.write_text("old b\n")
    real_fsync = os.fsync
    calls: list[int] = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:  # the second output's data cannot be made durable
            raise OSError("disk full")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with OutputTransaction() as tx:
        tx.open_text(first).write("new a\n")
        tx.open_text(second).write("new b\n")
        with pytest.raises(OSError, match="disk full"):
            tx.commit()
    assert first.read_text() == "old a\n"  # the first output was complete, yet not published
    assert second.read_text() == "old b\n"
    assert _listing(tmp_path) == ["a.nt", "b.nt"]


def test_handle_closed_by_writer_is_still_committed(tmp_path: Path) -> None:
    target = tmp_path / "links.nt"
    with OutputTransaction() as tx:
        handle = tx.open_text(target)
        handle.write("closed early\n")
        handle.close()
        tx.commit()
    assert target.read_text() == "closed early\n"


def test_transaction_cannot_be_reused(tmp_path: Path) -> None:
    with OutputTransaction() as tx:
        tx.commit()
        with pytest.raises(ValueError, match="already"):
            tx.open_text(tmp_path / "late.nt")
        with pytest.raises(ValueError, match="already"):
            tx.commit()
    assert _listing(tmp_path) == []
