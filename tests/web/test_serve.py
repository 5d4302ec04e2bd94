"""``engine serve`` as a real server (a subprocess, real sockets): what a client may cost it.

A connection that never finishes its request is closed after the read
timeout, however many there are; headers too large are refused; a spec whose
validation would take hours does not keep the listing from answering; and the
server stops on SIGINT or SIGTERM even then.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READ_TIMEOUT_S = 1.0


@dataclass
class Served:
    """A running ``engine serve``: its address and process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    #: What the server wrote on stderr, once stopped.
    errors: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def threads(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text(encoding="utf-8")
        return int(next(line for line in status.splitlines() if line.startswith("Threads:"))[8:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(folder: Path, *options: str) -> Served:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "serve", str(folder), "--port", str(port), *options],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = process.stderr.read().decode() if process.stderr else ""
                raise AssertionError(f"engine serve did not start: {error}") from None
            time.sleep(0.05)
    return Served("127.0.0.1", port, process)


def _stop(served: Served, how: signal.Signals = signal.SIGINT, within: float = 15) -> float:
    """Stop the server by its pid; how long it took (it is killed if it takes longer)."""
    began = time.monotonic()
    if served.process.poll() is None:
        served.process.send_signal(how)
    try:
        served.process.wait(within)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(5)
        raise AssertionError(f"engine serve ignored {how.name} for {within} s") from None
    finally:
        if served.process.stderr is not None:
            served.errors = served.process.stderr.read().decode("utf-8", "replace")
            served.process.stderr.close()
    return time.monotonic() - began


@pytest.fixture
def served(folder: Path) -> Iterator[Served]:
    server = _start(folder, "--read-timeout", str(READ_TIMEOUT_S))
    try:
        yield server
    finally:
        if server.process.poll() is None:
            _stop(server)


def _get(url: str, timeout: float = 20) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return answer.status, answer.read().decode("utf-8")


def _closed(sock: socket.socket, within: float) -> bytes | None:
    """What the server sent before closing ``sock`` within ``within`` s; None if still open."""
    sock.settimeout(0.2)
    received = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def test_half_sent_requests_are_closed_after_the_read_timeout(served: Served) -> None:
    sockets = []
    try:
        for number in range(150):
            sock = socket.create_connection((served.host, served.port), timeout=5)
            if number % 3 == 0:
                pass  # connected, sends nothing
            elif number % 3 == 1:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # headers cut
            else:
                sock.sendall(b"GET / HTT")
            sockets.append(sock)
        # Meanwhile, a whole request is answered.
        assert _get(served.url)[0] == 200
        began = time.monotonic()
        for sock in sockets:
            sent = _closed(sock, READ_TIMEOUT_S + 5 - (time.monotonic() - began))
            assert sent is not None, "a half-sent request was kept open"
            assert sent == b"" or sent.startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - began < READ_TIMEOUT_S + 5
    finally:
        for sock in sockets:
            sock.close()
    assert _get(served.url)[0] == 200


def test_trickled_headers_do_not_move_the_deadline(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        began = time.monotonic()
        closed = False
        for _ in range(int(READ_TIMEOUT_S * 10) + 40):  # a byte every 0.1 s, for 5 s
            try:
                sock.sendall(b"X")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if _closed(sock, 0.1) is not None:
                closed = True
                break
        assert closed and time.monotonic() - began < READ_TIMEOUT_S + 3


def test_a_body_that_stops_coming_is_closed(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=5) as sock:
        sock.sendall(
            b"POST /save/people.yaml HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
            b"text=kind"
        )
        assert _closed(sock, READ_TIMEOUT_S + 5) is not None
    assert _get(served.url)[0] == 200
    _stop(served)
    assert "Traceback" not in served.errors  # a client gone is no error of the server


def test_headers_too_large_are_refused(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=5) as sock:
        request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Big: " + b"a" * 200_000
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # may be refused before all of it is read
        sent = _closed(sock, 5)
    assert sent is not None
    assert sent == b"" or sent.startswith(b"HTTP/1.1 400 ")


def _nested_union(depth: int) -> str:
    """A 1 KB spec whose blocking nests ``union`` ``depth`` deep, with a bad leaf.

    Before validation was made linear, depth 16 took hours (x3 per level).
    """
    rule = "{key: {attribute: 1}}"
    for _ in range(depth):
        rule = "{union: [" + rule + "]}"
    return (
        "kind: alignment\nname: deep\nsources:\n"
        "  align: {inline: [[a]], columns: [name], id: {template: 'http://x/{name}'}}\n"
        "  target: same\nattributes:\n  - {name: name, metric: exact}\n"
        f"blocking: {rule}\nthreshold: 0.5\noutputs:\n  - {{csv: out/deep.csv}}\n"
    )


def test_the_index_answers_with_a_pathological_spec_in_the_folder(folder: Path) -> None:
    (folder / "deep.yaml").write_text(_nested_union(16), encoding="utf-8")
    served = _start(folder, "--validation-timeout", "2")
    try:
        before = served.threads()
        for _ in range(5):
            status, page = _get(served.url, timeout=15)
            assert status == 200
            assert 'data-spec="deep.yaml"' in page and 'data-spec="people.yaml"' in page
            status, page = _get(served.url + "spec/deep.yaml", timeout=15)
            assert status == 200
        # At most one validation thread for the file, however many page loads.
        assert served.threads() <= before + 2
    finally:
        assert _stop(served, signal.SIGTERM) < 10


def test_the_server_stops_on_sigint_with_connections_open(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half-sent
        assert _stop(served, signal.SIGINT) < 10
    assert served.process.returncode is not None
