"""What every page handler shares: the application's state, and rendering a template.

The routes (routes_browse, routes_run, routes_compose) and the application
(app.py) both import this module; the routes never import the application.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from engine.environment import Environment
from engine.web.compose import DraftStore
from engine.web.limits import Budget
from engine.web.runs import RunManager
from engine.web.security import mib

__all__ = ["WebState", "page", "web"]


@dataclass
class WebState:
    """What every route needs: the served folder, the runs, the drafts, the templates."""

    root: Path
    runs: RunManager
    drafts: DraftStore
    templates: Jinja2Templates
    max_upload: int
    #: The environment variables a spec may read (``--pass-env``); none by default.
    environment: Environment
    #: How long a spec's validation is waited for (``--validation-timeout``).
    budget: Budget
    #: The ``author_id`` of review decisions when the page gives none (``--author``).
    author: str = "urn:specengine:reviewer"


def web(request: Request) -> WebState:
    """The application's state, from a request."""
    state: WebState = request.app.state.web
    return state


def page(request: Request, template: str, status_code: int = 200, /, **context: Any) -> Response:
    """Render one template with the common context (the folder, the upload limit)."""
    state = web(request)
    context.setdefault("message", None)
    context.setdefault("error", None)
    context.update(root=state.root, max_upload=mib(state.max_upload))
    response: HTMLResponse = state.templates.TemplateResponse(
        request, template, context, status_code=status_code
    )
    return response
