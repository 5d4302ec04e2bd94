"""Outputs of the ``kind: alignment`` spec (RDF, CSV, SSSOM, HTML) and its ``publish`` section."""

from __future__ import annotations

import functools
import operator
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.alignment.review import ReviewOutput
from schemas.alignment.sources import AuthSpec, HttpUrl
from schemas.base import (
    InputPath,
    OutputPath,
    StrictModel,
)
from schemas.units import Wait

# --------------------------------------------------------------------------- outputs

PREFIXES = {
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "schema": "http://schema.org/",
}
#: An absolute IRI that RDF serialisers and stores accept: a scheme, a colon, then no
#: space, control character (NUL to space, DEL), lone surrogate or any of <>"{}|\^`;
#: at most one '#' (the fragment's), and '%' only as a percent-encoded octet (Oxigraph
#: refuses a file holding ``a#b#c`` or ``100%``, and an update naming one).
IRI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.\-]*:"
    # Each '%' starts a new run: one way to match, no backtracking on long values.
    r"[^\s\x00-\x20\x7f<>\"{}|\\^`%#\ud800-\udfff]*"
    r"(?:%[0-9A-Fa-f]{2}[^\s\x00-\x20\x7f<>\"{}|\\^`%#\ud800-\udfff]*)*"
    r"(?:#[^\s\x00-\x20\x7f<>\"{}|\\^`%#\ud800-\udfff]*"
    r"(?:%[0-9A-Fa-f]{2}[^\s\x00-\x20\x7f<>\"{}|\\^`%#\ud800-\udfff]*)*)?\Z"
)
_IRI = IRI


#: Schemes accepted in a full predicate IRI; anything else before a colon is a CURIE prefix.
_SCHEMES = ("http://", "https://", "urn:", "tag:", "mailto:")


def _expand_predicate(value: str) -> str:
    prefix, _, local = value.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        expanded = PREFIXES[prefix] + local
        if local and _IRI.match(expanded):
            return expanded
        raise PydanticCustomError(
            "predicate",
            "'{value}' is not a valid CURIE (a local name without spaces)",
            {"value": value},
        )
    if value.startswith(_SCHEMES) and _IRI.match(value):
        return value
    if ":" in value and not value.startswith(_SCHEMES):
        raise PydanticCustomError(
            "predicate",
            "unknown prefix '{prefix}' in '{value}' (known: {known}); write the full IRI instead",
            {"prefix": prefix, "value": value, "known": ", ".join(sorted(PREFIXES))},
        )
    raise PydanticCustomError(
        "predicate",
        "'{value}' is neither an IRI nor a CURIE with a known prefix ({known})",
        {"value": value, "known": ", ".join(sorted(PREFIXES))},
    )


_RDF_SUFFIXES = {
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "ntriples",
    ".ntriples": "ntriples",
    ".nq": "nquads",
    ".nquads": "nquads",
}


class RdfOutput(StrictModel):
    """Links as RDF triples; format from the extension (.ttl, .nt) unless given."""

    rdf: OutputPath
    format: Literal["turtle", "ntriples", "nquads"] | None = None
    graph: str | None = Field(
        None,
        description="N-Quads: the named graph of the links (default urn:specengine:NAME:linkset:N)",
    )
    predicate: Annotated[str, AfterValidator(_expand_predicate)] = Field(
        "owl:sameAs", validate_default=True
    )
    void: OutputPath | None = Field(
        None, description="also write the linkset's VoID + PROV-O description (Turtle) here"
    )

    @field_validator("graph")
    @classmethod
    def _graph_iri(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith(_SCHEMES) and _IRI.match(value)):
            raise PydanticCustomError("graph", "'{value}' is not an absolute IRI", {"value": value})
        return value

    @model_validator(mode="after")
    def _known_format(self) -> RdfOutput:
        if self.format is None and self.rdf.suffix.lower() not in _RDF_SUFFIXES:
            raise PydanticCustomError(
                "rdf_format",
                "cannot tell the RDF format of '{name}': name it .ttl, .nt or .nq, or set"
                " format: turtle|ntriples|nquads",
                {"name": self.rdf.name},
            )
        return self

    @property
    def resolved_format(self) -> str:
        """The serialisation: explicit, else from the file extension (.ttl, .nt)."""
        return self.format or _RDF_SUFFIXES[self.rdf.suffix.lower()]


class LinksCsvOutput(StrictModel):
    """Links as CSV: align id, target id, global distance, one column per attribute."""

    csv: OutputPath
    delimiter: str = Field(",", min_length=1, max_length=1)


class SssomOutput(StrictModel):
    """Links as an SSSOM mapping set (TSV with its YAML metadata block).

    Each mapping carries a confidence and a similarity score derived from its
    global distance, the compared fields and their normalisers.
    """

    sssom: OutputPath
    predicate: Annotated[str, AfterValidator(_expand_predicate)] = Field(
        "owl:sameAs", validate_default=True
    )
    mapping_set_id: str | None = Field(
        None, description="the mapping set's IRI (default urn:specengine:NAME:mappings:N)"
    )
    license: str | None = Field(None, description="the mapping set's license IRI")

    @field_validator("mapping_set_id", "license")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith(_SCHEMES) and _IRI.match(value)):
            raise PydanticCustomError("iri", "'{value}' is not an absolute IRI", {"value": value})
        return value


class HtmlOutput(StrictModel):
    """A one-file HTML report: summary, distance histogram, sample links, near-misses."""

    html: OutputPath
    gold: InputPath | None = Field(
        None, description="gold links (CSV): adds precision/recall over the threshold"
    )
    sample: int = Field(50, ge=0, description="links shown with their values and distances")
    near_misses: int = Field(50, ge=0, description="pairs just above the threshold shown")
    margin: float = Field(
        0.25,
        gt=0,
        description="near-misses: pairs up to threshold x (1 + margin) (at least + margin)",
    )


_CLUSTER_SUFFIXES = {".csv": "csv", **{k: v for k, v in _RDF_SUFFIXES.items() if "quads" not in v}}


class ClustersOutput(StrictModel):
    """The links' clusters (connected components): each linked record, its cluster, its canonical IRI.

    CSV (``record_id,cluster_id,canonical_id,source``) or RDF (each record
    ``predicate`` its cluster's canonical IRI), by the file's extension unless
    ``format`` is given. The canonical IRI of a cluster is its smallest IRI among
    the records of the ``prefer``-red source (an alignment), else its smallest IRI.
    """

    clusters: OutputPath
    format: Literal["csv", "turtle", "ntriples"] | None = None
    prefer: Literal["align", "target"] | None = Field(
        None, description="the source whose records are canonical first (an alignment)"
    )
    threshold: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="cluster only the links at or under this global distance (stricter than"
        " the spec's threshold: one doubtful link merges two entities); default: every link",
    )
    links: list[InputPath] = Field(
        default_factory=list,
        description="other specs' links (their links CSV/TSV, or RDF .nt/.ttl/.nq with this"
        " output's predicate) clustered with this run's: the closure across specs",
    )
    thresholds: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(
        default_factory=list,
        description="CSV: a column cluster_id_D per threshold D, each record's cluster"
        " when only the links at or under D count (empty: no link under D)",
    )
    predicate: Annotated[str, AfterValidator(_expand_predicate)] = Field(
        "owl:sameAs", validate_default=True
    )

    @model_validator(mode="after")
    def _known_format(self) -> ClustersOutput:
        if self.format is None and self.clusters.suffix.lower() not in _CLUSTER_SUFFIXES:
            raise PydanticCustomError(
                "clusters_format",
                "cannot tell the format of '{name}': name it .csv, .ttl or .nt, or set"
                " format: csv|turtle|ntriples",
                {"name": self.clusters.name},
            )
        if self.thresholds and self.resolved_format != "csv":
            raise PydanticCustomError(
                "clusters_thresholds",
                "thresholds add columns to a CSV; '{name}' is {format}",
                {"name": self.clusters.name, "format": self.resolved_format},
            )
        if len(set(self.thresholds)) != len(self.thresholds):
            raise PydanticCustomError("clusters_thresholds", "a threshold is given twice")
        return self

    @property
    def resolved_format(self) -> str:
        """The serialisation: explicit, else from the file extension."""
        return self.format or _CLUSTER_SUFFIXES[self.clusters.suffix.lower()]


class DiffOutput(StrictModel):
    """The change of the links since the previous run, as a SPARQL 1.1 Update.

    ``DELETE DATA`` the triples of the RDF output on disk before this run (its
    links and their annotations) that this run no longer writes, ``INSERT DATA``
    those it adds: a store holding the previous linkset applies the update and
    holds the new one, without reloading it. A spec that publishes compares with
    the published graph instead (what it holds before this run replaces it),
    unless ``of`` names an RDF output.
    """

    diff: OutputPath
    of: OutputPath | None = Field(
        None,
        description="the RDF output compared (its rdf: path); default the published graph when"
        " the spec publishes, else the spec's only RDF output",
    )
    graph: str | None = Field(
        None,
        description="the named graph the update changes (default: the N-Quads graph of the"
        " RDF output, else the store's default graph)",
    )

    @field_validator("graph")
    @classmethod
    def _graph_iri(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith(_SCHEMES) and _IRI.match(value)):
            raise PydanticCustomError("graph", "'{value}' is not an absolute IRI", {"value": value})
        return value


#: Every output format of the language: its key in a spec (``{csv: out/links.csv}``)
#: -> its model. A new format is its model above and one line here (the union
#: ``Output`` below follows), and its writer in engine.alignment.write.
OUTPUT_MODELS: dict[str, type[StrictModel]] = {
    "rdf": RdfOutput,
    "csv": LinksCsvOutput,
    "sssom": SssomOutput,
    "html": HtmlOutput,
    "review": ReviewOutput,
    "clusters": ClustersOutput,
    "diff": DiffOutput,
}


def output_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in OUTPUT_MODELS:
            if key in value:
                return key
    else:
        for key, model in OUTPUT_MODELS.items():
            if isinstance(value, model):
                return key
    return "__invalid__"


def output_path(output: Any) -> Path:
    """The file an output writes (its kind's key)."""
    return Path(getattr(output, output_kind(output)))


def _reject_output(value: Any) -> Any:
    raise PydanticCustomError(
        "output", "an output needs one of the keys: " + ", ".join(OUTPUT_MODELS) + " (a mapping)"
    )


def _output_union() -> Any:
    """One member per format, tagged with its key; anything else an error naming the keys."""
    members = [Annotated[model, Tag(key)] for key, model in OUTPUT_MODELS.items()]
    invalid = Annotated[
        Any, AfterValidator(_reject_output), WithJsonSchema({"not": {}}), Tag("__invalid__")
    ]
    return Annotated[
        functools.reduce(operator.or_, [*members, invalid]), Discriminator(output_kind)
    ]


if TYPE_CHECKING:
    Output = Any
else:
    Output = _output_union()

# --------------------------------------------------------------------------- publishing


class Publish(StrictModel):
    """Publish the links to a triple store as one named graph, replaced as a whole.

    ``graph_store`` (Graph Store HTTP Protocol: one PUT) or ``update`` (SPARQL
    1.1 Update: the triples go to a staging graph, then MOVE onto the graph).
    ``query`` (a SPARQL endpoint of the same store) reads what is published,
    for the plan's difference and the check after publishing; with a graph
    store alone, the graph is read back with a GET.
    """

    graph: str = Field(description="the named graph holding the links")
    graph_store: HttpUrl | None = Field(None, description="Graph Store Protocol endpoint")
    update: HttpUrl | None = Field(None, description="SPARQL 1.1 Update endpoint")
    query: HttpUrl | None = Field(None, description="SPARQL query endpoint of the same store")
    predicate: Annotated[str, AfterValidator(_expand_predicate)] = Field(
        "owl:sameAs", validate_default=True
    )
    scores: bool = Field(
        True,
        description="also publish each link's similarity score (an owl:Axiom annotation),"
        " so a plan can tell re-scored links",
    )
    description: bool = Field(
        True,
        validation_alias="void",
        description="also publish the linkset's VoID + PROV-O description",
    )
    max_removals: int = Field(
        100, ge=0, description="refuse a run that would remove more published links than this"
    )
    allow_removals: bool = Field(False, description="lift max_removals")
    batch: int = Field(
        10000,
        ge=1,
        le=1000000,
        description="triples per INSERT DATA operation (update); halved when the store"
        " finds it too large (Virtuoso takes about 1,400)",
    )
    auth: AuthSpec | None = None
    timeout_s: Wait = Field(
        "2min",
        gt=0,
        validate_default=True,
        validation_alias="timeout",
        description="how long to wait for one answer",
    )
    retries: int = Field(4, ge=0, le=10, description="attempts after the first (at most 10)")
    backoff_s: Wait = Field(
        "1s",
        ge=0,
        validate_default=True,
        validation_alias="backoff",
        description="first wait between attempts (then doubled)",
    )

    @field_validator("graph")
    @classmethod
    def _graph_iri(cls, value: str) -> str:
        if not (value.startswith(_SCHEMES) and _IRI.match(value)):
            raise PydanticCustomError("graph", "'{value}' is not an absolute IRI", {"value": value})
        return value

    @model_validator(mode="after")
    def _one_protocol(self) -> Publish:
        if (self.graph_store is None) == (self.update is None):
            raise PydanticCustomError(
                "publish", "give either 'graph_store' (Graph Store Protocol) or 'update' (SPARQL)"
            )
        if self.update is not None and self.query is None:
            raise PydanticCustomError(
                "publish", "publishing through 'update' needs 'query' to read what is published"
            )
        return self
