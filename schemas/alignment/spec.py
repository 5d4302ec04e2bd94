"""The ``kind: alignment`` spec: align an *alignset* to a *targetset*.

The job (``AlignmentSpec``), its attributes, executors and the checks that
involve several fields."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.alignment.blocking import BlockingRef, ColumnRef, leaf_rules
from schemas.alignment.metrics import MetricRef
from schemas.alignment.model import ModelSpec, derive_threshold, model_checks
from schemas.alignment.normalisers import Normalise, SideNormalise
from schemas.alignment.outputs import (
    ClustersOutput,
    DiffOutput,
    Output,
    Publish,
    RdfOutput,
    output_path,
)
from schemas.alignment.review import ReviewBand, review_checks
from schemas.alignment.sources import Sources
from schemas.base import (
    InputPath,
    Ref,
    StrictModel,
    named_union,
)
from schemas.units import Wait

# --------------------------------------------------------------------------- attributes


class Attribute(StrictModel):
    """One compared attribute: its columns, normalisation, metric and weight."""

    name: str = Field(min_length=1)
    align: ColumnRef | list[ColumnRef] | None = Field(
        None, description="align-side column(s); default: the attribute's name"
    )
    target: ColumnRef | list[ColumnRef] | None = Field(
        None, description="target-side column(s); default: same as align"
    )
    normalise: Normalise = Field(
        default_factory=list,
        validation_alias=AliasChoices("normalise", "normalize"),
        description="normalisers for both sides, or {align: [...], target: [...]}",
    )
    metric: MetricRef
    weight: float = Field(1.0, ge=0, le=1e6)
    missing: float | Literal["max", "ignore"] = Field(
        "max",
        description=(
            "distance when either value is missing: 'max' (1 for bounded metrics,"
            " never linked for raw ones), 'ignore' (contributes 0), or a number"
        ),
    )

    @field_validator("missing")
    @classmethod
    def _non_negative(cls, value: float | str) -> float | str:
        if isinstance(value, float) and value < 0:
            raise PydanticCustomError("missing_negative", "a missing-value distance must be >= 0")
        return value

    @property
    def align_columns(self) -> list[str | int]:
        """The align-side column references (one for scalars, several for tuples)."""
        ref = self.name if self.align is None else self.align
        return list(ref) if isinstance(ref, list) else [ref]

    @property
    def target_columns(self) -> list[str | int]:
        """The target-side column references."""
        if self.target is None:
            return self.align_columns
        return list(self.target) if isinstance(self.target, list) else [self.target]

    def chain(self, role: str) -> list[Ref]:
        """The normalisers of one side's values (``role``: ``align`` or ``target``)."""
        if isinstance(self.normalise, SideNormalise):
            return self.normalise.align if role == "align" else self.normalise.target
        return self.normalise

    @property
    def normaliser_names(self) -> list[str]:
        """The normalisers' names for reports; ``align: NAME`` and ``target: NAME`` per side."""
        if isinstance(self.normalise, SideNormalise):
            return [
                f"{role}: {ref.name}" for role in ("align", "target") for ref in self.chain(role)
            ]
        return [ref.name for ref in self.normalise]


# --------------------------------------------------------------------------- executors


class LocalExecutor(StrictModel):
    """Compare chunks of candidate pairs on this machine's cores (threads)."""

    workers: int | None = Field(None, ge=1, description="threads; default: every core")


class DaskExecutor(StrictModel):
    """Compare chunks on a dask.distributed cluster; without an address, a local cluster."""

    address: str | None = Field(None, description="scheduler, e.g. tcp://127.0.0.1:8786")
    timeout_s: Wait = Field(
        "10s",
        gt=0,
        validate_default=True,
        validation_alias="timeout",
        description="how long to wait for the scheduler",
    )
    workers: int | None = Field(None, ge=1, description="local cluster size (no address)")


EXECUTORS: dict[str, Any] = {"local": LocalExecutor, "dask": DaskExecutor}
if TYPE_CHECKING:
    ExecutorRef = Ref
else:
    ExecutorRef = named_union("executor", EXECUTORS)

# --------------------------------------------------------------------------- identity checks

Action = Literal["off", "warn", "fail"]


class IdentityChecks(StrictModel):
    """Checks of the identity graph the links make (their clusters), before anything is written.

    A ``fail`` check that finds something fails the run (exit 1, the previous
    outputs left as they were); ``warn`` reports it; ``off`` skips it.
    """

    max_cluster_size: int | None = Field(
        None, ge=2, description="clusters with more records than this are reported"
    )
    cluster_size: Literal["warn", "fail"] = Field(
        "fail", description="what a cluster over max_cluster_size does"
    )
    bridges: Action = Field(
        "warn", description="links whose removal splits a cluster into two groups"
    )
    bridge_side: int = Field(
        2, ge=1, description="a bridge counts when each group left has at least this many records"
    )
    same_source: Action = Field(
        "warn",
        description="clusters joining two records of one source (an alignment: one-to-one"
        " violated); a deduplication has one source",
    )


# --------------------------------------------------------------------------- the job


class AlignmentSpec(StrictModel):
    """An alignment job: sources, attributes, blocking, threshold, matching, outputs."""

    kind: Literal["alignment"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str | None = None
    sources: Sources
    attributes: list[Attribute] = Field(min_length=1)
    blocking: BlockingRef = Field("none", validate_default=True)
    threshold: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="the global distance at or under which a pair may be linked; with a model:"
        " 1 - model.threshold; without either, `engine fit` must fit the spec first",
    )
    model: ModelSpec | None = Field(None, description="a fitted model (written by engine fit)")
    matching: Literal["all", "best", "one-to-one"] = "best"
    outputs: list[Output] = Field(default_factory=list)
    review: ReviewBand | None = Field(
        None,
        description="scores from..to go to the review outputs, not the links (match"
        " probabilities with a model, else distances)",
    )
    publish: Publish | None = None
    executor: ExecutorRef = Field("local", validate_default=True)
    checks: IdentityChecks | None = Field(
        None, description="identity-graph checks of the links' clusters (sizes, bridges, sources)"
    )
    allow_empty: bool = Field(
        False,
        description="accept a run whose blocking finds no candidate pair (empty outputs);"
        " by default such a run fails and leaves the previous outputs as they were",
    )
    curation: list[InputPath] = Field(
        default_factory=list,
        description="curated SSSOM mapping sets (a path or a list): manual-curation rows are"
        " links whatever their score, rows with predicate_modifier Not are never links",
    )

    @model_validator(mode="before")
    @classmethod
    def _model_threshold(cls, data: Any) -> Any:
        return derive_threshold(data)

    @field_validator("curation", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("attributes")
    @classmethod
    def _unique_names(cls, value: list[Attribute]) -> list[Attribute]:
        seen: set[str] = set()
        for attribute in value:
            if attribute.name in seen:
                raise PydanticCustomError(
                    "duplicate", "two attributes are named '{name}'", {"name": attribute.name}
                )
            seen.add(attribute.name)
        return value

    @property
    def fitted(self) -> bool:
        """Whether pairs can be scored: a threshold (and weights) given, or a fitted model."""
        return "threshold" in self.model_fields_set

    @property
    def dedup(self) -> bool:
        """True when the job deduplicates one source (``target: same``)."""
        return self.sources.target == "same"


#: Metrics comparing exactly two numbers per value (a point), and those comparing one string.
_POINT_METRICS = {"geographic"}
_NUMERIC_METRICS = {"geographic", "euclidean", "temporal"}


def cross_checks(
    spec: AlignmentSpec, spec_file: Path | None = None
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems that involve several fields, each with the path of the field to blame.

    The loader turns the paths into file:line:column positions.
    """
    problems: list[tuple[tuple[Any, ...], str]] = model_checks(spec)
    problems.extend(review_checks(spec))
    names = [a.name for a in spec.attributes]
    for rule in leaf_rules(spec.blocking):
        for attribute in getattr(rule.options, "attributes", []):
            if attribute not in names:
                problems.append(
                    (
                        ("blocking", ("attribute", attribute)),
                        f"blocking refers to attribute '{attribute}', which is not defined"
                        f" (attributes: {', '.join(names)})",
                    )
                )
    if spec.dedup and spec.matching == "one-to-one":
        problems.append(
            (
                ("matching",),
                "matching 'one-to-one' needs two sources; a deduplication (target: same)"
                " supports 'all' and 'best'",
            )
        )
    problems.extend(_identity_checks(spec))
    for index, output in enumerate(spec.outputs):
        if isinstance(output, DiffOutput):
            found = diff_source(spec.outputs, output, publishes=spec.publish is not None)
            if isinstance(found, str):
                key = "diff" if output.of is None else "of"
                problems.append((("outputs", index, key), found))
    for index, attribute in enumerate(spec.attributes):
        if spec.dedup and isinstance(attribute.normalise, SideNormalise):
            problems.append(
                (
                    ("attributes", index, "normalise"),
                    "normalisers per side need two sources; a deduplication (target: same)"
                    " compares one source with itself: give one list",
                )
            )
        n_align, n_target = len(attribute.align_columns), len(attribute.target_columns)
        metric = attribute.metric.name
        if metric in _POINT_METRICS and {n_align, n_target} <= {1, 2}:
            pass  # a point: two columns, or one column of WKT points, on either side
        elif n_align != n_target:
            problems.append(
                (
                    ("attributes", index, "target"),
                    f"{n_align} align column(s) but {n_target} target column(s): both sides"
                    " must give the same number",
                )
            )
        elif metric in _POINT_METRICS and n_align not in (1, 2):
            problems.append(
                (
                    ("attributes", index, "metric"),
                    f"metric '{metric}' compares points: give two columns, e.g. align: [lat, long],"
                    " or one column of WKT points",
                )
            )
        elif n_align != 1 and (metric not in _NUMERIC_METRICS or metric == "temporal"):
            problems.append(
                (
                    ("attributes", index, "metric"),
                    f"metric '{metric}' compares single values; {n_align} columns were given",
                )
            )
    inputs = {
        Path(getattr(source, key))
        for source in (spec.sources.align, spec.sources.target)
        for key in ("csv", "tsv")
        if not isinstance(source, str) and getattr(source, key, None) is not None
    }
    if spec_file is not None:
        inputs.add(Path(spec_file))
    seen: dict[Path, int] = {}
    written: list[tuple[int, Path]] = []
    for index, output in enumerate(spec.outputs):
        written.append((index, output_path(output)))
        if isinstance(output, RdfOutput) and output.void is not None:
            written.append((index, output.void))
    for index, path in written:
        if path in seen:
            other = seen[path]
            message = (
                f"output {index} writes its links and its description to the same file"
                if other == index
                else f"output {index} writes the same file as output {other}"
            )
            problems.append((("outputs", index), message))
        seen.setdefault(path, index)
        if any(path == p or _same_file(path, p) for p in inputs):
            problems.append(
                (("outputs", index), f"output {path} would overwrite an input of this job")
            )
    return problems


def diff_source(outputs: list[Any], diff: DiffOutput, *, publishes: bool) -> int | str | None:
    """The index of the RDF output a ``diff:`` output compares, None for the published
    graph, or why there is none."""
    rdf = [i for i, o in enumerate(outputs) if isinstance(o, RdfOutput)]
    if diff.of is not None:
        named = [i for i in rdf if outputs[i].rdf == diff.of or _same_file(outputs[i].rdf, diff.of)]
        if named:
            return named[0]
        return f"'of: {diff.of}' names no rdf output of the spec" + (
            " (its rdf outputs: " + ", ".join(str(outputs[i].rdf) for i in rdf) + ")" if rdf else ""
        )
    if publishes:
        return None
    if len(rdf) == 1:
        return rdf[0]
    if not rdf:
        return (
            "a diff compares an rdf output's links with the previous run's, or the published"
            " graph with this run's: add an rdf output or publish:"
        )
    return "the spec has several rdf outputs: name the one compared with 'of: PATH'"


def _identity_checks(spec: AlignmentSpec) -> list[tuple[tuple[Any, ...], str]]:
    """What a deduplication cannot ask of its clusters: one source has no 'same source' check."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    for index, output in enumerate(spec.outputs):
        if not isinstance(output, ClustersOutput):
            continue
        for k, path in enumerate(output.links):
            if any(path == o or _same_file(path, o) for o in map(output_path, spec.outputs)):
                problems.append(
                    (
                        ("outputs", index, "links", k),
                        f"{path} is an output of this spec: name other specs' links",
                    )
                )
        if not spec.fitted:
            continue
        limits: list[tuple[tuple[Any, ...], float | None]] = [(("threshold",), output.threshold)]
        limits += [(("thresholds", k), value) for k, value in enumerate(output.thresholds)]
        for where, limit in limits:
            if limit is not None and limit > spec.threshold:
                problems.append(
                    (
                        ("outputs", index, *where),
                        f"the clusters' threshold ({limit:g}) is above the spec's"
                        f" ({spec.threshold:g}): clusters are made of the links",
                    )
                )
    if not spec.dedup:
        return problems
    checks = spec.checks
    if checks is not None and "same_source" in checks.model_fields_set:
        problems.append(
            (
                ("checks", "same_source"),
                "a deduplication (target: same) has one source: every cluster joins records"
                " of it; the same_source check applies to an alignment of two sources",
            )
        )
    for index, output in enumerate(spec.outputs):
        if isinstance(output, ClustersOutput) and output.prefer is not None:
            problems.append(
                (
                    ("outputs", index, "prefer"),
                    "a deduplication (target: same) has one source: no source to prefer",
                )
            )
    return problems


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False
