"""``!include``: a spec takes a block from another YAML file of its folder tree.

``attributes: !include common/people.yaml#/attributes`` stands for the value
at ``/attributes`` of ``common/people.yaml`` (a JSON pointer: keys and list
positions, ``~1`` for ``/`` and ``~0`` for ``~``); without ``#...`` it stands
for the whole file. The file name is relative to the folder of the file that
holds the ``!include``, and must stay inside the folder tree of the spec
(symbolic links resolved): a spec served by ``engine serve`` reads nothing
outside the served folder. Each included file is read with the loader's
bounds (:data:`~engine.loader.MAX_BYTES`, depth, values), a spec includes at
most :data:`MAX_INCLUDES` files, an include that comes back to a file being
included is refused, and a problem inside an included file is reported at
that file's own line and column. The loader (:mod:`engine.loader`) reads the
files; this module says which file and which part of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_INCLUDES", "TAG", "IncludeError", "Includes", "select"]

#: The YAML tag of an include.
TAG = "!include"
#: The most files one spec may include (each include counts, also of the same file).
MAX_INCLUDES = 32


class IncludeError(Exception):
    """An include the loader refuses, with the message to show at its line."""


@dataclass
class Includes:
    """Where includes may read (``root``: the spec's folder tree) and what is being read."""

    root: Path
    #: The files being included, outermost first (an include of one of them loops).
    chain: list[Path] = field(default_factory=list)
    count: int = 0

    def target(self, text: str, folder: Path) -> tuple[Path, tuple[str, ...]]:
        """The file and the JSON pointer an include names, relative to ``folder``.

        Raises :class:`IncludeError` for a file outside the spec's folder tree, a
        loop, or one include too many.
        """
        name, _, pointer = text.strip().partition("#")
        if not name:
            raise IncludeError(f"{TAG} names a file: {TAG} other.yaml#/attributes")
        if pointer and not pointer.startswith("/"):
            raise IncludeError("after '#' comes a path from the file's top, e.g. #/attributes")
        given = Path(name)
        if given.is_absolute():
            raise IncludeError(f"{TAG} takes a path relative to the spec's folder, not {name}")
        try:
            path = (folder / given).resolve()
        except (OSError, RuntimeError) as exc:
            raise IncludeError(f"cannot resolve {name}: {exc}") from None
        if not path.is_relative_to(self.root):
            raise IncludeError(
                f"{name} is outside the spec's folder ({self.root}): an include reads only"
                " files of the spec's folder tree"
            )
        if path in self.chain:
            loop = " -> ".join(p.name for p in [*self.chain[self.chain.index(path) :], path])
            raise IncludeError(f"an include loop: {loop}")
        if self.count >= MAX_INCLUDES:
            raise IncludeError(f"more than {MAX_INCLUDES} includes in one spec")
        self.count += 1
        parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:])
        return path, parts


def select(node: yaml.Node, pointer: tuple[str, ...]) -> yaml.Node | None:
    """The node at ``pointer`` below ``node`` (keys of mappings, positions in lists), or None."""
    for part in pointer:
        if isinstance(node, yaml.MappingNode):
            found: Any = next(
                (value for key, value in node.value if getattr(key, "value", None) == part), None
            )
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            found = node.value[int(part)]
        else:
            found = None
        if found is None:
            return None
        node = found
    return node
