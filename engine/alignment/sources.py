"""Read a source (CSV, TSV, inline rows, RDF dumps, SPARQL, RQL) into columnar :class:`Records`.

Every cell stays a string: nothing is ever cast, so ``0800`` keeps its leading
zero. An empty or white-space-only cell is ``None`` (a missing value). Each
record gets an absolute IRI, read from a column or built from a template.

Rows that cannot be used (wrong number of fields, a missing, invalid or
duplicate id) stop the run under ``on_error: fail`` and are left out, with the
reason, under ``on_error: skip``. Problems with the source as a whole (cannot
decode it, a bad header, an unknown id column) always stop the run.

Large delimited files are parsed by pyarrow where it reads them as the csv
module does (:mod:`engine.alignment.csv_read`), RDF dumps by pyoxigraph where
it answers as rdflib does (:mod:`engine.alignment.rdf_read`): the records are
the same either way.
"""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from engine.alignment.csv_read import ascii_text, parse_columns
from engine.alignment.headers import delimiter_hint, source_name
from engine.alignment.rdf_read import query_dumps
from engine.alignment.records import Records, Skip, expand_rows
from engine.alignment.remote import fetch_answer
from engine.alignment.terms import Term, all_values, merge_rows
from engine.environment import Environment
from engine.errors import DataError
from schemas.alignment import (
    IRI,
    CsvSource,
    InlineSource,
    RdfSource,
    RqlSource,
    SparqlSource,
    TsvSource,
)
from schemas.base import closest

__all__ = ["read_source"]

# The same test the spec schema applies to predicates: a scheme, a colon, then no
# character RDF serialisers refuse in an IRI (a control character included).
_IRI = IRI
#: A character an IRI cannot hold anywhere after its scheme (the complement of IRI's).
_NOT_IN_IRI = re.compile(r"[\s\x00-\x20\x7f<>\"{}|\\^`\ud800-\udfff]")
#: A '%' that does not start a percent-encoded octet.
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2}).{0,2}", re.DOTALL)


def _character(char: str) -> str:
    """A character named for a message: 'a space', 'the control character U+0001'..."""
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"the control character U+{code:04X}"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X}"
    if char.isspace():
        return f"a space (U+{code:04X})"
    return f"'{char}'"


def _escaped(text: str) -> str:
    """The text with what cannot be seen on a terminal (controls, line breaks) as escapes."""
    return "".join(
        c if c.isprintable() else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        for c in text
    )


#: What quote(safe="") leaves as it is (urllib's always-safe characters), and nothing else.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Explain how to fix a row problem, once, in the error that stops the run.
_SKIP_HINT = " (set `on_error: skip` to leave such rows out)"

_Lines = npt.NDArray[np.int64]
#: Per column, the records (by index) holding several values there, best first.
_Alternatives = dict[str, dict[int, list[str]]]
# A line no real file ends with (a private-use character): see _parse.
_SENTINEL = "\ue000specengine-end-of-file\ue000"


def read_source(
    spec: CsvSource | TsvSource | InlineSource | RdfSource | SparqlSource | RqlSource,
    role: str,
    spec_file: str | None = None,
    *,
    environment: Environment | None = None,
) -> Records:
    """Read one source of an alignment into columnar records with IRI ids.

    ``role`` is ``"align"`` or ``"target"``; with the file (or, for inline rows,
    ``spec_file``) it makes the display name used in every error message, e.g.
    ``align source data/people.csv``. Raises :class:`DataError` for data that
    cannot be read; rows with problems are skipped (and listed in
    ``Records.skipped``) only under ``on_error: skip``. A remote source's
    credentials are read in ``environment`` (default: the process's).
    """
    name = source_name(spec, role, spec_file)
    alternatives: _Alternatives = {}
    with _gc_paused():
        if isinstance(spec, InlineSource):
            problems = _Problems(name, spec.on_error, inline=True)
            names, columns, rows = _read_inline(spec, problems)
        elif isinstance(spec, RdfSource):
            problems = _Problems(name, spec.on_error, inline=True)
            names, columns, rows, alternatives = _read_rdf(spec, problems)
        elif isinstance(spec, SparqlSource | RqlSource):
            problems = _Problems(name, spec.on_error, inline=True)
            env = Environment.of_process() if environment is None else environment
            names, columns, rows, alternatives = _read_remote(spec, problems, env)
        else:
            path = spec.csv if isinstance(spec, CsvSource) else spec.tsv
            problems = _Problems(name, spec.on_error, inline=False)
            names, columns, rows = _read_delimited(spec, path, problems)
            problems.delimiter = spec.delimiter
            alternatives = _split(spec.split, names, columns, problems)

        ids, keep = _make_ids(spec.id, names, columns, rows, problems)
        if keep is not None:
            # Only rows with id problems (skip mode) get here: filter every column once.
            columns = {name: [values[i] for i in keep] for name, values in columns.items()}
            rows = rows[keep]
            position = {old: new for new, old in enumerate(keep)}
            alternatives = {
                name: {position[i]: v for i, v in several.items() if i in position}
                for name, several in alternatives.items()
            }
        record = None
        if any(alternatives.values()):
            ids, columns, rows, record = expand_rows(
                ids, columns, rows, alternatives, problems.warnings, problems.source
            )
    problems.skipped.sort(key=lambda skip: skip.row)
    return Records(
        source=problems.source,
        ids=ids,
        names=names,
        columns=columns,
        rows=rows,
        skipped=problems.skipped,
        warnings=problems.warnings,
        record=record,
    )


def _split(
    split: dict[str, str],
    names: list[str],
    columns: dict[str, list[str | None]],
    problems: _Problems,
) -> _Alternatives:
    """Cells of the ``split`` columns cut on their separator: the first value stays a cell."""
    out: _Alternatives = {}
    for column, separator in split.items():
        if column not in columns:
            raise problems.error(
                f"`split` names column '{column}', which the source lacks{closest(column, names)}"
                f" (columns: {', '.join(names)})"
            )
        values = columns[column]
        several: dict[int, list[str]] = {}
        for index, value in enumerate(values):
            if value is None or separator not in value:
                continue
            parts = list(dict.fromkeys(p.strip() for p in value.split(separator) if p.strip()))
            values[index] = parts[0] if parts else None
            if len(parts) > 1:
                several[index] = parts
        if several:
            out[column] = several
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of lists.

    Rows and columns hold no reference cycles, yet every few hundred new lists the
    collector walks all live ones: on a large file that more than doubles the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------- problems


class _Problems:
    """Where to send a problem: a DataError now (fail) or a Skip (skip)."""

    def __init__(self, source: str, on_error: Literal["fail", "skip"], inline: bool) -> None:
        self.source = source
        self.on_error = on_error
        self.inline = inline
        self.skipped: list[Skip] = []
        self.warnings: list[str] = []
        #: The delimiter of a delimited file (to tell when another one would fit).
        self.delimiter: str | None = None

    def where(self, row: int) -> str:
        """How a row is named in a message: a file line or an inline row index."""
        return f"row {row}" if self.inline else f"line {row}"

    def error(self, message: str, row: int | None = None) -> DataError:
        """A DataError on this source; inline rows read ``... (inline, f.yaml) row 3: ...``."""
        if row is not None and self.inline:
            # DataError renders ``source:row`` (a file line); an inline row is an index
            # into a YAML list, so name it as such but keep the structured fields.
            error = DataError(f"{self.source} row {row}", message)
            error.source, error.row = self.source, row
            return error
        return DataError(self.source, message, row=row)

    def row(self, row: int, reason: str) -> None:
        """A row that cannot be used: raise under ``fail``, record a Skip under ``skip``."""
        if self.on_error == "fail":
            raise self.error(reason + _SKIP_HINT, row)
        self.skipped.append(Skip(row=row, reason=reason))


# --------------------------------------------------------------------------- files


def _decode(data: bytes, encoding: str, problems: _Problems) -> str:
    """Decode strictly: a wrong encoding must fail loudly, not corrupt names silently."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise problems.error(
            f"cannot decode byte 0x{data[exc.start]:02x} at byte offset {exc.start}"
            f" (line {line}) as {encoding}; set `encoding:` in the source"
        ) from None
    # Spreadsheet exports often start with a BOM; it would glue itself to the first
    # column name.
    return text.removeprefix("\ufeff")


def _read_delimited(
    spec: CsvSource | TsvSource, path: Path, problems: _Problems
) -> tuple[list[str], dict[str, list[str | None]], _Lines]:
    """Names, columns and starting lines of the usable records of a delimited file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise problems.error(f"cannot read the file: {exc.strerror or exc}") from None
    # ASCII needs no decoding to be checked: pyarrow reads the bytes as they are.
    text = None if ascii_text(data, spec.encoding) else _decode(data, spec.encoding, problems)
    fast = parse_columns(
        data, spec.encoding, text, spec.delimiter, spec.quotechar, skip_first=spec.header
    )
    if fast is not None:
        names = _names(spec, fast.first, fast.first_line, problems)
        # pyarrow's rows all have the first record's width: with `columns:` of another,
        # every row is bad, and the csv module's reading says where.
        if len(names) == len(fast.first):
            return names, dict(zip(names, fast.columns, strict=True)), fast.lines
    if text is None:
        text = data.decode("ascii")
    del data  # a large file: do not hold both the bytes and the text longer than needed

    records, starts, ends = _parse(text, spec.delimiter, spec.quotechar, problems)
    del text
    if not records:
        raise problems.error("the file is empty (no header, no rows)")

    first, first_line = records[0], int(starts[0])
    if spec.header:
        del records[0]
        starts, ends = starts[1:], ends[1:]
    names = _names(spec, first, first_line, problems)

    width = len(names)
    lengths = np.fromiter(map(len, records), dtype=np.int64, count=len(records))
    bad = np.flatnonzero(lengths != width).tolist()
    if bad:
        for i in bad:
            record = records[i]
            # A line of blanks is a blank line (the csv module only drops truly empty
            # ones); in a one-column file it is a row with a missing value instead.
            if width != 1 and len(record) == 1 and (not record[0] or record[0].isspace()):
                continue
            reason = f"expected {width} fields, found {len(record)}"
            if ends[i] > starts[i]:
                reason += f" in a record spanning lines {starts[i]}-{ends[i]} (an unclosed quote?)"
            problems.row(int(starts[i]), reason)
        dropped = set(bad)
        records = [r for i, r in enumerate(records) if i not in dropped]
        starts = np.delete(starts, bad)

    # One pass per column; the csv module did the rest. ``v.isspace()`` is false for
    # "", hence the ``v and``.
    transposed: Iterable[Sequence[str]] = zip(*records, strict=True) if records else [()] * width
    del records
    columns = {
        name: [v if v and not v.isspace() else None for v in values]
        for name, values in zip(names, transposed, strict=True)
    }
    return names, columns, starts


def _names(
    spec: CsvSource | TsvSource, first: list[str], line: int, problems: _Problems
) -> list[str]:
    """The column names of a delimited file whose first record is ``first``, at ``line``."""
    if spec.header:
        if spec.columns is not None:
            if len(spec.columns) != len(first):
                raise problems.error(
                    f"`columns:` gives {len(spec.columns)} names but the header has"
                    f" {len(first)} fields",
                    line,
                )
            names = list(spec.columns)
        else:
            names = first
        _check_names(names, problems, "`columns:`" if spec.columns else "the header", line)
    elif spec.columns is not None:
        names = list(spec.columns)
        _check_names(names, problems, "`columns:`")
    else:
        # No names anywhere: columns are known by their 0-based index, as strings so
        # that ``id: 0`` and ``id: "0"`` both work.
        names = [str(i) for i in range(len(first))]
    return names


#: The largest field the csv module accepts (its default, 128 KiB, rejects long texts).
_FIELD_LIMIT = 1 << 28


def _parse(
    text: str, delimiter: str, quotechar: str | None, problems: _Problems
) -> tuple[list[list[str]], _Lines, _Lines]:
    """Non-empty records with the physical lines where each starts and ends.

    ``quotechar`` None reads every character as data (TSV has no quoting).
    """
    csv.field_size_limit(_FIELD_LIMIT)
    dialect: dict[str, Any] = (
        {"delimiter": delimiter, "quoting": csv.QUOTE_NONE}
        if quotechar is None
        else {"delimiter": delimiter, "quotechar": quotechar}
    )
    # The csv module silently ends a quoted field left open at the end of the file: a
    # sentinel line after the data tells, since only then does it get swallowed.
    text += "\n" + _SENTINEL + "\n"
    # newline="" splits on \n, \r and \r\n only, as the csv module expects; a quoted
    # field may then hold line breaks, and reader.line_num counts physical lines.
    reader = csv.reader(io.StringIO(text, newline=""), **dialect)
    try:
        records = list(reader)
    except csv.Error:
        records = []  # the slow path below finds where the failing record starts
    if records and reader.line_num == len(records):
        # Fast path, the usual case: no record spans lines, so record i is on line i+1.
        del records[-1]  # the sentinel
        lines = np.arange(1, len(records) + 1, dtype=np.int64)
        if records.count([]):  # blank lines come back as []
            lines = lines[np.fromiter(map(bool, records), dtype=bool, count=len(records))]
            records = [record for record in records if record]
        return records, lines, lines

    # Some quoted field holds a line break: parse again, noting where each record starts.
    reader = csv.reader(io.StringIO(text, newline=""), **dialect)
    records = []
    starts: list[int] = []
    ends: list[int] = []
    last = 0
    try:
        for record in reader:
            if record:
                records.append(record)
                starts.append(last + 1)
                ends.append(reader.line_num)
            last = reader.line_num
    except csv.Error as exc:
        # Typically "field larger than field limit": an unclosed quote ate the file.
        raise problems.error(
            f"cannot parse the record starting here: {exc} (an unclosed {quotechar} quote?)",
            last + 1,
        ) from None
    if records[-1] != [_SENTINEL]:
        raise problems.error(
            f"a {quotechar} quote opened in the record starting here is never closed", starts[-1]
        )
    del records[-1], starts[-1], ends[-1]
    return records, np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def _check_names(names: list[str], problems: _Problems, what: str, line: int | None = None) -> None:
    """Column names must be non-empty and unique: they are how the spec refers to columns."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name.strip():
            raise problems.error(
                f"column {i} has an empty name in {what}; name it (or set `columns:`)", line
            )
        if name in seen:
            raise problems.error(f"column name '{name}' appears twice in {what}", line)
        seen.add(name)


# --------------------------------------------------------------------------- inline


class _NotScalar(Exception):
    """A YAML list or mapping where a cell value was expected."""


def _cell(value: Any) -> str | None:
    """A YAML value as the string a CSV cell would hold (``true``, ``12``, ``2024-01-31``)."""
    if value is None:
        return None
    if isinstance(value, bool):  # before int: bool is an int, and str(True) is "True"
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value and not value.isspace() else None
    if isinstance(value, dt.date):  # also datetime: ISO 8601, as written in YAML
        return value.isoformat()
    if isinstance(value, list | dict):
        raise _NotScalar(type(value).__name__)
    return str(value)


def _read_inline(
    spec: InlineSource, problems: _Problems
) -> tuple[list[str], dict[str, list[str | None]], _Lines]:
    """Names, columns and 1-based row indexes of the usable inline rows."""
    if spec.columns is not None:
        names = list(spec.columns)
        _check_names(names, problems, "`columns:`")
    else:
        lists = [n for n, row in enumerate(spec.inline, 1) if isinstance(row, list)]
        if lists:
            raise problems.error(
                "rows written as lists need `columns:` to name their values", lists[0]
            )
        names = list(dict.fromkeys(key for row in spec.inline for key in row))
        _check_names(names, problems, "the row keys")

    known = set(names)
    width = len(names)
    kept: list[list[str | None]] = []
    rows: list[int] = []
    for n, row in enumerate(spec.inline, 1):
        if isinstance(row, list):
            if len(row) != width:
                problems.row(n, f"expected {width} values, found {len(row)}")
                continue
            values = row
        else:
            unknown = [key for key in row if key not in known]
            if unknown:
                problems.row(n, f"unknown column '{unknown[0]}' (columns: {', '.join(names)})")
                continue
            values = [row.get(name) for name in names]
        try:
            kept.append([_cell(value) for value in values])
        except _NotScalar as exc:
            problems.row(n, f"a value is a YAML {exc}; cells must be scalars")
            continue
        rows.append(n)

    transposed: Iterable[Sequence[str | None]] = zip(*kept, strict=True) if kept else [()] * width
    columns = {name: list(values) for name, values in zip(names, transposed, strict=True)}
    return names, columns, np.asarray(rows, dtype=np.int64)


def _read_rdf(
    spec: RdfSource, problems: _Problems
) -> tuple[list[str], dict[str, list[str | None]], _Lines, _Alternatives]:
    """Names, columns and first answer rows of a SPARQL SELECT over dump files."""
    names, rows = query_dumps(spec, problems.error)
    return _answer_columns(names, rows, spec.id, spec.languages, spec.values, problems)


def _read_remote(
    spec: SparqlSource | RqlSource, problems: _Problems, environment: Environment
) -> tuple[list[str], dict[str, list[str | None]], _Lines, _Alternatives]:
    """Names, columns and first answer rows of a SPARQL endpoint or CubicWeb instance."""
    answer, _ = fetch_answer(spec, problems.source, environment)
    return _answer_columns(
        answer.names, answer.rows, spec.id, spec.languages, spec.values, problems
    )


def _answer_columns(
    names: list[str],
    rows: list[list[Term | None]],
    id_spec: str | int | dict[Literal["template"], str],
    languages: list[str],
    values: str,
    problems: _Problems,
) -> tuple[list[str], dict[str, list[str | None]], _Lines, _Alternatives]:
    """One record per id from a query's rows (see :mod:`engine.alignment.terms`).

    With ``values: all``, also every value of the records that have several.
    """
    _check_names(names, problems, "the query's variables")
    if not rows:
        raise problems.error(
            "the query returned no rows: check it against the data (an empty source links nothing)"
        )
    for i, name in enumerate(names):
        if all(row[i] is None for row in rows):
            raise problems.error(
                f"variable ?{name} is unbound in every row: check its spelling in the"
                " WHERE clause, or drop it from the SELECT"
            )
    if isinstance(id_spec, dict):
        refs = _PLACEHOLDER.findall(id_spec["template"])
        used = [_column_name(ref, names, problems, "the id template") for ref in refs]
    else:
        used = [_column_name(id_spec, names, problems, "`id:`")]
    keys = [names.index(name) for name in dict.fromkeys(used)]
    merged = merge_rows(names, rows, keys, languages, problems.row)
    if merged.unlisted:
        listed = ", ".join(lang or "no tag" for lang in languages)
        for name, count in merged.unlisted.items():
            records = "1 record has" if count == 1 else f"{count:,} records have"
            problems.warnings.append(
                f"{problems.source}: {records} no ?{name} in the listed languages ({listed}):"
                f" {'its' if count == 1 else 'their'} {name} is missing"
            )
    several = all_values(names, rows, keys, languages) if values == "all" else {}
    return names, merged.columns, np.asarray(merged.first_rows, dtype=np.int64), several


# --------------------------------------------------------------------------- ids


def _column_name(ref: str | int, names: list[str], problems: _Problems, what: str) -> str:
    """Resolve a column name or 0-based index, or fail listing the columns."""
    if isinstance(ref, int):
        if 0 <= ref < len(names):
            return names[ref]
        raise problems.error(
            f"{what} refers to column {ref}, but there are {len(names)} columns"
            f" (0..{len(names) - 1}: {', '.join(names)})"
        )
    if ref in names:
        return ref
    # Placeholders are text: ``{2}`` may mean the third column when it is not a name.
    if ref.isascii() and ref.isdigit() and int(ref) < len(names):
        return names[int(ref)]
    hint = delimiter_hint(names, [ref], problems.delimiter)
    if hint:
        raise problems.error(f"{what} refers to column '{ref}', but {hint}")
    raise problems.error(
        f"{what} refers to unknown column '{ref}'{closest(ref, names)} (columns: {', '.join(names)})"
    )


def _make_ids(
    id_spec: str | int | dict[Literal["template"], str],
    names: list[str],
    columns: dict[str, list[str | None]],
    rows: _Lines,
    problems: _Problems,
) -> tuple[list[str], list[int] | None]:
    """Each record's IRI, and the indexes of the records to keep (None: all of them)."""
    if isinstance(id_spec, dict):
        template = id_spec["template"]
        used, fmt = _compile_template(template, names, problems)
        candidates = _template_ids(fmt, [columns[name] for name in used])
        # Encoded values only hold IRI-safe characters and the template was checked
        # once: only a missing value can spoil an id.
        bad = [i for i, iri in enumerate(candidates) if iri is None] if None in candidates else []
    else:
        used = [_column_name(id_spec, names, problems, "`id:`")]
        candidates = columns[used[0]]
        # all(map(...)) runs in C; the per-row Python loop only runs when some id is bad.
        bad = []
        if None in candidates or not all(map(_IRI.match, cast(list[str], candidates))):
            bad = [i for i, v in enumerate(candidates) if v is None or not _IRI.match(v)]

    # The common case is clean data: one pass and one set before any per-row work.
    if not bad and len(set(candidates)) == len(candidates):
        return [iri for iri in candidates if iri is not None], None

    reasons: dict[int, str] = {}
    for i in bad:
        iri = candidates[i]
        if isinstance(id_spec, dict):
            missing = [name for name in used if columns[name][i] is None]
            reasons[i] = f"missing value for the id template (column {', '.join(missing)})"
        elif iri is None:
            reasons[i] = f"missing id (column {used[0]})"
        elif iri.startswith("_:"):
            reasons[i] = (
                f"id {iri} (column {used[0]}) is a blank node: it names nothing outside this"
                " answer; select an IRI for the id"
            )
        elif _SCHEME.match(iri) and (char := _NOT_IN_IRI.search(iri)) is not None:
            # Shown escaped: a control character would be invisible, or break the line.
            reasons[i] = (
                f"id '{_escaped(iri)}' (column {used[0]}) holds {_character(char.group())},"
                " which an IRI cannot hold"
            )
        elif _SCHEME.match(iri) and iri.count("#") > 1:
            reasons[i] = (
                f"id '{iri}' (column {used[0]}) holds more than one '#': only its fragment"
                " may start with one (write the others %23)"
            )
        elif _SCHEME.match(iri) and (bad_percent := _BAD_PERCENT.search(iri)) is not None:
            reasons[i] = (
                f"id '{iri}' (column {used[0]}) holds '{bad_percent.group()}': a '%' must"
                " start a percent-encoded octet such as %20 (write a '%' itself %25)"
            )
        else:
            reasons[i] = (
                f"id '{iri}' (column {used[0]}) is not an absolute IRI; to build ids from"
                f" plain values use `id: {{template: 'http://example.org/thing/{{{used[0]}}}'}}`"
            )
    first: dict[str, int] = {}
    for i, iri in enumerate(candidates):
        if iri is None or i in reasons:
            continue
        if iri in first:
            reasons[i] = f"duplicate id <{iri}> (first used at {problems.where(rows[first[iri]])})"
        else:
            first[iri] = i
    for i in sorted(reasons):
        problems.row(int(rows[i]), reasons[i])
    keep = [i for i in range(len(candidates)) if i not in reasons]
    return [iri for i in keep if (iri := candidates[i]) is not None], keep


def _compile_template(
    template: str, names: list[str], problems: _Problems
) -> tuple[list[str], str]:
    """The columns a template uses, and the template as a positional format string."""
    refs = _PLACEHOLDER.findall(template)
    if not refs:
        raise problems.error(
            f"the id template '{template}' has no {{column}} placeholder: every record"
            " would get the same id"
        )
    used = [_column_name(ref, names, problems, "the id template") for ref in refs]
    # The literal parts must be IRI text, which cannot hold braces: a stray brace is a
    # typo, not something to escape.
    literal = _PLACEHOLDER.split(template)[::2]
    if any("{" in part or "}" in part for part in literal):
        raise problems.error(f"the id template '{template}' has an unmatched brace")
    # The scheme must be written out: a value cannot be checked once for all rows.
    if not _SCHEME.match(literal[0]) or not _IRI.match("x".join(literal)):
        raise problems.error(
            f"the id template '{template}' does not make absolute IRIs"
            " (start it with a scheme, e.g. http://example.org/person/{id})"
        )
    fmt = "".join(part + f"{{{i}}}" for i, part in enumerate(literal[:-1])) + literal[-1]
    return used, fmt


def _template_ids(fmt: str, values: list[list[str | None]]) -> list[str | None]:
    """Fill the format string with each record's percent-encoded values."""
    # quote(safe="") leaves only unreserved characters (letters, digits, -._~) as they
    # are: spaces, slashes, '#' and accents cannot break or change the IRI's structure.
    # Most values hold nothing else (words, numbers, rec-1-org): quote() (slow, ~2 µs)
    # would return them unchanged.
    plain = _UNRESERVED.fullmatch
    encoded = [
        [v if v is None or plain(v) else quote(v, safe="") for v in column] for column in values
    ]
    if len(encoded) == 1:
        # One placeholder: concatenation is several times faster than str.format.
        head, _, tail = fmt.partition("{0}")
        return [None if v is None else head + v + tail for v in encoded[0]]
    return [None if None in parts else fmt.format(*parts) for parts in zip(*encoded, strict=True)]
