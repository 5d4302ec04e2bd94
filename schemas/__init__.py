"""Pydantic models of the spec language, and the JSON Schema generated from them.

This package imports nothing from ``engine`` or ``renderers``: it is the
vocabulary of the spec files, shared by everything else.
"""

from schemas.alignment import AlignmentSpec
from schemas.base import Ref, StrictModel
from schemas.spec import KINDS, Spec, json_schemas, spec_adapter

__all__ = ["KINDS", "AlignmentSpec", "Ref", "Spec", "StrictModel", "json_schemas", "spec_adapter"]
