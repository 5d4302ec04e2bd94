"""The iSCSI namespace relay (engine/lab/netns_relay.py) on a TCP echo server.

A network namespace needs root: without it the tests fail naming what is missing (no skip).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.lab.netns_relay import GUEST_ADDRESS, ISCSI_PORT, IscsiNamespace
from tests.tools import require_root, require_tools


@pytest.fixture
def _netns() -> None:
    require_root("a network namespace (ip netns add, setns)")
    require_tools("iproute2", "ip")
    require_tools("util-linux", "nsenter")


needs_root = pytest.mark.usefixtures("_netns")


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 answering each connection's bytes upper-cased."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve(client: socket.socket) -> None:
        with client:
            while data := client.recv(4096):
                client.sendall(data.upper())

    def accept() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


CLIENT = """
import socket, sys, threading
def talk(word, out):
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as sock:
        sock.sendall(word * 20000)
        sock.shutdown(socket.SHUT_WR)  # half-close: the answer must still come back
        got = b""
        while data := sock.recv(65536):
            got += data
        out[word] = got
out = {}
threads = [threading.Thread(target=talk, args=(w, out)) for w in (b"ab", b"cd", b"ef")]
for t in threads: t.start()
for t in threads: t.join()
print(",".join(f"{k.decode()}={len(v)}:{v == k.upper() * 20000}" for k, v in sorted(out.items())))
"""


@needs_root
def test_relay_forwards_from_the_namespace(echo_server: int) -> None:
    with IscsiNamespace(echo_server) as ns:
        assert ns.path.exists()
        assert ns.portal == f"{GUEST_ADDRESS}:{ISCSI_PORT}"
        done = ns.run([sys.executable, "-c", CLIENT, GUEST_ADDRESS, str(ISCSI_PORT)], check=True)
        assert done.stdout.strip() == "ab=40000:True,cd=40000:True,ef=40000:True"
        # The namespace is its own network: the host's loopback port is not there.
        direct = ns.run([sys.executable, "-c", CLIENT, "127.0.0.1", str(echo_server)])
        assert "Connection refused" in direct.stderr
        # Nor is the guest address on the host.
        assert (
            GUEST_ADDRESS
            not in subprocess.run(
                ["ip", "-brief", "addr"], capture_output=True, text=True, check=True
            ).stdout
        )
    assert not ns.path.exists()
    name = ns.name
    assert (
        name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    )
    ns.close()  # idempotent


@needs_root
def test_relay_to_nothing_closes_the_connection(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with IscsiNamespace(port) as ns:
        done = ns.run(
            [
                sys.executable,
                "-c",
                "import socket,sys;s=socket.create_connection((sys.argv[1],int(sys.argv[2])));"
                "print(repr(s.recv(10)))",
                GUEST_ADDRESS,
                str(ISCSI_PORT),
            ],
            check=True,
        )
        assert done.stdout.strip() == "b''"
        deadline = time.monotonic() + 5
        while "cannot reach" not in ns.relay_errors() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert f"cannot reach 127.0.0.1:{port}" in ns.relay_errors()
