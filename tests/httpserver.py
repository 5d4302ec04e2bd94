"""A small real HTTP server for tests: answers, failures and stalls on script.

Each request is answered by the next behaviour of a script (the last one
repeats): a status with a body, a stall longer than the client's timeout, a
connection closed half-way through the body. The server listens on
127.0.0.1, on a free port, in a thread, and records every request.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Behaviour", "Recorded", "ScriptedServer", "serve"]


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, list[str]]:
        """The body as an URL-encoded form."""
        return urllib.parse.parse_qs(self.body.decode("utf-8"))


@dataclass(frozen=True)
class Behaviour:
    """How to answer one request.

    ``answer`` computes ``(status, content type, body)`` from the request;
    ``stall_s`` waits before answering; ``cut`` sends only that many bytes of
    the body (with the full Content-Length) and closes the connection;
    ``headers`` are added to the answer.
    """

    answer: Callable[[Recorded], tuple[int, str, bytes]]
    stall_s: float = 0.0
    cut: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def fixed(status: int, body: bytes | str, content_type: str = "application/json") -> Behaviour:
    """Always the same answer."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return Behaviour(lambda _: (status, content_type, data))


@dataclass
class ScriptedServer:
    """The running server: its URL, its script and the requests it got."""

    url: str
    script: list[Behaviour]
    requests: list[Recorded] = field(default_factory=list)

    def next_behaviour(self) -> Behaviour:
        """The behaviour for the next request (the last one repeats)."""
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@contextmanager
def serve(*script: Behaviour) -> Iterator[ScriptedServer]:
    """Run a scripted server for the duration of the block."""
    state: ScriptedServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parsed = urllib.parse.urlsplit(self.path)
            recorded = Recorded(
                self.command,
                parsed.path,
                urllib.parse.parse_qs(parsed.query),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            state.requests.append(recorded)
            behaviour = state.next_behaviour()
            if behaviour.stall_s:
                time.sleep(behaviour.stall_s)
            status, content_type, data = behaviour.answer(recorded)
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                if behaviour.cut is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data if behaviour.cut is None else data[: behaviour.cut])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout): nothing to answer
            if behaviour.cut is not None:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    state = ScriptedServer(f"http://{host!s}:{port}", list(script))
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
