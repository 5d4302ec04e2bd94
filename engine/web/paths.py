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

__all__ = [
    "NAME_MAX",
    "PATH_MAX",
    "TEMP_PREFIX",
    "DamagedFileError",
    "UnsafePathError",
    "UnusablePathError",
    "atomic_write",
    "inside",
    "relative",
    "resolve_inside",
]

#: The longest file name and path (bytes) Linux file systems take: longer ones
#: fail with ENAMETOOLONG, which is refused up front rather than met mid-request.
NAME_MAX = 255
PATH_MAX = 4096
#: How much of a file's name its temporaries keep (they add a dot, 8 letters, a suffix).
TEMP_PREFIX = 200


class UnsafePathError(ValueError):
    """A path that would leave the served folder (``..``, absolute, an escaping symlink)."""


class UnusablePathError(UnsafePathError):
    """A path no file can have (empty, a NUL byte, a name too long): a bad request."""


class DamagedFileError(Exception):
    """A file of the interface's own state (a run record, a draft) that cannot be read."""

    def __init__(self, root: Path, path: Path, error: Exception) -> None:
        try:
            shown = path.relative_to(root).as_posix()
        except ValueError:
            shown = str(path)
        super().__init__(
            f"{shown} is damaged and cannot be read ({type(error).__name__}: {error});"
            " delete it to go on"
        )


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, resolved, is ``root`` or below it (``root`` must be resolved)."""
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def resolve_inside(root: Path, relpath: str) -> Path:
    """The resolved path of ``relpath`` (relative to ``root``, ``/`` separated).

    Raises :class:`UnusablePathError` for an empty path, a NUL byte or a name
    too long, :class:`UnsafePathError` for an absolute or ``..`` path or one
    whose resolution (through symlinks) leaves ``root``.
    """
    if not relpath or "\x00" in relpath or "\\" in relpath:
        raise UnusablePathError(f"not a usable path: {relpath!r}")
    pure = PurePosixPath(relpath)
    if any(len(os.fsencode(part)) > NAME_MAX for part in pure.parts):
        raise UnusablePathError(
            f"not a usable path: a name in it is longer than {NAME_MAX} bytes ({relpath[:40]}…)"
        )
    if len(os.fsencode(str(root / pure))) >= PATH_MAX:
        raise UnusablePathError(
            f"not a usable path: longer than {PATH_MAX} bytes ({relpath[:40]}…)"
        )
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
    # The name is cut: a target near NAME_MAX must not get a temporary too long to exist.
    prefix = f".{target.name[:TEMP_PREFIX]}."
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".tmp")
    temp = Path(name)
    try:
        yield fd, temp
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def atomic_write(target: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write ``data`` to ``target`` all at once: a temporary file, fsync, ``os.replace``.

    ``exclusive``: only create ``target``, never replace it; FileExistsError
    when it exists, even when another writer created it an instant before
    (the temporary is hard-linked to the name, which fails atomically).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(target) as (fd, temp):
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
        if exclusive:
            os.link(temp, target)
        else:
            os.replace(temp, target)
