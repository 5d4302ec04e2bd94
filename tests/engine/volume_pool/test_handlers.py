"""engine/volume_pool/handlers.py: the handlers of a pool's steps (and the recorded host the
other tests of the kind share).

The read and confirm handlers are checked on a session that answers
the three reads (``zfs list``, ``zfs get`` of who made what, ``tgtadm
show``) with recorded output; the apply handler for real: the playbook through
ansible-runner, over OpenSSH, to a real sshd (tests/sshd.py) whose key forces
the real wrapper with recording tools.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.errors import DataError
from engine.hosts.ssh import Completed, Session
from engine.hosts.wrapper import (
    authorized_keys_line,
)
from engine.volume_pool.diff import (
    Action,
    diff,
    key_scope,
    list_command,
    owners_command,
    parse_owners,
    parse_tgtadm,
    parse_zfs_list,
    show_command,
)
from engine.volume_pool.handlers import handle_apply, handle_confirm, handle_lock, handle_read
from engine.volume_pool.report import summary_text
from engine.volume_pool.state import PoolState
from engine.volume_pool.steps import Apply, Confirm, Lock, ReadLive, steps
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

BASE = "tank/openstack/volume"
NAME = "lab"
G = 1 << 30
IQN = "iqn.2010-10.org.openstack:"


def _row(name: str, kind: str, volsize: object, owner: str = NAME) -> str:
    return "\t".join(str(v) for v in (name, kind, volsize, G, 40 * G, "-", owner))


LISTING = "\n".join(
    [
        _row(BASE, "filesystem", "-", owner="-"),
        _row(f"{BASE}/vol-db", "volume", 20 * G),
        _row(f"{BASE}/vol-db@old", "snapshot", 20 * G),
        _row(f"{BASE}/vol-gone", "volume", 5 * G),
        _row(f"{BASE}/vol-theirs", "volume", 5 * G, owner="-"),
    ]
)


def _owners(listing: str) -> str:
    """What ``zfs get -s local`` prints for ``listing``: its owned volumes and snapshots."""
    rows = (row.split("\t") for row in listing.splitlines() if row)
    return "".join(f"{r[0]}\t{r[-1]}\n" for r in rows if r[1] != "filesystem" and r[-1] != "-")


OWNERS = _owners(LISTING)
READS = ReadLive((list_command(BASE), owners_command(BASE), show_command()))
SHOW = f"""Target 1: {IQN}vol-db
    I_T nexus information:
        I_T nexus: 1
    LUN information:
        LUN: 1
            Backing store path: /dev/zvol/{BASE}/vol-db
    ACL information:
        ALL
Target 2: {IQN}vol-gone
    LUN information:
        LUN: 1
            Backing store path: /dev/zvol/{BASE}/vol-gone
    ACL information:
        ALL
"""


def _spec(*, context: dict[str, Any] | None = None, **changes: Any) -> VolumePoolSpec:
    data: dict[str, Any] = {
        "kind": "volume-pool",
        "name": NAME,
        "host": {"address": "192.0.2.9", "port": 2222, "key": "/k", "known_hosts": "/kh"},
        "zfs": {"base": BASE},
        "iscsi": {"portal": "192.0.2.9:3260", "initiators": ["ALL"]},
        "volumes": [
            {"name": "vol-db", "size": "30G", "snapshots": ["old", "new"]},
            {"name": "vol-new", "size": "1G"},
        ],
        "prune": True,
    }
    data.update(changes)
    return VolumePoolSpec.model_validate(data, context=context or {"check_files": False})


def _state(spec: VolumePoolSpec | None = None) -> PoolState:
    state = PoolState(spec=spec or _spec(), spec_file="specs/pool.yaml")
    state.live = parse_zfs_list(LISTING, BASE, parse_owners(OWNERS))
    state.live.exports = parse_tgtadm(SHOW)
    state.actions = diff(state.spec, state.live)
    return state


# -- the handlers, on recorded output ------------------------------------------------


class Recorded(Session):
    """A session that answers the three reads with recorded output, and counts them.

    ``tgtadm_rc`` makes ``tgtadm show`` fail (tgtd not running) with ``show`` on stderr.
    """

    def __init__(
        self, listing: str, show: str = SHOW, owners: str | None = None, tgtadm_rc: int = 0
    ) -> None:
        super().__init__("192.0.2.9", 2222, "root", Path("/k"), Path("/kh"))
        self.answers = {
            ("zfs", "list"): listing,
            ("zfs", "get"): _owners(listing) if owners is None else owners,
            ("tgtadm", "--lld"): show,
        }
        self.tgtadm_rc = tgtadm_rc
        self.asked: list[tuple[str, ...]] = []
        self.checked: list[bool] = []

    def run(self, argv: Sequence[str], *, check: bool = True, timeout_s: float = 300) -> Completed:
        self.asked.append(tuple(argv))
        self.checked.append(check)
        answer = self.answers[argv[0], argv[1]]
        if argv[0] == "tgtadm" and self.tgtadm_rc:
            assert not check, "a failing tgtadm show would raise before its message"
            return Completed(tuple(argv), self.tgtadm_rc, "", answer)
        return Completed(tuple(argv), 0, answer, "")


def _reading(listing: str, spec: VolumePoolSpec | None = None, **answers: Any) -> PoolState:
    state = PoolState(spec=spec or _spec(), spec_file="specs/pool.yaml")
    state.session = Recorded(listing, **answers)
    return state


def test_handle_read_reads_the_three_and_plans() -> None:
    state = _reading(LISTING)
    handle_read(READS, state)
    assert isinstance(state.session, Recorded)
    # In that order; only tgtadm show is allowed to fail (its failure is explained).
    assert state.session.asked == [list_command(BASE), owners_command(BASE), show_command()]
    assert state.session.checked == [True, True, False]
    assert state.live is not None and state.live.available == 40 * G
    assert state.live.volumes["vol-theirs"].owner is None
    assert [a.kind for a in state.changes] == ["grow", "snapshot", "create", "export", "destroy"]
    assert "read" in state.timings


def test_handle_read_takes_who_made_what_from_zfs_get() -> None:
    # The listing's column says lab everywhere (inherited from the base, say);
    # zfs get -s local says vol-gone was made by hand.
    inherited = "\n".join(row.rpartition("\t")[0] + f"\t{NAME}" for row in LISTING.splitlines())
    assert parse_zfs_list(inherited, BASE).volumes["vol-gone"].owner == NAME
    owners = "".join(line + "\n" for line in OWNERS.splitlines() if "vol-gone" not in line)
    state = _reading(inherited, owners=owners)
    handle_read(READS, state)
    assert state.live is not None
    assert state.live.volumes["vol-gone"].owner is None
    assert state.live.volumes["vol-theirs"].owner is None
    refused = [(a.kind, a.target, a.reason) for a in state.actions if a.kind == "refuse"]
    assert refused == [
        ("refuse", "vol-gone", "not destroyed: not made by this spec"),
        ("refuse", "vol-theirs", "not destroyed: not made by this spec"),
    ]


def test_handle_read_errors_name_where_they_come_from() -> None:
    # The base is not listed: the host was never set up.
    state = _reading("")
    with pytest.raises(DataError) as raised:
        handle_read(READS, state)
    assert str(raised.value) == (
        f"root@192.0.2.9:2222: dataset {BASE} does not exist:"
        " `engine setup specs/pool.yaml` makes it"
    )
    # Output the engine cannot read: the host's fault, named by the host.
    state = _reading("a\tb")
    with pytest.raises(DataError, match=r"^root@192.0.2.9:2222: zfs list line 1: expected 7"):
        handle_read(READS, state)
    state = _reading(LISTING, owners=f"{BASE}/vol-db lab\n")
    with pytest.raises(
        DataError, match=r"^root@192.0.2.9:2222: zfs get line 1: expected NAME<TAB>VALUE"
    ):
        handle_read(READS, state)
    # A spec the host cannot reach: the spec's fault, named by the spec file.
    state = _reading(LISTING, _spec(volumes=[{"name": "vol-db", "size": "1G"}]))
    with pytest.raises(DataError, match=r"^specs/pool.yaml: volume vol-db: 1G would shrink it"):
        handle_read(READS, state)


def test_a_tgtd_that_does_not_answer_stops_the_read() -> None:
    state = _reading(
        LISTING, show="tgtadm: can't send the request to the tgt daemon\n", tgtadm_rc=107
    )
    with pytest.raises(DataError) as raised:
        handle_read(READS, state)
    assert str(raised.value) == (
        "root@192.0.2.9:2222: tgtd does not answer (tgtadm: can't send the request to the"
        " tgt daemon); start it on the storage host (systemctl start tgt): nothing was changed"
    )
    assert state.actions == [] and state.live is None


def test_a_plan_neither_locks_nor_applies_nor_confirms() -> None:
    state = _state()
    state.dry_run = True
    handle_lock(Lock(BASE), state)  # no session needed: nothing is asked
    handle_apply(Apply("volume-pool.yml", {}, ""), state)
    handle_confirm(Confirm(), state)
    assert state.applied == [] and state.pending == []


def test_confirm_names_what_is_still_pending() -> None:
    state = _reading(LISTING)
    state.actions = diff(state.spec, parse_zfs_list(LISTING, BASE, parse_owners(OWNERS)))
    with pytest.raises(DataError) as raised:
        handle_confirm(Confirm(), state)
    assert str(raised.value).startswith(
        "specs/pool.yaml: applied, but still pending: grow vol-db; snapshot vol-db@new;"
    )
    assert [a.kind for a in state.pending][:2] == ["grow", "snapshot"]
    assert state.follow_up == []
    assert isinstance(state.session, Recorded)
    assert state.session.asked == [list_command(BASE), owners_command(BASE), show_command()]


# vol-clone, a clone of vol-db@old, on the host; the spec lists neither the clone nor old.
_CLONED = "\n".join(
    [
        _row(BASE, "filesystem", "-", owner="-"),
        _row(f"{BASE}/vol-db", "volume", 20 * G),
        _row(f"{BASE}/vol-db@old", "snapshot", 20 * G),
        "\t".join(
            [f"{BASE}/vol-clone", "volume", str(G), str(G), str(40 * G), f"{BASE}/vol-db@old", NAME]
        ),
    ]
)
_DROPPED = "\n".join(line for line in _CLONED.splitlines() if "vol-clone" not in line)


def _follow_up_state() -> PoolState:
    spec = _spec(volumes=[{"name": "vol-db", "size": "20G", "export": False}], prune=True)
    state = _reading(_DROPPED, spec, show="")
    live = parse_zfs_list(_CLONED, BASE, parse_owners(_owners(_CLONED)))
    state.live = live
    state.actions = diff(spec, live)
    return state


def test_confirm_leaves_what_the_run_made_possible_to_the_next_run() -> None:
    state = _follow_up_state()
    # The plan: the clone goes; its snapshot cannot go while the clone is there.
    assert [(a.kind, a.target) for a in state.actions] == [
        ("destroy", "vol-clone"),
        ("refuse", "vol-db@old"),
    ]
    # Applied (the session now answers without the clone): vol-db@old could
    # go now, but this plan did not show it. Not an error: a follow-up.
    state.applied = ["destroy vol-clone"]
    handle_confirm(Confirm(), state)
    assert state.pending == []
    assert [(a.kind, a.target) for a in state.follow_up] == [("destroy", "vol-db@old")]
    assert "confirm" in state.timings
    state.round_trips = 5
    assert summary_text(state, 1.0).splitlines() == [
        "volume pool 'lab': 1 destroy",
        "  refused vol-db@old: not destroyed: a clone depends on it",
        "  now possible: destroy vol-db@old (run again)",
        "  1 command(s) applied; 5 SSH reads",
        "done in 1.0 s",
    ]


def test_confirm_fails_on_what_was_planned_and_is_still_to_do() -> None:
    state = _follow_up_state()
    # The clone is still there: its destroy is pending (and nothing more is possible).
    assert isinstance(state.session, Recorded)
    state.session.answers["zfs", "list"] = _CLONED
    state.session.answers["zfs", "get"] = _owners(_CLONED)
    with pytest.raises(
        DataError, match=r"^specs/pool.yaml: applied, but still pending: destroy vol-clone$"
    ):
        handle_confirm(Confirm(), state)
    assert state.follow_up == []


# -- apply, for real: ansible-runner, OpenSSH, sshd, the wrapper ------------------------


@dataclass(frozen=True)
class Host:
    server: Sshd
    recorders: Recorders


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    folder = tmp_path_factory.mktemp("apply")
    recorders = install_recorders(folder / "tools", fail_on={"zfs": "promote"})
    scope = key_scope(BASE, NAME, IQN)
    wrapper = install_wrapper(
        folder / "specengine-zfs-wrapper", scope, recorders, folder, folder / "lock"
    )
    # Before it destroys, promotes or snapshots, the wrapper asks who made it: this spec.
    made = [f"{BASE}/{name}" for name in ("v1", "v2", "v2@a")]
    recorders.stand_for(HostState(owners=dict.fromkeys(made, NAME)))

    def keys(public_key: str) -> str:
        return authorized_keys_line(public_key, str(wrapper), scope, ["127.0.0.1"])

    try:
        with run_sshd(folder / "sshd", keys) as server:
            yield Host(server, recorders)
    except NotInstalledError as missing:
        pytest.fail(str(missing))


def _applying(host: Host, actions: list[Action]) -> tuple[PoolState, Apply]:
    spec = _spec(
        context={"check_files": True},
        host={
            "address": "127.0.0.1",
            "port": host.server.port,
            "key": str(host.server.client_key),
            "known_hosts": str(host.server.known_hosts),
            "timeout_s": 10,
        },
    )
    state = PoolState(spec=spec, spec_file="specs/pool.yaml")
    state.actions = actions
    apply = steps(spec)[3]
    assert isinstance(apply, Apply)
    return state, apply


def _zfs(*words: str) -> tuple[str, ...]:
    return ("zfs", *words)


def _acts(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls that act: not the wrapper's questions to the host (zfs get)."""
    return [call for call in calls if call["argv"][1] != "get"]


def test_apply_runs_each_command_through_the_wrapper(host: Host) -> None:
    owner = ("-o", f"org.specengine:spec={NAME}")
    actions = [
        Action("create", "v1", (_zfs("create", "-s", "-V", "1024", *owner, f"{BASE}/v1"),)),
        Action("keep", "v0", (), "not in the spec"),
        Action("snapshot", "v1@s", (_zfs("snapshot", *owner, f"{BASE}/v1@s"),)),
        Action("destroy", "v2", (_zfs("destroy", f"{BASE}/v2@a"), _zfs("destroy", f"{BASE}/v2"))),
    ]
    state, apply = _applying(host, actions)
    before = len(host.recorders.calls())
    handle_apply(apply, state)
    assert state.applied == ["create v1", "snapshot v1@s", "destroy v2", "destroy v2"]
    calls = host.recorders.calls()[before:]
    assert [call["argv"][1:] for call in _acts(calls)] == [
        list(command[1:]) for action in actions for command in action.commands
    ]
    # Ansible's raw, with no tty asked for (restrict would refuse one anyway).
    assert not any(call["tty"] for call in calls)


def test_apply_stops_at_the_first_failed_command(host: Host) -> None:
    actions = [
        Action("promote", "v1", (_zfs("promote", f"{BASE}/v1"),)),
        Action("destroy", "v2", (_zfs("destroy", f"{BASE}/v2"),)),
    ]
    state, apply = _applying(host, actions)
    # Where it stopped is read again through the run's session.
    state.session = Recorded(LISTING)
    before = len(host.recorders.calls())
    with pytest.raises(DataError) as raised:
        handle_apply(apply, state)
    calls = host.recorders.calls()[before:]
    assert [call["argv"][1:] for call in _acts(calls)] == [["promote", f"{BASE}/v1"]]
    message = str(raised.value)
    assert message.startswith("specs/pool.yaml: volume-pool.yml: task 'Apply the plan' failed")
    assert "'promote v1' failed on storage" in message
    assert "recorder zfs: failing on purpose on promote" in message
    assert message.endswith(
        "still to do: grow vol-db; snapshot vol-db@new; create vol-new; export vol-new;"
        " destroy vol-gone"
    )


def test_apply_sends_each_line_as_it_is(host: Host) -> None:
    # A refused line fails its task with the wrapper's message: raw sent it as it is.
    state, apply = _applying(host, [Action("destroy", "v", (_zfs("destroy", "-r", "tank/x"),))])
    state.session = Recorded(LISTING)
    with pytest.raises(DataError) as raised:
        handle_apply(apply, state)
    message = str(raised.value)
    assert "specengine-wrapper: refused: not an allowed command: 'zfs destroy -r tank/x'" in message
    assert "(exit code 126)" in message
