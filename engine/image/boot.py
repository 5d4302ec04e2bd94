"""Boot checks of built images under QEMU: the login prompt, then the SSH banner.

The triplet boots with ``-kernel``/``-initrd`` on a copy of the root
filesystem grown to the flavour's size (truncate + resize2fs, as Nova does);
a bare disk boots through its own GRUB, in QEMU's snapshot mode (nothing is
written to it). SSH is forwarded to a free 127.0.0.1 port. On failure the
console's last lines are part of the error.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.hosts.qemu import Drive, Forward, Kernel, qemu_argv, qemu_binary
from schemas.image import ImageSpec, parse_size

__all__ = ["boot_checks"]

_CONSOLE_SHOWN = 40


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ssh_banner(port: int) -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
            sock.settimeout(5)
            data = sock.recv(256)
    except OSError:
        return None
    text = data.decode("ascii", "replace").strip()
    return text if text.startswith("SSH-") else None


def _console(path: Path) -> str:
    """What the guest printed so far (QEMU creates the file when it starts)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no console output)"
    return "\n".join(lines[-_CONSOLE_SHOWN:])


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    # e2fsck's 1 means "errors corrected": the filesystem is fine now.
    if done.returncode not in ((0, 1) if argv[0] == "e2fsck" else (0,)):
        raise DataError(what, f"{' '.join(argv[:2])} failed: {done.stderr.strip()[-500:]}")


def _grown_root(rootfs: Path, size: int, folder: Path) -> Path:
    """A copy of the root filesystem grown to ``size`` bytes (as Nova grows it)."""
    copy = folder / "root.img"
    subprocess.run(["cp", "--sparse=always", str(rootfs), str(copy)], check=True)
    if size > copy.stat().st_size:
        with copy.open("r+b") as handle:
            handle.truncate(size)
    _run(["e2fsck", "-f", "-y", str(copy)], str(rootfs))
    _run(["resize2fs", str(copy)], str(rootfs))
    return copy


def _boot(
    drive: Drive,
    kernel: Kernel | None,
    spec: ImageSpec,
    folder: Path,
    what: str,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    qemu = qemu_binary(what)
    port = _free_port()
    console = folder / f"console-{what.replace(' ', '-')}.log"
    argv = qemu_argv(
        qemu=qemu,
        memory_mb=spec.verify.memory_mb,
        console=console,
        drives=[drive],
        forwards=[Forward(port, 22)],
        kernel=kernel,
        no_reboot=True,
    )
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    login = banner = None
    try:
        deadline = started + spec.verify.timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise DataError(
                    what,
                    f"QEMU stopped (exit {process.returncode}) before the login prompt:"
                    f" {error.strip()}\nconsole:\n{_tail(console)}",
                )
            if login is None and "login:" in _console(console):
                login = time.monotonic() - started
                progress(f"{what}: login prompt after {login:.0f} s")
            if login is not None:
                banner = _ssh_banner(port)
                if banner:
                    break
            time.sleep(1)
        if login is None or banner is None:
            missing = "the login prompt" if login is None else "the SSH banner"
            raise DataError(
                what,
                f"no {missing} within {spec.verify.timeout_s:g} s\nconsole:\n{_tail(console)}",
            )
    finally:
        process.kill()
        process.wait(timeout=30)
    return {
        "login_s": round(login, 1),
        "ssh_s": round(time.monotonic() - started, 1),
        "ssh_banner": banner,
    }


def boot_checks(
    folder: Path, formats: tuple[str, ...], spec: ImageSpec, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Boot each format built in ``folder``; the figures of each boot."""
    results: dict[str, Any] = {}
    label = spec.root.label
    with tempfile.TemporaryDirectory(prefix="specengine-boot-") as temporary:
        work = Path(temporary)
        if "uec" in formats:
            progress("uec: growing the root filesystem to the flavour size")
            root = _grown_root(folder / "rootfs.img", parse_size(spec.verify.flavour_size), work)
            results["uec"] = _boot(
                Drive(root, format="raw"),
                Kernel(
                    folder / "kernel",
                    folder / "initrd",
                    f"root=LABEL={label} ro console=ttyS0,115200n8",
                ),
                spec,
                work,
                "uec",
                progress,
            )
            root.unlink()
        for fmt, name in (("qcow2", "disk.qcow2"), ("raw", "disk.raw")):
            if fmt in formats:
                results[fmt] = _boot(
                    Drive(folder / name, format=fmt, snapshot=True),
                    None,
                    spec,
                    work,
                    fmt,
                    progress,
                )
    return results
