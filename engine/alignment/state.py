"""What an alignment run's steps produce: the state its handlers fill in.

Only ``engine.alignment.handlers`` changes a state; the other modules read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from engine.alignment.blocking import BlockingRule
from engine.alignment.records import Records
from engine.environment import Environment
from engine.errors import DataError
from renderers import LinkTable, OutputTransaction
from schemas.alignment import AlignmentSpec

if TYPE_CHECKING:
    from engine.alignment.curation import Curation
    from renderers.html import Sweep

__all__ = ["AlignmentState", "Pairs", "Side"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass
class Side:
    """One side's records and, per attribute, its normalised and prepared values."""

    records: Records
    normalised: dict[str, list[Any]] = field(default_factory=dict)
    prepared: dict[str, Any] = field(default_factory=dict)


# eq=False: numpy arrays have no truth value to compare with.
@dataclass(frozen=True, eq=False)
class Pairs:
    """Pairs of records ``(ia[k], ib[k])``: their global distance and each attribute's.

    ``distances`` maps each attribute (spec order) to its distance, NaN where a
    value is missing; computed once, by the compare step.
    """

    ia: Ints
    ib: Ints
    total: Floats
    distances: dict[str, Floats] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ia)

    def take(self, keep: Any) -> Pairs:
        """The pairs at ``keep`` (indexes or a mask), in that order."""
        return Pairs(
            self.ia[keep],
            self.ib[keep],
            self.total[keep],
            {name: d[keep] for name, d in self.distances.items()},
        )


@dataclass
class AlignmentState:
    """Everything the steps produce, and the figures of the run summary."""

    spec: AlignmentSpec
    spec_file: str
    progress: bool = False
    sides: dict[str, Side] = field(default_factory=dict)
    rule: BlockingRule | None = None
    estimated_pairs: int = 0
    compared_pairs: int = 0
    #: The pairs at or under the threshold.
    pairs: Pairs | None = None
    #: The pairs above the threshold kept for a report's near-misses.
    near: Pairs | None = None
    under_threshold: int = 0
    #: The chosen pairs of the spec's review band: written for review, not as links.
    review: Pairs | None = None
    links: LinkTable | None = None
    #: The links' records: (align index, target index) of each link, in the links' order.
    link_rows: tuple[Ints, Ints] | None = None
    #: The links' identity graph (engine.alignment.identity), when clustered.
    identity: Any = None
    #: What the identity-graph checks found (engine.alignment.identity.Finding).
    findings: list[Any] = field(default_factory=list)
    #: Gold file -> the precision/recall sweep of an HTML report (scored by the match step).
    sweeps: dict[Path, Sweep] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    transaction: OutputTransaction | None = None
    executor: str = ""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    publish_diff: Any = None
    published: int | None = None
    publish_error: tuple[str, str] | None = None
    #: A dry run's refusal to compare (a rule over its max_pairs): the plan shows it, then fails.
    refusal: DataError | None = None
    #: The spec's curation (must- and cannot-links), read by the match step.
    curation: Curation | None = None
    #: The environment variables the spec's credentials are read from (engine.environment).
    environment: Environment = field(default_factory=Environment.of_process, repr=False)

    def records(self, role: str) -> Records:
        """The records of ``align`` or ``target``."""
        return self.sides[role].records
