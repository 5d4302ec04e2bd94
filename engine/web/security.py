"""Request guards: the access token, the body size limit and a same-origin check.

All three are plain ASGI middleware so that they act before any route reads
the request: a refused upload is never parsed, spooled or written.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "SameOrigin", "TokenGuard", "is_loopback", "mib", "without_token"]

TOKEN_COOKIE = "specengine_token"


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts local connections (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mib(size: int) -> str:
    """A size for messages: ``20 MiB``, ``1.5 MiB``, ``512 KiB``."""
    if size < 1 << 20:
        return f"{size / 1024:.3g} KiB"
    return f"{size / (1 << 20):.3g} MiB"


def without_token(path: str, query: list[tuple[str, str]]) -> str:
    """The same-site URL of ``path`` and ``query`` minus ``token``, for a ``Location`` header.

    The path is the decoded one: it is quoted again (no CR/LF, no ``?`` or ``#``
    from ``%3F``), and its leading slashes collapse to one, since ``//evil.com``
    would be another site. The query is encoded again likewise.
    """
    location = "/" + quote(path.lstrip("/"), safe="/:@!$&'()*+,;=~")
    rest = urlencode([(key, value) for key, value in query if key != "token"])
    return location + (f"?{rest}" if rest else "")


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _page(send: Send, status: int, title: str, message: str) -> None:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><link rel=stylesheet href=/static/style.css>"
        f"<main><h1>{html.escape(title)}</h1><p class=error role=alert>{html.escape(message)}</p>"
        "<p><a href=/>Back to the specs</a></p></main></html>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenGuard:
    """Every request needs the token: ``Authorization: Bearer``, the cookie, or ``?token=``.

    A ``?token=`` link sets an HttpOnly, SameSite=Strict cookie and redirects to
    the same page without the token, so it stays out of the browser history.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    def _ok(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and self._ok(auth[7:].strip()):
            await self.app(scope, receive, send)
            return
        cookie = SimpleCookie(headers.get("cookie", ""))
        if TOKEN_COOKIE in cookie and self._ok(cookie[TOKEN_COOKIE].value):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if self._ok(next((value for key, value in query if key == "token"), None)):
            location = without_token(scope["path"], query)
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [
                        (b"location", location.encode()),
                        (
                            b"set-cookie",
                            f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/".encode(),
                        ),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await _page(
            send,
            401,
            "Token required",
            "This server needs its access token: open the link `engine serve` printed"
            " (…/?token=…), or send Authorization: Bearer TOKEN.",
        )


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """Refuse request bodies larger than ``limit`` bytes (plus room for form fields)."""

    #: Multipart boundaries and the other fields of an upload form.
    SLACK = 64 * 1024

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _message(self, size: int | None) -> str:
        got = f" ({mib(size)})" if size is not None else ""
        return (
            f"The upload is too big{got}: the limit is {mib(self.limit)}"
            " (engine serve --max-upload). Nothing was written."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        maximum = self.limit + self.SLACK
        length = _headers(scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > maximum:
            await _page(send, 413, "Upload too big", self._message(int(length)))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > maximum:
                    raise _TooLargeError
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLargeError:
            if started:
                raise
            await _page(send, 413, "Upload too big", self._message(None))


class SameOrigin:
    """Refuse a POST from another site (a page elsewhere submitting a form here).

    Every sign a browser gives is checked, and any one pointing elsewhere
    refuses the request: an ``Origin`` that is not this host (``null`` from a
    sandboxed page included), ``Sec-Fetch-Site: cross-site`` or ``same-site``
    (another host of the same site), and a ``Referer`` that is not a URL of this
    host (an older browser sends only that). A request with none of them (a
    script with the token) goes through; the token guards it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        unsafe = scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS")
        if unsafe and _cross_site(_headers(scope)):
            await _page(send, 403, "Refused", "A form of another site was sent here.")
            return
        await self.app(scope, receive, send)


def _cross_site(headers: dict[str, str]) -> bool:
    """Whether any header of a request says it comes from a page of another site."""
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None and _netloc(origin) != host:
        return True
    if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return True
    referer = headers.get("referer")
    return referer is not None and _netloc(referer) != host


def _netloc(url: str) -> str | None:
    """The host[:port] of an http(s) URL; None for anything else (``null``, a path, garbage)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    return parts.netloc if parts.scheme in ("http", "https") and parts.netloc else None
