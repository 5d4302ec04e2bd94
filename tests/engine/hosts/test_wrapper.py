"""The storage key's forced command: the real wrapper, alone and behind a real sshd.

The wrapper (engine/hosts/wrapper.py) runs with its tools pointed at
recorders (tests/sshd.py) that log their argv: an allowed line must reach the
tool exactly once with exactly its words, and a hostile one must reach
nothing, neither a tool nor a shell (a canary file a shell would create, a
folder it would remove). Behind sshd, the key's authorized_keys line is the
one ``authorized_keys_line`` makes, so ``restrict`` and ``from=`` are tested
as sshd applies them.

The wrapper's own commands (``specengine-export``, ``-unexport``,
``-tgt-save``, ``-lock``) run tgtadm itself: their tests check the exact
tgtadm calls, the tgt configuration file they leave (or remove), and the
rollback when a step fails. The export waits for ``/dev/zvol/DATASET``, so
those tests use a pool of their own under /dev/zvol (tests/sshd.py
``fake_zvols``), removed afterwards.
"""

from __future__ import annotations

import ast
import os
import re
import secrets
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from engine.hosts import wrapper, wrapper_program
from engine.hosts.wrapper import (
    BUSY_EXIT,
    OWNER_QUERY,
    REFUSED_EXIT,
    SHOW_QUERY,
    VOLSIZE_QUERY,
    KeyScope,
    authorized_keys_line,
    wrapper_script,
)
from engine.volume_pool.diff import key_scope
from tests.sshd import (
    FakeZvols,
    HostState,
    NotInstalledError,
    Recorders,
    Sshd,
    fake_zvols,
    install_recorders,
    install_wrapper,
    run_sshd,
)

ROOT = Path(__file__).resolve().parents[3]
BASE = "tank/specengine"
REFUSAL = b"specengine-wrapper: refused: "

LISTING = (
    "zfs list -H -p -o name,type,volsize,used,available,origin,org.specengine:spec"
    " -t filesystem,volume,snapshot -r tank/specengine"
)
#: Who made what: the owner property where it is set, not where it is inherited.
OWNERS = (
    "zfs get -H -p -o name,value -s local -t volume,snapshot -r org.specengine:spec tank/specengine"
)
SPEC = "lab"
OWNER = f"-o org.specengine:spec={SPEC}"
PREFIX = "iqn.2010-10.org.openstack:"
IQN = f"{PREFIX}vol1"
#: Another pool's IQN prefix on the same host (tgt's target ids are the host's, not a pool's).
ELSEWHERE = "iqn.2010-10.org.example:"
G = 1 << 30


def _target(tid: int, iqn: str, *backing: str, acl: tuple[str, ...] = ("ALL",)) -> str:
    """One target as ``tgtadm --op show`` prints it (LUN 0 is tgtd's controller)."""
    luns = "".join(
        f"        LUN: {lun}\n            Type: disk\n            Backing store path: {path}\n"
        for lun, path in enumerate(backing, 1)
    )
    return (
        f"Target {tid}: {iqn}\n"
        "    System information:\n        Driver: iscsi\n        State: ready\n"
        "    I_T nexus information:\n"
        "    LUN information:\n        LUN: 0\n            Type: controller\n"
        f"            Backing store path: None\n{luns}"
        "    Account information:\n    ACL information:\n"
        + "".join(f"        {entry}\n" for entry in acl)
    )


def _show(base: str) -> str:
    """tgtd's targets on the stand-in host: the pool's own, and every way of not being its own."""
    return "".join(
        [
            _target(1, f"{PREFIX}vol1", f"/dev/zvol/{base}/vol1"),
            _target(7, f"{ELSEWHERE}foreign", "/dev/zvol/tank/other/foreign"),
            # The pool's prefix, another pool's volume; another prefix, this pool's volume.
            _target(8, f"{PREFIX}vol8", "/dev/zvol/tank/other/vol8"),
            _target(9, f"{ELSEWHERE}vol9", f"/dev/zvol/{base}/vol9"),
            # Under the base, but another spec's volume.
            _target(10, f"{PREFIX}theirs", f"/dev/zvol/{base}/theirs"),
            # The pool's own, left without its LUN by a run that stopped half-way.
            _target(11, f"{PREFIX}vol2"),
            # One LUN of the pool's and one of another's.
            _target(12, f"{PREFIX}vol3", f"/dev/zvol/{base}/vol3", "/dev/zvol/tank/other/x"),
            # Backing stores that only look as if they were under the base.
            _target(13, f"{PREFIX}x", f"/dev/zvol/{base}-old/x"),
            _target(14, f"{PREFIX}y", f"/dev/zvol/{base}/../other/y"),
            _target(15, f"{PREFIX}z", f"/dev/{base}/vol1"),
        ]
    )


def _host(base: str = BASE) -> HostState:
    """The stand-in host: what the spec made, what another spec or a person made, tgtd's targets."""
    return HostState(
        owners={
            f"{base}/vol1": SPEC,
            f"{base}/vol1@base": SPEC,
            f"{base}/vol1@theirs": "other-spec",
            f"{base}/vol1@handmade": None,
            f"{base}/vol2": SPEC,
            f"{base}/vol3": SPEC,
            f"{base}/vol9": SPEC,
            f"{base}/theirs": "other-spec",
            f"{base}/handmade": None,
            f"{base}/lab2": "lab2",
        },
        sizes={
            f"{base}/vol1": 10 * G,
            f"{base}/vol2": G,
            f"{base}/vol3": G,
            f"{base}/theirs": 5 * G,
            f"{base}/handmade": 5 * G,
        },
        show=_show(base),
        missing=[f"{base}/ghost"],
    )


ALLOWED = [
    LISTING,
    OWNERS,
    f"zfs create -V 10G {OWNER} tank/specengine/vol1",
    f"zfs create -V 1073741824 {OWNER} tank/specengine/vol-1.raw",
    f"zfs create -s -V 512M {OWNER} tank/specengine/Vol_2",
    "zfs set volsize=20G tank/specengine/vol1",
    f"zfs snapshot {OWNER} tank/specengine/vol1@base",
    f"zfs clone {OWNER} tank/specengine/vol1@base tank/specengine/vol2",
    "zfs promote tank/specengine/vol2",
    "zfs destroy tank/specengine/vol2",
    "zfs destroy tank/specengine/vol1@base",
    "tgtadm --lld iscsi --mode target --op show",
    "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL",
    "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address 192.0.2.10",
    "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-name iqn.1993-08.org.debian:01:abc",
    "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-address ALL",
    "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-name iqn.1993-08.org.debian:01:abc",
]


def _hostile(canary: Path, victim: Path) -> list[str | bytes]:
    """Lines the wrapper must refuse; ``canary`` appears if a shell ran one, ``victim`` goes."""
    listing = LISTING
    columns = "name,type,volsize,used,available,origin,org.specengine:spec"
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
        f"zfs list -H -p -o {columns} -t filesystem,volume,snapshot -r tank",
        f"zfs list -H -p -o {columns} -t volume,snapshot -r {BASE}",
        f"zfs list -H -p -o {columns},mountpoint -t filesystem,volume,snapshot -r {BASE}",
        f"{listing} extra",
        f"{listing}/",
        # Who made what: locally set values of the owner property under the base, only.
        f"{OWNERS}; touch {canary}",
        f"{OWNERS} extra",
        f"{OWNERS}/",
        f"{OWNERS}/vol1",
        OWNERS.replace("-s local", "-s local,inherited"),
        OWNERS.replace("-s local", "-s inherited"),
        OWNERS.replace("-s local", "-s all"),
        OWNERS.replace(" -s local", ""),
        OWNERS.replace("-o name,value", "-o name,value,source"),
        OWNERS.replace("-o name,value", "-o name,property,value"),
        OWNERS.replace("-o name,value", "-o all"),
        OWNERS.replace(" -o name,value", ""),
        OWNERS.replace(" -H", ""),
        OWNERS.replace(" -p", ""),
        OWNERS.replace("org.specengine:spec", "all"),
        OWNERS.replace("org.specengine:spec", "org.specengine:spec,keylocation"),
        OWNERS.replace("org.specengine:spec", "org.specengine:other"),
        OWNERS.replace("org.specengine:spec", "keyformat"),
        OWNERS.replace("org.specengine:spec", "ORG.SPECENGINE:SPEC"),
        OWNERS.replace("-t volume,snapshot", "-t all"),
        OWNERS.replace("-t volume,snapshot", "-t filesystem,volume,snapshot"),
        OWNERS.replace(" -t volume,snapshot", ""),
        OWNERS.replace(" -r ", " -d 1 "),
        OWNERS.replace(" -r ", " "),
        OWNERS.replace("tank/specengine", "tank"),
        OWNERS.replace("tank/specengine", "tank/other"),
        OWNERS.replace("tank/specengine", "tank/specengine-old"),
        OWNERS.replace("tank/specengine", "tank/specengine/../other"),
        OWNERS + " tank/other",
        OWNERS.replace("zfs get", "zfs set"),
        "zfs set org.specengine:spec=lab tank/specengine/vol1",
        "zfs inherit org.specengine:spec tank/specengine/vol1",
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
        # The shapes of earlier versions, gone: what the engine makes carries its owner.
        f"zfs list -H -p -o name,volsize,used,origin,type -t volume,snapshot -r {BASE}",
        f"zfs create -V 10G {vol}",
        f"zfs create -s -V 512M {vol}",
        f"zfs snapshot {vol}@base",
        f"zfs clone {vol}@base {BASE}/vol2",
        # ... and raw target shapes: the wrapper's export makes targets whole or not at all.
        f"tgtadm --lld iscsi --mode target --op new --tid 7 --targetname {IQN}",
        f"tgtadm --lld iscsi --mode logicalunit --op new --tid 7 --lun 1 --backing-store /dev/zvol/{vol}",
        "tgtadm --lld iscsi --mode target --op delete --tid 7",
        "tgtadm --lld iscsi --mode target --op delete --force --tid 7",
        # Properties: the owner only, exactly once, with a plain name.
        f"zfs create -V 1G -o mountpoint=/ {vol}",
        f"zfs create -V 1G -o org.specengine:spec=x;y {vol}",
        f"zfs create -V 1G -o org.specengine:spec= {vol}",
        f"zfs create -V 1G -o org.specengine:spec=-rf {vol}",
        f"zfs create -V 1G -o org.specengine:spec=a/b {vol}",
        f"zfs create -V 1G -o org.specengine:other=lab {vol}",
        f"zfs create -V 1G -o ORG.SPECENGINE:SPEC=lab {vol}",
        f"zfs create -V 1G {OWNER} -o compression=off {vol}",
        f"zfs create -V 1G -o compression=off {OWNER} {vol}",
        f"zfs create -V 1G -oorg.specengine:spec=lab {vol}",
        f"zfs create -V 1G {OWNER} tank/x",
        f"zfs create -V 1G {OWNER} {BASE}",
        f"zfs create -V 1G {OWNER} {BASE}/../x",
        f"zfs create -p -V 1G {OWNER} {BASE}/a/b",
        f"zfs snapshot -r {OWNER} {vol}@s",
        f"zfs snapshot {OWNER} {vol}",
        f"zfs snapshot {OWNER} tank/x@s",
        f"zfs snapshot -o readonly=on {vol}@s",
        f"zfs clone {OWNER} tank/x@base {vol}",
        f"zfs clone {OWNER} {vol}@base tank/x",
        f"zfs clone -o readonly=off {vol}@base {BASE}/vol2",
        f"zfs clone -p {OWNER} {vol}@base {BASE}/vol2",
        "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-address 0.0.0.0/0",
        # The wrapper's own commands: datasets under the base, plain ACLs, nothing more.
        f"specengine-export tank/other/v 1 {IQN} ALL",
        f"specengine-export {BASE} 1 {IQN} ALL",
        f"specengine-export {BASE}/../x 1 {IQN} ALL",
        f"specengine-export {vol} 1 {IQN} ALL;touch {canary}",
        f"specengine-export {vol} 1 {IQN} ALL,10.0.0.1;rm -rf {victim}",
        f"specengine-export {vol} 1 {IQN} $(touch {canary})",
        f"specengine-export {vol} 0 {IQN} ALL",
        f"specengine-export {vol} 1 IQN.2010-10.org.openstack:vol1 ALL",
        f"specengine-export {vol} 1 {IQN} 10.0.0.256",
        f"specengine-export {vol} 1 {IQN} 0.0.0.0/0",
        f"specengine-export {vol} 1 {IQN} ALL,",
        f"specengine-export {vol} 1 {IQN} ,ALL",
        f"specengine-export {vol} 1 {IQN} ALL 10.0.0.1",
        f"specengine-export {vol} 1 {IQN} " + ",".join(["ALL"] * 65),
        f"specengine-export {vol} 1 {IQN}",
        f"specengine-export {vol} 1 {IQN} ALL extra",
        f"specengine-export {vol} {IQN} ALL",
        f"specengine-unexport {BASE} 1",
        "specengine-unexport tank/other/v 1",
        f"specengine-unexport {vol}",
        f"specengine-unexport {vol} 1 --force",
        f"specengine-unexport {vol} -1",
        f"specengine-tgt-save {BASE}/../x {IQN} ALL",
        f"specengine-tgt-save {BASE}/v/../../x {IQN} ALL",
        f"specengine-tgt-save tank/x {IQN} ALL",
        f"specengine-tgt-save {vol} {IQN} ALL extra",
        f"specengine-tgt-save {vol} {IQN} /etc/passwd",
        f"specengine-tgt-save {vol} /etc/tgt/conf.d/x.conf ALL",
        f"specengine-tgt-save {vol} {IQN}",
        "specengine-lock extra",
        f"specengine-lock {BASE}",
        "specengine-lock --base tank/other",
        "SPECENGINE-LOCK",
        "specengine-lock; id",
        f"specengine-lock\ntouch {canary}",
        "/usr/local/sbin/specengine-zfs-wrapper --base tank/specengine",
        *_beyond_the_pool(),
    ]


def _beyond_the_pool() -> list[str]:
    """Lines of the right shape that reach past what the pool's plan can ask, on the stand-in host."""
    vol = f"{BASE}/vol1"
    bind = "tgtadm --lld iscsi --mode target --op bind --tid"
    unbind = "tgtadm --lld iscsi --mode target --op unbind --tid"
    return [
        # tgt's target ids are the host's: a target must be the pool's by IQN
        # prefix AND by backing store (under the base, a volume this spec made).
        f"specengine-unexport {vol} 7",
        f"specengine-unexport {vol} 8",
        f"specengine-unexport {vol} 9",
        f"specengine-unexport {BASE}/vol9 9",
        f"specengine-unexport {BASE}/theirs 10",
        f"specengine-unexport {vol} 11",
        f"specengine-unexport {BASE}/vol3 12",
        f"specengine-unexport {vol} 13",
        f"specengine-unexport {vol} 14",
        f"specengine-unexport {vol} 15",
        f"specengine-unexport {vol} 99",
        f"specengine-unexport {BASE}/ghost 1",
        f"{unbind} 7 --initiator-address 10.0.2.2",
        f"{unbind} 7 --initiator-address ALL",
        f"{bind} 7 --initiator-address ALL",
        f"{bind} 7 --initiator-name iqn.1993-08.org.debian:01:abc",
        f"{bind} 8 --initiator-address ALL",
        f"{bind} 9 --initiator-address ALL",
        f"{bind} 10 --initiator-address ALL",
        f"{bind} 11 --initiator-address ALL",
        f"{bind} 12 --initiator-address ALL",
        f"{bind} 13 --initiator-address ALL",
        f"{bind} 14 --initiator-address ALL",
        f"{bind} 15 --initiator-address ALL",
        f"{bind} 99 --initiator-address ALL",
        f"{unbind} 10 --initiator-name iqn.1993-08.org.debian:01:abc",
        # A configuration file that tgt would read at its next start.
        f"specengine-tgt-save {vol} {ELSEWHERE}foreign ALL",
        f"specengine-tgt-save {vol} {PREFIX}vol8 ALL",
        f"specengine-tgt-save {vol} {PREFIX}vol1x ALL",
        f"specengine-tgt-save {BASE}/theirs {PREFIX}theirs ALL",
        f"specengine-tgt-save {BASE}/handmade {PREFIX}handmade ALL",
        f"specengine-tgt-save {BASE}/ghost {PREFIX}ghost ALL",
        f"specengine-export {vol} 20 {ELSEWHERE}foreign ALL",
        f"specengine-export {vol} 20 {PREFIX}vol2 ALL",
        f"specengine-export {BASE}/theirs 20 {PREFIX}theirs ALL",
        f"specengine-export {BASE}/handmade 20 {PREFIX}handmade ALL",
        # Volumes are grown, never shrunk (nor "grown" to their own size).
        f"zfs set volsize=1 {vol}",
        f"zfs set volsize=1K {vol}",
        f"zfs set volsize=9G {vol}",
        f"zfs set volsize={10 * G - 1} {vol}",
        f"zfs set volsize=10G {vol}",
        f"zfs set volsize={10 * G} {vol}",
        f"zfs set volsize=20G {BASE}/theirs",
        f"zfs set volsize=20G {BASE}/handmade",
        f"zfs set volsize=20G {BASE}/ghost",
        # Only what this spec made is destroyed, promoted or snapshotted.
        f"zfs destroy {BASE}/theirs",
        f"zfs destroy {BASE}/handmade",
        f"zfs destroy {BASE}/lab2",
        f"zfs destroy {BASE}/ghost",
        f"zfs destroy {vol}@theirs",
        f"zfs destroy {vol}@handmade",
        f"zfs promote {BASE}/theirs",
        f"zfs promote {BASE}/handmade",
        f"zfs snapshot {OWNER} {BASE}/theirs@s",
        f"zfs snapshot {OWNER} {BASE}/handmade@s",
        # The owner is this spec, set at creation only.
        f"zfs create -V 1G -o org.specengine:spec=other-spec {BASE}/new",
        f"zfs create -s -V 1G -o org.specengine:spec=lab2 {BASE}/new",
        f"zfs create -V 1G -o org.specengine:spec=LAB {BASE}/new",
        f"zfs snapshot -o org.specengine:spec=other-spec {vol}@s",
        f"zfs clone -o org.specengine:spec=other-spec {vol}@base {BASE}/new",
        f"zfs set org.specengine:spec={SPEC} {BASE}/theirs",
        f"zfs set org.specengine:spec={SPEC} {BASE}/handmade",
        f"zfs set org.specengine:spec=other-spec {vol}",
        f"zfs inherit org.specengine:spec {vol}",
    ]


@dataclass(frozen=True)
class Installed:
    """The wrapper written for a pool, its recorders, its folders, and the files a shell would touch."""

    wrapper: Path
    recorders: Recorders
    canary: Path
    victim: Path
    scope: KeyScope
    conf_dir: Path
    lock_dir: Path

    @property
    def base(self) -> str:
        return self.scope.base


def _scope(base: str = BASE) -> KeyScope:
    return key_scope(base, SPEC, PREFIX)


def _install(
    folder: Path,
    base: str = BASE,
    *,
    fail_on: dict[str, str] | None = None,
    conf_dir: Path | None = None,
    lock_dir: Path | None = None,
) -> Installed:
    recorders = install_recorders(folder / "tools", fail_on=fail_on)
    if conf_dir is None:
        conf_dir = folder / "conf.d"
        conf_dir.mkdir()
    # Not made beforehand: the lock makes its folder (/run/lock may be a fresh tmpfs).
    lock_dir = lock_dir or folder / "lock"
    scope = _scope(base)
    wrapper = install_wrapper(
        folder / "specengine-zfs-wrapper", scope, recorders, conf_dir, lock_dir
    )
    recorders.stand_for(_host(base))
    victim = folder / "victim"
    victim.mkdir()
    (victim / "keep").write_text("a shell that ran rm -rf would remove this\n", encoding="utf-8")
    canary = folder / f"PWNED-{secrets.token_hex(8)}"
    return Installed(wrapper, recorders, canary, victim, scope, conf_dir, lock_dir)


def _listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def _is_question(call: dict[str, Any]) -> bool:
    """Whether a recorded call is one of the wrapper's read-only questions to the host."""
    tool, words = Path(call["argv"][0]).name, call["argv"][1:]
    if tool == "tgtadm":
        return bool(words == list(SHOW_QUERY))
    return any(words[:-1] == list(query) for query in (OWNER_QUERY, VOLSIZE_QUERY))


def _acts(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls that act (everything but the wrapper's questions)."""
    return [call for call in calls if not _is_question(call)]


def _state(installed: Installed) -> tuple[int, list[str], list[str]]:
    """What a refused line must leave as it was: the tools that act, the tgt files, the locks.

    A refusal may come after the wrapper asked the host (who made a volume,
    tgtd's targets): those questions change nothing.
    """
    return (
        len(_acts(installed.recorders.calls())),
        _listing(installed.conf_dir),
        _listing(installed.lock_dir),
    )


def _untouched(installed: Installed, before: tuple[int, list[str], list[str]]) -> None:
    calls, conf, locks = _state(installed)
    assert calls == before[0], "a tool was executed"
    assert conf == before[1], "a tgt configuration file was written or removed"
    assert locks == before[2], "a lock file was made"
    assert not installed.canary.exists(), "a shell ran the injected command"
    assert (installed.victim / "keep").exists(), "a shell ran the injected rm"


def _expected_argv(installed: Installed, line: str) -> list[str]:
    words = shlex.split(line)
    tool = installed.recorders.zfs if words[0] == "zfs" else installed.recorders.tgtadm
    return [str(tool), *words[1:]]


def _tgtadm(installed: Installed, words: str) -> dict[str, object]:
    """A recorded tgtadm call on the iSCSI driver (``words`` after ``--lld iscsi``, split)."""
    argv = [str(installed.recorders.tgtadm), "--lld", "iscsi", *words.split()]
    return {"argv": argv, "tty": False}


# -- the wrapper alone -------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return _install(tmp_path_factory.mktemp("wrapper"))


def _env(line: str | bytes | None) -> dict[bytes, bytes]:
    env: dict[bytes, bytes] = {b"PATH": os.environb.get(b"PATH", b"/usr/bin:/bin")}
    if line is not None:
        env[b"SSH_ORIGINAL_COMMAND"] = line.encode("utf-8") if isinstance(line, str) else line
    return env


def _run_wrapper(
    installed: Installed, line: str | bytes | None, args: tuple[str, ...] | None = None
) -> subprocess.CompletedProcess[bytes]:
    argv = [str(installed.wrapper), *(installed.scope.arguments() if args is None else args)]
    # stdin at its end, as ssh -n gives: the lock would otherwise wait on the test's own.
    return subprocess.run(
        argv,
        env=_env(line),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
        check=False,
    )


@pytest.mark.parametrize("line", ALLOWED)
def test_each_allowed_shape_runs_its_tool_once_with_the_exact_words(
    installed: Installed, line: str
) -> None:
    before = len(installed.recorders.calls())
    done = _run_wrapper(installed, line)
    assert done.returncode == 0, done.stderr
    calls = installed.recorders.calls()[before:]
    # Before it acts, the wrapper may ask the host; it acts once, the last call.
    assert calls[-1] == {"argv": _expected_argv(installed, line), "tty": False}
    assert all(_is_question(call) for call in calls[:-1]), calls


def _zfs_question(installed: Installed, query: tuple[str, ...], name: str) -> dict[str, object]:
    return {"argv": [str(installed.recorders.zfs), *query, name], "tty": False}


def _owner_of(installed: Installed, name: str) -> dict[str, object]:
    return _zfs_question(installed, OWNER_QUERY, name)


def _show_call(installed: Installed) -> dict[str, object]:
    return {"argv": [str(installed.recorders.tgtadm), *SHOW_QUERY], "tty": False}


def test_what_the_wrapper_asks_before_it_acts(installed: Installed) -> None:
    vol = f"{BASE}/vol1"
    asked = {
        # New things carry the owner from their creation: nothing to ask.
        f"zfs create -V 10G {OWNER} {BASE}/new": [],
        f"zfs clone {OWNER} {vol}@base {BASE}/new": [],
        LISTING: [],
        "tgtadm --lld iscsi --mode target --op show": [],
        # Who made it (set there, not inherited), and its size now.
        f"zfs set volsize=10241M {vol}": [
            _owner_of(installed, vol),
            _zfs_question(installed, VOLSIZE_QUERY, vol),
        ],
        f"zfs snapshot {OWNER} {vol}@new": [_owner_of(installed, vol)],
        f"zfs promote {vol}": [_owner_of(installed, vol)],
        f"zfs destroy {vol}@base": [_owner_of(installed, f"{vol}@base")],
        # Whose target tid 1 is: tgtd says, then who made the volume it exports.
        "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL": [
            _show_call(installed),
            _owner_of(installed, vol),
        ],
    }
    for line, questions in asked.items():
        before = len(installed.recorders.calls())
        done = _run_wrapper(installed, line)
        assert done.returncode == 0, (line, done.stderr)
        calls = installed.recorders.calls()[before:]
        assert calls[:-1] == questions, line
        assert calls[-1]["argv"][1:] == shlex.split(line)[1:]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (
            f"specengine-unexport {BASE}/vol1 7",
            f"target 7 ({ELSEWHERE}foreign) is not this pool's: its IQN does not start with"
            f" {PREFIX}",
        ),
        (
            "tgtadm --lld iscsi --mode target --op bind --tid 8 --initiator-address ALL",
            f"target 8 ({PREFIX}vol8) is not this pool's: it exports /dev/zvol/tank/other/vol8,"
            f" not a volume under {BASE}",
        ),
        (
            "tgtadm --lld iscsi --mode target --op bind --tid 10 --initiator-address ALL",
            f"{BASE}/theirs was not made by spec lab (org.specengine:spec: 'other-spec')",
        ),
        (
            f"specengine-unexport {BASE}/vol1 11",
            f"target 11 ({PREFIX}vol2) exports no volume and is not {BASE}/vol1's ({PREFIX}vol1)",
        ),
        (
            f"specengine-unexport {BASE}/vol1 9",
            f"target 9 ({ELSEWHERE}vol9) is not this pool's: its IQN does not start with {PREFIX}",
        ),
        (
            f"specengine-unexport {BASE}/vol3 12",
            f"target 12 ({PREFIX}vol3) is not this pool's: it exports /dev/zvol/tank/other/x,"
            f" not a volume under {BASE}",
        ),
        (f"specengine-unexport {BASE}/vol1 99", "no target 99 on this host"),
        (
            f"specengine-tgt-save {BASE}/vol1 {ELSEWHERE}foreign ALL",
            f"{BASE}/vol1 is exported as {PREFIX}vol1, not {ELSEWHERE}foreign",
        ),
        (
            f"zfs set volsize=1 {BASE}/vol1",
            f"volsize=1 would not grow {BASE}/vol1 ({10 * G} bytes now): volumes are only grown",
        ),
        (
            f"zfs destroy {BASE}/handmade",
            f"{BASE}/handmade was not made by spec lab (org.specengine:spec: not set on it)",
        ),
        (
            f"zfs destroy {BASE}/ghost",
            f"cannot check {BASE}/ghost: cannot open '{BASE}/ghost': dataset does not exist",
        ),
        (
            f"zfs create -V 1G -o org.specengine:spec=other-spec {BASE}/new",
            "not an allowed command",
        ),
    ],
)
def test_a_refusal_says_why(installed: Installed, line: str, why: str) -> None:
    done = _run_wrapper(installed, line)
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.decode().startswith(f"specengine-wrapper: refused: {why}"), done.stderr


def test_without_an_answer_from_tgtd_no_target_is_touched(tmp_path: Path) -> None:
    installed = _install(tmp_path)
    installed.recorders.answer(
        "tgtadm",
        SHOW_QUERY,
        "",
        rc=107,
        stderr="tgtadm: failed to send request hdr to tgt daemon, Transport endpoint is not"
        " connected\n",
    )
    before = _state(installed)
    for line in (
        f"specengine-unexport {BASE}/vol1 1",
        "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-address ALL",
    ):
        done = _run_wrapper(installed, line)
        assert done.returncode == REFUSED_EXIT
        assert b"refused: cannot check tgtd's targets: tgtadm: failed to send" in done.stderr
    _untouched(installed, before)


def test_a_question_the_host_cannot_answer_refuses_without_a_traceback(tmp_path: Path) -> None:
    # zfs missing (a broken install): the owner cannot be checked, so nothing runs.
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(wrapper_script(_scope(), zfs=str(tmp_path / "no-zfs")), encoding="utf-8")
    wrapper.chmod(0o755)
    done = subprocess.run(
        [str(wrapper), *_ARGUMENTS],
        env=_env(f"zfs destroy {BASE}/vol1"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.startswith(
        f"specengine-wrapper: refused: cannot check {BASE}/vol1: [Errno 2]".encode()
    ), done.stderr


_HOSTILE_COUNT = len(_hostile(Path("/canary"), Path("/victim")))


@pytest.mark.parametrize("index", range(_HOSTILE_COUNT + 1))
def test_anything_else_is_refused_before_running_anything(installed: Installed, index: int) -> None:
    # The last index is no command at all (an interactive login).
    lines = [*_hostile(installed.canary, installed.victim), None]
    before = _state(installed)
    done = _run_wrapper(installed, lines[index])
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.startswith(REFUSAL) and done.stderr.count(b"\n") == 1, done.stderr
    assert done.stdout == b""
    _untouched(installed, before)


_ARGUMENTS = ["--base", BASE, "--spec", SPEC, "--iqn-prefix", PREFIX]


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("--base", BASE),
        ("--base", "tank/other", *_ARGUMENTS[2:]),
        (*_ARGUMENTS[:3], "other-spec", *_ARGUMENTS[4:]),
        (*_ARGUMENTS[:5], ELSEWHERE),
        (*_ARGUMENTS, "extra"),
        ("--base=" + BASE, *_ARGUMENTS[2:]),
        (*_ARGUMENTS[2:], *_ARGUMENTS[:2]),
    ],
)
def test_a_wrapper_called_for_another_pool_refuses(
    installed: Installed, args: tuple[str, ...]
) -> None:
    assert installed.scope.arguments() == _ARGUMENTS
    before = _state(installed)
    done = _run_wrapper(installed, ALLOWED[0], args)
    assert done.returncode == REFUSED_EXIT
    assert done.stderr.startswith(REFUSAL)
    _untouched(installed, before)


def test_the_wrapper_is_a_standalone_isolated_python3_program() -> None:
    text = wrapper_script(_scope())
    assert text.startswith("#!/usr/bin/python3 -I\n")
    assert "'/usr/sbin/zfs'" in text and "'/usr/sbin/tgtadm'" in text
    assert "'/etc/tgt/conf.d'" in text and "'/run/lock'" in text
    assert f"SPEC_NAME = {SPEC!r}" in text and f"IQN_PREFIX = {PREFIX!r}" in text
    tree = ast.parse(text)
    imports = {a.name for node in tree.body if isinstance(node, ast.Import) for a in node.names}
    assert imports <= {
        "contextlib", "fcntl", "ipaddress", "os", "re", "shlex", "subprocess", "sys", "time",
        "typing",
    }  # fmt: skip
    # Nothing of the engine, nor any other module: annotations only, never evaluated.
    imported_from = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert imported_from == ["__future__"]
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import) and n not in tree.body]
    for runner in ("os.system", "os.popen", "os.spawn", "shell=True", "Popen"):
        assert runner not in text
    # The one subprocess call runs a tool by an argv list, without a shell.
    runs = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "subprocess.run"
    ]
    assert len(runs) == 1
    assert ast.unparse(runs[0].args[0]) == "[tool, *words]"
    assert "shell" not in {k.arg for k in runs[0].keywords}
    compile(text, "wrapper", "exec")


def test_the_program_is_the_wrapper_of_its_example_pool() -> None:
    # engine/hosts/wrapper_program.py is what a host runs: its pool block holds the values
    # wrapper_script writes for this pool, and nothing else of it is rewritten.
    program = (ROOT / "engine" / "hosts" / "wrapper_program.py").read_text(encoding="utf-8")
    assert wrapper_script(_scope()) == program
    assert wrapper_program.BASE == BASE and wrapper_program.SPEC_NAME == SPEC
    assert wrapper_program.ARGUMENTS == _ARGUMENTS


def test_the_script_of_a_pool_is_the_same_bytes_every_time() -> None:
    # engine setup compares it with the installed one: a change would reinstall it every time.
    other = key_scope("tank/other", "other-spec", ELSEWHERE)
    assert wrapper_script(other) == wrapper_script(other)
    ours = wrapper_script(_scope()).splitlines()
    theirs = wrapper_script(other).splitlines()
    assert len(ours) == len(theirs)
    changed = [n for n, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b]
    names = [theirs[n].partition(" = ")[0] for n in changed]
    assert names == ["BASE", "SPEC_NAME", "IQN_PREFIX", "ARGUMENTS"]
    assert theirs[changed[0]] == "BASE = 'tank/other'"


def test_a_program_without_its_pool_block_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wrapper, "_BEGIN", "# >>> no such line")
    with pytest.raises(RuntimeError, match="no single block"):
        wrapper_script(_scope())


@pytest.mark.parametrize("line", ALLOWED)
def test_the_program_parses_each_allowed_line_into_its_words(line: str) -> None:
    tool, words, _ = wrapper_program.parse(line)
    assert words == shlex.split(line)
    assert tool == (wrapper_program.ZFS if words[0] == "zfs" else wrapper_program.TGTADM)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (None, "no command (interactive logins are not allowed)"),
        ("", "empty command"),
        ("zfs destroy tank/specengine/vol1;id", "forbidden character ';'"),
        ("zfs destroy tank/specengine/vol1\tx", "control or non-ASCII character '\\t'"),
        ("zfs destroy tank/other/vol1", "not an allowed command: 'zfs destroy tank/other/vol1'"),
        ("zfs destroy tank/specengine/../x", "not an allowed command"),
        ("x" * 1025, "command longer than 1024 characters"),
    ],
)
def test_the_program_refuses_what_the_engine_never_sends(line: str | None, why: str) -> None:
    with pytest.raises(wrapper_program.Refused, match=re.escape(why)):
        wrapper_program.parse(line)


def test_the_program_reads_sizes_as_zfs_does() -> None:
    assert wrapper_program.size_bytes("512") == 512
    assert wrapper_program.size_bytes("2K") == 2048
    assert wrapper_program.size_bytes("10G") == 10 * G
    assert wrapper_program.size_bytes("1T") == 1 << 40
    assert (
        wrapper_program.conf_path(f"{BASE}/vol1")
        == "/etc/tgt/conf.d/specengine+tank+specengine+vol1.conf"
    )


@pytest.mark.parametrize(
    ("base", "spec", "prefix"),
    [
        ("tank", SPEC, PREFIX),
        ("tank/../x", SPEC, PREFIX),
        ("tank/a b", SPEC, PREFIX),
        ("tank/x'", SPEC, PREFIX),
        ('tank/x" ,command="/bin/sh', SPEC, PREFIX),
        (BASE, "", PREFIX),
        (BASE, "a b", PREFIX),
        (BASE, "lab;id", PREFIX),
        (BASE, "-lab", PREFIX),
        (BASE, SPEC, "IQN.2010-10.org.openstack:"),
        (BASE, SPEC, "iqn.2010-10.org.openstack:$(id)"),
        (BASE, SPEC, "iqn.2010-10.org.openstack: --base tank"),
        (BASE, SPEC, "iqn.2010-10.org.openstack:" + "a" * 134),
    ],
)
def test_a_key_scope_refuses_a_malformed_pool(base: str, spec: str, prefix: str) -> None:
    with pytest.raises(ValueError):
        key_scope(base, spec, prefix)


def test_a_key_scope_keeps_shell_characters_out_whatever_its_patterns() -> None:
    # The patterns come from the spec language; the command= line does not trust them.
    loose = KeyScope(BASE, "lab", PREFIX, ".*", ".*", 223)
    assert loose.arguments() == _ARGUMENTS
    for base, spec, prefix in [
        ("tank/x;id", SPEC, PREFIX),
        (BASE, "lab$(id)", PREFIX),
        (BASE, SPEC, 'iqn.x:"'),
        (BASE, SPEC, "iqn.x: y"),
    ]:
        with pytest.raises(ValueError, match="has characters outside"):
            KeyScope(base, spec, prefix, ".*", ".*", 223)
    with pytest.raises(ValueError, match="name_pattern"):
        KeyScope(BASE, SPEC, PREFIX, "(", ".*", 223)


@pytest.mark.parametrize("zfs", ["zfs", "/usr/sbin/zfs;id", "/usr/../bin/sh"])
def test_wrapper_script_refuses_a_malformed_tool(zfs: str) -> None:
    with pytest.raises(ValueError):
        wrapper_script(_scope(), zfs=zfs)


@pytest.mark.parametrize("option", ["tgtadm", "conf_dir", "lock_dir"])
@pytest.mark.parametrize("path", ["relative/dir", "/etc/tgt;id", "/etc/../tmp", "/a//b", "/a b"])
def test_wrapper_script_refuses_a_malformed_path(option: str, path: str) -> None:
    with pytest.raises(ValueError, match=f"^{option} "):
        wrapper_script(_scope(), **{option: path})


# -- the wrapper's own commands -------------------------------------------------

ACL = "ALL,10.0.2.2,iqn.1993-08.org.debian:01:abc"


@pytest.fixture
def zvols() -> Iterator[FakeZvols]:
    with fake_zvols() as made:
        yield made


def _conf_text(dataset: str, iqn: str, lines: list[str]) -> str:
    return "\n".join(
        [
            f"# Written by specengine for {dataset}: engine run rewrites it.",
            f"<target {iqn}>",
            f"    backing-store /dev/zvol/{dataset}",
            *(f"    {line}" for line in lines),
            "</target>",
            "",
        ]
    )


def _conf_file(installed: Installed, dataset: str) -> Path:
    return installed.conf_dir / f"specengine+{dataset.replace('/', '+')}.conf"


def test_export_makes_target_lun_acl_and_its_tgt_file(tmp_path: Path, zvols: FakeZvols) -> None:
    installed = _install(tmp_path, zvols.base)
    dataset = f"{zvols.base}/vol1"
    device = zvols.device(dataset)
    done = _run_wrapper(installed, f"specengine-export {dataset} 3 {IQN} {ACL}")
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == (b"", b"")
    bind = "--mode target --op bind --tid 3"
    assert installed.recorders.calls() == [
        # Only a volume this spec made is exported, under its own IQN.
        _owner_of(installed, dataset),
        _tgtadm(installed, f"--mode target --op new --tid 3 --targetname {IQN}"),
        _tgtadm(installed, f"--mode logicalunit --op new --tid 3 --lun 1 --backing-store {device}"),
        _tgtadm(installed, f"{bind} --initiator-address ALL"),
        _tgtadm(installed, f"{bind} --initiator-address 10.0.2.2"),
        _tgtadm(installed, f"{bind} --initiator-name iqn.1993-08.org.debian:01:abc"),
    ]
    # One file per export, named after the dataset, nothing half-written beside it.
    conf = _conf_file(installed, dataset)
    assert _listing(installed.conf_dir) == [conf.name]
    assert conf.name == f"specengine+{zvols.base.replace('/', '+')}+vol1.conf"
    assert conf.read_text(encoding="utf-8") == _conf_text(
        dataset,
        IQN,
        [
            "initiator-address ALL",
            "initiator-address 10.0.2.2",
            "initiator-name iqn.1993-08.org.debian:01:abc",
        ],
    )


@pytest.mark.parametrize(
    ("failing", "steps"),
    [
        ("logicalunit", 2),  # the LUN
        ("--initiator-name", 5),  # the last bind of the ACL
    ],
)
def test_an_export_that_fails_half_way_deletes_its_target(
    tmp_path: Path, zvols: FakeZvols, failing: str, steps: int
) -> None:
    installed = _install(tmp_path, zvols.base, fail_on={"tgtadm": failing})
    dataset = f"{zvols.base}/vol1"
    zvols.device(dataset)
    done = _run_wrapper(installed, f"specengine-export {dataset} 3 {IQN} {ACL}")
    assert done.returncode == 1
    assert done.stderr.startswith(b"specengine-wrapper: specengine-export failed: tgtadm ")
    assert f"failing on purpose on {failing}".encode() in done.stderr
    calls = _acts(installed.recorders.calls())
    assert len(calls) == steps + 1
    assert failing in calls[steps - 1]["argv"]
    # Never a half-exported volume: the target goes, by force (a session may have come).
    assert calls[-1] == _tgtadm(installed, "--mode target --op delete --force --tid 3")
    assert _listing(installed.conf_dir) == []


def test_an_export_whose_tgt_file_cannot_be_written_deletes_its_target(
    tmp_path: Path, zvols: FakeZvols
) -> None:
    # The configuration folder is missing: the file fails after the whole target was made.
    installed = _install(tmp_path, zvols.base, conf_dir=tmp_path / "no-such-folder")
    dataset = f"{zvols.base}/vol1"
    zvols.device(dataset)
    done = _run_wrapper(installed, f"specengine-export {dataset} 3 {IQN} ALL")
    assert done.returncode == 1
    assert b"specengine-export failed" in done.stderr and b"No such file" in done.stderr
    calls = _acts(installed.recorders.calls())
    assert len(calls) == 4
    assert calls[-1] == _tgtadm(installed, "--mode target --op delete --force --tid 3")
    assert not (tmp_path / "no-such-folder").exists()


def test_an_export_whose_target_cannot_be_made_deletes_nothing(
    tmp_path: Path, zvols: FakeZvols
) -> None:
    # tgtadm refuses the target (its id is taken, say): that target is not ours to delete.
    installed = _install(tmp_path, zvols.base, fail_on={"tgtadm": "--targetname"})
    dataset = f"{zvols.base}/vol1"
    zvols.device(dataset)
    done = _run_wrapper(installed, f"specengine-export {dataset} 3 {IQN} ALL")
    assert done.returncode == 1, done.stderr
    assert _acts(installed.recorders.calls()) == [
        _tgtadm(installed, f"--mode target --op new --tid 3 --targetname {IQN}")
    ]
    assert _listing(installed.conf_dir) == []


def test_unexport_removes_the_tgt_file_then_the_target(tmp_path: Path, zvols: FakeZvols) -> None:
    installed = _install(tmp_path, zvols.base)
    dataset = f"{zvols.base}/vol1"
    other = f"{zvols.base}/vol2"
    devices = [zvols.device(name) for name in (dataset, other)]
    done = _run_wrapper(installed, f"specengine-export {dataset} 3 {IQN} ALL")
    assert done.returncode == 0, done.stderr
    done = _run_wrapper(installed, f"specengine-export {other} 4 {PREFIX}vol2 ALL")
    assert done.returncode == 0, done.stderr
    # tgtd now shows both targets (the stand-in is told so).
    exported = _target(3, IQN, str(devices[0])) + _target(4, f"{PREFIX}vol2", str(devices[1]))
    installed.recorders.stand_for(replace(_host(zvols.base), show=exported))
    before = len(installed.recorders.calls())
    done = _run_wrapper(installed, f"specengine-unexport {dataset} 3")
    assert done.returncode == 0, done.stderr
    # Who made the volume; whose target 3 is, from tgtd: that volume's only.
    assert installed.recorders.calls()[before:] == [
        _owner_of(installed, dataset),
        _show_call(installed),
        _tgtadm(installed, "--mode target --op delete --tid 3"),
    ]
    # The other export's file stays.
    assert _listing(installed.conf_dir) == [_conf_file(installed, other).name]
    # Again, without its file (a run stopped in between): the target is still deleted.
    done = _run_wrapper(installed, f"specengine-unexport {dataset} 3")
    assert done.returncode == 0, done.stderr
    assert len(_acts(installed.recorders.calls()[before:])) == 2
    # Another volume's target is not this volume's to unexport.
    done = _run_wrapper(installed, f"specengine-unexport {dataset} 4")
    assert done.returncode == REFUSED_EXIT
    assert f"target 4 ({PREFIX}vol2) exports {other}, not only {dataset}".encode() in done.stderr


def test_unexport_deletes_the_volumes_own_target_left_without_its_lun(tmp_path: Path) -> None:
    # An export stopped half-way (the wrapper killed before its rollback):
    # the target has the volume's IQN and no LUN; the plan exports it again.
    installed = _install(tmp_path)
    before = len(installed.recorders.calls())
    done = _run_wrapper(installed, f"specengine-unexport {BASE}/vol2 11")
    assert done.returncode == 0, done.stderr
    assert _acts(installed.recorders.calls()[before:]) == [
        _tgtadm(installed, "--mode target --op delete --tid 11")
    ]


def test_an_unexport_that_fails_leaves_no_tgt_file(tmp_path: Path) -> None:
    # A session holds the target: delete fails, but the file went first, so a
    # tgt restart cannot bring the target back; the next plan sees it live.
    installed = _install(tmp_path, fail_on={"tgtadm": "delete"})
    dataset = f"{BASE}/vol1"
    done = _run_wrapper(installed, f"specengine-tgt-save {dataset} {IQN} ALL")
    assert done.returncode == 0, done.stderr
    done = _run_wrapper(installed, f"specengine-unexport {dataset} 1")
    assert done.returncode == 1
    assert b"specengine-unexport failed: tgtadm --mode target --op delete" in done.stderr
    assert _listing(installed.conf_dir) == []


def test_tgt_save_rewrites_the_file_whole(tmp_path: Path) -> None:
    installed = _install(tmp_path)
    dataset = f"{BASE}/vol1"
    conf = _conf_file(installed, dataset)
    conf.write_text("<target iqn.2000-01.org.old:x>\n</target>\n", encoding="utf-8")
    done = _run_wrapper(
        installed, f"specengine-tgt-save {dataset} {IQN} iqn.1993-08.org.debian:01:abc,192.0.2.7"
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == (b"", b"")
    assert installed.recorders.calls() == [_owner_of(installed, dataset)]
    assert conf.read_text(encoding="utf-8") == _conf_text(
        dataset,
        IQN,
        ["initiator-name iqn.1993-08.org.debian:01:abc", "initiator-address 192.0.2.7"],
    )
    assert _listing(installed.conf_dir) == [conf.name]


def _lock_holder(installed: Installed) -> subprocess.Popen[bytes]:
    """A wrapper holding the lock (it has printed ``locked BASE``) until its stdin closes."""
    holder = subprocess.Popen(
        [str(installed.wrapper), *installed.scope.arguments()],
        env=_env("specengine-lock"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == f"locked {installed.base}\n".encode()
    return holder


def _eventually_locks(
    attempt: Callable[[], subprocess.CompletedProcess[bytes]], timeout: float = 10
) -> subprocess.CompletedProcess[bytes]:
    """Retry a lock attempt while the previous holder is still on its way out."""
    deadline = time.monotonic() + timeout
    while True:
        done = attempt()
        if done.returncode != BUSY_EXIT or time.monotonic() > deadline:
            return done
        time.sleep(0.05)


def test_the_lock_is_held_until_stdin_closes(tmp_path: Path) -> None:
    installed = _install(tmp_path)
    holder = _lock_holder(installed)
    try:
        assert _listing(installed.lock_dir) == ["specengine+tank+specengine.lock"]
        busy = _run_wrapper(installed, "specengine-lock")
        assert busy.returncode == BUSY_EXIT
        assert busy.stdout == b""
        assert busy.stderr == b"specengine-wrapper: tank/specengine is locked by another run\n"
        # Another pool's lock is another file: not held.
        other = _install(tmp_path / "other", "tank/other", lock_dir=installed.lock_dir)
        other_lock = _run_wrapper(other, "specengine-lock")
        assert (other_lock.returncode, other_lock.stdout) == (0, b"locked tank/other\n")
        assert _listing(installed.lock_dir) == [
            "specengine+tank+other.lock",
            "specengine+tank+specengine.lock",
        ]
        # Input does not release it: only the end of input does.
        assert holder.stdin is not None
        holder.stdin.write(b"anything\n")
        holder.stdin.flush()
        assert _run_wrapper(installed, "specengine-lock").returncode == BUSY_EXIT
        holder.stdin.close()
        assert holder.wait(timeout=10) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    again = _run_wrapper(installed, "specengine-lock")
    assert (again.returncode, again.stdout) == (0, b"locked tank/specengine\n")
    assert installed.recorders.calls() == []


def test_a_lock_holder_that_dies_leaves_no_stale_lock(tmp_path: Path) -> None:
    installed = _install(tmp_path)
    holder = _lock_holder(installed)
    try:
        assert _run_wrapper(installed, "specengine-lock").returncode == BUSY_EXIT
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    assert _run_wrapper(installed, "specengine-lock").returncode == 0


# -- the authorized_keys line -------------------------------------------------

WRAPPER = "/usr/local/sbin/specengine-zfs-wrapper"
_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0t7ZK8nKdLQx1r9ukhW9x5yL4CqB1p3y3lqz9wJqvA"


def test_the_authorized_keys_line_forces_the_wrapper_from_the_engine_only() -> None:
    line = authorized_keys_line(
        _KEY + " engine@host",
        WRAPPER,
        _scope(),
        ["192.0.2.4", "2001:db8::/64", "198.51.100.7/32"],
    )
    assert line == (
        'from="192.0.2.4,2001:db8::/64,198.51.100.7",restrict,'
        f'command="{WRAPPER} --base {BASE} --spec {SPEC} --iqn-prefix {PREFIX}"'
        f" {_KEY} engine@host"
    )


@pytest.mark.parametrize(
    ("key", "path", "addresses"),
    [
        (_KEY, WRAPPER, []),
        (_KEY, WRAPPER, ["engine.example.org"]),
        (_KEY, WRAPPER, ["192.0.2.0/16"]),
        (_KEY, WRAPPER, ['127.0.0.1",command="/bin/sh']),
        (_KEY, "/usr/local/sbin/w --base x", ["127.0.0.1"]),
        (_KEY, "wrapper", ["127.0.0.1"]),
        (_KEY + ' "quoted"', WRAPPER, ["127.0.0.1"]),
        (_KEY + " two words", WRAPPER, ["127.0.0.1"]),
        (_KEY + "\nssh-ed25519 AAAA other", WRAPPER, ["127.0.0.1"]),
        ("ssh-dss AAAAB3NzaC1kc3M=", WRAPPER, ["127.0.0.1"]),
        ("ssh-rsa " + _KEY.split()[1], WRAPPER, ["127.0.0.1"]),
        ("ssh-ed25519 not-base64!", WRAPPER, ["127.0.0.1"]),
    ],
)
def test_authorized_keys_line_refuses_what_could_widen_the_key(
    key: str, path: str, addresses: list[str]
) -> None:
    # A base, spec or prefix that could widen it is refused by its KeyScope (above).
    with pytest.raises(ValueError):
        authorized_keys_line(key, path, _scope(), addresses)


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
        lines.append(
            authorized_keys_line(public_key, str(installed.wrapper), installed.scope, ["127.0.0.1"])
        )
        return lines[0]

    try:
        with run_sshd(folder / "sshd", keys) as server:
            yield Served(server, installed, lines[0])
    except NotInstalledError as missing:
        # A missing OpenSSH must fail the run, not skip it: these are the
        # only tests of what sshd and the wrapper let through together.
        pytest.fail(str(missing))


def test_an_allowed_command_runs_once_through_sshd(served: Served) -> None:
    line = f"zfs create -s -V 512M {OWNER} tank/specengine/vol1"
    before = len(served.installed.recorders.calls())
    done = served.server.ssh(line)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"recorded zfs\n"
    calls = served.installed.recorders.calls()[before:]
    assert calls == [{"argv": _expected_argv(served.installed, line), "tty": False}]


def test_what_the_plan_asks_passes_through_sshd_after_the_wrapper_asked(served: Served) -> None:
    # Lines of the same shapes as refused ones, on what the pool owns: each acts once.
    installed = served.installed
    acts = {
        f"zfs set volsize=20G {BASE}/vol1": f"zfs set volsize=20G {BASE}/vol1",
        f"zfs destroy {BASE}/vol1@base": f"zfs destroy {BASE}/vol1@base",
        "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL": (
            "tgtadm --lld iscsi --mode target --op bind --tid 1 --initiator-address ALL"
        ),
        "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-address 10.0.2.2": (
            "tgtadm --lld iscsi --mode target --op unbind --tid 1 --initiator-address 10.0.2.2"
        ),
        # The pool's own target left without its LUN.
        f"specengine-unexport {BASE}/vol2 11": "tgtadm --lld iscsi --mode target --op delete --tid 11",
    }
    for line, act in acts.items():
        before = len(installed.recorders.calls())
        done = served.server.ssh(line)
        assert done.returncode == 0, (line, done.stderr)
        acted = _acts(installed.recorders.calls()[before:])
        assert [call["argv"][1:] for call in acted] == [shlex.split(act)[1:]], line


def test_hostile_lines_through_sshd_run_nothing(served: Served) -> None:
    installed = served.installed
    hostile = [*_hostile(installed.canary, installed.victim), None]
    assert len(hostile) >= 30
    before = _state(installed)
    # One connection per line, a few at a time: sshd forks a session for each
    # as it would for the engine. Eight stay below sshd's MaxStartups (10
    # unauthenticated connections), which would drop some at random.
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(served.server.ssh, hostile))
    let_through = [
        (line, done.returncode, done.stderr[-300:])
        for line, done in zip(hostile, results, strict=True)
        if done.returncode != REFUSED_EXIT or REFUSAL not in done.stderr
    ]
    assert let_through == []
    _untouched(installed, before)


def test_restrict_forbids_forwarding(served: Served) -> None:
    before = _state(served.installed)
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
    before = _state(served.installed)
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
    before = _state(served.installed)
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


def test_the_wrapper_commands_run_through_sshd(served: Served) -> None:
    installed = served.installed
    dataset = f"{BASE}/vol1"
    done = served.server.ssh(f"specengine-tgt-save {dataset} {IQN} ALL")
    assert done.returncode == 0, done.stderr
    assert _conf_file(installed, dataset).is_file()
    before = len(installed.recorders.calls())
    done = served.server.ssh(f"specengine-unexport {dataset} 1")
    assert done.returncode == 0, done.stderr
    assert _acts(installed.recorders.calls()[before:]) == [
        _tgtadm(installed, "--mode target --op delete --tid 1")
    ]
    assert not _conf_file(installed, dataset).exists()


def test_the_lock_through_sshd_is_held_by_the_channel(served: Served) -> None:
    server = served.server
    holder = subprocess.Popen(
        [*server.ssh_argv(), "specengine-lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == b"locked tank/specengine\n"
        busy = server.ssh("specengine-lock")
        assert busy.returncode == BUSY_EXIT
        assert b"tank/specengine is locked by another run" in busy.stderr
        # The end of the channel's input (the engine closing it) releases it.
        holder.stdin.close()
        assert holder.wait(timeout=10) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    done = _eventually_locks(lambda: server.ssh("specengine-lock"))
    assert (done.returncode, done.stdout) == (0, b"locked tank/specengine\n")


def test_a_dropped_connection_releases_the_lock(served: Served) -> None:
    server = served.server
    holder = subprocess.Popen(
        [*server.ssh_argv(), "specengine-lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"locked tank/specengine\n"
        assert server.ssh("specengine-lock").returncode == BUSY_EXIT
    finally:
        # The client dies without closing anything: sshd sees the connection go.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    done = _eventually_locks(lambda: server.ssh("specengine-lock"))
    assert done.returncode == 0, done.stderr
