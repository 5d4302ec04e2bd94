"""Run a playbook of ``playbooks/`` through ansible-runner: the only module that imports it.

The contract with Ansible is a directory (ansible-runner's private_data_dir):
the engine writes the inventory and the extra variables there, runs the
playbook, and turns the events into progress lines and, on failure, an error
naming the failed task with what it printed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import Any

from engine.errors import EngineError

__all__ = ["PLAYBOOKS", "HostError", "PlaybookRun", "TaskResult", "run_playbook"]

#: The playbooks shipped with the engine: the ``playbooks`` package's folder,
#: in a checkout as in an installed wheel (ansible-playbook reads them as
#: files, so the package must be on disk, as pip installs it, not zipped).
PLAYBOOKS = Path(str(resources.files("playbooks")))
#: Lines of a failed task's output quoted in the error.
_SHOWN_LINES = 25

log = logging.getLogger(__name__)


class HostError(EngineError):
    """A playbook failed: the task, the host, and what the task said."""


@dataclass(frozen=True)
class PlaybookRun:
    """One playbook to run, as plain data (a plan step can print it)."""

    playbook: str
    extravars: dict[str, Any]
    host: str = "localhost"
    inventory: Path | None = None
    #: connection variables of ``host`` (an inventory the engine writes); None: local
    hostvars: dict[str, Any] | None = None
    #: OpenSSH options of the run (ANSIBLE_SSH_ARGS); None: no control master
    ssh_args: str | None = None


@dataclass
class TaskResult:
    """What a run did: each task's name and status, and the facts it set."""

    rc: int
    tasks: list[tuple[str, str]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: each loop item's label and status, in order
    items: list[tuple[str, str]] = field(default_factory=list)


def _inventory(run: PlaybookRun, folder: Path) -> Path:
    if run.inventory is not None:
        return run.inventory
    path = folder / "inventory" / "hosts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if run.hostvars is not None:
        hosts = {run.host: run.hostvars}
        path.write_text(json.dumps({"all": {"hosts": hosts}}), encoding="utf-8")
        return path
    local = {
        "ansible_connection": "local",
        # The engine's own interpreter: the build host is this machine.
        "ansible_python_interpreter": sys.executable,
    }
    path.write_text(json.dumps({"all": {"hosts": {run.host: local}}}), encoding="utf-8")
    return path


def _failure(event: dict[str, Any]) -> str:
    data = event.get("event_data", {})
    result = data.get("res", {}) or {}
    parts = [str(result.get("msg", "")).strip()]
    for key in ("stderr", "stdout"):
        text = str(result.get(key, "") or "").strip()
        if text:
            lines = text.splitlines()
            parts.append("\n".join(lines[-_SHOWN_LINES:]))
    if "rc" in result:
        parts.append(f"(exit code {result['rc']})")
    return "\n".join(p for p in parts if p)


@contextlib.contextmanager
def _interrupts_cancel(cancelled: list[int]) -> Iterator[None]:
    """Ctrl-C or SIGTERM during a playbook cancels it, then interrupts as usual.

    Left to itself, ansible-runner installs SIGINT and SIGTERM handlers that only
    set a flag, and never puts the previous ones back: after the first playbook
    the engine could no longer be interrupted. Here a signal is noted (the
    playbook is cancelled through ``cancel_callback``, so ansible-playbook is
    stopped, not orphaned), the engine's handlers are put back, and the signal
    is raised again so the run stops the way it always does.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set from the main thread (web runs)
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    saved = {number: signal.getsignal(number) for number in signals}

    def note(number: int, frame: FrameType | None) -> None:
        cancelled.append(number)

    for number in signals:
        signal.signal(number, note)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
    if cancelled:
        signal.raise_signal(cancelled[0])


def run_playbook(
    run: PlaybookRun,
    progress: Callable[[str], None] | None = None,
    keep: Path | None = None,
    secrets: Mapping[str, str] | None = None,
) -> TaskResult:
    """Run ``playbooks/<playbook>`` on the run's host; raise :class:`HostError` on failure.

    ``progress`` receives a line as each task starts. ``keep`` is a folder to
    write the private_data_dir into (for debugging); by default a temporary
    one, removed afterwards. ``secrets`` are environment variables of this
    run's ansible-playbook only (a token the playbook reads with the ``env``
    lookup): never in the plan, never in the process's own environment, which
    other runs of a web server share; ansible-runner keeps them in the private
    folder (mode 0700), removed after the run unless ``keep`` is given.
    """
    import ansible_runner

    playbook = PLAYBOOKS / run.playbook  # an absolute path stays as it is
    if not playbook.is_file():
        raise HostError(f"no playbook {playbook}")
    result = TaskResult(rc=0)
    failure: list[str] = []
    item_failures: list[str] = []
    started: dict[str, float] = {}

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        task = str(data.get("task", ""))
        if kind == "playbook_on_task_start" and task:
            started[task] = float(event.get("created_ts", 0) or 0)
            log.debug("%s: task %s", run.playbook, task)
            if progress is not None:
                progress(task)
        elif kind in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
            status = {"runner_on_ok": "ok", "runner_on_failed": "failed"}.get(kind, "skipped")
            if kind == "runner_on_failed" and data.get("ignore_errors"):
                status = "ignored"
            result.tasks.append((task, status))
            duration = data.get("duration")
            if isinstance(duration, int | float):
                result.seconds[task] = float(duration)
            facts = (data.get("res") or {}).get("ansible_facts") or {}
            result.facts.update(facts)
            if status == "failed":
                host = data.get("host", run.host)
                # A loop's failure says "one or more items failed": name the item.
                detail = "\n".join(item_failures) or _failure(event)
                failure.append(f"task '{task}' failed on {host}:\n{detail}")
        elif kind in ("runner_item_on_ok", "runner_item_on_failed"):
            res = data.get("res") or {}
            label = str(res.get("_ansible_item_label", res.get("item", "")))
            status = "ok" if kind == "runner_item_on_ok" else "failed"
            result.items.append((label, status))
            if status == "ok" and progress is not None:
                progress(f"{task}: {label}")
            if status == "failed":
                item_failures.append(
                    f"'{label}' failed on {data.get('host', run.host)}:\n{_failure(event)}"
                )
        elif kind == "runner_on_unreachable":
            failure.append(f"host {data.get('host', run.host)} unreachable: {_failure(event)}")
        return True

    env = {
        # Without it an SSH control master lingers for 60 s after the run.
        "ANSIBLE_SSH_ARGS": run.ssh_args or "-o ControlMaster=no",
        # ansible-playbook sits beside this interpreter (the venv's bin).
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "1",
        **(secrets or {}),
    }
    log.info("running playbook %s on %s", run.playbook, run.host)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="specengine-ansible-") as temporary:
        folder = keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        cancelled: list[int] = []
        with _interrupts_cancel(cancelled):
            runner = ansible_runner.run(
                private_data_dir=str(folder),
                playbook=str(playbook),
                inventory=str(_inventory(run, folder)),
                limit=run.host,
                extravars=run.extravars,
                envvars=env,
                quiet=True,
                event_handler=on_event,
                settings={"suppress_ansible_output": True},
                cancel_callback=lambda: bool(cancelled),
            )
    result.rc = int(runner.rc or 0)
    log.info(
        "playbook %s ended %s (rc %s, %d task result(s), %.1f s)",
        run.playbook,
        runner.status,
        runner.rc,
        len(result.tasks),
        time.perf_counter() - began,
    )
    if failure or runner.status != "successful":
        detail = "\n".join(failure) or f"ansible-playbook ended {runner.status} (rc {runner.rc})"
        raise HostError(f"{run.playbook}: {detail}")
    return result
