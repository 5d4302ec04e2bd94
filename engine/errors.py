"""Errors a user can act on. Each carries what to print; the CLI maps them to exit codes.

Anything else that escapes is a bug: the CLI prints it as an internal error.
The exit codes of the ``engine`` command are defined here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXIT_CHANGES",
    "EXIT_DATA",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SPEC",
    "DataError",
    "EngineError",
    "Problem",
    "SpecError",
    "UsageError",
]

EXIT_OK = 0
#: The run failed: unreadable or invalid data, an output that cannot be written.
EXIT_DATA = 1
#: The spec is invalid (or the command line is).
EXIT_SPEC = 2
#: ``engine plan --detailed-exitcode`` only: the plan succeeded and changes are pending
#: (every error then exits 1, an invalid spec included, as Terraform's plan does).
EXIT_CHANGES = 2
#: A bug: an exception that is not an :class:`EngineError`.
EXIT_INTERNAL = 70
#: Interrupted (Ctrl-C): 128 + SIGINT.
EXIT_INTERRUPTED = 130


class EngineError(Exception):
    """Base of the errors the CLI reports without a traceback."""

    exit_code = EXIT_DATA

    def render(self) -> str:
        """The message printed for the user."""
        return str(self)

    def details(self) -> dict[str, Any]:
        """The error as plain data, for ``--json`` (``kind``, ``message`` and what is known)."""
        return {"kind": "spec" if self.exit_code == EXIT_SPEC else "data", "message": str(self)}


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

    def details(self) -> dict[str, Any]:
        """Each problem with its file, line, column and field path."""
        return {
            "kind": "spec",
            "message": self.render(),
            "problems": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "path": p.path,
                    "message": p.message,
                }
                for p in self.problems
            ],
        }


class UsageError(EngineError):
    """A command line that does not fit: a bad option, or a command for another kind of spec."""

    exit_code = EXIT_SPEC

    def details(self) -> dict[str, Any]:
        """The message, under the kind ``usage``."""
        return {"kind": "usage", "message": str(self)}


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

    def details(self) -> dict[str, Any]:
        """The source, row and column apart from the message."""
        return {
            "kind": "data",
            "message": str(self),
            "source": self.source,
            "row": self.row,
            "column": self.column,
            "reason": self.message,
        }
