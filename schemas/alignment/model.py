"""The ``model:`` section of an alignment spec: a fitted Fellegi–Sunter model.

``engine fit`` writes it: per attribute, the cut points of its comparison
levels (distances) and each level's m and u; the prior (the probability that
two random records match) and the match-probability threshold. With a model,
a pair's global distance is ``1 - its match probability`` and the spec's
``threshold`` is ``1 - model.threshold``: the attributes' ``weight`` and
``missing`` play no part (a missing value is its own level, no evidence).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from schemas.base import StrictModel

__all__ = ["LevelsSpec", "ModelSpec", "derive_threshold", "model_checks"]

#: How far from 1 a vector of m or u may sum (they are written with six digits).
_SUM_TOLERANCE = 1e-3


class LevelsSpec(StrictModel):
    """One attribute's levels: ``levels`` are their upper distances (the last level has none)."""

    levels: list[float] = Field(
        description="upper distance of each level but the last, ascending (0: exact agreement)"
    )
    m: list[float] = Field(description="P(level | match), one per level (len(levels) + 1)")
    u: list[float] = Field(description="P(level | non-match), one per level (len(levels) + 1)")
    term_frequency: bool = Field(
        False,
        description="an exact agreement weighs by how common the agreed value is"
        " (log2(m / its share of the records)): a common value agreeing is weaker evidence",
    )

    @model_validator(mode="after")
    def _consistent(self) -> LevelsSpec:
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ValueError("levels must be ascending")
        if any(c < 0 for c in self.levels):
            raise ValueError("levels are distances: >= 0")
        if self.term_frequency and (not self.levels or self.levels[0] != 0):
            raise ValueError("term_frequency adjusts the exact level: the first level must be 0")
        for key in ("m", "u"):
            values: list[float] = getattr(self, key)
            if len(values) != len(self.levels) + 1:
                raise ValueError(
                    f"{key} needs {len(self.levels) + 1} values (one per level), not {len(values)}"
                )
            if any(not 0 <= v <= 1 for v in values):
                raise ValueError(f"{key} holds probabilities: each in [0, 1]")
            if abs(sum(values) - 1) > _SUM_TOLERANCE:
                raise ValueError(f"{key} must sum to 1 (it sums to {sum(values):g})")
        return self


class ModelSpec(StrictModel):
    """A Fellegi–Sunter model, as ``engine fit`` writes it."""

    prior: float = Field(gt=0, lt=1, description="P(match) for two random records")
    threshold: float = Field(
        gt=0, lt=1, description="match probability at or above which a pair may be linked"
    )
    attributes: dict[str, LevelsSpec] = Field(description="each attribute's levels, m and u")

    @property
    def limit(self) -> float:
        """The threshold as a distance (``1 - threshold``)."""
        return 1.0 - self.threshold


def derive_threshold(data: Any) -> Any:
    """A spec's raw data with ``threshold`` taken from its model when it gives none."""
    if not isinstance(data, dict) or "threshold" in data:
        return data
    model = data.get("model")
    probability: Any = model.get("threshold") if isinstance(model, dict) else None
    if type(probability) in (int, float) and 0 < probability < 1:
        return {**data, "threshold": 1.0 - float(probability)}
    return data


def model_checks(spec: Any) -> list[tuple[tuple[Any, ...], str]]:
    """The model against the rest of an AlignmentSpec: the same attributes, one threshold."""
    model = spec.model
    if model is None:
        return []
    problems: list[tuple[tuple[Any, ...], str]] = []
    if abs(spec.threshold - model.limit) > 1e-12:
        problems.append(
            (
                ("threshold",),
                "with a model the threshold is the model's (model.threshold, a match"
                " probability): remove this `threshold`",
            )
        )
    names = [a.name for a in spec.attributes]
    for name in model.attributes:
        if name not in names:
            problems.append(
                (
                    ("model", "attributes", name),
                    f"the model has levels for '{name}', which is not an attribute"
                    f" (attributes: {', '.join(names)}); run `engine fit` again",
                )
            )
    for index, name in enumerate(names):
        if name not in model.attributes:
            problems.append(
                (
                    ("attributes", index),
                    f"attribute '{name}' has no levels in the model: run `engine fit` again",
                )
            )
    return problems
