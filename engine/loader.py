"""Spec files: YAML with source positions -> the validated pydantic model of their kind.

Every problem is reported at once, each with ``file:line:column``, the field
path and what was expected, so a user fixes a spec in one round. Reading the
file and placing problems is :mod:`engine.spec_reader`'s, below the kinds;
this module looks the document's ``kind:`` up in the registry
(:mod:`engine.kinds`), which is why no kind imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import kinds
from engine.errors import Problem, SpecError
from engine.spec_reader import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    Document,
    load_yaml,
    read_document,
    shown,
    spec_error,
    validate,
)
from schemas.base import closest

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Document",
    "load_spec",
    "load_yaml",
    "read_document",
    "spec_error",
]


def load_spec(
    path: Path,
    *,
    check_files: bool = True,
    allow_aliases: bool = True,
    expand_env: bool = True,
) -> Any:
    """Load and validate a spec file; relative paths in it resolve against its folder.

    ``allow_aliases`` and ``expand_env``: as for :func:`read_document`.
    Raises :class:`SpecError` listing every problem found.
    """
    doc = read_document(path, allow_aliases=allow_aliases, expand_env=expand_env)
    name = doc.data.get("kind")
    kind = kinds.find(name)
    if kind is None:
        line, column = doc.position(("kind",)) if "kind" in doc.data else (1, 1)
        known = kinds.names()
        valid = ", ".join(known)
        if name is None:
            message = f"missing 'kind' (one of: {valid})"
        elif not isinstance(name, str):
            written = "a list" if isinstance(name, list) else f"{type(name).__name__} {name!r}"
            if isinstance(name, dict):
                written = "a mapping"
            message = f"'kind' must be one word, one of: {valid} (got {written})"
        else:
            message = f"unknown kind '{name}'{closest(str(name), known)} (valid: {valid})"
        raise SpecError([Problem(doc.file, line, column, "kind", shown(message))])
    return validate(doc, path, name, kind.model, kind.cross_checks, check_files=check_files)
