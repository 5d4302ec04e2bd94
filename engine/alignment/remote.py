"""Sources read over HTTP (SPARQL endpoints, CubicWeb RQL): credentials, cache, errors.

The answer of a source is kept, when the spec sets ``cache:``, in one JSON
file per endpoint and query (sha256 of both), written atomically; a later
run reads it instead of asking again, until ``cache_ttl_s`` has passed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.alignment import rql, sparql
from engine.alignment.sparql import Answer
from engine.alignment.terms import Term
from engine.environment import Environment
from engine.errors import DataError
from engine.http import Auth, RetryPolicy
from schemas.alignment import AuthSpec, RqlSource, SparqlSource

__all__ = ["fetch_answer", "resolve_auth"]

#: Bump when the cached file layout changes: older entries are then ignored.
_CACHE_VERSION = 1

log = logging.getLogger(__name__)


def resolve_auth(spec: AuthSpec | None, where: str, environment: Environment) -> Auth | None:
    """Credentials from the variables the spec names, read in ``environment`` only.

    ``environment`` is the run's (see :mod:`engine.environment`): the process's
    for the command line, only what the operator passed for the web interface.
    """
    if spec is None:
        return None
    password = environment.require(spec.password_env, "auth.password_env", where)
    user = spec.user
    if spec.user_env is not None:
        user = environment.require(spec.user_env, "auth.user_env", where)
    assert user is not None
    return Auth(spec.method, user, password)


def _cache_file(spec: SparqlSource | RqlSource, query: str) -> Path | None:
    if spec.cache is None:
        return None
    kind = "sparql" if isinstance(spec, SparqlSource) else "rql"
    extra = spec.default_graph if isinstance(spec, SparqlSource) else ",".join(spec.columns)
    key = json.dumps([_CACHE_VERSION, kind, spec.endpoint, query, extra or ""])
    return Path(spec.cache) / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _read_cache(path: Path, ttl: float | None) -> Answer | None:
    try:
        if ttl is not None and time.time() - path.stat().st_mtime > ttl:
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        rows = [[None if t is None else Term(*t) for t in row] for row in document["rows"]]
        return Answer([str(n) for n in document["names"]], rows, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no entry, or a damaged one: ask the endpoint again


def _write_cache(path: Path, spec: SparqlSource | RqlSource, answer: Answer) -> None:
    document: dict[str, Any] = {
        "endpoint": spec.endpoint,
        "names": answer.names,
        "rows": [[None if t is None else list(t) for t in row] for row in answer.rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, separators=(",", ":"))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _excerpt(query: str) -> str:
    lines = [line.rstrip() for line in query.strip().splitlines()]
    return "\n".join(f"    {line}" for line in lines[:40]) + (
        "\n    ..." if len(lines) > 40 else ""
    )


def _page_logger(where: str) -> Callable[[int], None]:
    """A page callback that logs each page read: its rows and the rows so far."""
    seen = {"pages": 0, "rows": 0}
    started = time.perf_counter()

    def page(rows: int) -> None:
        seen["pages"] += 1
        log.info(
            "%s: page %d read, %d rows (%d so far, %.1f s)",
            where,
            seen["pages"],
            rows - seen["rows"],
            rows,
            time.perf_counter() - started,
        )
        seen["rows"] = rows

    return page


def fetch_answer(
    spec: SparqlSource | RqlSource, where: str, environment: Environment
) -> tuple[Answer, bool]:
    """The whole answer of a remote source, and whether it came from the cache.

    ``where`` names the source in errors and log lines; the credentials are
    read in ``environment`` (see :func:`resolve_auth`). Failures raise
    :class:`DataError` with the endpoint's reason and the query that was sent.
    """
    query = spec.query_text()
    cache = _cache_file(spec, query)
    if cache is not None:
        cached = _read_cache(cache, spec.cache_ttl_s)
        if cached is not None:
            log.info("%s: %d rows read from the cache %s", where, len(cached.rows), cache)
            return cached, True
    auth = resolve_auth(spec.auth, where, environment)
    policy = RetryPolicy(spec.timeout_s, spec.retries, spec.backoff_s)
    kind = "SPARQL" if isinstance(spec, SparqlSource) else "RQL"
    paging = f"in pages of {spec.page_size:,} rows" if spec.page_size else "in one request"
    log.info("%s: reading the %s answer %s", where, kind, paging)
    log.debug("%s: query:\n%s", where, _excerpt(query))
    started = time.perf_counter()
    try:
        if isinstance(spec, SparqlSource):
            answer = sparql.fetch(
                spec.sparql,
                query,
                page_size=spec.page_size,
                default_graph=spec.default_graph,
                auth=auth,
                policy=policy,
                progress=_page_logger(where),
            )
        else:
            answer = rql.fetch(
                spec.rql,
                query,
                spec.columns,
                page_size=spec.page_size,
                auth=auth,
                policy=policy,
                progress=_page_logger(where),
            )
    except (sparql.SparqlFailure, rql.RqlFailure) as exc:
        raise DataError(
            where, f"the {kind} query failed: {exc.message}\n  query sent:\n{_excerpt(exc.query)}"
        ) from None
    log.info(
        "%s: %d rows in %d request(s), %.1f s",
        where,
        len(answer.rows),
        answer.requests,
        time.perf_counter() - started,
    )
    if cache is not None:
        try:
            _write_cache(cache, spec, answer)
        except OSError as exc:
            raise DataError(str(cache), f"cannot write the cache: {exc.strerror or exc}") from None
        log.info("%s: answer cached in %s", where, cache)
    return answer, False
