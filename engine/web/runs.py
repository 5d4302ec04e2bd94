"""Runs started from the web interface: a background thread each, progress events, cancel.

A run goes through the engine's Python API (``engine.build_plan``,
``engine.run``) in a thread of the server. Cancel is cooperative: it is
checked before each step, so a step that has started (reading a source,
comparing, building an image) finishes first; the run then stops and the
output transaction rolls back, leaving the previous outputs as they were.
Once a step has acted outside the run's files (published to a triple store,
uploaded to Glance, changed a storage host: the kind says which,
engine.kinds.Kind.irreversible), cancel is too late and is ignored.

Each run is recorded as JSON in ``DIR/.specengine/runs/`` (atomic writes), so
the browse page can show every spec's last run after a restart.

Nothing the web runs or plans acts outside the served folder (:func:`check_runnable`):
no path outside it, nothing its kind refuses (an image's hooks: shell commands;
its default cache, in the home folder). Nor does it read the server's environment: a spec naming
a variable the operator did not pass (``engine serve --pass-env``) is refused
before it runs or is planned, and the run's state has only the passed ones.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

import engine as api
from engine import kinds
from engine.environment import NO_ENVIRONMENT, Environment, named_variables
from engine.errors import EngineError
from engine.kinds import Plan
from engine.web.limits import Budget
from engine.web.paths import DamagedFileError, atomic_write, inside, relative
from engine.web.specs import load

__all__ = [
    "Run",
    "RunManager",
    "RunRecord",
    "RunRefusedError",
    "check_runnable",
    "confirms",
    "outside_paths",
    "plan_preview",
]

#: What a run id looks like (``uuid4().hex[:12]``); anything else names no run.
_RUN_ID = re.compile(r"[0-9a-f]{12}")


class RunRefusedError(Exception):
    """A run that cannot start: already running, unconfirmed, acting outside the folder."""


class _Cancelled(Exception):
    """Raised between steps when the user asked to cancel."""


@dataclass
class RunRecord:
    """What is kept of a run: ``status`` is running, succeeded, failed, cancelled or lost."""

    id: str
    spec: str
    kind: str
    started: str
    status: str = "running"
    ended: str | None = None
    message: str = ""
    summary: str = ""
    outputs: list[str] = field(default_factory=list)


@dataclass
class Run:
    """A run in this server process: its record, its events and its cancel flag."""

    record: RunRecord
    events: list[dict[str, Any]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    thread: threading.Thread | None = None

    @property
    def finished(self) -> bool:
        """Whether the run has ended (any way)."""
        return self.record.status != "running"

    def emit(self, kind: str, **data: Any) -> None:
        """Add one progress event and wake up the pages that follow the run."""
        with self.changed:
            self.events.append({"type": kind, **data})
            self.changed.notify_all()

    def events_since(self, start: int) -> list[dict[str, Any]]:
        """The events from index ``start`` on, without waiting (for the event loop)."""
        with self.changed:
            return list(self.events[start:])


def confirms(kind: object) -> bool:
    """Whether a spec of this kind shows its plan and waits for a confirmation before it runs."""
    found = kinds.find(kind)
    return found is not None and found.confirm


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _paths(value: Any) -> Iterator[Path]:
    if isinstance(value, Path):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _paths(getattr(value, name))
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _paths(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _paths(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _paths(getattr(value, item.name))


def outside_paths(root: Path, spec: Any) -> list[Path]:
    """The files and folders a spec reads or writes that are not inside ``root``."""
    return sorted({p for p in _paths(spec) if not inside(root, p)})


def check_runnable(
    root: Path, rel: str, spec: Any, environment: Environment = NO_ENVIRONMENT
) -> None:
    """RunRefusedError unless the web may run (or plan) ``spec``: nothing outside ``root``.

    The paths of the spec are not all: its kind may refuse more
    (engine.kinds.Kind.web_refusal, before the paths, and web_path_refusal,
    after them): an image's hooks are shell commands run on the build host,
    and an image without ``cache:`` builds in ~/.cache/specengine/images.
    Planning is checked too: a dry run reads the sources and opens SSH with
    the pool's key. Every environment variable the
    spec names (its credentials) must be in ``environment``, the variables the
    operator passed: the value would go to the endpoint the spec names.
    """
    missing = [
        environment.explain(name, where)
        for name, where in named_variables(spec)
        if name not in environment
    ]
    if missing:
        raise RunRefusedError(f"{rel}: " + "; ".join(missing))
    kind = kinds.get(spec.kind)
    refusal = kind.web_refusal(spec)
    if refusal is not None:
        raise RunRefusedError(f"{rel} {refusal}")
    outside = outside_paths(root, spec)
    if outside:
        shown = ", ".join(str(p) for p in outside)
        raise RunRefusedError(
            f"{rel} reads or writes outside the served folder ({shown});"
            " the web interface never does: run it with `engine run` instead"
        )
    refusal = kind.web_path_refusal(spec)
    if refusal is not None:
        raise RunRefusedError(f"{rel} {refusal}")


def _outputs(root: Path, spec: Any) -> list[str]:
    paths = kinds.get(spec.kind).output_paths(spec)
    return [relative(root, path) for path in paths if inside(root, path)]


def plan_preview(
    root: Path,
    path: Path,
    environment: Environment = NO_ENVIRONMENT,
    budget: Budget | None = None,
) -> str:
    """``engine plan``'s text for a spec of ``root`` (a dry run: reads, writes nothing).

    Raises SpecError (invalid, or its validation over ``budget``) or
    RunRefusedError (see :func:`check_runnable`): a dry run reads the sources
    and connects to the hosts of the spec, with the credentials of
    ``environment`` only.
    """
    spec = load(path, budget)
    check_runnable(root, relative(root, path), spec, environment)
    plan = api.build_plan(spec, path)
    state = api.run(plan, spec, dry_run=True, environment=environment)
    return api.explain(plan, state)


class RunManager:
    """The runs of one served folder; at most one live run per spec."""

    def __init__(
        self,
        root: Path,
        environment: Environment = NO_ENVIRONMENT,
        budget: Budget | None = None,
    ) -> None:
        self.root = root
        #: The only environment variables a run may read (engine serve --pass-env).
        self.environment = environment
        #: How long a spec's validation is waited for before a run is refused.
        self.budget = budget
        self.folder = root / ".specengine" / "runs"
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._active: dict[str, str] = {}
        #: Called in the run's thread before each step (index from 1): for tests.
        self.step_hook: Callable[[Run, int], None] | None = None
        self._mark_lost()

    # ------------------------------------------------------------------ records

    def _save(self, record: RunRecord) -> None:
        data = json.dumps(asdict(record), indent=2, sort_keys=True) + "\n"
        atomic_write(self.folder / f"{record.id}.json", data.encode("utf-8"))

    def _records(self) -> list[RunRecord]:
        out: list[RunRecord] = []
        if not self.folder.is_dir():
            return out
        for path in self.folder.glob("*.json"):
            try:
                out.append(RunRecord(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue  # a record from another version, or damaged: not shown
        return sorted(out, key=lambda r: (r.started, r.id))

    def _mark_lost(self) -> None:
        """Runs recorded as running by a server that is gone: they ended unknown."""
        for record in self._records():
            if record.status == "running":
                record.status, record.message = "lost", "the server stopped during the run"
                self._save(record)

    def record(self, run_id: str) -> RunRecord | None:
        """A run's record, live or from disk; DamagedFileError when its file is unreadable."""
        live = self._runs.get(run_id)
        if live is not None:
            return live.record
        if not _RUN_ID.fullmatch(run_id):
            return None
        path = self.folder / f"{run_id}.json"
        if not path.is_file():
            return None
        try:
            return RunRecord(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise DamagedFileError(self.root, path, exc) from None

    def last_runs(self) -> dict[str, RunRecord]:
        """The latest run of each spec (relative path -> record)."""
        last: dict[str, RunRecord] = {}
        for record in self._records():
            last[record.spec] = record
        for run in self._runs.values():
            known = last.get(run.record.spec)
            if known is None or (run.record.started, run.record.id) >= (known.started, known.id):
                last[run.record.spec] = run.record
        return last

    def live(self, run_id: str) -> Run | None:
        """The run if this process started it."""
        return self._runs.get(run_id)

    # ------------------------------------------------------------------ running

    def start(self, path: Path, *, confirmed: bool = False) -> Run:
        """Start a run of the spec at ``path`` (resolved, inside the folder) in a thread.

        Raises RunRefusedError when the spec is already running, invalid, reads or
        writes outside the folder, or needs a confirmation it did not get.
        """
        rel = relative(self.root, path)
        try:
            spec = load(path, self.budget)
        except EngineError as exc:
            raise RunRefusedError(f"{rel} is not a valid spec:\n{exc.render()}") from None
        check_runnable(self.root, rel, spec, self.environment)
        if confirms(spec.kind) and not confirmed:
            raise RunRefusedError(
                f"{rel} is a {spec.kind} spec: review its plan and confirm before it runs"
            )
        with self._lock:
            if rel in self._active:
                raise RunRefusedError(
                    f"{rel} is already running (run {self._active[rel]}); wait for it or cancel it"
                )
            run_id = uuid.uuid4().hex[:12]
            run = Run(RunRecord(run_id, rel, spec.kind, _now()))
            self._runs[run_id] = run
            self._active[rel] = run_id
        self._save(run.record)
        run.thread = threading.Thread(
            target=self._work, args=(run, path, spec), name=f"run-{run_id}", daemon=True
        )
        run.thread.start()
        return run

    def cancel(self, run_id: str) -> bool:
        """Ask a live run to stop at its next step; False when it is not running here."""
        run = self._runs.get(run_id)
        if run is None or run.finished:
            return False
        run.cancel.set()
        run.emit("log", text="cancel requested: the run stops before its next step")
        return True

    def _work(self, run: Run, path: Path, spec: Any) -> None:
        started = time.perf_counter()
        record = run.record
        summary, outputs = "", []
        try:
            plan = api.build_plan(spec, path)
            summary = self._execute(run, plan, spec, started)
            status, message = "succeeded", "the run succeeded"
            outputs = _outputs(self.root, spec)
        except _Cancelled:
            status = "cancelled"
            message = "cancelled; the previous outputs were left as they were"
        except EngineError as exc:
            status, message = "failed", exc.render()
        except Exception as exc:  # a bug: keep the server alive, say what happened
            status, message = "failed", f"internal error: {type(exc).__name__}: {exc}"
            traceback.print_exc()
        final = dataclasses.replace(
            record, status=status, message=message, summary=summary, outputs=outputs, ended=_now()
        )
        try:
            self._save(final)
        finally:
            # The record changes last, under the lock: whoever sees the run ended can
            # start the next one.
            with self._lock:
                self._active.pop(record.spec, None)
                run.record = final
            run.emit("end", status=status, message=message)

    def _execute(self, run: Run, plan: Plan, spec: Any, started: float) -> str:
        if run.cancel.is_set():
            raise _Cancelled
        kind = kinds.get(plan.kind)
        total = len(plan.steps)
        acted = False

        def before_step(index: int, step: Any) -> None:
            # Cancel is checked between steps; once a step acted outside the run's
            # files (published, uploaded, changed a host), the run goes on to its end.
            nonlocal acted
            if self.step_hook is not None and step is not None:
                self.step_hook(run, index)
            if run.cancel.is_set() and not acted:
                raise _Cancelled
            if step is not None:
                run.emit("step", index=index, total=total, text=kind.step_text(step))
                acted = acted or kind.irreversible(step)

        state = api.run(plan, spec, environment=self.environment, before_step=before_step)
        return api.summary(plan, state, time.perf_counter() - started)
