"""The environment variables a spec names, and who may read them.

A spec names variables for its secrets: ``auth.password_env`` and
``auth.user_env`` of a SPARQL or RQL source and of ``publish``,
``upload.glance.token_env`` of an image. The engine reads them only through
the :class:`Environment` a run is given (its state's ``environment``), never
through ``os.environ``: the command line gives the process's environment,
``engine serve`` only the variables its operator passed (``--pass-env NAME``;
none by default), since any spec of the served folder could name any variable
and send its value to any endpoint.

``${VAR}`` in a spec's text is the loader's business (``expand_env``); the web
interface never expands it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel

from engine.errors import DataError

__all__ = ["NO_ENVIRONMENT", "Environment", "named_variables"]

#: Why a variable is missing, for a run of the command line.
_NOT_SET = "environment variable {name} ({field}) is not set"
#: Why a variable is missing, for the web interface.
_NOT_PASSED = (
    "environment variable {name} ({field}) is not passed to the web interface: it never"
    " reads the server's environment for a spec. Run the spec with `engine run`, or start"
    " the server with `engine serve --pass-env {name}` (any spec of the folder can then"
    " send its value to the endpoint it names)"
)


@dataclass(frozen=True)
class Environment:
    """The variables a run may read, and how a missing one is explained.

    The values never appear in a ``repr`` (a state printed in a log or a
    traceback would show them).
    """

    values: Mapping[str, str] = field(repr=False)
    #: ``str.format`` template of the error for a missing variable (``name``, ``field``).
    missing: str = _NOT_SET

    @classmethod
    def of_process(cls) -> Environment:
        """The process's environment, as it is when read (the command line's)."""
        return cls(os.environ)

    @classmethod
    def passed(cls, names: Iterable[str], source: Mapping[str, str] | None = None) -> Environment:
        """Only ``names``, with their values now in ``source`` (default: the process's).

        A name that is not set there is left out: a spec naming it gets the
        error saying it is not passed.
        """
        origin = os.environ if source is None else source
        values = {name: origin[name] for name in names if name in origin}
        return cls(MappingProxyType(values), _NOT_PASSED)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def get(self, name: str) -> str | None:
        """The value of ``name``; None when it is not there."""
        return self.values.get(name)

    def require(self, name: str, field_path: str, where: str) -> str:
        """The value of ``name``, which the spec names at ``field_path``; DataError if missing."""
        value = self.values.get(name)
        if value is None:
            raise DataError(where, self.explain(name, field_path))
        return value

    def explain(self, name: str, field_path: str) -> str:
        """Why ``name`` (named at ``field_path``) cannot be read here."""
        return self.missing.format(name=name, field=field_path)


#: No variable at all (the web interface without ``--pass-env``).
NO_ENVIRONMENT = Environment(MappingProxyType({}), _NOT_PASSED)


def named_variables(spec: Any) -> list[tuple[str, str]]:
    """Every ``(variable, field path)`` a spec names for the engine to read.

    These are the fields whose name ends in ``_env`` (``password_env``,
    ``user_env``, ``token_env``): a new one is found without changing this.
    """
    return sorted(set(_walk(spec, ())), key=lambda item: item[1])


def _walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            item = getattr(value, name)
            if name.endswith("_env") and isinstance(item, str):
                yield item, ".".join((*path, name))
            else:
                yield from _walk(item, (*path, name))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
