"""The state of an image run: what its steps found and made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.environment import Environment
from renderers import OutputTransaction
from schemas.image import ImageSpec

__all__ = ["ImageState"]


@dataclass
class ImageState:
    """What the steps found and made."""

    spec: ImageSpec
    spec_file: str
    progress: bool = False
    force: bool = False
    dry_run: bool = False
    cached: bool = False
    cache: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    uploaded: dict[str, str] = field(default_factory=dict)
    reused: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    #: The run's output transaction (set by execute; committed after the last step).
    transaction: OutputTransaction | None = None
    #: The environment variables the spec's Glance token is read from (engine.environment).
    environment: Environment = field(default_factory=Environment.of_process, repr=False)
