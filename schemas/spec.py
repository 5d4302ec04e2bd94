"""The spec union: one model per ``kind``, discriminated on that key.

The kinds are the engine's (``engine.kinds``): it hands their models to
:func:`spec_union` and :func:`json_schemas`, so a kind registered there is
part of the language without an edit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag, TypeAdapter

__all__ = ["json_schemas", "spec_union"]

_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_BASE = "https://specengine.invalid/schemas"


def spec_union(models: Mapping[str, type[Any]]) -> Any:
    """The type of any spec: a union of ``models`` (kind -> model) discriminated on ``kind``."""
    kinds = sorted(models)

    def kind_of(value: Any) -> str | None:
        if isinstance(value, dict):
            kind = value.get("kind")
            return kind if isinstance(kind, str) and kind in models else None
        return getattr(value, "kind", None)

    members = tuple(Annotated[models[kind], Tag(kind)] for kind in kinds)
    return Annotated[
        Union[members],  # noqa: UP007 (a union built at run time)
        Discriminator(
            kind_of,
            custom_error_type="unknown_kind",
            custom_error_message="'kind' must be one of: " + ", ".join(kinds),
        ),
    ]


def json_schemas(models: Mapping[str, type[Any]]) -> dict[str, dict[str, Any]]:
    """JSON Schema documents by file name: one per kind, plus ``spec`` for any kind."""
    out: dict[str, dict[str, Any]] = {}
    for kind, model in sorted(models.items()):
        schema = TypeAdapter(model).json_schema()
        schema["$schema"] = _DRAFT
        schema["$id"] = f"{_BASE}/{kind}.schema.json"
        out[f"{kind}.schema.json"] = schema
    spec = TypeAdapter(spec_union(models)).json_schema()
    spec["$schema"] = _DRAFT
    spec["$id"] = f"{_BASE}/spec.schema.json"
    out["spec.schema.json"] = spec
    return out
