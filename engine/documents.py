"""The JSON documents of ``--json``: one per command, printed alone on stdout.

``engine plan --json``, ``engine run --json`` and ``engine eval --json`` each
print one document; an error prints ``{"error": {...}}`` instead (and its
message on stderr, as without ``--json``). Every document carries
``"command"``, the spec's ``"kind"``, ``"name"`` and ``"spec_file"``, and the
engine's version; the rest depends on the command, and the kind's part
(under its name: ``alignment``, ``image``, ``volume_pool``) on the kind
(engine.kinds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from engine import kinds
from engine.kinds import Plan
from engine.version import __version__

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


def plan_document(plan: Plan, state: Any, changes: bool) -> dict[str, Any]:
    """``engine plan --json``: the steps, whether changes are pending, what the plan found."""
    kind = kinds.get(plan.kind)
    document: dict[str, Any] = {**_head("plan", plan), "changes": changes, "steps": _steps(plan)}
    document[kind.document_key] = kind.plan_figures(plan, state)
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
    kind = kinds.get(plan.kind)
    document: dict[str, Any] = {**_head("run", plan), "seconds": round(seconds, 3)}
    document["outputs"] = _outputs(kind.written(state), kind.known_digests(state))
    document[kind.document_key] = kind.run_figures(state)
    return document


def eval_document(plan: Plan, figures: dict[str, Any]) -> dict[str, Any]:
    """``engine eval --json``: the evaluation's figures."""
    return {**_head("eval", plan), **figures}


def error_document(details: dict[str, Any], exit_code: int) -> dict[str, Any]:
    """``{"error": {...}}``: what went wrong, as :meth:`EngineError.details` says, and the code."""
    return {"error": {**details, "exit_code": exit_code}, "engine_version": __version__}
