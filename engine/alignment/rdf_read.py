"""A SPARQL SELECT over RDF dump files: its variables and rows of terms.

Dumps are parsed and queried by pyoxigraph (a Rust store, an order of magnitude
faster than rdflib) when it gives the answer rdflib gives, and by rdflib
otherwise, which also reports what is wrong with a file or a query:

- pyoxigraph reads Turtle, N-Triples and RDF/XML here; N-Quads and TriG (named
  graphs: rdflib's ``Graph`` and a store's default graph hold different
  triples) and JSON-LD (remote contexts) stay with rdflib;
- both stores replace some typed literals by a canonical form, each its own
  (``"1.50"^^xsd:decimal``, ``"1e3"^^xsd:double``, ``"+5"^^xsd:integer``): a
  dump holding an XSD-typed literal whose text either store may change is
  rdflib's;
- a query naming other graphs, or whose solutions a store chooses or orders
  its own way (ORDER BY, LIMIT/OFFSET, GROUP BY, SAMPLE and other aggregates),
  is rdflib's whatever the dumps hold;
- a query or a file pyoxigraph refuses is rdflib's too, whose messages the
  user knows.

A SELECT without ORDER BY answers in an order SPARQL leaves to the store: its
rows are sorted (by each variable's term in turn) so that records do not depend
on the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.alignment.headers import display_path
from engine.alignment.terms import XSD, Term, from_rdflib
from engine.errors import DataError
from schemas.alignment import RdfSource

__all__ = ["query_dumps", "stable_literal"]

#: rdflib's parser names -> pyoxigraph's formats (by name: pyoxigraph is imported late).
_OXIGRAPH_FORMATS = {"turtle": "TURTLE", "nt": "N_TRIPLES", "xml": "RDF_XML"}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_LANG_STRING = _RDF + "langString"
_STRING = XSD + "string"
#: A language tag with a capital letter (Turtle, N-Triples, RDF/XML). Three patterns, each
#: starting with a literal text that the regular expression engine searches fast.
_UPPER_TAGS = (
    re.compile(rb'"@[A-Za-z0-9-]*[A-Z]'),
    re.compile(rb"'@[A-Za-z0-9-]*[A-Z]"),
    re.compile(rb"xml:lang\s*=\s*[\"'][A-Za-z0-9-]*[A-Z]"),
)
#: A typed literal of N-Triples: every quote of a line is its object's (IRIs hold none).
_NT_TYPED = re.compile(rb'"((?:[^"\\\n\r]|\\.)*)"\^\^<([^>\n\r]*)>')
#: Keywords whose answer depends on the store: other graphs than the dumps' (rdflib may
#: fetch a FROM <url>) or services; and solutions the stores choose or order each their
#: own way (ORDER BY collates strings differently; with LIMIT/OFFSET that picks other rows;
#: SAMPLE, GROUP_CONCAT and other aggregates take their group's values in store order).
#: Such queries are rdflib's, whatever the dumps hold, so an unrelated triple that sends
#: the dumps to rdflib (a literal either store would rewrite) never changes the records.
_STORE_DEPENDENT = re.compile(
    r"\b(?:FROM|GRAPH|SERVICE|ORDER|LIMIT|OFFSET|GROUP|SAMPLE|GROUP_CONCAT|COUNT|MIN|MAX|SUM|AVG)\b",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"0|-?[1-9][0-9]*")
#: The lexical forms rdflib and pyoxigraph both keep as written, per XSD datatype.
_STABLE: dict[str, re.Pattern[str]] = {
    XSD + "integer": _INTEGER,
    XSD + "int": _INTEGER,
    XSD + "long": _INTEGER,
    XSD + "boolean": re.compile(r"true|false"),
    XSD + "date": re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    XSD + "decimal": re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]*[1-9]"),
}

Rows = list[list[Term | None]]


def stable_literal(datatype: str | None, text: str) -> bool:
    """Whether both stores give a literal of this datatype back as written.

    Text (plain, ``xsd:string``, language-tagged) and datatypes outside XSD and
    RDF (``geo:wktLiteral``...) are kept as they are; XSD values only in the
    forms of :data:`_STABLE`.
    """
    if datatype is None or datatype in (_STRING, _LANG_STRING):
        return True
    if not datatype.startswith((XSD, _RDF)):
        return True
    test = _STABLE.get(datatype)
    return test is not None and test.fullmatch(text) is not None


def query_dumps(spec: RdfSource, error: Callable[[str], DataError]) -> tuple[list[str], Rows]:
    """The variables of ``spec.query`` over the dumps, and its rows in a store-free order.

    ``error(message)`` makes the error on the source for a bad query.
    """
    answer = _with_oxigraph(spec)
    if answer is None:
        answer = _with_rdflib(spec, error)
    names, rows = answer
    if not _ordered(spec.query):
        rows.sort(key=lambda row: tuple(_order_key(term) for term in row))
    return names, rows


def _order_key(term: Term | None) -> tuple[Any, ...]:
    if term is None:
        return (0,)
    datatype = "" if term.datatype in (None, _STRING) else term.datatype
    return (1, term.kind, term.value, term.lang or "", datatype)


def _keywords(query: str) -> str:
    """The query without IRIs, strings and comments: what is left are its keywords."""
    text = re.sub(r"<[^<>\"{}|^`\\\s]*>", "<>", query)
    text = re.sub(
        r"'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"",
        '""',
        text,
        flags=re.S,
    )
    return re.sub(r"#[^\n]*", " ", text)


def _ordered(query: str) -> bool:
    """Whether the query's outermost SELECT has an ORDER BY (after its last brace)."""
    text = _keywords(query)
    return re.search(r"\bORDER\s+BY\b", text[text.rfind("}") + 1 :], re.IGNORECASE) is not None


def _with_rdflib(spec: RdfSource, error: Callable[[str], DataError]) -> tuple[list[str], Rows]:
    # Imported here: rdflib costs a noticeable start-up that other sources never need.
    from rdflib import Graph

    graph = Graph()
    for path in spec.rdf:
        try:
            graph.parse(str(path), format=spec.format_of(path))
        except Exception as exc:  # rdflib raises many kinds: all are bad data
            raise DataError(
                display_path(path), f"cannot read as {spec.format_of(path)}: {exc}"
            ) from None
    try:
        result = graph.query(spec.query)
        if result.type != "SELECT" or result.vars is None:
            raise error("the SPARQL query must be a SELECT")
        names = [str(v) for v in result.vars]
        # Inside the try: rdflib evaluates the query as its rows are read.
        rows = [[from_rdflib(term) for term in row] for row in result if isinstance(row, tuple)]
    except DataError:
        raise
    except Exception as exc:  # parse and evaluation errors alike
        raise error(f"the SPARQL query failed: {exc}") from None
    return names, rows


def _with_oxigraph(spec: RdfSource) -> tuple[list[str], Rows] | None:
    """The answer by pyoxigraph, or None where rdflib must answer (see the module)."""
    formats = [_OXIGRAPH_FORMATS.get(spec.format_of(path)) for path in spec.rdf]
    if None in formats or _STORE_DEPENDENT.search(_keywords(spec.query)):
        return None
    import pyoxigraph as ox

    store = ox.Store()
    for path, name in zip(spec.rdf, formats, strict=True):
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        if any(tag.search(data) for tag in _UPPER_TAGS):
            return None  # pyoxigraph lower-cases tags: lang() would not give the text's
        format = getattr(ox.RdfFormat, str(name))
        base = Path(path).resolve().as_uri()
        try:
            if name == "N_TRIPLES":
                # The typed literals are found in the text: the store parses it alone.
                if not all(
                    stable_literal(kind.decode(), text.decode())
                    for text, kind in _NT_TYPED.findall(data)
                ):
                    return None
                store.load(data, format, base_iri=base)
            else:
                quads = []
                # Fresh blank nodes per file, as rdflib and the store's load make them.
                parsed = ox.parse(data, format, base_iri=base, rename_blank_nodes=True)
                for quad in parsed:
                    term = quad.object
                    if type(term) is ox.Literal and not stable_literal(
                        term.datatype.value, term.value
                    ):
                        return None
                    quads.append(quad)
                store.extend(quads)
        except (SyntaxError, OSError, ValueError):  # UnicodeDecodeError too
            return None
    names: list[str] = []
    rows: Rows = []
    try:
        # Solutions are computed while they are read: an error may come at any row.
        result = store.query(spec.query)
        if not isinstance(result, ox.QuerySolutions):
            return None
        names = [variable.value for variable in result.variables]
        for solution in result:
            row = [_term(ox, value) for value in solution]
            if any(term is False for term in row):
                return None
            rows.append(row)  # type: ignore[arg-type]  # no False left
    except Exception:  # a syntax or function rdflib may know: it answers, or says what is wrong
        return None
    return names, rows


def _term(ox: Any, value: Any) -> Term | bool | None:
    """A pyoxigraph term as rdflib's reading gives it; False for one it cannot match."""
    if value is None:
        return None
    kind = type(value)
    if kind is ox.NamedNode:
        return Term("uri", value.value)
    if kind is ox.BlankNode:
        return Term("bnode", value.value)
    if kind is ox.Literal:
        language = value.language
        datatype = value.datatype.value
        if not stable_literal(datatype, value.value):
            return False  # computed by the query (a sum, a cast): its text may differ
        if language or datatype == _STRING:
            # rdflib gives a plain or tagged literal no datatype.
            datatype = None
        return Term("literal", value.value, language.lower() if language else None, datatype)
    return False  # a quoted triple (RDF-star): rdflib has none
