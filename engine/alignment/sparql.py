"""Read every row of a SPARQL SELECT from an endpoint, page by page.

Endpoints cap their answers (Virtuoso at 10,000 rows by default) and say
nothing about it: a source read in one request silently loses rows, and so
links. The query is therefore read in pages: the user's query as a subquery,
``ORDER BY`` every projected variable (a total order, so pages neither
overlap nor skip rows) with ``LIMIT page_size OFFSET k``; the offset moves on
by the rows actually received and reading stops only at an empty page. A
store whose cap is lower than ``page_size`` therefore still gives every row.

Virtuoso refuses to sort more than ``MaxSortedTopRows`` rows for an
``OFFSET`` (error SR353): on that error the pages are asked again in the form
Virtuoso documents, the ordered query as a subquery with the ``LIMIT`` and
``OFFSET`` outside.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from engine.alignment.terms import Term, from_json_binding
from engine.http import Auth, HttpFailure, Response, RetryPolicy, request

__all__ = ["Answer", "QueryFailure", "SparqlFailure", "fetch", "paged_query", "split_query"]

#: Answer formats asked for, best first.
_ACCEPT = "application/sparql-results+json, application/json;q=0.9"
_PROLOGUE = re.compile(
    r"(?:\s+|#[^\n]*\n|PREFIX\s+[\w.\-]*:\s*<[^>]*>|BASE\s*<[^>]*>)*", re.IGNORECASE
)
_SELECT = re.compile(
    r"SELECT\s+(?:(DISTINCT|REDUCED)\s+)?(.*?)\s*(?:WHERE\s*)?\{", re.IGNORECASE | re.DOTALL
)
_VARIABLE = re.compile(r"[?$]([A-Za-z_][\w]*)")
_ALIAS = re.compile(r"\bAS\s+[?$]([A-Za-z_]\w*)\s*\)", re.IGNORECASE)
_LIMIT_OFFSET = re.compile(r"\b(LIMIT|OFFSET)\s+\d+", re.IGNORECASE)
_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)
#: What Virtuoso says when an OFFSET needs more sorted rows than MaxSortedTopRows.
_SORT_LIMIT = re.compile(r"SR353|Sorted TOP", re.IGNORECASE)

log = logging.getLogger(__name__)


class QueryFailure(Exception):
    """A source's endpoint failed for good; ``query`` is the text that was sent."""

    def __init__(self, message: str, query: str) -> None:
        super().__init__(message)
        self.message = message
        self.query = query


#: The failure of a SPARQL endpoint.
SparqlFailure = QueryFailure


@dataclass(frozen=True)
class Answer:
    """Every row of a SELECT: the variables, then one term (or None) per variable."""

    names: list[str]
    rows: list[list[Term | None]]
    requests: int


@dataclass(frozen=True)
class SplitQuery:
    """A SELECT cut into its parts: prologue, body, projected variables, modifiers."""

    prologue: str
    body: str
    variables: list[str]
    ordered: bool
    limited: bool


def _projection(clause: str) -> list[str]:
    """The variables a SELECT clause projects, aliases included (``?a, ?b`` too)."""
    names: list[str] = []
    depth = 0
    token = ""
    for char in clause + " ":
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        token += char
        if depth == 0 and (char.isspace() or char == "," or char == ")"):
            text = token.strip().strip(",").strip()
            token = ""
            if not text:
                continue
            alias = _ALIAS.search(text)
            if alias:
                names.append(alias.group(1))
            else:
                names.extend(_VARIABLE.findall(text))
    return list(dict.fromkeys(names))


def _star_variables(query: str) -> list[str]:
    """The in-scope variables of ``SELECT *``, from rdflib's SPARQL algebra."""
    from rdflib.plugins.sparql import prepareQuery

    try:
        prepared = prepareQuery(query)
    except Exception as exc:  # pyparsing errors and others: the query is not plain SPARQL
        raise ValueError(
            "cannot tell the variables of SELECT *; name them in the SELECT clause"
            f" ({type(exc).__name__}: {exc})"
        ) from None
    return [str(v) for v in prepared.algebra["PV"]]


def split_query(query: str) -> SplitQuery:
    """Cut a SELECT into the parts paging needs; ValueError when it is not a SELECT."""
    prologue = _PROLOGUE.match(query)
    start = prologue.end() if prologue else 0
    body = query[start:].strip()
    select = _SELECT.match(body)
    if select is None:
        raise ValueError("the query must be a SELECT (after its PREFIX and BASE lines)")
    clause = select.group(2).strip()
    variables = _star_variables(query) if clause == "*" else _projection(clause)
    if not variables:
        raise ValueError("the SELECT clause names no variable")
    # Solution modifiers follow the last closing brace of the WHERE clause.
    tail = body[body.rfind("}") + 1 :]
    return SplitQuery(
        prologue=query[:start],
        body=body,
        variables=variables,
        ordered=_ORDER_BY.search(tail) is not None,
        limited=_LIMIT_OFFSET.search(tail) is not None,
    )


def paged_query(split: SplitQuery, limit: int, offset: int, subquery: bool = False) -> str:
    """The query of one page: the user's query as a subquery, ordered on every variable.

    Wrapping the whole query keeps what it says (DISTINCT, GROUP BY, its own
    LIMIT, a trailing VALUES block or comment) and orders the page on every
    projected variable, a total order whatever the user's ORDER BY was.
    ``subquery`` puts the ORDER BY inside and LIMIT/OFFSET outside, the form
    Virtuoso documents for sorts past its MaxSortedTopRows.
    """
    projection = " ".join(f"?{v}" for v in split.variables)
    inner = f"{{\n{{\n{split.body}\n}}\n}}"  # newlines: a trailing comment stays closed
    order = f"ORDER BY {projection}"
    if subquery:
        return (
            f"{split.prologue}SELECT {projection} WHERE {{\n{{\nSELECT {projection} WHERE"
            f" {inner}\n{order}\n}}\n}}\nLIMIT {limit} OFFSET {offset}"
        )
    return (
        f"{split.prologue}SELECT {projection} WHERE {inner}\n{order}\nLIMIT {limit} OFFSET {offset}"
    )


Page = tuple[list[str], list[list[Term | None]], int | None]


_NOT_JSON = "the endpoint did not answer SPARQL JSON results"


def _body_excerpt(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _final(reason: str) -> bool:
    """Failures that asking again cannot fix: Virtuoso's sort limit, a non-JSON answer."""
    return _SORT_LIMIT.search(reason) is not None or _NOT_JSON in reason


def _own_limit(split: SplitQuery) -> int | None:
    """The query's own top-level LIMIT, when it has one."""
    tail = split.body[split.body.rfind("}") + 1 :]
    match = re.search(r"\bLIMIT\s+(\d+)", tail, re.IGNORECASE)
    return int(match.group(1)) if match else None


def _parse(response: Response) -> Page:
    """Variables, rows and the row cap the endpoint says it applied (Virtuoso's
    ``X-SPARQL-MaxRows``) of a SPARQL JSON answer; ValueError when it is cut or malformed."""
    state = response.headers.get("x-sql-state")
    if state:  # Virtuoso's "anytime" answers: a partial result with status 200
        message = response.headers.get("x-sql-message", "")
        raise ValueError(f"the endpoint returned a partial answer ({state} {message})".strip())
    kind = response.headers.get("content-type", "")
    if kind and "json" not in kind:
        # A whole answer of another kind (an HTML error page, XML results): final.
        raise ValueError(f"{_NOT_JSON} ({kind}): {_body_excerpt(response.body)}")
    try:
        document = json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"not a complete SPARQL JSON answer ({kind or 'no content type'}): {exc}"
        ) from None
    try:
        names = [str(v) for v in document["head"]["vars"]]
        bindings = document["results"]["bindings"]
        rows = [
            [None if (b := binding.get(n)) is None else from_json_binding(b) for n in names]
            for binding in bindings
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a SPARQL SELECT answer (missing {exc})") from None
    cap = response.headers.get("x-sparql-maxrows", "")
    return names, rows, int(cap) if cap.isdigit() else None


def _ask(
    endpoint: str,
    query: str,
    default_graph: str | None,
    auth: Auth | None,
    policy: RetryPolicy,
    sleep: Callable[[float], None] | None,
) -> Page:
    form = [("query", query)]
    if default_graph:
        form.append(("default-graph-uri", default_graph))
    return request(
        endpoint,
        method="POST",  # queries can be long; POST has no URL length limit
        data=urllib.parse.urlencode(form).encode("utf-8"),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": _ACCEPT},
        auth=auth,
        policy=policy,
        parse=_parse,
        sleep=sleep,
        final=_final,
    )


def fetch(
    endpoint: str,
    query: str,
    *,
    page_size: int | None,
    default_graph: str | None = None,
    auth: Auth | None = None,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen
    sleep: Callable[[float], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Answer:
    """Every row of ``query`` on ``endpoint``; raises :class:`SparqlFailure`.

    Without ``page_size`` one request is made (an answer the endpoint says it
    cut is then an error). ``progress`` is called with the rows read so far.
    """
    try:
        split = split_query(query)
    except ValueError as exc:
        raise SparqlFailure(str(exc), query) from None
    if page_size is None:
        try:
            head, whole, cap = _ask(endpoint, query, default_graph, auth, policy, sleep)
        except HttpFailure as exc:
            raise SparqlFailure(exc.message, query) from None
        if cap is not None and len(whole) >= cap and _own_limit(split) != len(whole):
            raise SparqlFailure(
                f"the endpoint cut its answer at {cap:,} rows (X-SPARQL-MaxRows): rows would be"
                " lost; set page_size to read the answer in pages",
                query,
            )
        return Answer(head, whole, 1)

    rows: list[list[Term | None]] = []
    names: list[str] = split.variables
    subquery = False
    previous: list[list[Term | None]] | None = None
    requests = 0
    while True:
        text = paged_query(split, page_size, len(rows), subquery)
        requests += 1
        try:
            names, page, _ = _ask(endpoint, text, default_graph, auth, policy, sleep)
        except HttpFailure as exc:
            if not subquery and _SORT_LIMIT.search(exc.message):
                subquery = True  # Virtuoso's sort limit: its documented paging form
                log.info(
                    "%s: sort limit at offset %d, paging in subquery form", endpoint, len(rows)
                )
                continue
            raise SparqlFailure(
                f"{exc.message} (reading rows from offset {len(rows):,})", text
            ) from None
        if not page:
            return Answer(names, rows, requests)
        # Sorted pages cannot repeat a block of two different rows: OFFSET was ignored.
        if page == previous and len({tuple(row) for row in page}) > 1:
            raise SparqlFailure(
                "the endpoint answered the same page for two offsets: it ignores OFFSET;"
                " set page_size: null to read the answer in one request",
                text,
            )
        previous = page
        rows.extend(page)
        if progress is not None:
            progress(len(rows))
