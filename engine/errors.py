"""Errors a user can act on. Each carries what to print; the CLI maps them to exit codes.

Anything else that escapes is a bug: the CLI prints it as an internal error.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXIT_DATA",
    "EXIT_OK",
    "EXIT_SPEC",
    "DataError",
    "EngineError",
    "Problem",
    "SpecError",
]

EXIT_OK = 0
#: The run failed: unreadable or invalid data, an output that cannot be written.
EXIT_DATA = 1
#: The spec is invalid (or the command line is).
EXIT_SPEC = 2


class EngineError(Exception):
    """Base of the errors the CLI reports without a traceback."""

    exit_code = EXIT_DATA

    def render(self) -> str:
        """The message printed for the user."""
        return str(self)


@dataclass(frozen=True)
class Problem:
    """One problem in a spec file, at a position, on a field path."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class SpecError(EngineError):
    """A spec file that cannot be used: all of its problems, reported at once."""

    exit_code = EXIT_SPEC

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    def render(self) -> str:
        count = len(self.problems)
        head = f"{count} error{'s' if count != 1 else ''} in spec"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)


class DataError(EngineError):
    """Bad input data: names the source and, where known, the row (1-based line) and column."""

    def __init__(
        self, source: str, message: str, row: int | None = None, column: str | None = None
    ) -> None:
        self.source = source
        self.row = row
        self.column = column
        self.message = message
        where = source if row is None else f"{source}:{row}"
        if column is not None:
            where += f" (column {column})"
        super().__init__(f"{where}: {message}")
