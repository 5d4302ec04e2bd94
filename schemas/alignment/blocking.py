"""Blocking rules of the ``kind: alignment`` spec: each name with the type of its options."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    Discriminator,
    Field,
    RootModel,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.alignment.normalisers import NormaliserRef
from schemas.base import (
    NoOptions,
    Ref,
    StrictModel,
    named_union,
)
from schemas.units import parse_length

# --------------------------------------------------------------------------- blocking

if TYPE_CHECKING:  # type checkers see the validated value; pydantic sees the input union
    RuleRef = Ref
    BlockingRef = Ref

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
    for ``min_similarity`` (a Jaccard similarity) among the splits of
    ``num_perm`` hashes.
    """

    shingles: Literal["tokens", "qgrams"] = "tokens"
    q: int = Field(3, ge=1, le=10)
    threshold: float = Field(
        0.5,
        gt=0,
        lt=1,
        validation_alias="min_similarity",
        description="the Jaccard similarity the bands are chosen to separate",
    )
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
                    "'bands' and 'rows' fix the signature: leave out 'num_perm' and"
                    " 'min_similarity'",
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

    A length (``radius: 3 km``, ``500 m``): the columns are coordinates
    (``coordinates``: latlon, the default, or lonlat) and the distance is the
    haversine great-circle distance, on a ball tree. A number (``radius: 0.5``):
    the columns are numbers and the distance is euclidean, on a KD tree or a
    ball tree (``algorithm``; the same pairs either way).
    """

    radius: float | str = Field(
        description="a length (3 km, 500 m) between coordinates, or a number between numbers"
    )
    coordinates: Literal["latlon", "lonlat"] | None = Field(
        None, description="the order of the coordinate columns (with a length; default latlon)"
    )
    algorithm: Literal["kdtree", "balltree"] | None = Field(
        None, description="the tree: kdtree (default for numbers) or balltree (for coordinates)"
    )

    @field_validator("radius")
    @classmethod
    def _radius(cls, value: float | str) -> float | str:
        if isinstance(value, str) and re.fullmatch(r"\s*(\d+\.?\d*|\.\d+)\s*", value):
            value = float(value)  # a number quoted (or typed in the web form) is the number
        if isinstance(value, str):
            try:
                km = parse_length(value)
            except ValueError as exc:
                raise PydanticCustomError("radius", "{error}", {"error": str(exc)}) from None
            if km <= 0:
                raise PydanticCustomError("radius", "the radius must be positive")
            if km > 20038:
                raise PydanticCustomError(
                    "radius", "a radius is at most 20038 km (half the Earth's circumference)"
                )
        elif not value > 0 or value == float("inf"):
            raise PydanticCustomError("radius", "the radius must be a positive number")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RadiusBlocking:
        if self.radius_km is None:
            if self.coordinates is not None:
                raise PydanticCustomError(
                    "radius",
                    "coordinates need a radius with its unit, e.g. radius: 3 km"
                    " (a plain number is a euclidean distance between numbers)",
                )
        elif self.algorithm == "kdtree":
            raise PydanticCustomError(
                "radius",
                "a KD tree cannot measure great-circle distances: leave out 'algorithm' or"
                " write balltree",
            )
        return self

    @property
    def radius_km(self) -> float | None:
        """The radius in kilometres when it is a length (coordinates), else None."""
        return parse_length(self.radius) if isinstance(self.radius, str) else None

    @property
    def order(self) -> str:
        """The order of the coordinate columns."""
        return self.coordinates or "latlon"

    @property
    def tree(self) -> str:
        """The tree built: a ball tree for coordinates, else ``algorithm`` (kdtree)."""
        return "balltree" if self.radius_km is not None else self.algorithm or "kdtree"


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
    "radius": RadiusBlocking,
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
    BlockingRef = named_union("blocking", BLOCKINGS)


def leaf_rules(blocking: Ref) -> list[Ref]:
    """The rules of a blocking spec that read values (groups flattened, depth first)."""
    if blocking.name in ("union", "pipeline"):
        return [leaf for rule in blocking.options for leaf in leaf_rules(rule)]
    return [blocking]
