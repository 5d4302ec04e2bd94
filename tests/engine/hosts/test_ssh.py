"""The engine's SSH session (engine/hosts/ssh.py) against a real sshd (tests/sshd.py).

The server forces the real wrapper (tools pointed at recorders, lock files in
a temporary folder), as the storage host's ``authorized_keys`` line does: a
command reaches the wrapper as ``SSH_ORIGINAL_COMMAND``, a refusal comes back
as exit 126, a held lock as 75. Host keys are pinned: unknown keys are
refused unless trusted on first use (and then recorded), changed keys always.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import DataError
from engine.hosts.ssh import Session
from engine.hosts.wrapper import authorized_keys_line
from engine.volume_pool.diff import key_scope, list_command, owners_command, show_command
from engine.volume_pool.steps import ReadLive, steps
from schemas.volume_pool import VolumePoolSpec
from tests.sshd import (
    HostState,
    NotInstalledError,
    Recorders,
    Sshd,
    install_recorders,
    install_wrapper,
    run_sshd,
)

BASE = "tank/specengine"


@dataclass(frozen=True)
class Host:
    """A running sshd whose key forces the wrapper, and what is needed to check it."""

    server: Sshd
    recorders: Recorders
    lock_dir: Path

    @property
    def where(self) -> str:
        return f"root@127.0.0.1:{self.server.port}"

    def session(
        self,
        *,
        key: Path | None = None,
        known_hosts: Path | None = None,
        trust_on_first_use: bool = False,
    ) -> Session:
        """A session to the host, by default with its pinned key and the client's key."""
        return Session(
            "127.0.0.1",
            self.server.port,
            "root",
            key or self.server.client_key,
            known_hosts or self.server.known_hosts,
            trust_on_first_use=trust_on_first_use,
            timeout_s=10,
        )


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    folder = tmp_path_factory.mktemp("ssh")
    # promote fails (after recording): a command that runs and fails.
    recorders = install_recorders(folder / "tools", fail_on={"zfs": "promote"})
    conf_dir = folder / "conf.d"
    conf_dir.mkdir()
    lock_dir = folder / "lock"
    scope = key_scope(BASE, "lab", "iqn.2010-10.org.openstack:")
    wrapper = install_wrapper(
        folder / "specengine-zfs-wrapper", scope, recorders, conf_dir, lock_dir
    )
    # The wrapper asks who made a volume before it promotes it: this spec did.
    recorders.stand_for(HostState(owners={f"{BASE}/vol1": "lab"}))

    def keys(public_key: str) -> str:
        return authorized_keys_line(public_key, str(wrapper), scope, ["127.0.0.1"])

    try:
        with run_sshd(folder / "sshd", keys) as server:
            yield Host(server, recorders, lock_dir)
    except NotInstalledError as missing:
        pytest.fail(str(missing))


def _host_key_line(host: Host) -> str:
    """The server's pinned known_hosts line, without its comment: ``[127.0.0.1]:PORT TYPE BASE64``."""
    return " ".join(host.server.known_hosts.read_text(encoding="utf-8").split()[:3])


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "other", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_session_runs_commands_through_the_wrapper(host: Host) -> None:
    before = len(host.recorders.calls())
    with host.session() as session:
        done = session.run(list_command(BASE))
        assert (done.rc, done.stdout, done.stderr) == (0, "recorded zfs\n", "")
        assert done.argv == list_command(BASE)
        shown = session.run(["tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "show"])
        assert shown.stdout == "recorded tgtadm\n"
        assert session.round_trips == 2
    calls = host.recorders.calls()[before:]
    assert [call["argv"][1:] for call in calls] == [
        list(list_command(BASE)[1:]),
        ["--lld", "iscsi", "--mode", "target", "--op", "show"],
    ]
    assert not any(call["tty"] for call in calls)


def test_the_reads_of_a_run_pass_the_wrapper(host: Host) -> None:
    # What a run's read step asks, in its order: the listing, who made what, the targets.
    spec = VolumePoolSpec.model_validate(
        {
            "kind": "volume-pool",
            "name": "lab",
            "host": {"address": "127.0.0.1", "key": "/k", "known_hosts": "/kh"},
            "zfs": {"base": BASE},
            "iscsi": {"portal": "127.0.0.1:3260"},
        },
        context={"check_files": False},
    )
    read = steps(spec)[2]
    assert isinstance(read, ReadLive)
    assert read.commands == (list_command(BASE), owners_command(BASE), show_command())
    before = len(host.recorders.calls())
    with host.session() as session:
        done = [session.run(argv) for argv in read.commands]
        assert session.round_trips == 3
    assert [(d.rc, d.stdout) for d in done] == [
        (0, "recorded zfs\n"),
        (0, "recorded zfs\n"),
        (0, "recorded tgtadm\n"),
    ]
    zfs, tgtadm = str(host.recorders.zfs), str(host.recorders.tgtadm)
    assert [call["argv"] for call in host.recorders.calls()[before:]] == [
        [zfs, *read.commands[0][1:]],
        [zfs, *read.commands[1][1:]],
        [tgtadm, *read.commands[2][1:]],
    ]


def test_a_failed_command_names_it_with_its_exit_and_output(host: Host) -> None:
    line = ["zfs", "promote", f"{BASE}/vol1"]
    with host.session() as session:
        with pytest.raises(DataError) as raised:
            session.run(line)
        done = session.run(line, check=False)
    assert raised.value.source == host.where
    assert raised.value.message == (
        f"`zfs promote {BASE}/vol1` failed (exit 1): recorder zfs: failing on purpose on promote"
    )
    assert (done.rc, done.stdout) == (1, "")


def test_a_refused_command_says_the_wrapper_refused(host: Host) -> None:
    before = len(host.recorders.calls())
    with host.session() as session:
        with pytest.raises(DataError) as raised:
            session.run(["zfs", "destroy", "-r", f"{BASE}/vol1"])
        done = session.run(["zfs", "destroy", "-r", f"{BASE}/vol1"], check=False)
    message = raised.value.message
    assert message.startswith(
        f"the storage host's wrapper refused `zfs destroy -r {BASE}/vol1`:"
        " specengine-wrapper: refused: not an allowed command"
    )
    assert "`engine setup SPEC` installs it" in message
    assert done.rc == 126
    assert len(host.recorders.calls()) == before


def test_a_command_needs_a_connection(host: Host) -> None:
    session = host.session()
    with pytest.raises(DataError, match="not connected"):
        session.run(list_command(BASE))
    with session:
        pass
    with pytest.raises(DataError, match="not connected"):
        session.run(list_command(BASE))


def test_an_unknown_host_key_is_refused(host: Host, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        host.session(known_hosts=known).connect()
    assert raised.value.source == host.where
    assert raised.value.message == (
        f"unknown host key (not in {known}); add it, checked out of band, or set"
        " host.trust_on_first_use"
    )
    assert known.read_text(encoding="utf-8") == ""
    # Nor without any known_hosts file: it is not made.
    missing = tmp_path / "missing" / "known_hosts"
    with pytest.raises(DataError, match=r"known_hosts .* does not exist: add the host's key"):
        host.session(known_hosts=missing).connect()
    assert not missing.parent.exists()


def test_trust_on_first_use_records_the_key(host: Host, tmp_path: Path) -> None:
    known = tmp_path / "fresh" / "known_hosts"
    with host.session(known_hosts=known, trust_on_first_use=True) as session:
        assert session.run(list_command(BASE)).rc == 0
    # The line names the host as OpenSSH does for a port other than 22.
    assert known.read_text(encoding="utf-8") == _host_key_line(host) + "\n"
    # Now pinned: a second connection needs no trust, and records nothing more.
    with host.session(known_hosts=known) as session:
        assert session.run(list_command(BASE)).rc == 0
    with host.session(known_hosts=known, trust_on_first_use=True):
        pass
    assert known.read_text(encoding="utf-8") == _host_key_line(host) + "\n"


@pytest.mark.parametrize("trust_on_first_use", [False, True])
def test_a_changed_host_key_is_refused_even_with_trust_on_first_use(
    host: Host, tmp_path: Path, trust_on_first_use: bool
) -> None:
    # Another ed25519 key pinned for the host: the client's own public key will do.
    name, kind, _blob = _host_key_line(host).split()
    other = host.server.public_key.split()[1]
    known = tmp_path / "known_hosts"
    pinned = f"{name} {kind} {other}\n"
    known.write_text(pinned, encoding="utf-8")
    with pytest.raises(DataError) as raised:
        host.session(known_hosts=known, trust_on_first_use=trust_on_first_use).connect()
    message = raised.value.message
    assert message.startswith(f"the host key CHANGED: known_hosts {known} pins ssh-ed25519 ")
    assert "refusing to connect (if the host was rebuilt, fix known_hosts by hand)" in message
    assert known.read_text(encoding="utf-8") == pinned


def test_a_key_the_host_does_not_accept_is_refused(host: Host, tmp_path: Path) -> None:
    key = _keygen(tmp_path / "other_ed25519")
    with pytest.raises(DataError) as raised:
        host.session(key=key).connect()
    assert raised.value.source == host.where
    assert raised.value.message.startswith(f"login refused with key {key}: ")


def test_an_unreachable_host_cannot_be_connected(host: Host) -> None:
    session = Session(
        "127.0.0.1", _free_port(), "root", host.server.client_key, host.server.known_hosts
    )
    with pytest.raises(DataError) as raised:
        session.connect()
    assert raised.value.message.startswith("cannot connect: ")


def _eventually(attempt: Callable[[], None], timeout: float = 10) -> None:
    """Retry ``attempt`` while it fails with the busy message (a holder on its way out)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            attempt()
            return
        except DataError as error:
            if "holds the pool's lock" not in error.message or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _lock_once(host: Host) -> None:
    with host.session() as session, session.lock():
        pass


def test_the_lock_is_held_until_the_block_ends(host: Host) -> None:
    with host.session() as first, host.session() as second:
        with first.lock():
            assert sorted(p.name for p in host.lock_dir.iterdir()) == [
                "specengine+tank+specengine.lock"
            ]
            # The same session still runs commands while it holds the lock.
            assert first.run(list_command(BASE)).rc == 0
            with pytest.raises(DataError) as raised, second.lock():
                pytest.fail("two sessions held the lock")
            # The refused session is still usable.
            assert second.run(list_command(BASE)).rc == 0
        assert raised.value.source == host.where
        assert raised.value.message == (
            f"another run holds the pool's lock: specengine-wrapper: {BASE} is locked by"
            " another run"
        )
        # Released with the block: the other session takes it.
        _eventually(lambda: _lock_once(host))


def test_closing_the_session_releases_the_lock(host: Host) -> None:
    first = host.session()
    first.connect()
    held = first.lock()
    held.__enter__()
    try:
        with pytest.raises(DataError, match="holds the pool's lock"):
            _lock_once(host)
    finally:
        # The connection goes before the block ends (a run that dies).
        first.close()
    _eventually(lambda: _lock_once(host))
    # Ending the block afterwards (an ExitStack unwinding) is no error.
    assert not held.__exit__(None, None, None)
