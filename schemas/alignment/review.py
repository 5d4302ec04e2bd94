"""The review band of an alignment spec (``review: {from, to}``) and its outputs.

Pairs whose score falls in the band are neither sure links nor sure
non-links: a run writes them to the ``- {review: FILE}`` outputs, with what a
person needs to decide (both records' values, each attribute's distance and
evidence), instead of the links (LIMES's acceptance and review thresholds).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import OutputPath, StrictModel

__all__ = ["ReviewBand", "ReviewOutput", "review_checks"]


class ReviewOutput(StrictModel):
    """The pairs of the spec's review band (not links): CSV, or SSSOM (.tsv).

    Each pair with both records' ids, each attribute's values on both sides
    (as read and normalised), its distance and its evidence, and the pair's
    score: what a person needs to accept or reject it.
    """

    review: OutputPath
    format: Literal["csv", "sssom"] | None = Field(
        None, description="csv or sssom; default from the extension (.csv, .tsv)"
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV only")

    @model_validator(mode="after")
    def _known_format(self) -> ReviewOutput:
        if self.format is None and self.review.suffix.lower() not in (".csv", ".tsv"):
            raise PydanticCustomError(
                "review_format",
                "cannot tell the format of '{name}': name it .csv or .sssom.tsv, or set"
                " format: csv|sssom",
                {"name": self.review.name},
            )
        return self

    @property
    def resolved_format(self) -> str:
        """``csv`` or ``sssom``: explicit, else from the file extension."""
        return self.format or ("csv" if self.review.suffix.lower() == ".csv" else "sssom")


class ReviewBand(StrictModel):
    """Scores from ``from`` to ``to`` go to the review outputs instead of the links.

    With a fitted model they are match probabilities: ``from <= p < to`` is
    reviewed, ``p >= to`` linked. Otherwise they are global distances (smaller
    is closer): ``from < d <= to`` is reviewed, ``d <= from`` linked. Either
    way a link also needs the spec's threshold.
    """

    start: float = Field(
        validation_alias="from",
        ge=0,
        allow_inf_nan=False,
        description="the band's low end (a match probability with a model, else a distance)",
    )
    end: float = Field(
        validation_alias="to",
        ge=0,
        allow_inf_nan=False,
        description="the band's high end (a match probability with a model, else a distance)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ReviewBand:
        if self.start >= self.end:
            raise PydanticCustomError(
                "review_band",
                "the review band needs from < to (from {start}, to {end})",
                {"start": f"{self.start:g}", "end": f"{self.end:g}"},
            )
        return self

    def limits(self, model: bool) -> tuple[float, float]:
        """The band as global distances ``(accept, reject)``: reviewed when accept < d <= reject.

        With a model a pair's distance is ``1 - its match probability``.
        """
        if model:
            return 1.0 - self.end, 1.0 - self.start
        return self.start, self.end


def review_checks(spec: Any) -> list[tuple[tuple[Any, ...], str]]:
    """The band against the rest of an AlignmentSpec: the kind of its numbers, its outputs."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    band: ReviewBand | None = spec.review
    reviews = [i for i, o in enumerate(spec.outputs) if isinstance(o, ReviewOutput)]
    if band is None:
        problems.extend(
            (
                ("outputs", index),
                "a review output writes the pairs of the review band: add"
                " `review: {from: LOW, to: HIGH}` to the spec",
            )
            for index in reviews
        )
        return problems
    # A spec without weights nor model waits for `engine fit`, which writes a model.
    probabilities = spec.model is not None or not spec.fitted
    if probabilities and band.end > 1:
        problems.append(
            (
                ("review", "to"),
                f"with a fitted model the review band holds match probabilities (0 to 1), not"
                f" {band.end:g}: pairs with from <= probability < to are reviewed",
            )
        )
    if not reviews:
        problems.append(
            (
                ("review",),
                "the pairs of the review band are not links: write them somewhere, with"
                " `- {review: FILE.csv}` or `- {review: FILE.sssom.tsv}` in outputs",
            )
        )
    return problems
