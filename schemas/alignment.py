"""The ``kind: alignment`` spec: align an *alignset* to a *targetset*.

Vocabulary tables (``NORMALISERS``, ``METRICS``, ``BLOCKINGS``) name every
normaliser, metric and blocking rule with the type of its options; the engine
registers one implementation per name (a test checks both sides agree).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Discriminator,
    Field,
    RootModel,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.base import (
    InputPath,
    NoOptions,
    OutputDir,
    OutputPath,
    Ref,
    StrictModel,
    named_union,
)

__all__ = [
    "BLOCKINGS",
    "IRI",
    "METRICS",
    "NORMALISERS",
    "AlignmentSpec",
    "Attribute",
    "CsvSource",
    "HtmlOutput",
    "InlineSource",
    "LinksCsvOutput",
    "Publish",
    "RdfOutput",
    "RqlSource",
    "SparqlSource",
    "SssomOutput",
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
MaxPairs = Annotated[
    int | None,
    Field(
        None,
        ge=1,
        description="stop the run before comparing when this rule's estimated pairs exceed it",
    ),
]


class _Blocking(StrictModel):
    """What every blocking rule on values shares: its input and a pair budget."""

    attribute: str | Annotated[list[str], Field(min_length=1)] | None = Field(
        None,
        description="an attribute's normalised values, or several: a composite key",
    )
    normalise: list[NormaliserRef] = Field(
        default_factory=list, validation_alias=AliasChoices("normalise", "normalize")
    )
    max_pairs: MaxPairs = None

    @property
    def attributes(self) -> list[str]:
        """The attributes the rule reads (several for a composite key)."""
        if self.attribute is None:
            return []
        return [self.attribute] if isinstance(self.attribute, str) else list(self.attribute)

    @model_validator(mode="after")
    def _one_input(self) -> _Blocking:
        align, target = getattr(self, "align", None), getattr(self, "target", None)
        if (self.attribute is None) == (align is None and target is None):
            raise PydanticCustomError(
                "key_input", "give either 'attribute' or 'align' (and optionally 'target')"
            )
        if align is None and target is not None:
            raise PydanticCustomError(
                "key_input", "'target' names the target side's column: give 'align' too"
            )
        return self


class KeyBlocking(_Blocking):
    """Candidate pairs share a key: a column or attribute value after normalisation.

    A phonetic key is a key with a phonetic normaliser: ``{key: {attribute:
    surname, normalise: [soundex]}}`` pairs records whose surnames sound alike.
    """

    align: ColumnRef | None = None
    target: ColumnRef | None = None


class SortedNeighbourhood(KeyBlocking):
    """Records sorted by key; each align record meets the ``window`` nearest target keys."""

    window: int = Field(5, ge=1)


class QGramBlocking(KeyBlocking):
    """Pairs whose keys share at least ``min_common`` distinct character q-grams.

    ``padding`` adds ``q - 1`` ``#`` on both ends so that first and last
    characters weigh as much as the others; a key shorter than ``q`` is its own
    single q-gram. A q-gram held by more than ``max_block`` records on either
    side (``the`` in street names) is skipped: it would pair almost everything.
    """

    q: int = Field(3, ge=1, le=10)
    padding: bool = False
    min_common: int = Field(1, ge=1)
    max_block: int = Field(10_000, ge=1)


class MinHashBlocking(KeyBlocking):
    """MinHash LSH: pairs whose shingle sets agree on at least one band of the signature.

    Shingles are the key's ``tokens`` or its character ``qgrams`` (``q``). The
    signature has ``bands x rows`` hashes; records with identical shingle sets
    always pair, and a pair with Jaccard similarity ``s`` pairs with probability
    ``1 - (1 - s^rows)^bands``. Without ``bands`` and ``rows`` they are chosen
    for ``threshold`` among the splits of ``num_perm`` hashes.
    """

    shingles: Literal["tokens", "qgrams"] = "tokens"
    q: int = Field(3, ge=1, le=10)
    threshold: float = Field(0.5, gt=0, lt=1)
    num_perm: int = Field(128, ge=1, le=1024)
    bands: int | None = Field(None, ge=1, le=1024)
    rows: int | None = Field(None, ge=1, le=1024)
    seed: int = Field(1, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _bands_and_rows(self) -> MinHashBlocking:
        if (self.bands is None) != (self.rows is None):
            raise PydanticCustomError("minhash_bands", "give both 'bands' and 'rows', or neither")
        if self.bands is not None and self.rows is not None:
            if self.bands * self.rows > 1024:
                raise PydanticCustomError(
                    "minhash_bands", "bands x rows must be at most 1024 hashes"
                )
            if "num_perm" in self.model_fields_set or "threshold" in self.model_fields_set:
                raise PydanticCustomError(
                    "minhash_bands",
                    "'bands' and 'rows' fix the signature: leave out 'num_perm' and 'threshold'",
                )
        return self


class TfidfBlocking(KeyBlocking):
    """Each align record meets its ``top_k`` most similar target records.

    Similarity is the cosine of TF-IDF vectors of character n-grams within words
    (``ngrams``: shortest and longest), fitted on both sides' keys; pairs below
    ``min_similarity`` are left out. ``max_df`` below 1 leaves out the n-grams
    found in more than that share of the keys: faster on large inputs, as they
    pair almost everything. Keys are taken as given: add ``lowercase`` to
    ``normalise`` for case-insensitive blocking.
    """

    top_k: int = Field(10, ge=1, le=10_000)
    min_similarity: float = Field(0.0, ge=0, le=1)
    ngrams: tuple[int, int] = (2, 3)
    max_df: float = Field(1.0, gt=0, le=1)

    @field_validator("ngrams")
    @classmethod
    def _ngram_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1] <= 10:
            raise PydanticCustomError(
                "ngrams", "ngrams is [shortest, longest] with 1 <= shortest <= longest <= 10"
            )
        return value


class _PointBlocking(_Blocking):
    """Rules on points: one or more numeric columns, or an attribute holding them."""

    align: ColumnRef | list[ColumnRef] | None = Field(
        None, description="align-side column(s): [lat, long] for coordinates"
    )
    target: ColumnRef | list[ColumnRef] | None = Field(
        None, description="target-side column(s); default: same as align"
    )


class RadiusBlocking(_PointBlocking):
    """Pairs of points within a radius, found with a space-partitioning tree.

    ``radius_km``: the columns are coordinates (``order`` latlon or lonlat) and
    the distance is the haversine great-circle distance (a ball tree, whatever
    the rule's name). ``radius``: the columns are numbers and the distance is
    euclidean (``kdtree`` builds a KD tree, ``balltree`` a ball tree; same pairs).
    """

    radius: float | None = Field(None, gt=0)
    radius_km: float | None = Field(None, gt=0)
    order: Literal["latlon", "lonlat"] = "latlon"

    @model_validator(mode="after")
    def _one_radius(self) -> RadiusBlocking:
        if (self.radius is None) == (self.radius_km is None):
            raise PydanticCustomError(
                "radius",
                "give either 'radius_km' (coordinates, haversine) or 'radius' (numbers, euclidean)",
            )
        if self.radius is not None and "order" in self.model_fields_set:
            raise PydanticCustomError("radius", "'order' applies to coordinates ('radius_km')")
        return self


class KMeansBlocking(_PointBlocking):
    """Pairs of records in a common k-means cluster of their points.

    Clusters are fitted (MiniBatchKMeans, fixed ``seed``) on both sides' points;
    each record joins its ``nearest`` closest clusters, so that records near a
    boundary still meet their neighbours across it. ``coordinates`` (latlon or
    lonlat) clusters points on the sphere; without it the columns are numbers.
    """

    clusters: int = Field(ge=1, le=1_000_000)
    nearest: int = Field(1, ge=1, le=64)
    coordinates: Literal["latlon", "lonlat"] | None = None
    seed: int = Field(0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _nearest_clusters(self) -> KMeansBlocking:
        if self.nearest > self.clusters:
            raise PydanticCustomError("kmeans", "'nearest' cannot exceed 'clusters'")
        return self


class RuleList(list[Ref]):
    """The rules of a ``union`` or ``pipeline`` (a list), with the group's pair budget."""

    max_pairs: int | None = None


class _RuleSequence(RootModel[list["RuleRef"]]):
    """A list of blocking rules (the short form of a group)."""

    root: list[RuleRef] = Field(min_length=1)


class RuleGroup(StrictModel):
    """A list of blocking rules with options (the long form of a group)."""

    rules: list[RuleRef] = Field(min_length=1)
    max_pairs: MaxPairs = None


def _group_form(value: Any) -> str:
    if isinstance(value, list | _RuleSequence):
        return "list"
    if isinstance(value, dict | RuleGroup):
        return "group"
    return "__invalid__"


def _reject_group(value: Any) -> Any:
    raise PydanticCustomError(
        "rule_group", "expected a list of blocking rules, or a mapping {rules: [...], max_pairs: N}"
    )


def _rule_list(value: Any) -> RuleList:
    if isinstance(value, RuleList):  # already validated
        return value
    out = RuleList(value.root if isinstance(value, _RuleSequence) else value.rules)
    out.max_pairs = getattr(value, "max_pairs", None)
    return out


#: ``union`` and ``pipeline`` take a list of rules (which may themselves be groups:
#: the type is recursive) or ``{rules: [...], max_pairs: N}``.
RuleGroupOptions = Annotated[
    Annotated[_RuleSequence, Tag("list")]
    | Annotated[RuleGroup, Tag("group")]
    | Annotated[
        Any, AfterValidator(_reject_group), WithJsonSchema({"not": {}}), Tag("__invalid__")
    ],
    Discriminator(_group_form),
    AfterValidator(_rule_list),
]

RULES: dict[str, Any] = {
    "key": KeyBlocking,
    "sorted_neighbourhood": SortedNeighbourhood,
    "qgram": QGramBlocking,
    "minhash": MinHashBlocking,
    "tfidf": TfidfBlocking,
    "kdtree": RadiusBlocking,
    "balltree": RadiusBlocking,
    "kmeans": KMeansBlocking,
    # Groups: a union pairs what any rule pairs; a pipeline keeps the pairs of its
    # first rule that every following rule also contains.
    "union": RuleGroupOptions,
    "pipeline": RuleGroupOptions,
}
if not TYPE_CHECKING:
    RuleRef = named_union("blocking rule", RULES)
_RuleSequence.model_rebuild()
RuleGroup.model_rebuild()

BLOCKINGS: dict[str, Any] = {"none": NoOptions, **RULES}
if not TYPE_CHECKING:
    MetricRef = named_union("metric", METRICS)
    BlockingRef = named_union("blocking", BLOCKINGS)


def leaf_rules(blocking: Ref) -> list[Ref]:
    """The rules of a blocking spec that read values (groups flattened, depth first)."""
    if blocking.name in ("union", "pipeline"):
        return [leaf for rule in blocking.options for leaf in leaf_rules(rule)]
    return [blocking]


# --------------------------------------------------------------------------- sources


def _id_spec(value: Any) -> Any:
    if isinstance(value, bool) or not (
        isinstance(value, str | int)
        or (
            isinstance(value, dict)
            and list(value) == ["template"]
            and isinstance(value["template"], str)
        )
    ):
        raise PydanticCustomError(
            "id_spec",
            "expected the column holding each record's IRI (a name or a 0-based index),"
            " or {{template: 'http://example.org/thing/{{column}}'}}",
        )
    return value


IdSpec = Annotated[
    str | int | dict[Literal["template"], str],
    BeforeValidator(_id_spec),
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
            info = codecs.lookup(value)
        except LookupError:
            raise PydanticCustomError(
                "encoding", "unknown encoding '{value}'", {"value": value}
            ) from None
        # rot13, base64, zlib... are codecs but not text encodings: reading with
        # them fails at run time, so refuse them here.
        if not getattr(info, "_is_text_encoding", True):
            raise PydanticCustomError(
                "encoding", "'{value}' is not a text encoding", {"value": value}
            )
        return value


class CsvSource(_FileSource):
    """A delimited text file (``delimiter`` defaults to a comma)."""

    csv: InputPath
    delimiter: str = Field(",", min_length=1, max_length=1)


class TsvSource(_FileSource):
    """A tab-separated file."""

    tsv: InputPath
    delimiter: str = Field("\t", min_length=1, max_length=1)
    quotechar: str | None = Field(  # type: ignore[assignment]
        None, min_length=1, max_length=1, description="none by default: TSV has no quoting"
    )


class InlineSource(StrictModel):
    """Rows written in the spec itself: ``columns`` and a list of ``rows``."""

    inline: list[list[Any] | dict[str, Any]] = Field(min_length=1)
    columns: list[str] | None = None
    id: IdSpec
    on_error: Literal["fail", "skip"] = "fail"


_RDF_FORMATS = {
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "nt",
    ".nq": "nquads",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".trig": "trig",
}


class RdfSource(StrictModel):
    """RDF dump files (Turtle, N-Triples, RDF/XML, JSON-LD...) queried locally with SPARQL.

    ``query`` is a SELECT; its variables become the columns (a literal gives its
    lexical form, an IRI its text, an unbound variable a missing value), and
    ``id`` names the variable holding each record's IRI.
    """

    rdf: Annotated[list[InputPath], Field(min_length=1)]
    format: Literal["turtle", "nt", "nquads", "xml", "json-ld", "trig"] | None = None
    query: str = Field(min_length=1)
    id: IdSpec
    languages: list[str] = Field(
        default_factory=list,
        description="language preference of literals, e.g. [fr, en, ''] ('' = no tag): a"
        " record without text in a listed language has a missing value there",
    )
    on_error: Literal["fail", "skip"] = "fail"

    @field_validator("rdf", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("query")
    @classmethod
    def _select(cls, value: str) -> str:
        if not re.search(r"\bselect\b", value, re.IGNORECASE):
            raise PydanticCustomError("query", "the query must be a SPARQL SELECT")
        return value

    @model_validator(mode="after")
    def _known_formats(self) -> RdfSource:
        if self.format is None:
            for path in self.rdf:
                if path.suffix.lower() not in _RDF_FORMATS:
                    raise PydanticCustomError(
                        "rdf_format",
                        "cannot tell the RDF format of '{name}': set format: (turtle, nt,"
                        " nquads, xml, json-ld, trig)",
                        {"name": path.name},
                    )
        return self

    def format_of(self, path: Path) -> str:
        """The rdflib parser name for one dump file."""
        return self.format or _RDF_FORMATS[path.suffix.lower()]


class AuthSpec(StrictModel):
    """HTTP authentication; the password is read from an environment variable, never the spec."""

    method: Literal["basic", "digest"] = "basic"
    user: str | None = Field(None, min_length=1, description="the user name")
    user_env: str | None = Field(
        None, min_length=1, description="or the environment variable holding the user name"
    )
    password_env: str = Field(
        min_length=1, description="the environment variable holding the password"
    )

    @model_validator(mode="after")
    def _one_user(self) -> AuthSpec:
        if (self.user is None) == (self.user_env is None):
            raise PydanticCustomError("auth_user", "give either 'user' or 'user_env'")
        return self


class _RemoteSource(StrictModel):
    """What every source read over HTTP shares: paging, retries, auth, cache."""

    query: str | None = Field(None, min_length=1, description="the query text")
    query_file: InputPath | None = Field(None, description="or a file holding the query")
    id: IdSpec
    page_size: int | None = Field(
        10000,
        ge=1,
        description="rows per request (ORDER BY + LIMIT/OFFSET); null: one request",
    )
    timeout_s: float = Field(60.0, gt=0, description="how long to wait for one answer")
    retries: int = Field(4, ge=0, description="attempts after the first on timeouts, 5xx, cuts")
    backoff_s: float = Field(1.0, ge=0, description="first wait between attempts (then doubled)")
    auth: AuthSpec | None = None
    cache: OutputDir | None = Field(
        None, description="a folder keeping each answer, keyed by endpoint and query"
    )
    cache_ttl_s: float | None = Field(
        None, gt=0, description="cached answers older than this are fetched again"
    )
    languages: list[str] = Field(
        default_factory=list,
        description="language preference of literals, e.g. [fr, en, '']: per record and"
        " column the value in the first language found is kept ('' = no language tag);"
        " a record without text in a listed language has a missing value there",
    )
    on_error: Literal["fail", "skip"] = "fail"

    @model_validator(mode="after")
    def _one_query(self) -> _RemoteSource:
        if (self.query is None) == (self.query_file is None):
            raise PydanticCustomError("query", "give either 'query' or 'query_file'")
        return self

    @property
    def endpoint(self) -> str:
        """The URL the source is read from (the value of its kind's key)."""
        return str(getattr(self, "sparql", None) or getattr(self, "rql", ""))

    def query_text(self) -> str:
        """The query, from the spec or from its file."""
        if self.query is not None:
            return self.query
        assert self.query_file is not None
        return self.query_file.read_text(encoding="utf-8")


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise PydanticCustomError(
            "url", "'{value}' is not an http:// or https:// URL", {"value": value}
        )
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class SparqlSource(_RemoteSource):
    """A SPARQL endpoint queried with a SELECT; its variables become the columns.

    Large answers are read in pages (``ORDER BY`` every projected variable,
    ``LIMIT page_size OFFSET k``) until a page comes back empty, so an
    endpoint that caps its answers (Virtuoso: 10,000 rows) still returns
    every row. Rows with the same id are merged into one record.
    """

    sparql: HttpUrl
    default_graph: str | None = Field(None, description="default-graph-uri of the request")

    @field_validator("query")
    @classmethod
    def _select(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"\bselect\b", value, re.IGNORECASE):
            raise PydanticCustomError("query", "the query must be a SPARQL SELECT")
        return value


class RqlSource(_RemoteSource):
    """A CubicWeb instance queried in RQL (``?rql=...&vid=jsonexport``).

    Answers are rows of values without names: ``columns`` names them.
    """

    rql: HttpUrl = Field(description="the CubicWeb instance's base URL")
    columns: list[str] = Field(min_length=1, description="names of the selected values")
    page_size: int | None = Field(
        None, ge=1, description="rows per request (LIMIT/OFFSET added to the query); null: one"
    )


_SOURCE_KEYS = ("csv", "tsv", "inline", "rdf", "sparql", "rql")
_SOURCE_TYPES: dict[type, str] = {
    CsvSource: "csv",
    TsvSource: "tsv",
    InlineSource: "inline",
    RdfSource: "rdf",
    SparqlSource: "sparql",
    RqlSource: "rql",
}


def _source_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in _SOURCE_KEYS:
            if key in value:
                return key
    elif isinstance(value, StrictModel):
        return _SOURCE_TYPES[type(value)]
    elif value == "same":
        return "same"
    return "__invalid__"


def _reject_source(value: Any) -> Any:
    raise PydanticCustomError(
        "source", "a source needs one of the keys: " + ", ".join(_SOURCE_KEYS) + " (a mapping)"
    )


def _reject_target(value: Any) -> Any:
    raise PydanticCustomError(
        "source",
        "a target needs one of the keys: "
        + ", ".join(_SOURCE_KEYS)
        + " (a mapping), or is 'same' to deduplicate",
    )


_Invalid = Annotated[
    Any, AfterValidator(_reject_source), WithJsonSchema({"not": {}}), Tag("__invalid__")
]
Source = Annotated[
    Annotated[CsvSource, Tag("csv")]
    | Annotated[TsvSource, Tag("tsv")]
    | Annotated[InlineSource, Tag("inline")]
    | Annotated[RdfSource, Tag("rdf")]
    | Annotated[SparqlSource, Tag("sparql")]
    | Annotated[RqlSource, Tag("rql")]
    | _Invalid,
    Discriminator(_source_kind),
]
TargetSource = Annotated[
    Annotated[CsvSource, Tag("csv")]
    | Annotated[TsvSource, Tag("tsv")]
    | Annotated[InlineSource, Tag("inline")]
    | Annotated[RdfSource, Tag("rdf")]
    | Annotated[SparqlSource, Tag("sparql")]
    | Annotated[RqlSource, Tag("rql")]
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


# --------------------------------------------------------------------------- outputs

PREFIXES = {
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "schema": "http://schema.org/",
}
#: An absolute IRI that RDF serialisers accept: a scheme, a colon, then no space,
#: control character (NUL to space, DEL), lone surrogate or any of <>"{}|\^`.
IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x20\x7f<>\"{}|\\^`\ud800-\udfff]*\Z")
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


_OUTPUT_KEYS = {"rdf": RdfOutput, "csv": LinksCsvOutput, "sssom": SssomOutput, "html": HtmlOutput}


def output_kind(value: Any) -> str:
    if isinstance(value, dict):
        for key in _OUTPUT_KEYS:
            if key in value:
                return key
    else:
        for key, model in _OUTPUT_KEYS.items():
            if isinstance(value, model):
                return key
    return "__invalid__"


def output_path(output: Any) -> Path:
    """The file an output writes (its kind's key)."""
    return Path(getattr(output, output_kind(output)))


def _reject_output(value: Any) -> Any:
    raise PydanticCustomError(
        "output", "an output needs one of the keys: " + ", ".join(_OUTPUT_KEYS) + " (a mapping)"
    )


Output = Annotated[
    Annotated[RdfOutput, Tag("rdf")]
    | Annotated[LinksCsvOutput, Tag("csv")]
    | Annotated[SssomOutput, Tag("sssom")]
    | Annotated[HtmlOutput, Tag("html")]
    | Annotated[
        Any, AfterValidator(_reject_output), WithJsonSchema({"not": {}}), Tag("__invalid__")
    ],
    Discriminator(output_kind),
]

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
    description: bool = Field(True, description="also publish the VoID + PROV-O description")
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
    timeout_s: float = Field(120.0, gt=0)
    retries: int = Field(4, ge=0)
    backoff_s: float = Field(1.0, ge=0)

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
    threshold: float = Field(ge=0, allow_inf_nan=False)
    matching: Literal["all", "best", "one-to-one"] = "best"
    outputs: list[Output] = Field(default_factory=list)
    publish: Publish | None = None
    executor: ExecutorRef = Field("local", validate_default=True)
    allow_empty: bool = Field(
        False,
        description="accept a run whose blocking finds no candidate pair (empty outputs);"
        " by default such a run fails and leaves the previous outputs as they were",
    )

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


#: Metrics comparing exactly two numbers per value (a point), and those comparing one string.
_POINT_METRICS = {"geographic"}
_NUMERIC_METRICS = {"geographic", "euclidean", "temporal"}


def cross_checks(
    spec: AlignmentSpec, spec_file: Path | None = None
) -> list[tuple[tuple[Any, ...], str]]:
    """Problems that involve several fields, each with the path of the field to blame.

    The loader turns the paths into file:line:column positions.
    """
    problems: list[tuple[tuple[Any, ...], str]] = []
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
    for index, attribute in enumerate(spec.attributes):
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


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "invalid regular expression: {error}", {"error": str(exc)}
        ) from None
    return value
