"""``engine setup``: the admin plan that prepares a storage host for a pool, once.

It installs the restricted wrapper and the pool's key (``command=`` bound to
the pool's scope) with ``playbooks/storage-host.yml``, over the admin's key.
The executor runs it as any plan: one step, :class:`PrepareHost`.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.hosts.ansible import PlaybookRun, run_playbook
from engine.hosts.wrapper import (
    DEFAULT_TGT_CONF_DIR,
    WRAPPER_PATH,
    authorized_keys_line,
    wrapper_script,
)
from engine.volume_pool.diff import key_scope, list_command
from engine.volume_pool.state import PoolState
from engine.volume_pool.steps import hostvars, ssh_args
from schemas.volume_pool import VolumePoolSpec

__all__ = ["PrepareHost", "handle_prepare", "setup_run", "setup_steps", "setup_text"]


@dataclass(frozen=True)
class PrepareHost:
    """Prepare the storage host with admin rights: the wrapper, the restricted key, the dataset."""

    run: PlaybookRun


def setup_steps(spec: VolumePoolSpec) -> list[Any]:
    """The setup plan of a pool (a DataError when the spec has no ``setup:``)."""
    return [PrepareHost(setup_run(spec))]


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
    admin = hostvars(spec, setup.admin_key, setup.admin_user)
    admin["ansible_python_interpreter"] = "/usr/bin/python3"
    return PlaybookRun(
        "storage-host.yml",
        extravars,
        host="storage",
        hostvars=admin,
        ssh_args=ssh_args(spec, setup.admin_key, multiplex=False),
    )


def handle_prepare(step: PrepareHost, state: PoolState) -> None:
    """Run the admin playbook; each task is printed as it starts (unless quiet)."""

    def progress(task: str) -> None:
        print(f"  {task}", file=sys.stderr, flush=True)

    result = run_playbook(step.run, progress=progress if state.progress else None)
    state.prepared = [task for task, status in result.tasks if status == "ok"]


def setup_text(state: PoolState, seconds: float) -> str:
    """What ``engine setup`` did."""
    spec = state.spec
    return (
        f"storage host {spec.host.address} prepared for {spec.zfs.base}"
        f" ({len(state.prepared)} task(s)) in {seconds:.1f} s"
    )
