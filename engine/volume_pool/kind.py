"""The volume-pool kind, as the generic engine drives it (engine.kinds)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine.kinds import Handler, Kind, Plan
from engine.volume_pool.steps import Apply, Connect, ReadLive, steps
from schemas.volume_pool import VolumePoolSpec

if TYPE_CHECKING:
    from engine.environment import Environment

__all__ = ["KIND", "VolumePoolKind"]


def _actions(state: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": a.kind,
            "target": a.target,
            "reason": a.reason,
            "commands": [list(c) for c in a.commands],
            "changes": a.changes,
        }
        for a in state.actions
    ]


class VolumePoolKind(Kind):
    """Volume pools: diff the spec with the storage host over SSH, apply, check."""

    name = "volume-pool"
    model = VolumePoolSpec
    confirm = True
    has_setup = True

    def steps(self, spec: Any) -> Sequence[Any]:
        return steps(spec)

    def new_state(
        self, plan: Plan, spec: Any, *, progress: bool, force: bool, environment: Environment
    ) -> Any:
        from engine.volume_pool.state import PoolState

        return PoolState(spec=spec, spec_file=plan.spec_file, progress=progress)

    def handlers(self) -> Mapping[type, Handler]:
        # Imported when a plan runs: the handlers bring paramiko and Ansible with them.
        from engine.volume_pool import handlers, setup
        from engine.volume_pool.steps import Confirm, Lock

        return {
            Connect: handlers.handle_connect,
            Lock: handlers.handle_lock,
            ReadLive: handlers.handle_read,
            Apply: handlers.handle_apply,
            Confirm: handlers.handle_confirm,
            setup.PrepareHost: setup.handle_prepare,
        }

    def irreversible(self, step: Any) -> bool:
        return isinstance(step, Apply)

    @contextmanager
    def running(self, state: Any) -> Iterator[None]:
        # The connection (and the pool's lock on the host) end with the run.
        try:
            with state.resources:
                yield
        finally:
            if state.session is not None:
                state.round_trips = state.session.round_trips
            state.session = None

    def plan_text(self, plan: Plan, state: Any) -> str:
        from engine.volume_pool.report import plan_text

        return plan_text(state)

    def summary_text(self, state: Any, seconds: float) -> str:
        from engine.volume_pool.report import summary_text

        return summary_text(state, seconds)

    def pending_changes(self, state: Any) -> bool:
        return bool(state.changes)

    def describe_before(self, step: Any, state: Any) -> str | None:
        if isinstance(step, Connect):
            return f"connect to {step.where}"
        return None

    def describe_after(self, step: Any, state: Any) -> str | None:
        from engine.volume_pool.report import plan_summary

        if isinstance(step, ReadLive) and state.live is not None:
            return (
                f"{len(state.live.volumes)} volume(s), {len(state.live.exports)} iSCSI target(s);"
                f" {plan_summary(state.actions)}"
            )
        if isinstance(step, Apply) and state.applied:
            return f"{len(state.applied)} command(s) applied"
        return None

    def plan_figures(self, plan: Plan, state: Any) -> dict[str, Any]:
        live = state.live
        spec = state.spec
        return {
            "host": f"{spec.host.user}@{spec.host.address}:{spec.host.port}",
            "base": spec.zfs.base,
            "volumes": None if live is None else len(live.volumes),
            "exports": None if live is None else len(live.exports),
            "available_bytes": None if live is None else live.available,
            "actions": _actions(state),
        }

    def run_figures(self, state: Any) -> dict[str, Any]:
        return {
            "actions": _actions(state),
            "applied": state.applied,
            "follow_up": [f"{a.kind} {a.target}" for a in state.follow_up],
            "ssh_reads": state.round_trips,
        }

    def setup_steps(self, spec: Any) -> Sequence[Any]:
        from engine.volume_pool.setup import setup_steps

        return setup_steps(spec)

    def setup_text(self, state: Any, seconds: float) -> str:
        from engine.volume_pool.setup import setup_text

        return setup_text(state, seconds)


KIND = VolumePoolKind()
