"""The alignment job's plan: plain-data steps, each carrying its own configuration.

``steps(spec)`` turns a spec into steps; a step holds the part of the spec it
carries out (the source it reads, the attributes it compares, the output it
writes...), so that its handler (``engine.alignment.handlers``) needs the rest
of the spec as little as possible. The configuration fields stay out of a
step's ``repr``: the plan logged at ``-vv`` shows what each step is, briefly.
Each step describes itself in a few words (``describe``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.alignment.blocking import describe
from engine.alignment.distributed import route
from engine.alignment.fit.model import Model
from schemas.alignment import (
    AlignmentSpec,
    Attribute,
    HtmlOutput,
    RdfOutput,
    output_kind,
    output_path,
)
from schemas.alignment import Publish as PublishSpec
from schemas.alignment.outputs import ClustersOutput
from schemas.alignment.review import ReviewOutput
from schemas.alignment.spec import IdentityChecks
from schemas.base import Ref

__all__ = [
    "Block",
    "Compare",
    "Identity",
    "Match",
    "Prepare",
    "Publish",
    "ReadSource",
    "Write",
    "near_limit",
    "steps",
]


@dataclass(frozen=True)
class ReadSource:
    """Read one side's records."""

    role: str
    #: The side's source spec (csv, sparql...), or ``"same"``: the align records again.
    source: Any = field(default=None, repr=False)
    #: The distributed run (engine.alignment.distributed.session) when the dask executor
    #: runs the whole job: the step is carried out on the workers.
    session: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return f"read the {self.role} source"


@dataclass(frozen=True)
class Prepare:
    """Normalise each attribute's values and prepare them for their metric."""

    attributes: tuple[str, ...]
    #: Each attribute's columns, normalisers and metric, in spec order.
    specs: tuple[Attribute, ...] = field(default=(), repr=False)
    #: The sides to prepare: the align side only in a deduplication.
    roles: tuple[str, ...] = field(default=("align", "target"), repr=False)
    #: The distributed run (engine.alignment.distributed.session) when the dask executor
    #: runs the whole job: the step is carried out on the workers.
    session: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return "normalise " + ", ".join(self.attributes)


@dataclass(frozen=True)
class Block:
    """Build the blocking rule and count its candidate pairs."""

    description: str
    #: The blocking spec (a rule, or a group of rules).
    blocking: Ref | None = field(default=None, repr=False)
    dedup: bool = field(default=False, repr=False)
    #: No candidate pair is a warning (the outputs are empty), not an error.
    allow_empty: bool = field(default=False, repr=False)
    #: The distributed run (engine.alignment.distributed.session) when the dask executor
    #: runs the whole job: the step is carried out on the workers.
    session: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return f"blocking: {self.description}"


@dataclass(frozen=True)
class Compare:
    """Weighted global distance of every candidate pair; keep those under the threshold.

    ``keep_until`` (above the threshold when a report shows near-misses) keeps
    the pairs up to it too, apart from the candidates. Each kept pair keeps its
    distance per attribute as well: the links and the report take them from here.
    """

    threshold: float
    keep_until: float
    #: The attributes compared (metric, options, weight, missing), in spec order.
    specs: tuple[Attribute, ...] = field(default=(), repr=False)
    #: Where the chunks are compared (the spec's ``executor``).
    executor: Any = field(default=None, repr=False)
    #: The matching mode: pairs it can no longer choose are dropped on the way.
    matching: str = field(default="all", repr=False)
    dedup: bool = field(default=False, repr=False)
    #: A fitted model (engine.alignment.fit.model.Model) scores the pairs instead of
    #: the weights: their distance is 1 - their match probability.
    model: Any = field(default=None, repr=False)
    #: The distributed run (engine.alignment.distributed.session) when the dask executor
    #: runs the whole job: the step is carried out on the workers.
    session: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return "compare the candidate pairs"


@dataclass(frozen=True)
class Match:
    """Choose the links among the pairs under the threshold.

    ``golds`` are the gold links of the HTML reports: their precision/recall
    sweeps (up to ``reach``) are scored here, once, for the write steps to show.
    """

    mode: str
    threshold: float
    dedup: bool = field(default=False, repr=False)
    golds: tuple[Path, ...] = field(default=(), repr=False)
    reach: float = field(default=0.0, repr=False)
    #: The spec's curation files (engine.alignment.curation): must- and cannot-links.
    curation: tuple[Path, ...] = field(default=(), repr=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return f"match ({self.mode}, threshold {self.threshold:g})"

    #: The review band as distances (accept, reject): the pairs chosen in it are
    #: reviewed, not linked (engine.alignment.review).
    review: tuple[float, float] | None = field(default=None, repr=False)
    #: The distributed run, when the links' distances and ids are on the workers.
    session: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Identity:
    """Cluster the links (their identity graph) and run the spec's checks on it, before writing."""

    #: The spec's ``checks`` (None: the clusters only, for a clusters output).
    checks: IdentityChecks | None = field(default=None, repr=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return "cluster the links" if self.checks is None else "check the identity graph"


@dataclass(frozen=True)
class Write:
    """Write the links to one output (all outputs are committed together)."""

    output: int
    path: str
    format: str
    #: The output's spec (RdfOutput, LinksCsvOutput, SssomOutput or HtmlOutput).
    config: Any = field(default=None, repr=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return f"write {Path(self.path).name} ({self.format})"

    def files(self) -> tuple[Path, ...]:
        """Every file the step writes: the output, and an RDF output's VoID description."""
        void = getattr(self.config, "void", None)
        return (Path(self.path),) if void is None else (Path(self.path), Path(void))


@dataclass(frozen=True)
class Publish:
    """Replace the links' named graph in a triple store (before the files are committed)."""

    graph: str
    endpoint: str
    protocol: str
    #: The spec's ``publish`` block.
    config: PublishSpec | None = field(default=None, repr=False)

    def describe(self) -> str:
        """A few words for progress displays."""
        return f"publish to {self.graph}"


def near_limit(spec: AlignmentSpec) -> float:
    """Up to which global distance pairs are kept: the threshold, or the near-misses' reach.

    With a model, every candidate is kept (its distance is 1 - its match
    probability, at most 1): they are all in memory anyway, and a sweep needs
    no second comparison.
    """
    if spec.model is not None:
        return math.inf
    margins = [o.margin for o in spec.outputs if isinstance(o, HtmlOutput) and o.near_misses]
    band = 0.0 if spec.review is None else spec.review.end  # the band's pairs too
    if not margins:
        return max(spec.threshold, band)
    margin = max(margins)
    return max(spec.threshold * (1 + margin), spec.threshold + margin, band)


def steps(spec: AlignmentSpec) -> list[Any]:
    """The plan of an alignment job, as plain data."""
    attributes = tuple(spec.attributes)
    model = None if spec.model is None else Model.from_data(spec.model.model_dump())
    # With a model the weights decide nothing: every candidate's distances are
    # kept (weight 0 prunes no pair) and the model scores them after.
    compared = (
        attributes
        if model is None
        else tuple(a.model_copy(update={"weight": 0.0}) for a in attributes)
    )
    golds = tuple(
        dict.fromkeys(o.gold for o in spec.outputs if isinstance(o, HtmlOutput) and o.gold)
    )
    path = route(spec)
    session = None
    if path.distributed:
        from engine.alignment.distributed.session import Session

        session = Session(spec.executor)
    blocking = describe(spec.blocking)
    if spec.executor is not None and spec.executor.name == "dask":
        blocking += f" [{path.why}]"
    out: list[Any] = [
        ReadSource("align", spec.sources.align, session),
        ReadSource("target", spec.sources.target, session),
        Prepare(
            tuple(a.name for a in attributes),
            attributes,
            ("align",) if spec.dedup else ("align", "target"),
            session,
        ),
        Block(blocking, spec.blocking, spec.dedup, spec.allow_empty, session),
        Compare(
            spec.threshold,
            near_limit(spec),
            compared,
            spec.executor,
            spec.matching if model is None else "all",
            spec.dedup,
            model,
            session,
        ),
        Match(
            spec.matching,
            spec.threshold,
            spec.dedup,
            golds,
            1.0 if model is not None else near_limit(spec) or 1.0,
            tuple(spec.curation),
            review=None if spec.review is None else spec.review.limits(model is not None),
            session=session,
        ),
    ]
    if spec.checks is not None or any(isinstance(o, ClustersOutput) for o in spec.outputs):
        out.append(Identity(spec.checks))
    for index, output in enumerate(spec.outputs):
        kind = output_kind(output)
        fmt = output.resolved_format if isinstance(output, RdfOutput) else kind
        if isinstance(output, ReviewOutput):
            fmt = f"review {output.resolved_format}"
        out.append(Write(index, str(output_path(output)), fmt, output))
    if spec.publish is not None:
        target = spec.publish.graph_store or spec.publish.update
        protocol = "graph store" if spec.publish.graph_store else "SPARQL update"
        out.append(Publish(spec.publish.graph, str(target), protocol, spec.publish))
    return out
