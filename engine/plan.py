"""Plans: what a spec will do, as plain data that can be printed or executed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine import image, pool
from engine.alignment import pipeline
from schemas.alignment import AlignmentSpec
from schemas.image import ImageSpec
from schemas.volume_pool import VolumePoolSpec

__all__ = ["Plan", "build"]


@dataclass(frozen=True)
class Plan:
    """The steps of one spec, in order."""

    kind: str
    name: str
    spec_file: str
    steps: tuple[Any, ...]


def build(spec: Any, spec_file: str) -> Plan:
    """The plan of a validated spec (no I/O)."""
    if isinstance(spec, AlignmentSpec):
        return Plan(spec.kind, spec.name, spec_file, tuple(pipeline.steps(spec)))
    if isinstance(spec, ImageSpec):
        return Plan(spec.kind, spec.name, spec_file, tuple(image.steps(spec)))
    if isinstance(spec, VolumePoolSpec):
        return Plan(spec.kind, spec.name, spec_file, tuple(pool.steps(spec)))
    raise TypeError(f"no planner for {type(spec).__name__}")
