"""Volume pools, the pure part: live state from recorded zfs/tgtadm output, and the diff.

Every command a plan issues is also run through the real restricted wrapper
(with recording stand-ins for zfs and tgtadm): the diff speaks exactly the
wrapper's language.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.hosts.wrapper import wrapper_script
from engine.volume_pool import Action, PoolError, diff, parse_tgtadm, parse_zfs_list
from schemas.volume_pool import VolumePoolSpec
from tests.sshd import install_recorders

BASE = "tank/openstack/volume"
G = 1 << 30

ZFS_LIST = "\n".join(
    [
        f"{BASE}/vol-db\t{20 * G}\t{3 * G}\t-\tvolume",
        f"{BASE}/vol-db@nightly\t-\t{G}\t-\tsnapshot",
        f"{BASE}/vol-db@old\t-\t{G}\t-\tsnapshot",
        f"{BASE}/vol-test\t{20 * G}\t{G}\t{BASE}/vol-db@old\tvolume",
        f"{BASE}/vol-gone\t{5 * G}\t{G}\t-\tvolume",
        "tank/other/vol\t1024\t1024\t-\tvolume",
    ]
)
TGTADM = """Target 1: iqn.2010-10.org.openstack:vol-db
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 1
            Initiator: iqn.1993-08.org.debian:01:abc alias: client
            Connection: 0
                IP Address: 10.0.2.2
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
        LUN: 1
            Type: disk
            Backing store path: /dev/zvol/tank/openstack/volume/vol-db
    Account information:
    ACL information:
        ALL
Target 2: iqn.2010-10.org.openstack:vol-gone
    System information:
        Driver: iscsi
    LUN information:
        LUN: 1
            Type: disk
            Backing store path: /dev/zvol/tank/openstack/volume/vol-gone
    ACL information:
        10.0.2.2
"""


def _spec(**changes: Any) -> VolumePoolSpec:
    data: dict[str, Any] = {
        "name": "zol-san",
        "host": {"address": "127.0.0.1", "key": "/k", "known_hosts": "/kh"},
        "zfs": {"base": BASE},
        "iscsi": {"portal": "127.0.0.1:3260", "initiators": ["ALL"]},
        "volumes": [
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ],
    }
    data.update(changes)
    return VolumePoolSpec.model_validate(data)


def _live() -> Any:
    live = parse_zfs_list(ZFS_LIST, BASE)
    live.exports = parse_tgtadm(TGTADM)
    return live


def _kinds(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.kind, a.target) for a in actions]


def test_zfs_list_is_read_under_the_base_only() -> None:
    live = parse_zfs_list(ZFS_LIST, BASE)
    assert sorted(live.volumes) == ["vol-db", "vol-gone", "vol-test"]
    assert live.volumes["vol-db"].snapshots == {"nightly", "old"}
    assert live.volumes["vol-test"].origin == "vol-db@old"
    assert live.volumes["vol-db"].size == 20 * G
    with pytest.raises(PoolError, match="5 tab-separated fields"):
        parse_zfs_list("only two\tfields", BASE)
    with pytest.raises(PoolError, match="zfs list -p"):
        parse_zfs_list(f"{BASE}/v\t20G\t1G\t-\tvolume", BASE)


def test_tgtadm_show_gives_targets_luns_sessions_and_acls() -> None:
    first, second = parse_tgtadm(TGTADM)
    assert (first.tid, first.iqn, first.sessions) == (1, "iqn.2010-10.org.openstack:vol-db", 1)
    assert first.backing == ("/dev/zvol/tank/openstack/volume/vol-db",)
    assert first.acls == ("ALL",)
    assert (second.tid, second.sessions, second.acls) == (2, 0, ("10.0.2.2",))


def test_no_change_gives_no_action_and_unlisted_volumes_are_kept() -> None:
    actions = diff(_spec(), _live())
    assert _kinds(actions) == [("keep", "vol-gone")]
    assert not any(a.commands for a in actions)


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
        ("create", "vol-new"),
        ("export", "vol-new"),
        ("clone", "vol-copy"),
        ("promote", "vol-copy"),
        ("export", "vol-copy"),
        ("keep", "vol-gone"),
    ]
    grow = actions[0].commands[0]
    assert grow == ("zfs", "set", f"volsize={30 * G}", f"{BASE}/vol-db")
    export = actions[3].commands
    assert export[0][-4:] == ("--tid", "3", "--targetname", "iqn.2010-10.org.openstack:vol-new")
    assert export[2][-2:] == ("--initiator-address", "ALL")
    assert actions[6].commands[2][-2:] == ("--initiator-name", "iqn.1993-08.org.debian:01:abc")


def test_thin_volumes_are_sparse() -> None:
    spec = _spec(
        zfs={"base": BASE, "thin": True}, volumes=[{"name": "v", "size": "1G", "export": False}]
    )
    (create, *_) = diff(spec, _live())
    assert create.commands == (("zfs", "create", "-s", "-V", str(G), f"{BASE}/v"),)


def test_a_size_that_would_shrink_is_an_error() -> None:
    spec = _spec(volumes=[{"name": "vol-db", "size": "10G", "snapshots": ["nightly", "old"]}])
    with pytest.raises(PoolError, match="would shrink it"):
        diff(spec, _live())


def test_a_clone_of_a_missing_snapshot_is_an_error() -> None:
    spec = _spec(volumes=[{"name": "vol-x", "clone_of": "vol-gone@never"}])
    with pytest.raises(PoolError, match="does not exist"):
        diff(spec, _live())


def test_prune_destroys_only_what_has_no_dependents_or_sessions() -> None:
    # vol-db dropped from the spec: it has a clone (vol-test) and a session: refused.
    spec = _spec(
        prune=True, volumes=[{"name": "vol-test", "clone_of": "vol-db@old", "export": False}]
    )
    actions = diff(spec, _live())
    assert ("refuse", "vol-db") in _kinds(actions)
    refusal = next(a for a in actions if a.target == "vol-db")
    assert "clone vol-test depends on it" in refusal.reason
    gone = next(a for a in actions if a.target == "vol-gone")
    assert gone.kind == "destroy"
    assert gone.commands == (
        ("tgtadm", "--lld", "iscsi", "--mode", "target", "--op", "delete", "--tid", "2"),
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
    assert ("destroy", "vol-db@nightly") in _kinds(diff(spec, _live()))
    spec = _spec(prune=True, volumes=[{"name": "vol-db", "size": "20G"}])
    kinds = _kinds(diff(spec, _live()))
    assert ("refuse", "vol-db@old") in kinds and ("destroy", "vol-test") in kinds


def test_unexporting_a_volume_in_use_is_refused() -> None:
    spec = _spec(
        volumes=[
            {"name": "vol-db", "size": "20G", "snapshots": ["nightly", "old"], "export": False},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
        ]
    )
    refusal = next(a for a in diff(spec, _live()) if a.target == "vol-db")
    assert refusal.kind == "refuse" and "1 active iSCSI session" in refusal.reason


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
    ],
)
def test_bad_pools_are_refused(volumes: list[dict[str, Any]], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        _spec(volumes=volumes)


def test_every_planned_command_passes_the_restricted_wrapper(tmp_path: Path) -> None:
    recorders = install_recorders(tmp_path / "tools")
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(wrapper_script(BASE, zfs=str(recorders.zfs), tgtadm=str(recorders.tgtadm)))
    wrapper.chmod(0o755)
    spec = _spec(
        prune=True,
        zfs={"base": BASE, "thin": True},
        volumes=[
            {"name": "vol-db", "size": "30G", "snapshots": ["nightly", "old", "weekly"]},
            {"name": "vol-test", "clone_of": "vol-db@old", "export": False},
            {"name": "vol-new", "size": "1G"},
            {
                "name": "vol-copy",
                "clone_of": "vol-db@weekly",
                "promote": True,
                "initiators": ["iqn.1993-08.org.debian:01:abc", "10.0.2.2"],
            },
        ],
    )
    commands = [c for action in diff(spec, _live()) for c in action.commands]
    assert len(commands) >= 10
    for command in commands:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SSH_ORIGINAL_COMMAND": shlex.join(command),
        }
        done = subprocess.run(
            [str(wrapper), "--base", BASE], env=env, capture_output=True, timeout=10, check=False
        )
        assert done.returncode == 0, (command, done.stderr)
    assert [call["argv"][1:] for call in recorders.calls()] == [list(c[1:]) for c in commands]
