"""A CubicWeb-style RQL endpoint serving recorded ``vid=jsonexport`` answers.

CubicWeb itself is not needed to test the RQL source: what the engine relies on
is the protocol (``GET BASE?rql=QUERY&vid=jsonexport`` answering a JSON list of
rows) and RQL's ``ORDERBY``/``LIMIT``/``OFFSET``, which this server applies to
the recorded rows of the query as CubicWeb would. An unknown query is a 400
answer, as CubicWeb gives for a query it cannot run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.httpserver import Behaviour, Recorded, ScriptedServer, serve

__all__ = ["recorded_cubicweb"]

_MODIFIERS = re.compile(
    r"\s*(ORDERBY\s+(\w+(?:\s+(?:ASC|DESC))?(?:\s*,\s*\w+(?:\s+(?:ASC|DESC))?)*))?"
    r"\s*(LIMIT\s+(\d+))?\s*(OFFSET\s+(\d+))?\s*"
)


def _normal(query: str) -> str:
    return " ".join(query.split())


def _answer(recordings: dict[str, list[list[Any]]]) -> Behaviour:
    def answer(request: Recorded) -> tuple[int, str, bytes]:
        if request.query.get("vid") != ["jsonexport"] or "rql" not in request.query:
            return 400, "text/plain", b"expected ?rql=...&vid=jsonexport"
        query = _normal(request.query["rql"][0])
        head, _, where = query.partition(" WHERE ")
        selection = re.match(r"(Any\s+[\w\s,]+?)(?=\s+(?:ORDERBY|LIMIT|OFFSET)\b|$)", head)
        if selection is None:
            return 400, "text/plain", b"bad RQL"
        modifiers = _MODIFIERS.fullmatch(head[selection.end() :])
        recorded = recordings.get(f"{selection.group(1)} WHERE {where}")
        if recorded is None or modifiers is None:
            body = {"reason": f"unknown query: {query}", "title": "RQLSyntaxError"}
            return 400, "application/json", json.dumps(body).encode()
        rows = list(recorded)
        variables = [v.strip() for v in selection.group(1)[4:].split(",")]
        if modifiers.group(2):
            # Least significant key first, each sort stable: as a database orders.
            for key in reversed([k.split() for k in modifiers.group(2).split(",")]):
                column = variables.index(key[0])
                rows.sort(key=lambda row, c=column: row[c], reverse=key[-1] == "DESC")
        offset = int(modifiers.group(6) or 0)
        limit = int(modifiers.group(4)) if modifiers.group(4) else len(rows)
        page = rows[offset : offset + limit]
        return 200, "application/json", json.dumps(page).encode()

    return Behaviour(answer)


@contextmanager
def recorded_cubicweb(recordings: Path) -> Iterator[ScriptedServer]:
    """Serve the recorded answers of ``recordings`` (query text -> rows)."""
    data = {_normal(k): v for k, v in json.loads(recordings.read_text(encoding="utf-8")).items()}
    with serve(_answer(data)) as server:
        yield server
