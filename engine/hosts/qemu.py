"""The one QEMU command line of the engine: image boot checks and the lab storage host.

:func:`qemu_argv` builds a ``qemu-system-x86_64`` argv from what differs between its users
(memory, disks, forwarded ports, a direct kernel boot, fw_cfg files) and fixes the rest:
TCG (KVM aborts or hangs on the machines this runs on), ``-cpu max``, no display, the
serial console written to a file, user networking with host forwards on 127.0.0.1, virtio
disks and NIC. Paths are quoted as each option wants (a comma doubled where QEMU's option
syntax splits on commas), so a folder with a comma in its name works.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataError

__all__ = ["QEMU", "QEMU_PACKAGE", "Drive", "Forward", "Kernel", "opt", "qemu_argv", "qemu_binary"]

#: The emulator, and the Debian package that holds it.
QEMU = "qemu-system-x86_64"
QEMU_PACKAGE = "qemu-system-x86"
#: The address every forward listens on: nothing of a guest is reachable from elsewhere.
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Drive:
    """A virtio disk. The first drive of a command line is the boot disk.

    ``serial`` names it in the guest (``/dev/disk/by-id/virtio-<serial>``); with
    ``snapshot`` the guest's writes go to a temporary file and the image stays as it was.
    """

    path: Path
    format: str = "qcow2"
    serial: str | None = None
    snapshot: bool = False


@dataclass(frozen=True)
class Forward:
    """A TCP port of the guest reached through ``127.0.0.1:host_port``."""

    host_port: int
    guest_port: int


@dataclass(frozen=True)
class Kernel:
    """A direct kernel boot (``-kernel``, ``-initrd``, ``-append``) instead of the disk's loader."""

    kernel: Path
    initrd: Path
    append: str


def opt(path: Path | str) -> str:
    """``path`` as a value of a QEMU option: QEMU's option syntax doubles a comma."""
    return str(path).replace(",", ",,")


def qemu_binary(source: str) -> str:
    """The path of ``qemu-system-x86_64``; a :class:`DataError` on ``source`` without it."""
    found = shutil.which(QEMU)
    if found is None:
        raise DataError(source, f"{QEMU} not found: apt-get install {QEMU_PACKAGE}")
    return found


def qemu_argv(
    *,
    qemu: str,
    memory_mb: int,
    console: Path,
    drives: Sequence[Drive],
    forwards: Sequence[Forward] = (),
    cpus: int = 2,
    name: str | None = None,
    machine: str | None = None,
    kernel: Kernel | None = None,
    fw_cfg: Mapping[str, Path] | None = None,
    restrict_network: bool = False,
    no_defaults: bool = False,
    no_reboot: bool = False,
) -> list[str]:
    """The argv that boots ``drives`` headless under TCG, the serial console in ``console``.

    ``qemu`` is the emulator (:func:`qemu_binary`). ``forwards`` are the guest's TCP ports
    reachable on 127.0.0.1; ``restrict_network`` cuts the guest off from everything else
    (the forwards still work). ``fw_cfg`` passes files to the guest by name
    (``opt/<vendor>/<file>``, read in ``/sys/firmware/qemu_fw_cfg``). ``no_defaults``
    leaves out QEMU's default devices (VGA, CD-ROM, monitor...): only those named here
    exist. ``no_reboot`` makes a guest reboot end QEMU. ``machine`` is QEMU's default when
    None.
    """
    if not drives:
        raise ValueError("a QEMU command line needs at least one drive")
    argv = [qemu]
    if name is not None:
        argv += ["-name", name]
    if machine is not None:
        argv += ["-machine", machine]
    argv += ["-m", str(memory_mb), "-smp", str(cpus), "-cpu", "max"]
    # KVM aborts or hangs on this kind of machine; TCG is slower but works.
    argv += ["-accel", "tcg,thread=multi"]
    if no_defaults:
        argv.append("-nodefaults")
    # -serial's legacy "file:" form takes the rest of the word as the path, commas included.
    argv += ["-display", "none", "-serial", f"file:{console}"]
    if no_reboot:
        argv.append("-no-reboot")
    netdev = "user,id=net0"
    if restrict_network:
        netdev += ",restrict=on"
    for forward in forwards:
        netdev += f",hostfwd=tcp:{LOOPBACK}:{forward.host_port}-:{forward.guest_port}"
    argv += ["-netdev", netdev, "-device", "virtio-net-pci,netdev=net0"]
    for index, drive in enumerate(drives):
        node = f"disk{index}"
        spec = f"file={opt(drive.path)},if=none,id={node},format={drive.format}"
        if drive.snapshot:
            spec += ",snapshot=on"
        device = f"virtio-blk-pci,drive={node}"
        if index == 0 and kernel is None:
            # A direct kernel boot holds boot index 0 itself: QEMU refuses a second one.
            device += ",bootindex=0"
        if drive.serial is not None:
            device += f",serial={drive.serial}"
        argv += ["-drive", spec, "-device", device]
    if kernel is not None:
        argv += ["-kernel", str(kernel.kernel), "-initrd", str(kernel.initrd)]
        argv += ["-append", kernel.append]
    for key, path in (fw_cfg or {}).items():
        argv += ["-fw_cfg", f"name={key},file={opt(path)}"]
    return argv
