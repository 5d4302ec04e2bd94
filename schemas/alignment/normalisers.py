"""Normalisers of the ``kind: alignment`` spec: each name with the type of its options."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.base import (
    InputPath,
    NoOptions,
    Ref,
    StrictModel,
    named_union,
)

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


class Lookup(StrictModel):
    """A lookup table: a CSV ``file`` (relative to the spec's folder) or an inline ``table``."""

    file: InputPath | None = Field(
        None, description="CSV (TSV for .tsv) with a header row, relative to the spec's folder"
    )
    table: dict[str, str] | None = Field(None, description="inline: value as found -> replacement")
    key: str | None = Field(None, description="the file's column of values as found (1st)")
    value: str | None = Field(None, description="the file's column of replacements (2nd)")
    case_sensitive: bool = False
    unknown: Literal["keep", "missing"] = Field(
        "keep", description="a value the table lacks: kept as it is, or missing"
    )
    shorthand: ClassVar[str] = "file"

    @model_validator(mode="after")
    def _one_table(self) -> Lookup:
        if (self.file is None) == (self.table is None):
            raise PydanticCustomError(
                "lookup_table", "give the table as a CSV 'file' or an inline 'table' (one of them)"
            )
        if self.table is not None and (self.key is not None or self.value is not None):
            raise PydanticCustomError(
                "lookup_columns", "'key' and 'value' name the columns of a 'file', not a 'table'"
            )
        seen: dict[str, str] = {}
        for key in self.table or {}:
            folded = key.strip() if self.case_sensitive else key.strip().casefold()
            if not folded:
                raise PydanticCustomError("lookup_key", "a lookup table key cannot be blank")
            if folded in seen:
                raise PydanticCustomError(
                    "lookup_key",
                    "keys '{first}' and '{second}' are the same key{case}",
                    {
                        "first": seen[folded],
                        "second": key,
                        "case": "" if self.case_sensitive else " (case_sensitive is false)",
                    },
                )
            seen[folded] = key
        return self

    def __hash__(self) -> int:  # the inline table is a dict: hash its items
        table = tuple(sorted((self.table or {}).items()))
        return hash((self.file, table, self.key, self.value, self.case_sensitive, self.unknown))


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
    "transliterate": NoOptions,
    "lookup": Lookup,
}
if TYPE_CHECKING:  # type checkers see the validated value; pydantic sees the input union
    NormaliserRef = Ref
else:
    NormaliserRef = named_union("normaliser", NORMALISERS)


class SideNormalise(StrictModel):
    """A chain of normalisers per side, where the sides need different ones.

    ``{align: [{simplify: {stopwords: fr}}], target: [{simplify: {stopwords: en}}]}``;
    a side left out compares its values as they are.
    """

    align: list[NormaliserRef] = Field(default_factory=list, description="align-side chain")
    target: list[NormaliserRef] = Field(default_factory=list, description="target-side chain")


def _normalise_form(value: Any) -> str:
    # A mapping is the per-side form; anything else is validated (or refused) as a chain,
    # so that a mistake reports against one form only.
    return "sides" if isinstance(value, dict | SideNormalise) else "chain"


if TYPE_CHECKING:
    Normalise = list[Ref] | SideNormalise
else:
    Normalise = Annotated[
        Annotated[list[NormaliserRef], Tag("chain")] | Annotated[SideNormalise, Tag("sides")],
        Discriminator(_normalise_form),
    ]


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "invalid regular expression: {error}", {"error": str(exc)}
        ) from None
    return value
