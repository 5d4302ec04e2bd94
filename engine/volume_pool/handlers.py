"""Volume pools: plan steps and handlers for ``kind: volume-pool``.

A run connects to the storage host over SSH with the restricted key (its host
key pinned), takes the pool's lock, reads the live state (three commands), and
diffs it with the spec (engine/volume_pool.py). ``engine plan`` stops there
and prints the actions. ``engine run`` applies them with
``playbooks/volume-pool.yml`` (Ansible ``raw`` tasks through the same key and
wrapper, over one multiplexed OpenSSH connection), then reads the state again:
what is still pending is an error naming it, and the state is reported.

``engine setup`` prepares the host once with admin rights
(``playbooks/storage-host.yml``): it is not part of a routine run.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.hosts.ansible import HostError, PlaybookRun, run_playbook
from engine.hosts.ssh import Session
from engine.hosts.wrapper import (
    DEFAULT_TGT_CONF_DIR,
    WRAPPER_PATH,
    authorized_keys_line,
    wrapper_script,
)
from engine.steplog import run_step
from engine.volume_pool import (
    Action,
    Live,
    PoolError,
    diff,
    key_scope,
    list_command,
    owners_command,
    parse_owners,
    parse_tgtadm,
    parse_zfs_list,
    show_command,
)
from schemas.volume_pool import VolumePoolSpec

__all__ = [
    "HANDLERS",
    "Apply",
    "Confirm",
    "Connect",
    "Lock",
    "PoolState",
    "ReadLive",
    "plan_text",
    "setup_run",
    "steps",
    "summary_text",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Connect:
    """Open the SSH connection (restricted key, pinned host key)."""

    where: str


@dataclass(frozen=True)
class Lock:
    """Hold the pool's lock on the host until the run ends (not in a plan)."""

    base: str


@dataclass(frozen=True)
class ReadLive:
    """Read the pool (zfs list), who made what (zfs get) and the exports (tgtadm show)."""

    commands: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Apply:
    """Run the actions' commands with the playbook, through the restricted key."""

    playbook: str
    hostvars: dict[str, Any]
    ssh_args: str


@dataclass(frozen=True)
class Confirm:
    """Read the state again: nothing may be pending."""


def _ssh_args(spec: VolumePoolSpec, key: Path, multiplex: bool) -> str:
    host = spec.host
    if multiplex:
        # One multiplexed connection for every raw task of the run; it closes
        # itself 5 s after the last one. The socket's name includes the key:
        # a master opened with another key (the admin's, by `engine setup`)
        # must never carry the restricted key's commands.
        identity = hashlib.sha256(str(key.resolve()).encode()).hexdigest()[:12]
        control = [
            "-o ControlMaster=auto",
            "-o ControlPersist=5",
            f"-o ControlPath=/tmp/specengine-ssh-{identity}-%C",
        ]
    else:
        control = ["-o ControlMaster=no", "-o ControlPath=none"]
    return " ".join(
        [
            *control,
            f"-o UserKnownHostsFile={shlex.quote(str(host.known_hosts))}",
            "-o StrictHostKeyChecking=yes",
            "-o IdentitiesOnly=yes",
            "-o BatchMode=yes",
            f"-o ConnectTimeout={int(host.timeout_s)}",
        ]
    )


def _hostvars(spec: VolumePoolSpec, key: Path, user: str) -> dict[str, Any]:
    return {
        "ansible_host": spec.host.address,
        "ansible_port": spec.host.port,
        "ansible_user": user,
        "ansible_ssh_private_key_file": str(key),
        # A pty is refused by `restrict`, and would mix stderr into stdout.
        "ansible_ssh_use_tty": False,
    }


def _reads(base: str) -> tuple[tuple[str, ...], ...]:
    return (list_command(base), owners_command(base), show_command())


def steps(spec: VolumePoolSpec) -> list[Any]:
    """The plan of a volume pool, as plain data."""
    host = spec.host
    return [
        Connect(f"{host.user}@{host.address}:{host.port}"),
        Lock(spec.zfs.base),
        ReadLive(_reads(spec.zfs.base)),
        Apply(
            "volume-pool.yml",
            _hostvars(spec, host.key, host.user),
            _ssh_args(spec, host.key, multiplex=True),
        ),
        Confirm(),
    ]


# --------------------------------------------------------------------------- state


@dataclass
class PoolState:
    """What the steps found and did."""

    spec: VolumePoolSpec
    spec_file: str
    progress: bool = False
    dry_run: bool = False
    session: Session | None = None
    resources: ExitStack = field(default_factory=ExitStack)
    live: Live | None = None
    actions: list[Action] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    pending: list[Action] = field(default_factory=list)
    follow_up: list[Action] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    round_trips: int = 0

    @property
    def changes(self) -> list[Action]:
        """The actions that change the host."""
        return [a for a in self.actions if a.changes]


def _say(state: PoolState, text: str) -> None:
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
        result = run_playbook(run, progress=(lambda text: _say(state, text)))
    except HostError as error:
        # Where did it stop? The state as it is now, for the user.
        live_now = ""
        try:
            reader = ReadLive(_reads(state.spec.zfs.base))
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
    reader = ReadLive(_reads(state.spec.zfs.base))
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


HANDLERS: dict[type, Any] = {
    Connect: handle_connect,
    Lock: handle_lock,
    ReadLive: handle_read,
    Apply: handle_apply,
    Confirm: handle_confirm,
}


def execute_pool(plan_steps: tuple[Any, ...], state: PoolState) -> PoolState:
    """Walk the steps; the connection (and the lock) end with the run."""
    try:
        with state.resources:
            for number, step in enumerate(plan_steps, 1):
                run_step(number, len(plan_steps), step, state, HANDLERS[type(step)])
    finally:
        if state.session is not None:
            state.round_trips = state.session.round_trips
        state.session = None
    return state


# --------------------------------------------------------------------------- setup


def setup_run(spec: VolumePoolSpec) -> PlaybookRun:
    """The admin playbook run that prepares the host for this spec."""
    if spec.setup is None:
        raise DataError(
            "setup", "the spec has no setup section (admin_key, from_addresses, devices)"
        )
    setup = spec.setup
    public = setup.public_key or Path(f"{spec.host.key}.pub")
    try:
        key_text = public.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise DataError(str(public), f"cannot read the restricted public key: {error}") from None
    # The wrapper knows the pool's base, spec and IQN prefix, and so does the
    # key's command= line; the wrapper refuses to run when the two disagree.
    try:
        scope = key_scope(spec.zfs.base, spec.name, spec.iscsi.iqn_prefix)
        line = authorized_keys_line(key_text, WRAPPER_PATH, scope, setup.from_addresses)
    except ValueError as error:
        raise DataError(str(public), str(error)) from None
    extravars = {
        "pool": spec.zfs.base.split("/")[0],
        "base": spec.zfs.base,
        "devices": list(setup.devices),
        "install_packages": setup.packages,
        "wrapper": wrapper_script(scope),
        "wrapper_path": WRAPPER_PATH,
        "wrapper_arguments": scope.arguments(),
        "key_line": line,
        "key_blob": key_text.split()[1],
        "key_user": spec.host.user,
        "conf_dir": DEFAULT_TGT_CONF_DIR,
        "list_line": shlex.join(list_command(spec.zfs.base)),
    }
    hostvars = _hostvars(spec, setup.admin_key, setup.admin_user)
    hostvars["ansible_python_interpreter"] = "/usr/bin/python3"
    return PlaybookRun(
        "storage-host.yml",
        extravars,
        host="storage",
        hostvars=hostvars,
        ssh_args=_ssh_args(spec, setup.admin_key, multiplex=False),
    )


# --------------------------------------------------------------------------- text


def plan_text(state: PoolState) -> str:
    """The difference between the spec and the host, action by action."""
    spec = state.spec
    live = state.live
    volumes = len(live.volumes) if live is not None else 0
    exports = len(live.exports) if live is not None else 0
    lines = [
        f"plan for volume pool '{spec.name}' ({state.spec_file})",
        f"host {spec.host.user}@{spec.host.address}:{spec.host.port}, base {spec.zfs.base}:"
        f" {volumes} volume(s), {exports} iSCSI target(s)",
    ]
    if live is not None and live.available is not None:
        lines[-1] += f", {live.available / (1 << 30):,.1f} GiB available"
    if not state.changes:
        lines.append("no changes: the host matches the spec")
    for action in state.actions:
        mark = "+" if action.changes else "="
        if action.kind in ("destroy", "unexport"):
            mark = "-"
        if action.kind == "refuse":
            mark = "!"
        text = f"  {mark} {action.kind} {action.target}"
        if action.reason:
            text += f": {action.reason}"
        lines.append(text)
        lines.extend(f"      {shlex.join(c)}" for c in action.commands)
    return "\n".join(lines)


def summary_text(state: PoolState, seconds: float) -> str:
    """The end-of-run summary."""
    lines = [f"volume pool '{state.spec.name}': " + plan_summary(state.actions)]
    refused = [a for a in state.actions if a.kind == "refuse"]
    lines.extend(f"  refused {a.target}: {a.reason}" for a in refused)
    lines.extend(f"  now possible: {a.kind} {a.target} (run again)" for a in state.follow_up)
    lines.append(f"  {len(state.applied)} command(s) applied; {state.round_trips} SSH reads")
    lines.append(f"done in {seconds:.1f} s")
    return "\n".join(lines)


def plan_summary(actions: list[Action]) -> str:
    """``3 create, 1 export`` or ``no changes``."""
    counts: dict[str, int] = {}
    for action in actions:
        if action.changes:
            counts[action.kind] = counts.get(action.kind, 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no changes"
