"""engine/volume_pool/report.py: the plan and the summary, on a state built from recorded output."""

from __future__ import annotations

from engine.volume_pool.report import plan_text, summary_text
from engine.volume_pool.state import PoolState
from tests.engine.volume_pool.test_handlers import BASE, IQN, NAME, G, _spec, _state


def test_plan_text_shows_each_action_and_its_commands() -> None:
    state = _state()
    owner = f"-o org.specengine:spec={NAME}"
    assert plan_text(state) == "\n".join(
        [
            "plan for volume pool 'lab' (specs/pool.yaml)",
            f"host root@192.0.2.9:2222, base {BASE}: 3 volume(s), 2 iSCSI target(s),"
            " 40.0 GiB available",
            f"  + grow vol-db: {20 * G:,} -> {30 * G:,} bytes",
            f"      zfs set volsize={30 * G} {BASE}/vol-db",
            "  + snapshot vol-db@new",
            f"      zfs snapshot {owner} {BASE}/vol-db@new",
            "  = note vol-db: 1 iSCSI session(s): initiators see the new size after the next"
            " re-export or tgtd restart",
            "  + create vol-new",
            f"      zfs create -V {G} {owner} {BASE}/vol-new",
            "  + export vol-new",
            f"      specengine-export {BASE}/vol-new 3 {IQN}vol-new ALL",
            "  - destroy vol-gone",
            f"      specengine-unexport {BASE}/vol-gone 2",
            f"      zfs destroy {BASE}/vol-gone",
            "  ! refuse vol-theirs: not destroyed: not made by this spec",
        ]
    )


def test_plan_text_without_changes() -> None:
    spec = _spec(
        volumes=[{"name": "vol-db", "size": "20G", "snapshots": ["old"]}],
        prune=False,
    )
    state = _state(spec)
    text = plan_text(state)
    assert text.splitlines()[2:] == [
        "no changes: the host matches the spec",
        "  = keep vol-gone: not in the spec; kept (prune: false)",
        "  = keep vol-theirs: not in the spec; kept (prune: false)",
    ]
    # Before anything was read (a plan that failed to connect).
    empty = PoolState(spec=spec, spec_file="specs/pool.yaml")
    assert plan_text(empty).splitlines() == [
        "plan for volume pool 'lab' (specs/pool.yaml)",
        f"host root@192.0.2.9:2222, base {BASE}: 0 volume(s), 0 iSCSI target(s)",
        "no changes: the host matches the spec",
    ]


def test_summary_text_counts_changes_and_names_refusals() -> None:
    state = _state()
    state.applied = ["grow vol-db", "snapshot vol-db@new", "create vol-new", "export vol-new"]
    state.round_trips = 4
    assert summary_text(state, 2.345) == "\n".join(
        [
            "volume pool 'lab': 1 grow, 1 snapshot, 1 create, 1 export, 1 destroy",
            "  refused vol-theirs: not destroyed: not made by this spec",
            "  4 command(s) applied; 4 SSH reads",
            "done in 2.3 s",
        ]
    )
    quiet = _state(
        _spec(volumes=[{"name": "vol-db", "size": "20G", "snapshots": ["old"]}], prune=False)
    )
    assert summary_text(quiet, 0.04).splitlines()[0] == "volume pool 'lab': no changes"
