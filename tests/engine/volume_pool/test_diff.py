"""Volume pools, the pure part: live state from recorded zfs/tgtadm output, and the diff.

The recorded listings are what the engine's ``zfs list`` prints: seven
tab-separated columns (name, type, volsize, used, available, origin, the
``org.specengine:spec`` owner), the base's own row first. What the spec
``lab`` made carries ``lab``. That column shows inherited values too (a
snapshot shows its volume's), so the engine reads who made what from a second
listing, ``zfs get ... -s local`` (``owners_command``): where a test gives it,
it replaces the column.

Every command a plan issues is also run through the real restricted wrapper
(with recording stand-ins for zfs and tgtadm): the diff speaks exactly the
wrapper's language, down to the tgtadm calls of its own export commands.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from engine.hosts.wrapper import OWNER_QUERY, SHOW_QUERY, VOLSIZE_QUERY
from engine.volume_pool.diff import (
    Action,
    Export,
    Live,
    PoolError,
    diff,
    key_scope,
    list_command,
    owners_command,
    parse_owners,
    parse_tgtadm,
    parse_zfs_list,
    show_command,
)
from schemas.volume_pool import VolumePoolSpec
from tests.sshd import FakeZvols, HostState, fake_zvols, install_recorders, install_wrapper

BASE = "tank/openstack/volume"
NAME = "lab"
G = 1 << 30
IQN = "iqn.2010-10.org.openstack:"
OWNER = ("-o", f"org.specengine:spec={NAME}")


def _row(
    name: str,
    kind: str,
    volsize: object,
    used: object,
    available: object = "-",
    origin: str = "-",
    owner: str = NAME,
) -> str:
    """One line of the listing, tab-separated as ``zfs list -H`` prints it."""
    return "\t".join(str(v) for v in (name, kind, volsize, used, available, origin, owner))


def _zfs_list(
    base: str = BASE,
    available: int = 100 * G,
    owners: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    """The listing of the pool; ``owners`` replaces the owner of some rows (``-``: unset).

    ``drop`` leaves out volumes (the clone vol-test, say) and their snapshots.
    """
    owner = {
        "vol-db": NAME,
        "vol-db@nightly": NAME,
        "vol-db@old": NAME,
        "vol-test": NAME,
        "vol-gone": NAME,
        **(owners or {}),
    }
    origin = f"{base}/vol-db@old"
    rows = [
        _row(base, "filesystem", "-", 29 * G, available, owner="-"),
        _row(f"{base}/vol-db", "volume", 20 * G, 3 * G, available, owner=owner["vol-db"]),
        _row(f"{base}/vol-db@nightly", "snapshot", 20 * G, G, owner=owner["vol-db@nightly"]),
        _row(f"{base}/vol-db@old", "snapshot", 20 * G, G, owner=owner["vol-db@old"]),
        _row(f"{base}/vol-test", "volume", 20 * G, G, available, origin, owner["vol-test"]),
        _row(f"{base}/vol-gone", "volume", 5 * G, G, available, owner=owner["vol-gone"]),
        # Not under the base: neither another dataset nor one whose name starts alike.
        _row("tank/other/vol", "volume", 1024, 1024, available),
        _row(f"{base}-old/vol", "volume", 1024, 1024, available),
    ]
    dropped = tuple(f"{base}/{name}{end}" for name in drop for end in ("\t", "@"))
    return "\n".join(row for row in rows if not row.startswith(dropped))


def _tgtadm_show(base: str = BASE, sessions: bool = True, lun: bool = True) -> str:
    """Target 1 exports vol-db to ALL (one session), target 2 vol-gone to 10.0.2.2."""
    nexus = """    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.1993-08.org.debian:01:abc alias: client
            Connection: 0
                IP Address: 10.0.2.2
"""
    idle = "    I_T nexus information:\n"
    disk = f"""        LUN: 1
            Type: disk
            Backing store path: /dev/zvol/{base}/vol-db
"""
    return f"""Target 1: {IQN}vol-db
    System information:
        Driver: iscsi
        State: ready
{nexus if sessions else idle}    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
{disk if lun else ""}    Account information:
    ACL information:
        ALL
Target 2: {IQN}vol-gone
    System information:
        Driver: iscsi
    LUN information:
        LUN: 1
            Type: disk
            Backing store path: /dev/zvol/{base}/vol-gone
    ACL information:
        10.0.2.2
"""


TGTADM = _tgtadm_show()


def _spec(base: str = BASE, **changes: Any) -> VolumePoolSpec:
    data: dict[str, Any] = {
        "kind": "volume-pool",
        "name": NAME,
        "host": {"address": "127.0.0.1", "key": "/k", "known_hosts": "/kh"},
        "zfs": {"base": base},
        "iscsi": {"portal": "127.0.0.1:3260", "initiators": ["ALL"]},
        "volumes": [
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ],
    }
    data.update(changes)
    # The host's key need not exist to plan on recorded output.
    return VolumePoolSpec.model_validate(data, context={"check_files": False})


def _live(listing: str | None = None, show: str = TGTADM) -> Live:
    live = parse_zfs_list(_zfs_list() if listing is None else listing, BASE)
    live.exports = parse_tgtadm(show)
    return live


def _kinds(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.kind, a.target) for a in actions]


def _action(actions: list[Action], kind: str, target: str) -> Action:
    found = [a for a in actions if (a.kind, a.target) == (kind, target)]
    assert len(found) == 1, _kinds(actions)
    return found[0]


def _tgtadm(*words: str) -> tuple[str, ...]:
    return ("tgtadm", "--lld", "iscsi", *words)


# -- reading the host ----------------------------------------------------------


def test_zfs_list_is_read_under_the_base_only() -> None:
    live = parse_zfs_list(_zfs_list(), BASE)
    assert sorted(live.volumes) == ["vol-db", "vol-gone", "vol-test"]
    assert live.volumes["vol-db"].snapshots == {"nightly": NAME, "old": NAME}
    assert live.volumes["vol-test"].origin == "vol-db@old"
    assert live.volumes["vol-db"].size == 20 * G
    assert live.volumes["vol-db"].used == 3 * G
    assert live.volumes["vol-db"].owner == NAME
    # The base's own row gives the free space.
    assert live.available == 100 * G
    with pytest.raises(PoolError, match="7 tab-separated fields"):
        parse_zfs_list("only two\tfields", BASE)
    with pytest.raises(PoolError, match="7 tab-separated fields"):
        # The five columns of earlier versions.
        parse_zfs_list(f"{BASE}/v\t{G}\t{G}\t-\tvolume", BASE)
    with pytest.raises(PoolError, match="zfs list -p"):
        parse_zfs_list(_row(f"{BASE}/v", "volume", "20G", "1G", "1G"), BASE)
    with pytest.raises(PoolError, match="line 1: '90G' is not a number"):
        parse_zfs_list(_row(BASE, "filesystem", "-", G, "90G"), BASE)


def test_an_unset_owner_and_a_missing_base_are_none() -> None:
    listing = "\n".join(
        [
            _row(f"{BASE}/made-by-hand", "volume", G, G, G, owner="-"),
            _row(f"{BASE}/made-by-hand@snap", "snapshot", G, 0, owner="-"),
            _row(f"{BASE}/made-by-hand@ours", "snapshot", G, 0),
            # A clone of a snapshot outside the base keeps its full origin.
            _row(f"{BASE}/copy", "volume", G, G, G, "tank/elsewhere/v@s"),
            # A snapshot of a volume not listed (a filesystem under the base) is no volume's.
            _row(f"{BASE}/fs", "filesystem", "-", G, G),
            _row(f"{BASE}/fs@s", "snapshot", "-", 0),
            "",
        ]
    )
    live = parse_zfs_list(listing, BASE)
    assert live.available is None
    assert sorted(live.volumes) == ["copy", "made-by-hand"]
    assert live.volumes["made-by-hand"].owner is None
    assert live.volumes["made-by-hand"].snapshots == {"snap": None, "ours": NAME}
    assert live.volumes["copy"].origin == "tank/elsewhere/v@s"


def test_tgtadm_show_gives_targets_luns_sessions_and_acls() -> None:
    first, second = parse_tgtadm(TGTADM)
    assert (first.tid, first.iqn, first.sessions) == (1, f"{IQN}vol-db", 1)
    assert first.backing == ("/dev/zvol/tank/openstack/volume/vol-db",)
    assert first.acls == ("ALL",)
    assert (second.tid, second.sessions, second.acls) == (2, 0, ("10.0.2.2",))
    (half, _) = parse_tgtadm(_tgtadm_show(sessions=False, lun=False))
    assert (half.backing, half.sessions) == ((), 0)


# -- who made what ----------------------------------------------------------------


def _local(listing: str, inherited: tuple[str, ...] = ()) -> str:
    """What ``owners_command`` prints for ``listing``: each owned row under the base, as
    ``NAME<TAB>VALUE``, except those of ``inherited`` (names under the base), whose
    column shows a value set on an ancestor, not on themselves."""
    lines = []
    for row in listing.splitlines():
        name, *_, owner = row.split("\t")
        local = name.removeprefix(f"{BASE}/")
        if local != name and owner not in ("-", "") and local not in inherited:
            lines.append(f"{name}\t{owner}")
    return "".join(f"{line}\n" for line in lines)


def _owned(listing: str, inherited: tuple[str, ...] = ()) -> Live:
    """The live state as the engine reads it: the listing, and who made what from zfs get."""
    live = parse_zfs_list(listing, BASE, parse_owners(_local(listing, inherited)))
    live.exports = parse_tgtadm(TGTADM)
    return live


def test_owners_are_read_where_the_property_is_set_locally() -> None:
    assert owners_command(BASE) == (
        *("zfs", "get", "-H", "-p", "-o", "name,value", "-s", "local"),
        *("-t", "volume,snapshot", "-r", "org.specengine:spec", BASE),
    )


def test_parse_owners_maps_names_to_values() -> None:
    text = f"{BASE}/vol-db\tlab\n\n{BASE}/vol-db@old\tother-spec\n  \n{BASE}/x@s\tlab"
    assert parse_owners(text) == {
        f"{BASE}/vol-db": "lab",
        f"{BASE}/vol-db@old": "other-spec",
        f"{BASE}/x@s": "lab",
    }
    assert parse_owners("") == {}
    with pytest.raises(PoolError) as raised:
        parse_owners(f"{BASE}/vol-db\tlab\n{BASE}/vol-db@old lab\n")
    assert str(raised.value) == (
        f"zfs get line 2: expected NAME<TAB>VALUE: '{BASE}/vol-db@old lab'"
    )


def test_owners_replace_the_listing_column() -> None:
    listing = _zfs_list()
    # Without owners, the column; with them, only what they name, whatever the column says.
    assert parse_zfs_list(listing, BASE).volumes["vol-db"].snapshots == {
        "nightly": NAME,
        "old": NAME,
    }
    live = parse_zfs_list(listing, BASE, {f"{BASE}/vol-db": NAME, f"{BASE}/vol-db@old": "x"})
    assert live.volumes["vol-db"].owner == NAME
    assert live.volumes["vol-db"].snapshots == {"nightly": None, "old": "x"}
    assert live.volumes["vol-test"].owner is None
    # The base's free space and the volumes' sizes still come from the listing.
    assert live.available == 100 * G and live.volumes["vol-gone"].size == 5 * G
    assert parse_zfs_list(listing, BASE, {}).volumes["vol-db"].owner is None
    assert _owned(listing).volumes == parse_zfs_list(listing, BASE).volumes


def _hand_made(listing: str, *rows: str) -> str:
    return "\n".join([listing, *rows])


def test_prune_refuses_a_hand_made_snapshot_that_shows_the_inherited_owner() -> None:
    # Someone ran `zfs snapshot tank/openstack/volume/vol-gone@by-hand`: the
    # listing shows the volume's value (inherited), zfs get -s local does not.
    listing = _hand_made(
        _zfs_list(),
        _row(f"{BASE}/vol-gone@by-hand", "snapshot", 5 * G, 0),
        _row(f"{BASE}/vol-db@by-hand", "snapshot", 20 * G, 0),
    )
    inherited = ("vol-gone@by-hand", "vol-db@by-hand")
    spec = _spec(
        prune=True,
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ],
    )
    # Read by the column alone, both would go: what the second listing is for.
    naive = diff(spec, _live(listing))
    assert ("destroy", "vol-gone") in _kinds(naive)
    assert ("destroy", "vol-db@by-hand") in _kinds(naive)
    actions = diff(spec, _owned(listing, inherited))
    assert _action(actions, "refuse", "vol-gone").reason == (
        "not destroyed: it has snapshots this spec did not make"
    )
    assert _action(actions, "refuse", "vol-db@by-hand").reason == (
        "not destroyed: not made by this spec"
    )
    assert not [a for a in actions if a.changes]
    # The engine's own snapshot of a volume no longer listed still goes with it.
    ours = _hand_made(_zfs_list(), _row(f"{BASE}/vol-gone@ours", "snapshot", 5 * G, 0))
    gone = _action(diff(spec, _owned(ours)), "destroy", "vol-gone")
    assert gone.commands == (
        ("specengine-unexport", f"{BASE}/vol-gone", "2"),
        ("zfs", "destroy", f"{BASE}/vol-gone@ours"),
        ("zfs", "destroy", f"{BASE}/vol-gone"),
    )


def test_a_volume_that_inherits_the_owner_from_the_base_is_not_the_engines() -> None:
    # The property set on the base by hand: a volume made by hand under it shows it too.
    rows = _zfs_list().splitlines()
    rows[0] = _row(BASE, "filesystem", "-", 29 * G, 100 * G, owner=NAME)
    listing = _hand_made("\n".join(rows), _row(f"{BASE}/vol-hand", "volume", G, G, 100 * G))
    live = _owned(listing, ("vol-hand",))
    assert live.volumes["vol-hand"].owner is None
    spec = _spec(prune=True)
    assert _action(diff(spec, live), "refuse", "vol-hand").reason == (
        "not destroyed: not made by this spec"
    )
    listed = _spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
            {"name": "vol-hand", "size": "1G", "export": False},
        ]
    )
    with pytest.raises(
        PoolError, match=r"vol-hand exists but was not made by this spec \(.* is unset\)"
    ):
        diff(listed, live)


# -- the diff ----------------------------------------------------------------------


def test_no_change_gives_no_action_and_unlisted_volumes_are_kept() -> None:
    actions = diff(_spec(), _live())
    assert _kinds(actions) == [("keep", "vol-gone")]
    assert not any(a.commands for a in actions)
    assert not any(a.changes for a in actions)


def test_create_grow_snapshot_clone_export() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-db", "size": "30G", "snapshots": ["nightly", "old", "weekly"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
            {"name": "vol-new", "size": "1G"},
            {
                "name": "vol-copy",
                "clone_of": "vol-db@weekly",
                "promote": True,
                "initiators": ["iqn.1993-08.org.debian:01:abc"],
            },
        ]
    )
    actions = diff(spec, _live())
    assert _kinds(actions) == [
        ("grow", "vol-db"),
        ("snapshot", "vol-db@weekly"),
        ("note", "vol-db"),  # grown under a session: no re-export
        ("create", "vol-new"),
        ("export", "vol-new"),
        ("clone", "vol-copy"),
        ("promote", "vol-copy"),
        ("export", "vol-copy"),
        ("keep", "vol-gone"),
    ]
    grow, snapshot, _note, create, export, clone, promote, copy_export, _keep = actions
    assert grow.commands == (("zfs", "set", f"volsize={30 * G}", f"{BASE}/vol-db"),)
    assert grow.reason == f"{20 * G:,} -> {30 * G:,} bytes"
    # What the engine makes carries the spec's name.
    assert snapshot.commands == (("zfs", "snapshot", *OWNER, f"{BASE}/vol-db@weekly"),)
    assert create.commands == (("zfs", "create", "-V", str(G), *OWNER, f"{BASE}/vol-new"),)
    assert clone.commands == (
        ("zfs", "clone", *OWNER, f"{BASE}/vol-db@weekly", f"{BASE}/vol-copy"),
    )
    assert promote.commands == (("zfs", "promote", f"{BASE}/vol-copy"),)
    # One command per export; target ids follow the live ones.
    assert export.commands == (
        ("specengine-export", f"{BASE}/vol-new", "3", f"{IQN}vol-new", "ALL"),
    )
    assert copy_export.commands == (
        (
            "specengine-export",
            f"{BASE}/vol-copy",
            "4",
            f"{IQN}vol-copy",
            "iqn.1993-08.org.debian:01:abc",
        ),
    )


def test_thin_volumes_are_sparse() -> None:
    spec = _spec(
        zfs={"base": BASE, "thin": True}, volumes=[{"name": "v", "size": "1G", "export": False}]
    )
    (create, *_) = diff(spec, _live())
    assert create.commands == (("zfs", "create", "-s", "-V", str(G), *OWNER, f"{BASE}/v"),)


def test_a_size_that_would_shrink_is_an_error() -> None:
    spec = _spec(volumes=[{"name": "vol-db", "size": "10G", "snapshots": ["nightly", "old"]}])
    with pytest.raises(PoolError, match="would shrink it"):
        diff(spec, _live())


def test_a_clone_of_a_missing_snapshot_is_an_error() -> None:
    spec = _spec(volumes=[{"name": "vol-x", "clone_of": "vol-gone@never"}])
    with pytest.raises(PoolError, match="clone of vol-gone@never, which does not exist"):
        diff(spec, _live())


@pytest.mark.parametrize(
    ("owner", "shown"), [("other-spec", "'other-spec'"), ("-", "unset"), ("", "unset")]
)
def test_a_listed_volume_made_by_another_is_an_error(owner: str, shown: str) -> None:
    live = _live(_zfs_list(owners={"vol-db": owner}))
    with pytest.raises(PoolError) as raised:
        diff(_spec(), live)
    assert str(raised.value) == (
        f"volume vol-db: {BASE}/vol-db exists but was not made by this spec"
        f" (org.specengine:spec is {shown}); to adopt it:"
        f" zfs set org.specengine:spec={NAME} {BASE}/vol-db"
    )


def test_reservations_beyond_the_free_space_are_an_error() -> None:
    volumes = [
        {"name": "vol-db", "size": "29G", "snapshots": ["nightly", "old"]},  # 9 GiB more
        {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        {"name": "vol-new", "size": "1G"},
        {"name": "vol-copy", "clone_of": "vol-db@old"},  # a clone reserves nothing
    ]
    fits = _live(_zfs_list(available=10 * G))
    assert ("create", "vol-new") in _kinds(diff(_spec(volumes=volumes), fits))
    short = _live(_zfs_list(available=10 * G - 1))
    with pytest.raises(PoolError) as raised:
        diff(_spec(volumes=volumes), short)
    assert str(raised.value) == (
        f"pool out of space: the plan reserves {10 * G:,} bytes and {BASE} has"
        f" {10 * G - 1:,} available (thin: true makes sparse volumes)"
    )
    # Sparse volumes reserve nothing.
    thin = _spec(zfs={"base": BASE, "thin": True}, volumes=volumes)
    assert ("create", "vol-new") in _kinds(diff(thin, short))


def test_changed_initiators_rebind_the_target() -> None:
    spec = _spec(
        volumes=[
            {
                "name": "vol-db",
                "size": "20G",
                "snapshots": ["nightly", "old"],
                "initiators": ["10.0.2.2", "iqn.1993-08.org.debian:01:abc", "10.0.2.2"],
            },
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ]
    )
    rebind = _action(diff(spec, _live()), "rebind", "vol-db")
    assert rebind.commands == (
        _tgtadm("--mode", "target", "--op", "unbind", "--tid", "1", "--initiator-address", "ALL"),
        _tgtadm(
            "--mode", "target", "--op", "bind", "--tid", "1", "--initiator-address", "10.0.2.2"
        ),
        _tgtadm(
            *("--mode", "target", "--op", "bind", "--tid", "1"),
            *("--initiator-name", "iqn.1993-08.org.debian:01:abc"),
        ),
        (
            "specengine-tgt-save",
            f"{BASE}/vol-db",
            f"{IQN}vol-db",
            "10.0.2.2,iqn.1993-08.org.debian:01:abc",
        ),
    )
    assert rebind.reason == "initiators ALL -> 10.0.2.2, iqn.1993-08.org.debian:01:abc"
    assert rebind.changes
    # An initiator listed twice is bound once: the same ACL, no change.
    same = _spec(iscsi={"portal": "127.0.0.1:3260", "initiators": ["ALL", "ALL"]})
    assert not any(a.changes for a in diff(same, _live()))


def test_a_target_without_its_lun_is_exported_again() -> None:
    # A run stopped between the target and its LUN: the target is there by name only.
    live = _live(show=_tgtadm_show(lun=False))
    reexport = _action(diff(_spec(), live), "reexport", "vol-db")
    assert reexport.reason == "target without its LUN"
    assert reexport.commands == (
        ("specengine-unexport", f"{BASE}/vol-db", "1"),
        ("specengine-export", f"{BASE}/vol-db", "1", f"{IQN}vol-db", "ALL"),
    )


def test_a_grown_exported_volume_is_exported_again_only_without_sessions() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-db", "size": "25G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ]
    )
    idle = diff(spec, _live(show=_tgtadm_show(sessions=False)))
    assert _kinds(idle)[:2] == [("grow", "vol-db"), ("reexport", "vol-db")]
    assert idle[1].reason == "tgtd reads a LUN's size once"
    assert idle[1].commands == (
        ("specengine-unexport", f"{BASE}/vol-db", "1"),
        ("specengine-export", f"{BASE}/vol-db", "1", f"{IQN}vol-db", "ALL"),
    )
    busy = diff(spec, _live())
    assert _kinds(busy)[:2] == [("grow", "vol-db"), ("note", "vol-db")]
    note = busy[1]
    assert "1 iSCSI session(s)" in note.reason and not note.commands and not note.changes


def test_a_volume_no_longer_exported_is_unexported() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
            {"name": "vol-gone", "size": "5G", "export": False},
        ]
    )
    actions = diff(spec, _live())
    assert _kinds(actions) == [("unexport", "vol-gone")]
    assert actions[0].commands == (("specengine-unexport", f"{BASE}/vol-gone", "2"),)


def test_unexporting_a_volume_in_use_is_refused() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"], "export": False},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ]
    )
    refusal = _action(diff(spec, _live()), "refuse", "vol-db")
    assert "1 active iSCSI session" in refusal.reason
    assert not refusal.changes


def test_prune_destroys_only_what_has_no_dependents_or_sessions() -> None:
    # vol-db dropped from the spec: it has a clone (vol-test) and a session: refused.
    spec = _spec(
        prune=True, volumes=[{"name": "vol-test", "clone_of": "vol-db@old", "export": False}]
    )
    actions = diff(spec, _live())
    refusal = _action(actions, "refuse", "vol-db")
    assert refusal.reason == "not destroyed: clone vol-test depends on it"
    gone = _action(actions, "destroy", "vol-gone")
    # Its export first (file and target, by the wrapper), then the volume.
    assert gone.commands == (
        ("specengine-unexport", f"{BASE}/vol-gone", "2"),
        ("zfs", "destroy", f"{BASE}/vol-gone"),
    )
    # A snapshot the spec no longer lists, on a kept volume, goes; one a live clone needs stays.
    spec = _spec(
        prune=True,
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ],
    )
    nightly = _action(diff(spec, _live()), "destroy", "vol-db@nightly")
    assert nightly.commands == (("zfs", "destroy", f"{BASE}/vol-db@nightly"),)
    spec = _spec(prune=True, volumes=[{"name": "vol-db", "size": "20G"}])
    actions = diff(spec, _live())
    assert _action(actions, "refuse", "vol-db@old").reason == (
        "not destroyed: a clone depends on it"
    )
    assert _action(actions, "destroy", "vol-test").commands == (
        ("zfs", "destroy", f"{BASE}/vol-test"),
    )
    # Without prune nothing is destroyed: unlisted snapshots stay silently.
    spec = _spec(volumes=[{"name": "vol-db", "size": "20G"}])
    assert not any(a.kind == "destroy" for a in diff(spec, _live()))


def test_prune_destroys_a_volume_with_its_own_snapshots() -> None:
    listing = "\n".join(
        [
            _row(BASE, "filesystem", "-", G, 10 * G, owner="-"),
            _row(f"{BASE}/old", "volume", G, G, 10 * G),
            _row(f"{BASE}/old@b", "snapshot", G, 0),
            _row(f"{BASE}/old@a", "snapshot", G, 0),
        ]
    )
    actions = diff(_spec(prune=True, volumes=[]), _live(listing, show=""))
    assert _kinds(actions) == [("destroy", "old")]
    assert actions[0].commands == (
        ("zfs", "destroy", f"{BASE}/old@a"),
        ("zfs", "destroy", f"{BASE}/old@b"),
        ("zfs", "destroy", f"{BASE}/old"),
    )


@pytest.mark.parametrize(
    ("owners", "clone_made", "clone_listed", "sessions", "reason"),
    [
        ({"vol-db": "someone-else"}, True, True, True, "not destroyed: not made by this spec"),
        ({"vol-db": "-"}, True, True, True, "not destroyed: not made by this spec"),
        ({}, True, True, True, "not destroyed: clone vol-test depends on it"),
        # vol-test is not made yet, and the spec needs vol-db@old to make it.
        ({}, False, True, True, "not destroyed: the spec still lists vol-db@old (clone_of)"),
        ({}, False, False, True, "not destroyed: 1 active iSCSI session(s)"),
        (
            {"vol-db@nightly": "-"},
            False,
            False,
            False,
            "not destroyed: it has snapshots this spec did not make",
        ),
    ],
    ids=["another owner", "no owner", "a clone", "clone_of", "a session", "foreign snapshot"],
)
def test_prune_refuses_a_volume_and_says_why(
    owners: dict[str, str], clone_made: bool, clone_listed: bool, sessions: bool, reason: str
) -> None:
    # vol-db is no longer in the spec, and prune is on.
    listing = _zfs_list(owners=owners, drop=() if clone_made else ("vol-test",))
    volumes: list[dict[str, Any]] = [{"name": "vol-gone", "size": "5G", "export": False}]
    if clone_listed:
        volumes.append({"name": "vol-test", "clone_of": "vol-db@old", "export": False})
    actions = diff(
        _spec(prune=True, volumes=volumes), _live(listing, _tgtadm_show(sessions=sessions))
    )
    refusal = _action(actions, "refuse", "vol-db")
    assert refusal.reason == reason
    assert (refusal.commands, refusal.changes) == ((), False)
    # Nothing of vol-db goes, neither its snapshots nor its export.
    assert not [a for a in actions if a.changes and a.target.startswith("vol-db")]


def test_prune_refuses_a_snapshot_it_did_not_make() -> None:
    live = _live(_zfs_list(owners={"vol-db@nightly": "-"}))
    spec = _spec(
        prune=True,
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ],
    )
    refusal = _action(diff(spec, live), "refuse", "vol-db@nightly")
    assert refusal.reason == "not destroyed: not made by this spec"


def test_which_actions_change_the_host() -> None:
    command = (("zfs", "promote", f"{BASE}/v"),)
    for kind in ("create", "grow", "snapshot", "clone", "promote", "export", "reexport"):
        assert Action(kind, "v", command).changes
    for kind in ("rebind", "unexport", "destroy"):
        assert Action(kind, "v", command).changes
    for kind in ("keep", "refuse", "note"):
        assert not Action(kind, "v", command).changes
    assert not Action("create", "v").changes  # nothing to run


def test_export_of_and_target_find_exports() -> None:
    live = Live(exports=[Export(4, f"{IQN}a", ("/dev/zvol/x/a",)), Export(5, f"{IQN}b")])
    assert live.export_of("/dev/zvol/x/a") == live.exports[0]
    assert live.export_of("/dev/zvol/x/b") is None
    assert live.target(f"{IQN}b") == live.exports[1]
    assert live.target(f"{IQN}c") is None


@pytest.mark.parametrize(
    ("volumes", "message"),
    [
        ([{"name": "a/b", "size": "1G"}], "is not a valid volume name"),
        ([{"name": "v"}], "needs a size unless it is a clone"),
        ([{"name": "v", "size": "1G", "promote": True}], "only a clone can be promoted"),
        ([{"name": "v", "clone_of": "nosnap"}], "clone_of is VOLUME@SNAPSHOT"),
        (
            [{"name": "a", "size": "1G"}, {"name": "b", "clone_of": "a@s"}],
            "which the spec does not list",
        ),
        ([{"name": "v", "size": "1G"}, {"name": "v", "size": "1G"}], "listed twice"),
        ([{"name": "v", "size": "1G", "initiators": []}], "is exported to no initiator"),
        ([{"name": "v", "size": "1G", "initiators": ["10.0.0.256"]}], "is not an initiator"),
        ([{"name": "v", "size": "1G", "initiators": ["host.example"]}], "is not an initiator"),
    ],
)
def test_bad_pools_are_refused(volumes: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _spec(volumes=volumes)


def test_a_volume_not_exported_needs_no_initiator() -> None:
    spec = _spec(
        iscsi={"portal": "127.0.0.1:3260"},
        volumes=[
            {"name": "a", "size": "1G", "export": False},
            {"name": "b", "size": "1G", "initiators": ["ALL"]},
        ],
    )
    assert [v.name for v in spec.volumes] == ["a", "b"]
    with pytest.raises(ValidationError, match="exported to no initiator"):
        _spec(iscsi={"portal": "127.0.0.1:3260"}, volumes=[{"name": "a", "size": "1G"}])


# -- promote, clones of clones, half exports -----------------------------------------


def _promote_listing(promoted: bool) -> str:
    """vol-copy, a clone of vol-db@old, before and after ``zfs promote``.

    ZFS moves the origin's snapshots up to the cloned one (nightly, old) onto
    the promoted clone and makes the origin (and vol-test, the other clone of
    old) depend on it; later, taken after old, stays on vol-db.
    """
    at = f"{BASE}/vol-copy@old" if promoted else f"{BASE}/vol-db@old"
    moved = "vol-copy" if promoted else "vol-db"
    return "\n".join(
        [
            _row(BASE, "filesystem", "-", 29 * G, 100 * G, owner="-"),
            _row(f"{BASE}/vol-copy", "volume", 20 * G, G, 100 * G, "-" if promoted else at),
            _row(f"{BASE}/vol-db", "volume", 20 * G, 3 * G, 100 * G, at if promoted else "-"),
            _row(f"{BASE}/{moved}@nightly", "snapshot", 20 * G, G),
            _row(f"{BASE}/{moved}@old", "snapshot", 20 * G, G),
            _row(f"{BASE}/vol-db@later", "snapshot", 20 * G, 0),
            _row(f"{BASE}/vol-test", "volume", 20 * G, G, 100 * G, at),
        ]
    )


def _promote_spec(**changes: Any) -> VolumePoolSpec:
    data: dict[str, Any] = {
        "prune": True,
        "volumes": [
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old", "later"]},
            {"name": "vol-test", "clone_of": "vol-db@old"},
            {"name": "vol-copy", "clone_of": "vol-db@old", "promote": True},
        ],
        **changes,
    }
    for volume in data["volumes"]:
        volume.setdefault("export", False)
    return _spec(**data)


def _promote_live(promoted: bool) -> Live:
    listing = _promote_listing(promoted)
    live = parse_zfs_list(listing, BASE, parse_owners(_local(listing)))
    assert (live.volumes["vol-copy"].origin is None) is promoted
    return live


def test_a_promoted_clone_settles() -> None:
    spec = _promote_spec()
    # Cloned but not promoted yet (a run stopped in between): the promote alone.
    before = diff(spec, _promote_live(promoted=False))
    assert _kinds(before) == [("promote", "vol-copy")]
    assert before[0].commands == (("zfs", "promote", f"{BASE}/vol-copy"),)
    # Promoted: vol-db@nightly and @old are now vol-copy's, and still count as
    # vol-db's: nothing to snapshot again, promote again or prune.
    live = _promote_live(promoted=True)
    assert live.volumes["vol-db"].snapshots == {"later": NAME}
    assert live.volumes["vol-copy"].snapshots == {"nightly": NAME, "old": NAME}
    assert diff(spec, live) == []
    # Without prune, nothing either (no keep: every volume is listed).
    assert diff(_promote_spec(prune=False), live) == []


def test_prune_keeps_the_snapshots_a_promote_moved() -> None:
    live = _promote_live(promoted=True)
    # vol-db no longer lists nightly: it goes where it now lives; old stays (clones need it).
    spec = _promote_spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["old", "later"]},
            {"name": "vol-test", "clone_of": "vol-db@old"},
            {"name": "vol-copy", "clone_of": "vol-db@old", "promote": True},
        ]
    )
    actions = diff(spec, live)
    assert _kinds(actions) == [("destroy", "vol-copy@nightly")]
    assert actions[0].commands == (("zfs", "destroy", f"{BASE}/vol-copy@nightly"),)
    # The clone may list the snapshot it was cloned from itself, the origin not.
    spec = _promote_spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "later"]},
            {"name": "vol-copy", "clone_of": "vol-db@old", "promote": True, "snapshots": ["old"]},
        ]
    )
    assert _kinds(diff(spec, live)) == [("destroy", "vol-test")]
    assert _kinds(diff(spec.model_copy(update={"prune": False}), live)) == [("keep", "vol-test")]


def test_a_new_promoted_clone_does_not_snapshot_what_the_promote_moves_onto_it() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
            {"name": "vol-copy", "clone_of": "vol-db@old", "promote": True, "snapshots": ["old"]},
        ]
    )
    kinds = _kinds(diff(spec, _live()))
    assert ("clone", "vol-copy") in kinds and ("promote", "vol-copy") in kinds
    assert ("snapshot", "vol-copy@old") not in kinds


def test_a_new_clone_of_a_moved_snapshot_clones_it_where_it_now_is() -> None:
    live = _promote_live(promoted=True)
    spec = _promote_spec(
        volumes=[
            *_promote_spec().model_dump()["volumes"],
            {"name": "vol-new", "clone_of": "vol-db@nightly", "export": False},
        ]
    )
    clone = _action(diff(spec, live), "clone", "vol-new")
    on_host = {f"{BASE}/{v}@{s}" for v, volume in live.volumes.items() for s in volume.snapshots}
    assert clone.commands[0][-2] in on_host, clone.commands


def _clones_follow_what_they_clone(actions: list[Action]) -> None:
    """Each clone comes after the making of its origin and of the snapshot it clones."""
    made = {a.target: i for i, a in enumerate(actions) if a.kind in ("create", "clone")}
    made |= {a.target: i for i, a in enumerate(actions) if a.kind == "snapshot"}
    for index, action in enumerate(actions):
        if action.kind == "clone":
            source = action.commands[0][-2].removeprefix(f"{BASE}/")
            for needed in (source, source.partition("@")[0]):
                assert made.get(needed, -1) < index, (needed, _kinds(actions))


def test_a_clone_of_a_clone_comes_after_it_whatever_the_spec_order() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-grand", "clone_of": "vol-child@s", "export": False},
            {"name": "vol-child", "clone_of": "vol-db@old", "snapshots": ["s"], "export": False},
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ]
    )
    actions = diff(spec, _live())
    assert _kinds(actions) == [
        ("clone", "vol-child"),
        ("snapshot", "vol-child@s"),
        ("clone", "vol-grand"),
        ("keep", "vol-gone"),
    ]
    assert actions[2].commands == (
        ("zfs", "clone", *OWNER, f"{BASE}/vol-child@s", f"{BASE}/vol-grand"),
    )
    _clones_follow_what_they_clone(actions)
    # A chain of new volumes listed backwards: made from its root on.
    chain = _spec(
        volumes=[
            {"name": "d", "clone_of": "c@s", "export": False},
            {"name": "c", "clone_of": "b@s", "snapshots": ["s"], "export": False},
            {"name": "b", "clone_of": "a@s", "snapshots": ["s"], "export": False},
            {"name": "a", "size": "1G", "snapshots": ["s"], "export": False},
        ]
    )
    actions = [a for a in diff(chain, _live()) if a.changes]
    assert _kinds(actions) == [
        ("create", "a"),
        ("snapshot", "a@s"),
        ("clone", "b"),
        ("snapshot", "b@s"),
        ("clone", "c"),
        ("snapshot", "c@s"),
        ("clone", "d"),
    ]
    _clones_follow_what_they_clone(actions)


@pytest.mark.parametrize(
    "volumes",
    [
        [{"name": "a", "clone_of": "a@s", "snapshots": ["s"], "export": False}],
        [
            {"name": "a", "clone_of": "b@s", "snapshots": ["s"], "export": False},
            {"name": "b", "clone_of": "a@s", "snapshots": ["s"], "export": False},
        ],
    ],
    ids=["itself", "each other"],
)
def test_a_clone_of_cycle_is_an_error(volumes: list[dict[str, Any]]) -> None:
    with pytest.raises((ValidationError, PoolError)):
        diff(_spec(volumes=volumes), _live())


def test_prune_unexports_a_target_left_without_its_lun_by_its_iqn() -> None:
    # A run stopped half-way through exporting vol-gone: its target, by name only.
    show = TGTADM.replace(f"            Backing store path: /dev/zvol/{BASE}/vol-gone\n", "")
    live = _live(show=show)
    (_, half) = live.exports
    assert (half.iqn, half.backing) == (f"{IQN}vol-gone", ())
    gone = _action(diff(_spec(prune=True), live), "destroy", "vol-gone")
    assert gone.commands == (
        ("specengine-unexport", f"{BASE}/vol-gone", "2"),
        ("zfs", "destroy", f"{BASE}/vol-gone"),
    )
    # ... and not while that lone target has a session.
    busy = show.replace(
        f"Target 2: {IQN}vol-gone\n",
        f"Target 2: {IQN}vol-gone\n    I_T nexus information:\n        I_T nexus: 4\n",
    )
    refusal = _action(diff(_spec(prune=True), _live(show=busy)), "refuse", "vol-gone")
    assert refusal.reason == "not destroyed: 1 active iSCSI session(s)"


# -- through the real wrapper ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        (NAME, IQN),
        # The longest the spec allows: a 64-character name, a 159-character prefix.
        ("s" * 64, "iqn.2010-10.org." + "a" * 142 + ":"),
        ("a..b", "iqn.2024-05.org.example."),
    ],
)
def test_every_valid_spec_makes_the_scope_of_its_key(name: str, prefix: str) -> None:
    iscsi = {"portal": "127.0.0.1:3260", "initiators": ["ALL"], "iqn_prefix": prefix}
    spec = _spec(name=name, iscsi=iscsi)
    scope = key_scope(spec.zfs.base, spec.name, spec.iscsi.iqn_prefix)
    assert scope.arguments() == ["--base", BASE, "--spec", name, "--iqn-prefix", prefix]


@pytest.fixture
def zvols() -> Iterator[FakeZvols]:
    with fake_zvols() as made:
        yield made


def _expected_calls(command: tuple[str, ...], live: Live, zfs: str, tgtadm: str) -> list[list[str]]:
    """The tool calls the wrapper makes for one planned command: its questions, then its acts.

    Before it acts the wrapper asks who made the volume it acts on (``zfs
    get`` of the owner), a volume's size before a grow, and tgtd's targets
    before it touches one by its id (then who made the volumes it exports).
    """
    iscsi = [tgtadm, "--lld", "iscsi"]

    def owner(name: str) -> list[str]:
        return [zfs, *OWNER_QUERY, name]

    def target(tid: str) -> list[list[str]]:
        (found,) = [e for e in live.exports if e.tid == int(tid)]
        made = sorted({path.removeprefix("/dev/zvol/") for path in found.backing})
        return [[tgtadm, *SHOW_QUERY], *(owner(name) for name in made)]

    if command[0] == "zfs":
        asked = {
            "set": [owner(command[-1]), [zfs, *VOLSIZE_QUERY, command[-1]]],
            "snapshot": [owner(command[-1].partition("@")[0])],
            "promote": [owner(command[-1])],
            "destroy": [owner(command[-1])],
        }.get(command[1], [])
        return [*asked, [zfs, *command[1:]]]
    if command[0] == "tgtadm":
        asked = target(command[8]) if command[6] in ("bind", "unbind") else []
        return [*asked, [tgtadm, *command[1:]]]
    if command[0] == "specengine-export":
        _, dataset, tid, iqn, acl = command
        lun = ["--lun", "1", "--backing-store", f"/dev/zvol/{dataset}"]
        calls = [
            owner(dataset),
            [*iscsi, "--mode", "target", "--op", "new", "--tid", tid, "--targetname", iqn],
            [*iscsi, "--mode", "logicalunit", "--op", "new", "--tid", tid, *lun],
        ]
        for entry in acl.split(","):
            option = "--initiator-name" if entry.startswith("iqn.") else "--initiator-address"
            calls.append([*iscsi, "--mode", "target", "--op", "bind", "--tid", tid, option, entry])
        return calls
    if command[0] == "specengine-unexport":
        # Who made the volume, then that the target exports it and nothing else.
        return [
            owner(command[1]),
            [tgtadm, *SHOW_QUERY],
            [*iscsi, "--mode", "target", "--op", "delete", "--tid", command[2]],
        ]
    assert command[0] == "specengine-tgt-save", command
    return [owner(command[1])]


def test_every_planned_command_passes_the_restricted_wrapper(
    tmp_path: Path, zvols: FakeZvols
) -> None:
    # The pool lives under a /dev/zvol folder of the test's own, where the
    # devices the exports wait for can be made (udev makes them on a host).
    base = zvols.base
    recorders = install_recorders(tmp_path / "tools")
    conf_dir = tmp_path / "conf.d"
    conf_dir.mkdir()
    scope = key_scope(base, NAME, IQN)
    wrapper = install_wrapper(tmp_path / "wrapper", scope, recorders, conf_dir, tmp_path / "lock")
    spec = _spec(
        base,
        prune=True,
        zfs={"base": base, "thin": True},
        volumes=[
            {
                "name": "vol-db",
                "size": "20G",
                "snapshots": ["nightly", "old", "weekly"],
                "initiators": ["10.0.2.2"],
            },
            {"name": "vol-test", "clone_of": "vol-db@old", "size": "25G", "export": False},
            {"name": "vol-new", "size": "1G"},
            {
                "name": "vol-copy",
                "clone_of": "vol-db@weekly",
                "promote": True,
                "initiators": ["iqn.1993-08.org.debian:01:abc", "10.0.2.2"],
            },
        ],
    )
    live = parse_zfs_list(_zfs_list(base), base)
    live.exports = parse_tgtadm(_tgtadm_show(base))
    # What the wrapper asks the host, the stand-ins answer from the same state
    # (and the volumes the plan makes are this spec's from their creation).
    made = ["vol-db", "vol-db@nightly", "vol-db@old", "vol-test", "vol-gone", "vol-new", "vol-copy"]
    recorders.stand_for(
        HostState(
            owners={f"{base}/{name}": NAME for name in made},
            sizes={f"{base}/{name}": volume.size for name, volume in live.volumes.items()},
            show=_tgtadm_show(base),
        )
    )
    actions = diff(spec, live)
    changes = {a.kind for a in actions if a.changes}
    assert changes == {"grow", "snapshot", "rebind", "create", "export", "clone", "promote"} | {
        "destroy"
    }
    commands = [list_command(base), owners_command(base), show_command()]
    commands += [c for action in actions for c in action.commands]
    assert len(commands) >= 12
    # zfs create and clone make the devices on a host.
    for name in ("vol-new", "vol-copy"):
        zvols.device(f"{base}/{name}")
    for command in commands:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SSH_ORIGINAL_COMMAND": shlex.join(command),
        }
        done = subprocess.run(
            [str(wrapper), *scope.arguments()],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr)
    expected = [
        call
        for command in commands
        for call in _expected_calls(command, live, str(recorders.zfs), str(recorders.tgtadm))
    ]
    assert [call["argv"] for call in recorders.calls()] == expected
    # Each export left its tgt file; the destroyed volume's went with its target.
    stem = "specengine+" + base.replace("/", "+")
    assert sorted(os.listdir(conf_dir)) == [
        f"{stem}+vol-copy.conf",
        f"{stem}+vol-db.conf",
        f"{stem}+vol-new.conf",
    ]
    assert (conf_dir / f"{stem}+vol-db.conf").read_text(encoding="utf-8") == (
        f"# Written by specengine for {base}/vol-db: engine run rewrites it.\n"
        f"<target {IQN}vol-db>\n"
        f"    backing-store /dev/zvol/{base}/vol-db\n"
        "    initiator-address 10.0.2.2\n"
        "</target>\n"
    )
