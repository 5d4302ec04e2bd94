"""The handlers of a volume pool's steps: SSH reads, the apply playbook, the check after it."""

from __future__ import annotations

import logging
import shlex
import sys
import time

from engine.errors import DataError
from engine.hosts.ansible import HostError, PlaybookRun, run_playbook
from engine.hosts.ssh import Session
from engine.volume_pool.diff import (
    Live,
    PoolError,
    diff,
    parse_owners,
    parse_tgtadm,
    parse_zfs_list,
)
from engine.volume_pool.state import PoolState
from engine.volume_pool.steps import Apply, Confirm, Connect, Lock, ReadLive, reads

__all__ = [
    "handle_apply",
    "handle_confirm",
    "handle_connect",
    "handle_lock",
    "handle_read",
    "say",
]

log = logging.getLogger("engine.volume_pool")


def say(state: PoolState, text: str) -> None:
    """A progress line: logged at INFO (``-v``), else printed on a terminal."""
    if log.isEnabledFor(logging.INFO):
        log.info("%s", text)
    elif state.progress:
        print(text, file=sys.stderr, flush=True)


def _read(state: PoolState, step: ReadLive) -> Live:
    assert state.session is not None
    listing = state.session.run(step.commands[0])
    owners = state.session.run(step.commands[1])
    show = state.session.run(step.commands[2], check=False)
    if show.rc != 0:
        detail = (show.stderr or show.stdout).strip()
        raise DataError(
            state.session.where,
            f"tgtd does not answer ({detail}); start it on the storage host"
            " (systemctl start tgt): nothing was changed",
        )
    try:
        live = parse_zfs_list(listing.stdout, state.spec.zfs.base, parse_owners(owners.stdout))
        live.exports = parse_tgtadm(show.stdout)
    except PoolError as error:
        raise DataError(state.session.where, str(error)) from None
    if live.available is None:
        raise DataError(
            state.session.where,
            f"dataset {state.spec.zfs.base} does not exist: `engine setup {state.spec_file}`"
            " makes it",
        )
    return live


def handle_connect(step: Connect, state: PoolState) -> None:
    """Open the session; it stays open (and holds the lock) until the run ends."""
    host = state.spec.host
    started = time.perf_counter()
    session = Session(
        host.address,
        host.port,
        host.user,
        host.key,
        host.known_hosts,
        trust_on_first_use=host.trust_on_first_use,
        timeout_s=host.timeout_s,
    )
    session.connect()
    state.resources.callback(session.close)
    state.session = session
    state.timings["connect"] = time.perf_counter() - started


def handle_lock(step: Lock, state: PoolState) -> None:
    """Take the lock (a run only: a plan reads and changes nothing)."""
    if state.dry_run:
        return
    assert state.session is not None
    state.resources.enter_context(state.session.lock())


def handle_read(step: ReadLive, state: PoolState) -> None:
    """Read the live state and compute the actions."""
    started = time.perf_counter()
    state.live = _read(state, step)
    assert state.session is not None
    try:
        state.actions = diff(state.spec, state.live)
    except PoolError as error:
        raise DataError(state.spec_file, str(error)) from None
    state.timings["read"] = time.perf_counter() - started


def handle_apply(step: Apply, state: PoolState) -> None:
    """Apply the changes; a failure stops at its command, with the state read again."""
    changes = state.changes
    if state.dry_run or not changes:
        return
    commands = [
        {"step": f"{action.kind} {action.target}", "line": shlex.join(command)}
        for action in changes
        for command in action.commands
    ]
    run = PlaybookRun(
        step.playbook,
        {"commands": commands},
        host="storage",
        hostvars=step.hostvars,
        ssh_args=step.ssh_args,
    )
    started = time.perf_counter()
    try:
        result = run_playbook(run, progress=(lambda text: say(state, text)))
    except HostError as error:
        # Where did it stop? The state as it is now, for the user.
        live_now = ""
        try:
            reader = ReadLive(reads(state.spec.zfs.base))
            pending = [a for a in diff(state.spec, _read(state, reader)) if a.changes]
            live_now = "\nstill to do: " + (
                "; ".join(f"{a.kind} {a.target}" for a in pending) or "nothing"
            )
        except (DataError, PoolError) as again:
            live_now = f"\n(the state could not be read again: {again})"
        raise DataError(state.spec_file, f"{error.render()}{live_now}") from None
    state.applied = [label for label, status in result.items if status == "ok"]
    state.timings["apply"] = time.perf_counter() - started


def handle_confirm(step: Confirm, state: PoolState) -> None:
    """After applying, the plan must be empty."""
    if state.dry_run or not state.changes:
        return
    started = time.perf_counter()
    reader = ReadLive(reads(state.spec.zfs.base))
    live = _read(state, reader)
    # By target: a planned export that comes back as a re-export failed too.
    planned = {a.target for a in state.changes}
    after = [a for a in diff(state.spec, live) if a.changes]
    # What was planned must be done; what the changes made possible (a
    # snapshot whose clone was just destroyed) waits for the next run, which
    # plans it in the open rather than doing more than this plan showed.
    state.pending = [a for a in after if a.target in planned]
    state.follow_up = [a for a in after if a.target not in planned]
    state.timings["confirm"] = time.perf_counter() - started
    if state.pending:
        raise DataError(
            state.spec_file,
            "applied, but still pending: "
            + "; ".join(f"{a.kind} {a.target}" for a in state.pending),
        )
