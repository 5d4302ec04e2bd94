"""Browse: the specs of the folder, one spec with its problems, editing, file downloads."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from engine.errors import EngineError, SpecError
from engine.web.app import page, web
from engine.web.paths import UnsafePathError, resolve_inside
from engine.web.runs import CONFIRM_KINDS, plan_preview
from engine.web.specs import ChangedOnDiskError, SpecInfo, list_specs, save_spec_text, spec_info

__all__ = ["MEDIA_TYPES", "routes"]

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


def _refused(request: Request, error: Exception, status: int = 403) -> Response:
    return page(request, "message.html", status, title="Refused", error=str(error))


def _spec_path(request: Request) -> Path:
    """The resolved spec file of the request's ``path`` (UnsafePathError, FileNotFoundError)."""
    path = resolve_inside(web(request).root, request.path_params["path"])
    if not path.is_file():
        raise FileNotFoundError(f"no such spec: {request.path_params['path']}")
    return path


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


async def index(request: Request) -> Response:
    """Every spec of the folder with its kind, validation state and last run."""
    state = web(request)
    last = state.runs.last_runs()
    specs = []
    for rel in list_specs(state.root):
        try:
            info = spec_info(state.root, resolve_inside(state.root, rel))
        except (OSError, UnsafePathError):
            continue
        specs.append((info, last.get(rel)))
    return page(request, "index.html", specs=specs)


def _spec_page(request: Request, path: Path, status: int = 200, **context: object) -> Response:
    state = web(request)
    info = spec_info(state.root, path)
    context.setdefault("text", info.text)
    context.setdefault("sha256", info.sha256)
    return page(
        request,
        "spec.html",
        status,
        info=info,
        lines=_lines(info),
        last=state.runs.last_runs().get(info.path),
        confirm=info.kind in CONFIRM_KINDS,
        **context,
    )


async def spec(request: Request) -> Response:
    """One spec: its YAML with the problems on their lines, its last run, run and edit."""
    try:
        path = _spec_path(request)
    except UnsafePathError as exc:
        return _refused(request, exc)
    except FileNotFoundError as exc:
        return _refused(request, exc, 404)
    return _spec_page(request, path)


async def save(request: Request) -> Response:
    """Save an edited spec: validated first, refused when the file changed meanwhile."""
    try:
        path = _spec_path(request)
    except UnsafePathError as exc:
        return _refused(request, exc)
    except FileNotFoundError as exc:
        return _refused(request, exc, 404)
    form = await request.form()
    text = str(form.get("text", "")).replace("\r\n", "\n")
    sha = str(form.get("sha256", ""))
    try:
        save_spec_text(path, text, sha)
    except ChangedOnDiskError as exc:
        return _spec_page(request, path, 409, error=str(exc), text=text, sha256=sha)
    except SpecError as exc:
        return _spec_page(
            request, path, 422, error="Not saved: " + exc.render(), text=text, sha256=sha
        )
    return RedirectResponse(f"/spec/{request.path_params['path']}?saved=1", status_code=303)


async def plan(request: Request) -> Response:
    """The plan of a spec (``engine plan``), with the confirmation form of image and pool specs."""
    try:
        path = _spec_path(request)
    except UnsafePathError as exc:
        return _refused(request, exc)
    except FileNotFoundError as exc:
        return _refused(request, exc, 404)
    from starlette.concurrency import run_in_threadpool

    info = spec_info(web(request).root, path)
    try:
        text = await run_in_threadpool(plan_preview, path)
        error = None
    except EngineError as exc:
        text, error = "", exc.render()
    return page(
        request, "plan.html", 200 if error is None else 422, info=info, plan=text, error=error,
        confirm=info.kind in CONFIRM_KINDS,
    )  # fmt: skip


async def files(request: Request) -> Response:
    """A file of the folder: an output to download, or an HTML report to look at."""
    root = web(request).root
    rel = request.path_params["path"]
    try:
        path = resolve_inside(root, rel)
    except UnsafePathError as exc:
        return _refused(request, exc)
    if not path.is_file() or ".specengine" in Path(rel).parts:
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
    )


def routes() -> list[Route]:
    """The browse routes."""
    return [
        Route("/", index),
        Route("/spec/{path:path}", spec),
        Route("/save/{path:path}", save, methods=["POST"]),
        Route("/plan/{path:path}", plan),
        Route("/files/{path:path}", files),
    ]
