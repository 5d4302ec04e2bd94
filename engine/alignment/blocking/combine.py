"""Groups of rules: a ``union`` pairs what any rule pairs, a ``pipeline`` what all keep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from engine.alignment.blocking.base import DEFAULT_CHUNK, BlockingRule, Bools, GroupKind, Ints
from engine.alignment.blocking.registry import RULES
from engine.registry import Example

__all__ = ["Pipeline", "Union"]

#: Two rules on the same keys: equal keys, and keys sharing a 2-gram.
_RULES = [{"key": {"attribute": "name"}}, {"qgram": {"attribute": "name", "q": 2}}]


def _budget(options: Any) -> str:
    budget = getattr(options, "max_pairs", None)
    return f"; max_pairs {budget:,}" if budget is not None else ""


@RULES.register(
    "union",
    # anna = anna (key); anna ~ annie and bob ~ rob (2-grams); (0, 0) once.
    Example(
        (["anna", "bob"], ["anna", "annie", "rob"]), [(0, 0), (0, 1), (1, 2)], {"rules": _RULES}
    ),
)
class Union(GroupKind):
    """Pairs of any of the rules, each pair once: a rule drops what earlier rules produced.

    The estimate is the sum of the rules' estimates (an upper bound).
    """

    def __init__(self, rules: list[BlockingRule], *, label: str = "union") -> None:
        self.rules = rules
        self.label = label
        self.warnings = [w for rule in rules for w in rule.warnings]

    def estimate(self) -> int:
        return sum(rule.estimate() for rule in self.rules)

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        for position, rule in enumerate(self.rules):
            earlier = self.rules[:position]
            for ia, ib in rule.pairs(chunk):
                if earlier:
                    seen = np.zeros(len(ia), dtype=bool)
                    for other in earlier:
                        seen |= other.contains(ia, ib)
                    ia, ib = ia[~seen], ib[~seen]
                if len(ia):
                    yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.zeros(len(ia), dtype=bool)
        for rule in self.rules:
            out |= rule.contains(ia, ib)
        return out

    @classmethod
    def from_rules(cls, name: str, options: Any, rules: list[BlockingRule], label: str) -> Union:
        return cls(rules, label=label)

    @classmethod
    def describe_group(cls, name: str, options: Any, parts: list[str]) -> str:
        return "union of: " + "; ".join(parts) + _budget(options)


@RULES.register(
    "pipeline",
    # The 2-gram pairs (anna ~ anna, anna ~ annie, bob ~ rob) kept if the keys are equal too.
    Example((["anna", "bob"], ["anna", "annie", "rob"]), [(0, 0)], {"rules": _RULES[::-1]}),
)
class Pipeline(GroupKind):
    """The pairs of the first rule that every following rule also contains.

    A cheap, coarse rule produces the pairs and each later rule refines them
    (a key on the postcode, then a q-gram or radius condition); the later rules
    only answer ``contains``. The estimate is the smallest of the rules'
    estimates (an upper bound: every pair is one of each rule's pairs).
    """

    def __init__(self, rules: list[BlockingRule], *, label: str = "pipeline") -> None:
        self.rules = rules
        self.label = label
        self.warnings = [w for rule in rules for w in rule.warnings]

    def estimate(self) -> int:
        return min(rule.estimate() for rule in self.rules)

    def pairs(self, chunk: int = DEFAULT_CHUNK) -> Iterator[tuple[Ints, Ints]]:
        first, *rest = self.rules
        for ia, ib in first.pairs(chunk):
            for rule in rest:
                keep = rule.contains(ia, ib)
                ia, ib = ia[keep], ib[keep]
            if len(ia):
                yield ia, ib

    def contains(self, ia: Ints, ib: Ints) -> Bools:
        out = np.ones(len(ia), dtype=bool)
        for rule in self.rules:
            out &= rule.contains(ia, ib)
        return out

    @classmethod
    def from_rules(cls, name: str, options: Any, rules: list[BlockingRule], label: str) -> Pipeline:
        return cls(rules, label=label)

    @classmethod
    def describe_group(cls, name: str, options: Any, parts: list[str]) -> str:
        kept = "".join(f"; kept if {part}" for part in parts[1:])
        return "pipeline: " + parts[0] + kept + _budget(options)
