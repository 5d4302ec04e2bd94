"""A real OpenSSH server for tests, with its own host key, config and authorized_keys.

The server listens on 127.0.0.1 on a free port and lets root log in with a
generated ed25519 key only; everything it needs (host key, config, pid file,
authorized_keys, its log) lives in one temporary folder, so nothing of the
machine's own sshd is read or changed. ``Sshd.ssh`` runs the real ``ssh``
client against it with the host key pinned.

``install_recorders`` writes two fake tools (``zfs``, ``tgtadm``) that append
their argv to a log as JSON lines: with the real wrapper forced by the key,
a test sees exactly what sshd and the wrapper let through. A recorder can be
made to fail (after recording) on a given word, to test what the wrapper
does when a tool fails half-way. It answers a line it was given an answer for
(``Recorders.answer``) with that output and exit status: the wrapper asks the
host who made a dataset, its size and tgtd's targets before it acts, and
``Recorders.stand_for`` answers those questions from a ``HostState``.

``fake_zvols`` gives a pool name of its own under ``/dev/zvol`` where a test
may create stand-ins for the devices the wrapper's export waits for, and
removes them afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.hosts.wrapper import KeyScope

__all__ = [
    "INSTALL_HINT",
    "ZVOL_ROOT",
    "FakeZvols",
    "HostState",
    "NotInstalledError",
    "Recorders",
    "Sshd",
    "fake_zvols",
    "install_recorders",
    "run_sshd",
]

SSHD = "/usr/sbin/sshd"
INSTALL_HINT = "apt-get install openssh-server openssh-client"
_START_TIMEOUT = 10.0


class NotInstalledError(RuntimeError):
    """sshd, ssh or ssh-keygen is missing: the message says what to install."""


def _require_tools() -> dict[str, str]:
    found = {"sshd": SSHD if os.access(SSHD, os.X_OK) else None}
    found["ssh"] = shutil.which("ssh")
    found["ssh-keygen"] = shutil.which("ssh-keygen")
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise NotInstalledError(f"{', '.join(missing)} not found: {INSTALL_HINT}")
    return {name: path for name, path in found.items() if path is not None}


@dataclass(frozen=True)
class HostState:
    """What the stand-ins answer when the wrapper asks about the host before it acts.

    ``owners``: dataset or snapshot -> the spec set on it locally (None: not
    set there). ``sizes``: a volume's volsize in bytes. ``show``: what
    ``tgtadm --op show`` prints (None: the recorder's ``recorded tgtadm``,
    which names no target). A question about anything else gets the
    recorder's ``recorded zfs``, which is neither a spec's name nor a size.
    """

    owners: Mapping[str, str | None] = field(default_factory=dict)
    sizes: Mapping[str, int] = field(default_factory=dict)
    show: str | None = None
    #: names that do not exist: zfs get fails on them as it does on a host
    missing: Sequence[str] = ()


def _answer(stdout: str, rc: int = 0, stderr: str = "") -> dict[str, Any]:
    return {"stdout": stdout, "stderr": stderr, "rc": rc}


@dataclass(frozen=True)
class Recorders:
    """Fake ``zfs`` and ``tgtadm``, the log they append to and the answers they give."""

    zfs: Path
    tgtadm: Path
    log: Path
    answers: Path

    def calls(self) -> list[dict[str, Any]]:
        """Every recorded call, oldest first: ``{"argv": [...], "tty": bool}``."""
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def answer(
        self, tool: str, words: Sequence[str], stdout: str, rc: int = 0, stderr: str = ""
    ) -> None:
        """From now on, ``tool WORDS...`` prints ``stdout`` (and ``stderr``) and exits ``rc``."""
        answers = self._read()
        answers.setdefault(tool, {})[" ".join(words)] = _answer(stdout, rc, stderr)
        self._write(answers)

    def stand_for(self, state: HostState) -> None:
        """Answer the wrapper's questions (owner, volsize, tgtd's targets) from ``state`` only."""
        from engine.hosts.wrapper import OWNER_QUERY, SHOW_QUERY, VOLSIZE_QUERY

        zfs: dict[str, dict[str, Any]] = {}
        for name, owner in state.owners.items():
            # `zfs get -s local` prints nothing for a value inherited or unset.
            text = "" if owner is None else f"{owner}\n"
            zfs[" ".join([*OWNER_QUERY, name])] = _answer(text)
        for name, size in state.sizes.items():
            zfs[" ".join([*VOLSIZE_QUERY, name])] = _answer(f"{size}\n")
        for name in state.missing:
            error = f"cannot open '{name}': dataset does not exist\n"
            for query in (OWNER_QUERY, VOLSIZE_QUERY):
                zfs[" ".join([*query, name])] = _answer("", 1, error)
        tgtadm = {} if state.show is None else {" ".join(SHOW_QUERY): _answer(state.show)}
        self._write({"zfs": zfs, "tgtadm": tgtadm})

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        if not self.answers.exists():
            return {}
        answers: dict[str, dict[str, dict[str, Any]]] = json.loads(
            self.answers.read_text(encoding="utf-8")
        )
        return answers

    def _write(self, answers: dict[str, dict[str, dict[str, Any]]]) -> None:
        # Atomically: recorders running at the same time read one version or the other.
        partial = self.answers.with_suffix(".partial")
        partial.write_text(json.dumps(answers), encoding="utf-8")
        partial.replace(self.answers)


_RECORDER = """#!/usr/bin/python3 -I
import json, os, sys
tty = any(os.isatty(fd) for fd in (0, 1, 2))
with open({log!r}, "a", encoding="utf-8") as out:
    out.write(json.dumps({{"argv": sys.argv, "tty": tty}}) + "\\n")
fail = {fail!r}
if fail is not None and fail in sys.argv[1:]:
    sys.stderr.write("recorder {name}: failing on purpose on " + fail + "\\n")
    sys.exit(1)
try:
    with open({answers!r}, encoding="utf-8") as handle:
        answer = json.load(handle).get({name!r}, {{}}).get(" ".join(sys.argv[1:]))
except FileNotFoundError:
    answer = None
if answer is not None:
    sys.stdout.write(answer["stdout"])
    sys.stderr.write(answer["stderr"])
    sys.exit(answer["rc"])
print("recorded", {name!r})
"""


def install_recorders(folder: Path, *, fail_on: Mapping[str, str] | None = None) -> Recorders:
    """Write the fake tools into ``folder``; they record, and print ``recorded NAME``.

    ``fail_on`` maps a tool (``zfs``, ``tgtadm``) to a word: a call of that
    tool with the word among its arguments is recorded, then exits 1 with a
    message on stderr instead of printing. A call given an answer
    (``Recorders.answer``, ``Recorders.stand_for``) prints that instead.
    """
    unknown = set(fail_on or {}) - {"zfs", "tgtadm"}
    if unknown:
        raise ValueError(f"fail_on: no recorder named {sorted(unknown)}")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "calls.jsonl"
    answers = folder / "answers.json"
    paths = {}
    for name in ("zfs", "tgtadm"):
        path = folder / name
        fail = (fail_on or {}).get(name)
        text = _RECORDER.format(log=str(log), name=name, fail=fail, answers=str(answers))
        path.write_text(text, encoding="utf-8")
        path.chmod(0o755)
        paths[name] = path
    return Recorders(zfs=paths["zfs"], tgtadm=paths["tgtadm"], log=log, answers=answers)


#: Where the wrapper's export waits for a volume's device.
ZVOL_ROOT = Path("/dev/zvol")


@dataclass(frozen=True)
class FakeZvols:
    """A pool name of the test's own under /dev/zvol, and a base dataset in it."""

    #: ``POOL/volumes``, POOL unique to this test
    base: str
    #: ``/dev/zvol/POOL``: everything the test creates is below it
    root: Path

    def device(self, dataset: str) -> Path:
        """Create the stand-in (an empty file) for ``/dev/zvol/DATASET``; ``dataset`` is under the pool."""
        path = ZVOL_ROOT / dataset
        if ".." in dataset.split("/") or not path.is_relative_to(self.root):
            raise ValueError(f"{dataset!r} is not under the test's pool {self.root.name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path


def install_wrapper(
    path: Path, scope: KeyScope, recorders: Recorders, conf_dir: Path, lock_dir: Path
) -> Path:
    """The real wrapper at ``path``, for a pool's ``scope``, running the recorders instead of zfs and tgtadm."""
    from engine.hosts.wrapper import wrapper_script

    text = wrapper_script(
        scope,
        zfs=str(recorders.zfs),
        tgtadm=str(recorders.tgtadm),
        conf_dir=str(conf_dir),
        lock_dir=str(lock_dir),
    )
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


@contextmanager
def fake_zvols() -> Iterator[FakeZvols]:
    """A unique ``/dev/zvol/specengine-test-HEX`` for device stand-ins; removed on exit.

    The wrapper looks for ``/dev/zvol/DATASET`` itself (udev makes it on a
    real host), so a test of its export needs one there. The folder is new
    (never one that existed), and ``/dev/zvol`` is removed again when this
    made it and it is empty. Needs root, as the sshd tests do.
    """
    if os.geteuid() != 0:
        raise RuntimeError("fake_zvols writes under /dev/zvol and must run as root (as CI does)")
    made_zvol = not ZVOL_ROOT.exists()
    pool = f"specengine-test-{secrets.token_hex(6)}"
    root = ZVOL_ROOT / pool
    root.mkdir(parents=True)  # FileExistsError rather than sharing another's folder
    try:
        yield FakeZvols(base=f"{pool}/volumes", root=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if made_zvol:
            with contextlib.suppress(OSError):  # not empty: someone else uses it now
                ZVOL_ROOT.rmdir()


@dataclass
class Sshd:
    """A running sshd and what a client needs to reach it."""

    folder: Path
    port: int
    client_key: Path
    public_key: str
    known_hosts: Path
    authorized_keys: Path
    log: Path
    process: subprocess.Popen[bytes]
    ssh_binary: str

    def set_authorized_keys(self, text: str) -> None:
        """Replace authorized_keys: sshd reads it again at each login."""
        self.authorized_keys.write_text(text.rstrip("\n") + "\n", encoding="utf-8")

    def ssh_argv(self, *options: str) -> list[str]:
        """The ssh client's argv up to the destination, with the host key pinned."""
        return [
            self.ssh_binary,
            "-F",
            "/dev/null",  # no user or system client config changes the test
            "-i",
            str(self.client_key),
            "-p",
            str(self.port),
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "IdentityAgent=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            # The default post-quantum exchange costs a third of each login's
            # time on a small machine, and the tests make dozens of logins.
            "-o",
            "KexAlgorithms=curve25519-sha256",
            *options,
            "root@127.0.0.1",
        ]

    def ssh(
        self,
        command: str | bytes | None,
        *options: str,
        tty: bool = False,
        timeout: float = 15,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``ssh ... root@127.0.0.1 COMMAND`` (no COMMAND when None) and return what it did.

        ``tty`` gives ssh a terminal as stdin, as a person at a terminal has:
        then ``-t`` asks for a pty and goes on without one when it is
        refused, where ``-tt`` without a terminal would give up.
        """
        argv: list[str | bytes] = [*self.ssh_argv(*options)]
        if command is not None:
            # One argument: ssh sends it as the command line unchanged.
            argv.append(command)
        if not tty:
            return subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
            )
        leader, follower = os.openpty()
        try:
            return subprocess.run(
                argv, stdin=follower, capture_output=True, timeout=timeout, check=False
            )
        finally:
            os.close(follower)
            os.close(leader)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _keygen(keygen: str, path: Path, comment: str) -> str:
    subprocess.run(
        [keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text(encoding="utf-8").strip()


def _config(folder: Path, port: int, host_key: Path, authorized_keys: Path) -> str:
    return "\n".join(
        [
            "ListenAddress 127.0.0.1",
            f"Port {port}",
            f"HostKey {host_key}",
            f"PidFile {folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {authorized_keys}",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "AllowUsers root",
            "StrictModes no",
            "PermitUserEnvironment no",
            "LogLevel VERBOSE",
            "",
        ]
    )


def _wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(
        f"sshd did not listen on port {port} in {_START_TIMEOUT}s: {log.read_text()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def run_sshd(folder: Path, authorized_keys: Callable[[str], str]) -> Iterator[Sshd]:
    """Start sshd in ``folder`` and stop it (by its PID) on exit.

    ``authorized_keys`` is given the generated client public key and returns
    the authorized_keys text. Raises ``NotInstalledError`` when OpenSSH is
    missing and ``RuntimeError`` when sshd does not start.
    """
    tools = _require_tools()
    if os.geteuid() != 0:
        raise RuntimeError("tests/sshd.py logs in as root and must run as root (as CI does)")
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "host_ed25519"
    host_public = _keygen(tools["ssh-keygen"], host_key, "specengine-test-host")
    client_key = folder / "client_ed25519"
    public_key = _keygen(tools["ssh-keygen"], client_key, "specengine-test")
    authorized = folder / "authorized_keys"
    authorized.write_text(authorized_keys(public_key).rstrip("\n") + "\n", encoding="utf-8")
    # sshd refuses to start without its privilege separation directory.
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    log = folder / "sshd.log"
    config = folder / "sshd_config"
    # The free port may be taken between probe and bind: try a few.
    for _attempt in range(3):
        port = _free_port()
        config.write_text(_config(folder, port, host_key, authorized), encoding="utf-8")
        with log.open("ab") as err:
            process = subprocess.Popen(
                [tools["sshd"], "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
            )
        try:
            if _wait_listening(process, port, log):
                break
        except BaseException:
            _stop(process)
            raise
    else:
        raise RuntimeError(f"sshd did not start: {log.read_text()}")
    known_hosts = folder / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public}\n", encoding="utf-8")
    server = Sshd(
        folder=folder,
        port=port,
        client_key=client_key,
        public_key=public_key,
        known_hosts=known_hosts,
        authorized_keys=authorized,
        log=log,
        process=process,
        ssh_binary=tools["ssh"],
    )
    try:
        yield server
    finally:
        _stop(process)
