"""Paths of the served folder: every path the web interface touches is checked here.

A path from a request is relative to the served folder; it is resolved (symlinks
followed) and refused unless the result stays inside the folder. Files are
written atomically: a temporary file beside the target, then ``os.replace``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

__all__ = ["UnsafePathError", "atomic_write", "inside", "relative", "resolve_inside"]


class UnsafePathError(ValueError):
    """A path that would leave the served folder (``..``, absolute, an escaping symlink)."""


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, resolved, is ``root`` or below it (``root`` must be resolved)."""
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def resolve_inside(root: Path, relpath: str) -> Path:
    """The resolved path of ``relpath`` (relative to ``root``, ``/`` separated).

    Raises :class:`UnsafePathError` for an empty, absolute or ``..`` path, a NUL
    byte, or one whose resolution (through symlinks) leaves ``root``.
    """
    if not relpath or "\x00" in relpath or "\\" in relpath:
        raise UnsafePathError(f"not a usable path: {relpath!r}")
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or any(part == ".." for part in pure.parts):
        raise UnsafePathError(f"path outside the served folder: {relpath}")
    candidate = (root / pure).resolve()
    try:
        candidate.relative_to(root)
    except ValueError:
        raise UnsafePathError(f"path outside the served folder: {relpath}") from None
    return candidate


def relative(root: Path, path: Path) -> str:
    """``path`` (inside ``root``) as the ``/``-separated relative path used in URLs."""
    return path.resolve().relative_to(root).as_posix()


@contextlib.contextmanager
def _temporary_beside(target: Path) -> Iterator[tuple[int, Path]]:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(name)
    try:
        yield fd, temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` all at once: a temporary file, fsync, ``os.replace``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as (fd, temp):
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
