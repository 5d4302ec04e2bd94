"""engine/volume_pool/setup.py: ``engine setup``, the pool kind's setup plan run by the executor."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main
from engine.errors import DataError
from engine.hosts.ansible import TaskResult
from engine.hosts.wrapper import (
    REFUSED_EXIT,
    WRAPPER_PATH,
    authorized_keys_line,
    wrapper_script,
)
from engine.volume_pool.diff import key_scope, list_command
from engine.volume_pool.setup import setup_run
from schemas.volume_pool import VolumePoolSpec
from tests.engine.volume_pool.test_handlers import BASE, IQN, NAME, _spec


def _keys(folder: Path) -> tuple[Path, str]:
    key = folder / "restricted_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "engine@lab", "-f", str(key)],
        check=True,
        capture_output=True,
    )
    (folder / "admin_ed25519").write_text("not read by the engine\n", encoding="utf-8")
    return key, (folder / "restricted_ed25519.pub").read_text(encoding="utf-8").strip()


def _setup_spec(folder: Path, **setup: Any) -> VolumePoolSpec:
    return _spec(
        context={"check_files": True, "base_dir": str(folder)},
        host={
            "address": "192.0.2.9",
            "user": "specengine",
            "key": "restricted_ed25519",
            "known_hosts": "known_hosts",
        },
        setup={
            "admin_key": "admin_ed25519",
            "from_addresses": ["192.0.2.4", "10.0.0.0/24"],
            "devices": ["/dev/vdb"],
            **setup,
        },
    )


def test_setup_run_installs_the_wrapper_and_the_restricted_key(tmp_path: Path) -> None:
    key, public = _keys(tmp_path)
    run = setup_run(_setup_spec(tmp_path))
    assert (run.playbook, run.host) == ("storage-host.yml", "storage")
    extra = run.extravars
    # The key and its wrapper are this spec's: its base, its name, its targets' IQN prefix.
    arguments = f"--base {BASE} --spec {NAME} --iqn-prefix {IQN}"
    assert extra["key_line"] == (
        f'from="192.0.2.4,10.0.0.0/24",restrict,command="{WRAPPER_PATH} {arguments}" {public}'
    )
    scope = key_scope(BASE, NAME, IQN)
    assert extra["key_line"] == authorized_keys_line(
        public, WRAPPER_PATH, scope, ["192.0.2.4", "10.0.0.0/24"]
    )
    assert extra["key_blob"] == public.split()[1]
    assert extra["wrapper"] == wrapper_script(scope)
    assert f"BASE = {BASE!r}" in extra["wrapper"]
    assert f"SPEC_NAME = {NAME!r}" in extra["wrapper"]
    assert f"IQN_PREFIX = {IQN!r}" in extra["wrapper"]
    assert {k: v for k, v in extra.items() if k not in ("key_line", "key_blob", "wrapper")} == {
        "pool": "tank",
        "base": BASE,
        "devices": ["/dev/vdb"],
        "install_packages": True,
        "wrapper_path": WRAPPER_PATH,
        "wrapper_arguments": arguments.split(),
        "key_user": "specengine",
        "conf_dir": "/etc/tgt/conf.d",
        "list_line": shlex.join(list_command(BASE)),
    }
    # The admin key, not the restricted one, runs the setup; the host key stays pinned.
    assert run.hostvars == {
        "ansible_host": "192.0.2.9",
        "ansible_port": 22,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(tmp_path / "admin_ed25519"),
        "ansible_ssh_use_tty": False,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in shlex.split(run.ssh_args or "")
    assert key.is_file()


def test_the_setup_check_line_passes_the_wrapper_it_installs(tmp_path: Path) -> None:
    _keys(tmp_path)
    extra = setup_run(_setup_spec(tmp_path)).extravars
    wrapper = tmp_path / "wrapper"
    wrapper.write_text(extra["wrapper"], encoding="utf-8")
    wrapper.chmod(0o755)
    # As the playbook's last task runs it. The line is accepted (not 126); then
    # zfs runs (a read), or without zfs on this machine the execve fails (127).
    done = subprocess.run(
        [str(wrapper), *extra["wrapper_arguments"]],
        env={"PATH": "/usr/bin:/bin", "SSH_ORIGINAL_COMMAND": extra["list_line"]},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert done.returncode != REFUSED_EXIT, done.stderr
    assert b"refused" not in done.stderr


def test_setup_run_takes_an_explicit_public_key(tmp_path: Path) -> None:
    _keys(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, public = _keys(other)
    run = setup_run(_setup_spec(tmp_path, public_key=str(other / "restricted_ed25519.pub")))
    assert run.extravars["key_line"].endswith(public)


def test_setup_run_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="the spec has no setup section"):
        setup_run(_spec())
    (tmp_path / "restricted_ed25519").write_text("private\n", encoding="utf-8")
    (tmp_path / "admin_ed25519").write_text("private\n", encoding="utf-8")
    spec = _setup_spec(tmp_path)
    with pytest.raises(DataError, match="cannot read the restricted public key"):
        setup_run(spec)
    (tmp_path / "restricted_ed25519.pub").write_text("ssh-dss AAAA x\n", encoding="utf-8")
    with pytest.raises(DataError, match="public key type 'ssh-dss' is not one of"):
        setup_run(spec)


def _setup_file(folder: Path) -> Path:
    _keys(folder)
    (folder / "known_hosts").write_text("", encoding="utf-8")
    spec = folder / "pool.yaml"
    spec.write_text(
        f"kind: volume-pool\nname: {NAME}\n"
        "host: {address: 192.0.2.9, user: specengine, key: restricted_ed25519,"
        " known_hosts: known_hosts}\n"
        f"zfs: {{base: {BASE}}}\n"
        "iscsi: {portal: '192.0.2.9:3260', initiators: [ALL]}\n"
        "volumes: [{name: vol-db, size: 1G}]\n"
        "setup: {admin_key: admin_ed25519, from_addresses: [192.0.2.4], devices: [/dev/vdb]}\n",
        encoding="utf-8",
    )
    return spec


def test_engine_setup_runs_the_setup_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _setup_file(tmp_path)
    runs: list[Any] = []

    def playbook(run: Any, progress: Any = None, **_: Any) -> TaskResult:
        runs.append(run)
        if progress is not None:
            progress("Install the wrapper")
        result = TaskResult(rc=0)
        result.tasks = [("Install the wrapper", "ok"), ("Check for Python", "skipped")]
        return result

    monkeypatch.setattr("engine.volume_pool.setup.run_playbook", playbook)
    assert main(["setup", str(spec)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"storage host 192.0.2.9 prepared for {BASE} (1 task(s)) in ")
    assert err == "  Install the wrapper\n"
    assert [run.playbook for run in runs] == ["storage-host.yml"]
    assert runs[0].hostvars["ansible_ssh_private_key_file"] == str(tmp_path / "admin_ed25519")
    # Quiet: neither the tasks nor the summary.
    assert main(["setup", "-q", str(spec)]) == 0
    assert capsys.readouterr() == ("", "")


def test_engine_setup_of_a_spec_without_setup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _setup_file(tmp_path)
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text[: text.index("setup:")], encoding="utf-8")
    assert main(["setup", str(spec)]) == 1
    assert "setup: the spec has no setup section" in capsys.readouterr().err
