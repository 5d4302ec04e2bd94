"""Pydantic models of the spec language, and the JSON Schema generated from them.

This package imports nothing from ``engine`` or ``renderers``: it is the
vocabulary of the spec files, shared by everything else. Its names are
imported when first used, so that reading one kind's spec loads that kind's
models only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.alignment import AlignmentSpec
    from schemas.base import Ref, StrictModel
    from schemas.spec import json_schemas, spec_union

__all__ = ["AlignmentSpec", "Ref", "StrictModel", "json_schemas", "spec_union"]

_WHERE = {
    "AlignmentSpec": "schemas.alignment",
    "Ref": "schemas.base",
    "StrictModel": "schemas.base",
    "json_schemas": "schemas.spec",
    "spec_union": "schemas.spec",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
