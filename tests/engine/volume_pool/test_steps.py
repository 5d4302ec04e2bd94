"""engine/volume_pool/steps.py: the plan of a pool (the host's key pinned, no prompt)."""

from __future__ import annotations

import shlex

from engine.volume_pool.diff import owners_command
from engine.volume_pool.steps import Apply, Confirm, Connect, Lock, steps
from tests.engine.volume_pool.test_handlers import BASE, READS, _spec


def test_the_steps_of_a_pool() -> None:
    spec = _spec()
    connect, lock, read, apply, confirm = steps(spec)
    assert connect == Connect("root@192.0.2.9:2222")
    assert lock == Lock(BASE)
    assert read == READS
    assert read.commands[1] == owners_command(BASE)
    assert isinstance(apply, Apply) and isinstance(confirm, Confirm)
    assert apply.playbook == "volume-pool.yml"
    assert apply.hostvars == {
        "ansible_host": "192.0.2.9",
        "ansible_port": 2222,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": "/k",
        "ansible_ssh_use_tty": False,
    }
    options = shlex.split(apply.ssh_args)
    for pinned in ("UserKnownHostsFile=/kh", "StrictHostKeyChecking=yes", "BatchMode=yes"):
        assert pinned in options
    assert "IdentitiesOnly=yes" in options and "ConnectTimeout=20" in options
