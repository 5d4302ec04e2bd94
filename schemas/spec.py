"""The spec union: one model per ``kind``, discriminated on that key."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag, TypeAdapter

from schemas.alignment import AlignmentSpec
from schemas.image import ImageSpec
from schemas.volume_pool import VolumePoolSpec

__all__ = ["KINDS", "Spec", "json_schemas", "spec_adapter"]

#: kind -> model.
KINDS: dict[str, type[Any]] = {
    "alignment": AlignmentSpec,
    "image": ImageSpec,
    "volume-pool": VolumePoolSpec,
}


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("kind")
        return kind if isinstance(kind, str) and kind in KINDS else None
    return getattr(value, "kind", None)


Spec = Annotated[
    Annotated[AlignmentSpec, Tag("alignment")]
    | Annotated[ImageSpec, Tag("image")]
    | Annotated[VolumePoolSpec, Tag("volume-pool")],
    Discriminator(
        _kind,
        custom_error_type="unknown_kind",
        custom_error_message="'kind' must be one of: " + ", ".join(sorted(KINDS)),
    ),
]

_ADAPTER: TypeAdapter[Any] | None = None


def spec_adapter() -> TypeAdapter[Any]:
    """The (cached) adapter validating any spec document."""
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(Spec)
    return _ADAPTER


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema documents by file name: one per kind, plus ``spec`` for any kind."""
    out: dict[str, dict[str, Any]] = {}
    for kind, model in sorted(KINDS.items()):
        schema = TypeAdapter(model).json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://specengine.invalid/schemas/{kind}.schema.json"
        out[f"{kind}.schema.json"] = schema
    spec = spec_adapter().json_schema()
    spec["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    spec["$id"] = "https://specengine.invalid/schemas/spec.schema.json"
    out["spec.schema.json"] = spec
    return out
