"""RDF terms from query answers (SPARQL JSON, rdflib, RQL) into record columns.

Every answer is first turned into rows of :class:`Term`; one function then
makes the columns, whatever the source:

- a literal gives its lexical form (``"1950-01-01"^^xsd:date`` gives
  ``1950-01-01``; a date's time zone is dropped), an IRI its text, an unbound
  variable a missing value;
- a typed literal whose text does not fit its datatype (``"31/12"^^xsd:date``,
  ``"abc"^^xsd:integer``, a WKT point without two numbers) is a row problem
  (``on_error``), never a silent wrong value;
- rows that share a record id (several labels, several types...) merge into one
  record: per column the value in the most preferred language (``languages``,
  ``""`` standing for no tag, ``en`` also taking ``en-GB``), then the smallest
  text, so the result does not depend on the order the endpoint answered in;
- ``languages`` are strict: in a column holding language-tagged text, a record
  with no value in a listed language has a missing value there ("Chypre"@fr is
  no English label), and the records concerned are counted. Typed literals
  (dates, numbers, points), IRIs and columns without any tag are not language
  text and are kept whatever their tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

__all__ = ["Merged", "Term", "from_json_binding", "from_rdflib", "merge_rows", "wkt_point"]

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
#: Datatypes of text that a language tag may qualify (a plain literal has none).
_TEXT_TYPES = (None, XSD + "string", RDF_LANG_STRING)
WKT_LITERAL = "http://www.opengis.net/ont/geosparql#wktLiteral"


class Term(NamedTuple):
    """One RDF term of an answer: ``kind`` is ``uri``, ``literal`` or ``bnode``."""

    kind: str
    value: str
    lang: str | None = None
    datatype: str | None = None


def from_json_binding(binding: dict[str, Any]) -> Term:
    """A term of the SPARQL 1.1 JSON results format (also its 2008 ``typed-literal``)."""
    kind = binding.get("type")
    value = binding.get("value")
    if not isinstance(value, str) or kind not in ("uri", "literal", "typed-literal", "bnode"):
        raise ValueError(f"not a SPARQL JSON term: {binding!r}")
    if kind == "typed-literal":
        kind = "literal"
    lang = binding.get("xml:lang")
    datatype = binding.get("datatype")
    return Term(kind, value, lang.lower() if isinstance(lang, str) else None, datatype)


def from_rdflib(term: Any) -> Term | None:
    """A term of an rdflib result row (None for an unbound variable)."""
    if term is None:
        return None
    from rdflib import BNode, Literal

    if isinstance(term, Literal):
        datatype = str(term.datatype) if term.datatype is not None else None
        return Term(
            "literal", str(term), term.language.lower() if term.language else None, datatype
        )
    if isinstance(term, BNode):
        return Term("bnode", str(term))
    return Term("uri", str(term))


# --------------------------------------------------------------------------- typed literals

_TZ = r"(?:Z|[+-]\d{2}:\d{2})?"
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_LEXICAL: dict[str, re.Pattern[str]] = {
    XSD + "integer": re.compile(r"[+-]?\d+"),
    XSD + "int": re.compile(r"[+-]?\d+"),
    XSD + "long": re.compile(r"[+-]?\d+"),
    XSD + "nonNegativeInteger": re.compile(r"\+?\d+"),
    XSD + "positiveInteger": re.compile(r"\+?\d+"),
    XSD + "decimal": re.compile(_NUMBER),
    XSD + "double": re.compile(_NUMBER + r"(?:[eE][+-]?\d+)?|[+-]?INF|NaN"),
    XSD + "float": re.compile(_NUMBER + r"(?:[eE][+-]?\d+)?|[+-]?INF|NaN"),
    XSD + "boolean": re.compile(r"true|false|1|0"),
    XSD + "date": re.compile(r"-?\d{4,}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])" + _TZ),
    XSD + "dateTime": re.compile(
        r"-?\d{4,}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T\d{2}:\d{2}:\d{2}(?:\.\d+)?" + _TZ
    ),
    XSD + "gYear": re.compile(r"-?\d{4,}" + _TZ),
}
_SHORT = {XSD: "xsd:", "http://www.opengis.net/ont/geosparql#": "geo:"}
# An optional CRS IRI, then POINT (x y), as GeoSPARQL writes it (x = longitude in CRS84).
_WKT_POINT = re.compile(
    r"\s*(?:<([^>]*)>\s*)?POINT\s*(?:Z\s*|M\s*|ZM\s*)?\(\s*(" + _NUMBER + r"(?:[eE][+-]?\d+)?)"
    r"\s+(" + _NUMBER + r"(?:[eE][+-]?\d+)?)(?:\s+[^)]*)?\)\s*",
    re.IGNORECASE,
)
#: EPSG:4326 orders its axes latitude first; CRS84 (GeoSPARQL's default) longitude first.
_LAT_FIRST_CRS = ("http://www.opengis.net/def/crs/EPSG/0/4326",)


def _short(datatype: str) -> str:
    for namespace, prefix in _SHORT.items():
        if datatype.startswith(namespace):
            return prefix + datatype[len(namespace) :]
    return f"<{datatype}>"


def wkt_point(text: str) -> tuple[str, str] | None:
    """``(latitude, longitude)`` texts of a WKT point (``POINT(2.35 48.85)``), else None.

    GeoSPARQL's default CRS (CRS84) writes longitude first; a literal that names
    EPSG:4326 writes latitude first.
    """
    match = _WKT_POINT.fullmatch(text)
    if match is None:
        return None
    crs, x, y = match.groups()
    if crs in _LAT_FIRST_CRS:
        return x, y
    return y, x


def literal_problem(term: Term) -> str | None:
    """Why a typed literal's text does not fit its datatype, or None when it does."""
    if term.kind != "literal" or term.datatype is None:
        return None
    if term.datatype == WKT_LITERAL:
        if term.value.lstrip().upper().startswith(("POINT", "<")) and wkt_point(term.value) is None:
            return f"literal {term.value!r} is not a valid geo:wktLiteral point"
        return None
    pattern = _LEXICAL.get(term.datatype)
    if pattern is not None and pattern.fullmatch(term.value.strip()) is None:
        return f"literal {term.value!r} is not a valid {_short(term.datatype)}"
    return None


def cell(term: Term | None) -> str | None:
    """The text a term gives its column (None: a missing value)."""
    if term is None:
        return None
    if term.kind == "bnode":  # never an IRI, whatever label the store gives it
        return "_:" + term.value.removeprefix("_:")
    value = term.value
    if term.datatype == XSD + "date":
        value = value.strip()[:10] if not value.startswith("-") else value.strip()
    return value if value.strip() else None


# --------------------------------------------------------------------------- rows -> records


def _rank(languages: Sequence[str]) -> tuple[Callable[[Term | None], int], int]:
    """A literal's rank by language preference (lower is better; unbound is last).

    Also the rank of the languages that are not listed.
    """
    order: dict[str, int] = {}
    for lang in languages:  # the first of repeated languages counts
        order.setdefault(lang.lower(), len(order))
    unlisted, unbound = len(order), len(order) + 1

    def rank(term: Term | None) -> int:
        if term is None:
            return unbound
        if not order:
            return 0
        tag = term.lang or ""
        if tag in order:
            return order[tag]
        # A range matches its subtags (RFC 4647 basic filtering): "en" takes "en-gb".
        base = tag.split("-", 1)[0]
        return order.get(base, unlisted) if base != tag else unlisted

    return rank, unlisted


class Merged(NamedTuple):
    """Records merged from answer rows.

    ``columns``: one value per record and variable; ``first_rows``: each record's
    first answer row (1-based); ``unlisted``: per variable of language-tagged
    text, how many records had values there but none in a listed language
    (their value is missing).
    """

    columns: dict[str, list[str | None]]
    first_rows: list[int]
    unlisted: dict[str, int]


def _text(term: Term) -> bool:
    """Whether a term is text that a language tag may qualify."""
    return term.kind == "literal" and term.datatype in _TEXT_TYPES


def merge_rows(
    names: list[str],
    rows: Iterable[Sequence[Term | None]],
    key_columns: list[int],
    languages: Sequence[str],
    on_problem: Callable[[int, str], None],
) -> Merged:
    """Columns of one record per distinct key (see :class:`Merged`).

    ``key_columns`` are the positions of the variables the record id is made
    of. A row with a badly typed literal is reported to ``on_problem(row,
    reason)`` (which raises under ``on_error: fail``) and left out. With
    ``languages``, a record's text in a column of tagged text is kept only in a
    listed language.
    """
    rank, unlisted_rank = _rank(languages)
    tagged = [False] * len(names)
    groups: dict[tuple[str | None, ...], int] = {}
    best: list[list[Term | None]] = []
    first_rows: list[int] = []
    for number, row in enumerate(rows, 1):
        problem = next(
            (
                f"{reason} (variable ?{names[i]})"
                for i, term in enumerate(row)
                if term is not None and (reason := literal_problem(term)) is not None
            ),
            None,
        )
        if problem is not None:
            on_problem(number, problem)
            continue
        for i, term in enumerate(row):
            if term is not None and term.lang:
                tagged[i] = True
        key = tuple(cell(row[i]) for i in key_columns)
        index = groups.get(key)
        if index is None:
            groups[key] = len(best)
            best.append(list(row))
            first_rows.append(number)
            continue
        kept = best[index]
        for i, term in enumerate(row):
            old = kept[i]
            if term is None or old == term:
                continue
            if old is None or (rank(term), term.value) < (rank(old), old.value):
                kept[i] = term
    unlisted: dict[str, int] = {}
    if languages:
        for i, name in enumerate(names):
            if not tagged[i]:  # codes, numbers...: no language to choose
                continue
            count = 0
            for record in best:
                term = record[i]
                # The best-ranked value: listed whenever the record has a listed one.
                if term is not None and _text(term) and rank(term) >= unlisted_rank:
                    record[i] = None
                    count += 1
            if count:
                unlisted[name] = count
    columns = {name: [cell(record[i]) for record in best] for i, name in enumerate(names)}
    return Merged(columns, first_rows, unlisted)


def all_values(
    names: list[str],
    rows: Iterable[Sequence[Term | None]],
    key_columns: list[int],
    languages: Sequence[str],
) -> dict[str, dict[int, list[str]]]:
    """Every distinct value of each record and variable, where a record has several.

    Records are numbered as :func:`merge_rows` numbers them, and its rules hold:
    a record's values come best first (listed language, then text order), so
    the first is the value :func:`merge_rows` keeps; with ``languages``, text in
    a variable of tagged text counts only in a listed language. Rows with a
    badly typed literal are skipped (:func:`merge_rows` reports them).
    """
    rank, unlisted_rank = _rank(languages)
    tagged = [False] * len(names)
    groups: dict[tuple[str | None, ...], int] = {}
    # record -> variable -> value -> (its best rank, whether it is text)
    found: list[list[dict[str, tuple[int, bool]]]] = []
    for row in rows:
        if any(term is not None and literal_problem(term) is not None for term in row):
            continue
        key = tuple(cell(row[i]) for i in key_columns)
        index = groups.setdefault(key, len(groups))
        if index == len(found):
            found.append([{} for _ in names])
        for i, term in enumerate(row):
            value = None if term is None else cell(term)
            if term is None or value is None:
                continue
            tagged[i] = tagged[i] or bool(term.lang)
            level, seen = rank(term), found[index][i]
            if value not in seen or level < seen[value][0]:
                seen[value] = (level, _text(term))
    out: dict[str, dict[int, list[str]]] = {}
    for i, name in enumerate(names):
        several: dict[int, list[str]] = {}
        for index, variables in enumerate(found):
            values = variables[i]
            if languages and tagged[i]:
                values = {v: r for v, r in values.items() if not (r[1] and r[0] >= unlisted_rank)}
            if len(values) > 1:
                ranked = sorted((level, value) for value, (level, _) in values.items())
                several[index] = [value for _, value in ranked]
        if several:
            out[name] = several
    return out
