"""The texts of a volume pool: its plan (the difference with the host), and a run's summary."""

from __future__ import annotations

import shlex

from engine.volume_pool.diff import Action
from engine.volume_pool.state import PoolState

__all__ = ["plan_summary", "plan_text", "summary_text"]


def plan_text(state: PoolState) -> str:
    """The difference between the spec and the host, action by action."""
    spec = state.spec
    live = state.live
    volumes = len(live.volumes) if live is not None else 0
    exports = len(live.exports) if live is not None else 0
    lines = [
        f"plan for volume pool '{spec.name}' ({state.spec_file})",
        f"host {spec.host.user}@{spec.host.address}:{spec.host.port}, base {spec.zfs.base}:"
        f" {volumes} volume(s), {exports} iSCSI target(s)",
    ]
    if live is not None and live.available is not None:
        lines[-1] += f", {live.available / (1 << 30):,.1f} GiB available"
    if not state.changes:
        lines.append("no changes: the host matches the spec")
    for action in state.actions:
        mark = "+" if action.changes else "="
        if action.kind in ("destroy", "unexport"):
            mark = "-"
        if action.kind == "refuse":
            mark = "!"
        text = f"  {mark} {action.kind} {action.target}"
        if action.reason:
            text += f": {action.reason}"
        lines.append(text)
        lines.extend(f"      {shlex.join(c)}" for c in action.commands)
    return "\n".join(lines)


def summary_text(state: PoolState, seconds: float) -> str:
    """The end-of-run summary."""
    lines = [f"volume pool '{state.spec.name}': " + plan_summary(state.actions)]
    refused = [a for a in state.actions if a.kind == "refuse"]
    lines.extend(f"  refused {a.target}: {a.reason}" for a in refused)
    lines.extend(f"  now possible: {a.kind} {a.target} (run again)" for a in state.follow_up)
    lines.append(f"  {len(state.applied)} command(s) applied; {state.round_trips} SSH reads")
    lines.append(f"done in {seconds:.1f} s")
    return "\n".join(lines)


def plan_summary(actions: list[Action]) -> str:
    """``3 create, 1 export`` or ``no changes``."""
    counts: dict[str, int] = {}
    for action in actions:
        if action.changes:
            counts[action.kind] = counts.get(action.kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no changes"
