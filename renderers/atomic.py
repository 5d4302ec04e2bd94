"""All-or-nothing output files: one writer at a time, nothing half done by a kill.

A run writes every output into a temporary file beside its target and renames
the temporaries onto the targets only once *all* of them are written and
synced, so a run that fails half-way leaves the previous outputs byte-identical.
Three more things make that hold when the process is killed (SIGKILL, power
loss) or two runs meet:

* **A lock per output.** A transaction holds an flock on
  ``.NAME.specengine-lock`` beside each output ``NAME`` from the start of the
  run (:meth:`OutputTransaction.claim`) to its end. A second run on the same
  outputs is refused at once with :class:`OutputBusyError`, which names the
  holder (command, pid, host, start time). An flock dies with its process: the
  file a killed run leaves is taken over, and removed when released.
* **A commit journal.** Before its first rename the commit links each previous
  output to a backup (``.NAME.PID.XXXXXXXX.old``) and writes a journal
  (``.NAME.PID.XXXXXXXX.commit``, written atomically and synced, a copy in each
  folder of the set) naming every target, temporary and backup. A kill between
  the renames leaves the journal: the next transaction on those outputs, or
  :func:`recover` (``engine plan``), completes the commit, or rolls it back to
  the backups when a new file is lost, so each output set is one run's.
  SIGINT and SIGTERM arriving during the renames take effect after them.
* **Cleanup.** The engine's own transient files are ``.NAME.PID.XXXXXXXX.tmp``
  (``.old``, ``.commit``); a transaction deletes those beside its outputs whose
  process is gone and whose output no live run holds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from renderers.recovery import (
    LOCK_SUFFIX,
    Entry,
    HeldSignals,
    InterruptedCommitError,
    Journal,
    Lock,
    OutputBusyError,
    OutputError,
    apply,
    fsync_directory,
    holder_info,
    is_transient,
    make_backup,
    output_key,
    recover,
    transient_path,
    undo,
    unlink,
)
from renderers.recovery import settle as settle_folder

__all__ = [
    "COMMITTED_NOTE",
    "LOCK_SUFFIX",
    "InterruptedCommitError",
    "OutputBusyError",
    "OutputError",
    "OutputTransaction",
    "is_transient",
    "recover",
]

# Outputs are data meant to be shared (loaded into triple stores, committed to git):
# give them the usual file mode instead of mkstemp's private 0600.
_OUTPUT_MODE = 0o644
#: The note on an interrupt re-raised once the commit it arrived in was done.
COMMITTED_NOTE = "the outputs were all written before the interrupt took effect"


# --------------------------------------------------------------------------- helpers


def _current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    # os.umask can only be read by setting it, which races with other threads that
    # create files; Linux exposes it read-only in /proc, so prefer that.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_folders(path: Path) -> None:
    """NotADirectoryError naming the file that stands where a folder of ``path`` must be.

    ``mkdir`` would only say "File exists" or "Not a directory", not which
    component of the path is to blame.
    """
    for parent in path.parents:
        if parent.is_dir():
            return
        if os.path.lexists(parent):
            what = "a file" if parent.is_file() else "a broken link" if parent.is_symlink() else ""
            raise NotADirectoryError(
                errno.ENOTDIR,
                f"{parent} is {what or 'in the way'}, not a folder: move or rename it",
                str(parent),
            )


# --------------------------------------------------------------------------- the transaction


class _PendingOutput:
    """One output being written: its final target, temporary file and open handle."""

    __slots__ = ("chmod", "handle", "mode", "target", "temp")

    def __init__(
        self, target: Path, temp: Path, handle: TextIO | None, chmod: bool, mode: int | None = None
    ) -> None:
        self.target = target
        self.temp = temp
        self.handle = handle
        self.chmod = chmod
        self.mode = mode


class OutputTransaction:
    """Write several output files so that they all appear, or none changes.

    Usage::

        with OutputTransaction() as tx:
            tx.claim([Path("out/links.nt"), Path("out/links.csv")])  # before the work
            write_ntriples(table, predicate, tx.open_text(Path("out/links.nt")))
            write_links_csv(table, tx.open_text(Path("out/links.csv")))
            tx.commit()

    Leaving the block through an exception, or without calling :meth:`commit`,
    rolls back: temporaries are deleted and existing targets are untouched. The
    outputs are locked from :meth:`claim` (or their first :meth:`open_text`)
    to the end of the transaction. ``owner`` names the run in its lock files
    (default: the command line).
    """

    def __init__(self, *, owner: str | None = None) -> None:
        self._pending: list[_PendingOutput] = []
        self._removals: list[Path] = []
        self._keys: set[Path] = set()
        self._locks: dict[Path, Lock] = {}
        self._created: list[Path] = []
        self._settled: set[Path] = set()
        self._finished = False
        self._info = holder_info(owner)
        self._info_bytes = json.dumps(self._info).encode("utf-8")

    def __enter__(self) -> OutputTransaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Covers both the failed run and the forgotten commit(): never publish
        # something nobody confirmed, and never leave temporaries behind.
        if not self._finished:
            self.rollback()

    # ------------------------------------------------------------------ claiming

    def claim(self, paths: Iterable[Path]) -> None:
        """Lock these outputs now, before the run's work; settle what killed runs left.

        Takes each output's lock (:class:`OutputBusyError` at once when a live
        run holds one), then, in the outputs' folders, finishes the commits a
        killed run left half done and removes stale transient files.
        Missing folders are created (and removed again on rollback). Raises
        :class:`InterruptedCommitError` when such a commit concerns these
        outputs and cannot be finished, ``OSError`` when a folder or lock file
        cannot be made.
        """
        if self._finished:
            raise ValueError("output transaction already committed or rolled back")
        for path in paths:
            self.lock(Path(path))
        self.settle()

    def lock(self, path: Path) -> None:
        """Take the lock of one output (see :meth:`claim`), without settling its folder."""
        if self._finished:
            raise ValueError("output transaction already committed or rolled back")
        _check_folders(path)
        target = Path(os.path.abspath(path))
        if target.is_dir():
            raise IsADirectoryError(f"output {str(path)!r} is a directory")
        # An interrupt waits until the folders and the lock are recorded: the
        # rollback then removes them (a lock file half made would stay behind).
        held = HeldSignals()
        with held:
            self._make_folders(target.parent)
            key = output_key(target)
            lock = self._locks.get(key) or Lock.take(key, self._info_bytes)
            if lock is not None:
                self._locks[key] = lock
        held.deliver()
        if lock is None:
            raise OutputBusyError(Path(path), Lock.holder(key))

    def settle(self) -> None:
        """Settle the folders of the locked outputs (see :meth:`claim`)."""
        folders = {key.parent for key in self._locks}
        problems: list[tuple[Path, str]] = []
        for directory in sorted(folders - self._settled):
            found = settle_folder(
                directory,
                held=self._locks,
                ours=self._locks.keys(),
                folders=folders,
                info=self._info_bytes,
            )
            problems += [(directory, problem) for problem in found]
            self._settled.add(directory)
        if problems:
            directory, problem = problems[0]
            raise InterruptedCommitError(directory, problem)

    def _make_folders(self, folder: Path) -> None:
        missing: list[Path] = []
        probe = folder
        while not os.path.lexists(probe) and probe != probe.parent:
            missing.append(probe)
            probe = probe.parent
        folder.mkdir(parents=True, exist_ok=True)
        self._created.extend(missing)

    def _claim_one(self, path: Path) -> Path:
        """Check, lock and settle one output for writing; its absolute target path."""
        if self._finished:
            raise ValueError("output transaction already committed or rolled back")
        target = Path(os.path.abspath(path))
        # Compare resolved paths so "out/../out/x.nt" and a symlinked directory
        # cannot sneak the same file in twice (the second rename would win silently).
        key = target.resolve()
        if key in self._keys:
            raise ValueError(f"output {str(path)!r} is written twice in the same run")
        if target.is_dir():
            raise IsADirectoryError(f"output {str(path)!r} is a directory")
        self.lock(path)
        self.settle()
        self._keys.add(key)
        # The name in the real folder: the journal and the locks know outputs by it.
        return output_key(target)

    # ------------------------------------------------------------------ writing

    def open_text(self, path: Path, newline: str = "", mode: int | None = None) -> TextIO:
        """Open a UTF-8 text handle whose content will become ``path`` on :meth:`commit`.

        The temporary file is created in ``path``'s directory (so the final rename
        stays on one file system and is atomic); missing parent directories are
        created. ``newline`` is passed to :func:`open`; the default ``""`` writes
        line endings untranslated, as the csv module requires. ``mode`` is the
        file's mode (default: 0644 minus the umask), e.g. that of a file it replaces.

        Raises ``ValueError`` if the same path is already part of this transaction
        or the transaction is finished, ``IsADirectoryError`` if ``path`` is a
        directory, :class:`OutputBusyError` if another run holds it.
        """
        target = self._claim_one(path)
        fd, temp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp"
        )
        try:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
        except BaseException:
            os.close(fd)
            os.unlink(temp_name)
            raise
        self._pending.append(_PendingOutput(target, Path(temp_name), handle, chmod=True, mode=mode))
        return handle

    def place(self, source: Path, path: Path) -> None:
        """Make ``path`` the file ``source`` on :meth:`commit` (a hard link, else a copy).

        For large artefacts kept elsewhere (an image cache entry): nothing is
        copied when both are on one file system. The file keeps its mode.
        """
        target = self._claim_one(path)
        while True:
            temp = transient_path(target, "tmp")
            try:
                os.link(source, temp)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
                os.close(fd)
                self._pending.append(_PendingOutput(target, temp, None, chmod=False))
                shutil.copy2(source, temp)
                return
            self._pending.append(_PendingOutput(target, temp, None, chmod=False))
            return

    def remove(self, path: Path) -> None:
        """Delete ``path`` on :meth:`commit`, with the other changes (a file no longer made)."""
        target = self._claim_one(path)
        self._removals.append(target)

    # ------------------------------------------------------------------ ending

    def commit(self) -> list[Path]:
        """Publish every output: sync all temporaries, then rename each onto its target.

        Nothing is renamed unless all temporaries were flushed and synced. The
        renames are journaled (see the module): a kill between them is finished
        by the next run, a failure rolls them back. Written files get mode 0644
        minus the umask. Returns the target paths in the order they were opened.
        SIGINT and SIGTERM arriving during the renames take effect after them
        (their exception carries :data:`COMMITTED_NOTE`).
        """
        if self._finished:
            raise ValueError("output transaction already committed or rolled back")
        mode = _OUTPUT_MODE & ~_current_umask()
        try:
            for out in self._pending:
                self._sync_and_close(out, mode)
        except BaseException:
            self.rollback()
            raise
        held = HeldSignals()
        with held:
            try:
                _publish(
                    [(out.target, out.temp) for out in self._pending]
                    + [(target, None) for target in self._removals if os.path.lexists(target)],
                    self._info,
                )
            except BaseException:
                self.rollback()
                raise
            self._finished = True
            self._release()
        held.deliver(COMMITTED_NOTE)
        return [out.target for out in self._pending]

    def rollback(self) -> None:
        """Close and delete every temporary file; targets are left untouched; unlock."""
        self._finished = True
        try:
            for out in self._pending:
                if out.handle is not None:
                    with contextlib.suppress(Exception):
                        out.handle.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(out.temp)
        finally:
            self._release()
            # Folders made for outputs that never came: gone again, if nothing else moved in.
            for folder in sorted(self._created, key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            self._created = []

    def _release(self) -> None:
        locks, self._locks = self._locks, {}
        for lock in locks.values():
            with contextlib.suppress(OSError):
                lock.release()

    @staticmethod
    def _sync_and_close(out: _PendingOutput, mode: int) -> None:
        """Set the final mode on the temporary and push its data to disk."""
        reopened = out.handle is None or out.handle.closed
        if reopened:
            # The writer closed its handle itself, which flushed the data to the OS
            # (or the file was placed): reopen only to fsync it.
            fd = os.open(out.temp, os.O_RDONLY)
        else:
            assert out.handle is not None
            out.handle.flush()
            fd = out.handle.fileno()
        try:
            if out.chmod:
                final = mode if out.mode is None else out.mode
                os.chmod(fd if os.chmod in os.supports_fd else out.temp, final)
            os.fsync(fd)
        finally:
            if reopened:
                os.close(fd)
            elif out.handle is not None:
                out.handle.close()


def _publish(changes: list[tuple[Path, Path | None]], info: Mapping[str, Any]) -> None:
    """Back up, journal, rename: the commit proper (``temp`` None removes the target).

    On failure every previous file is put back; if even that fails, the journal
    stays for the next run, and the error says so.
    """
    entries: list[Entry] = []
    journal: Journal | None = None
    try:
        for target, temp in changes:
            backup = make_backup(target) if os.path.lexists(target) else None
            entries.append(Entry(target, temp, backup))
        if not entries:
            return
        journal = Journal.write(entries, info)
        for entry in entries:
            apply(entry)
        for directory in dict.fromkeys(entry.target.parent for entry in entries):
            fsync_directory(directory)
    except BaseException as failure:
        try:
            undo(entries)
            if journal is not None:
                journal.discard()
            else:
                for entry in entries:
                    if entry.backup is not None:
                        unlink(entry.backup)
        except OSError as undo_failure:
            failure.add_note(
                f"the previous outputs could not be put back ({undo_failure}):"
                " the next run of the spec (or `engine plan`) finishes the commit"
            )
        raise
    journal.discard()
