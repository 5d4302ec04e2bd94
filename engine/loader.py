"""Spec files: YAML with source positions -> validated pydantic model.

Every problem is reported at once, each with ``file:line:column``, the field
path and what was expected, so a user fixes a spec in one round.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.errors import Problem, SpecError
from schemas.alignment import AlignmentSpec, cross_checks
from schemas.base import closest, field_names
from schemas.spec import KINDS, spec_adapter

__all__ = ["Document", "load_spec", "load_yaml", "read_document", "spec_error"]

Path_ = tuple[Any, ...]


@dataclass
class Document:
    """A parsed YAML document and where each of its nodes stands in the file."""

    file: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        """1-based line and column of a value (or of its key), else of its nearest parent."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return (1, 1)


class _Builder(yaml.constructor.SafeConstructor):
    """Turns composed YAML nodes into plain data, recording every node's position."""

    def __init__(self, doc: Document, *, expand_env: bool = True, as_written: bool = False) -> None:
        super().__init__()
        self.doc = doc
        self.expand_env = expand_env
        # Positions only: values keep their ${VAR} text and the environment is not read.
        self.as_written = as_written
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        mark = node.start_mark
        self.doc.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool):
                    self._problem(key_node, path, "a mapping key must be a plain scalar")
                    continue
                key_path = (*path, key)
                if key in out:
                    self._problem(key_node, key_path, f"duplicate key '{key}'")
                self.doc.keys[key_path] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                out[key] = self.build(value_node, key_path)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if _is_inline_cell(path) and node.tag != "tag:yaml.org,2002:null":
            # Data values stay as written: YAML 1.1 would turn 0700 into 448, 12:30
            # into 750 and yes into true. Quoted or not, a cell is its text.
            return str(node.value)
        value = self.construct_object(node, deep=True)
        if isinstance(value, str) and "${" in value and not self.as_written:
            value = self._expand(node, path, value)
        return value

    def _expand(self, node: yaml.Node, path: Path_, text: str) -> str:
        """``${VAR}`` and ``${VAR:-default}`` from the environment (``$${`` is a literal ``${``)."""

        def one(match: re.Match[str]) -> str:
            if match.group(0).startswith("$$"):
                return match.group(0)[1:]
            name, default = match.group(1), match.group(2)
            if not self.expand_env:
                # Not even the default is used: the value would differ from what
                # the command line reads, and the environment is never looked at.
                self._problem(
                    node,
                    path,
                    f"environment variable {name} is not expanded here: ${{{name}}}"
                    " is only expanded by the engine commands (engine validate, plan, run)",
                )
                return match.group(0)
            value = os.environ.get(name)
            if value is None or (value == "" and default is not None):
                if default is not None:
                    return default
                self._problem(
                    node,
                    path,
                    f"environment variable {name} is not set (write ${{{name}:-default}}"
                    " to give a default)",
                )
                return ""
            return value

        return _ENV.sub(one, text)

    def _problem(self, node: yaml.Node, path: Path_, message: str) -> None:
        mark = node.start_mark
        self.problems.append(
            Problem(self.doc.file, mark.line + 1, mark.column + 1, _dotted(path), message)
        )


#: ``${NAME}`` or ``${NAME:-default}``; ``$${`` escapes a literal ``${``.
_ENV = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _is_inline_cell(path: Path_) -> bool:
    """True for a value inside a source's ``inline:`` rows (sources.ROLE.inline.ROW[.COL])."""
    return len(path) >= 4 and path[0] == "sources" and path[2] == "inline"


_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the booleans of YAML 1.2's core schema.

    YAML 1.1 also reads ``yes``, ``no``, ``on`` and ``off`` (any case) as booleans,
    so ``languages: [no, fr]`` (Norwegian) became ``[false, 'fr']``. Only ``true``
    and ``false`` are booleans here; the other words stay strings, which the
    spec's boolean fields still accept.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """Plain data from YAML text, read as a spec is (YAML 1.2 booleans, no aliases).

    For values typed in a form; raises :class:`yaml.YAMLError` on bad YAML or an alias.
    """
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass
    except _AliasRefusedError as exc:
        raise yaml.YAMLError(f"line {exc.line}, column {exc.column}: {exc}") from None


class _AliasRefusedError(Exception):
    """An alias (``*name``) met while aliases are refused, at a 1-based line and column."""

    def __init__(self, anchor: str, line: int, column: int) -> None:
        super().__init__(f"YAML aliases (*{anchor}) are not accepted here: write the value out")
        self.line, self.column = line, column


class _NoAliasLoader(_Loader):
    """The spec loader, stopping at the first alias.

    Aliases are shared nodes: a few hundred bytes of nested aliases expand to
    millions of values (a "billion laughs"), so text from an untrusted sender
    is read without them.
    """

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: yaml.AliasEvent = self.peek_event()  # type: ignore[no-untyped-call]
            mark = event.start_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            raise _AliasRefusedError(event.anchor or "", line, column)
        return super().compose_node(parent, index)


def read_document(path: Path, *, allow_aliases: bool = True, expand_env: bool = True) -> Document:
    """Parse a YAML spec file, keeping positions; SpecError on unreadable or malformed YAML.

    ``allow_aliases=False`` refuses YAML aliases (``*name``, ``<<: *name``) at
    their line, for text from an untrusted sender (nested aliases expand
    exponentially). ``expand_env=False`` never reads the environment: each
    ``${VAR}`` is a problem at its line instead of the variable's value (which
    could end up quoted in an error message).
    """
    name = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([Problem(name, 1, 1, "", "no such file")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(name, 1, 1, "", "is a directory, not a spec file")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            [Problem(name, 1, 1, "", f"not UTF-8 text (byte offset {exc.start})")]
        ) from None
    except OSError as exc:
        raise SpecError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    doc = Document(name, None)
    try:
        node = yaml.compose(text, Loader=_Loader if allow_aliases else _NoAliasLoader)
    except _AliasRefusedError as exc:
        raise SpecError([Problem(name, exc.line, exc.column, "", str(exc))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "malformed YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise SpecError(
            [Problem(name, line, column, "", f"invalid YAML: {problem}{context}")]
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(name, 1, 1, "", f"invalid YAML: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(name, 1, 1, "", "the file is empty; a spec starts with 'kind:'")])
    builder = _Builder(doc, expand_env=expand_env)
    try:
        doc.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SpecError([Problem(name, line, column, "", f"invalid YAML: {exc.problem}")]) from None
    if builder.problems:
        raise SpecError(builder.problems)
    if not isinstance(doc.data, dict):
        raise SpecError([Problem(name, 1, 1, "", "a spec must be a mapping with a 'kind:' key")])
    return doc


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
    kind = doc.data.get("kind")
    if kind not in KINDS:
        line, column = doc.position(("kind",)) if "kind" in doc.data else (1, 1)
        valid = ", ".join(sorted(KINDS))
        if kind is None:
            message = f"missing 'kind' (one of: {valid})"
        else:
            message = f"unknown kind '{kind}'{closest(str(kind), sorted(KINDS))} (valid: {valid})"
        raise SpecError([Problem(doc.file, line, column, "kind", message)])
    context = {"base_dir": path.resolve().parent, "check_files": check_files}
    try:
        spec = spec_adapter().validate_python(doc.data, context=context)
    except ValidationError as exc:
        raise SpecError(_problems(doc, exc)) from None
    checks = cross_checks(spec, path.resolve()) if isinstance(spec, AlignmentSpec) else []
    if checks:
        raise _located(doc, checks)
    return spec


def _located(doc: Document, checks: list[tuple[Path_, str]]) -> SpecError:
    """A SpecError of problems given by field path, each at its node's line and column.

    A path may end in a ``(key, value)`` part: the first node below with that
    key holding that value (or a list holding it).
    """
    problems = []
    for where, message in checks:
        where = _locate(doc.data, where)
        line, column = doc.position(where)
        problems.append(Problem(doc.file, line, column, _dotted(where), message))
    return SpecError(sorted(problems, key=lambda p: (p.line, p.column)))


def spec_error(spec_file: Path | str, checks: list[tuple[Path_, str]]) -> SpecError:
    """A SpecError for problems found after loading (a column a source lacks...).

    ``checks`` name fields by path, as :func:`schemas.alignment.cross_checks`
    does; the spec file is read again for their positions only (the
    environment is not read). A file that cannot be read any more puts every
    problem at line 1.
    """
    path = Path(spec_file)
    doc = Document(_display(path), None)
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
        if node is not None:
            doc.data = _Builder(doc, as_written=True).build(node, ())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        doc = Document(doc.file, None)
    return _located(doc, checks)


def _problems(doc: Document, exc: ValidationError) -> list[Problem]:
    problems: list[Problem] = []
    errors = exc.errors(include_url=False)
    missing: dict[Path_, list[str]] = {}
    for error in errors:
        path = _walk(doc.data, error["loc"][1:])  # loc[0] is the kind tag
        if error["type"] == "missing":
            parent = _mapping_path(doc.data, _walk(doc.data, error["loc"][1:-1]))
            missing.setdefault(parent, []).append(str(error["loc"][-1]))
    for error in errors:
        loc = error["loc"][1:]
        path = _walk(doc.data, loc)
        kind = error["type"]
        if kind == "missing":
            name = str(loc[-1])
            path = _mapping_path(doc.data, _walk(doc.data, loc[:-1]))
            line, column = doc.position(path)
            message = f"missing required key '{name}'"
            problems.append(Problem(doc.file, line, column, _dotted((*path, name)), message))
            continue
        if kind == "extra_forbidden":
            key = path[-1] if path else ""
            line, column = doc.position(path, key=True)
            # Prefer the required keys this mapping lacks, then any key of the spec language.
            # Never the key itself: valid elsewhere in the language, it is not valid here.
            others = [name for name in field_names() if name != key]
            hint = closest(str(key), missing.get(path[:-1], [])) or closest(str(key), others)
            message = f"unknown key '{key}'{hint}"
        else:
            line, column = doc.position(path)
            message = _message(error)
        problems.append(Problem(doc.file, line, column, _dotted(path), message))
    unique = {(p.line, p.column, p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.line, p.column, p.message))


def _locate(data: Any, path: Path_) -> Path_:
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


def _mapping_path(data: Any, path: Path_) -> Path_:
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


def _walk(data: Any, loc: tuple[Any, ...]) -> Path_:
    """The part of a pydantic error location that exists in the document.

    Union tags and model wrappers add location parts that are not keys of the
    YAML (and a tag may also be a key, as in ``{csv: file}``): the walk that
    matches the most parts wins, descending on ties.
    """

    def best(node: Any, rest: tuple[Any, ...]) -> tuple[int, bool, Path_]:
        # Score: parts matched, then whether the last part (the field itself) matched.
        if not rest:
            return 0, True, ()
        part, tail = rest[0], rest[1:]
        skip = best(node, tail)
        if not tail:
            skip = (skip[0], False, skip[2])
        child: Any = _MISSING
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            child = node[part]
        if child is _MISSING:
            return skip
        matched, last, path = best(child, tail)
        if (matched + 1, last) >= skip[:2]:
            return matched + 1, last, (part, *path)
        return skip

    return best(data, tuple(loc))[2]


_MISSING = object()


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and str(value) not in message:
        message += f" (got {value!r})"
    return message


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
