"""The specs of the served folder: listing, validation state, guarded saving."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import Problem, SpecError
from engine.loader import load_spec, read_document
from engine.web.paths import atomic_write, inside, relative

__all__ = [
    "ChangedOnDiskError",
    "SpecInfo",
    "digest",
    "list_specs",
    "save_spec_text",
    "spec_info",
    "validate_text",
]

#: Folders never listed: the web interface's own state and hidden folders.
_SKIPPED = {".specengine", ".git", ".venv", "node_modules", "__pycache__"}


class ChangedOnDiskError(Exception):
    """The file changed on disk since the page was opened: saving would lose that change."""


@dataclass
class SpecInfo:
    """One spec file as the browse page shows it."""

    path: str
    kind: str | None
    name: str | None
    valid: bool
    problems: list[Problem] = field(default_factory=list)
    sha256: str = ""
    text: str = ""


def digest(data: bytes) -> str:
    """The sha256 of a file's bytes (how a page knows the version it shows)."""
    return hashlib.sha256(data).hexdigest()


def list_specs(root: Path) -> list[str]:
    """Relative paths of the ``.yaml``/``.yml`` files below ``root`` (symlinks out skipped)."""
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIPPED or part.startswith(".") for part in rel.parts):
            continue
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if not inside(root, path):
            continue
        found.append(rel.as_posix())
    return found


def spec_info(root: Path, path: Path) -> SpecInfo:
    """Kind, name and validation state of one spec (``path`` resolved, inside ``root``)."""
    rel = relative(root, path)
    data = path.read_bytes()
    info = SpecInfo(rel, None, None, False, sha256=digest(data))
    info.text = data.decode("utf-8", errors="replace")
    try:
        doc = read_document(path)
        info.kind = str(doc.data.get("kind")) if doc.data.get("kind") is not None else None
        info.name = str(doc.data.get("name")) if doc.data.get("name") is not None else None
        load_spec(path)
    except SpecError as exc:
        info.problems = exc.problems
        return info
    info.valid = True
    return info


def validate_text(target: Path, text: str) -> Any:
    """Validate YAML text as if it were ``target`` (a temporary file in the same folder).

    Relative paths resolve as they will once saved. Returns the spec; raises SpecError.
    """
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return load_spec(Path(name))
    except SpecError as exc:
        shown = target.name
        problems = [Problem(shown, p.line, p.column, p.path, p.message) for p in exc.problems]
        raise SpecError(problems) from None
    finally:
        Path(name).unlink(missing_ok=True)


def save_spec_text(target: Path, text: str, expected_sha256: str | None) -> Any:
    """Validate, then atomically write ``text`` to ``target``; returns the validated spec.

    ``expected_sha256`` is the digest of the file the page was showing (``None``:
    the page created a new file). Raises :class:`ChangedOnDiskError` when the file
    on disk is not that one, and SpecError (nothing written) when the text is invalid.
    """
    current = digest(target.read_bytes()) if target.exists() else None
    if current != expected_sha256:
        if expected_sha256 is None:
            raise ChangedOnDiskError(f"{target.name} already exists; nothing was overwritten")
        raise ChangedOnDiskError(
            f"{target.name} changed on disk since this page was opened;"
            " nothing was overwritten (reload to see the new version)"
        )
    spec = validate_text(target, text)
    atomic_write(target, text.encode("utf-8"))
    return spec
