"""The QEMU command line shared by image boot checks and the lab (engine/hosts/qemu.py).

The argv is pinned word for word for the two uses, then a real QEMU checks that it accepts
it: started paused (``-S``) with a QMP monitor on stdio, it greets only once every option and
device was taken, and quits when asked. Nothing boots.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.errors import DataError
from engine.hosts.qemu import Drive, Forward, Kernel, opt, qemu_argv, qemu_binary
from tests.tools import require_tools


def _lab_like(folder: Path, ports: tuple[int, int] = (2222, 3261)) -> list[str]:
    return qemu_argv(
        qemu="qemu-system-x86_64",
        name="specengine-lab",
        memory_mb=2048,
        console=folder / "console.log",
        drives=[Drive(folder / "root.qcow2"), Drive(folder / "pool.qcow2", serial="pool")],
        forwards=[Forward(ports[0], 22), Forward(ports[1], 3260)],
        restrict_network=True,
        no_defaults=True,
        fw_cfg={"opt/specengine/host_key": folder / "host_key"},
    )


def test_the_lab_command_line(tmp_path: Path) -> None:
    f = tmp_path
    assert _lab_like(f) == [
        "qemu-system-x86_64",
        "-name", "specengine-lab",
        "-m", "2048", "-smp", "2", "-cpu", "max",
        "-accel", "tcg,thread=multi",
        "-nodefaults",
        "-display", "none",
        "-serial", f"file:{f}/console.log",
        "-netdev",
        "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:3261-:3260",
        "-device", "virtio-net-pci,netdev=net0",
        "-drive", f"file={f}/root.qcow2,if=none,id=disk0,format=qcow2",
        "-device", "virtio-blk-pci,drive=disk0,bootindex=0",
        "-drive", f"file={f}/pool.qcow2,if=none,id=disk1,format=qcow2",
        "-device", "virtio-blk-pci,drive=disk1,serial=pool",
        "-fw_cfg", f"name=opt/specengine/host_key,file={f}/host_key",
    ]  # fmt: skip


def test_the_boot_check_command_lines(tmp_path: Path) -> None:
    f = tmp_path
    common = [
        "-m", "1024", "-smp", "2", "-cpu", "max", "-accel", "tcg,thread=multi",
        "-display", "none", "-serial", f"file:{f}/console.log", "-no-reboot",
        "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:2200-:22",
        "-device", "virtio-net-pci,netdev=net0",
    ]  # fmt: skip
    # A bare disk boots through its own loader; snapshot: the image is never written.
    disk = qemu_argv(
        qemu="/usr/bin/qemu-system-x86_64",
        memory_mb=1024,
        console=f / "console.log",
        drives=[Drive(f / "disk.raw", format="raw", snapshot=True)],
        forwards=[Forward(2200, 22)],
        no_reboot=True,
    )
    assert disk == [
        "/usr/bin/qemu-system-x86_64",
        *common,
        "-drive", f"file={f}/disk.raw,if=none,id=disk0,format=raw,snapshot=on",
        "-device", "virtio-blk-pci,drive=disk0,bootindex=0",
    ]  # fmt: skip
    # The UEC triplet: the kernel and initrd given, the root filesystem as the only disk.
    uec = qemu_argv(
        qemu="/usr/bin/qemu-system-x86_64",
        memory_mb=1024,
        console=f / "console.log",
        drives=[Drive(f / "root.img", format="raw")],
        forwards=[Forward(2200, 22)],
        kernel=Kernel(f / "kernel", f / "initrd", "root=LABEL=root ro console=ttyS0,115200n8"),
        no_reboot=True,
    )
    assert uec == [
        "/usr/bin/qemu-system-x86_64",
        *common,
        "-drive", f"file={f}/root.img,if=none,id=disk0,format=raw",
        "-device", "virtio-blk-pci,drive=disk0",
        "-kernel", f"{f}/kernel",
        "-initrd", f"{f}/initrd",
        "-append", "root=LABEL=root ro console=ttyS0,115200n8",
    ]  # fmt: skip


def test_commas_are_quoted_where_qemu_splits_on_them(tmp_path: Path) -> None:
    f = tmp_path / "a,b"
    argv = qemu_argv(
        qemu="qemu",
        memory_mb=64,
        console=f / "console.log",
        drives=[Drive(f / "d.qcow2")],
        kernel=Kernel(f / "kernel", f / "initrd", "console=ttyS0,115200n8"),
        fw_cfg={"opt/x/key": f / "key"},
    )
    quoted = str(tmp_path / "a,,b")
    assert f"file={quoted}/d.qcow2,if=none,id=disk0,format=qcow2" in argv
    assert f"name=opt/x/key,file={quoted}/key" in argv
    # -serial file:, -kernel and -initrd take their path as it is.
    assert f"file:{f}/console.log" in argv
    assert argv[argv.index("-kernel") + 1] == f"{f}/kernel"
    assert argv[argv.index("-initrd") + 1] == f"{f}/initrd"
    assert argv[argv.index("-append") + 1] == "console=ttyS0,115200n8"
    assert opt("x,y,,z") == "x,,y,,,,z"


def test_a_command_line_needs_a_drive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one drive"):
        qemu_argv(qemu="qemu", memory_mb=64, console=tmp_path / "c", drives=[])


def test_no_qemu_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DataError) as caught:
        qemu_binary("uec")
    assert caught.value.source == "uec"
    assert caught.value.message == ("qemu-system-x86_64 not found: apt-get install qemu-system-x86")


def _accepted(argv: list[str]) -> None:
    """QEMU takes every option and device of ``argv``: paused, it greets on QMP and quits."""
    with subprocess.Popen(
        [*argv, "-S", "-qmp", "stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as qemu:
        assert qemu.stdin is not None and qemu.stdout is not None
        try:
            # The greeting comes once the machine and its devices are made; a refused option
            # ends QEMU before it, with the reason on its standard error.
            greeting = qemu.stdout.readline()
            commands = '{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n' if greeting else ""
            _, err = qemu.communicate(commands, timeout=60)
        finally:
            if qemu.poll() is None:
                qemu.kill()
    assert greeting.startswith('{"QMP"'), err
    assert qemu.returncode == 0, err


@pytest.mark.parametrize("snapshot", [False, True])
def test_qemu_accepts_the_command_line(tmp_path: Path, snapshot: bool) -> None:
    require_tools("qemu-system-x86 qemu-utils", "qemu-system-x86_64", "qemu-img")
    folder = tmp_path / "lab,1"  # a comma: each option's quoting is tried for real
    folder.mkdir()
    for name in ("root.qcow2", "pool.qcow2"):
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", str(folder / name), "16M"], check=True
        )
    (folder / "host_key").write_text("key\n")
    argv = _lab_like(folder, ports=(0, 0))  # 0: any free port
    argv[0] = qemu_binary("test")
    if snapshot:  # as a boot check: a disk in snapshot mode, QEMU's default devices
        argv = qemu_argv(
            qemu=qemu_binary("test"),
            memory_mb=256,
            console=folder / "console.log",
            drives=[Drive(folder / "root.qcow2", snapshot=True)],
            forwards=[Forward(0, 22)],
            no_reboot=True,
        )
    _accepted(argv)
    assert (folder / "console.log").is_file()
