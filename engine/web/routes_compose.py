"""Compose an alignment spec in steps: sources, attributes, blocking and threshold, outputs."""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from engine.alignment.write import FORMATS
from engine.errors import SpecError
from engine.web.compose import (
    NAME_LENGTH,
    Draft,
    PreviewError,
    attribute_preview,
    check_columns,
    finite_number,
    parse_yaml_value,
    source_preview,
    spec_yaml,
)
from engine.web.pages import page, web
from engine.web.paths import UnsafePathError, resolve_inside
from engine.web.security import mib
from engine.web.specs import ChangedOnDiskError, digest, save_spec_text, validate_text
from engine.web.widgets import (
    RULE_INPUTS,
    blocking_entry,
    metric_entry,
    named_value,
    normaliser_entries,
    read_options,
)
from schemas.alignment import BLOCKINGS, METRICS

__all__ = ["routes"]

STEPS = ("sources", "attributes", "settings", "outputs", "review")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\.(csv|tsv)$")
#: Blocking rules offered by the form (on one attribute, or columns for rules on
#: points), with their options; groups (union, pipeline): the YAML box.
FORM_BLOCKINGS = (
    "none", "key", "qgram", "sorted_neighbourhood", "minhash", "tfidf",
    "radius", "kmeans",
)  # fmt: skip
#: Rules on points: they may read columns ([lat, lon]) rather than an attribute.
POINT_BLOCKINGS = ("radius", "kmeans")
#: Offered in the encoding field of file sources; any name Python knows is accepted.
ENCODINGS = (
    "utf-8", "utf-8-sig", "latin-1", "cp1252", "iso-8859-15", "utf-16", "utf-16-le",
    "utf-16-be", "cp850", "mac-roman",
)  # fmt: skip
#: Where a source says how to fix its encoding, the form has a field for it.
_ENCODING_HINT = ("set `encoding:` in the source", "choose its encoding in the form")
#: The metric chosen when the attributes page opens.
DEFAULT_METRIC = "levenshtein"
#: File name suffix -> (output key, label): the formats that need only a file name.
OUTPUT_CHOICES = FORMATS.offered()


def _draft(request: Request) -> Draft | None:
    return web(request).drafts.get(request.path_params["draft_id"])


def _step(request: Request, draft: Draft, step: str, status: int = 200, **context: Any) -> Response:
    return page(
        request,
        f"compose_{step}.html",
        status,
        draft=draft,
        step=step,
        steps=STEPS,
        metrics=sorted(METRICS),
        normaliser_entries=normaliser_entries(),
        metric=metric_entry(DEFAULT_METRIC),
        blockings=FORM_BLOCKINGS,
        blocking_entries=[blocking_entry(b) for b in FORM_BLOCKINGS if b != "none"],
        point_blockings=POINT_BLOCKINGS,
        all_blockings=sorted(BLOCKINGS),
        encodings=ENCODINGS,
        output_choices=OUTPUT_CHOICES,
        **context,
    )


def _missing(request: Request) -> Response:
    return page(request, "message.html", 404, title="No such draft", error="no such draft")


async def start(request: Request) -> Response:
    """The first page (GET) and the new draft (POST, with its name)."""
    if request.method == "GET":
        return page(request, "compose_new.html", steps=STEPS)
    form = await request.form()
    name = str(form.get("name", "")).strip()
    state = web(request)
    try:
        state.drafts.check_name(name)  # before any file system call on it (a name too long)
        if resolve_inside(state.root, f"{name}.yaml").exists():
            return page(
                request, "compose_new.html", 409, steps=STEPS, name=name,
                error=f"{name}.yaml already exists: choose another name, or edit that spec",
            )  # fmt: skip
        draft = state.drafts.new(name)
    except (ValueError, UnsafePathError) as exc:
        return page(request, "compose_new.html", 422, steps=STEPS, error=str(exc), name=name)
    return RedirectResponse(f"/compose/{draft.id}/sources", status_code=303)


async def step_page(request: Request) -> Response:
    """One step's page."""
    draft = _draft(request)
    step = request.path_params["step"]
    if draft is None or step not in STEPS:
        return _missing(request)
    context: dict[str, Any] = {}
    if step == "review":
        context["yaml"], context["problems"] = await _review(request, draft)
    return _step(request, draft, step, **context)


async def _review(request: Request, draft: Draft) -> tuple[str, str | None]:
    try:
        text = spec_yaml(draft.spec())
    except ValueError as exc:  # a draft written before its values were checked
        return "", f"this draft cannot be written as YAML: {exc}"
    try:
        # In a thread: validation reads the data files, and the event loop serves others.
        state = web(request)
        target = resolve_inside(state.root, draft.file)
        await run_in_threadpool(validate_text, target, text, state.budget)
    except SpecError as exc:
        return text, exc.render()
    return text, None


# --------------------------------------------------------------------------- sources


def _id_spec(text: str) -> str | dict[str, str]:
    text = text.strip()
    return {"template": text} if "{" in text else text


async def _store_upload(
    request: Request, upload: UploadFile, source: dict[str, Any], role: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check an uploaded file, preview it from a temporary file, then move it into data/."""
    state = web(request)
    name = Path(upload.filename or "").name
    if not _FILE_NAME.match(name) or len(name) > NAME_LENGTH:
        raise PreviewError(
            "upload a .csv or .tsv file whose name has only letters, digits, '_', '.', '-'"
            f" (at most {NAME_LENGTH} characters)"
        )
    if upload.size is not None and upload.size > state.max_upload:
        raise PreviewError(
            f"The upload is too big ({mib(upload.size)}): the limit is {mib(state.max_upload)}."
            " Nothing was written."
        )
    folder = resolve_inside(state.root, "data")
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".upload")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            while chunk := await upload.read(1 << 16):
                handle.write(chunk)
        kind = "tsv" if name.endswith(".tsv") else "csv"
        trial = {**source, kind: f"data/{temp.name}"}
        try:
            preview = await run_in_threadpool(source_preview, trial, role, state.root)
        except PreviewError as exc:  # name the file as uploaded, not its temporary
            text = str(exc).replace(str(temp), name).replace(f"data/{temp.name}", name)
            raise PreviewError(text) from None
        target = _claim(temp, folder, name)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return {**source, kind: f"data/{target.name}"}, preview


def _claim(temp: Path, folder: Path, name: str) -> Path:
    """Give ``temp`` the name ``data/NAME``, or ``NAME-2``, ``NAME-3``... when taken.

    A hard link fails when the name exists, atomically: two uploads of the same
    name at once get two names, and a data file is never overwritten. The
    temporary is removed by the caller.
    """
    stem, dot, suffix = name.partition(".")
    number = 1
    while True:
        target = folder / (name if number == 1 else f"{stem}-{number}{dot}{suffix}")
        try:
            os.link(temp, target)
        except FileExistsError:
            number += 1
            continue
        return target


def _encoding(form: FormData) -> str | None:
    """The encoding typed or chosen, or None for UTF-8 (the default: not written)."""
    text = str(form.get("encoding", "")).strip()
    if not text:
        return None
    try:
        codec = codecs.lookup(text)
    except LookupError:
        codec = None
    # base64, rot13...: codecs, but not of bytes to text.
    if codec is None or not codec._is_text_encoding:
        raise PreviewError(
            f"encoding: unknown encoding {text!r} (for example: {', '.join(ENCODINGS[:6])})"
        )
    return None if codec.name == "utf-8" else text


def _remote_source(form: FormData, kind: str) -> dict[str, Any]:
    endpoint = str(form.get("endpoint", "")).strip()
    query = str(form.get("query", "")).replace("\r\n", "\n").strip()
    source: dict[str, Any] = {kind: endpoint, "query": query}
    if kind == "rql":
        source["columns"] = [
            c.strip() for c in str(form.get("columns", "")).split(",") if c.strip()
        ]
    return source


async def source(request: Request) -> Response:
    """Set one side's source from an upload, a file of the folder, SPARQL or RQL; preview it."""
    draft = _draft(request)
    role = request.path_params["role"]
    if draft is None or role not in ("align", "target"):
        return _missing(request)
    state = web(request)
    form = await request.form(max_part_size=state.max_upload + 1)
    kind = str(form.get("kind", "upload"))
    id_text = str(form.get("id", "")).strip()
    try:
        if not id_text:
            raise PreviewError(
                "give the id: a column holding IRIs, or a template like http://example.org/{id}"
            )
        base: dict[str, Any] = {}
        if kind in ("sparql", "rql"):
            base = _remote_source(form, kind)
        base["id"] = _id_spec(id_text)
        delimiter = str(form.get("delimiter", "")).strip()
        if kind in ("upload", "file") and delimiter and delimiter != ",":
            base["delimiter"] = "\t" if delimiter in ("\\t", "tab") else delimiter
        encoding = _encoding(form) if kind in ("upload", "file") else None
        if encoding:
            base["encoding"] = encoding
        if kind == "upload":
            upload = form.get("file")
            if not isinstance(upload, UploadFile) or not upload.filename:
                raise PreviewError("choose a file to upload")
            spec_source, preview = await _store_upload(request, upload, base, role)
        elif kind == "file":
            rel = str(form.get("path", "")).strip()
            resolve_inside(state.root, rel)
            key = "tsv" if rel.endswith(".tsv") else "csv"
            spec_source = {key: rel, **base}
            preview = await run_in_threadpool(source_preview, spec_source, role, state.root)
        elif kind in ("sparql", "rql"):
            spec_source = base
            preview = await run_in_threadpool(source_preview, spec_source, role, state.root)
        else:
            raise PreviewError(f"unknown source kind {kind!r}")
    except (PreviewError, UnsafePathError) as exc:
        error = f"{role} source: {exc}".replace(*_ENCODING_HINT)
        return _step(request, draft, "sources", 422, error=error, role=role)
    # The key of the file/endpoint first, the id last, as people write them.
    first = [k for k in ("csv", "tsv", "sparql", "rql") if k in spec_source]
    ordered = {k: spec_source[k] for k in [*first, *spec_source] if k != "id"}
    ordered["id"] = spec_source["id"]
    draft.sources[role] = ordered
    draft.previews[role] = preview
    state.drafts.save(draft)
    return _step(
        request, draft, "sources", message=f"{role} source read: {preview['count']} records"
    )


# --------------------------------------------------------------------------- attributes


def _normalise(form: FormData, label: str) -> list[Any]:
    """The chosen normalisers in the order chosen (a chain), then the advanced YAML list.

    The options of the N-th are the fields ``normaliser.N.FIELD``: a chain may
    hold one normaliser twice (two regular expressions).
    """
    entries = {e.name: e for e in normaliser_entries()}
    out = []
    for index, value in enumerate(form.getlist("normaliser")):
        entry = entries.get(str(value))
        if entry is None:
            raise PreviewError(f"{label} › normalise: unknown normaliser {str(value)!r}")
        where = f"{label} › normalise {index + 1}: {entry.name}"
        options = read_options(entry, form, where, prefix=f"normaliser.{index}")
        out.append(named_value(entry, options))
    advanced = parse_yaml_value(str(form.get("normalise", "")), "normalise")
    if advanced is not None:
        out.extend(advanced if isinstance(advanced, list) else [advanced])
    return out


def _metric(form: FormData, label: str) -> Any:
    """The metric with the options set in its fields (and the advanced YAML mapping over them)."""
    metric = str(form.get("metric", "")).strip()
    extra = parse_yaml_value(str(form.get("options", "")), "metric options")
    if metric not in METRICS:  # the spec's validation names the valid ones
        return {metric: extra} if extra is not None else metric
    entry = metric_entry(metric)
    if extra is None or isinstance(extra, dict):
        return named_value(entry, read_options(entry, form, label, extra))
    if read_options(entry, form, label):
        raise PreviewError(f"{label} › metric options: give a mapping, or leave the fields empty")
    return {metric: extra}


def _attribute(form: FormData) -> dict[str, Any]:
    name = str(form.get("name", "")).strip()
    label = name or "the attribute"
    out: dict[str, Any] = {"name": name}
    for role in ("align", "target"):
        column = str(form.get(role, "")).strip()
        if column and column != name:
            out[role] = column
    normalise = _normalise(form, label)
    if normalise:
        out["normalise"] = normalise
    out["metric"] = _metric(form, label)
    weight = str(form.get("weight", "")).strip()
    number = finite_number(weight, "weight") if weight else 1.0
    if number != 1:
        out["weight"] = int(number) if number.is_integer() else number
    missing = str(form.get("missing", "")).strip()
    if missing and missing != "max":
        out["missing"] = missing if missing == "ignore" else finite_number(missing, "missing")
    return out


async def attribute_add(request: Request) -> Response:
    """Add an attribute (checked on the sample values first)."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    form = await request.form()
    try:
        attribute = _attribute(form)
        await run_in_threadpool(attribute_preview, draft, attribute)
    except (PreviewError, ValueError) as exc:
        return _step(request, draft, "attributes", 422, error=f"attribute not added: {exc}")
    draft.attributes = [a for a in draft.attributes if a.get("name") != attribute["name"]]
    draft.attributes.append(attribute)
    web(request).drafts.save(draft)
    return RedirectResponse(f"/compose/{draft.id}/attributes", status_code=303)


async def attribute_delete(request: Request) -> Response:
    """Remove an attribute by its position."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    index = int(request.path_params["index"])
    if 0 <= index < len(draft.attributes):
        del draft.attributes[index]
        web(request).drafts.save(draft)
    return RedirectResponse(f"/compose/{draft.id}/attributes", status_code=303)


async def attribute_preview_fragment(request: Request) -> Response:
    """The live preview of the attribute being typed: an HTML fragment for the page's script."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    form = await request.form()
    try:
        preview = await run_in_threadpool(attribute_preview, draft, _attribute(form))
        error = None
    except (PreviewError, ValueError) as exc:
        preview, error = None, str(exc)
    return page(request, "_attribute_preview.html", preview=preview, error=error)


async def metric_fields_fragment(request: Request) -> Response:
    """The option fields of one metric (``?metric=NAME``): the page swaps them in."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    name = request.query_params.get("metric", "")
    if name not in METRICS:
        valid = ", ".join(sorted(METRICS))
        return page(request, "_metric_fields.html", 404,
                    fields_error=f"metric: unknown {name!r} (valid: {valid})")  # fmt: skip
    return page(request, "_metric_fields.html", entry=metric_entry(name))


# --------------------------------------------------------------------------- settings, outputs


async def settings(request: Request) -> Response:
    """Blocking, threshold and matching."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    form = await request.form()
    try:
        rule = str(form.get("blocking", "none"))
        custom = parse_yaml_value(str(form.get("blocking_yaml", "")), "blocking")
        if custom is not None:
            draft.blocking = custom
        elif rule == "none":
            draft.blocking = "none"
        elif rule in FORM_BLOCKINGS:
            draft.blocking = _blocking_rule(draft, form, rule)
        else:
            raise PreviewError(f"unknown blocking rule {rule!r}")
        threshold = finite_number(str(form.get("threshold", "")), "threshold")
        draft.threshold = int(threshold) if threshold.is_integer() else threshold
        matching = str(form.get("matching", "best"))
        if matching not in ("all", "best", "one-to-one"):
            raise PreviewError(f"unknown matching {matching!r}")
        draft.matching = matching
    except (PreviewError, ValueError) as exc:
        return _step(request, draft, "settings", 422, error=str(exc))
    web(request).drafts.save(draft)
    return RedirectResponse(f"/compose/{draft.id}/outputs", status_code=303)


def _rule_columns(draft: Draft, form: FormData, rule: str, role: str) -> str | list[str] | None:
    """The columns typed for one side of a rule on points: one name, a list, or None."""
    text = str(form.get(f"blocking.{rule}.{role}", ""))
    columns = [c.strip() for c in text.split(",") if c.strip()]
    if not columns:
        return None
    if draft.previews.get(role):
        try:
            check_columns(columns, draft.columns(role))
        except PreviewError as exc:
            raise PreviewError(f"{rule} › {role}: {exc}") from None
    return columns[0] if len(columns) == 1 else columns


def _blocking_rule(draft: Draft, form: FormData, rule: str) -> dict[str, Any]:
    """One rule with its inputs (an attribute, or columns) and the options set in its fields."""
    inputs: dict[str, Any] = {}
    attribute = str(form.get("blocking_attribute", "")).strip()
    if attribute:
        inputs["attribute"] = attribute
    if rule in POINT_BLOCKINGS:
        for role in ("align", "target"):
            columns = _rule_columns(draft, form, rule, role)
            if columns is not None:
                inputs[role] = columns
        if "attribute" not in inputs and "align" not in inputs:
            raise PreviewError(f"{rule}: give an attribute, or the align columns")
        if "target" not in inputs and "align" in inputs and draft.previews.get("target"):
            # The target side reads the align columns: say so if it has none of that name.
            align = inputs["align"]
            try:
                check_columns([align] if isinstance(align, str) else align, draft.columns("target"))
            except PreviewError as exc:
                raise PreviewError(f"{rule} › target: {exc}; give the target columns") from None
    elif not attribute:
        raise PreviewError(f"{rule} blocking needs an attribute")
    options = read_options(blocking_entry(rule), form, rule, inputs)
    return {rule: inputs | {k: v for k, v in options.items() if k not in RULE_INPUTS}}


async def outputs(request: Request) -> Response:
    """The outputs: RDF, CSV, SSSOM, HTML report files under one base name."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    form = await request.form()
    base = str(form.get("base", "")).strip() or f"out/{draft.name}"
    try:
        resolve_inside(web(request).root, base)
    except UnsafePathError as exc:
        return _step(request, draft, "outputs", 422, error=str(exc))
    chosen = form.getlist("formats")
    draft.outputs = [
        {OUTPUT_CHOICES[ext][0]: f"{base}.{ext}"} for ext in OUTPUT_CHOICES if ext in chosen
    ]
    web(request).drafts.save(draft)
    return RedirectResponse(f"/compose/{draft.id}/review", status_code=303)


async def save(request: Request) -> Response:
    """Save the spec: validated by the engine's loader, never over a file changed meanwhile."""
    draft = _draft(request)
    if draft is None:
        return _missing(request)
    state = web(request)
    try:
        text = spec_yaml(draft.spec())
    except ValueError as exc:  # a draft written before its values were checked
        return _step(request, draft, "review", 422, error=f"Not saved: {exc}", yaml="",
                     problems=None)  # fmt: skip
    target = resolve_inside(state.root, draft.file)
    try:
        # In a thread: validation reads the data files, and the event loop serves others.
        await run_in_threadpool(
            save_spec_text, target, text, draft.saved_sha256, web(request).budget
        )
    except ChangedOnDiskError as exc:
        return _step(request, draft, "review", 409, error=str(exc), yaml=text, problems=None)
    except SpecError as exc:
        return _step(
            request, draft, "review", 422, error="Not saved: the spec is not valid yet",
            yaml=text, problems=exc.render(),
        )  # fmt: skip
    draft.saved_sha256 = digest(text.encode("utf-8"))
    state.drafts.save(draft)
    return RedirectResponse(f"/spec/{draft.file}?saved=1", status_code=303)


def routes() -> list[Route]:
    """The compose routes."""
    return [
        Route("/compose", start, methods=["GET", "POST"]),
        Route("/compose/{draft_id}/source/{role}", source, methods=["POST"]),
        Route("/compose/{draft_id}/attributes/add", attribute_add, methods=["POST"]),
        Route(
            "/compose/{draft_id}/attributes/preview", attribute_preview_fragment, methods=["POST"]
        ),
        Route("/compose/{draft_id}/attributes/fields", metric_fields_fragment),
        Route(
            "/compose/{draft_id}/attributes/{index:int}/delete", attribute_delete, methods=["POST"]
        ),
        Route("/compose/{draft_id}/settings", settings, methods=["POST"]),
        Route("/compose/{draft_id}/outputs", outputs, methods=["POST"]),
        Route("/compose/{draft_id}/save", save, methods=["POST"]),
        Route("/compose/{draft_id}/{step}", step_page),
    ]
