"""The state of a volume-pool run: what its steps found and did."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.volume_pool.diff import Action, Live
from schemas.volume_pool import VolumePoolSpec

if TYPE_CHECKING:  # paramiko is imported when a session is opened, not before
    from engine.hosts.ssh import Session
    from renderers import OutputTransaction

__all__ = ["PoolState"]


@dataclass
class PoolState:
    """What the steps found and did."""

    spec: VolumePoolSpec
    spec_file: str
    progress: bool = False
    dry_run: bool = False
    session: Session | None = None
    resources: ExitStack = field(default_factory=ExitStack)
    live: Live | None = None
    actions: list[Action] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    pending: list[Action] = field(default_factory=list)
    follow_up: list[Action] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    round_trips: int = 0
    #: The tasks ``engine setup`` changed on the host.
    prepared: list[str] = field(default_factory=list)
    #: The run's output transaction (set by the executor; a pool writes no files).
    transaction: OutputTransaction | None = None

    @property
    def changes(self) -> list[Action]:
        """The actions that change the host."""
        return [a for a in self.actions if a.changes]
