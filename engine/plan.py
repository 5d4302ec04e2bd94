"""Plans: what a spec will do, as plain data that can be printed or executed."""

from __future__ import annotations

from typing import Any

from engine import kinds
from engine.kinds import Plan

__all__ = ["Plan", "build", "build_plan", "setup_plan"]


def build_plan(spec: Any, spec_file: str) -> Plan:
    """The plan of a validated spec (no I/O): its kind's steps."""
    kind = kinds.get(spec.kind)
    return Plan(spec.kind, spec.name, spec_file, tuple(kind.steps(spec)))


#: The former name of :func:`build_plan`.
build = build_plan


def setup_plan(spec: Any, spec_file: str) -> Plan | None:
    """The plan that prepares the hosts of a spec (``engine setup``), or None: nothing to prepare."""
    kind = kinds.get(spec.kind)
    if not kind.has_setup:
        return None
    return Plan(spec.kind, spec.name, spec_file, tuple(kind.setup_steps(spec)))
