"""The engine's version: a leaf module, so that any layer may name it without the public API."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
