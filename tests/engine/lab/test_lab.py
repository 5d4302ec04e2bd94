"""The lab storage host (engine/lab: host.py, cli.py).

The slow tests boot the real image (``storage_lab``, tests/lab.py): OpenZFS on
the pool disk, tgt, the pinned host key, and iSCSI discovery through
:class:`IscsiNamespace`. The others need no guest: lab.env, status/stop on
folders without a lab, start's failures (with QEMU but no bootable disk).
The relay alone is tested in test_netns_relay.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from engine.errors import DataError
from engine.lab import (
    Lab,
    add_arguments,
    build_image,
    command,
    env_text,
    start,
    status,
    stop,
)
from engine.lab.host import _root_overlay
from engine.lab.netns_relay import GUEST_ADDRESS, ISCSI_PORT, IscsiNamespace
from tests.lab import lab_fixture, lab_image  # noqa: F401 - `storage_lab` fixture
from tests.tools import require_root, require_tools

MIB = 1 << 20
IQN = "iqn.2010-10.org.specengine:lab-test"


@pytest.fixture
def _qemu() -> None:
    require_tools("qemu-system-x86 qemu-utils", "qemu-system-x86_64", "qemu-img")


@pytest.fixture
def _netns() -> None:
    require_root("a network namespace (ip netns add, setns)")
    require_tools("iproute2", "ip")
    require_tools("util-linux", "nsenter")


@pytest.fixture
def _libiscsi() -> None:
    require_tools("libiscsi-bin", "iscsi-ls", "iscsi-readcapacity16")


# Missing tools fail the test with the package to install; they never skip it.
needs_qemu = pytest.mark.usefixtures("_qemu")
needs_root = pytest.mark.usefixtures("_netns")
needs_libiscsi = pytest.mark.usefixtures("_libiscsi")


# --------------------------------------------------------------------------- no guest


def _lab(folder: Path) -> Lab:
    return Lab(
        folder=folder,
        pid=12345,
        ssh_port=2222,
        iscsi_port=3261,
        known_hosts=folder / "known_hosts",
        admin_key=folder / "admin_key",
        engine_key=folder / "engine_key",
    )


def test_lab_env_is_shell_sourceable(tmp_path: Path) -> None:
    folder = tmp_path / "my lab's folder"  # a space and a quote: quoting matters
    lab = _lab(folder)
    text = env_text(lab)
    names = [line.partition("=")[0] for line in text.splitlines()]
    assert names[:1] == ["LAB_HOST"]
    for name in (
        "LAB_SSH_PORT",
        "LAB_ISCSI_PORT",
        "LAB_KNOWN_HOSTS",
        "LAB_ADMIN_KEY",
        "LAB_ENGINE_KEY",
        "LAB_ENGINE_PUBLIC_KEY",
        "LAB_POOL_DEVICE",
    ):
        assert name in names
    env_file = tmp_path / "lab.env"
    env_file.write_text(text, encoding="utf-8")
    shown = subprocess.run(
        [
            "bash",
            "-c",
            'source "$1"; printf "%s\\n" "$LAB_SSH_PORT" "$LAB_ISCSI_PORT" "$LAB_KNOWN_HOSTS"'
            ' "$LAB_ADMIN_KEY" "$LAB_ENGINE_KEY" "$LAB_ENGINE_PUBLIC_KEY" "$LAB_POOL_DEVICE"',
            "-",
            str(env_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert shown == [
        "2222",
        "3261",
        str(folder / "known_hosts"),
        str(folder / "admin_key"),
        str(folder / "engine_key"),
        str(folder / "engine_key.pub"),
        "/dev/disk/by-id/virtio-pool",
    ]


def test_ssh_argv_pins_the_host_key(tmp_path: Path) -> None:
    argv = _lab(tmp_path).ssh_argv()
    assert argv[0] == "ssh"
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in argv
    assert "StrictHostKeyChecking=yes" in argv
    assert "BatchMode=yes" in argv
    assert argv[-3:] == ["-p", "2222", "root@127.0.0.1"]


def test_no_lab_in_folder(tmp_path: Path) -> None:
    assert status(tmp_path) is None
    assert stop(tmp_path) is False
    # A recorded PID that is alive but not this lab's QEMU (ours): never killed.
    state = {
        "pid": os.getpid(),
        "ssh_port": 1,
        "iscsi_port": 2,
        "known_hosts": "k",
        "admin_key": "a",
        "engine_key": "e",
    }
    (tmp_path / "lab.json").write_text(json.dumps(state), encoding="utf-8")
    assert status(tmp_path) is None
    assert stop(tmp_path) is False
    (tmp_path / "lab.json").write_text("{not json", encoding="utf-8")
    assert status(tmp_path) is None


def test_cli_status_and_stop_without_lab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="engine lab")
    add_arguments(parser)
    assert command(parser.parse_args(["status", "--dir", str(tmp_path)])) == 1
    assert command(parser.parse_args(["stop", "--dir", str(tmp_path)])) == 0
    out = capsys.readouterr().out
    assert out.count(f"no lab running in {tmp_path}") == 2
    args = parser.parse_args(["start", "specs/lab/storage-host.yaml", "--ssh-port", "2200"])
    assert (args.spec, args.ssh_port, args.iscsi_port, args.pool_size, args.dir) == (
        Path("specs/lab/storage-host.yaml"),
        2200,
        None,
        "4G",
        Path(".lab"),
    )


def test_build_image_wants_qcow2(tmp_path: Path) -> None:
    spec = tmp_path / "image.yaml"
    spec.write_text("kind: image\nname: demo\nformats: [uec]\noutput: out\n", encoding="utf-8")
    with pytest.raises(DataError, match="boots the qcow2 format"):
        build_image(spec)


def test_start_needs_an_image(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such image"):
        start(tmp_path / "missing.qcow2", tmp_path / "lab")


def _blank_disk(tmp_path: Path) -> Path:
    disk = tmp_path / "blank.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    return disk


def _qemu_pids(folder: Path) -> list[int]:
    """PIDs of live processes whose command line names ``folder``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if str(folder).encode() in cmdline and b"qemu" in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@needs_qemu
def test_start_times_out_and_kills_qemu(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    started = time.monotonic()
    with pytest.raises(DataError, match=r"no SSH login within 3 s[\s\S]*console:"):
        start(_blank_disk(tmp_path), folder, timeout_s=3)
    assert time.monotonic() - started < 60
    assert _qemu_pids(folder) == []
    assert status(folder) is None
    # What the lab made is there for the next start: keys, pinned host, disks.
    for name in ("host_key", "admin_key.pub", "engine_key.pub", "known_hosts", "root.qcow2"):
        assert (folder / name).is_file(), name
    assert (folder / "known_hosts").read_text().startswith("[127.0.0.1]:")


@needs_qemu
def test_start_in_a_folder_with_a_comma(tmp_path: Path) -> None:
    # QEMU's option syntax doubles a comma in -drive and -fw_cfg, but -serial file: takes its
    # path as it is: quoted there too, the console went to a folder that does not exist.
    folder = tmp_path / "lab,1"
    with pytest.raises(DataError, match=r"no SSH login within 3 s"):
        start(_blank_disk(tmp_path), folder, timeout_s=3)
    assert (folder / "console.log").is_file()
    assert _qemu_pids(folder) == []


@needs_qemu
def test_start_reports_qemu_exit(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DataError, match=r"QEMU stopped \(exit 1\)[\s\S]*host forwarding"):
            start(_blank_disk(tmp_path), folder, ssh_port=port, timeout_s=60)
    assert _qemu_pids(folder) == []


@needs_qemu
def test_root_overlay_follows_its_base(tmp_path: Path) -> None:
    disk = _blank_disk(tmp_path)
    folder = tmp_path / "lab"
    folder.mkdir()
    root = _root_overlay(disk, folder, {})
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(root)], capture_output=True, check=True
        ).stdout
    )
    assert info["backing-filename"] == str(disk)
    made = root.stat().st_ino
    os.link(root, tmp_path / "held")  # the inode cannot be recycled for a new overlay
    facts = disk.stat()
    same = {"disk_identity": [facts.st_dev, facts.st_ino, facts.st_size, facts.st_mtime_ns]}
    assert _root_overlay(disk, folder, same).stat().st_ino == made  # reused
    # A base rebuilt at the same path: the old overlay would read garbage.
    disk.unlink()
    _blank_disk(tmp_path)
    assert _root_overlay(disk, folder, same).stat().st_ino != made


# --------------------------------------------------------------------------- the guest


@pytest.mark.slow
def test_lab_is_up(storage_lab: Lab) -> None:
    assert status(storage_lab.folder) == storage_lab
    state = json.loads((storage_lab.folder / "lab.json").read_text())
    assert state["pid"] == storage_lab.pid
    assert 0 < state["boot_s"] < 400
    print(f"lab boot to SSH: {state['boot_s']} s")
    assert (storage_lab.folder / "lab.env").read_text() == env_text(storage_lab)
    done = storage_lab.admin_ssh(
        "sh", "-c", "hostname; id -u; readlink -f " + storage_lab.pool_device
    )
    assert done.stdout.split() == ["storage", "0", "/dev/vdb"]


@pytest.mark.slow
def test_host_key_is_the_pinned_one(storage_lab: Lab, tmp_path: Path) -> None:
    guest = storage_lab.admin_ssh("sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub").stdout.split()
    pinned = (storage_lab.folder / "host_key.pub").read_text().split()
    assert guest[:2] == pinned[:2]  # the only host key, and the one made before boot
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True
    )
    other = (tmp_path / "other.pub").read_text().split()
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{storage_lab.ssh_port} {other[0]} {other[1]}\n")
    argv = [
        f"UserKnownHostsFile={wrong}" if word.startswith("UserKnownHostsFile=") else word
        for word in storage_lab.ssh_argv()
    ]
    refused = subprocess.run(
        [*argv, "true"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr


@pytest.mark.slow
def test_zfs_on_the_pool_disk(storage_lab: Lab) -> None:
    storage_lab.admin_ssh("modprobe", "zfs")
    storage_lab.admin_ssh(
        "zpool",
        "create",
        "-f",
        "-o",
        "cachefile=none",
        "-m",
        "none",
        "labtest",
        storage_lab.pool_device,
    )
    try:
        health = storage_lab.admin_ssh("zpool", "list", "-H", "-o", "name,health", "labtest")
        assert health.stdout.split() == ["labtest", "ONLINE"]
    finally:
        storage_lab.admin_ssh("zpool", "destroy", "labtest")
    assert "labtest" not in storage_lab.admin_ssh("zpool", "list", "-H").stdout


@pytest.mark.slow
def test_tgt_is_active(storage_lab: Lab) -> None:
    assert storage_lab.admin_ssh("systemctl", "is-active", "tgt").stdout.strip() == "active"


def _assert_nothing_exported(listed: subprocess.CompletedProcess[str]) -> None:
    # tgt without any target closes each connection as soon as it accepts it
    # (accept_connection in tgt's usr/iscsi/iscsi_tcp.c), so a discovery
    # fails rather than listing nothing: libiscsi says it "can not reconnect".
    assert "Target:" not in listed.stdout
    assert listed.returncode != 0
    assert "reconnect" in listed.stderr


@pytest.mark.slow
@needs_root
@needs_libiscsi
def test_iscsi_discovery_through_the_namespace(storage_lab: Lab) -> None:
    lab = storage_lab
    portal = f"iscsi://{GUEST_ADDRESS}:{ISCSI_PORT}"
    with IscsiNamespace(lab.iscsi_port) as ns:
        _assert_nothing_exported(ns.run(["iscsi-ls", "-s", portal]))
        lab.admin_ssh("modprobe", "zfs")
        lab.admin_ssh(
            "zpool",
            "create",
            "-f",
            "-o",
            "cachefile=none",
            "-m",
            "none",
            "labiscsi",
            lab.pool_device,
        )
        try:
            lab.admin_ssh("zfs", "create", "-V", "64M", "labiscsi/vol1")
            lab.admin_ssh("udevadm", "settle")
            tgtadm = ("tgtadm", "--lld", "iscsi", "--tid", "1")
            lab.admin_ssh(*tgtadm, "--op", "new", "--mode", "target", "-T", IQN)
            try:
                lab.admin_ssh(
                    *tgtadm,
                    "--op",
                    "new",
                    "--mode",
                    "logicalunit",
                    "--lun",
                    "1",
                    "-b",
                    "/dev/zvol/labiscsi/vol1",
                )
                lab.admin_ssh(*tgtadm, "--op", "bind", "--mode", "target", "-I", "ALL")
                listed = ns.run(["iscsi-ls", "-s", portal], check=True).stdout
                assert f"Target:{IQN} Portal:{GUEST_ADDRESS}:{ISCSI_PORT},1" in listed
                assert "Lun:1" in listed
                assert "DIRECT_ACCESS (Size:" in listed
                capacity = subprocess.run(
                    ["iscsi-readcapacity16", f"iscsi://127.0.0.1:{lab.iscsi_port}/{IQN}/1"],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=60,
                ).stdout
                assert f"Total size:{64 * MIB}" in capacity
            finally:
                lab.admin_ssh(*tgtadm, "--op", "delete", "--mode", "target", "--force")
        finally:
            lab.admin_ssh("zpool", "destroy", "labiscsi")
        _assert_nothing_exported(ns.run(["iscsi-ls", "-s", portal]))


@pytest.mark.slow
@needs_qemu
def test_pool_survives_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "lab"
    lab = start(lab_image(), folder)
    try:
        lab.admin_ssh("modprobe", "zfs")
        lab.admin_ssh(
            "zpool", "create", "-f", "-o", "cachefile=none", "-m", "none", "kept", lab.pool_device
        )
        lab.admin_ssh("zfs", "create", "-V", "16M", "kept/vol")
        assert stop(folder) is True
        assert status(folder) is None
        again = start(lab_image(), folder)
        # Same ports (still free), same pinned host key, same pool disk.
        assert (again.ssh_port, again.iscsi_port) == (lab.ssh_port, lab.iscsi_port)
        again.admin_ssh("modprobe", "zfs")
        again.admin_ssh("zpool", "import", "-o", "cachefile=none", "kept")
        volumes = again.admin_ssh("zfs", "list", "-H", "-p", "-o", "name,volsize", "kept/vol")
        assert volumes.stdout.split() == ["kept/vol", str(16 * MIB)]
        again.admin_ssh("zpool", "destroy", "kept")
    finally:
        stop(folder)
    assert status(folder) is None
