"""All-or-nothing output files.

A run writes every output into a temporary file next to its target and only
renames the temporaries onto the targets once *all* of them were written. A run
that fails half-way therefore leaves the previous outputs byte-identical and no
truncated file that a triple store could load by mistake.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TextIO

__all__ = ["OutputTransaction"]

# Outputs are data meant to be shared (loaded into triple stores, committed to git):
# give them the usual file mode instead of mkstemp's private 0600.
_OUTPUT_MODE = 0o644


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


def _fsync_directory(directory: Path) -> None:
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


class _PendingOutput:
    """One output being written: its final target, temporary file and open handle."""

    __slots__ = ("handle", "target", "temp")

    def __init__(self, target: Path, temp: Path, handle: TextIO) -> None:
        self.target = target
        self.temp = temp
        self.handle = handle


class OutputTransaction:
    """Write several output files so that they all appear, or none changes.

    Usage::

        with OutputTransaction() as tx:
            write_ntriples(table, predicate, tx.open_text(Path("out/links.nt")))
            write_links_csv(table, tx.open_text(Path("out/links.csv")))
            tx.commit()

    Leaving the block through an exception, or without calling :meth:`commit`,
    rolls back: temporaries are deleted and existing targets are untouched.
    The final renames are each atomic, but a failure *during* the rename phase of
    several files (rare: same directory, data already on disk) can leave some
    targets replaced and others not.
    """

    def __init__(self) -> None:
        self._pending: list[_PendingOutput] = []
        self._keys: set[Path] = set()
        self._finished = False

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

    def open_text(self, path: Path, newline: str = "") -> TextIO:
        """Open a UTF-8 text handle whose content will become ``path`` on :meth:`commit`.

        The temporary file is created in ``path``'s directory (so the final rename
        stays on one file system and is atomic); missing parent directories are
        created. ``newline`` is passed to :func:`open`; the default ``""`` writes
        line endings untranslated, as the csv module requires.

        Raises ``ValueError`` if the same path is already part of this transaction
        or the transaction is finished, ``IsADirectoryError`` if ``path`` is a directory.
        """
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
        _check_folders(Path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
        except BaseException:
            os.close(fd)
            os.unlink(temp_name)
            raise
        self._pending.append(_PendingOutput(target, Path(temp_name), handle))
        self._keys.add(key)
        return handle

    def commit(self) -> list[Path]:
        """Publish every output: sync all temporaries, then rename each onto its target.

        Nothing is renamed unless all temporaries were flushed and synced. Files get
        mode 0644 minus the umask. Returns the target paths in the order they were
        opened. On failure the remaining temporaries are deleted and the error re-raised.
        """
        if self._finished:
            raise ValueError("output transaction already committed or rolled back")
        mode = _OUTPUT_MODE & ~_current_umask()
        published = 0
        try:
            for out in self._pending:
                self._sync_and_close(out, mode)
            # Only now, with every file complete on disk, touch the targets.
            for out in self._pending:
                os.replace(out.temp, out.target)
                published += 1
            for directory in dict.fromkeys(out.target.parent for out in self._pending):
                _fsync_directory(directory)
        except BaseException:
            # Renamed temporaries are targets now: rollback must not delete them.
            targets = self._pending
            self._pending = targets[published:]
            self.rollback()
            self._pending = targets
            raise
        self._finished = True
        return [out.target for out in self._pending]

    def rollback(self) -> None:
        """Close and delete every temporary file; targets are left untouched."""
        self._finished = True
        for out in self._pending:
            with contextlib.suppress(Exception):
                out.handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out.temp)

    @staticmethod
    def _sync_and_close(out: _PendingOutput, mode: int) -> None:
        """Set the final mode on the temporary and push its data to disk."""
        reopened = out.handle.closed
        if reopened:
            # The writer closed its handle itself, which flushed the data to the OS;
            # reopen only to fsync it.
            fd = os.open(out.temp, os.O_RDONLY)
        else:
            out.handle.flush()
            fd = out.handle.fileno()
        try:
            os.chmod(fd if os.chmod in os.supports_fd else out.temp, mode)
            os.fsync(fd)
        finally:
            if reopened:
                os.close(fd)
            else:
                out.handle.close()
