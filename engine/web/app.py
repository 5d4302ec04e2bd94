"""The web application: a Starlette app over one folder of specs."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from engine.environment import NO_ENVIRONMENT, Environment
from engine.web.compose import DraftStore, flow_yaml
from engine.web.limits import REQUEST_TIMEOUT_S, VALIDATION_TIMEOUT_S, Budget, RequestTimeout
from engine.web.pages import WebState, page, web
from engine.web.paths import DamagedFileError
from engine.web.routes_browse import routes as browse_routes
from engine.web.routes_compose import routes as compose_routes
from engine.web.routes_review import DEFAULT_AUTHOR
from engine.web.routes_review import routes as review_routes
from engine.web.routes_run import routes as run_routes
from engine.web.runs import RunManager
from engine.web.security import BodyLimit, SameOrigin, TokenGuard

__all__ = [
    "DEFAULT_MAX_UPLOAD",
    "WebState",
    "create_app",
    "page",
    "web",
]

#: Uploads larger than this are refused (``engine serve --max-upload``).
DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024


async def _damaged(request: Request, exc: Exception) -> Response:
    # A run record or draft damaged on disk (edited by hand, a full disk): say
    # which file, rather than an internal error on every page that reads it.
    return page(request, "message.html", 409, title="Damaged file", error=str(exc))


async def _disconnected(request: Request, exc: Exception) -> Response:
    # The client went away mid-request (its upload stopped and the connection was
    # closed, see engine.web.limits): nobody reads an answer, no traceback to log.
    return Response(status_code=400)


def create_app(
    root: Path,
    *,
    token: str | None = None,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    allowed_hosts: list[str] | None = None,
    environment: Environment = NO_ENVIRONMENT,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    validation_timeout_s: float = VALIDATION_TIMEOUT_S,
    author: str = DEFAULT_AUTHOR,
) -> Starlette:
    """The web interface over the specs of ``root``.

    ``token``: every request must carry it. ``allowed_hosts``: the Host headers
    accepted (against DNS rebinding); None accepts any. Uploads above
    ``max_upload`` bytes are refused before they are read. ``environment``:
    the only environment variables a spec's credentials may be read from (the
    server's own environment is never read for a spec; see engine.environment).
    An answer not started within ``request_timeout_s`` is a 504, a validation
    not done within ``validation_timeout_s`` shows the spec as invalid (see
    engine.web.limits). ``author``: the ``author_id`` of review decisions
    when the review page's form gives none.
    """
    folder = root.resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    # Templates and static files are read from the installed package, wherever it is.
    loader = jinja2.PackageLoader("engine.web", "templates")
    templates = Jinja2Templates(env=jinja2.Environment(loader=loader, autoescape=True))
    templates.env.filters["yaml"] = flow_yaml
    middleware = [
        Middleware(BodyLimit, limit=max_upload),
        Middleware(SameOrigin),
        Middleware(RequestTimeout, seconds=request_timeout_s),
    ]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts))
    if token:
        middleware.insert(0, Middleware(TokenGuard, token=token))
    routes: list[Route | Mount] = [
        *browse_routes(),
        *run_routes(),
        *review_routes(),
        *compose_routes(),
        Mount("/static", StaticFiles(packages=[("engine.web", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={DamagedFileError: _damaged, ClientDisconnect: _disconnected},
    )
    budget = Budget(validation_timeout_s)
    runs = RunManager(folder, environment, budget)
    app.state.web = WebState(
        folder, runs, DraftStore(folder), templates, max_upload, environment, budget, author
    )
    return app
