"""The local web interface (``engine serve``): browse, compose, run specs, see results.

Whoever reaches the server can send spec text, so the interface reads every
spec (typed, uploaded or on disk) without YAML aliases and without expanding
``${VAR}``: a spec that uses a variable shows "environment variable VAR is not
expanded here" and is run with ``engine run``. Nothing it runs or plans acts
outside the served folder: no path outside it, no image ``hooks`` (shell
commands), no image without a ``cache:`` inside it. A plan, which connects to
the spec's hosts, is computed on a POST only.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # Imported lazily: the CLI must not pay for Starlette unless it serves.
    if name == "create_app":
        from engine.web.app import create_app

        return create_app
    raise AttributeError(name)
