"""iSCSI discovery against a QEMU user-network guest, from a network namespace.

tgt answers a SendTargets discovery with the portal the initiator reached *as
the guest sees it*: 10.0.2.15:3260, QEMU's user-network guest address. From
the host only the forwarded 127.0.0.1 port reaches tgt, so ``iscsi-ls -s``
(discovery, then a login to each advertised portal) fails there.

:class:`IscsiNamespace` makes that address real without moving QEMU: a fresh
network namespace whose loopback also carries 10.0.2.15, and a relay process
listening in it on 10.0.2.15:3260 that forwards every connection to the
host's 127.0.0.1:PORT (the lab's forwarded iSCSI port). Commands run in the
namespace with :meth:`IscsiNamespace.run` then see the guest's portal where
tgt says it is. All the traffic stays on loopback.

The relay is one process in two namespaces: its listening socket is opened
after ``setns`` into the new namespace, then it goes back to its original
namespace before connecting out; a socket keeps the namespace it was created
in. Python 3.11 has no ``os.setns``, hence ctypes.

Needs root (``ip netns add``, ``setns``).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from engine.errors import DataError

__all__ = ["GUEST_ADDRESS", "ISCSI_PORT", "IscsiNamespace", "relay_main"]

#: The guest's address on QEMU's user network, as tgt advertises it.
GUEST_ADDRESS = "10.0.2.15"
ISCSI_PORT = 3260
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
NETNS_DIR = Path("/run/netns")
_READY = "listening"
_START_TIMEOUT_S = 10.0
_BUFFER = 1 << 16


def _setns(fd: int) -> None:
    """Move the calling thread into the network namespace open as ``fd``."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _die_with_parent() -> None:
    # A relay outliving its test (killed pytest, crashed CLI) would keep a
    # namespace busy for nothing: ask the kernel to end it with its parent.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the parent died before prctl took effect
        sys.exit(0)


def _listen_in(netns: Path, address: str, port: int) -> socket.socket:
    """A listening socket created inside ``netns``; the thread comes back to its own namespace."""
    with open("/proc/self/ns/net", "rb") as home, open(netns, "rb") as target:
        _setns(target.fileno())
        try:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((address, port))
            server.listen(64)
        finally:
            # Before any connect: outgoing sockets must be made in the host's namespace.
            _setns(home.fileno())
    return server


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until EOF, then half-close so the other way can finish."""
    try:
        while data := source.recv(_BUFFER):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _serve(client: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError as exc:
        print(f"relay: cannot reach {target[0]}:{target[1]}: {exc}", file=sys.stderr, flush=True)
        client.close()
        return
    upstream.settimeout(None)
    upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def relay_main(argv: Sequence[str] | None = None) -> int:
    """The relay process: listen in a namespace, forward each connection to the host."""
    parser = argparse.ArgumentParser(prog="python -m engine.lab.netns_relay")
    parser.add_argument("--netns", type=Path, required=True, help="e.g. /run/netns/NAME")
    parser.add_argument("--listen", default=f"{GUEST_ADDRESS}:{ISCSI_PORT}")
    parser.add_argument("--connect", required=True, help="HOST:PORT in the original namespace")
    args = parser.parse_args(argv)
    _die_with_parent()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    listen_host, _, listen_port = str(args.listen).rpartition(":")
    connect_host, _, connect_port = str(args.connect).rpartition(":")
    try:
        server = _listen_in(args.netns, listen_host, int(listen_port))
    except OSError as exc:
        print(f"relay: cannot listen on {args.listen} in {args.netns}: {exc}", file=sys.stderr)
        return 1
    print(_READY, flush=True)
    target = (connect_host, int(connect_port))
    with server:
        while True:
            client, _ = server.accept()
            threading.Thread(target=_serve, args=(client, target), daemon=True).start()


def _ip(*argv: str) -> None:
    done = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise DataError("netns", f"ip {' '.join(argv)} failed: {done.stderr.strip()}")


class IscsiNamespace:
    """A network namespace where the guest's iSCSI portal (10.0.2.15:3260) is reachable.

    ``with IscsiNamespace(lab.iscsi_port) as ns: ns.run(["iscsi-ls", "-s",
    "iscsi://10.0.2.15:3260"])``. Needs root.
    """

    def __init__(
        self,
        forward_port: int,
        *,
        forward_host: str = "127.0.0.1",
        address: str = GUEST_ADDRESS,
        port: int = ISCSI_PORT,
    ) -> None:
        self.forward = (forward_host, forward_port)
        self.address = address
        self.port = port
        self.name = f"specengine-{secrets.token_hex(4)}"
        self._relay: subprocess.Popen[str] | None = None
        self._created = False
        self._errors: IO[bytes] | None = None
        self._error_text = ""

    @property
    def path(self) -> Path:
        """The namespace's bind mount, what ``nsenter --net=`` takes."""
        return NETNS_DIR / self.name

    @property
    def portal(self) -> str:
        """``ADDRESS:PORT`` of the relayed portal inside the namespace."""
        return f"{self.address}:{self.port}"

    def __enter__(self) -> IscsiNamespace:
        if os.geteuid() != 0:
            raise DataError("netns", "a network namespace needs root")
        for tool in ("ip", "nsenter"):
            if shutil.which(tool) is None:
                raise DataError("netns", f"{tool} not found: apt-get install iproute2 util-linux")
        try:
            # A file, not a pipe: nobody reads the relay's later complaints
            # (an unreachable target), and a full pipe would block it.
            self._errors = tempfile.TemporaryFile()
            _ip("netns", "add", self.name)
            self._created = True
            _ip("-n", self.name, "link", "set", "lo", "up")
            _ip("-n", self.name, "addr", "add", f"{self.address}/32", "dev", "lo")
            self._relay = self._start_relay()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _start_relay(self) -> subprocess.Popen[str]:
        # The relay is this very module run as a script; the repository root
        # goes first on its path so it runs from a checkout as from an install.
        root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        relay = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "engine.lab.netns_relay",
                "--netns",
                str(self.path),
                "--listen",
                self.portal,
                "--connect",
                f"{self.forward[0]}:{self.forward[1]}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._errors,
            text=True,
            env=env,
        )
        assert relay.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(relay.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + _START_TIMEOUT_S
            line = ""
            while time.monotonic() < deadline and relay.poll() is None:
                if selector.select(timeout=0.2):
                    line = relay.stdout.readline().strip()
                    break
        if line != _READY:
            relay.kill()
            relay.communicate(timeout=10)
            raise DataError(
                "netns", f"the iSCSI relay did not start: {self.relay_errors() or line}"
            )
        return relay

    def relay_errors(self) -> str:
        """What the relay wrote on its standard error so far (unreachable target, ...)."""
        if self._errors is not None and not self._errors.closed:
            self._errors.seek(0)
            self._error_text = self._errors.read().decode(errors="replace").strip()
        return self._error_text

    def run(
        self, argv: Sequence[str], *, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside the namespace (``nsenter --net``); its output as text."""
        command = ["nsenter", f"--net={self.path}", "--", *argv]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise DataError(self.name, f"{' '.join(argv)} timed out after {timeout:g} s") from None
        if check and done.returncode != 0:
            raise DataError(
                self.name,
                f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()}",
            )
        return done

    def close(self) -> None:
        """Stop the relay and delete the namespace (idempotent)."""
        if self._relay is not None:
            if self._relay.poll() is None:
                self._relay.terminate()
            try:
                self._relay.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                self._relay.kill()
                self._relay.communicate()
            self._relay = None
        self.relay_errors()
        if self._errors is not None:
            self._errors.close()
        if self._created:
            self._created = False
            _ip("netns", "delete", self.name)


if __name__ == "__main__":
    sys.exit(relay_main())
