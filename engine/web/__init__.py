"""The local web interface (``engine serve``): browse, compose, run specs, see results."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # Imported lazily: the CLI must not pay for Starlette unless it serves.
    if name == "create_app":
        from engine.web.app import create_app

        return create_app
    raise AttributeError(name)
