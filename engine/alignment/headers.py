"""The columns a spec names, checked against its sources' columns before any work.

A misspelt column (``target: lable``) used to surface as a data error when the
records were prepared, after the sources had been read, without the spec's line.
Here every column the spec names (record ids, attributes, blocking rules on
columns) is checked against the columns each source has, and every problem is a
spec error at the line that names the column, with the closest column name.

:func:`check_sources` reads only what is cheap: a delimited file's header, inline
rows, the variables a SPARQL query projects, an RQL source's ``columns``. A
source whose columns it cannot tell without reading it (``SELECT *``, an
unreadable file) is left to :func:`check_columns` once it is read, and to the
read itself, which reports unreadable data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.spec_reader import spec_error
from schemas.alignment import (
    AlignmentSpec,
    CsvSource,
    InlineSource,
    RdfSource,
    RqlSource,
    SparqlSource,
    TsvSource,
    leaf_rules,
)
from schemas.base import closest

__all__ = [
    "check_columns",
    "check_sources",
    "delimiter_hint",
    "display_path",
    "projected_variables",
    "source_columns",
    "source_name",
]

Where = tuple[Any, ...]
Problems = list[tuple[Where, str]]

#: Delimiters a file read with another one may really use.
_DELIMITERS = (";", "\t", "|", ",")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_sources(spec: Any, spec_file: Path | str) -> None:
    """Check every column the spec names against its sources' headers.

    Reads only the sources' headers (see the module's description). Raises
    :class:`~engine.errors.SpecError` listing every problem at its line in
    ``spec_file``; does nothing for specs of other kinds.
    """
    if not isinstance(spec, AlignmentSpec):
        return
    names = {role: source_columns(_source(spec, role)) for role in ("align", "target")}
    check_columns(spec, spec_file, names)


def check_columns(
    spec: AlignmentSpec, spec_file: Path | str, names: Mapping[str, Sequence[str] | None]
) -> None:
    """Check the columns the spec names against ``names`` (per role; None: unknown).

    For a deduplication (``target: same``) the target side is the align side.
    Raises :class:`~engine.errors.SpecError` at the spec's lines.
    """
    if spec.dedup:
        names = {**names, "target": names.get("align")}
    problems: Problems = []
    for role in ("align", "target"):
        columns = names.get(role)
        if columns is not None:
            problems.extend(_side_problems(spec, spec_file, role, list(columns)))
    if problems:
        raise spec_error(spec_file, problems)


# --------------------------------------------------------------------------- columns of a source


def source_columns(source: Any) -> list[str] | None:
    """The column names a source will have, when cheap to tell; else None."""
    if isinstance(source, CsvSource | TsvSource):
        return _delimited_columns(source)
    if isinstance(source, InlineSource):
        if source.columns is not None:
            return list(source.columns)
        if any(isinstance(row, list) for row in source.inline):
            return None  # the read says that such rows need `columns:`
        return list(
            dict.fromkeys(key for row in source.inline if isinstance(row, dict) for key in row)
        )
    if isinstance(source, RqlSource):
        return list(source.columns)
    if isinstance(source, RdfSource):
        return projected_variables(source.query)
    if isinstance(source, SparqlSource):
        try:
            return projected_variables(source.query_text())
        except OSError:
            return None
    return None


def _delimited_columns(source: CsvSource | TsvSource) -> list[str] | None:
    path = source.csv if isinstance(source, CsvSource) else source.tsv
    dialect: dict[str, Any] = (
        {"delimiter": source.delimiter, "quoting": csv.QUOTE_NONE}
        if source.quotechar is None
        else {"delimiter": source.delimiter, "quotechar": source.quotechar}
    )
    try:
        with open(path, encoding=source.encoding, newline="") as handle:
            first = next((row for row in csv.reader(handle, **dialect) if row), None)
    except (OSError, UnicodeDecodeError, csv.Error, LookupError):
        return None  # the read says what is wrong with the file
    if first is None:
        return None  # an empty file: the read says so
    if first:
        first[0] = first[0].removeprefix("\ufeff")
    if source.columns is not None:
        if source.header and len(source.columns) != len(first):
            return None  # the read reports the mismatch
        return list(source.columns)
    if source.header:
        return first
    return [str(i) for i in range(len(first))]


def projected_variables(query: str) -> list[str] | None:
    """The variables a SPARQL SELECT projects, in order; None for ``SELECT *`` or unknown."""
    # IRIs and strings may hold '#', braces or the word SELECT: blank them first.
    text = re.sub(r"<[^<>\"{}|^`\\\s]*>", "<>", query)
    text = re.sub(
        r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"",
        '""',
        text,
        flags=re.S,
    )
    text = re.sub(r"#[^\n]*", " ", text)
    match = re.search(
        r"\bSELECT\s+(?:(?:DISTINCT|REDUCED)\s+)?(.*?)(?=\bWHERE\b|\{|\bFROM\b)",
        text,
        re.IGNORECASE | re.DOTALL,
    )
    if match is None:
        return None
    projection = match.group(1).strip()
    if not projection or projection.startswith("*"):
        return None
    out: list[str] = []
    depth, group = 0, ""
    for token in re.findall(r"\(|\)|[?$]\w+|\bAS\b|[^\s()?$]+", projection, re.IGNORECASE):
        if token == "(":
            depth += 1
            group += " ("
        elif token == ")":
            depth -= 1
            group += " )"
            if depth == 0:
                alias = re.findall(r"\bAS\s+[?$](\w+)", group, re.IGNORECASE)
                if not alias:
                    return None
                out.append(alias[-1])
                group = ""
        elif depth:
            group += " " + token
        elif token[0] in "?$":
            out.append(token[1:])
    return out or None


# --------------------------------------------------------------------------- the checks


def _source(spec: AlignmentSpec, role: str) -> Any:
    source = getattr(spec.sources, role)
    return spec.sources.align if source == "same" else source


def display_path(path: Path) -> str:
    """A path as the user knows it: relative to the working directory when below it."""
    if not path.is_absolute():
        return str(path)
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)


def source_name(source: Any, role: str, spec_file: Path | str | None = None) -> str:
    """How messages name a source: ``align source data/a.csv``, ``target source SPARQL ...``."""
    if isinstance(source, InlineSource):
        where = f", {display_path(Path(spec_file))}" if spec_file else ""
        return f"{role} source (inline{where})"
    if isinstance(source, RdfSource):
        return f"{role} source {', '.join(display_path(p) for p in source.rdf)}"
    if isinstance(source, SparqlSource):
        return f"{role} source SPARQL endpoint {source.endpoint}"
    if isinstance(source, RqlSource):
        return f"{role} source CubicWeb RQL {source.endpoint}"
    path = source.csv if isinstance(source, CsvSource) else source.tsv
    return f"{role} source {display_path(path)}"


def _side_problems(
    spec: AlignmentSpec, spec_file: Path | str, role: str, names: list[str]
) -> Problems:
    """Every column one side lacks, each at the spec node that names it."""
    wanted: list[tuple[str | int, Where]] = []
    source = _source(spec, role)
    source_path: Where = ("sources", "align" if spec.dedup else role)
    id_spec = source.id
    if isinstance(id_spec, dict):
        for ref in _PLACEHOLDER.findall(id_spec["template"]):
            # Placeholders are text: {2} may mean the third column when it is not a name.
            if ref.isascii() and ref.isdigit() and ref not in names:
                wanted.append((int(ref), (*source_path, "id", "template")))
            else:
                wanted.append((ref, (*source_path, "id", "template")))
    else:
        wanted.append((id_spec, (*source_path, "id")))
    for column in getattr(source, "split", None) or {}:
        wanted.append((column, (*source_path, "split", column)))
    for index, attribute in enumerate(spec.attributes):
        wanted.extend(_attribute_refs(attribute, index, role))
    for rule in leaf_rules(spec.blocking):
        options = rule.options
        if getattr(options, "attribute", None) is not None or not hasattr(options, "align"):
            continue
        key = "target" if role == "target" and options.target is not None else "align"
        refs = getattr(options, key)
        for ref in refs if isinstance(refs, list) else [refs]:
            wanted.append((ref, ("blocking", (key, ref))))

    missing = [(ref, where) for ref, where in wanted if not _has(names, ref)]
    if not missing:
        return []
    hint = delimiter_hint(names, [ref for ref, _ in missing], _delimiter(source))
    shown = source_name(source, source_path[1], spec_file)
    if hint:  # one problem, at the source: every column is missing for the same reason
        key = "delimiter" if "delimiter" in source.model_fields_set else _source_key(source)
        return [((*source_path, key), f"{shown}: {hint}")]
    problems: Problems = []
    listed = ", ".join(names)
    for ref, where in dict.fromkeys(missing):
        if isinstance(ref, int):
            message = f"{shown} has no column {ref} (it has {len(names)}: 0..{len(names) - 1})"
        else:
            message = f"{shown} has no column '{ref}'{closest(ref, names)} (columns: {listed})"
        problems.append((where, message))
    return problems


def _attribute_refs(attribute: Any, index: int, role: str) -> list[tuple[str | int, Where]]:
    """The columns an attribute reads on one side, each with the spec node naming it."""
    if role == "target" and attribute.target is not None:
        key, value = "target", attribute.target
    elif attribute.align is not None:
        key, value = "align", attribute.align
    else:  # the attribute's name is its column
        return [(attribute.name, ("attributes", index, "name"))]
    if isinstance(value, list):
        return [(ref, ("attributes", index, key, j)) for j, ref in enumerate(value)]
    return [(value, ("attributes", index, key))]


def _has(names: list[str], ref: str | int) -> bool:
    if isinstance(ref, int):
        return 0 <= ref < len(names)
    return ref in names


def _delimiter(source: Any) -> str | None:
    return getattr(source, "delimiter", None)


def _source_key(source: Any) -> str:
    for key in ("csv", "tsv", "inline", "rdf", "sparql", "rql"):
        if hasattr(source, key):
            return key
    return ""


def delimiter_hint(names: Sequence[str], wanted: Sequence[str | int], delimiter: str | None) -> str:
    """How to fix a delimited file read with the wrong delimiter, or '' when that is not it.

    It is when the header's names hold another delimiter and splitting on it
    gives every wanted column (``id;name;lat`` read with commas).
    """
    if delimiter is None:
        return ""
    refs = [ref for ref in wanted if isinstance(ref, str)]
    if not refs:
        return ""
    for other in _DELIMITERS:
        if other == delimiter or not any(other in name for name in names):
            continue
        split = [part.strip() for name in names for part in name.split(other)]
        if all(ref in split for ref in refs):
            written = "\\t" if other == "\t" else other
            return (
                f"its header {delimiter.join(names)!r} is separated by {written!r}, not"
                f' {delimiter!r}: set delimiter: "{written}" in the source'
            )
    return ""
