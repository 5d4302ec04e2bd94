"""Review: the pairs of a spec's review band, accepted or rejected into its curation file.

The page lists the pairs of the spec's latest review output that its
curation files do not decide yet (the kind reads them:
engine.kinds.Kind.review_queue). A decision is a POST (a form of this site,
see SameOrigin): accepted, a must-link; rejected, a cannot-link; appended
atomically, under a lock, to the spec's curation file inside the served
folder (the first the spec names there, else ``STEM-curation.sssom.tsv``
beside the spec, which the page asks the user to add to ``curation:``). A
spec that reads or writes outside the folder, or names an environment
variable, is refused as its runs are (engine.web.runs.check_runnable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

import engine as api
from engine import kinds
from engine.errors import EngineError
from engine.web.pages import page, web
from engine.web.paths import UnsafePathError, UnusablePathError, inside, relative
from engine.web.runs import RunRefusedError, check_runnable
from engine.web.specs import load, resolve_spec

__all__ = ["DEFAULT_AUTHOR", "reviews", "routes"]

#: The ``author_id`` of a decision when neither the form nor ``engine serve --author`` gives one.
DEFAULT_AUTHOR = "urn:specengine:reviewer"
#: An author: an IRI or a CURIE (an ORCID), no space, no control character.
_AUTHOR = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")
_DECISIONS = ("accept", "reject", "skip")


def reviews(kind: object) -> bool:
    """Whether specs of this kind have a review page (its link on the spec's page)."""
    found = kinds.find(kind)
    return found is not None and found.reviews


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Review:
    """A spec's review: its kind, spec, queue and the curation file decisions go to."""

    rel: str
    path: Path
    kind: kinds.Kind
    spec: Any
    queue: Any
    target: Path
    #: Whether the spec's ``curation:`` names the target (else the page says to add it).
    named: bool
    #: Where the near-misses of a spec without a review band are written.
    near: Path


def _review(request: Request) -> _Review:
    """Load the spec of the request's path and read its queue (in a thread: reads files)."""
    state = web(request)
    rel = request.path_params["path"]
    try:
        path = resolve_spec(state.root, rel)
    except UnsafePathError as exc:
        raise _Refused(400 if isinstance(exc, UnusablePathError) else 403, str(exc)) from None
    except FileNotFoundError as exc:
        raise _Refused(404, str(exc)) from None
    rel = relative(state.root, path)
    try:
        spec = load(path, state.budget)
    except EngineError as exc:
        raise _Refused(422, f"{rel} is not a valid spec:\n{exc.render()}") from None
    kind = kinds.find(spec.kind)
    if kind is None or not kind.reviews:
        raise _Refused(404, f"{rel}: a {spec.kind} spec has no pairs to review")
    try:
        check_runnable(state.root, rel, spec, state.environment)
    except RunRefusedError as exc:
        raise _Refused(403, str(exc)) from None
    curation = [p for p in kind.curation_files(spec) if inside(state.root, p)]
    target = curation[0] if curation else path.with_name(f"{path.stem}-curation.sssom.tsv")
    near = state.root / ".specengine" / "near-misses" / (rel.replace("/", "--") + ".csv")
    try:
        queue = kind.review_queue(spec, [*curation, *([] if curation else [target])], near)
    except EngineError as exc:
        raise _Refused(422, exc.render()) from None
    return _Review(rel, path, kind, spec, queue, target, bool(curation), near)


def _context(review: _Review, root: Path) -> dict[str, Any]:
    queue = review.queue
    near = review.kind.near_miss_spec(review.spec, review.near) is not None
    found = queue.source is not None
    return {
        "spec": review.rel,
        "queue": queue,
        "near": near,
        "near_date": (
            datetime.fromtimestamp(review.near.stat().st_mtime, UTC).isoformat(timespec="seconds")
            if near and found
            else None
        ),
        "source": relative(root, queue.source) if found and not near else None,
        "target": relative(root, review.target),
        "target_name": review.target.name,
        "named": review.named,
    }


async def show(request: Request) -> Response:
    """The pairs left to review, each with its values, normalised values and evidence."""
    try:
        review = await run_in_threadpool(_review, request)
    except _Refused as exc:
        return page(request, "message.html", exc.status, title="Refused", error=str(exc))
    state = web(request)
    return page(
        request,
        "review.html",
        author=state.author,
        **_context(review, state.root),
    )


def _decide(request: Request, form: dict[str, str]) -> tuple[int, str, int]:
    """Record one decision: (status, message, pairs left)."""
    state = web(request)
    decision = form.get("decision", "")
    if decision not in _DECISIONS:
        raise _Refused(400, f"decision must be accept, reject or skip, not {decision!r}")
    author = form.get("author", "").strip() or state.author
    if not _AUTHOR.fullmatch(author):
        raise _Refused(400, "author: an IRI or a CURIE (an ORCID), without spaces")
    review = _review(request)
    pair = (form.get("subject", ""), form.get("object", ""))
    left = len(review.queue.pairs)
    if decision == "skip":
        return 200, "skipped", left
    if not any((p.align_id, p.target_id) == pair for p in review.queue.pairs):
        raise _Refused(409, f"{pair[0]} -> {pair[1]} is not a pair left to review (decided?)")
    date = datetime.now(UTC).date().isoformat()
    try:
        review.kind.curate(review.spec, review.target, pair, decision == "accept", author, date)
    except ValueError as exc:  # decided the other way meanwhile (another tab)
        raise _Refused(409, str(exc)) from None
    shown = relative(state.root, review.target)
    done = "accepted" if decision == "accept" else "rejected"
    message = f"{done}: {pair[0]} -> {pair[1]}, written to {shown}"
    if not review.named:
        message += _name_curation(request, review)
    return 200, message, left - 1


def _name_curation(request: Request, review: _Review) -> str:
    """Add the curation file to a spec that names none; what the message adds."""
    state = web(request)
    before = review.path.read_bytes()
    edited = review.kind.name_curation(review.path, review.target)
    try:
        spec = load(review.path, state.budget)
    except EngineError:  # never leave a spec the loader refuses
        if edited:
            review.path.write_bytes(before)
    else:  # named here, or by another tab's decision an instant before
        if review.target in review.kind.curation_files(spec):
            return f"; {review.rel} now names it in curation:"
    return f"; add `curation: {review.target.name}` to {review.rel} so that its runs apply it"


def _near_misses(request: Request) -> None:
    """Run the spec with a band just past its threshold, writing only its near-misses."""
    state = web(request)
    review = _review(request)
    derived = review.kind.near_miss_spec(review.spec, review.near)
    if derived is None:
        raise _Refused(409, f"{review.rel} has a review band: run it, its pairs show here")
    try:
        plan = api.build_plan(derived, review.path)
        api.run(plan, derived, environment=state.environment)
    except EngineError as exc:
        raise _Refused(422, exc.render()) from None


async def near_misses(request: Request) -> Response:
    """Find the near-misses of a spec without a review band (a POST: it reads the sources)."""
    try:
        await run_in_threadpool(_near_misses, request)
    except _Refused as exc:
        return page(request, "message.html", exc.status, title="Refused", error=str(exc))
    return RedirectResponse(f"/review/{request.path_params['path']}", status_code=303)


async def decide(request: Request) -> Response:
    """Accept, reject or skip one pair (JSON for the page's script, else a redirect)."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        status, message, left = await run_in_threadpool(_decide, request, form)
    except _Refused as exc:
        if wants_json:
            return JSONResponse({"ok": False, "message": str(exc)}, status_code=exc.status)
        return page(request, "message.html", exc.status, title="Refused", error=str(exc))
    if wants_json:
        return JSONResponse({"ok": True, "message": message, "left": left}, status_code=status)
    return RedirectResponse(f"/review/{request.path_params['path']}", status_code=303)


def routes() -> list[Route]:
    """The review routes."""
    return [
        Route("/review/{path:path}", show),
        Route("/decide/{path:path}", decide, methods=["POST"]),
        Route("/near-misses/{path:path}", near_misses, methods=["POST"]),
    ]
