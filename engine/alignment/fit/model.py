"""The fitted model as plain data, and pairs scored with it.

A Fellegi–Sunter model: per attribute, the cut points of its comparison
levels and each level's m (P(level | match)) and u (P(level | non-match));
the prior (P(match) for two random records) and the match-probability
threshold. A pair's match weight is ``log2(prior/(1-prior)) + sum log2(m/u)``
over its attributes of known value (a missing value adds nothing); its match
probability ``1 / (1 + 2**-weight)``.

Term-frequency adjustment (Splink's), for the attributes that ask for it: an
exact agreement on a value shared by a share ``tf`` of the records weighs
``log2(m / tf)`` instead of ``log2(m / u)``, so a common surname agreeing is
weaker evidence than a rare one.

The rest of the pipeline works with distances (smaller is closer):
:meth:`Model.distance` is ``1 - probability``, computed as ``1 / (1 + 2**weight)``
so that two near-certain pairs still differ, and :attr:`Model.limit` the
threshold as a distance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.alignment.fit.levels import MISSING, cut, level_names

__all__ = ["AttributeModel", "Model", "probability_of", "weight_of"]

Floats = npt.NDArray[np.float64]

#: Digits kept when a model is written (a second fit writes the same bytes).
DIGITS = 6


def _round(x: float) -> float:
    """``x`` with DIGITS significant digits (small u keep their magnitude)."""
    return float(f"{x:.{DIGITS}g}")


def weight_of(probability: float) -> float:
    """The match weight (bits) of a match probability."""
    p = min(max(probability, 1e-300), 1 - 1e-16)
    return float(np.log2(p / (1 - p)))


def probability_of(weight: Floats) -> Floats:
    """Match probabilities of match weights (bits)."""
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000)))


@dataclass(frozen=True)
class AttributeModel:
    """One attribute's levels (``cuts``: upper bounds of the levels but the last) and m, u."""

    name: str
    cuts: tuple[float, ...]
    m: tuple[float, ...]
    u: tuple[float, ...]
    #: Exact agreements weigh by the agreed value's frequency (needs ``cuts[0] == 0``).
    term_frequency: bool = False

    def bits(self) -> Floats:
        """Each level's match weight, log2(m/u)."""
        m = np.maximum(np.asarray(self.m), 1e-12)
        u = np.maximum(np.asarray(self.u), 1e-12)
        bits: Floats = np.log2(m / u)
        return bits

    def weights(self, distances: Floats, tf: Floats | None = None) -> Floats:
        """Each pair's match weight from this attribute (0 for a missing value).

        ``tf``: each pair's term frequency (the share of records with the align
        record's value), used at the exact level when the attribute asks for it.
        """
        levels = cut(distances, self.cuts).astype(np.int64)
        out = np.zeros(len(levels))
        known = levels != MISSING
        out[known] = self.bits()[levels[known]]
        if self.term_frequency and tf is not None and self.cuts and self.cuts[0] == 0:
            exact = (levels == 0) & ~np.isnan(tf)
            m = max(self.m[0], 1e-12)
            out[exact] = np.log2(m / np.maximum(tf[exact], 1e-12))
        return out

    def names(self) -> list[str]:
        """The levels' readable names."""
        return level_names(self.cuts)


@dataclass(frozen=True)
class Model:
    """A fitted Fellegi–Sunter model (see the module's docstring)."""

    attributes: tuple[AttributeModel, ...]
    prior: float
    threshold: float

    def weight(
        self,
        distances: Mapping[str, Floats],
        size: int,
        tf: Mapping[str, Floats] | None = None,
    ) -> Floats:
        """Match weights (bits) of ``size`` pairs from their distance per attribute.

        ``tf``: per attribute adjusted for term frequency, each pair's term frequency.
        """
        total = np.full(size, weight_of(self.prior))
        for attribute in self.attributes:
            frequency = None if tf is None else tf.get(attribute.name)
            total += attribute.weights(distances[attribute.name], frequency)
        return total

    def probability(
        self, distances: Mapping[str, Floats], size: int, tf: Mapping[str, Floats] | None = None
    ) -> Floats:
        """Match probabilities of ``size`` pairs."""
        return probability_of(self.weight(distances, size, tf))

    def distance(
        self, distances: Mapping[str, Floats], size: int, tf: Mapping[str, Floats] | None = None
    ) -> Floats:
        """``1 - probability``, exact even when the probability rounds to 1."""
        return probability_of(-self.weight(distances, size, tf))

    def term_frequency(self) -> list[str]:
        """The attributes adjusted for term frequency."""
        return [a.name for a in self.attributes if a.term_frequency]

    @property
    def limit(self) -> float:
        """The threshold as a distance: pairs at or under it are candidates for links."""
        return 1.0 - self.threshold

    def to_data(self) -> dict[str, Any]:
        """The model as the plain data of a spec's ``model:`` section (rounded)."""
        return {
            "prior": _round(self.prior),
            "threshold": _round(self.threshold),
            "attributes": {
                a.name: {
                    "levels": [_round(c) for c in a.cuts],
                    "m": [_round(x) for x in a.m],
                    "u": [_round(x) for x in a.u],
                    **({"term_frequency": True} if a.term_frequency else {}),
                }
                for a in self.attributes
            },
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Model:
        """The model of a ``model:`` section (as :meth:`to_data` writes it)."""
        return cls(
            tuple(
                AttributeModel(
                    name,
                    tuple(float(c) for c in a["levels"]),
                    tuple(float(x) for x in a["m"]),
                    tuple(float(x) for x in a["u"]),
                    bool(a.get("term_frequency", False)),
                )
                for name, a in data["attributes"].items()
            ),
            float(data["prior"]),
            float(data["threshold"]),
        )

    def table(self) -> list[tuple[str, str, float, float, float]]:
        """Rows (attribute, level, m, u, match weight) for people to read."""
        rows = []
        for a in self.attributes:
            for name, m, u, bits in zip(a.names(), a.m, a.u, a.bits(), strict=True):
                rows.append((a.name, name, m, u, float(bits)))
        return rows


def rounded(model: Model) -> Model:
    """The model as it reads back from a spec (so a fit's summary matches the file)."""
    return Model.from_data(model.to_data())


def normalised(values: Sequence[float]) -> tuple[float, ...]:
    """Probabilities summing to 1 (a vector of m or u)."""
    array = np.asarray(values, dtype=np.float64)
    return tuple(float(x) for x in array / array.sum())
