"""Read the rows of an RQL query from a CubicWeb instance (``vid=jsonexport``).

CubicWeb answers ``GET BASE?rql=QUERY&vid=jsonexport`` with a JSON list of
rows, each a list of plain values (numbers, strings, null). With
``page_size`` the query is read in pages: ``ORDERBY`` every selected variable
(after the query's own keys, if any), ``LIMIT n OFFSET k``, before ``WHERE``
as RQL writes them, until a page comes back empty.
"""

from __future__ import annotations

import json
import math
import re
import urllib.parse
from collections.abc import Callable

from engine.alignment.sparql import Answer, QueryFailure
from engine.alignment.terms import Term
from engine.http import Auth, HttpFailure, Response, RetryPolicy, request

__all__ = ["RqlFailure", "fetch", "paged_rql"]

_SELECTION = re.compile(
    r"^\s*(?:DISTINCT\s+)?Any\s+([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)", re.IGNORECASE
)
_WHERE = re.compile(r"\bWHERE\b", re.IGNORECASE)
_ORDERBY = re.compile(r"\bORDERBY\b", re.IGNORECASE)
_LIMIT_OFFSET = re.compile(r"\b(LIMIT|OFFSET)\s+\d+", re.IGNORECASE)


#: The failure of a CubicWeb instance (``query`` is the RQL that was sent).
RqlFailure = QueryFailure


def paged_rql(query: str, limit: int, offset: int) -> str:
    """The RQL of one page; ValueError when the query cannot be paged."""
    where = _WHERE.search(query)
    head, tail = (query[: where.start()], query[where.start() :]) if where else (query, "")
    selection = _SELECTION.match(head)
    if selection is None:
        raise ValueError("cannot page an RQL query that does not start with 'Any X, ...'")
    # Every selected variable: a total order, so ties cannot move between pages.
    variables = ", ".join(v.strip() for v in selection.group(1).split(","))
    if _ORDERBY.search(head):
        head = f"{head.rstrip()}, {variables}"
        modifiers = ""
    else:
        modifiers = f"ORDERBY {variables} "
    modifiers += f"LIMIT {limit} OFFSET {offset} "
    return f"{head.rstrip()} {modifiers}{tail}".strip()


def _text(value: object) -> Term | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return Term("literal", "true" if value else "false")
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Term("literal", repr(int(value)) if value.is_integer() else repr(value))
    if isinstance(value, int | str):
        return Term("literal", str(value))
    raise ValueError(f"a value is a JSON {type(value).__name__}, expected a scalar")


def _parse(width: int) -> Callable[[Response], list[list[Term | None]]]:
    def parse(response: Response) -> list[list[Term | None]]:
        try:
            document = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            kind = response.headers.get("content-type", "unknown content type")
            raise ValueError(f"not a complete jsonexport answer ({kind}): {exc}") from None
        if not isinstance(document, list):
            raise ValueError("a jsonexport answer is a list of rows")
        rows: list[list[Term | None]] = []
        for number, row in enumerate(document, 1):
            if not isinstance(row, list) or len(row) != width:
                size = len(row) if isinstance(row, list) else "not a list"
                raise RqlFailure(
                    f"row {number} of the answer has {size} values, but `columns:` names {width}",
                    "",
                )
            rows.append([_text(value) for value in row])
        return rows

    return parse


def fetch(
    base: str,
    query: str,
    columns: list[str],
    *,
    page_size: int | None,
    auth: Auth | None = None,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen
    sleep: Callable[[float], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Answer:
    """Every row of ``query`` on the CubicWeb instance at ``base``; raises RqlFailure.

    ``progress`` is called with the rows read so far after each page.
    """

    def ask(text: str) -> list[list[Term | None]]:
        url = (
            base
            + ("&" if "?" in base else "?")
            + urllib.parse.urlencode({"rql": text, "vid": "jsonexport"})
        )
        try:
            return request(
                url,
                headers={"Accept": "application/json"},
                auth=auth,
                policy=policy,
                parse=_parse(len(columns)),
                sleep=sleep,
            )
        except HttpFailure as exc:
            raise RqlFailure(exc.message, text) from None
        except RqlFailure as exc:
            raise RqlFailure(exc.message, text) from None

    if page_size is None or _LIMIT_OFFSET.search(query):
        return Answer(list(columns), ask(query), 1)
    rows: list[list[Term | None]] = []
    requests = 0
    previous: list[list[Term | None]] | None = None
    while True:
        try:
            text = paged_rql(query, page_size, len(rows))
        except ValueError as exc:
            raise RqlFailure(str(exc), query) from None
        requests += 1
        page = ask(text)
        if not page:
            return Answer(list(columns), rows, requests)
        if page == previous and len({tuple(row) for row in page}) > 1:
            raise RqlFailure(
                "the instance answered the same page for two offsets; set page_size: null",
                text,
            )
        previous = page
        rows.extend(page)
        if progress is not None:
            progress(len(rows))
