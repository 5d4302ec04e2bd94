"""Blocking rules by name: each builds itself from its spec and describes itself.

Every rule class registers here (``@RULES.register(name, *examples)``) like the
metrics and normalisers do; its worked examples are small keys on each side
and the exact candidate pairs they give, and the test suite runs every one of
them. The functions below walk a blocking spec (groups nest) through the
registered classes: :func:`build` the rule, :func:`describe` it in one line,
say :func:`why_no_pairs` a rule found nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.alignment.blocking.base import (
    BlockingRule,
    BlockingValueError,
    GroupKind,
    RuleKind,
    Values,
)
from engine.registry import Registry

__all__ = [
    "RULES",
    "build",
    "describe",
    "is_group",
    "reads_codes",
    "reads_points",
    "reads_values",
    "why_no_pairs",
]

#: name -> the rule class (a :class:`RuleKind`, or a :class:`GroupKind` for groups).
RULES: Registry[Any] = Registry("blocking rule")

#: The keys of one rule on each side: ``keys(rule spec) -> (align keys, target keys)``.
KeySource = Callable[[Any], tuple[Values, Values]]


def is_group(name: str) -> bool:
    """Whether the rule named ``name`` is made of rules (``union``, ``pipeline``)."""
    return issubclass(RULES[name].func, GroupKind)


def reads_points(name: str) -> bool:
    """Whether the rule named ``name`` reads points (tuples of numbers) rather than strings."""
    kind = RULES[name].func
    return issubclass(kind, RuleKind) and kind.points


def reads_codes(name: str) -> bool:
    """Whether the rule named ``name`` takes its keys as codes (``CodedKeys``)."""
    kind = RULES[name].func
    return issubclass(kind, RuleKind) and kind.reads_codes


def reads_values(name: str) -> bool:
    """Whether the rule named ``name`` reads keys at all (``none`` does not)."""
    kind = RULES[name].func
    return issubclass(kind, RuleKind) and kind.reads_values


def describe(blocking: Any) -> str:
    """One line describing a blocking spec (a ``Ref``: name and options; groups nest)."""
    kind: type[RuleKind | GroupKind] = RULES[blocking.name].func
    if issubclass(kind, GroupKind):
        parts = [
            f"({describe(rule)})" if is_group(rule.name) else describe(rule)
            for rule in blocking.options
        ]
        return kind.describe_group(blocking.name, blocking.options, parts)
    assert issubclass(kind, RuleKind)
    return kind.describe(blocking.name, blocking.options)


def build(blocking: Any, keys: KeySource) -> BlockingRule:
    """The rule of a blocking spec, on the keys ``keys`` gives for each of its rules.

    A rule's values may be unusable (not numbers, coordinates out of range):
    :class:`~engine.alignment.blocking.base.BlockingValueError` says which, and
    in which rule (its ``rule``: the rule's description).
    """
    kind: type[RuleKind | GroupKind] = RULES[blocking.name].func
    label = describe(blocking)
    if issubclass(kind, GroupKind):
        rules = [build(rule, keys) for rule in blocking.options]
        return kind.from_rules(blocking.name, blocking.options, rules, label)
    assert issubclass(kind, RuleKind)
    align, target = keys(blocking)
    try:
        return kind.from_options(blocking.name, blocking.options, align, target, label)
    except BlockingValueError as exc:
        exc.rule = exc.rule or label
        raise


def _shown_key(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return repr(value)


def why_no_pairs(name: str, align: Values, target: Values) -> str:
    """Why a rule (not a group) named ``name`` found no pair, from what its keys look like."""
    samples: list[str] = []
    for role, keys in (("align", align), ("target", target)):
        first = next((k for k in keys if k is not None and k != ""), None)
        if first is None:
            return f"every {role} record's blocking key is missing"
        what = "points" if reads_points(name) else "keys"
        samples.append(f"{role} {what} look like {_shown_key(first)}")
    text: str = RULES[name].func.no_pairs(", ".join(samples))
    return text
