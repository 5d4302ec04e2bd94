"""One SSH connection to a storage host, with its key pinned: commands and the pool's lock.

paramiko, not Ansible, reads the live state and holds the lock: a plan needs
the exact stdout of two commands over one connection in well under a second,
and the lock is a channel kept open for the whole run (the wrapper's
``specengine-lock`` holds an flock until its stdin closes), which no Ansible
task can do. The host key must be in ``known_hosts``; an unknown key is
accepted (and recorded) only with ``trust_on_first_use``, a changed key never.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paramiko

from engine.errors import DataError
from engine.hosts.wrapper import BUSY_EXIT, REFUSED_EXIT

__all__ = ["Completed", "Session"]


@dataclass(frozen=True)
class Completed:
    """A command's exit status and output."""

    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str


class _RecordFirstUse(paramiko.MissingHostKeyPolicy):
    """Trust on first use: accept an unknown key and write it to known_hosts."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class Session:
    """An SSH session to ``user@address:port`` authenticated by ``key``.

    Use as a context manager. Every failure is a :class:`DataError` naming the
    host: unreachable, unknown or changed host key, refused login, a command
    the wrapper refused.
    """

    def __init__(
        self,
        address: str,
        port: int,
        user: str,
        key: Path,
        known_hosts: Path,
        *,
        trust_on_first_use: bool = False,
        timeout_s: float = 20,
    ) -> None:
        self.address, self.port, self.user = address, port, user
        self.key, self.known_hosts = key, known_hosts
        self.trust_on_first_use = trust_on_first_use
        self.timeout_s = timeout_s
        self.where = f"{user}@{address}:{port}"
        self.round_trips = 0
        self._client: paramiko.SSHClient | None = None

    def __enter__(self) -> Session:
        self.connect()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the connection; the host key must match known_hosts."""
        client = paramiko.SSHClient()
        if self.known_hosts.is_file():
            try:
                client.load_host_keys(str(self.known_hosts))
            except (OSError, paramiko.SSHException) as error:
                raise DataError(
                    str(self.known_hosts), f"cannot read known_hosts: {error}"
                ) from None
        elif not self.trust_on_first_use:
            raise DataError(
                self.where,
                f"known_hosts {self.known_hosts} does not exist: add the host's key"
                " (ssh-keyscan, checked out of band) or set host.trust_on_first_use",
            )
        if self.trust_on_first_use:
            client.set_missing_host_key_policy(_RecordFirstUse(self.known_hosts))
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                self.address,
                port=self.port,
                username=self.user,
                key_filename=str(self.key),
                look_for_keys=False,
                allow_agent=False,
                timeout=self.timeout_s,
                banner_timeout=self.timeout_s,
                auth_timeout=self.timeout_s,
            )
        except paramiko.BadHostKeyException as error:
            client.close()
            raise DataError(
                self.where,
                f"the host key CHANGED: known_hosts {self.known_hosts} pins"
                f" {error.expected_key.get_name()} {error.expected_key.get_fingerprint().hex()},"
                f" the host offers {error.key.get_name()} {error.key.get_fingerprint().hex()};"
                " refusing to connect (if the host was rebuilt, fix known_hosts by hand)",
            ) from None
        except paramiko.AuthenticationException as error:
            client.close()
            raise DataError(self.where, f"login refused with key {self.key}: {error}") from None
        except paramiko.SSHException as error:
            client.close()
            text = str(error)
            if "not found in known_hosts" in text:
                text = (
                    f"unknown host key (not in {self.known_hosts}); add it, checked out of"
                    " band, or set host.trust_on_first_use"
                )
            raise DataError(self.where, text) from None
        except OSError as error:
            client.close()
            raise DataError(self.where, f"cannot connect: {error}") from None
        self._client = client

    def close(self) -> None:
        """Close the connection (and so release a held lock)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _open(self, argv: Sequence[str]) -> paramiko.Channel:
        if self._client is None:
            raise DataError(self.where, "not connected")
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise DataError(self.where, "the SSH connection was lost")
        channel = transport.open_session(timeout=self.timeout_s)
        channel.settimeout(self.timeout_s)
        channel.exec_command(shlex.join(argv))
        self.round_trips += 1
        return channel

    def run(self, argv: Sequence[str], *, check: bool = True, timeout_s: float = 300) -> Completed:
        """Run one command; with ``check``, a non-zero exit is a :class:`DataError`."""
        try:
            channel = self._open(argv)
            channel.settimeout(timeout_s)
            channel.shutdown_write()
            out = channel.makefile("rb").read().decode("utf-8", "replace")
            err = channel.makefile_stderr("rb").read().decode("utf-8", "replace")
            rc = channel.recv_exit_status()
            channel.close()
        except (OSError, paramiko.SSHException) as error:
            raise DataError(self.where, f"`{shlex.join(argv)}` failed: {error}") from None
        done = Completed(tuple(argv), rc, out, err)
        if check and rc != 0:
            raise DataError(self.where, describe_failure(done))
        return done

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the pool's lock on the host (the wrapper's flock) while the block runs."""
        channel = self._open(["specengine-lock"])
        try:
            line = b""
            try:
                while not line.endswith(b"\n"):
                    chunk = channel.recv(256)
                    if not chunk:
                        break
                    line += chunk
            except (OSError, paramiko.SSHException) as error:
                raise DataError(self.where, f"cannot take the pool's lock: {error}") from None
            if not line.startswith(b"locked "):
                err = channel.recv_stderr(4096).decode("utf-8", "replace").strip()
                rc = channel.recv_exit_status()
                done = Completed(("specengine-lock",), rc, line.decode("utf-8", "replace"), err)
                raise DataError(self.where, describe_failure(done))
            yield
        finally:
            channel.shutdown_write()
            channel.close()


def describe_failure(done: Completed) -> str:
    """What a failed command means, for the user."""
    line = shlex.join(done.argv)
    detail = (done.stderr or done.stdout).strip()[-800:]
    if done.rc == REFUSED_EXIT:
        return (
            f"the storage host's wrapper refused `{line}`: {detail}\n(is the wrapper of this"
            " engine version installed? `engine setup SPEC` installs it)"
        )
    if done.rc == BUSY_EXIT:
        return f"another run holds the pool's lock: {detail}"
    return f"`{line}` failed (exit {done.rc}): {detail}"
