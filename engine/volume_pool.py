"""Volume pools: the live state of a storage host, and the actions that reach the spec.

Pure functions on text: ``parse_zfs_list`` reads ``zfs list -H -p -o
name,volsize,used,origin,type -t volume,snapshot -r BASE``, ``parse_tgtadm``
reads ``tgtadm --lld iscsi --mode target --op show``, and ``diff`` turns the
spec and that state into plain-data actions whose commands are exactly the
shapes the storage host's restricted wrapper accepts (engine/hosts/wrapper.py).
Nothing is destroyed unless ``prune`` says so, and then never a volume with
dependent clones or an active iSCSI session, nor a snapshot a clone needs:
those become refusals that say why. A size that would shrink is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas.volume_pool import VolumePoolSpec

__all__ = [
    "Action",
    "Export",
    "Live",
    "LiveVolume",
    "PoolError",
    "diff",
    "parse_tgtadm",
    "parse_zfs_list",
]


class PoolError(Exception):
    """The spec cannot be reached from the live state (a shrink, a missing origin...)."""


@dataclass
class LiveVolume:
    """A zvol as ZFS reports it."""

    size: int
    used: int
    origin: str | None = None
    snapshots: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Export:
    """An iSCSI target of tgtd: its id, name, backing stores, sessions and ACLs."""

    tid: int
    iqn: str
    backing: tuple[str, ...] = ()
    sessions: int = 0
    acls: tuple[str, ...] = ()


@dataclass
class Live:
    """What the storage host holds under the pool's base."""

    volumes: dict[str, LiveVolume] = field(default_factory=dict)
    exports: list[Export] = field(default_factory=list)

    def export_of(self, device: str) -> Export | None:
        """The target exporting ``device``, if any."""
        return next((e for e in self.exports if device in e.backing), None)


@dataclass(frozen=True)
class Action:
    """One step of a plan: what, on which object, the commands, and why."""

    kind: str
    target: str
    commands: tuple[tuple[str, ...], ...] = ()
    reason: str = ""


def parse_zfs_list(text: str, base: str) -> Live:
    """The volumes and snapshots under ``base`` (the base itself left out)."""
    live = Live()
    snapshots: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 5:
            raise PoolError(f"zfs list line {number}: expected 5 tab-separated fields: {line!r}")
        name, volsize, used, origin, kind = parts
        if not name.startswith(base + "/"):
            continue
        local = name[len(base) + 1 :]
        if kind == "snapshot":
            volume, _, snapshot = local.partition("@")
            snapshots.append((volume, snapshot))
        elif kind == "volume":
            try:
                size, taken = int(volsize), int(used)
            except ValueError:
                raise PoolError(
                    f"zfs list line {number}: sizes are not numbers (zfs list -p): {line!r}"
                ) from None
            parent = None if origin in ("-", "") else origin
            if parent is not None and parent.startswith(base + "/"):
                parent = parent[len(base) + 1 :]
            live.volumes[local] = LiveVolume(size, taken, parent)
    for volume, snapshot in snapshots:
        if volume in live.volumes:
            live.volumes[volume].snapshots.add(snapshot)
    return live


_TARGET = re.compile(r"^Target (\d+): (\S+)")
_NEXUS = re.compile(r"^\s*I_T nexus: \d+")
_BACKING = re.compile(r"^\s*Backing store path: (\S+)")


def parse_tgtadm(text: str) -> list[Export]:
    """The targets of ``tgtadm --op show``: id, IQN, backing stores, sessions, ACLs."""
    exports: list[Export] = []
    current: dict[str, object] | None = None
    in_acl = False

    def close() -> None:
        if current is not None:
            exports.append(
                Export(
                    int(str(current["tid"])),
                    str(current["iqn"]),
                    tuple(current["backing"]),  # type: ignore[arg-type]
                    int(str(current["sessions"])),
                    tuple(current["acls"]),  # type: ignore[arg-type]
                )
            )

    for line in text.splitlines():
        target = _TARGET.match(line)
        if target:
            close()
            current = {
                "tid": target.group(1),
                "iqn": target.group(2),
                "backing": [],
                "sessions": 0,
                "acls": [],
            }
            in_acl = False
            continue
        if current is None:
            continue
        if _NEXUS.match(line):
            current["sessions"] = int(str(current["sessions"])) + 1
        backing = _BACKING.match(line)
        if backing and backing.group(1) != "None":
            current["backing"].append(backing.group(1))  # type: ignore[attr-defined]
        if line.strip() == "ACL information:":
            in_acl = True
        elif in_acl and line.startswith("        ") and line.strip():
            current["acls"].append(line.strip())  # type: ignore[attr-defined]
        elif in_acl and line.strip() and not line.startswith("        "):
            in_acl = False
    close()
    return exports


def _tgtadm(*words: str) -> tuple[str, ...]:
    """A tgtadm command line on the iSCSI driver, as the wrapper accepts it."""
    return ("tgtadm", "--lld", "iscsi", *words)


def _size(volsize: int) -> str:
    return str(volsize)


def diff(spec: VolumePoolSpec, live: Live) -> list[Action]:
    """The actions that bring ``live`` to the spec, in an order that can run."""
    base = spec.zfs.base
    actions: list[Action] = []
    wanted = {v.name: v for v in spec.volumes}
    next_tid = max((e.tid for e in live.exports), default=0) + 1

    def dataset(name: str) -> str:
        return f"{base}/{name}"

    planned_snapshots = {(name, s) for name, v in live.volumes.items() for s in v.snapshots}
    # Origins first: a clone needs its snapshot, which needs its volume.
    order = sorted(spec.volumes, key=lambda v: v.clone_of is not None)
    for volume in order:
        current = live.volumes.get(volume.name)
        if current is None:
            if volume.clone_of is not None:
                origin, _, snap = volume.clone_of.partition("@")
                if (origin, snap) not in planned_snapshots:
                    raise PoolError(
                        f"volume {volume.name}: clone of {volume.clone_of}, which does not exist"
                    )
                actions.append(
                    Action(
                        "clone",
                        volume.name,
                        (("zfs", "clone", f"{dataset(origin)}@{snap}", dataset(volume.name)),),
                    )
                )
                if volume.promote:
                    actions.append(
                        Action("promote", volume.name, (("zfs", "promote", dataset(volume.name)),))
                    )
            else:
                size = volume.bytes
                assert size is not None
                create = (
                    "zfs",
                    "create",
                    *(("-s",) if spec.zfs.thin else ()),
                    "-V",
                    _size(size),
                    dataset(volume.name),
                )
                actions.append(Action("create", volume.name, (create,)))
        else:
            size = volume.bytes
            if size is not None and size < current.size:
                raise PoolError(
                    f"volume {volume.name}: {volume.size} would shrink it from {current.size:,} bytes;"
                    " volumes are only grown"
                )
            if size is not None and size > current.size:
                actions.append(
                    Action(
                        "grow",
                        volume.name,
                        (("zfs", "set", f"volsize={_size(size)}", dataset(volume.name)),),
                    )
                )
            if volume.promote and current.origin is not None:
                actions.append(
                    Action("promote", volume.name, (("zfs", "promote", dataset(volume.name)),))
                )
        for snapshot in volume.snapshots:
            if (volume.name, snapshot) not in planned_snapshots:
                actions.append(
                    Action(
                        "snapshot",
                        f"{volume.name}@{snapshot}",
                        (("zfs", "snapshot", f"{dataset(volume.name)}@{snapshot}"),),
                    )
                )
                planned_snapshots.add((volume.name, snapshot))
        device = f"/dev/zvol/{dataset(volume.name)}"
        exported = live.export_of(device)
        if volume.export and exported is None:
            iqn = f"{spec.iscsi.iqn_prefix}{volume.name}"
            commands: list[tuple[str, ...]] = [
                _tgtadm(
                    "--mode", "target", "--op", "new", "--tid", str(next_tid), "--targetname", iqn
                ),
                _tgtadm(
                    "--mode",
                    "logicalunit",
                    "--op",
                    "new",
                    "--tid",
                    str(next_tid),
                    "--lun",
                    "1",
                    "--backing-store",
                    device,
                ),
            ]
            for initiator in (
                volume.initiators if volume.initiators is not None else spec.iscsi.initiators
            ):
                option = (
                    "--initiator-name" if initiator.startswith("iqn.") else "--initiator-address"
                )
                commands.append(
                    _tgtadm(
                        "--mode",
                        "target",
                        "--op",
                        "bind",
                        "--tid",
                        str(next_tid),
                        option,
                        initiator,
                    )
                )
            actions.append(Action("export", volume.name, tuple(commands)))
            next_tid += 1
        elif not volume.export and exported is not None:
            if exported.sessions:
                actions.append(
                    Action(
                        "refuse",
                        volume.name,
                        (),
                        f"not unexported: {exported.sessions} active iSCSI session(s)",
                    )
                )
            else:
                actions.append(
                    Action(
                        "unexport",
                        volume.name,
                        (
                            _tgtadm(
                                "--mode", "target", "--op", "delete", "--tid", str(exported.tid)
                            ),
                        ),
                    )
                )

    clones_of = {v.origin.partition("@")[0]: name for name, v in live.volumes.items() if v.origin}
    needed = {v.origin for v in live.volumes.values() if v.origin}
    for name, current in sorted(live.volumes.items()):
        if name in wanted:
            listed = set(wanted[name].snapshots)
            for snapshot in sorted(current.snapshots - listed):
                if not spec.prune:
                    continue
                if f"{name}@{snapshot}" in needed:
                    actions.append(
                        Action(
                            "refuse",
                            f"{name}@{snapshot}",
                            (),
                            "not destroyed: a clone depends on it",
                        )
                    )
                else:
                    actions.append(
                        Action(
                            "destroy",
                            f"{name}@{snapshot}",
                            (("zfs", "destroy", f"{dataset(name)}@{snapshot}"),),
                        )
                    )
            continue
        if not spec.prune:
            actions.append(Action("keep", name, (), "not in the spec; kept (prune: false)"))
            continue
        exported = live.export_of(f"/dev/zvol/{dataset(name)}")
        if name in clones_of:
            actions.append(
                Action("refuse", name, (), f"not destroyed: clone {clones_of[name]} depends on it")
            )
        elif exported is not None and exported.sessions:
            actions.append(
                Action(
                    "refuse",
                    name,
                    (),
                    f"not destroyed: {exported.sessions} active iSCSI session(s)",
                )
            )
        else:
            commands = []
            if exported is not None:
                commands.append(
                    _tgtadm("--mode", "target", "--op", "delete", "--tid", str(exported.tid))
                )
            commands += [
                ("zfs", "destroy", f"{dataset(name)}@{s}") for s in sorted(current.snapshots)
            ]
            commands.append(("zfs", "destroy", dataset(name)))
            actions.append(Action("destroy", name, tuple(commands)))
    return actions
