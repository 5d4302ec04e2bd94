"""Where a field path stands in a spec's data: pydantic error locations and check paths.

The loader turns a path into the line and column of its node; these functions
find which path of the data a location or a check names.
"""

from __future__ import annotations

from typing import Any

__all__ = ["locate", "mapping_path", "walk"]

Path_ = tuple[Any, ...]


def locate(data: Any, path: Path_) -> Path_:
    """Resolve ``(key, value)`` parts of a path: the first node below with that key and value."""
    out: list[Any] = []
    node = data
    for part in path:
        if isinstance(part, tuple):
            found = _search(node, *part)
            return (*out, *found) if found is not None else tuple(out)
        if isinstance(node, dict | list):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return tuple(out)
        out.append(part)
    return tuple(out)


def _search(node: Any, key: str, value: Any) -> Path_ | None:
    if isinstance(node, dict):
        held = node.get(key)
        if held == value or (isinstance(held, list) and value in held):
            return (key,)
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return None
    for part, child in items:
        found = _search(child, key, value)
        if found is not None:
            return (part, *found)
    return None


def mapping_path(data: Any, path: Path_) -> Path_:
    """The longest prefix of ``path`` that names a mapping (where a key is missing)."""
    node_path = path
    while node_path:
        node = data
        for part in node_path:
            node = node[part]
        if isinstance(node, dict):
            return node_path
        node_path = node_path[:-1]
    return node_path


def walk(data: Any, loc: tuple[Any, ...]) -> Path_:
    """The part of a pydantic error location that exists in the document.

    Union tags and model wrappers add location parts that are not keys of the
    YAML (and a tag may also be a key, as in ``{csv: file}``): the walk that
    matches the most parts wins, descending on ties.
    """

    loc = tuple(loc)
    # Memoised on (node, position in loc): each part is either skipped or matched, and
    # without the memo nested groups (union in union...) took 2^len(loc) steps.
    memo: dict[tuple[int, int], tuple[int, bool, Path_]] = {}

    def best(node: Any, at: int) -> tuple[int, bool, Path_]:
        # Score: parts matched, then whether the last part (the field itself) matched.
        if at == len(loc):
            return 0, True, ()
        known = memo.get((id(node), at))
        if known is not None:
            return known
        part = loc[at]
        skip = best(node, at + 1)
        if at + 1 == len(loc):
            skip = (skip[0], False, skip[2])
        result = skip
        key = _key_in(node, part)
        if key is not _ABSENT:
            matched, last, path = best(node[key], at + 1)
            if (matched + 1, last) >= skip[:2]:
                result = (matched + 1, last, (key, *path))
        memo[(id(node), at)] = result
        return result

    return best(data, 0)[2]


_ABSENT = object()


def _key_in(node: Any, part: Any) -> Any:
    """The key or index of ``node`` that a location part names, else ``_ABSENT``."""
    if isinstance(node, list):
        return part if isinstance(part, int) and 0 <= part < len(node) else _ABSENT
    if not isinstance(node, dict):
        return _ABSENT
    if isinstance(part, str | int) and part in node:
        return part
    # pydantic writes a key that is not text as text: 1.5 is '1.5' in a location.
    return next((key for key in node if not isinstance(key, str) and str(key) == part), _ABSENT)
