"""Spec files read: YAML with source positions, and problems at their line and column.

Every problem is reported at once, each with ``file:line:column``, the field
path and what was expected, so a user fixes a spec in one round. This module
knows no kind: :mod:`engine.loader` looks the kind up and calls
:func:`validate` with its model; a kind's own modules use :func:`spec_error`
and :func:`read_document` from here, below the registry.

What a spec costs to read is bounded (:data:`MAX_BYTES`, :data:`MAX_DEPTH`,
:data:`MAX_VALUES`): a few hundred bytes of nested aliases would otherwise
expand to gigabytes, and deep nesting would exhaust Python's stack. Whatever
the text holds, reading it ends in a spec or a :class:`SpecError` at a line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.errors import Problem, SpecError
from engine.includes import TAG as INCLUDE
from engine.includes import IncludeError, Includes, select
from engine.spec_paths import locate, mapping_path, walk
from schemas.base import closest, keys_at
from schemas.renames import renamed
from schemas.units import FROM_SPEC

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Document",
    "load_yaml",
    "read_document",
    "shown",
    "spec_error",
    "validate",
]

Path_ = tuple[Any, ...]

#: The largest spec file read: a spec names its data files, it holds little data itself.
MAX_BYTES = 1024 * 1024
#: The deepest nesting of mappings and lists (the shipped specs need 6; a blocking
#: rule nested 16 groups deep needs 34).
MAX_DEPTH = 64
#: The most values (scalars, mappings, lists) a document may hold, aliases expanded.
MAX_VALUES = 100_000


@dataclass
class Document:
    """A parsed YAML document and where each of its nodes stands in the file."""

    file: str
    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    #: The file of each included block (``!include``), by the path it stands at.
    files: dict[Path_, str] = field(default_factory=dict)
    #: Where each ``!include`` was written (file, line, column), by the path of its block.
    sites: dict[Path_, tuple[str, int, int]] = field(default_factory=dict)

    def where(self, path: Path_, *, key: bool = False) -> tuple[str, int, int]:
        """The file, line and column of a value (or its key).

        A value that is a whole included block, wrong as a whole (a list where a
        word is expected), is shown at its ``!include``, where the mistake was made.
        """
        if not key and path in self.sites:
            return self.sites[path]
        return (self.file_at(path, key=key), *self.position(path, key=key))

    def file_at(self, path: Path_, *, key: bool = False) -> str:
        """The file a value (or its key) was written in: an included file, or the spec itself.

        A key is written where its mapping is, even when its value is an included block
        (``band: !include other.yaml#/x``: the key ``band`` stands in this file).
        """
        if key and path in self.keys:
            path = path[:-1]
        for end in range(len(path), 0, -1):
            if path[:end] in self.files:
                return self.files[path[:end]]
        return self.file

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

    def __init__(
        self,
        doc: Document,
        *,
        expand_env: bool = True,
        as_written: bool = False,
        source: Path | None = None,
        allow_aliases: bool = True,
    ) -> None:
        super().__init__()
        self.doc = doc
        self.expand_env = expand_env
        # Positions only: values keep their ${VAR} text and the environment is not read.
        self.as_written = as_written
        self.problems: list[Problem] = []
        # Where includes are read from (None: text not from a file, no include).
        self.file = doc.file
        self.folder = None if source is None else source.parent
        self.includes = None
        if source is not None:
            self.includes = Includes(source.resolve().parent, [source.resolve()])
        self.allow_aliases = allow_aliases

    def build(self, node: yaml.Node, path: Path_) -> Any:
        if node.tag == INCLUDE:
            return self._include(node, path)
        mark = node.start_mark
        self.doc.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # YAML merge keys (<<)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._checked(key_node, path, self._construct(key_node, path))
                if key is _INVALID:
                    continue
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
            return self._checked(node, path, str(node.value))
        value = self._construct(node, path)
        if isinstance(value, str) and "${" in value and not self.as_written:
            value = self._expand(node, path, value)
        return self._checked(node, path, value)

    def _construct(self, node: yaml.Node, path: Path_) -> Any:
        """PyYAML's value of a node, or ``_INVALID`` (with a problem) when it has none.

        PyYAML's constructors raise plain ValueError, TypeError... on values its
        resolvers did not vet: explicit tags (``!!int abc``, ``!!bool maybe``),
        an integer of more than 4,300 digits. Each is a problem at the node.
        """
        try:
            value = self.construct_object(node, deep=True)
        except yaml.MarkedYAMLError:
            raise
        except Exception as exc:  # whatever PyYAML's constructors raise on this text
            tag = node.tag.rsplit(":", 1)[-1] if node.tag.startswith("tag:yaml.org") else node.tag
            text = node.value if isinstance(node.value, str) else ""
            shown = repr(text) if len(text) <= 40 else repr(text[:40]) + "..."
            if "Exceeds the limit" in str(exc):  # Python's int(): 4,300 digits at most
                self._problem(node, path, _TOO_LARGE)
            else:
                self._problem(node, path, f"cannot read {shown} as a YAML {tag}: {exc}")
            return _INVALID
        if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            # Hexadecimal, octal and sexagesimal integers are not bounded by Python's int().
            self._problem(node, path, _TOO_LARGE)
            return _INVALID
        return value

    def _checked(self, node: yaml.Node, path: Path_, value: Any) -> Any:
        """The value, unless it is text holding a character no output can carry."""
        if isinstance(value, str):
            bad = _UNPRINTABLE.search(value)
            if bad is not None:
                where = f" (character {bad.start() + 1} of the value)" if len(value) > 1 else ""
                self._problem(
                    node, path, f"{_describe(bad.group())} is not allowed in a spec{where}"
                )
                return _INVALID
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
            Problem(self.file, mark.line + 1, mark.column + 1, _dotted(path), shown(message))
        )

    def _include(self, node: yaml.Node, path: Path_) -> Any:
        """The block an ``!include`` names (see :mod:`engine.includes`), built where it stands."""
        if self.includes is None or self.folder is None:
            self._problem(node, path, f"{INCLUDE} is only read in a spec file")
            return _INVALID
        if not isinstance(node, yaml.ScalarNode):
            self._problem(node, path, f"{INCLUDE} names a file: {INCLUDE} other.yaml#/attributes")
            return _INVALID
        try:
            target, pointer = self.includes.target(str(node.value), self.folder)
            name = _display(target)
            if not target.is_file():
                raise IncludeError(f"cannot include {node.value}: no such file")
            # The loader's bounds hold for each file: size, depth, values (aliases expanded).
            top = _compose(name, _read_text(target, name), allow_aliases=self.allow_aliases)
        except IncludeError as exc:
            self._problem(node, path, str(exc))
            return _INVALID
        except SpecError as exc:  # unreadable, or not YAML: at the included file's line
            self.problems.extend(exc.problems)
            return _INVALID
        block = None if top is None else select(top, pointer)
        if block is None:
            where = "#/" + "/".join(pointer) if pointer else ""
            written = str(node.value).partition("#")[0].strip()
            self._problem(node, path, f"{written} has nothing at {where or 'its top'}")
            return _INVALID
        if len(self.doc.values) > MAX_VALUES:
            self._problem(
                node, path, f"the spec and its includes hold more than {MAX_VALUES:,} values"
            )
            return _INVALID
        outer = (self.file, self.folder)
        self.file, self.folder = name, target.parent
        self.includes.chain.append(target)
        self.doc.files[path] = name
        self.doc.sites[path] = (outer[0], node.start_mark.line + 1, node.start_mark.column + 1)
        try:
            return self.build(block, path)
        finally:
            self.includes.chain.pop()
            self.file, self.folder = outer


#: A value that could not be read (its problem is recorded).
_INVALID: Any = object()
#: Integers stop a little below 4,000 digits: Python cannot even print one of 4,300.
_MAX_INT_BITS = 13_000
_TOO_LARGE = "an integer this large (about 3,900 digits or more) is not accepted"
#: What YAML itself refuses to read in a file (C0 and C1 controls but tab and line
#: breaks, lone surrogates, U+FFFE/U+FFFF), also when written as an escape
#: ("\x01", "\ud800"): no output, IRI or path can hold it.
_UNPRINTABLE = re.compile(r"[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _describe(char: str) -> str:
    """A character a spec may not hold, named for a message."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X} (half of a UTF-16 pair, not a character)"
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"the control character U+{code:04X}"
    return f"U+{code:04X} (not a character)"


#: ``${NAME}`` or ``${NAME:-default}``; ``$${`` escapes a literal ``${``.
_ENV = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _is_inline_cell(path: Path_) -> bool:
    """True for a value inside a source's ``inline:`` rows (sources.ROLE.inline.ROW[.COL])."""
    return len(path) >= 4 and path[0] == "sources" and path[2] == "inline"


_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _RefusedError(Exception):
    """Text the loader will not read further, at a 1-based line and column."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.line: int = mark.line + 1 if mark else 1
        self.column: int = mark.column + 1 if mark else 1


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _Base(
        yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
    ):
        """libyaml's parser (ten times faster than PyYAML's own), PyYAML's composer.

        The composer stays in Python, before the parser in the method order, so
        that :class:`_Loader` counts and bounds what each node expands to.
        """

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

else:  # a PyYAML built without libyaml

    class _Base(yaml.SafeLoader):  # type: ignore[no-redef]
        """PyYAML's own safe loader."""


class _Loader(_Base):
    """PyYAML's safe loader with YAML 1.2's core schema, and bounded.

    YAML 1.1 also reads ``yes``, ``no``, ``on`` and ``off`` (any case) as booleans,
    so ``languages: [no, fr]`` (Norwegian) became ``[false, 'fr']``. Only ``true``
    and ``false`` are booleans here; the other words stay strings, which the
    spec's boolean fields still accept. Nor is ``2024-02-30`` a date (YAML 1.1's
    timestamps, which PyYAML cannot even build for that day): no spec field is a
    date, so a description or a name stays the text written.

    Composing counts what the document expands to: deeper than
    :data:`MAX_DEPTH`, more than :data:`MAX_VALUES` values (each alias counting
    every value it stands for) or a recursive alias stops it at that line,
    before anything is built.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._values = 0
        #: Expanded size of each anchored node; the anchors still being composed.
        self._sizes: dict[str, int] = {}
        self._open: set[str] = set()
        #: Expanded sizes of the children of each collection being composed.
        self._children: list[int] = []

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()
        anchor = event.anchor
        if isinstance(event, yaml.AliasEvent):
            if anchor in self._open:
                raise _RefusedError(
                    f"the alias *{anchor} stands for a value that holds it (a recursive"
                    " alias): write the value out",
                    event.start_mark,
                )
            node = super().compose_node(parent, index)  # an undefined alias: ComposerError
            self._count(self._sizes.get(anchor, 1), event.start_mark, anchor)
            return node
        collection = isinstance(event, yaml.CollectionStartEvent)
        self._count(1, event.start_mark, None)
        if collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise _RefusedError(
                    f"nested more than {MAX_DEPTH} levels deep: a spec is not that deep",
                    event.start_mark,
                )
            if anchor is not None:
                self._open.add(anchor)
            self._children.append(0)
        node = super().compose_node(parent, index)
        size = 1
        if collection:
            size += self._children.pop()
            self._depth -= 1
            self._open.discard(anchor)
        if anchor is not None:
            self._sizes[anchor] = size
        if self._children:
            self._children[-1] += size
        return node

    def _count(self, size: int, mark: Any, alias: str | None) -> None:
        if self._children and alias is not None:
            self._children[-1] += size
        self._values += size
        if self._values > MAX_VALUES:
            what = f"the alias *{alias} expands to {size:,} values, and" if alias else ""
            raise _RefusedError(
                f"{what} the spec holds more than {MAX_VALUES:,} values (aliases expanded)"
                " here: a spec names its data, put large data in a source file",
                mark,
            )


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL_TAG, _TIMESTAMP_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _NoAliasLoader(_Loader):
    """The spec loader, stopping at the first alias.

    Aliases are shared nodes: a few hundred bytes of nested aliases expand to
    millions of values (a "billion laughs"); text from an untrusted sender is
    read without any.
    """

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event: Any = self.peek_event()
            raise _RefusedError(
                f"YAML aliases (*{event.anchor or ''}) are not accepted here: write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """Plain data from YAML text, read as a spec is (YAML 1.2 core schema, no aliases).

    For values typed in a form; raises :class:`yaml.YAMLError` on bad YAML, an
    alias, or a value a spec cannot hold (as :func:`read_document` refuses it).
    """
    doc = Document("<value>", None)
    try:
        node = _compose(doc.file, text, allow_aliases=False)
        builder = _Builder(doc, as_written=True)
        data = builder.build(node, ()) if node is not None else None
        if builder.problems:
            raise SpecError(builder.problems)
    except SpecError as exc:
        first = exc.problems[0]
        raise yaml.YAMLError(f"line {first.line}, column {first.column}: {first.message}") from None
    except yaml.MarkedYAMLError as exc:
        raise yaml.YAMLError(_marked(doc.file, exc).message) from None
    return data


def _line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset, counting line breaks as YAML does."""
    line, start = 1, 0
    for brk in _BREAK.finditer(text, 0, offset):
        line, start = line + 1, brk.end()
    return line, offset - start + 1


#: Line breaks as PyYAML counts them (its marks are the positions given elsewhere).
_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")


def _read_text(path: Path, name: str) -> str:
    """A spec file's text: at most :data:`MAX_BYTES` of UTF-8; SpecError at the bad line."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([Problem(name, 1, 1, "", "no such file")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(name, 1, 1, "", "is a directory, not a spec file")]) from None
    except OSError as exc:
        raise SpecError([Problem(name, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    if len(data) > MAX_BYTES:
        before = data[:MAX_BYTES].decode("utf-8", "replace")
        line, column = _line_column(before, len(before))
        message = (
            f"the file is larger than {MAX_BYTES // 1024} KiB, the most a spec may be:"
            " a spec names its data, put large data in a source file"
        )
        raise SpecError([Problem(name, line, column, "", message)])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8")
        line, column = _line_column(before, len(before))
        message = f"not UTF-8 text: byte 0x{data[exc.start]:02x} here is {exc.reason}"
        raise SpecError([Problem(name, line, column, "", message)]) from None


def _marked(name: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "malformed YAML"
    context = f" ({exc.context})" if exc.context else ""
    return Problem(name, line, column, "", shown(f"invalid YAML: {problem}{context}"))


def _compose(name: str, text: str, *, allow_aliases: bool) -> yaml.Node | None:
    """The YAML node tree of a spec's text; SpecError at the line of whatever stops it."""
    # What YAML refuses to read, found before it is parsed: libyaml gives the place of
    # such a character as a byte offset, and cannot even take a lone surrogate.
    bad = _UNPRINTABLE.search(text)
    if bad is not None:
        line, column = _line_column(text, bad.start())
        message = f"{_describe(bad.group())} is not allowed in a spec"
        raise SpecError([Problem(name, line, column, "", message)])
    loader = _Loader(text) if allow_aliases else _NoAliasLoader(text)
    try:
        return loader.get_single_node()
    except _RefusedError as exc:
        raise SpecError([Problem(name, exc.line, exc.column, "", str(exc))]) from None
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_marked(name, exc)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(name, 1, 1, "", shown(f"invalid YAML: {exc}"))]) from None
    finally:
        loader.dispose()


def read_document(path: Path, *, allow_aliases: bool = True, expand_env: bool = True) -> Document:
    """Parse a YAML spec file, keeping positions; SpecError on unreadable or malformed YAML.

    ``allow_aliases=False`` refuses YAML aliases (``*name``, ``<<: *name``) at
    their line, for text from an untrusted sender (nested aliases expand
    exponentially; with aliases, what they expand to is bounded by
    :data:`MAX_VALUES`). ``expand_env=False`` never reads the environment: each
    ``${VAR}`` is a problem at its line instead of the variable's value (which
    could end up quoted in an error message).
    """
    name = _display(path)
    text = _read_text(path, name)
    doc = Document(name, None)
    node = _compose(name, text, allow_aliases=allow_aliases)
    if node is None:
        raise SpecError([Problem(name, 1, 1, "", "the file is empty; a spec starts with 'kind:'")])
    builder = _Builder(doc, expand_env=expand_env, source=path, allow_aliases=allow_aliases)
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


def validate(
    doc: Document,
    path: Path,
    kind: str,
    model: Any,
    cross_checks: Callable[[Any, Path], list[tuple[Path_, str]]],
    *,
    check_files: bool = True,
) -> Any:
    """The spec of a document of a known kind: its model, then its cross-checks.

    ``path`` is the spec file (relative paths in the spec resolve against its
    folder); ``kind`` the document's ``kind:``, ``model`` and ``cross_checks``
    that kind's (:class:`engine.kinds.Kind`), so that a kind may validate a
    text of its own without the registry. Raises :class:`SpecError`.
    """
    renamed = _renamed(doc, kind)
    if renamed:
        # Alone, before validation: each renamed key would also be an unknown key there.
        raise SpecError(renamed)
    context = {"base_dir": path.resolve().parent, "check_files": check_files, FROM_SPEC: True}
    try:
        # The kind's own model: its errors' locations are the document's keys.
        spec = model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        raise SpecError(_problems(doc, exc, model)) from None
    checks = cross_checks(spec, path.resolve())
    if checks:
        raise _located(doc, checks)
    return spec


def _renamed(doc: Document, kind: str) -> list[Problem]:
    """A problem at each key an older spec language wrote (``schemas.renames``)."""
    problems = []
    for path, message in renamed(doc.data, kind):
        file, line, column = doc.where(path, key=True)
        problems.append(Problem(file, line, column, _dotted(path), shown(message)))
    return sorted(problems, key=lambda p: (p.file != doc.file, p.line, p.column))


def _located(doc: Document, checks: list[tuple[Path_, str]]) -> SpecError:
    """A SpecError of problems given by field path, each at its node's line and column.

    A path may end in a ``(key, value)`` part: the first node below with that
    key holding that value (or a list holding it).
    """
    problems = []
    for where, message in checks:
        where = locate(doc.data, where)
        file, line, column = doc.where(where)
        problems.append(Problem(file, line, column, _dotted(where), shown(message)))
    return SpecError(sorted(problems, key=lambda p: (p.file != doc.file, p.line, p.column)))


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
        node = _compose(doc.file, _read_text(path, doc.file), allow_aliases=True)
        if node is not None:
            doc.data = _Builder(doc, as_written=True, source=path).build(node, ())
    except (SpecError, yaml.YAMLError):  # the file changed since it was loaded
        doc = Document(doc.file, None)
    return _located(doc, checks)


def _problems(doc: Document, exc: ValidationError, model: Any) -> list[Problem]:
    problems: list[Problem] = []
    errors = exc.errors(include_url=False)
    missing: dict[Path_, list[str]] = {}
    for error in errors:
        path = walk(doc.data, error["loc"])
        if error["type"] == "missing":
            parent = mapping_path(doc.data, walk(doc.data, error["loc"][:-1]))
            missing.setdefault(parent, []).append(str(error["loc"][-1]))
    for error in errors:
        loc = error["loc"]
        path = walk(doc.data, loc)
        kind = error["type"]
        at_key = kind in ("invalid_key", "extra_forbidden")
        if kind == "missing":
            name = str(loc[-1])
            path = mapping_path(doc.data, walk(doc.data, loc[:-1]))
            file, line, column = doc.where(path)
            message = f"missing required key '{name}'"
            problems.append(Problem(file, line, column, _dotted((*path, name)), shown(message)))
            continue
        if kind == "invalid_key":
            message = f"a key here must be text, not {error['input']!r}: quote it"
        elif kind == "extra_forbidden":
            key = path[-1] if path else ""
            # Prefer the required keys this mapping lacks, then the other keys valid in
            # this mapping: never a key of another place of the language (a stray
            # 'order' under kmeans is no misspelt 'workers' of the executor).
            here = [name for name in keys_at(model, tuple(loc[:-1])) or [] if name != key]
            hint = closest(str(key), missing.get(path[:-1], [])) or closest(str(key), here)
            message = f"unknown key '{key}'{hint}"
        else:
            message = _message(error)
        file, line, column = doc.where(path, key=at_key)
        problems.append(Problem(file, line, column, _dotted(path), shown(message)))
    unique = {(p.file, p.line, p.column, p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (p.file != doc.file, p.line, p.column, p.message))


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    value = error.get("input")
    if isinstance(value, str | int | float | bool) and str(value) not in message:
        message += f" (got {value!r})"
    if error["type"] in ("literal_error", "enum") and isinstance(value, str):
        # As an unknown key gets: the closest allowed value (one_to_one -> one-to-one).
        allowed = re.findall(r"'([^']*)'", str((error.get("ctx") or {}).get("expected", "")))
        message += closest(value, allowed)
    return message


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return shown(out)


def shown(text: str) -> str:
    """Text for a one-line message: what a terminal would not show (a line break in a
    value, a control character) as an escape, so that each problem stays one line."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text
    )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
