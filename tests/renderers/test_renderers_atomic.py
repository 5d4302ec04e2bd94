"""OutputTransaction: all outputs appear together, or nothing changes."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from renderers import OutputBusyError, OutputTransaction, is_transient
from renderers.atomic import COMMITTED_NOTE, LOCK_SUFFIX


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
        # The two temporaries exist meanwhile, and the two outputs' locks.
        assert len(_listing(tmp_path)) == 5
        assert sum(name.endswith(LOCK_SUFFIX) for name in _listing(tmp_path)) == 2
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
        (temp,) = (name for name in _listing(tmp_path) if not name.endswith(LOCK_SUFFIX))
        # The pid in the name says whose it is: the next run removes it once that process is gone.
        assert temp.startswith(f".links.nt.{os.getpid()}.")
        assert temp.endswith(".tmp")
        assert is_transient(temp)


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


# --------------------------------------------------------------------------- kills, locks


def _dead_pid() -> int:
    """The pid of a process that has ended (reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_failure_between_renames_puts_every_previous_output_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second rename fails after the first output was replaced: both must be old again.
    first, second = tmp_path / "a.nt", tmp_path / "b.nt"
    first.write_text("old a\n")
    second.write_text("old b\n")
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if Path(dst) == second and str(src).endswith(".tmp"):  # only the new b's rename
            raise OSError(errno.EIO, "input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with OutputTransaction() as tx:
        tx.open_text(first).write("new a\n")
        tx.open_text(second).write("new b\n")
        with pytest.raises(OSError, match="input/output error"):
            tx.commit()
    assert first.read_text() == "old a\n"
    assert second.read_text() == "old b\n"
    assert _listing(tmp_path) == ["a.nt", "b.nt"]


def test_a_new_output_is_removed_again_when_the_commit_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.nt", tmp_path / "b.nt"  # neither existed before
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if Path(dst) == second:
            raise OSError(errno.EIO, "input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with OutputTransaction() as tx:
        tx.open_text(first).write("new a\n")
        tx.open_text(second).write("new b\n")
        with pytest.raises(OSError):
            tx.commit()
    assert _listing(tmp_path) == []


def test_an_interrupt_during_the_renames_takes_effect_after_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C between two renames must not leave one output new and the other old.
    first, second = tmp_path / "a.nt", tmp_path / "b.nt"
    first.write_text("old a\n")
    second.write_text("old b\n")
    real_replace = os.replace

    def interrupted_replace(src: Any, dst: Any) -> None:
        real_replace(src, dst)
        if Path(dst) == first:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    with OutputTransaction() as tx:
        tx.open_text(first).write("new a\n")
        tx.open_text(second).write("new b\n")
        with pytest.raises(KeyboardInterrupt) as caught:
            tx.commit()
    assert COMMITTED_NOTE in getattr(caught.value, "__notes__", [])
    assert first.read_text() == "new a\n"
    assert second.read_text() == "new b\n"
    assert _listing(tmp_path) == ["a.nt", "b.nt"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_transaction_on_an_output_is_refused_naming_the_first(tmp_path: Path) -> None:
    target = tmp_path / "links.nt"
    with OutputTransaction(owner="engine run first.yaml") as first:
        first.claim([target, tmp_path / "links.csv"])
        assert LOCK_SUFFIX in "".join(_listing(tmp_path))
        second = OutputTransaction()
        with pytest.raises(OutputBusyError) as caught, second:
            second.claim([tmp_path / "other.csv", target])
        message = str(caught.value)
        assert message.startswith(f"{target}: another run is writing this output")
        assert (
            f"`engine run first.yaml`, pid {os.getpid()} on host {socket.gethostname()}" in message
        )
        assert "started 2" in message
        assert caught.value.holder["pid"] == os.getpid()
        # The refused transaction let go of the output it had taken (other.csv).
        with OutputTransaction() as third:
            third.claim([tmp_path / "other.csv"])
        first.open_text(target).write("first\n")
        first.commit()
    assert target.read_text() == "first\n"
    assert _listing(tmp_path) == ["links.nt"]  # no lock file left
    with OutputTransaction() as again:  # free once the first ended
        again.claim([target])


def test_the_lock_file_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    target = tmp_path / "links.nt"
    lock = tmp_path / f".links.nt{LOCK_SUFFIX}"
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": "h", "command": "engine run x"}))
    with OutputTransaction() as tx:
        tx.open_text(target).write("new\n")
        tx.commit()
    assert _listing(tmp_path) == ["links.nt"]


def test_stale_files_of_a_stopped_run_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    with subprocess.Popen(["sleep", "30"]) as alive:
        try:
            stale = [
                f".links.nt.{dead}.abcd_123.tmp",
                f".links.nt.{dead}.zz99zz99.old",
                f".other.csv.{dead}.qwertyui.tmp",  # another output's, in the same folder
                f".gone.nt{LOCK_SUFFIX}",  # a killed run's lock file
            ]
            kept = [
                f".links.nt.{alive.pid}.abcdefgh.tmp",  # a live process's
                ".links.nt.tmp",  # not the engine's naming
                "notes.tmp",
                f".links.nt.{dead}.tmp",
                f".links.nt.{dead}.abcdefghi.tmp",
                "links.csv",
            ]
            for name in stale + kept:
                (tmp_path / name).write_text("x")
            (tmp_path / f".gone.nt{LOCK_SUFFIX}").write_text(json.dumps({"pid": dead}))
            with OutputTransaction() as tx:
                tx.open_text(tmp_path / "links.nt").write("new\n")
                tx.commit()
            assert _listing(tmp_path) == sorted([*kept, "links.nt"])
        finally:
            alive.kill()


def test_stale_files_of_an_output_a_live_run_holds_are_kept(tmp_path: Path) -> None:
    stale = tmp_path / f".other.csv.{_dead_pid()}.abcdefgh.tmp"
    with OutputTransaction() as holder:
        holder.claim([tmp_path / "other.csv"])
        stale.write_text("x")
        with OutputTransaction() as tx:
            tx.claim([tmp_path / "links.nt"])
        assert stale.exists()  # other.csv is locked: its files are its holder's business
    with OutputTransaction() as tx:
        tx.claim([tmp_path / "links.nt"])
    assert not stale.exists()


def test_folders_made_for_a_run_that_failed_are_removed(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with OutputTransaction() as tx:
        tx.claim([tmp_path / "out" / "a" / "b" / "links.nt"])
        tx.open_text(tmp_path / "out" / "a" / "b" / "links.nt").write("never\n")
        assert (tmp_path / "out" / "a" / "b").is_dir()
    assert _listing(tmp_path) == ["out"]
    assert _listing(tmp_path / "out") == []


def test_place_and_remove_are_part_of_the_commit(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "disk.qcow2").write_bytes(b"disk")
    out = tmp_path / "out"
    out.mkdir()
    (out / "kernel").write_bytes(b"old kernel")
    (out / "disk.qcow2").write_bytes(b"old disk")
    with OutputTransaction() as tx:
        tx.place(cache / "disk.qcow2", out / "disk.qcow2")
        tx.remove(out / "kernel")
        assert (out / "kernel").read_bytes() == b"old kernel"
        tx.commit()
    assert _listing(out) == ["disk.qcow2"]
    assert os.path.samefile(out / "disk.qcow2", cache / "disk.qcow2")  # a link, not a copy
    # Placed again from the same file: rename() does nothing then; no name may stay behind.
    with OutputTransaction() as tx:
        tx.place(cache / "disk.qcow2", out / "disk.qcow2")
        tx.commit()
    assert _listing(out) == ["disk.qcow2"]
    assert _listing(cache) == ["disk.qcow2"]


def test_an_interrupt_while_taking_a_lock_leaves_no_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_flock = fcntl.flock

    def interrupted_flock(fd: int, operation: int) -> None:
        real_flock(fd, operation)
        signal.raise_signal(signal.SIGINT)  # the lock is taken, not yet recorded

    monkeypatch.setattr(fcntl, "flock", interrupted_flock)
    with pytest.raises(KeyboardInterrupt), OutputTransaction() as tx:
        tx.claim([tmp_path / "out" / "links.nt"])
    assert _listing(tmp_path) == []


def test_an_empty_lock_file_is_removed_once_it_is_old(tmp_path: Path) -> None:
    # Killed between making the file and writing its run into it: nothing names the run.
    old, fresh = tmp_path / f".gone.nt{LOCK_SUFFIX}", tmp_path / f".new.nt{LOCK_SUFFIX}"
    old.write_text("")
    fresh.write_text("")  # perhaps a run that is writing it right now
    os.utime(old, (time.time() - 60, time.time() - 60))
    with OutputTransaction() as tx:
        tx.claim([tmp_path / "links.nt"])
    assert _listing(tmp_path) == [fresh.name]


def test_old_temporaries_of_earlier_versions_beside_the_outputs_are_removed(tmp_path: Path) -> None:
    # Earlier versions named them .NAME.XXXXXXXX.tmp (no pid) and held no lock.
    hour_ago = time.time() - 3700
    old = [".links.nt.1bpj9888.tmp", ".links.nt.tfcnrbu2.tmp"]
    kept = [
        ".links.csv.abcdefgh.tmp",  # not an output of this run: perhaps a live old version's
        ".links.nt.abcdefg.tmp",  # not the naming
    ]
    for name in [*old, *kept]:
        (tmp_path / name).write_text("x")
        os.utime(tmp_path / name, (hour_ago, hour_ago))
    (tmp_path / ".links.nt.zzzzzzzz.tmp").write_text("x")  # recent: perhaps being written
    with OutputTransaction() as tx:
        tx.claim([tmp_path / "links.nt"])
    assert _listing(tmp_path) == sorted([*kept, ".links.nt.zzzzzzzz.tmp"])


def test_a_file_system_without_locks_still_gets_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with OutputTransaction() as tx:
        tx.open_text(tmp_path / "links.nt").write("new\n")
        tx.commit()
    assert _listing(tmp_path) == ["links.nt"]
    assert "this file system has no file locks (No locks available)" in caplog.text


def test_open_text_with_a_mode_gives_the_file_that_mode(tmp_path: Path) -> None:
    target = tmp_path / "private.yaml"
    with OutputTransaction() as tx:
        tx.open_text(target, mode=0o600).write("x\n")
        tx.commit()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
