"""The specs of the served folder: listing, validation state, guarded saving.

The web interface reads every spec as text from an untrusted sender (see
:func:`load`): without YAML aliases and without environment variables.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from engine.errors import EngineError, Problem, SpecError
from engine.loader import Document, load_spec, read_document
from engine.web.limits import VALIDATION_TIMEOUT_S, Budget, BudgetExceededError
from engine.web.paths import (
    TEMP_PREFIX,
    UnsafePathError,
    atomic_write,
    inside,
    relative,
    resolve_inside,
)

__all__ = [
    "SPEC_SUFFIXES",
    "ChangedOnDiskError",
    "SpecInfo",
    "digest",
    "list_specs",
    "load",
    "read",
    "resolve_spec",
    "save_spec_text",
    "spec_info",
    "validate_text",
]

#: Folders never listed: the web interface's own state and hidden folders.
_SKIPPED = {".specengine", ".git", ".venv", "node_modules", "__pycache__"}
#: What a spec file is called; the only files the web interface writes as specs.
SPEC_SUFFIXES = (".yaml", ".yml")


log = logging.getLogger(__name__)

T = TypeVar("T")


def _guarded(path: Path, error: BaseException) -> SpecError:
    """A SpecError for what the loader lets escape on hostile text (a 500 otherwise).

    Anything but a recursion or a path the file system refuses is a bug of the
    engine: it is logged with its traceback, and the file is shown as invalid
    with the error, so that one file cannot take down the pages of the folder.
    """
    if isinstance(error, RecursionError):
        message = "the YAML is nested too deeply"
    elif isinstance(error, OSError):
        message = f"a path of this spec cannot be checked: {error.strerror or error}"
    else:
        log.error("internal error while reading %s", path, exc_info=error)
        message = f"internal error while reading this spec: {type(error).__name__}: {error}"
    return SpecError([Problem(path.name, 1, 1, "", message)])


#: The budget of the callers that do not give theirs (an application has its own).
_BUDGET = Budget(VALIDATION_TIMEOUT_S)


def _budgeted(kind: str, path: Path, budget: Budget | None, function: Callable[[], T]) -> T:
    """``function()`` (reading ``path``) within the budget; a SpecError when it overruns.

    The work is keyed by the file and its content: pages asking for the same
    file while its validation runs share it, and one that overran is not
    started again until it ends (at most ``budget.running`` run at once).
    """
    try:
        data = path.read_bytes()
    except OSError:
        data = b""  # the loader says why it cannot read it
    key = f"{kind}\0{path}\0{digest(data)}"
    chosen = _BUDGET if budget is None else budget
    try:
        return chosen.run(key, function)
    except BudgetExceededError as exc:
        message = (
            f"validation timed out: {exc}; the spec is shown as invalid until its"
            " validation ends (is it nested too deeply?)"
        )
        raise SpecError([Problem(path.name, 1, 1, "", message)]) from None


def read(path: Path, budget: Budget | None = None) -> Document:
    """``read_document`` as the web reads a spec: no aliases, no ``${VAR}`` (see :func:`load`)."""
    return _budgeted("read", path, budget, lambda: _read(path))


def _read(path: Path) -> Document:
    try:
        return read_document(path, allow_aliases=False, expand_env=False)
    except EngineError:
        raise
    except Exception as exc:
        raise _guarded(path, exc) from None


def load(path: Path, budget: Budget | None = None) -> Any:
    """``load_spec`` as the web interface loads every spec (typed, uploaded or on disk).

    YAML aliases are refused: a few hundred bytes of nested aliases expand to
    millions of values. The environment is never read: ``${VAR}`` is reported
    as not expanded here, since a variable's value could come back in an error
    message (``kind: ${AWS_SECRET_ACCESS_KEY}`` -> "unknown kind '...'"), and a
    spec that needs one is run with ``engine run``. YAML nested too deeply, a
    path the file system refuses (ENAMETOOLONG) and any other exception of the
    loader (a bug, logged) are SpecErrors too, and so is a validation that does
    not end within ``budget`` (see :class:`~engine.web.limits.Budget`).
    """
    return _budgeted("load", path, budget, lambda: _load(path))


def _load(path: Path) -> Any:
    try:
        return load_spec(path, allow_aliases=False, expand_env=False)
    except EngineError:
        raise
    except Exception as exc:
        raise _guarded(path, exc) from None


def resolve_spec(root: Path, relpath: str) -> Path:
    """The spec file ``relpath`` names: inside ``root``, ``.yaml``/``.yml``, nothing hidden.

    The checks hold for the requested path and for the resolved one (a symlink
    to ``.specengine/`` or to a CSV file is no spec). Raises UnsafePathError,
    or FileNotFoundError when there is no such file.
    """
    path = resolve_inside(root, relpath)
    for name in (relpath, relative(root, path)):
        if any(part.startswith(".") for part in PurePosixPath(name).parts):
            raise UnsafePathError(f"not a spec of the folder (a hidden path): {relpath}")
    if path.suffix not in SPEC_SUFFIXES:
        raise UnsafePathError(f"not a spec file (.yaml or .yml): {relpath}")
    try:
        found = path.is_file()
    except OSError as exc:  # ENAMETOOLONG past the checks of resolve_inside, ELOOP...
        raise FileNotFoundError(f"no such spec: {relpath} ({exc.strerror})") from None
    if not found:
        raise FileNotFoundError(f"no such spec: {relpath}")
    return path


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


def spec_info(root: Path, path: Path, budget: Budget | None = None) -> SpecInfo:
    """Kind, name and validation state of one spec (``path`` resolved, inside ``root``).

    Never raises for the file's content: whatever is wrong with it (or with
    the loader reading it, or a validation over ``budget``) is the problem shown.
    """
    rel = relative(root, path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        problem = Problem(path.name, 1, 1, "", f"cannot read: {exc.strerror or exc}")
        return SpecInfo(rel, None, None, False, problems=[problem])
    info = SpecInfo(rel, None, None, False, sha256=digest(data))
    info.text = data.decode("utf-8", errors="replace")
    try:
        doc = read(path, budget)
        if isinstance(doc.data, dict):
            info.kind = _shown(doc.data.get("kind"))
            info.name = _shown(doc.data.get("name"))
        load(path, budget)
    except SpecError as exc:
        info.problems = exc.problems
        return info
    info.valid = True
    return info


def _shown(value: Any) -> str | None:
    """A value of the spec as the listing shows it (None: absent)."""
    if value is None:
        return None
    try:
        return str(value)
    except ValueError:  # an integer of more digits than str() converts
        return f"(a value of {type(value).__name__})"


def validate_text(target: Path, text: str, budget: Budget | None = None) -> Any:
    """Validate YAML text as if it were ``target`` (a temporary file in the same folder).

    Relative paths resolve as they will once saved. Returns the spec; raises SpecError.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.stem[:TEMP_PREFIX]}."  # cut: a long name must not make it too long
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return load(Path(name), budget)
    except SpecError as exc:
        shown = target.name
        problems = [Problem(shown, p.line, p.column, p.path, p.message) for p in exc.problems]
        raise SpecError(problems) from None
    finally:
        Path(name).unlink(missing_ok=True)


def save_spec_text(
    target: Path, text: str, expected_sha256: str | None, budget: Budget | None = None
) -> Any:
    """Validate, then atomically write ``text`` to ``target``; returns the validated spec.

    ``expected_sha256`` is the digest of the file the page was showing (``None``:
    the page created a new file). Raises :class:`ChangedOnDiskError` when the file
    on disk is not that one, and SpecError (nothing written) when the text is invalid.
    """
    _unchanged(target, expected_sha256)
    spec = validate_text(target, text, budget)
    # Checked again just before the write: validating takes a while, and a change
    # made meanwhile would be lost. A new file is created only if still absent.
    _unchanged(target, expected_sha256)
    try:
        atomic_write(target, text.encode("utf-8"), exclusive=expected_sha256 is None)
    except FileExistsError:
        raise ChangedOnDiskError(f"{target.name} already exists; nothing was overwritten") from None
    return spec


def _unchanged(target: Path, expected_sha256: str | None) -> None:
    """ChangedOnDiskError unless ``target`` is the version of ``expected_sha256`` (None: absent)."""
    current = digest(target.read_bytes()) if target.exists() else None
    if current == expected_sha256:
        return
    if expected_sha256 is None:
        raise ChangedOnDiskError(f"{target.name} already exists; nothing was overwritten")
    raise ChangedOnDiskError(
        f"{target.name} changed on disk since this page was opened;"
        " nothing was overwritten (reload to see the new version)"
    )
