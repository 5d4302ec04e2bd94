"""A reviewer's decisions appended to a curation SSSOM file (``curation:``), atomically.

An accepted pair is a must-link row (``semapv:ManualMappingCuration``, no
``predicate_modifier``), a rejected one a cannot-link (``predicate_modifier:
Not``), each with ``author_id`` and ``mapping_date``: what
:mod:`engine.alignment.curation` reads back. The file is rewritten whole (a
temporary file beside it, fsync, rename) under an exclusive lock on its folder,
read again under that lock: two writers (two browser tabs, two servers) never
lose each other's rows. Its metadata block is kept as it is; a new file gets
one with a ``curie_map`` declaring the prefixes the rows use.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.alignment.curation import CURATED, CURATED_IRI, _expand, _header

__all__ = [
    "COLUMNS",
    "Decision",
    "DecisionConflictError",
    "append_decision",
    "decided_pairs",
    "locked",
    "name_curation",
]

#: The columns of a new curation file (an existing file's columns are kept, the missing added).
COLUMNS = (
    "subject_id",
    "predicate_id",
    "object_id",
    "mapping_justification",
    "predicate_modifier",
    "author_id",
    "mapping_date",
    "comment",
)


class DecisionConflictError(ValueError):
    """The pair was already decided the other way (in another tab, or by hand)."""


@dataclass(frozen=True)
class Decision:
    """One reviewed pair: accepted (a must-link) or rejected (a cannot-link)."""

    align_id: str
    target_id: str
    accept: bool
    author: str
    date: str
    comment: str = ""


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (flock on the directory: no lock file left behind)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _new_file(set_id: str) -> str:
    return (
        "#curie_map:\n"
        "#  owl: http://www.w3.org/2002/07/owl#\n"
        "#  semapv: https://w3id.org/semapv/vocab/\n"
        '#sssom_version: "1.1"\n'
        f"#mapping_set_id: {set_id}\n"
        "#mapping_set_description: Links a person confirmed or rejected (engine serve's"
        " review page)\n"
        "#license: https://w3id.org/sssom/license/unspecified\n" + "\t".join(COLUMNS) + "\n"
    )


def _parse(text: str, shown: str) -> tuple[list[str], int, dict[str, str]]:
    lines = text.splitlines()
    prefixes, start = _header(lines, shown)
    return lines, start, prefixes


def decided_pairs(path: Path) -> dict[tuple[str, str], bool]:
    """The pairs a curation file decides: (subject IRI, object IRI) -> accepted.

    Rows that are neither a must-link nor a cannot-link are not decisions. A
    missing file decides nothing.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    lines, start, prefixes = _parse(text, str(path))
    if start >= len(lines):
        return {}
    header = lines[start].split("\t")
    where = {name: k for k, name in enumerate(header)}
    out: dict[tuple[str, str], bool] = {}
    for line in lines[start + 1 :]:
        cells = line.split("\t")
        if not line.strip() or len(cells) != len(header):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            return cells[where[name]].strip() if name in where else ""

        negated = cell("predicate_modifier") == "Not"
        curated = _expand(cell("mapping_justification"), prefixes) == CURATED_IRI
        if negated or curated:
            key = (_expand(cell("subject_id"), prefixes), _expand(cell("object_id"), prefixes))
            out[key] = not negated
    return out


def _atomic_write(target: Path, text: str) -> None:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:200]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, 0o644)
        os.replace(name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def _clean(value: str) -> str:
    """A cell value: no tab or line break can enter the TSV."""
    return " ".join(value.split())


def append_decision(path: Path, decision: Decision, *, set_id: str, symmetric: bool) -> bool:
    """Append ``decision`` to the curation file ``path`` (created when absent).

    Returns False when the file already held the same decision (nothing
    written); raises :class:`DecisionConflictError` when it held the opposite
    one. ``symmetric``: a deduplication, where (a, b) and (b, a) are one pair.
    ``set_id``: the ``mapping_set_id`` of a new file.
    """
    with locked(path.parent):
        known = decided_pairs(path)
        keys = [(decision.align_id, decision.target_id)]
        if symmetric:
            keys.append((decision.target_id, decision.align_id))
        for key in keys:
            if key in known:
                if known[key] == decision.accept:
                    return False
                raise DecisionConflictError(
                    f"{decision.align_id} -> {decision.target_id} is already"
                    f" {'accepted' if known[key] else 'rejected'} in {path.name}"
                )
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            text = _new_file(set_id)
        lines, start, _ = _parse(text, str(path))
        if start >= len(lines):
            lines.append("\t".join(COLUMNS))
        header = lines[start].split("\t")
        missing = [c for c in COLUMNS if c not in header]
        if missing:  # older rows get empty cells in the new columns
            lines[start] = "\t".join(header + missing)
            lines[start + 1 :] = [
                line + "\t" * len(missing) if line.strip() else line for line in lines[start + 1 :]
            ]
            header += missing
        values = {
            "subject_id": decision.align_id,
            "predicate_id": "owl:sameAs",
            "object_id": decision.target_id,
            "mapping_justification": CURATED,
            "predicate_modifier": "" if decision.accept else "Not",
            "author_id": decision.author,
            "mapping_date": decision.date,
            "comment": decision.comment,
        }
        lines.append("\t".join(_clean(values.get(name, "")) for name in header))
        _atomic_write(path, "\n".join(lines) + "\n")
        return True


def name_curation(spec_file: Path, target: Path) -> bool:
    """Add ``curation: NAME`` (``target`` beside or below the spec) to a spec without one.

    One line is appended to the text: every other byte (comments, layout)
    stays. False, nothing written, when the spec already has ``curation:``
    or cannot be read as a YAML mapping (ruamel.yaml, which keeps tags such
    as ``!include``): then the user is asked to add it.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    try:
        name = target.relative_to(spec_file.parent).as_posix()
    except ValueError:
        return False
    # Under the folder's lock: two first decisions at once add one line, not two.
    with locked(spec_file.parent):
        try:
            text = spec_file.read_text(encoding="utf-8")
            data = YAML(typ="rt").load(text)
        except Exception:  # any YAML ruamel reads otherwise than the loader: ask the user
            return False
        if not isinstance(data, CommentedMap) or "curation" in data:
            return False
        shown = name if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./-]*", name) else json.dumps(name)
        ending = "" if not text or text.endswith("\n") else "\n"
        _atomic_write(spec_file, f"{text}{ending}curation: {shown}\n")
        return True
