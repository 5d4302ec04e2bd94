"""The ``kind: alignment`` spec: align an *alignset* to a *targetset*.

Vocabulary tables (``NORMALISERS``, ``METRICS``, ``BLOCKINGS``) name every
normaliser, metric and blocking rule with the type of its options; the engine
registers one implementation per name (a test checks both sides agree).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.base import InputPath, NoOptions, OutputPath, Ref, StrictModel, named_union

__all__ = [
    "BLOCKINGS",
    "METRICS",
    "NORMALISERS",
    "AlignmentSpec",
    "Attribute",
    "CsvSource",
    "InlineSource",
    "LinksCsvOutput",
    "RdfOutput",
    "TsvSource",
]

# --------------------------------------------------------------------------- normalisers


class Strip(StrictModel):
    """Remove leading and trailing characters (white space by default)."""

    chars: str | None = None


class Simplify(StrictModel):
    """Nazca's simplify: lower case, punctuation to spaces, optional stopwords removed."""

    stopwords: Literal["fr", "en"] | None = None


class Tokenize(StrictModel):
    """Split into tokens (a regular expression matching a token) rejoined by one space."""

    pattern: str = r"[^\s]+"
    shorthand: ClassVar[str] = "pattern"

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _check_regex(value)


class RemoveAfter(StrictModel):
    """Drop everything from the first occurrence of ``sub`` (case-insensitive)."""

    sub: str = Field(min_length=1)
    shorthand: ClassVar[str] = "sub"


class RegexReplace(StrictModel):
    """Replace every match of ``pattern`` with ``replacement`` (``\\1`` groups allowed)."""

    pattern: str
    replacement: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _check_regex(value)


class DateOptions(StrictModel):
    """How to read a date: an explicit ``format`` (strptime) or day-first/year-first."""

    dayfirst: bool = False
    yearfirst: bool = False
    format: str | None = None


class SoundexOptions(StrictModel):
    """Soundex variant: English (American) or Nazca's French table."""

    language: Literal["en", "fr"] = "en"


class Prefix(StrictModel):
    """Keep the first ``length`` characters."""

    length: int = Field(ge=1)
    shorthand: ClassVar[str] = "length"


NORMALISERS: dict[str, Any] = {
    "lowercase": NoOptions,
    "uppercase": NoOptions,
    "unaccent": NoOptions,
    "strip": Strip,
    "simplify": Simplify,
    "tokenize": Tokenize,
    "sort_tokens": NoOptions,
    "remove_after": RemoveAfter,
    "regex_replace": RegexReplace,
    "digits_only": NoOptions,
    "date": DateOptions,
    "soundex": SoundexOptions,
    "prefix": Prefix,
}
if TYPE_CHECKING:  # type checkers see the validated value; pydantic sees the input union
    NormaliserRef = Ref
    MetricRef = Ref
    RuleRef = Ref
    BlockingRef = Ref
else:
    NormaliserRef = named_union("normaliser", NORMALISERS)

# --------------------------------------------------------------------------- metrics


class EditOptions(StrictModel):
    """Edit distances: token-aware like Nazca (default) or on whole values; raw or normalised."""

    tokens: bool = True
    normalised: bool = False


class JaroWinklerOptions(StrictModel):
    """Jaro-Winkler distance (1 - similarity), in [0, 1]."""

    prefix_weight: float = Field(0.1, ge=0, le=0.25)
    tokens: bool = False


class TemporalOptions(DateOptions):
    """Distance between dates in ``unit``s; ``scale`` maps it to [0, 1]."""

    unit: Literal["days", "months", "years"] = "days"
    scale: float | None = Field(None, gt=0)


class GeographicOptions(StrictModel):
    """Great-circle (haversine) distance between points given as two columns."""

    units: Literal["km", "m"] = "km"
    order: Literal["latlon", "lonlat"] = "latlon"
    scale: float | None = Field(None, gt=0)


class EuclideanOptions(StrictModel):
    """Euclidean distance between numbers or tuples of numbers."""

    scale: float | None = Field(None, gt=0)


METRICS: dict[str, Any] = {
    "levenshtein": EditOptions,
    "damerau_levenshtein": EditOptions,
    "jaro_winkler": JaroWinklerOptions,
    "jaccard": NoOptions,
    "soundex": SoundexOptions,
    "exact": NoOptions,
    "ratio": NoOptions,
    "difflib": NoOptions,
    "temporal": TemporalOptions,
    "geographic": GeographicOptions,
    "euclidean": EuclideanOptions,
}

# --------------------------------------------------------------------------- blocking

ColumnRef = Annotated[str | int, Field(description="a column name, or a 0-based index")]


class KeyBlocking(StrictModel):
    """Candidate pairs share a key: a column or attribute value after normalisation."""

    attribute: str | None = None
    align: ColumnRef | None = None
    target: ColumnRef | None = None
    normalise: list[NormaliserRef] = Field(
        default_factory=list, validation_alias=AliasChoices("normalise", "normalize")
    )

    @model_validator(mode="after")
    def _one_input(self) -> KeyBlocking:
        if (self.attribute is None) == (self.align is None and self.target is None):
            raise PydanticCustomError(
                "key_input", "give either 'attribute' or 'align' (and optionally 'target')"
            )
        return self


class SortedNeighbourhood(KeyBlocking):
    """Records sorted by key; each align record meets the ``window`` nearest target keys."""

    window: int = Field(5, ge=1)


RULES: dict[str, Any] = {"key": KeyBlocking, "sorted_neighbourhood": SortedNeighbourhood}
if not TYPE_CHECKING:
    RuleRef = named_union("blocking rule", RULES)

BLOCKINGS: dict[str, Any] = {
    "none": NoOptions,
    **RULES,
    "union": Annotated[list[RuleRef], Field(min_length=1)],
}
if not TYPE_CHECKING:
    MetricRef = named_union("metric", METRICS)
    BlockingRef = named_union("blocking", BLOCKINGS)

# --------------------------------------------------------------------------- sources

IdSpec = Annotated[
    str | int | dict[Literal["template"], str],
    Field(description="the column holding each record's IRI, or {template: 'http://.../{column}'}"),
]


class _FileSource(StrictModel):
    id: IdSpec
    header: bool = True
    columns: list[str] | None = Field(
        None, description="column names: required without a header, else renames the header"
    )
    encoding: str = "utf-8"
    quotechar: str = Field('"', min_length=1, max_length=1)
    on_error: Literal["fail", "skip"] = "fail"

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise PydanticCustomError(
                "encoding", "unknown encoding '{value}'", {"value": value}
            ) from None
        return value


class CsvSource(_FileSource):
    """A delimited text file (``delimiter`` defaults to a comma)."""

    csv: InputPath
    delimiter: str = Field(",", min_length=1, max_length=1)


class TsvSource(_FileSource):
    """A tab-separated file."""

    tsv: InputPath
    delimiter: str = Field("\t", min_length=1, max_length=1)


class InlineSource(StrictModel):
    """Rows written in the spec itself: ``columns`` and a list of ``rows``."""

    inline: list[list[Any] | dict[str, Any]] = Field(min_length=1)
    columns: list[str] | None = None
    id: IdSpec
    on_error: Literal["fail", "skip"] = "fail"


def _source_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("csv", "tsv", "inline"):
            if key in value:
                return key
    elif isinstance(value, StrictModel):
        return {CsvSource: "csv", TsvSource: "tsv", InlineSource: "inline"}[type(value)]
    elif value == "same":
        return "same"
    return "__invalid__"


def _reject_source(value: Any) -> Any:
    raise PydanticCustomError(
        "source", "a source needs one of the keys: csv, tsv, inline (a mapping)"
    )


def _reject_target(value: Any) -> Any:
    raise PydanticCustomError(
        "source",
        "a target needs one of the keys: csv, tsv, inline (a mapping), or is 'same' to deduplicate",
    )


_Invalid = Annotated[
    Any, AfterValidator(_reject_source), WithJsonSchema({"not": {}}), Tag("__invalid__")
]
Source = Annotated[
    Annotated[CsvSource, Tag("csv")]
    | Annotated[TsvSource, Tag("tsv")]
    | Annotated[InlineSource, Tag("inline")]
    | _Invalid,
    Discriminator(_source_kind),
]
TargetSource = Annotated[
    Annotated[CsvSource, Tag("csv")]
    | Annotated[TsvSource, Tag("tsv")]
    | Annotated[InlineSource, Tag("inline")]
    | Annotated[Literal["same"], Tag("same")]
    | Annotated[
        Any, AfterValidator(_reject_target), WithJsonSchema({"not": {}}), Tag("__invalid__")
    ],
    Discriminator(_source_kind),
]


class Sources(StrictModel):
    """The two sets to align: ``align`` (your data) and ``target`` (where links point).

    ``target: same`` deduplicates ``align``: each pair of distinct records is
    compared once and no record is linked to itself.
    """

    align: Source
    target: TargetSource


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
    normalise: list[NormaliserRef] = Field(
        default_factory=list, validation_alias=AliasChoices("normalise", "normalize")
    )
    metric: MetricRef
    weight: float = Field(1.0, ge=0)
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
            raise PydanticCustomError("missing", "a missing-value distance must be >= 0")
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


# --------------------------------------------------------------------------- outputs

PREFIXES = {
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "schema": "http://schema.org/",
}
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")


def _expand_predicate(value: str) -> str:
    prefix, _, local = value.partition(":")
    if prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    if _IRI.match(value):
        return value
    raise PydanticCustomError(
        "predicate",
        "'{value}' is neither an IRI nor a CURIE with a known prefix ({known})",
        {"value": value, "known": ", ".join(sorted(PREFIXES))},
    )


class RdfOutput(StrictModel):
    """Links as RDF triples; format from the extension (.ttl, .nt) unless given."""

    rdf: OutputPath
    format: Literal["turtle", "ntriples"] | None = None
    predicate: Annotated[str, AfterValidator(_expand_predicate)] = Field(
        "owl:sameAs", validate_default=True
    )

    @property
    def resolved_format(self) -> str:
        """The serialisation: explicit, else guessed from the file extension."""
        if self.format:
            return self.format
        return "ntriples" if self.rdf.suffix.lower() in (".nt", ".ntriples") else "turtle"


class LinksCsvOutput(StrictModel):
    """Links as CSV: align id, target id, global distance, one column per attribute."""

    csv: OutputPath
    delimiter: str = Field(",", min_length=1, max_length=1)


def _output_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("rdf", "csv"):
            if key in value:
                return key
    elif isinstance(value, RdfOutput | LinksCsvOutput):
        return "rdf" if isinstance(value, RdfOutput) else "csv"
    return "__invalid__"


def _reject_output(value: Any) -> Any:
    raise PydanticCustomError("output", "an output needs one of the keys: rdf, csv (a mapping)")


Output = Annotated[
    Annotated[RdfOutput, Tag("rdf")]
    | Annotated[LinksCsvOutput, Tag("csv")]
    | Annotated[
        Any, AfterValidator(_reject_output), WithJsonSchema({"not": {}}), Tag("__invalid__")
    ],
    Discriminator(_output_kind),
]

# --------------------------------------------------------------------------- executors


class LocalExecutor(StrictModel):
    """Compare chunks of candidate pairs on this machine's cores (threads)."""

    workers: int | None = Field(None, ge=1, description="threads; default: every core")


class DaskExecutor(StrictModel):
    """Compare chunks on a dask.distributed cluster; without an address, a local cluster."""

    address: str | None = Field(None, description="scheduler, e.g. tcp://127.0.0.1:8786")
    timeout_s: float = Field(10.0, gt=0, description="how long to wait for the scheduler")
    workers: int | None = Field(None, ge=1, description="local cluster size (no address)")


EXECUTORS: dict[str, Any] = {"local": LocalExecutor, "dask": DaskExecutor}
if TYPE_CHECKING:
    ExecutorRef = Ref
else:
    ExecutorRef = named_union("executor", EXECUTORS)

# --------------------------------------------------------------------------- the job


class AlignmentSpec(StrictModel):
    """An alignment job: sources, attributes, blocking, threshold, matching, outputs."""

    kind: Literal["alignment"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str | None = None
    sources: Sources
    attributes: list[Attribute] = Field(min_length=1)
    blocking: BlockingRef = Field("none", validate_default=True)
    threshold: float = Field(ge=0)
    matching: Literal["all", "best", "one-to-one"] = "best"
    outputs: list[Output] = Field(default_factory=list)
    executor: ExecutorRef = Field("local", validate_default=True)

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
    def dedup(self) -> bool:
        """True when the job deduplicates one source (``target: same``)."""
        return self.sources.target == "same"

    @model_validator(mode="after")
    def _blocking_attributes(self) -> AlignmentSpec:
        names = [a.name for a in self.attributes]
        blocking: Ref = self.blocking
        rules = blocking.options if blocking.name == "union" else [blocking]
        for rule in rules:
            attribute = rule.option("attribute")
            if attribute is not None and attribute not in names:
                raise PydanticCustomError(
                    "blocking_attribute",
                    "blocking refers to attribute '{name}', which is not defined (attributes: {names})",
                    {"name": attribute, "names": ", ".join(names)},
                )
        if self.dedup and self.matching == "one-to-one":
            raise PydanticCustomError(
                "dedup_matching",
                "matching 'one-to-one' needs two sources; a deduplication (target: same)"
                " supports 'all' and 'best'",
            )
        paths = [str(o.rdf if isinstance(o, RdfOutput) else o.csv) for o in self.outputs]
        if len(set(paths)) != len(paths):
            raise PydanticCustomError("outputs", "two outputs write the same file")
        return self


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "invalid regular expression: {error}", {"error": str(exc)}
        ) from None
    return value
