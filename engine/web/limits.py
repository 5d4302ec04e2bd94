"""What a request may cost the server: time to send it, time to answer it, validation time.

Three limits, each against a way of holding the server forever:

- :func:`guarded_protocol`: uvicorn's HTTP/1.1 protocol (h11) with read
  deadlines. uvicorn waits forever for a request whose headers never end, or
  whose body stops: a thousand half-sent requests stay open. Here the headers
  must be complete within the read timeout of the connection's opening (or of
  the next request's first byte), and a body must not pause longer than that.
- :class:`RequestTimeout`: an answer must start within its limit, or the
  client gets a 504 (the work goes on in the background and its answer is
  dropped: a thread cannot be stopped from outside).
- :class:`Budget`: a validation runs in a thread of its own and is waited for
  a limited time; one that overruns goes on alone, is not started again for
  the same file while it runs, and the page shows the file as "validation did
  not finish". A spec that takes minutes to validate cannot hang the listing.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "READ_TIMEOUT_S",
    "REQUEST_TIMEOUT_S",
    "VALIDATION_TIMEOUT_S",
    "Budget",
    "BudgetExceededError",
    "RequestTimeout",
    "guarded_protocol",
]

#: A request's headers must be in (and its body may not pause longer) within this
#: (``engine serve --read-timeout``).
READ_TIMEOUT_S = 15.0
#: An answer must start within this (``engine serve --request-timeout``).
REQUEST_TIMEOUT_S = 300.0
#: How long a spec's validation is waited for (``engine serve --validation-timeout``).
VALIDATION_TIMEOUT_S = 10.0

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What a client that sent its headers too slowly is told before the connection closes.
_TIMEOUT_BODY = b"the request was not sent in time\n"
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


def guarded_protocol(read_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection that sends its request too slowly.

    The headers of a request must be complete ``read_timeout_s`` after the
    connection opened (or after the first byte of the next request on a kept
    connection), however slowly they trickle in; the body of a request may not
    pause longer than ``read_timeout_s`` (while the application reads it).
    """
    # Imported here: the command line imports this module, and needs no server.
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._deadline: asyncio.TimerHandle | None = None
            self._reading_body = False
            super().connection_made(transport)
            self._arm()  # not even a first byte: the headers' clock runs already

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch(received=True)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # A kept connection: uvicorn's keep-alive timer guards the silence
            # before the next request; its first byte starts the headers' clock.
            if self.conn.their_state is h11.IDLE and self._deadline is not None:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _watch(self, *, received: bool) -> None:
            if self.transport.is_closing():
                self._disarm()
                return
            state = self.conn.their_state
            if state is h11.IDLE:
                # (Part of) the headers: the deadline does not move with each byte.
                if self._deadline is None:
                    self._arm()
            elif state is h11.SEND_BODY:
                # The body: a pause is limited, not the whole upload.
                if received or not self._reading_body:
                    self._reading_body = True
                    self._arm()
            else:  # the request is in (or the connection is done): the application's turn
                self._reading_body = False
                self._disarm()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(read_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            if state is h11.SEND_BODY and self.flow.read_paused:
                self._arm()  # the application is not reading: not the client's pause
                return
            if state not in (h11.IDLE, h11.SEND_BODY):
                return
            log.info(
                "closing a connection from %s: its request was not sent within %g s",
                self.client,
                read_timeout_s,
            )
            if state is h11.IDLE:  # no request under way: the answer is ours to write
                self.transport.write(_TIMED_OUT)
            self.transport.close()

    return GuardedH11Protocol


def _gateway_timeout(seconds: float) -> bytes:
    message = (
        f"The answer took longer than {seconds:g} s (engine serve --request-timeout):"
        " the work goes on on the server, but this page gave up waiting. A long plan"
        " is better computed with `engine plan`."
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>Too long</title>"
        "<link rel=stylesheet href=/static/style.css><main><h1>Too long</h1>"
        f"<p class=error role=alert>{html.escape(message)}</p>"
        "<p><a href=/>Back to the specs</a></p></main></html>"
    ).encode()


class RequestTimeout:
    """A 504 when the application has not started its answer within ``seconds``.

    Only the start counts: a stream of events (a run's progress) goes on as
    long as it sends. The request's work is not cancelled (a thread cannot be
    stopped, and an abandoned step would leave things half done): it ends in
    the background and what it sends then is dropped.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        abandoned = False

        async def watched(message: Message) -> None:
            if abandoned:
                return
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, watched))
        waiting = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait({work, waiting}, timeout=self.seconds, return_when="FIRST_COMPLETED")
        finally:
            waiting.cancel()
        if work.done() or started.is_set():
            await work
            return
        abandoned = True
        work.add_done_callback(_log_failure)
        log.warning("%s %s: no answer within %g s", scope["method"], scope["path"], self.seconds)
        body = _gateway_timeout(self.seconds)
        await send(
            {
                "type": "http.response.start",
                "status": 504,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a request abandoned after its time limit failed", exc_info=task.exception())


class BudgetExceededError(Exception):
    """The call did not end within the budget (it goes on in its thread), or too many run."""


@dataclass
class _Call:
    started: float
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Budget:
    """Calls run in daemon threads, each waited for ``seconds`` at most.

    A call identified by the same ``key`` while one is running is not started
    again: its caller waits for what is left of the first one's budget (two
    pages validating the same file at once share the work; a file whose
    validation overran answers at once). At most ``running`` calls are under
    way at a time; more are refused rather than queued. The threads are
    daemons: a call that never ends does not keep the server from stopping.
    """

    def __init__(self, seconds: float, running: int = 8) -> None:
        self.seconds = seconds
        self.running = running
        self._lock = threading.Lock()
        self._calls: dict[str, _Call] = {}

    def run(self, key: str, function: Callable[[], T]) -> T:
        """``function()``'s result or exception; BudgetExceededError past the budget."""
        with self._lock:
            call = self._calls.get(key)
            if call is None:
                if len(self._calls) >= self.running:
                    raise BudgetExceededError(
                        f"{len(self._calls)} validations are still running: try again later"
                    )
                call = self._calls[key] = _Call(time.monotonic())
                worker = threading.Thread(
                    target=self._work, args=(key, call, function), name="validate", daemon=True
                )
                worker.start()
        left = call.started + self.seconds - time.monotonic()
        if not call.done.wait(max(left, 0.0)):
            raise BudgetExceededError(
                f"did not finish within {self.seconds:g} s"
                f" (still running for {time.monotonic() - call.started:.0f} s)"
            )
        if call.error is not None:
            raise call.error
        result: T = call.result
        return result

    def _work(self, key: str, call: _Call, function: Callable[[], Any]) -> None:
        try:
            call.result = function()
        except BaseException as exc:  # handed to the caller, which raises it
            call.error = exc
        finally:
            with self._lock:
                self._calls.pop(key, None)
            call.done.set()
