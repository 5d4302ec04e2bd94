"""The storage key's forced command: the real wrapper, alone and behind a real sshd.

The wrapper (engine/hosts/wrapper.py) runs with its tools pointed at
recorders (tests/sshd.py) that log their argv: an allowed line must reach the
tool exactly once with exactly its words, and a hostile one must reach
nothing, neither a tool nor a shell (a canary file a shell would create, a
folder it would remove). Behind sshd, the key's authorized_keys line is the
one ``authorized_keys_line`` makes, so ``restrict`` and ``from=`` are tested
as sshd applies them.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.hosts.wrapper import REFUSED_EXIT, authorized_keys_line, wrapper_script
from tests.sshd import NotInstalledError, Recorders, Sshd, install_recorders, run_sshd

BASE = "tank/specengine"
REFUSAL = b"specengine-wrapper: refused: "

ALLOWED = [
    "zfs list -H -p -o name,volsize,used,origin,type -t volume,snapshot -r tank/specengine",
    "zfs create -V 10G tank/specengine/vol1",
    "zfs create -V 1073741824 tank/specengine/vol-1.raw",
    "zfs create -s -V 512M tank/specengine/Vol_2",
    "zfs set volsize=20G tank/specengine/vol1",
    "zfs snapshot tank/specengine/vol1@base",
    "zfs clone tank/specengine/vol1@base tank/specengine/vol2",
    "zfs promote tank/specengine/vol2",
    "zfs destroy tank/specengine/vol2",
    "zfs destroy tank/specengine/vol1@base",
    "tgtadm --lld iscsi --mode target --op show",
    "tgtadm --lld iscsi --mode target --op new --tid 7 --targetname iqn.2024-05.org.example:vol1",
    "tgtadm --lld iscsi --mode target --op new --tid 7 --targetname iqn.2024-05.org.example",
    "tgtadm --lld iscsi --mode logicalunit --op new --tid 7 --lun 1 --backing-store /dev/zvol/tank/specengine/vol1",
    "tgtadm --lld iscsi --mode target --op bind --tid 7 --initiator-address ALL",
    "tgtadm --lld iscsi --mode target --op bind --tid 7 --initiator-address 192.0.2.10",
    "tgtadm --lld iscsi --mode target --op bind --tid 7 --initiator-name iqn.1993-08.org.debian:01:abc",
    "tgtadm --lld iscsi --mode target --op delete --tid 7",
]


def _hostile(canary: Path, victim: Path) -> list[str | bytes]:
    """Lines the wrapper must refuse; ``canary`` appears if a shell ran one, ``victim`` goes."""
    listing = "zfs list -H -p -o name,volsize,used,origin,type -t volume,snapshot -r " + BASE
    vol = f"{BASE}/vol1"
    return [
        f"{listing}; touch {canary}",
        f"{listing};touch {canary}",
        f"zfs promote {vol} && touch {canary}",
        f"zfs promote {vol} || touch {canary}",
        f"zfs promote {vol} | touch {canary}",
        f"zfs promote {vol} & touch {canary}",
        f"zfs promote `touch {canary}`",
        f"zfs promote $(touch {canary})",
        f"zfs promote {vol} > {canary}",
        f"zfs promote {vol} < /etc/passwd",
        f"zfs destroy {BASE}/*",
        f"zfs destroy {BASE}/vol?",
        f"zfs destroy {BASE}/[a-z]1",
        f"zfs destroy {{{vol},tank/x}}",
        "zfs promote ~root",
        f"zfs promote {vol} # comment",
        f"zfs list\ntouch {canary}",
        f"zfs promote {vol}\r\ntouch {canary}",
        f"zfs destroy {BASE}/../other",
        f"zfs destroy {BASE}/..",
        "zfs destroy tank/x",
        f"zfs destroy {BASE}",
        f"zfs destroy -r {vol}",
        f"zfs destroy -R {vol}",
        f"zfs destroy -f {vol}",
        f"zfs destroy -d {vol}@base",
        f"zfs destroy -rf {vol}",
        f"zfs create -V 1G -o compression=off {vol}",
        f"zfs create -V 1P {vol}",
        f"zfs create -V 1G {vol}/nested",
        f"zfs create -V 1G {BASE}/-rf",
        f"zfs snapshot {vol}@a@b",
        f"zfs clone tank/x@base {vol}",
        f"zfs set quota=1G {vol}",
        f"zfs rename {vol} tank/x",
        f"zfs list -H -p -o name,mountpoint -r {BASE}",
        "zfs list -H -p -o name,volsize,used,origin,type -t volume,snapshot -r tank",
        f"{listing} extra",
        f"{listing}/",
        f"ZFS promote {vol}",
        f"zfs\tpromote {vol}",
        f"sh -c 'touch {canary}'",
        f"sh -c touch\\ {canary}",
        f"bash -c touch$IFS{canary}",
        "/bin/sh",
        "sh",
        "",
        "   ",
        f"zfs promote {BASE}/" + "a" * 20000,
        f"zfs promote {vol}\x01",
        f"zfs promote {vol}\x7f",
        f"zfs promote {vol}\x1b",
        b"zfs promote tank/specengine/vol\xff",
        f"zfs promote {BASE}/v\u00f6l",
        f"FOO=1 zfs promote {vol}",
        f"LD_PRELOAD={canary}.so {listing}",
        f"/usr/sbin/zfs promote {vol}",
        f"zfs promote '{vol}'",
        f'zfs promote "{vol}"',
        f"tgtadm --lld iscsi --mode target --op delete --tid 1; rm -rf {victim}",
        "tgtadm --lld iscsi --mode target --op delete --tid 0",
        "tgtadm --lld iscsi --mode target --op delete --tid one",
        "tgtadm --lld iscsi --mode target --op delete --tid 1 --force",
        "tgtadm --lld iscsi --mode target --op new --tid 1 --targetname IQN.2024-05.org.example:x",
        "tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --backing-store /etc/shadow",
        "tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 1 --backing-store /dev/zvol/tank/x",
        "tgtadm --lld iscsi --mode logicalunit --op new --tid 1 --lun 2 --backing-store /dev/zvol/tank/specengine/vol1",
        "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address 10.0.0.256",
        "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address 010.0.0.1",
        "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address 0.0.0.0/0",
        "tgtadm --lld iscsi --mode system --op delete",
        "scp -t /tmp",
        "/usr/lib/openssh/sftp-server",
    ]


@dataclass(frozen=True)
class Installed:
    """The wrapper written for BASE, its recorders, and the files a shell would touch."""

    wrapper: Path
    recorders: Recorders
    canary: Path
    victim: Path


def _install(folder: Path) -> Installed:
    recorders = install_recorders(folder / "tools")
    wrapper = folder / "specengine-zfs-wrapper"
    wrapper.write_text(
        wrapper_script(BASE, zfs=str(recorders.zfs), tgtadm=str(recorders.tgtadm)),
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    victim = folder / "victim"
    victim.mkdir()
    (victim / "keep").write_text("a shell that ran rm -rf would remove this\n", encoding="utf-8")
    canary = folder / f"PWNED-{secrets.token_hex(8)}"
    return Installed(wrapper, recorders, canary, victim)


def _untouched(installed: Installed, calls_before: int) -> None:
    assert len(installed.recorders.calls()) == calls_before, "a tool was executed"
    assert not installed.canary.exists(), "a shell ran the injected command"
    assert (installed.victim / "keep").exists(), "a shell ran the injected rm"


def _expected_argv(installed: Installed, line: str) -> list[str]:
    words = shlex.split(line)
    tool = installed.recorders.zfs if words[0] == "zfs" else installed.recorders.tgtadm
    return [str(tool), *words[1:]]


# -- the wrapper alone -------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return _install(tmp_path_factory.mktemp("wrapper"))


def _run_wrapper(
    installed: Installed, line: str | bytes | None, args: tuple[str, ...] = ("--base", BASE)
) -> subprocess.CompletedProcess[bytes]:
    env: dict[bytes, bytes] = {b"PATH": os.environb.get(b"PATH", b"/usr/bin:/bin")}
    if line is not None:
        env[b"SSH_ORIGINAL_COMMAND"] = line.encode("utf-8") if isinstance(line, str) else line
    return subprocess.run(
        [str(installed.wrapper), *args], env=env, capture_output=True, timeout=10, check=False
    )


@pytest.mark.parametrize("line", ALLOWED)
def test_each_allowed_shape_runs_its_tool_once_with_the_exact_words(
    installed: Installed, line: str
) -> None:
    before = len(installed.recorders.calls())
    done = _run_wrapper(installed, line)
    assert done.returncode == 0, done.stderr
    calls = installed.recorders.calls()[before:]
    assert calls == [{"argv": _expected_argv(installed, line), "tty": False}]


_HOSTILE_COUNT = len(_hostile(Path("/canary"), Path("/victim")))


@pytest.mark.parametrize("index", range(_HOSTILE_COUNT + 1))
def test_anything_else_is_refused_before_running_anything(installed: Installed, index: int) -> None:
    # The last index is no command at all (an interactive login).
    lines = [*_hostile(installed.canary, installed.victim), None]
    before = len(installed.recorders.calls())
    done = _run_wrapper(installed, lines[index])
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.startswith(REFUSAL) and done.stderr.count(b"\n") == 1, done.stderr
    assert done.stdout == b""
    _untouched(installed, before)


@pytest.mark.parametrize(
    "args", [(), ("--base", "tank/other"), ("--base", BASE, "extra"), ("--base=" + BASE,)]
)
def test_a_wrapper_called_with_another_base_refuses(
    installed: Installed, args: tuple[str, ...]
) -> None:
    before = len(installed.recorders.calls())
    done = _run_wrapper(installed, ALLOWED[0], args)
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.startswith(REFUSAL)
    _untouched(installed, before)


def test_the_wrapper_is_a_standalone_isolated_python3_program() -> None:
    text = wrapper_script(BASE)
    assert text.startswith("#!/usr/bin/python3 -I\n")
    assert "'/usr/sbin/zfs'" in text and "'/usr/sbin/tgtadm'" in text
    imports = {line.split()[1] for line in text.splitlines() if line.startswith("import ")}
    assert imports <= {"ipaddress", "os", "re", "shlex", "sys"}
    for runner in ("subprocess", "os.system", "os.popen", "os.spawn", "shell=True"):
        assert runner not in text
    compile(text, "wrapper", "exec")


@pytest.mark.parametrize(
    ("base", "zfs"),
    [
        ("tank", "/usr/sbin/zfs"),
        ("tank/../x", "/usr/sbin/zfs"),
        ("tank/a b", "/usr/sbin/zfs"),
        ("tank/x'", "/usr/sbin/zfs"),
        ("tank/x", "zfs"),
        ("tank/x", "/usr/sbin/zfs;id"),
        ("tank/x", "/usr/../bin/sh"),
    ],
)
def test_wrapper_script_refuses_a_malformed_base_or_tool(base: str, zfs: str) -> None:
    with pytest.raises(ValueError):
        wrapper_script(base, zfs=zfs)


# -- the authorized_keys line -------------------------------------------------

WRAPPER = "/usr/local/sbin/specengine-zfs-wrapper"
_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0t7ZK8nKdLQx1r9ukhW9x5yL4CqB1p3y3lqz9wJqvA"


def test_the_authorized_keys_line_forces_the_wrapper_from_the_engine_only() -> None:
    line = authorized_keys_line(
        _KEY + " engine@host", WRAPPER, BASE, ["192.0.2.4", "2001:db8::/64", "198.51.100.7/32"]
    )
    assert line == (
        'from="192.0.2.4,2001:db8::/64,198.51.100.7",restrict,'
        f'command="{WRAPPER} --base {BASE}" {_KEY} engine@host'
    )


@pytest.mark.parametrize(
    ("key", "path", "base", "addresses"),
    [
        (_KEY, WRAPPER, BASE, []),
        (_KEY, WRAPPER, BASE, ["engine.example.org"]),
        (_KEY, WRAPPER, BASE, ["192.0.2.0/16"]),
        (_KEY, WRAPPER, BASE, ['127.0.0.1",command="/bin/sh']),
        (_KEY, "/usr/local/sbin/w --base x", BASE, ["127.0.0.1"]),
        (_KEY, "wrapper", BASE, ["127.0.0.1"]),
        (_KEY, WRAPPER, 'tank/x" ,command="/bin/sh', ["127.0.0.1"]),
        (_KEY, WRAPPER, "tank", ["127.0.0.1"]),
        (_KEY + ' "quoted"', WRAPPER, BASE, ["127.0.0.1"]),
        (_KEY + " two words", WRAPPER, BASE, ["127.0.0.1"]),
        (_KEY + "\nssh-ed25519 AAAA other", WRAPPER, BASE, ["127.0.0.1"]),
        ("ssh-dss AAAAB3NzaC1kc3M=", WRAPPER, BASE, ["127.0.0.1"]),
        ("ssh-rsa " + _KEY.split()[1], WRAPPER, BASE, ["127.0.0.1"]),
        ("ssh-ed25519 not-base64!", WRAPPER, BASE, ["127.0.0.1"]),
    ],
)
def test_authorized_keys_line_refuses_what_could_widen_the_key(
    key: str, path: str, base: str, addresses: list[str]
) -> None:
    with pytest.raises(ValueError):
        authorized_keys_line(key, path, base, addresses)


# -- behind a real sshd --------------------------------------------------------


@dataclass(frozen=True)
class Served:
    server: Sshd
    installed: Installed
    line: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("sshd")
    installed = _install(folder / "host")
    lines: list[str] = []

    def keys(public_key: str) -> str:
        lines.append(authorized_keys_line(public_key, str(installed.wrapper), BASE, ["127.0.0.1"]))
        return lines[0]

    try:
        with run_sshd(folder / "sshd", keys) as server:
            yield Served(server, installed, lines[0])
    except NotInstalledError as missing:
        # A missing OpenSSH must fail the run, not skip it: these are the
        # only tests of what sshd and the wrapper let through together.
        pytest.fail(str(missing))


def test_an_allowed_command_runs_once_through_sshd(served: Served) -> None:
    line = "zfs create -s -V 512M tank/specengine/vol1"
    before = len(served.installed.recorders.calls())
    done = served.server.ssh(line)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"recorded zfs\n"
    calls = served.installed.recorders.calls()[before:]
    assert calls == [{"argv": _expected_argv(served.installed, line), "tty": False}]


def test_hostile_lines_through_sshd_run_nothing(served: Served) -> None:
    installed = served.installed
    hostile = [*_hostile(installed.canary, installed.victim), None]
    assert len(hostile) >= 30
    before = len(installed.recorders.calls())
    # One connection per line, a few at a time: sshd forks a session for each
    # as it would for the engine, and the file stays well under 30 s.
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(served.server.ssh, hostile))
    let_through = [
        (line, done.returncode, done.stderr[-300:])
        for line, done in zip(hostile, results, strict=True)
        if done.returncode != REFUSED_EXIT or REFUSAL not in done.stderr
    ]
    assert let_through == []
    _untouched(installed, before)


def test_restrict_forbids_forwarding(served: Served) -> None:
    before = len(served.installed.recorders.calls())
    # -W opens a direct-tcpip channel at once, to sshd's own port.
    done = served.server.ssh(None, "-W", f"127.0.0.1:{served.server.port}")
    assert done.returncode == 255
    assert b"administratively prohibited" in done.stderr, done.stderr
    done = served.server.ssh(
        None, "-N", "-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:9"
    )
    assert done.returncode == 255
    assert b"forwarding failed" in done.stderr, done.stderr
    _untouched(served.installed, before)


def test_restrict_gives_no_pty(served: Served) -> None:
    before = len(served.installed.recorders.calls())
    # At a terminal without a command, ssh asks for a pty and goes on
    # without one when sshd refuses it; the wrapper then refuses the login.
    done = served.server.ssh(None, tty=True)
    assert done.returncode == REFUSED_EXIT, done.stderr
    assert b"PTY allocation request failed" in done.stderr
    assert REFUSAL + b"no command" in done.stderr
    # A pty asked for explicitly (-tt) and refused ends the session.
    done = served.server.ssh("zfs destroy -r tank/specengine/vol1", "-tt")
    assert done.returncode == 255
    assert b"PTY allocation request failed" in done.stderr
    _untouched(served.installed, before)


def test_from_another_address_refuses_the_key(served: Served) -> None:
    # 192.0.2.0/24 is documentation space: a pattern sshd compares, never contacted.
    elsewhere = served.line.replace('from="127.0.0.1"', 'from="192.0.2.1"', 1)
    assert elsewhere != served.line
    before = len(served.installed.recorders.calls())
    served.server.set_authorized_keys(elsewhere)
    try:
        done = served.server.ssh(ALLOWED[0])
    finally:
        served.server.set_authorized_keys(served.line)
    assert done.returncode == 255
    assert b"Permission denied" in done.stderr, done.stderr
    _untouched(served.installed, before)
    # The same key from the permitted address still works.
    assert served.server.ssh(ALLOWED[0]).returncode == 0
