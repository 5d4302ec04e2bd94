"""Volume pools: the live state of a storage host, and the actions that reach the spec.

Pure functions on text: ``parse_zfs_list`` reads the engine's listing of the
pool (``zfs list -H -p -o name,type,volsize,used,available,origin,
org.specengine:spec -t filesystem,volume,snapshot -r BASE``), ``parse_owners``
who made what (``zfs get -s local``: user properties inherit), ``parse_tgtadm``
reads ``tgtadm --lld iscsi --mode target --op show``, and ``diff`` turns the
spec and that state into plain-data actions whose commands are exactly the
shapes the storage host's restricted wrapper accepts (engine/hosts/wrapper.py).

What the engine makes carries the ZFS user property ``org.specengine:spec``
(the spec's name): a volume the spec lists that exists without it is an
error, and nothing without it is ever destroyed. Nothing is destroyed unless
``prune`` says so, and then never a volume with dependent clones or an
active iSCSI session, nor a snapshot a clone needs or the spec still lists:
those become refusals that say why. A size that would shrink, a clone of a
missing snapshot and reservations beyond the pool's free space are errors
raised before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.hosts.wrapper import LIST_COLUMNS, OWNER_PROPERTY, KeyScope
from schemas.volume_pool import (
    IQN_MAX_LENGTH,
    IQN_PATTERN,
    NAME_PATTERN,
    Volume,
    VolumePoolSpec,
)

__all__ = [
    "Action",
    "Export",
    "Live",
    "LiveVolume",
    "PoolError",
    "diff",
    "key_scope",
    "list_command",
    "owners_command",
    "parse_owners",
    "parse_tgtadm",
    "parse_zfs_list",
    "show_command",
]

#: Action kinds that change the host (the others only report).
CHANGES = frozenset(
    {"create", "grow", "snapshot", "clone", "promote", "export", "reexport", "rebind", "unexport"}
    | {"destroy"}
)


class PoolError(Exception):
    """The spec cannot be reached from the live state (a shrink, a missing origin...)."""


@dataclass
class LiveVolume:
    """A zvol as ZFS reports it."""

    size: int
    used: int
    origin: str | None = None
    owner: str | None = None
    #: snapshot name -> the spec that made it (None: not the engine)
    snapshots: dict[str, str | None] = field(default_factory=dict)


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
    #: bytes the base dataset can still hold (None: not listed)
    available: int | None = None

    def export_of(self, device: str) -> Export | None:
        """The target exporting ``device``, if any."""
        return next((e for e in self.exports if device in e.backing), None)

    def target(self, iqn: str) -> Export | None:
        """The target named ``iqn``, if any."""
        return next((e for e in self.exports if e.iqn == iqn), None)


@dataclass(frozen=True)
class Action:
    """One step of a plan: what, on which object, the commands, and why."""

    kind: str
    target: str
    commands: tuple[tuple[str, ...], ...] = ()
    reason: str = ""

    @property
    def changes(self) -> bool:
        """Whether applying it changes the host."""
        return self.kind in CHANGES and bool(self.commands)


def key_scope(base: str, spec: str, iqn_prefix: str) -> KeyScope:
    """What the pool's restricted key may touch, with the spec language's name patterns.

    The storage host's wrapper is generated from it (``engine setup``), so
    the host accepts the names a spec validates and nothing wider. Raises
    ``ValueError`` for a malformed value.
    """
    return KeyScope(base, spec, iqn_prefix, NAME_PATTERN, IQN_PATTERN, IQN_MAX_LENGTH)


def list_command(base: str) -> tuple[str, ...]:
    """The one listing of the pool the engine reads (and the wrapper allows)."""
    return ("zfs", "list", "-H", "-p", "-o", LIST_COLUMNS, "-t", "filesystem,volume,snapshot",
            "-r", base)  # fmt: skip


def owners_command(base: str) -> tuple[str, ...]:
    """Who made each volume and snapshot: the property where it is set, not inherited.

    ZFS user properties inherit (a snapshot shows its volume's value), so only
    a value set on the object itself (``-s local``) says the engine made it.
    """
    return ("zfs", "get", "-H", "-p", "-o", "name,value", "-s", "local",
            "-t", "volume,snapshot", "-r", OWNER_PROPERTY, base)  # fmt: skip


def parse_owners(text: str) -> dict[str, str]:
    """Dataset or snapshot name -> the spec that made it, from ``owners_command``."""
    owners: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, tab, value = line.partition("\t")
        if not tab or "\t" in value:
            raise PoolError(f"zfs get line {number}: expected NAME<TAB>VALUE: {line!r}")
        owners[name] = value
    return owners


def show_command() -> tuple[str, ...]:
    """tgtd's targets, LUNs, sessions and ACLs."""
    return _tgtadm("--mode", "target", "--op", "show")


def _number(value: str, number: int, line: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise PoolError(
            f"zfs list line {number}: {value!r} is not a number (zfs list -p): {line!r}"
        ) from None


def parse_zfs_list(text: str, base: str, owners: dict[str, str] | None = None) -> Live:
    """The volumes and snapshots under ``base`` (the base itself gives the free space).

    ``owners`` (from :func:`parse_owners`) replaces the listing's owner column,
    which shows inherited values too.
    """
    live = Live()
    snapshots: list[tuple[str, str, str | None]] = []
    fields = len(LIST_COLUMNS.split(","))
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != fields:
            raise PoolError(
                f"zfs list line {number}: expected {fields} tab-separated fields: {line!r}"
            )
        name, kind, volsize, used, available, origin, owner = parts
        owned = None if owner in ("-", "") else owner
        if owners is not None:
            owned = owners.get(name)
        if name == base:
            live.available = _number(available, number, line)
            continue
        if not name.startswith(base + "/"):
            continue
        local = name[len(base) + 1 :]
        if kind == "snapshot":
            volume, _, snapshot = local.partition("@")
            snapshots.append((volume, snapshot, owned))
        elif kind == "volume":
            parent = None if origin in ("-", "") else origin
            if parent is not None and parent.startswith(base + "/"):
                parent = parent[len(base) + 1 :]
            live.volumes[local] = LiveVolume(
                _number(volsize, number, line), _number(used, number, line), parent, owned
            )
    for volume, snapshot, owned in snapshots:
        if volume in live.volumes:
            live.volumes[volume].snapshots[snapshot] = owned
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


def _acl(spec: VolumePoolSpec, volume: Volume) -> tuple[str, ...]:
    chosen = volume.initiators if volume.initiators is not None else spec.iscsi.initiators
    return tuple(dict.fromkeys(chosen))


def _bind(tid: int, initiator: str, op: str = "bind") -> tuple[str, ...]:
    option = "--initiator-name" if initiator.startswith("iqn.") else "--initiator-address"
    return _tgtadm("--mode", "target", "--op", op, "--tid", str(tid), option, initiator)


def _export_commands(
    dataset: str, iqn: str, tid: int, acl: tuple[str, ...]
) -> list[tuple[str, ...]]:
    # One command: the wrapper makes the target, its LUN, its ACL and its
    # configuration file, or on failure removes the target again.
    return [("specengine-export", dataset, str(tid), iqn, ",".join(acl))]


def _unexport_commands(dataset: str, tid: int) -> list[tuple[str, ...]]:
    return [("specengine-unexport", dataset, str(tid))]


def _check(spec: VolumePoolSpec, live: Live) -> None:
    """Errors that stop the plan before anything runs."""
    base = spec.zfs.base
    existing = {(n, s) for n, v in live.volumes.items() for s in v.snapshots}
    existing |= {(v.name, s) for v in spec.volumes for s in v.snapshots}
    # A snapshot a promote moved onto a clone is still its origin's, for clone_of.
    for origin, clones in _promoted(spec).items():
        for clone in clones:
            moved = live.volumes.get(clone)
            if moved is not None and moved.origin is None:
                existing |= {(origin, s) for s in moved.snapshots}
    needed = 0
    for volume in spec.volumes:
        current = live.volumes.get(volume.name)
        if current is not None and current.owner != spec.name:
            owner = "unset" if current.owner is None else f"'{current.owner}'"
            raise PoolError(
                f"volume {volume.name}: {base}/{volume.name} exists but was not made by this"
                f" spec ({OWNER_PROPERTY} is {owner}); to adopt it: zfs set"
                f" {OWNER_PROPERTY}={spec.name} {base}/{volume.name}"
            )
        size = volume.bytes
        if current is None and volume.clone_of is not None:
            origin, _, snapshot = volume.clone_of.partition("@")
            if (origin, snapshot) not in existing:
                raise PoolError(
                    f"volume {volume.name}: clone of {volume.clone_of}, which does not exist"
                )
        if current is not None and size is not None and size < current.size:
            raise PoolError(
                f"volume {volume.name}: {volume.size} would shrink it from {current.size:,}"
                " bytes; volumes are only grown"
            )
        if not spec.zfs.thin and size is not None and volume.clone_of is None:
            needed += size - (current.size if current is not None else 0)
    if live.available is not None and needed > live.available:
        raise PoolError(
            f"pool out of space: the plan reserves {needed:,} bytes and {base} has"
            f" {live.available:,} available (thin: true makes sparse volumes)"
        )


def diff(spec: VolumePoolSpec, live: Live) -> list[Action]:
    """The actions that bring ``live`` to the spec, in an order that can run."""
    _check(spec, live)
    base = spec.zfs.base
    owner = ("-o", f"{OWNER_PROPERTY}={spec.name}")
    actions: list[Action] = []
    wanted = {v.name: v for v in spec.volumes}
    next_tid = max((e.tid for e in live.exports), default=0) + 1

    def dataset(name: str) -> str:
        return f"{base}/{name}"

    promoted = _promoted(spec)
    for volume in _origins_first(spec):
        name = volume.name
        current = live.volumes.get(name)
        size = volume.bytes
        grown = False
        moved_here: set[str] = set()
        if current is None and volume.clone_of is not None:
            origin, _, snapshot = volume.clone_of.partition("@")
            holder = _holder(live, promoted, origin, snapshot)
            clone = ("zfs", "clone", *owner, f"{dataset(holder)}@{snapshot}", dataset(name))
            actions.append(Action("clone", name, (clone,)))
            if volume.promote:
                actions.append(Action("promote", name, (("zfs", "promote", dataset(name)),)))
                # The promote moves the snapshot it was cloned from onto it.
                moved_here.add(snapshot)
        elif current is None:
            assert size is not None  # the schema: a volume has a size unless it is a clone
            sparse = ("-s",) if spec.zfs.thin else ()
            create = ("zfs", "create", *sparse, "-V", str(size), *owner, dataset(name))
            actions.append(Action("create", name, (create,)))
        else:
            if size is not None and size > current.size:
                grow = ("zfs", "set", f"volsize={size}", dataset(name))
                actions.append(Action("grow", name, (grow,), f"{current.size:,} -> {size:,} bytes"))
                grown = True
            if volume.promote and current.origin is not None:
                actions.append(Action("promote", name, (("zfs", "promote", dataset(name)),)))
        have = (set(current.snapshots) if current is not None else set()) | moved_here
        # ZFS moved the snapshots up to a promoted clone's origin onto the clone.
        for promoted_clone in promoted.get(name, ()):
            moved = live.volumes.get(promoted_clone)
            if moved is not None and moved.origin is None:
                have |= set(moved.snapshots)
        for snapshot in volume.snapshots:
            if snapshot not in have:
                command = ("zfs", "snapshot", *owner, f"{dataset(name)}@{snapshot}")
                actions.append(Action("snapshot", f"{name}@{snapshot}", (command,)))

        iqn = f"{spec.iscsi.iqn_prefix}{name}"
        device = f"/dev/zvol/{dataset(name)}"
        exported = live.export_of(device) or live.target(iqn)
        acl = _acl(spec, volume)
        if volume.export and exported is None:
            commands = _export_commands(dataset(name), iqn, next_tid, acl)
            actions.append(Action("export", name, tuple(commands)))
            next_tid += 1
        elif volume.export and exported is not None:
            assert exported is not None
            half = device not in exported.backing
            if half or (grown and not exported.sessions):
                # A target without its LUN (a run stopped half-way), or a LUN
                # whose size tgtd read before the volume grew: export again.
                why = "target without its LUN" if half else "tgtd reads a LUN's size once"
                commands = [
                    *_unexport_commands(dataset(name), exported.tid),
                    *_export_commands(dataset(name), iqn, exported.tid, acl),
                ]
                actions.append(Action("reexport", name, tuple(commands), why))
            elif grown:
                actions.append(
                    Action(
                        "note",
                        name,
                        (),
                        f"{exported.sessions} iSCSI session(s): initiators see the new size"
                        " after the next re-export or tgtd restart",
                    )
                )
            elif set(exported.acls) != set(acl):
                commands = [
                    *(_bind(exported.tid, a, "unbind") for a in exported.acls if a not in acl),
                    *(_bind(exported.tid, a) for a in acl if a not in exported.acls),
                    ("specengine-tgt-save", dataset(name), iqn, ",".join(acl)),
                ]
                why = f"initiators {', '.join(exported.acls) or 'none'} -> {', '.join(acl)}"
                actions.append(Action("rebind", name, tuple(commands), why))
        elif not volume.export and exported is not None:
            if exported.sessions:
                actions.append(
                    Action(
                        "refuse",
                        name,
                        (),
                        f"not unexported: {exported.sessions} active iSCSI session(s)",
                    )
                )
            else:
                commands = _unexport_commands(dataset(name), exported.tid)
                actions.append(Action("unexport", name, tuple(commands)))

    actions += _prune(spec, live, wanted)
    return actions


def _holder(live: Live, promoted: dict[str, list[str]], origin: str, snapshot: str) -> str:
    """The volume that holds ORIGIN@SNAPSHOT now: the origin, or a clone promoted since."""
    current = live.volumes.get(origin)
    if current is None or snapshot in current.snapshots:
        return origin
    for name in promoted.get(origin, ()):
        moved = live.volumes.get(name)
        if moved is not None and moved.origin is None and snapshot in moved.snapshots:
            return name
    return origin


def _promoted(spec: VolumePoolSpec) -> dict[str, list[str]]:
    """Origin volume -> the clones of it the spec promotes."""
    out: dict[str, list[str]] = {}
    for volume in spec.volumes:
        if volume.promote and volume.clone_of is not None:
            out.setdefault(volume.clone_of.partition("@")[0], []).append(volume.name)
    return out


def _origins_first(spec: VolumePoolSpec) -> list[Volume]:
    """The volumes, each after the volume it is cloned from (a clone of a clone too)."""
    known = {v.name: v for v in spec.volumes}

    def depth(volume: Volume, seen: frozenset[str] = frozenset()) -> int:
        if volume.clone_of is None:
            return 0
        origin = volume.clone_of.partition("@")[0]
        if origin not in known or origin in seen:
            return 1
        return 1 + depth(known[origin], seen | {volume.name})

    return sorted(spec.volumes, key=depth)


def _prune(spec: VolumePoolSpec, live: Live, wanted: dict[str, Volume]) -> list[Action]:
    """What the spec no longer lists: kept, destroyed (prune: true) or refused, with why."""
    base = spec.zfs.base
    actions: list[Action] = []
    clones_of = {v.origin.partition("@")[0]: n for n, v in live.volumes.items() if v.origin}
    needed = {v.origin for v in live.volumes.values() if v.origin}
    listed_origins = {v.clone_of: v.name for v in spec.volumes if v.clone_of}
    for name, current in sorted(live.volumes.items()):
        dataset = f"{base}/{name}"
        listed = set(wanted[name].snapshots) if name in wanted else set()
        source = wanted[name].clone_of if name in wanted else None
        if source is not None and wanted[name].promote:
            # The origin's snapshots it took over when promoted.
            origin = wanted.get(source.partition("@")[0])
            if origin is not None:
                listed |= set(origin.snapshots)
        if name in wanted:
            for snapshot in sorted(set(current.snapshots) - listed):
                if not spec.prune:
                    continue
                full = f"{name}@{snapshot}"
                if full in needed:
                    actions.append(
                        Action("refuse", full, (), "not destroyed: a clone depends on it")
                    )
                elif full in listed_origins:
                    why = f"not destroyed: the spec lists it as clone_of of {listed_origins[full]}"
                    actions.append(Action("refuse", full, (), why))
                elif current.snapshots[snapshot] != spec.name:
                    actions.append(
                        Action("refuse", full, (), "not destroyed: not made by this spec")
                    )
                else:
                    command = ("zfs", "destroy", f"{dataset}@{snapshot}")
                    actions.append(Action("destroy", full, (command,)))
            continue
        if not spec.prune:
            actions.append(Action("keep", name, (), "not in the spec; kept (prune: false)"))
            continue
        exported = live.export_of(f"/dev/zvol/{dataset}") or live.target(
            f"{spec.iscsi.iqn_prefix}{name}"
        )
        still_listed = [
            f"{name}@{s}" for s in sorted(current.snapshots) if f"{name}@{s}" in listed_origins
        ]
        if current.owner != spec.name:
            actions.append(Action("refuse", name, (), "not destroyed: not made by this spec"))
        elif name in clones_of:
            why = f"not destroyed: clone {clones_of[name]} depends on it"
            actions.append(Action("refuse", name, (), why))
        elif still_listed:
            why = f"not destroyed: the spec still lists {', '.join(still_listed)} (clone_of)"
            actions.append(Action("refuse", name, (), why))
        elif exported is not None and exported.sessions:
            why = f"not destroyed: {exported.sessions} active iSCSI session(s)"
            actions.append(Action("refuse", name, (), why))
        elif any(owner != spec.name for owner in current.snapshots.values()):
            why = "not destroyed: it has snapshots this spec did not make"
            actions.append(Action("refuse", name, (), why))
        else:
            commands: list[tuple[str, ...]] = []
            if exported is not None:
                commands += _unexport_commands(dataset, exported.tid)
            commands += [("zfs", "destroy", f"{dataset}@{s}") for s in sorted(current.snapshots)]
            commands.append(("zfs", "destroy", dataset))
            actions.append(Action("destroy", name, tuple(commands)))
    return actions
