"""Metrics of the ``kind: alignment`` spec: each name with the type of its options."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from schemas.alignment.normalisers import DateOptions, SoundexOptions
from schemas.base import (
    NoOptions,
    Ref,
    StrictModel,
    check_scale,
    named_union,
)

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
    scale: float | None = Field(None, gt=0, le=1e12)
    _scale = field_validator("scale")(check_scale)


class GeographicOptions(StrictModel):
    """Great-circle (haversine) distance between points given as two columns.

    The distance is in ``unit`` (km or m); ``coordinates`` says the order of
    the two columns (latlon or lonlat).
    """

    units: Literal["km", "m"] = Field("km", validation_alias="unit")
    order: Literal["latlon", "lonlat"] = Field("latlon", validation_alias="coordinates")
    scale: float | None = Field(None, gt=0, le=1e12)
    _scale = field_validator("scale")(check_scale)


class EuclideanOptions(StrictModel):
    """Euclidean distance between numbers or tuples of numbers."""

    scale: float | None = Field(None, gt=0, le=1e12)
    _scale = field_validator("scale")(check_scale)


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

if TYPE_CHECKING:
    MetricRef = Ref
else:
    MetricRef = named_union("metric", METRICS)
