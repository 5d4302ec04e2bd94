"""Name -> implementation tables for metrics, normalisers and blocking rules.

Each entry may declare worked examples; the test suite turns every example
into an assertion, so the documentation and the code cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["Entry", "Example", "Registry"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Example:
    """A worked example: ``args`` with ``options`` give ``expected``."""

    args: tuple[Any, ...]
    expected: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry(Generic[F]):
    """A registered implementation with its documentation and examples."""

    name: str
    func: F
    examples: tuple[Example, ...]

    @property
    def doc(self) -> str:
        """First line of the implementation's docstring."""
        return (self.func.__doc__ or "").strip().splitlines()[0] if self.func.__doc__ else ""


class Registry(Generic[F]):
    """A table of named implementations of one kind (``metric``, ``normaliser``...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[F]] = {}

    def register(self, name: str, *examples: Example) -> Callable[[F], F]:
        """Decorator registering ``func`` under ``name`` with its worked examples."""

        def add(func: F) -> F:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._entries[name] = Entry(name, func, tuple(examples))
            return func

        return add

    def __getitem__(self, name: str) -> Entry[F]:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(sorted(self._entries))
            raise KeyError(f"unknown {self.kind} '{name}' (valid: {valid})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[F]]:
        return iter(sorted(self._entries.values(), key=lambda e: e.name))

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)
