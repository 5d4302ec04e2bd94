"""Browse: the specs of the folder, one spec with its problems, editing, file downloads."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.errors import EngineError, SpecError
from engine.web.limits import Budget
from engine.web.pages import page, web
from engine.web.paths import UnsafePathError, UnusablePathError, relative, resolve_inside
from engine.web.routes_review import reviews
from engine.web.runs import RunRefusedError, confirms, plan_preview
from engine.web.specs import (
    ChangedOnDiskError,
    SpecInfo,
    list_specs,
    resolve_spec,
    save_spec_text,
    spec_info,
)

__all__ = ["INLINE_CSP", "MEDIA_TYPES", "routes"]

log = logging.getLogger(__name__)

#: Content types of the files a run writes (downloads).
MEDIA_TYPES = {
    ".ttl": "text/turtle; charset=utf-8",
    ".nt": "application/n-triples; charset=utf-8",
    ".nq": "application/n-quads; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".tsv": "text/tab-separated-values; charset=utf-8",
    ".sssom.tsv": "text/tab-separated-values; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".yaml": "text/yaml; charset=utf-8",
    ".yml": "text/yaml; charset=utf-8",
}
#: An HTML file of the folder is shown from this origin: sandboxed (no script, a
#: unique origin), it cannot use the interface with the user's cookie.
INLINE_CSP = "sandbox"


def _refused(request: Request, error: Exception, status: int = 403) -> Response:
    if isinstance(error, UnusablePathError):
        status = 400  # no file can have that name: a bad request, not a forbidden one
    return page(request, "message.html", status, title="Refused", error=str(error))


def _spec_path(request: Request) -> Path | Response:
    """The resolved spec file of the request's ``path``, or the page refusing it."""
    try:
        return resolve_spec(web(request).root, request.path_params["path"])
    except UnsafePathError as exc:
        return _refused(request, exc)
    except FileNotFoundError as exc:
        return _refused(request, exc, 404)


def _lines(info: SpecInfo) -> list[tuple[int, str, list[str]]]:
    """The spec's lines, each with the problems found on it."""
    by_line: dict[int, list[str]] = {}
    for problem in info.problems:
        where = f"{problem.path}: " if problem.path else ""
        by_line.setdefault(problem.line, []).append(
            f"line {problem.line}, column {problem.column}: {where}{problem.message}"
        )
    lines = info.text.splitlines() or [""]
    return [(n, text, by_line.get(n, [])) for n, text in enumerate(lines, 1)]


def _listing(root: Path, budget: Budget) -> list[SpecInfo]:
    out = []
    for rel in list_specs(root):
        try:
            out.append(spec_info(root, resolve_inside(root, rel), budget))
        except (OSError, UnsafePathError):
            continue
    return out


async def index(request: Request) -> Response:
    """Every spec of the folder with its kind, validation state and last run."""
    state = web(request)
    last = state.runs.last_runs()
    # Validating every spec reads files: in a thread, the event loop keeps serving.
    infos = await run_in_threadpool(_listing, state.root, state.budget)
    return page(request, "index.html", specs=[(info, last.get(info.path)) for info in infos])


async def _spec_page(
    request: Request, path: Path, status: int = 200, **context: object
) -> Response:
    state = web(request)
    info = await run_in_threadpool(spec_info, state.root, path, state.budget)
    context.setdefault("text", info.text)
    context.setdefault("sha256", info.sha256)
    return page(
        request,
        "spec.html",
        status,
        info=info,
        lines=_lines(info),
        last=state.runs.last_runs().get(info.path),
        confirm=confirms(info.kind),
        reviews=reviews(info.kind),
        **context,
    )


async def spec(request: Request) -> Response:
    """One spec: its YAML with the problems on their lines, its last run, run and edit."""
    path = _spec_path(request)
    if isinstance(path, Response):
        return path
    return await _spec_page(request, path)


async def save(request: Request) -> Response:
    """Save an edited spec: validated first, refused when the file changed meanwhile.

    Only a spec file can be written (``.yaml``/``.yml``, no hidden folder): not
    a data file, not the interface's own state.
    """
    path = _spec_path(request)
    if isinstance(path, Response):
        return path
    form = await request.form()
    text = str(form.get("text", "")).replace("\r\n", "\n")
    sha = str(form.get("sha256", ""))
    try:
        # In a thread: validation reads files, and the event loop serves the others.
        await run_in_threadpool(save_spec_text, path, text, sha, web(request).budget)
    except ChangedOnDiskError as exc:
        return await _spec_page(request, path, 409, error=str(exc), text=text, sha256=sha)
    except SpecError as exc:
        return await _spec_page(
            request, path, 422, error="Not saved: " + exc.render(), text=text, sha256=sha
        )
    return RedirectResponse(f"/spec/{request.path_params['path']}?saved=1", status_code=303)


async def plan(request: Request) -> Response:
    """The plan of a spec (``engine plan``), with the confirmation form of image and pool specs.

    Computing a plan reads the sources and connects to the hosts of the spec:
    only a POST does it (a form of this site, see SameOrigin), never a GET a
    link or an image of another page could trigger. A GET shows the button.
    """
    path = _spec_path(request)
    if isinstance(path, Response):
        return path
    state = web(request)
    root = state.root
    info = await run_in_threadpool(spec_info, root, path, state.budget)
    confirm = confirms(info.kind)
    if request.method != "POST":
        return page(request, "plan.html", info=info, plan=None, ask=True, confirm=confirm)
    status = 200
    try:
        text = await run_in_threadpool(plan_preview, root, path, state.environment, state.budget)
        error = None
    except (EngineError, RunRefusedError) as exc:
        text, status = "", 422
        error = exc.render() if isinstance(exc, EngineError) else str(exc)
    except Exception as exc:  # a bug: said on this spec's page, logged with its traceback
        log.exception("internal error while planning %s", info.path)
        text, status = "", 500
        error = f"internal error: {type(exc).__name__}: {exc}"
    return page(request, "plan.html", status, info=info, plan=text, error=error, confirm=confirm)


async def files(request: Request) -> Response:
    """A file of the folder: an output to download, or an HTML report to look at."""
    root = web(request).root
    rel = request.path_params["path"]
    try:
        path = resolve_inside(root, rel)
    except UnsafePathError as exc:
        return _refused(request, exc)
    try:
        found = path.is_file()
    except OSError:  # ENAMETOOLONG past the checks of resolve_inside, ELOOP...
        found = False
    # Hidden files (the interface's own state, .git, .env...) are no download,
    # also through a symlink to them.
    parts = (*Path(rel).parts, *Path(relative(root, path)).parts)
    hidden = any(part.startswith(".") for part in parts)
    if not found or hidden:
        return _refused(request, FileNotFoundError(f"no such file: {rel}"), 404)
    name = path.name
    media = next(
        (t for suffix, t in sorted(MEDIA_TYPES.items(), key=lambda i: -len(i[0]))
         if name.endswith(suffix)),
        "application/octet-stream",
    )  # fmt: skip
    inline = name.endswith(".html") and "download" not in request.query_params
    return FileResponse(
        path,
        media_type=media,
        filename=None if inline else name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"content-security-policy": INLINE_CSP} if inline else None,
    )


def routes() -> list[Route]:
    """The browse routes."""
    return [
        Route("/", index),
        Route("/spec/{path:path}", spec),
        Route("/save/{path:path}", save, methods=["POST"]),
        Route("/plan/{path:path}", plan, methods=["GET", "POST"]),
        Route("/files/{path:path}", files),
    ]
