"""Sources of the ``kind: alignment`` spec: files, inline rows, RDF dumps, SPARQL and RQL endpoints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.base import (
    InputPath,
    OutputDir,
    StrictModel,
)
from schemas.units import Duration, Wait

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
    split: dict[str, Annotated[str, Field(min_length=1)]] = Field(
        default_factory=dict,
        description="columns holding several values and their separator, e.g. {aliases: '|'};"
        " an attribute's distance is then the best over every pair of values",
    )
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
    values: Literal["best", "all"] = Field(
        "best",
        description="per record and variable: the best value (by language), or 'all' of them;"
        " an attribute's distance is then the best over every pair of values",
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
    timeout_s: Wait = Field(
        "60s",
        gt=0,
        validate_default=True,
        validation_alias="timeout",
        description="how long to wait for one answer",
    )
    retries: int = Field(
        4, ge=0, le=10, description="attempts after the first on timeouts, 5xx, cuts (at most 10)"
    )
    backoff_s: Wait = Field(
        "1s",
        ge=0,
        validate_default=True,
        validation_alias="backoff",
        description="first wait between attempts (then doubled)",
    )
    auth: AuthSpec | None = None
    cache: OutputDir | None = Field(
        None, description="a folder keeping each answer, keyed by endpoint and query"
    )
    cache_ttl_s: Duration | None = Field(
        None,
        gt=0,
        validation_alias="cache_ttl",
        description="cached answers older than this are fetched again (e.g. 1d)",
    )
    languages: list[str] = Field(
        default_factory=list,
        description="language preference of literals, e.g. [fr, en, '']: per record and"
        " column the value in the first language found is kept ('' = no language tag);"
        " a record without text in a listed language has a missing value there",
    )
    values: Literal["best", "all"] = Field(
        "best",
        description="per record and variable: the best value (by language), or 'all' of them;"
        " an attribute's distance is then the best over every pair of values",
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
