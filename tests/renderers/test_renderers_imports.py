"""The import direction rule: renderers may use schemas, never engine."""

from __future__ import annotations

import ast
from pathlib import Path

import renderers

PACKAGE = Path(renderers.__file__).parent


def _imported_modules(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_renderers_never_import_engine() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert sources  # guard against checking an empty directory
    offenders = {
        f"{source.name}: {name}"
        for source in sources
        for name in _imported_modules(source)
        if name == "engine" or name.startswith("engine.")
    }
    assert not offenders


def test_public_names_are_exported() -> None:
    for name in renderers.__all__:
        assert getattr(renderers, name).__doc__, name
