"""The JSON documents of ``--json``: one per command, printed alone on stdout.

``engine plan --json``, ``engine run --json`` and ``engine eval --json`` each
print one document; an error prints ``{"error": {...}}`` instead (and its
message on stderr, as without ``--json``). Every document carries
``"command"``, the spec's ``"kind"``, ``"name"`` and ``"spec_file"``, and the
engine's version; the rest depends on the command and the kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from engine import __version__
from engine.plan import Plan

__all__ = ["dumps", "error_document", "eval_document", "plan_document", "run_document"]


def _plain(value: Any) -> Any:
    """Plain JSON data: dataclasses, paths, tuples, sets and numpy scalars converted."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "type": type(value).__name__,
            **{f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)},
        }
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(value)


def dumps(document: dict[str, Any]) -> str:
    """The document as printed: indented, keys in a stable order, non-ASCII kept."""
    return json.dumps(_plain(document), indent=2, ensure_ascii=False)


def _head(command: str, plan: Plan) -> dict[str, Any]:
    return {
        "command": command,
        "kind": plan.kind,
        "name": plan.name,
        "spec_file": plan.spec_file,
        "engine_version": __version__,
    }


def _steps(plan: Plan) -> list[dict[str, Any]]:
    return [{"number": n, **_plain(step)} for n, step in enumerate(plan.steps, 1)]


def _actions(state: Any) -> list[dict[str, Any]]:
    return [
        {
            "kind": a.kind,
            "target": a.target,
            "reason": a.reason,
            "commands": [list(c) for c in a.commands],
            "changes": a.changes,
        }
        for a in state.actions
    ]


def _image_plan(state: Any) -> dict[str, Any]:
    from engine import image

    spec = state.spec
    return {
        "cached": state.cached,
        "cache": None if state.cache is None else str(state.cache),
        "formats": list(spec.formats),
        "packages": image.packages(spec),
        "output": str(spec.output),
    }


def _pool_plan(state: Any) -> dict[str, Any]:
    live = state.live
    spec = state.spec
    return {
        "host": f"{spec.host.user}@{spec.host.address}:{spec.host.port}",
        "base": spec.zfs.base,
        "volumes": None if live is None else len(live.volumes),
        "exports": None if live is None else len(live.exports),
        "available_bytes": None if live is None else live.available,
        "actions": _actions(state),
    }


def plan_document(plan: Plan, state: Any, changes: bool) -> dict[str, Any]:
    """``engine plan --json``: the steps, whether changes are pending, what the plan found."""
    document: dict[str, Any] = {**_head("plan", plan), "changes": changes, "steps": _steps(plan)}
    if plan.kind == "image":
        document["image"] = _image_plan(state)
    elif plan.kind == "volume-pool":
        document["volume_pool"] = _pool_plan(state)
    else:
        from engine.alignment.summary_json import plan_figures

        document["alignment"] = plan_figures(plan, state)
    return document


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _outputs(paths: list[str], known: dict[str, str]) -> list[dict[str, Any]]:
    """Each written file with its size and sha256 (``known``: digests already computed)."""
    out: list[dict[str, Any]] = []
    for text in paths:
        path = Path(text)
        try:
            size = path.stat().st_size
            digest = known.get(path.name) or _sha256(path)
        except OSError:  # an output renamed away since: say so rather than fail the run
            out.append({"path": text, "bytes": None, "sha256": None})
            continue
        out.append({"path": text, "bytes": size, "sha256": digest})
    return out


def run_document(plan: Plan, state: Any, seconds: float) -> dict[str, Any]:
    """``engine run --json``: the summary, and each output with its sha256."""
    document: dict[str, Any] = {**_head("run", plan), "seconds": round(seconds, 3)}
    if plan.kind == "image":
        artefacts = state.manifest.get("artefacts", {})
        known = {name: facts["sha256"] for name, facts in artefacts.items()}
        document["outputs"] = _outputs(state.written, known)
        document["image"] = {
            "cached": state.cached,
            "cache": None if state.cache is None else str(state.cache),
            "artefacts": artefacts,
            "boot": state.manifest.get("boot", {}),
            "uploaded": state.uploaded,
            "reused": state.reused,
        }
    elif plan.kind == "volume-pool":
        document["outputs"] = []
        document["volume_pool"] = {
            "actions": _actions(state),
            "applied": state.applied,
            "follow_up": [f"{a.kind} {a.target}" for a in state.follow_up],
            "ssh_reads": state.round_trips,
        }
    else:
        from engine.alignment.summary_json import run_figures

        document["outputs"] = _outputs(state.written, {})
        document["alignment"] = run_figures(state)
    return document


def eval_document(plan: Plan, figures: dict[str, Any]) -> dict[str, Any]:
    """``engine eval --json``: the evaluation's figures."""
    return {**_head("eval", plan), **figures}


def error_document(details: dict[str, Any], exit_code: int) -> dict[str, Any]:
    """``{"error": {...}}``: what went wrong, as :meth:`EngineError.details` says, and the code."""
    return {"error": {**details, "exit_code": exit_code}, "engine_version": __version__}
