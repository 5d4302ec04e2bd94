"""Locks, commit journals and the cleanup after a killed run (for renderers.atomic).

The engine's own files beside an output ``NAME``:

* ``.NAME.specengine-lock``: the flock a run holds on ``NAME`` while it may
  write it; its content names the run (command, pid, host, start time).
* ``.NAME.PID.XXXXXXXX.tmp``: a new file being written by process ``PID``.
* ``.NAME.PID.XXXXXXXX.old``: the previous ``NAME``, kept during a commit.
* ``.NAME.PID.XXXXXXXX.commit``: the journal of a commit in progress.

:func:`settle` finishes the commits of runs that are gone and removes their
stale files; :func:`recover` does it without holding any lock (``engine plan``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = [
    "LOCK_SUFFIX",
    "InterruptedCommitError",
    "OutputBusyError",
    "OutputError",
    "describe_holder",
    "is_transient",
    "recover",
]

log = logging.getLogger(__name__)

#: The lock file beside an output NAME is ``.NAME`` + this.
LOCK_SUFFIX = ".specengine-lock"
#: The engine's transient files beside an output NAME (mkstemp's 8 characters as tag).
TRANSIENT = re.compile(
    r"\.(?P<name>.+)\.(?P<pid>[0-9]{1,10})\.(?P<tag>[a-z0-9_]{8})\.(?P<kind>tmp|old|commit)"
)
_LOCK = re.compile(r"\.(?P<name>.+)" + re.escape(LOCK_SUFFIX))
_TAG_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789_"
_JOURNAL_FORMAT = "specengine-commit/1"


def is_transient(name: str) -> bool:
    """Whether a file name is one of the engine's transient files (temporary, backup, journal, lock)."""
    return bool(TRANSIENT.fullmatch(name) or _LOCK.fullmatch(name))


# --------------------------------------------------------------------------- errors


class OutputError(Exception):
    """An output that cannot be claimed: ``target`` and a ``reason`` a user can act on."""

    def __init__(self, target: Path, reason: str) -> None:
        super().__init__(f"{target}: {reason}")
        self.target = target
        self.reason = reason


class OutputBusyError(OutputError):
    """Another live run holds the lock of an output: it is writing the same files."""

    def __init__(self, target: Path, holder: Mapping[str, Any]) -> None:
        self.holder = dict(holder)
        super().__init__(
            target,
            f"another run is writing this output ({describe_holder(self.holder)});"
            " wait for it to end (or stop it), then run again",
        )


class InterruptedCommitError(OutputError):
    """A commit a killed run left half done beside the outputs, which cannot be finished."""


def describe_holder(holder: Mapping[str, Any]) -> str:
    """The run named in a lock file: its command, pid, host and start time."""
    if not holder.get("pid"):
        return "its lock file does not say which run it is"
    parts = [f"pid {holder['pid']} on host {holder.get('host', '?')}"]
    if holder.get("started"):
        parts.append(f"started {holder['started']}")
    if holder.get("command"):
        parts.insert(0, f"`{holder['command']}`")
    return ", ".join(parts)


# --------------------------------------------------------------------------- helpers


def fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (no-op where directories can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories; the data is still safe
        pass
    finally:
        os.close(fd)


def output_key(path: Path) -> Path:
    """The output's identity: its name in the real folder (symlinked folders resolved)."""
    absolute = Path(os.path.abspath(path))
    return Path(os.path.realpath(absolute.parent)) / absolute.name


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (this process included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


def transient_path(target: Path, kind: str) -> Path:
    """A fresh transient name beside ``target`` (not created)."""
    tag = "".join(secrets.choice(_TAG_LETTERS) for _ in range(8))
    return target.parent / f".{target.name}.{os.getpid()}.{tag}.{kind}"


def unlink(path: Path) -> None:
    """Remove ``path`` if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def same_file(a: Path, b: Path) -> bool:
    """Whether two names are one file (False when either is missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def holder_info(owner: str | None) -> dict[str, Any]:
    """What a lock file and a journal say of this run (``owner``, else the command line)."""
    command = owner
    if command is None:
        program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
        # ``python -m engine`` runs engine/__main__.py: the package is the program's name.
        name = program.parent.name if program.name == "__main__.py" else program.name
        command = " ".join([name, *sys.argv[1:]])[:200]
    return {
        "engine": "specengine",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
    }


# --------------------------------------------------------------------------- signals


class HeldSignals:
    """SIGINT and SIGTERM held back while the renames run, delivered after.

    Only the main thread can set handlers; in other threads Python delivers no
    KeyboardInterrupt anyway.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.caught: list[int] = []
        self.saved: dict[int, Any] = {}

    def _hold(self, signum: int, frame: FrameType | None) -> None:
        self.caught.append(signum)

    def __enter__(self) -> HeldSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self._SIGNALS:
                if signal.getsignal(signum) is None:  # set outside Python: leave it be
                    continue
                with contextlib.suppress(ValueError, OSError):
                    self.saved[signum] = signal.signal(signum, self._hold)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)

    def deliver(self, note: str | None = None) -> None:
        """Act on the first signal held, as its own handler would have (``note`` on what it raises)."""
        if not self.caught:
            return
        signum = self.caught[0]
        handler = self.saved.get(signum)
        if callable(handler):
            try:
                handler(signum, None)
            except BaseException as exc:
                if note is not None:
                    exc.add_note(note)
                raise
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)


# --------------------------------------------------------------------------- locks

#: What flock() says on a file system without locks (some network and FUSE ones).
_NO_FILE_LOCKS = frozenset(
    {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}
)
#: The folders said to have no locks already (once per process is enough).
_WARNED_NO_LOCKS: set[Path] = set()


class Lock:
    """An flock on ``.NAME.specengine-lock`` beside an output; the file goes on release."""

    __slots__ = ("fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    @staticmethod
    def path_of(key: Path) -> Path:
        """The lock file of the output ``key``."""
        return key.parent / f".{key.name}{LOCK_SUFFIX}"

    @classmethod
    def take(cls, key: Path, info: bytes) -> Lock | None:
        """The lock of the output ``key``, or None when a live run holds it (never waits)."""
        path = cls.path_of(key)
        for _ in range(100):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            except OSError as exc:
                if exc.errno not in _NO_FILE_LOCKS:
                    os.close(fd)
                    raise
                # Better a run than none: the outputs are still written all or nothing.
                if key.parent not in _WARNED_NO_LOCKS:
                    _WARNED_NO_LOCKS.add(key.parent)
                    log.warning(
                        "%s: this file system has no file locks (%s): two runs writing"
                        " these outputs at once would not be noticed",
                        key.parent,
                        exc.strerror,
                    )
            except BaseException:
                os.close(fd)
                raise
            try:
                # Its previous holder may have removed the file between our open and
                # flock: a lock on a removed file guards nothing, so open it again.
                try:
                    on_disk = os.stat(path)
                except FileNotFoundError:
                    os.close(fd)
                    continue
                mine = os.fstat(fd)
                if (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino):
                    os.close(fd)
                    continue
                os.ftruncate(fd, 0)
                os.pwrite(fd, info, 0)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            return cls(path, fd)
        raise OSError(errno.EAGAIN, "the output's lock file keeps changing", str(path))

    @staticmethod
    def holder(key: Path) -> dict[str, Any]:
        """What the lock file of ``key`` says about its holder ({} when unreadable)."""
        for attempt in range(10):
            try:
                data = json.loads(Lock.path_of(key).read_bytes() or b"null")
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict):
                return data
            time.sleep(0.02 * (attempt + 1))  # its holder is still writing it
        return {}

    def release(self) -> None:
        """Remove the lock file (still ours: we hold its flock), then unlock."""
        try:
            unlink(self.path)
        finally:
            os.close(self.fd)


@contextlib.contextmanager
def holding(key: Path, held: Mapping[Path, Lock], info: bytes) -> Iterator[bool]:
    """True while ``key``'s lock is held (already, or taken here and released after)."""
    if key in held:
        yield True
        return
    lock = Lock.take(key, info)
    try:
        yield lock is not None
    finally:
        if lock is not None:
            lock.release()


# --------------------------------------------------------------------------- the journal


@dataclass(frozen=True)
class Entry:
    """One target of a commit: its new content (None: removed) and its previous file."""

    target: Path
    temp: Path | None
    backup: Path | None

    def as_json(self) -> dict[str, str | None]:
        """The entry as the journal stores it (temporary and backup by name: same folder)."""
        return {
            "target": str(self.target),
            "temp": None if self.temp is None else self.temp.name,
            "backup": None if self.backup is None else self.backup.name,
        }

    def state(self) -> str:
        """pending (to do), done, or lost (the new file is gone: only a rollback is left)."""
        if self.temp is None:
            return "pending" if os.path.lexists(self.target) else "done"
        if os.path.lexists(self.temp):
            return "pending"
        if not os.path.lexists(self.target):
            return "lost"
        if self.backup is not None and same_file(self.target, self.backup):
            return "lost"
        return "done"


def apply(entry: Entry) -> None:
    """Put the entry's new file in place (or remove its target)."""
    if entry.temp is None:
        unlink(entry.target)
        return
    os.replace(entry.temp, entry.target)
    if os.path.lexists(entry.temp):
        # rename() does nothing when both names are links to one file (an image
        # artefact placed again from the same cache entry): drop the extra name.
        unlink(entry.temp)


def undo(entries: Iterable[Entry]) -> None:
    """Put every previous file back and drop the new ones."""
    for entry in entries:
        if entry.backup is not None:
            if os.path.lexists(entry.backup):
                os.replace(entry.backup, entry.target)
                unlink(entry.backup)  # still there when it was the target's own link
        elif entry.temp is not None and not os.path.lexists(entry.temp):
            unlink(entry.target)  # new in this commit, and already renamed
        if entry.temp is not None:
            unlink(entry.temp)


def make_backup(target: Path) -> Path:
    """A second name (or, where links are impossible, a copy) of ``target`` beside it."""
    while True:
        backup = transient_path(target, "old")
        try:
            os.link(target, backup, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            shutil.copy2(target, backup, follow_symlinks=False)
        return backup


class Journal:
    """The record of a commit in progress, one copy in each folder it touches."""

    def __init__(self, entries: list[Entry], copies: list[Path], info: Mapping[str, Any]) -> None:
        self.entries = entries
        self.copies = copies
        self.info = dict(info)

    @classmethod
    def write(cls, entries: list[Entry], info: Mapping[str, Any]) -> Journal:
        """Write and sync the journal: from now on a kill is finished by the next run."""
        firsts: dict[Path, Path] = {}
        for entry in entries:
            firsts.setdefault(entry.target.parent, entry.target)
        copies = [transient_path(target, "commit") for target in firsts.values()]
        journal = cls(entries, copies, info)
        data = json.dumps(journal.as_json(), indent=1).encode("utf-8")
        written: list[Path] = []
        try:
            for copy in copies:
                temp = transient_path(firsts[copy.parent], "tmp")
                written.append(temp)
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                written.append(copy)
                os.replace(temp, copy)
            for directory in firsts:
                fsync_directory(directory)
        except BaseException:
            for path in written:  # no rename happened yet: a partial journal is no journal
                unlink(path)
            raise
        return journal

    def as_json(self) -> dict[str, Any]:
        """The journal's content."""
        return {
            "format": _JOURNAL_FORMAT,
            "pid": self.info.get("pid"),
            "host": self.info.get("host"),
            "started": self.info.get("started"),
            "command": self.info.get("command"),
            "journals": [str(copy) for copy in self.copies],
            "entries": [entry.as_json() for entry in self.entries],
        }

    @classmethod
    def read(cls, path: Path) -> Journal:
        """The journal at ``path``; ValueError when it is not one the engine wrote."""
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict) or data.get("format") != _JOURNAL_FORMAT:
            raise ValueError("not a specengine commit journal")
        entries: list[Entry] = []
        for item in data["entries"]:
            target = Path(item["target"])
            if not target.is_absolute():
                raise ValueError(f"a relative target: {target}")
            entries.append(
                Entry(
                    target,
                    cls._member(target, item.get("temp"), "tmp"),
                    cls._member(target, item.get("backup"), "old"),
                )
            )
        copies = [Path(copy) for copy in data["journals"]]
        for copy in copies:
            match = TRANSIENT.fullmatch(copy.name)
            if not copy.is_absolute() or match is None or match["kind"] != "commit":
                raise ValueError(f"not a journal's name: {copy}")
        if not entries or path not in copies:
            raise ValueError("an empty journal, or one that does not list itself")
        return cls(entries, copies, {k: v for k, v in data.items() if isinstance(v, str | int)})

    @staticmethod
    def _member(target: Path, name: Any, kind: str) -> Path | None:
        """A temporary or backup of ``target``: a transient name of it, in its folder."""
        if name is None:
            return None
        match = TRANSIENT.fullmatch(str(name))
        if match is None or match["name"] != target.name or match["kind"] != kind:
            raise ValueError(f"not a {kind} file of {target.name}: {name}")
        return target.parent / str(name)

    def files(self) -> set[Path]:
        """Every file of the engine this journal needs."""
        out = set(self.copies)
        for entry in self.entries:
            out.update(p for p in (entry.temp, entry.backup) if p is not None)
        return out

    def folders(self) -> set[Path]:
        """The folders the commit touches."""
        return {entry.target.parent for entry in self.entries} | {c.parent for c in self.copies}

    def finish(self) -> str:
        """Complete the commit, or roll it back when a new file is lost; say which."""
        states = [entry.state() for entry in self.entries]
        if "lost" in states:
            undo(self.entries)
            outcome = "rolled back to the previous outputs (a new file was missing)"
        else:
            for entry, state in zip(self.entries, states, strict=True):
                if state == "pending":
                    apply(entry)
            outcome = "completed"
        for directory in self.folders():
            fsync_directory(directory)
        self.discard()
        return outcome

    def discard(self) -> None:
        """Remove the journal's copies, then the backups it kept."""
        for copy in self.copies:
            unlink(copy)
        for directory in {copy.parent for copy in self.copies}:
            fsync_directory(directory)
        for entry in self.entries:
            if entry.backup is not None:
                unlink(entry.backup)


# --------------------------------------------------------------------------- settling


def settle(
    directory: Path,
    *,
    held: Mapping[Path, Lock],
    ours: Collection[Path],
    folders: Collection[Path],
    info: bytes,
) -> list[str]:
    """Finish interrupted commits and remove stale transient files in ``directory``.

    ``held``: the locks this transaction holds; ``ours``: its outputs;
    ``folders``: the folders of its outputs (a journal naming other folders is
    left alone). Returns the problems that concern ``ours`` (a commit that
    could not be finished); stale files that cannot be removed are logged.
    """
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    problems: list[str] = []
    keep: set[Path] = set()
    for name in names:
        match = TRANSIENT.fullmatch(name)
        if match is not None and match["kind"] == "commit":
            needed, problem = _settle_journal(directory / name, held, ours, folders, info)
            keep |= needed
            if problem:
                problems.append(problem)
    for name in names:
        path = directory / name
        match = TRANSIENT.fullmatch(name)
        lock = _LOCK.fullmatch(name)
        try:
            if match is not None and path not in keep and not alive(int(match["pid"])):
                with holding(directory / match["name"], held, info) as locked:
                    if locked and os.path.lexists(path):
                        unlink(path)
                        log.info("removed %s, left by a run that was stopped", path)
            elif (
                lock is not None and directory / lock["name"] not in held and _stale_lock_file(path)
            ):
                # Taking and releasing the lock removes the file a killed run left.
                with holding(directory / lock["name"], held, info):
                    pass
            elif _old_style_temporary(directory, name, held):
                unlink(path)
                log.info("removed %s, left by a run of an earlier engine version", path)
        except OSError as exc:
            log.warning("cannot remove %s, left by a run that was stopped: %s", path, exc)
    return problems


#: Temporaries of engine versions before the pid in the name: ``.NAME.XXXXXXXX.tmp``.
_OLD_STYLE = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")
#: Such a temporary is a stopped run's once this old (those versions held no lock).
_OLD_STYLE_SECONDS = 3600.0


def _old_style_temporary(directory: Path, name: str, held: Mapping[Path, Lock]) -> bool:
    """Whether ``name`` is a stale temporary of an earlier version, beside an output we hold."""
    match = _OLD_STYLE.fullmatch(name)
    if match is None or TRANSIENT.fullmatch(name) or directory / match["name"] not in held:
        return False
    try:
        return time.time() - (directory / name).stat().st_mtime > _OLD_STYLE_SECONDS
    except OSError:
        return False


#: A lock file that names no run is its taker's for this long at most (it writes at once).
_UNNAMED_LOCK_SECONDS = 10.0


def _stale_lock_file(path: Path) -> bool:
    """Whether the lock file was left by a run that is gone (its pid, or its age when empty)."""
    try:
        content = path.read_bytes()
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    pid = data.get("pid") if isinstance(data, dict) else None
    if isinstance(pid, int) and pid > 0:
        return not alive(pid)
    # Killed between creating the file and writing to it: nothing says whose it is.
    return age > _UNNAMED_LOCK_SECONDS


def _settle_journal(
    path: Path,
    held: Mapping[Path, Lock],
    ours: Collection[Path],
    folders: Collection[Path],
    info: bytes,
) -> tuple[set[Path], str]:
    """Finish the commit of the journal at ``path`` if its run is gone.

    Returns the files to keep (a live run's, or a journal left alone) and a
    problem when the journal concerns ``ours`` but cannot be finished.
    """
    try:
        journal = Journal.read(path)
    except FileNotFoundError:
        return set(), ""  # finished by another run meanwhile
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: not a commit journal the engine can read (%s); ignored", path, exc)
        return set(), ""
    needed = journal.files()
    concerns_us = any(entry.target in ours for entry in journal.entries)
    outside = sorted(str(f) for f in journal.folders() if f not in folders)
    run = describe_holder(journal.info)
    if outside:
        problem = (
            f"a commit interrupted in another run ({run}) also wrote in {', '.join(outside)};"
            f" run `engine plan` on the spec that wrote it, or remove {path}"
        )
        return needed, problem if concerns_us else ""
    taken: list[Lock] = []
    try:
        for target in dict.fromkeys(entry.target for entry in journal.entries):
            if target in held:
                continue
            lock = Lock.take(target, info)
            if lock is None:
                return needed, ""  # its run is alive (or another run is finishing it)
            taken.append(lock)
        if not os.path.exists(path):
            return set(), ""
        try:
            outcome = journal.finish()
        except OSError as exc:
            problem = f"cannot finish the commit interrupted in another run ({run}): {exc}"
            return needed, problem if concerns_us else ""
        targets = ", ".join(entry.target.name for entry in journal.entries)
        log.warning(
            "%s: the commit of a run that was stopped between its renames (%s) was %s: %s",
            path.parent,
            run,
            outcome,
            targets,
        )
        return set(), ""
    finally:
        for lock in taken:
            lock.release()


def recover(paths: Iterable[Path], *, owner: str | None = None) -> list[str]:
    """Finish the commits a killed run left beside these outputs; remove stale files.

    What ``engine plan`` does before anything else. It never waits and never
    creates a folder: outputs a live run holds are left to it. Returns the
    problems it could not solve (also logged as warnings).
    """
    info = json.dumps(holder_info(owner)).encode("utf-8")
    ours = {output_key(Path(p)) for p in paths}
    folders = {key.parent for key in ours if key.parent.is_dir()}
    problems: list[str] = []
    for directory in sorted(folders):
        problems += settle(directory, held={}, ours=ours, folders=folders, info=info)
    for problem in problems:
        log.warning("%s", problem)
    return problems
