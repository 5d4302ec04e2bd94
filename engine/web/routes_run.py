"""Runs: start one (confirmed for image and pool specs), follow it live, cancel it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from engine.web.pages import page, web
from engine.web.paths import UnsafePathError
from engine.web.runs import RunRefusedError
from engine.web.specs import resolve_spec

__all__ = ["KEEP_ALIVE_S", "POLL_S", "routes"]

#: How often a page following a run looks for new events, and how often it is
#: sent a comment to keep the connection open. The follower polls in the event
#: loop: a thread blocked per open page would soon take the whole thread pool
#: (40 threads), and with it every validation and save.
POLL_S = 0.1
KEEP_ALIVE_S = 5.0


async def start(request: Request) -> Response:
    """Start a run of the form's ``spec``; a refusal is a page saying why (409)."""
    state = web(request)
    form = await request.form()
    rel = str(form.get("spec", ""))
    try:
        path = resolve_spec(state.root, rel)
        # In a thread: the spec is loaded and validated, which reads its files.
        run = await run_in_threadpool(
            state.runs.start, path, confirmed=form.get("confirm") == "yes"
        )
    except (UnsafePathError, FileNotFoundError, RunRefusedError) as exc:
        return page(request, "message.html", 409, title="Run refused", error=str(exc), spec=rel)
    return RedirectResponse(f"/runs/{run.record.id}", status_code=303)


async def show(request: Request) -> Response:
    """A run: live progress while it runs, then its outcome and its outputs."""
    record = web(request).runs.record(request.path_params["run_id"])
    if record is None:
        return page(request, "message.html", 404, title="No such run", error="no such run")
    return page(request, "run.html", run=record)


async def events(request: Request) -> Response:
    """Server-sent events of a run: ``step``, ``log`` and, last, ``end``."""
    runs = web(request).runs
    run_id = request.path_params["run_id"]
    run = runs.live(run_id)
    record = runs.record(run_id)

    async def stream() -> AsyncIterator[str]:
        if run is None:
            status = record.status if record else "unknown"
            message = record.message if record else "no such run"
            yield _event({"type": "end", "status": status, "message": message})
            return
        index, quiet = 0, 0.0
        while True:
            batch = run.events_since(index)
            if not batch:
                if quiet >= KEEP_ALIVE_S:
                    yield ": keep-alive\n\n"
                    if await request.is_disconnected():
                        return
                    quiet = 0.0
                await anyio.sleep(POLL_S)
                quiet += POLL_S
                continue
            quiet = 0.0
            for item in batch:
                yield _event(item)
                if item["type"] == "end":
                    return
            index += len(batch)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def _event(data: dict[str, object]) -> str:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n"


async def cancel(request: Request) -> Response:
    """Ask a run to stop before its next step (JSON for the page's script, else a redirect)."""
    run_id = request.path_params["run_id"]
    asked = web(request).runs.cancel(run_id)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"cancelling": asked})
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


def routes() -> list[Route]:
    """The run routes."""
    return [
        Route("/run", start, methods=["POST"]),
        Route("/runs/{run_id}", show),
        Route("/runs/{run_id}/events", events),
        Route("/runs/{run_id}/cancel", cancel, methods=["POST"]),
    ]
