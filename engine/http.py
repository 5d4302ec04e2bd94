"""HTTP for the linked-data sources and publishers: timeouts, retries, auth.

One small client on the standard library serves SPARQL queries and updates,
the Graph Store Protocol and CubicWeb RQL alike. SPARQLWrapper was the first
choice, but its digest authentication installs a process-wide urllib opener
(a side effect on every other request of the process) and it neither retries
nor tells a body cut mid-page from a complete one; this module does both.

A request is retried, with exponential back-off, when the server cannot be
reached, stalls past the timeout, closes the connection mid-answer, answers
5xx, 408 or 429, or sends a body that ``parse`` cannot read (a page cut
short). Any other 4xx is final at once: asking again cannot fix a bad query.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Literal, TypeVar

__all__ = ["Auth", "HttpFailure", "Response", "RetryPolicy", "request"]

T = TypeVar("T")

#: Statuses worth asking again: the server is overloaded, restarting or timed out.
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
#: How much of an error body a message quotes.
_BODY_SHOWN = 300


@dataclass(frozen=True)
class Auth:
    """Credentials for HTTP basic or digest authentication."""

    method: Literal["basic", "digest"]
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait for one answer, and how often to ask again."""

    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 1.0


@dataclass(frozen=True)
class Response:
    """A successful answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


class HttpFailure(Exception):
    """A request that failed for good: after its retries, or at once (4xx).

    ``status`` is the last HTTP status (None when no answer came back) and
    ``attempts`` how many requests were made.
    """

    def __init__(self, message: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.attempts = attempts


class _Retry(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, reason: str, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Redirects to http(s) only, and the credentials only to the same origin.

    urllib copies every header to the new URL, ``Authorization`` included: an
    endpoint that redirects to another server (moved, or hostile) would be
    handed the password. Another scheme (``ftp:``, which urllib follows) is refused.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme
        if scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                req.full_url, code, f"{msg}: a redirect to {newurl!r} is not followed", headers, fp
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


#: A private opener: never urllib.request.install_opener, no auth handlers (see _digest).
_OPENER = urllib.request.build_opener(_Redirects)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _digest(challenge: str, method: str, url: str, auth: Auth) -> str:
    """The ``Authorization`` answering an RFC 2617 Digest challenge (MD5, qop=auth).

    Signed before the request is sent: urllib's digest handler first sends the
    whole body unsigned, and a server that answers 401 and closes the
    connection (Virtuoso does) breaks large uploads with a broken pipe.
    """
    fields = urllib.request.parse_keqv_list(
        urllib.request.parse_http_list(challenge.split(" ", 1)[1] if " " in challenge else "")
    )
    parts = urllib.parse.urlsplit(url)
    uri = parts.path + (f"?{parts.query}" if parts.query else "")
    realm, nonce = fields.get("realm", ""), fields.get("nonce", "")
    cnonce, count = secrets.token_hex(8), "00000001"
    ha1 = _md5(f"{auth.user}:{realm}:{auth.password}")
    ha2 = _md5(f"{method}:{uri}")
    qop = fields.get("qop", "")
    if "auth" in [q.strip() for q in qop.split(",")]:
        response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc={count}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    header = (
        f'Digest username="{auth.user}", realm="{realm}", nonce="{nonce}", uri="{uri}",'
        f' response="{response}", algorithm=MD5{extra}'
    )
    if "opaque" in fields:
        header += f', opaque="{fields["opaque"]}"'
    return header


#: Digest challenges by URL (query left out): a nonce serves many requests, one GET
#: less each. By URL, not by server: one server may guard some paths and not others.
_CHALLENGES: dict[str, str] = {}


def _challenge(url: str, timeout: float, fresh: bool = False) -> str:
    """The server's Digest challenge, asked for with a bodiless GET (cached per server)."""
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if not fresh and origin in _CHALLENGES:
        return _CHALLENGES[origin]
    _CHALLENGES[origin] = challenge = _ask_challenge(url, timeout)
    return challenge


def _ask_challenge(url: str, timeout: float) -> str:
    """The challenge of a 401 answer to a bodiless GET; "" when the URL needs no credentials."""
    try:
        with _OPENER.open(urllib.request.Request(url, method="GET"), timeout=timeout):
            return ""
    except urllib.error.HTTPError as exc:
        header = exc.headers.get("WWW-Authenticate", "") if exc.headers else ""
        if exc.code == 401 and not header.lower().startswith("digest"):
            raise HttpFailure(
                "HTTP 401: the server does not offer digest authentication"
                f" ({header or 'no challenge'})",
                401,
                1,
            ) from None
        # Any other answer (400 for a GET without a query...) is no challenge.
        return header if exc.code == 401 else ""


def _body_text(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:_BODY_SHOWN] + ("..." if len(text) > _BODY_SHOWN else "")


def _attempt(
    url: str,
    method: str,
    data: bytes | None,
    headers: dict[str, str],
    auth: Auth | None,
    timeout: float,
) -> Response:
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    try:
        if auth is not None and auth.method == "basic":
            token = base64.b64encode(f"{auth.user}:{auth.password}".encode()).decode("ascii")
            req.add_header("Authorization", f"Basic {token}")
        elif auth is not None and (challenge := _challenge(url, timeout)):
            req.add_header("Authorization", _digest(challenge, method, url, auth))
        try:
            answer = _OPENER.open(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code != 401 or auth is None or auth.method != "digest":
                raise
            # A stale nonce, or the first request to this URL: a fresh challenge, once.
            challenge = _challenge(url, timeout, fresh=True)
            if not challenge:
                raise
            req.add_header("Authorization", _digest(challenge, method, url, auth))
            answer = _OPENER.open(req, timeout=timeout)
        with answer:
            body = answer.read()
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, body)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except (OSError, http.client.HTTPException):
            body = b""
        reason = f"HTTP {exc.code} {exc.reason}" + (f": {_body_text(body)}" if body else "")
        if exc.code in _RETRY_STATUS:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            wait = float(retry_after) if retry_after and retry_after.isdigit() else None
            raise _Retry(reason, exc.code, wait) from None
        raise HttpFailure(reason, exc.code, 1) from None
    except TimeoutError:
        raise _Retry(f"no answer within {timeout:g} s") from None
    except http.client.IncompleteRead as exc:
        raise _Retry(
            f"the connection closed mid-answer ({len(exc.partial)} bytes received)"
        ) from None
    except (http.client.HTTPException, ConnectionError) as exc:
        _refused(url, auth, data, timeout)
        raise _Retry(f"the connection failed: {type(exc).__name__} {exc}".strip()) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _Retry(f"no answer within {timeout:g} s") from None
        if isinstance(exc.reason, ConnectionError):
            _refused(url, auth, data, timeout)
        raise _Retry(f"cannot connect: {exc.reason}") from None


def _refused(url: str, auth: Auth | None, data: bytes | None, timeout: float) -> None:
    """Raise a final 401 when a dropped upload was in fact refused credentials.

    A server that refuses a signed request may answer 401 and close the
    connection before reading the body (Virtuoso does): the client then sees a
    reset, not the 401. A signed request without a body tells which it was.
    """
    if auth is None or auth.method != "digest" or not data:
        return
    try:
        challenge = _challenge(url, timeout, fresh=True)
        if not challenge:
            return
        probe = urllib.request.Request(url, method="GET")
        probe.add_header("Authorization", _digest(challenge, "GET", url, auth))
        with _OPENER.open(probe, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise HttpFailure(
                "HTTP 401 Unauthorized: the server refused the credentials", 401, 1
            ) from None
    except (OSError, http.client.HTTPException):
        return


def request(
    url: str,
    *,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    auth: Auth | None = None,
    policy: RetryPolicy = RetryPolicy(),
    parse: Callable[[Response], T],
    sleep: Callable[[float], None] | None = None,
    final: Callable[[str], bool] | None = None,
) -> T:
    """Send one request, retried per ``policy``, and return ``parse(response)``.

    ``parse`` raising ``ValueError`` marks the answer as unusable (a truncated
    or malformed body): it is retried like a dropped connection. ``final``
    tells, from a failure's reason, an error that asking again cannot fix.
    Raises :class:`HttpFailure` with the reason of the last attempt.
    """
    pause = time.sleep if sleep is None else sleep
    attempts = 0
    last: _Retry | None = None
    while True:
        attempts += 1
        try:
            response = _attempt(url, method, data, headers or {}, auth, policy.timeout_s)
            try:
                return parse(response)
            except ValueError as exc:
                raise _Retry(f"unreadable answer: {exc}", response.status) from None
        except HttpFailure as exc:
            exc.attempts = attempts
            raise
        except _Retry as exc:
            last = exc
        if final is not None and final(last.reason):
            raise HttpFailure(last.reason, last.status, attempts)
        if attempts > policy.retries:
            tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
            raise HttpFailure(f"{last.reason} (gave up after {tries})", last.status, attempts)
        wait = policy.backoff_s * 2 ** (attempts - 1)
        # A server's Retry-After is honoured, within reason.
        pause(min(last.wait, 60.0) if last.wait is not None else wait)
