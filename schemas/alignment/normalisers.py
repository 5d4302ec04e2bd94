"""Normalisers of the ``kind: alignment`` spec: each name with the type of its options."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    Field,
    field_validator,
)
from pydantic_core import PydanticCustomError

from schemas.base import (
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
else:
    NormaliserRef = named_union("normaliser", NORMALISERS)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "invalid regular expression: {error}", {"error": str(exc)}
        ) from None
    return value
