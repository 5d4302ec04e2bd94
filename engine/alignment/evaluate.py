"""Quality of a set of links against gold links: precision, recall, F1."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Scores", "score"]

Pair = tuple[str, str]


@dataclass(frozen=True)
class Scores:
    """Counts and rates of found links against the gold ones."""

    found: int
    gold: int
    true_positives: int

    @property
    def precision(self) -> float:
        """Share of found links that are gold links (1 when nothing was found)."""
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        """Share of gold links that were found (1 when there is no gold link)."""
        return self.true_positives / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(found: Iterable[Pair], gold: Iterable[Pair]) -> Scores:
    """Compare found links with gold links (each counted once)."""
    found_set, gold_set = set(found), set(gold)
    return Scores(len(found_set), len(gold_set), len(found_set & gold_set))
