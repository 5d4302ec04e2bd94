"""The steps of a volume pool's plan: connect, lock, read, apply, confirm."""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.volume_pool.diff import list_command, owners_command, show_command
from schemas.volume_pool import VolumePoolSpec

__all__ = [
    "Apply",
    "Confirm",
    "Connect",
    "Lock",
    "ReadLive",
    "hostvars",
    "reads",
    "ssh_args",
    "steps",
]


@dataclass(frozen=True)
class Connect:
    """Open the SSH connection (restricted key, pinned host key)."""

    where: str


@dataclass(frozen=True)
class Lock:
    """Hold the pool's lock on the host until the run ends (not in a plan)."""

    base: str


@dataclass(frozen=True)
class ReadLive:
    """Read the pool (zfs list), who made what (zfs get) and the exports (tgtadm show)."""

    commands: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Apply:
    """Run the actions' commands with the playbook, through the restricted key."""

    playbook: str
    hostvars: dict[str, Any]
    ssh_args: str


@dataclass(frozen=True)
class Confirm:
    """Read the state again: nothing may be pending."""


def ssh_args(spec: VolumePoolSpec, key: Path, multiplex: bool) -> str:
    """OpenSSH's options for the host: its pinned key, this identity only, no prompt."""
    host = spec.host
    if multiplex:
        # One multiplexed connection for every raw task of the run; it closes
        # itself 5 s after the last one. The socket's name includes the key:
        # a master opened with another key (the admin's, by `engine setup`)
        # must never carry the restricted key's commands.
        identity = hashlib.sha256(str(key.resolve()).encode()).hexdigest()[:12]
        control = [
            "-o ControlMaster=auto",
            "-o ControlPersist=5",
            f"-o ControlPath=/tmp/specengine-ssh-{identity}-%C",
        ]
    else:
        control = ["-o ControlMaster=no", "-o ControlPath=none"]
    return " ".join(
        [
            *control,
            f"-o UserKnownHostsFile={shlex.quote(str(host.known_hosts))}",
            "-o StrictHostKeyChecking=yes",
            "-o IdentitiesOnly=yes",
            "-o BatchMode=yes",
            f"-o ConnectTimeout={int(host.timeout_s)}",
        ]
    )


def hostvars(spec: VolumePoolSpec, key: Path, user: str) -> dict[str, Any]:
    """The inventory variables of the storage host, reached with ``key`` as ``user``."""
    return {
        "ansible_host": spec.host.address,
        "ansible_port": spec.host.port,
        "ansible_user": user,
        "ansible_ssh_private_key_file": str(key),
        # A pty is refused by `restrict`, and would mix stderr into stdout.
        "ansible_ssh_use_tty": False,
    }


def reads(base: str) -> tuple[tuple[str, ...], ...]:
    """The three commands that read the pool: zfs list, zfs get, tgtadm show."""
    return (list_command(base), owners_command(base), show_command())


def steps(spec: VolumePoolSpec) -> list[Any]:
    """The plan of a volume pool, as plain data."""
    host = spec.host
    return [
        Connect(f"{host.user}@{host.address}:{host.port}"),
        Lock(spec.zfs.base),
        ReadLive(reads(spec.zfs.base)),
        Apply(
            "volume-pool.yml",
            hostvars(spec, host.key, host.user),
            ssh_args(spec, host.key, multiplex=True),
        ),
        Confirm(),
    ]
